//! The verdicts (origin, causes, recovery, how a run ended, wasted work) against scenarios
//! built so that the right answer follows from arithmetic or by construction, never from what
//! the code printed before. The rules are docs/analysis.md's.

use faultline::report::cascade::{Cascade, Ending};
use faultline::report::frame::Frame;
use faultline::report::{self, Analysed, Run};
use faultline::runner;
use faultline::scenario::{self, Overrides};

/// Runs `text` (a scenario) as `faultline run` would analyse it: the frame as timeseries.csv
/// gives it back.
fn analyse(text: &str, duration: Option<&str>) -> Analysed {
    let o = Overrides {
        duration: duration.map(|d| faultline::engine::parse_duration(d).unwrap()),
        ..Default::default()
    };
    let sc = scenario::from_str(text, "test.ron", &o).unwrap_or_else(|e| panic!("{e}"));
    let (r, rec) = runner::run_traced(&sc, None);
    let frame = Frame::canonical(Frame::build(&rec.series, &sc.system, &r.summary));
    report::analyse(
        &sc,
        Run {
            name: "base".into(),
            summary: r.summary,
            frame,
        },
    )
}

fn story(c: &Cascade) -> String {
    c.narrative().join("\n")
}

/// One server taking 100 requests/s (one worker, 10 ms each) fed 80/s, evenly spaced, paused
/// from 30 s to 50 s: 1,600 requests pile up, and drain at 100 - 80 = 20/s, so the backlog is
/// gone 1600 / 20 = 80 s after the pause: at 130 s.
const DRAIN: &str = r#"(
    name: "drain", seed: 3, duration: "200s", warmup: "5s",
    default_link_latency: Constant("0s"),
    clients: [(name: "c", target: "svc", load: Open(rate_per_s: 80.0, arrivals: Constant), max_in_flight: 100000)],
    services: [(name: "svc", replicas: 1, workers: 1, queue_capacity: 100000, service_time: Constant("10ms"))],
    faults: [(at: "30s", for: "20s", fault: Hang("svc/0"))],
    slo: (availability: 0.99, latency_p99: "1s"),
)"#;

#[test]
fn a_draining_backlog_is_recovering_with_the_drain_time_arithmetic_gives() {
    // Cut at 90 s, 40 s into the drain: 800 requests left, falling 20/s.
    let a = analyse(DRAIN, Some("90s"));
    let c = &a.cascade;
    match &c.ending {
        Ending::Recovering {
            backlog,
            drain_per_s,
            back_at_s,
        } => {
            assert!(
                (drain_per_s - 20.0).abs() <= 2.0,
                "drain {drain_per_s}/s, expected 20"
            );
            assert!(
                (backlog - 800.0).abs() <= 40.0,
                "backlog {backlog}, expected 800"
            );
            assert!(
                (back_at_s - 130.0).abs() <= 5.0,
                "back at {back_at_s}, expected 130"
            );
        }
        e => panic!("expected recovering, got {e:?}\n{}", story(c)),
    }
    assert_eq!(c.ending.metastable(), Some(false));
    assert!(story(c).contains("RECOVERING"), "{}", story(c));
    // Run long enough, the same trajectory recovers when the arithmetic says.
    let a = analyse(DRAIN, None);
    let c = &a.cascade;
    assert_eq!(c.ending.name(), "recovered", "{}", story(c));
    let after = c.recovered_after_s.expect("recovered");
    assert!(
        (after - 80.0).abs() <= 6.0,
        "recovered {after} s after the pause, expected 80"
    );
    // The pause is the origin, and nothing finished during it.
    assert_eq!(c.chain[0].service, "svc");
    assert!(
        c.chain[0].causes.iter().any(|x| x == "no_progress"),
        "{:?}",
        c.chain[0]
    );
}

