//! Multilevel splitting (`faultline search --splitting`, src/rare.rs) against closed forms and
//! against plain sampling.
//!
//! The closed form: an M/M/1 queue at utilisation 1/2 whose busy cycle starts with one customer
//! reaches K customers before it empties with probability 1 / (2^K - 1) (gambler's ruin with
//! up-probability 1/3). The estimate's 95% interval must contain it at K = 20 (about 1e-6) and
//! K = 30 (about 1e-9) and be narrow enough to have caught a bias of a third; and over many
//! independent intervals at K = 10, about 95% must contain it. Where no closed form exists
//! (the queue reaching a level at any time within a short run), the estimate must agree with
//! plain sampling of the same runs.

use faultline::engine::{self, EventQueue, SimTime};
use faultline::model::{Importance, Quiet, World, WorldLimits};
use faultline::rare::{self, Settings};
use faultline::scenario::{self, Overrides, Scenario};
use std::process::Command;

fn ruin(k: u32, seed: u64) -> Scenario {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/gamblers_ruin.ron"
    ))
    .unwrap()
    .replace("target: 20", &format!("target: {k}"));
    let o = Overrides {
        seed: Some(seed),
        ..Default::default()
    };
    scenario::from_str(&text, "gamblers_ruin.ron", &o).unwrap()
}

fn closed_form(k: u32) -> f64 {
    1.0 / (2f64.powi(k as i32) - 1.0)
}

fn estimate(sc: &Scenario, particles: usize, repeats: usize) -> rare::Estimate {
    let s = Settings {
        particles,
        max_levels: 10_000,
    };
    rare::combine(
        (0..repeats)
            .map(|r| rare::repeat(sc, r, &s).unwrap())
            .collect(),
    )
}

#[test]
fn gamblers_ruin_at_one_in_a_million_and_one_in_a_billion() {
    for k in [20, 30] {
        let truth = closed_form(k);
        let e = estimate(&ruin(k, 1), 1000, 10);
        let (lo, hi) = e.ci95;
        assert!(
            lo <= truth && truth <= hi,
            "K={k}: {truth:e} outside [{lo:e}, {hi:e}]"
        );
        // Narrow enough to mean something: a bias of a third would fall outside.
        assert!(
            (hi - lo) / 2.0 < truth / 3.0,
            "K={k}: half-width {:e} for {truth:e}",
            (hi - lo) / 2.0
        );
        // One level per customer count from 1 to K - 1: the levels are the integers the
        // importance passes through.
        assert_eq!(e.repeats[0].levels.len(), k as usize - 1, "K={k}");
    }
}

#[test]
fn the_intervals_hold_their_95_percent() {
    // 40 independent intervals (seeds 1..=40) of 10 estimates of 300 copies, at K = 10
    // (9.775e-4). With true 95% coverage, fewer than 34 hits has probability below 0.5%.
    let truth = closed_form(10);
    let hits = (1..=40)
        .filter(|&seed| {
            let (lo, hi) = estimate(&ruin(10, seed), 300, 10).ci95;
            lo <= truth && truth <= hi
        })
        .count();
    assert!(hits >= 34, "{hits} of 40 intervals contain {truth:e}");
}

/// P(requests at the server reach `level` within the run), by plain runs with seeds
/// 1..=n: the run's highest count, read after every event.
fn plain(sc: &Scenario, level: u64, n: u64) -> f64 {
    let mut hits = 0;
    for seed in 1..=n {
        let mut w = World::new(
            sc.system.clone(),
            seed,
            WorldLimits {
                max_live_requests: sc.limits.max_live_requests,
                count_from: SimTime::ZERO,
            },
            Quiet,
        );
        let mut q = EventQueue::new();
        w.start(&mut q);
        let limits = engine::Limits {
            end: SimTime(sc.duration.0),
            max_events: u64::MAX,
            max_pending_events: 1 << 20,
        };
        let mut reached = false;
        engine::run_while(&mut w, &mut q, &limits, None, |w| {
            reached |= w.importance(Importance::InSystem(0)) >= level;
            !reached
        });
        hits += reached as u64;
    }
    hits as f64 / n as f64
}

#[test]
fn splitting_agrees_with_plain_sampling_where_there_is_no_closed_form() {
    // Within 2 s (about 20 arrivals) the queue reaching 7: about 7 runs in 100, measured
    // by 200,000 plain runs to within 0.06 points.
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/gamblers_ruin.ron"
    ))
    .unwrap()
    .replace("duration: \"1h\"", "duration: \"2s\"")
    .replace("target: 20, until: Empty", "target: 7, until: End");
    let sc = scenario::from_str(&text, "short.ron", &Overrides::default()).unwrap();
    let n = 200_000;
    let p_plain = plain(&sc, 7, n);
    let se_plain = (p_plain * (1.0 - p_plain) / n as f64).sqrt();
    let e = estimate(&sc, 1000, 20);
    let se_split = (e.ci95.1 - e.ci95.0) / 2.0 / 2.093;
    let z = (e.p - p_plain) / (se_plain.powi(2) + se_split.powi(2)).sqrt();
    assert!(p_plain > 1e-3, "{p_plain}");
    assert!(
        z.abs() < 3.0,
        "splitting {:e} (se {se_split:e}) against plain {p_plain:e} (se {se_plain:e}): z = {z:.2}",
        e.p
    );
}

#[test]
fn reseeding_forks_a_stream() {
    use faultline::engine::RngStream;
    let mut a = RngStream::derive(1, "x", "y");
    let mut b = a.clone();
    let mut c = a.clone();
    a.reseed(7);
    b.reseed(7);
    c.reseed(8);
    let (xa, xb, xc): (Vec<u64>, Vec<u64>, Vec<u64>) = (
        (0..4).map(|_| a.next_u64()).collect(),
        (0..4).map(|_| b.next_u64()).collect(),
        (0..4).map(|_| c.next_u64()).collect(),
    );
    assert_eq!(xa, xb);
    assert_ne!(xa, xc);
}

#[test]
fn the_command_gives_the_same_estimate_for_any_threads_and_refuses_bad_input() {
    let dir = std::env::temp_dir().join(format!("faultline-rare-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/gamblers_ruin.ron");
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_faultline"))
            .args(args)
            .current_dir(&dir)
            .output()
            .unwrap()
    };
    for j in ["1", "2"] {
        let o = run(&[
            "search",
            file,
            "--splitting",
            "--particles",
            "200",
            "-j",
            j,
            "--out",
            j,
        ]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let out = String::from_utf8_lossy(&o.stdout);
        assert!(out.contains("95% CI"), "{out}");
    }
    assert_eq!(
        std::fs::read_to_string(dir.join("1/splitting.md")).unwrap(),
        std::fs::read_to_string(dir.join("2/splitting.md")).unwrap()
    );
    let text = std::fs::read_to_string(file).unwrap();
    for (from, to, says) in [
        (
            "InSystem(\"server\")",
            "InSystem(\"servr\")",
            "rare.importance",
        ),
        ("target: 20", "target: 0", "rare.target"),
    ] {
        std::fs::write(dir.join("bad.ron"), text.replace(from, to)).unwrap();
        let o = run(&["search", "bad.ron", "--splitting"]);
        assert_eq!(o.status.code(), Some(2));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(says) && err.contains("bad.ron:"), "{err}");
    }
    let o = run(&["search", file, "--splitting", "--particles", "1"]);
    assert_eq!(o.status.code(), Some(2));
    let planted = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/search_planted.ron");
    let o = run(&["search", planted, "--splitting"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no `rare` event"));
}
