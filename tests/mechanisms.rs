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

/// One worker, a request every 100 ms taking 10 ms, so each starts alone (1 held): live data
/// 200 + 5 x 1 = 205 MB of a 1,000 MB heap leaves 795 MB, so every 80th 10 MB allocation
/// collects (790 < 795 <= 800), pausing 10 ms + 100 ms x 205 / 1024 = 30.019531 ms. In 990 s,
/// 9,899 or 9,900 requests start: 123 collections. A request that meets a collection answers
/// 30 ms late, and nothing queues (40 ms < 100 ms between arrivals).
#[test]
fn collections_come_as_the_heap_arithmetic_says() {
    let text = r#"(
        name: "gc", seed: 1, duration: "990s", warmup: "0s",
        default_link_latency: Constant("0s"),
        clients: [(name: "c", target: "api", load: Open(rate_per_s: 10.0, arrivals: Constant))],
        services: [(name: "api", workers: 1, service_time: Constant("10ms"),
                    gc: (heap_mb: 1000.0, allocation_per_request_mb: 10.0, live_base_mb: 200.0,
                         live_per_request_mb: 5.0, pause_base: "10ms", pause_per_gb: "100ms"))],
    )"#;
    let sc = scenario::from_str(text, "gc.ron", &Overrides::default()).unwrap();
    let s = runner::run(&sc).summary;
    let h = &s.health[0];
    assert_eq!(h.gc_collections, 123);
    assert!(
        (h.gc_pause_s - 123.0 * 0.030_019_531).abs() < 1e-9,
        "{}",
        h.gc_pause_s
    );
    let api = &s.services[0];
    assert!(
        (api.latency.max_ms - 40.019_531).abs() < 0.05,
        "{}",
        api.latency.max_ms
    );
    assert_eq!(api.waited_ratio, 0.0);
}

#[test]
fn gc_death_spiral_is_sustained_by_collections_and_a_bigger_heap_recovers() {
    check(
        "gc_death_spiral",
        &[
            Claim {
                variant: "heap-2g",
                ending: "sustained",
                loop_says: "garbage collection",
                min_availability: 0.0,
            },
            Claim {
                variant: "heap-8g",
                ending: "recovered",
                loop_says: "",
                min_availability: 0.95,
            },
        ],
    );
}