/// Clients retry a 200 ms timeout; 60 requests/s against a server completing 100/s. A 5x
/// slowdown for 10 s backs the queue up until every attempt times out; with 4 attempts each
/// request then brings up to 4 x 60 = 240 attempts/s, more than the server completes, so the
/// overload outlives the slowdown by construction. With one attempt, 60/s drains the queue.
/// The timeout is long enough that the healthy system never starts a storm on its own: a
/// request waits past it with probability 0.6 e^(-40 x 0.2) = 2e-4 (at 100 ms, 1.1%, and some
/// seeds broke down before the slowdown, which left nothing to blame).
fn retry_storm(attempts: u32, seed: u64) -> String {
    format!(
        r#"(
    name: "storm", seed: {seed}, duration: "120s", warmup: "5s",
    default_link_latency: Constant("1ms"),
    clients: [(
        name: "users", target: "api",
        load: Open(rate_per_s: 60.0),
        policies: [Retry(max_attempts: {attempts}, backoff: Constant("10ms"))],
        timeout: "200ms", max_in_flight: 100000,
    )],
    services: [(name: "api", replicas: 1, workers: 1, queue_capacity: 20000, service_time: Exponential(mean: "10ms"))],
    faults: [(at: "30s", for: "10s", fault: Slowdown(target: "api/0", factor: 5.0))],
    slo: (availability: 0.95),
)"#
    )
}

/// The verdicts hold for every seed, not only for the stream one seed happens to draw.
#[test]
fn a_retry_loop_is_sustained_and_named_and_without_retries_it_recovers() {
    for seed in 1..=5 {
        let a = analyse(&retry_storm(4, seed), None);
        let c = &a.cascade;
        match &c.ending {
            Ending::Sustained {
                service,
                by,
                arrivals_per_s,
                own_load_per_s,
                completes_per_s,
                ..
            } => {
                assert_eq!(service, "api");
                assert!(by.contains("retries at client users"), "seed {seed}: {by}");
                // Every attempt times out: each request makes all 4.
                assert!(
                    *arrivals_per_s > 3.5 * own_load_per_s,
                    "seed {seed}: {arrivals_per_s} vs {own_load_per_s}"
                );
                assert!(*own_load_per_s < *completes_per_s, "seed {seed}");
            }
            e => panic!("seed {seed}: expected sustained, got {e:?}\n{}", story(c)),
        }
        assert_eq!(c.ending.metastable(), Some(true));
        assert_eq!(a.headline.metastable, Some(true));
        assert!(story(c).contains("METASTABLE"));

        let a = analyse(&retry_storm(1, seed), None);
        let c = &a.cascade;
        assert_eq!(
            c.ending.metastable(),
            Some(false),
            "seed {seed}: {}",
            story(c)
        );
        assert_eq!(c.ending.name(), "recovered", "seed {seed}: {}", story(c));
    }
}

#[test]
fn a_healthy_mm1_at_rho_0_9_over_two_hours_never_breaches() {
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/mm1.ron")).unwrap();
    let a = analyse(&text, Some("2h"));
    let c = &a.cascade;
    assert!(
        c.intervals.iter().all(|i| i.breached.is_empty()),
        "{:?}\n{}",
        c.intervals,
        story(c)
    );
    assert!(c.chain.is_empty(), "{}", story(c));
    assert_eq!(c.ending, Ending::NoTrigger);
}

