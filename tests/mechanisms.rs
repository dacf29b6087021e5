//! The shipped scenarios of failures that sustain themselves through a mechanism inside the
//! system (not a script), each checked for the claim its header makes: which variant is left
//! metastable, by which loop, and which recovers. One helper, one case per claim.

use faultline::report::frame::Frame;
use faultline::report::{self, Analysed, Run};
use faultline::runner;
use faultline::scenario::{self, Overrides};

/// Every variant of `scenarios/{name}.ron`, analysed as `faultline run` would.
fn variants(name: &str) -> Vec<(String, Analysed)> {
    let path = format!("scenarios/{name}.ron");
    let loaded =
        scenario::load_file(path.as_ref(), &Overrides::default()).unwrap_or_else(|e| panic!("{e}"));
    let sc = loaded.scenario;
    let mut all: Vec<(String, scenario::Scenario)> = sc.variants.clone();
    if all.is_empty() {
        all.push(("base".into(), sc));
    }
    all.into_iter()
        .map(|(v, sc)| {
            let (r, rec) = runner::run_traced(&sc, None);
            assert!(r.stopped.is_none(), "{name}/{v} stopped: {:?}", r.stopped);
            let frame = Frame::canonical(Frame::build(&rec.series, &sc.system, &r.summary));
            let a = report::analyse(
                &sc,
                Run {
                    name: v.clone(),
                    summary: r.summary,
                    frame,
                },
            );
            (v, a)
        })
        .collect()
}

/// A variant's claim: how it ends, words its loop must contain, and its least availability.
struct Claim {
    variant: &'static str,
    ending: &'static str,
    loop_says: &'static str,
    min_availability: f64,
}

fn check(name: &str, claims: &[Claim]) {
    let runs = variants(name);
    for c in claims {
        let (_, a) = runs
            .iter()
            .find(|(v, _)| v == c.variant)
            .unwrap_or_else(|| panic!("{name} has no variant {}", c.variant));
        let story = a.cascade.narrative().join("\n");
        assert_eq!(
            a.cascade.ending.name(),
            c.ending,
            "{name}/{}:\n{story}",
            c.variant
        );
        let by = a.headline.sustained_by.clone().unwrap_or_default();
        assert!(
            by.contains(c.loop_says),
            "{name}/{}: loop {by:?}",
            c.variant
        );
        assert!(
            a.headline.availability >= c.min_availability,
            "{name}/{}: availability {} below {}",
            c.variant,
            a.headline.availability,
            c.min_availability
        );
    }
}

#[test]
fn contention_collapse_is_sustained_by_contention_and_a_cap_below_the_knee_recovers() {
    check(
        "contention_collapse",
        &[
            Claim {
                variant: "64-workers",
                ending: "sustained",
                loop_says: "contention",
                min_availability: 0.0,
            },
            Claim {
                variant: "16-workers",
                ending: "recovered",
                loop_says: "",
                min_availability: 0.99,
            },
        ],
    );
}

#[test]
fn queue_collapse_is_sustained_by_retries_under_fifo_and_lifo_or_codel_recover() {
    check(
        "queue_collapse",
        &[
            Claim {
                variant: "fifo",
                ending: "sustained",
                loop_says: "retries at client shoppers",
                min_availability: 0.0,
            },
            Claim {
                variant: "adaptive-lifo",
                ending: "recovered",
                loop_says: "",
                min_availability: 0.93,
            },
            Claim {
                variant: "codel",
                ending: "recovered",
                loop_says: "",
                min_availability: 0.75,
            },
        ],
    );
}