/// api calls db, which takes 2 s (calls are still open when the run ends); no policy retries:
/// exactly one attempt per call started. Then 3 attempts against a db that fails every request
/// at once (evenly spaced calls, each finished within milliseconds): exactly 3.
#[test]
fn an_edge_without_retries_makes_exactly_one_attempt_per_call() {
    let base = r#"(
    name: "edge", seed: 2, duration: "30s", warmup: "0s",
    clients: [(name: "c", target: "api", load: Open(rate_per_s: 50.0, arrivals: Constant))],
    services: [
        (name: "api", replicas: 1, workers: 1000, service_time: Constant("1ms"), calls: [(to: "db"POLICY)]),
        (name: "db", replicas: 1, workers: 1000, service_time: DB),
    ],
)"#;
    use faultline::report::frame::{col, Kind};
    let check = |policy: &str, db: &str, expect: f64| {
        let text = base.replace("POLICY", policy).replace("DB", db);
        let a = analyse(&text, None);
        let call = &a.summary.services[0].calls[0];
        assert!(call.calls > 1000, "{call:?}");
        assert_eq!(call.amplification, expect, "{call:?}");
        let e = a.frame.get(Kind::Call, "api -> db").unwrap();
        for r in e.rows.iter().filter(|r| r[col::CALLS] > 0.0) {
            // A window boundary may split one call's attempts.
            assert!(
                (r[col::AMPLIFICATION] - expect).abs() <= 0.05,
                "{}",
                r[col::AMPLIFICATION]
            );
        }
    };
    check("", "Constant(\"2s\")", 1.0);
    check(
        ", policies: [Retry(max_attempts: 3, backoff: Constant(\"1ms\"))]",
        "Constant(\"1ms\"), error_rate: 1.0",
        3.0,
    );
}

/// frontend -> api -> db; db slows down tenfold from 30 s to 50 s.
const SLOW_DB: &str = r#"(
    name: "slow_db", seed: 4, duration: "80s", warmup: "5s",
    default_link_latency: Constant("1ms"),
    clients: [(name: "users", target: "frontend", load: Open(rate_per_s: 200.0), timeout: "2s")],
    services: [
        (name: "frontend", replicas: 2, workers: 64, service_time: Exponential(mean: "1ms"), calls: [(to: "api")]),
        (name: "api", replicas: 2, workers: 32, service_time: Exponential(mean: "2ms"), calls: [(to: "db", timeout: "1s")]),
        (name: "db", replicas: 1, workers: 8, queue_capacity: 1000, service_time: Exponential(mean: "10ms")),
    ],
    faults: [(at: "30s", for: "20s", fault: Slowdown(target: "db/0", factor: 10.0))],
    slo: (availability: 0.99),
)"#;

#[test]
fn a_slowed_database_is_the_origin_and_its_callers_are_reached_through_it() {
    let a = analyse(SLOW_DB, None);
    let c = &a.cascade;
    assert_eq!(c.chain[0].service, "db", "{}", story(c));
    assert_eq!(c.chain[0].first_degraded_s, 30.0);
    let o = &c.origins[0];
    assert_eq!(o.degraded, vec!["db".to_string()], "{o:?}");
    assert!(o.already_degraded.is_empty());
    let api = c
        .chain
        .iter()
        .find(|s| s.service == "api")
        .expect("api degraded");
    assert_eq!(api.reached_through.as_deref(), Some("db"), "{api:?}");
    assert!(
        story(c).contains("Origin: slowdown x10 db/0 hit db"),
        "{}",
        story(c)
    );
    // Its saturation, not only its errors, is named: db's 8 workers at 10x run 80 requests/s
    // against 200/s offered.
    assert!(
        c.chain[0].causes.iter().any(|x| x == "workers_saturated"),
        "{:?}",
        c.chain[0]
    );
}

/// api in front of db behind a cache of 1,000 keys that live 10 minutes; the cache is flushed
/// at 30 s (an instant). The misses refill it, so the recovery is measured from 30 s, not from
/// the end of the run.
#[test]
fn a_cache_flush_is_recovered_from_the_flush() {
    let text = r#"(
    name: "flush", seed: 6, duration: "90s", warmup: "5s",
    default_link_latency: Constant("1ms"),
    clients: [(name: "users", target: "api", load: Open(rate_per_s: 500.0), timeout: "1s")],
    services: [
        (name: "api", replicas: 2, workers: 100, service_time: Exponential(mean: "1ms"),
         calls: [(to: "db", timeout: "300ms", cache: (keys: 1000, ttl: "10m", warm: true, coalesce: true))]),
        (name: "db", replicas: 1, workers: 8, queue_capacity: 2000, service_time: Exponential(mean: "20ms")),
    ],
    faults: [(at: "30s", fault: FlushCache("api -> db"))],
    slo: (availability: 0.99),
)"#;
    let a = analyse(text, None);
    let c = &a.cascade;
    let t = &c.triggers[0];
    assert!(t.instant && t.end_s.is_none(), "{t:?}");
    let r = &c.recoveries[0];
    assert_eq!(r.from_s, Some(30.0));
    let after = r.recovered_after_s.expect("the cache refills");
    assert!(
        after < 30.0,
        "recovered {after} s after the flush\n{}",
        story(c)
    );
    assert_eq!(c.recovered_after_s, Some(after));
    assert_eq!(c.ending.name(), "recovered", "{}", story(c));
    assert!(
        story(c).contains("after flush cache api -> db at (30 s)")
            || story(c).contains("flush cache api -> db at (30 s)"),
        "{}",
        story(c)
    );
}

/// gateway -> storefront with a 2 s client timeout and a storefront that takes 3 s: every
/// answer arrives after the client gave up. The wasted worker time is the storefront's
/// service time for each of them.
#[test]
fn answers_after_the_caller_gave_up_are_wasted_work() {
    let text = r#"(
    name: "late", seed: 8, duration: "40s", warmup: "5s",
    default_link_latency: Constant("0s"),
    clients: [(name: "c", target: "gateway", load: Open(rate_per_s: 10.0, arrivals: Constant), timeout: "2s")],
    services: [
        (name: "gateway", replicas: 1, workers: 100, service_time: Constant("1ms"), calls: [(to: "storefront", timeout: "1s")]),
        (name: "storefront", replicas: 1, workers: 100, service_time: Constant("3s")),
    ],
)"#;
    let a = analyse(text, None);
    let sf = a
        .summary
        .services
        .iter()
        .find(|s| s.name == "storefront")
        .unwrap();
    // Every answer comes back 3 s after its request, to a caller whose 1 s timeout fired;
    // answers are counted from the end of the warm-up (5 s) to the end (40 s): the requests
    // sent from 2 s to 37 s, 10 a second.
    assert!(
        (sf.late_answers as f64 - 350.0).abs() <= 2.0,
        "{}",
        sf.late_answers
    );
    assert!(
        (sf.wasted_worker_s - 3.0 * sf.late_answers as f64).abs() < 1e-6,
        "{} worker-seconds for {} late answers of 3 s",
        sf.wasted_worker_s,
        sf.late_answers
    );
}

/// A dependency hung from the start, answered by a fallback: every client answer is degraded,
/// none ok, none failed, and the story must say so whether or not any service breached.
#[test]
fn a_condition_present_from_the_start_is_stated_not_called_healthy() {
    let text = r#"(
        name: "hung", seed: 5, duration: "60s", warmup: "5s",
        default_link_latency: Constant("0s"),
        clients: [(name: "c", target: "front", load: Open(rate_per_s: 50.0, arrivals: Constant), timeout: "3s")],
        services: [
            (name: "front", replicas: 1, workers: 100, queue_capacity: 100, service_time: Constant("1ms"),
             calls: [(to: "dep", policies: [Fallback()], timeout: "100ms")]),
            (name: "dep", replicas: 1, workers: 10000, queue_capacity: 10000, service_time: Constant("100s")),
        ],
    )"#;
    let a = analyse(text, None);
    let s = story(&a.cascade);
    // The hung dependency itself breaches (it finishes nothing while work waits); the clients
    // hold their SLO, and the story says at what price.
    assert!(
        s.contains("dep degraded at 5 s, breaching its SLO: no progress"),
        "{s}"
    );
    assert!(
        s.contains("Clients stayed within their SLO: 0.0% of client requests failed over the run; 100.0% of client answers were degraded (fallbacks)."),
        "{s}"
    );
    // breaker.ron: a breaker keeps the hung dependency almost idle, so nothing breaches and
    // nothing changes (no trigger): the story states what held throughout instead of calling
    // it healthy. 150 pages/s for the 115 s after the warm-up, every one a fallback.
    let text = std::fs::read_to_string("scenarios/breaker.ron").unwrap();
    let a = analyse(&text, None);
    let s = story(&a.cascade);
    assert!(s.contains("Nothing was injected"), "{s}");
    assert!(
        s.contains("The breakers of frontend -> recommendations were open at the end of"),
        "{s}"
    );
    let counts = s
        .lines()
        .find(|l| l.starts_with("Of the "))
        .unwrap_or_else(|| panic!("no count of answers in\n{s}"));
    let n: f64 = counts
        .trim_start_matches("Of the ")
        .split(' ')
        .next()
        .unwrap()
        .replace(',', "")
        .parse()
        .unwrap();
    // Poisson arrivals: 17,250 expected, sd 131.
    assert!((n - 17_250.0).abs() <= 4.0 * 131.0, "{counts}");
    // The summary counts requests that arrived after the warm-up, the story answers given
    // after it: they differ by the few in flight at the warm-up's end.
    let summary_degraded = a.summary.clients[0].outcomes.degraded as f64;
    assert!(
        (n - summary_degraded).abs() <= 10.0,
        "{counts} vs {summary_degraded}"
    );
    assert!(counts.contains(", 0 were ok,"), "{counts}");
    assert!(
        counts.ends_with(" degraded (a fallback or partial answer) and 0 failed."),
        "{counts}"
    );
    // Served, and counted as goodput, but never as ok.
    assert_eq!(a.summary.clients[0].outcomes.ok, 0);
    assert!((a.headline.availability - 1.0).abs() < 1e-9);
    assert!((a.summary.clients[0].goodput_per_s - 150.0).abs() < 5.0);
}

/// A service whose requests slow with concurrency (10 ms alone, x (1 + 0.01 (m-1)^2) with m
/// computing), fed 300/s evenly. With all 64 workers computing each request takes
/// 10 ms x 40.69 = 407 ms: 64 / 0.4069 = 157 served per second, 2.46 per busy worker-second,
/// half the users' load, so a surge that fills the workers is never left. With 16 workers the
/// worst is 10 ms x 3.25: 492/s, above the load, and the backlog drains.
fn contended(workers: u32) -> String {
    format!(
        r#"(
    name: "contended", seed: 2, duration: "120s", warmup: "5s",
    default_link_latency: Constant("0s"),
    clients: [(name: "users", target: "api", load: Open(rate_per_s: 300.0, arrivals: Constant), timeout: "2s", max_in_flight: 100000)],
    services: [(name: "api", workers: {workers}, queue_capacity: 2000, service_time: Constant("10ms"),
                contention: Polynomial(coefficient: 0.01, exponent: 2.0))],
    faults: [(at: "30s", for: "5s", fault: Spike(client: "users", multiplier: 2.0))],
    slo: (availability: 0.95),
)"#
    )
}

#[test]
fn a_slowdown_under_load_is_sustained_and_named_and_below_the_knee_it_recovers() {
    let a = analyse(&contended(64), None);
    let c = &a.cascade;
    match &c.ending {
        Ending::Sustained {
            service,
            by,
            own_load_per_s,
            completes_per_s,
            ..
        } => {
            assert_eq!(service, "api");
            assert!(by.contains("contention"), "{by}");
            // Served per busy worker-second now: 1 / 0.4069 s.
            let now: f64 = by
                .split(" now)")
                .next()
                .and_then(|h| h.rsplit(", ").next())
                .and_then(|x| x.parse().ok())
                .unwrap_or_else(|| panic!("no speed in {by}"));
            assert!((now - 2.458).abs() < 0.05, "{now} in {by}");
            assert!((own_load_per_s - 300.0).abs() < 5.0, "{own_load_per_s}");
            assert!((completes_per_s - 157.3).abs() < 2.0, "{completes_per_s}");
        }
        e => panic!("expected sustained, got {e:?}\n{}", story(c)),
    }
    assert_eq!(a.headline.metastable, Some(true));

    let a = analyse(&contended(16), None);
    assert_eq!(
        a.cascade.ending.name(),
        "recovered",
        "{}",
        story(&a.cascade)
    );
}
