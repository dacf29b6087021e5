//! Endpoints (request types) against expectations worked out independently: shares drawn as
//! configured, each endpoint's own service time and calls, an endpoint kept by every retry of a
//! request, priorities against Cobham's formula for the non-preemptive priority M/M/1 queue,
//! and reads at asynchronous standbys against the Poisson probability of a write still in
//! flight.

use faultline::metrics::{EndpointSummary, ServiceSummary, Summary};
use faultline::runner;
use faultline::scenario::{self, Overrides};

fn run(text: &str) -> Summary {
    let sc = scenario::from_str(text, "case.ron", &Overrides::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let r = runner::run(&sc);
    assert!(r.stopped.is_none(), "{:?}", r.stopped);
    r.summary
}

fn svc<'a>(s: &'a Summary, name: &str) -> &'a ServiceSummary {
    s.services.iter().find(|v| v.name == name).unwrap()
}

fn ep<'a>(s: &'a ServiceSummary, name: &str) -> &'a EndpointSummary {
    s.endpoints.iter().find(|e| e.name == name).unwrap()
}

/// `api` has `browse` (2 ms, no calls) and `buy` (10 ms, then db's 5 ms); nothing queues and
/// the network takes no time, so every latency is the sum of the service times on its path.
const SHOP: &str = r#"(name: "shop", duration: "200s", seed: 3,
    clients: [(name: "c", target: "api", load: Open(rate_per_s: 100.0))],
    services: [
        (name: "api", workers: 1000, service_time: Constant("1ms"), calls: [(to: "db")],
         endpoints: [
            (name: "browse", share: 0.8, service_time: Constant("2ms"), calls: []),
            (name: "buy", share: 0.2, service_time: Constant("10ms")),
         ]),
        (name: "db", workers: 1000, service_time: Constant("5ms"),
         endpoints: [(name: "read"), (name: "write", kind: Write)]),
    ])"#;

#[test]
fn each_endpoint_has_its_share_its_service_time_and_its_calls() {
    let s = run(SHOP);
    let api = svc(&s, "api");
    let (browse, buy) = (ep(api, "browse"), ep(api, "buy"));
    let n = (browse.requests + buy.requests) as f64;
    assert_eq!(browse.requests + buy.requests, api.completed);
    // A binomial share: within 4 standard deviations of 0.8.
    let share = browse.requests as f64 / n;
    let sd = (0.8_f64 * 0.2 / n).sqrt();
    assert!((share - 0.8).abs() < 4.0 * sd, "browse share {share}");
    assert!(
        (browse.latency.mean_ms - 2.0).abs() < 1e-9,
        "{:?}",
        browse.latency
    );
    assert!(
        (buy.latency.mean_ms - 15.0).abs() < 1e-9,
        "{:?}",
        buy.latency
    );
    // Only `buy` calls db, once each; db's endpoints split by their (equal) shares.
    let db = svc(&s, "db");
    assert_eq!(db.completed, buy.requests);
    let reads = ep(db, "read").requests as f64 / db.completed as f64;
    assert!((reads - 0.5).abs() < 4.0 * (0.25 / db.completed as f64).sqrt());
}

#[test]
fn a_named_endpoint_takes_every_request() {
    // The client names `buy`, and buy's call names db's `write`.
    let text = SHOP
        .replace(
            "load: Open(rate_per_s: 100.0))",
            r#"load: Open(rate_per_s: 100.0), endpoint: "buy")"#,
        )
        .replace(
            r#"(name: "buy", share: 0.2, service_time: Constant("10ms"))"#,
            r#"(name: "buy", share: 0.2, service_time: Constant("10ms"), calls: [(to: "db", endpoint: "write")])"#,
        );
    let s = run(&text);
    let api = svc(&s, "api");
    assert_eq!(ep(api, "browse").requests, 0);
    assert_eq!(ep(api, "buy").requests, api.completed);
    let db = svc(&s, "db");
    assert_eq!(ep(db, "write").requests, db.completed);
    assert_eq!(ep(db, "read").requests, 0);
}

#[test]
fn every_retry_of_a_request_goes_to_its_endpoint() {
    // `slow` takes 100 ms against a 50 ms timeout: its requests time out on every one of
    // their 3 attempts, while `fast` ones succeed at once. Were the endpoint drawn again per
    // attempt, a slow request would succeed on a retry that drew `fast`.
    let text = r#"(name: "r", duration: "100s", seed: 5,
        clients: [(name: "c", target: "api", load: Open(rate_per_s: 50.0),
                   policies: [Retry(max_attempts: 3, backoff: Constant("1ms"))], timeout: "50ms")],
        services: [(name: "api", workers: 1000, service_time: Constant("1ms"),
            endpoints: [(name: "fast", share: 0.7), (name: "slow", share: 0.3, service_time: Constant("100ms"))])])"#;
    let s = run(text);
    let c = &s.clients[0];
    let api = svc(&s, "api");
    let (fast, slow) = (ep(api, "fast"), ep(api, "slow"));
    assert_eq!(
        c.outcomes.ok, fast.requests,
        "every ok request was a fast one"
    );
    // Each failed request made 3 attempts, all at `slow` (the last few may still be out).
    let failed = c.completed - c.outcomes.ok;
    assert!(slow.requests <= 3 * failed + 6 && slow.requests + 6 >= 3 * failed);
    assert!(failed > 1000);
}

/// Mean response time (ms) of each class of a two-class M/M/1 queue with non-preemptive
/// priority (Cobham 1954): W_k = W0 / ((1 - s_{k-1})(1 - s_k)), W0 = sum(l_i E[S^2]) / 2,
/// s_k the load of classes at or above k; plus the service time.
fn cobham_ms(rate_high: f64, rate_low: f64, mean_s: f64) -> (f64, f64) {
    let w0 = (rate_high + rate_low) * 2.0 * mean_s * mean_s / 2.0;
    let s1 = rate_high * mean_s;
    let s2 = s1 + rate_low * mean_s;
    let high = w0 / (1.0 - s1) + mean_s;
    let low = w0 / ((1.0 - s1) * (1.0 - s2)) + mean_s;
    (high * 1e3, low * 1e3)
}

#[test]
fn priorities_match_cobhams_formula_for_the_priority_queue() {
    // 30/s high and 50/s low, exponential 10 ms service, one worker: load 0.8.
    let (want_high, want_low) = cobham_ms(30.0, 50.0, 0.010);
    let text = |seed: u64| {
        format!(
            r#"(name: "p", duration: "1000s", warmup: "20s", seed: {seed},
            clients: [(name: "c", target: "s", load: Open(rate_per_s: 80.0))],
            services: [(name: "s", workers: 1, queue_capacity: 100000, service_time: Exponential(mean: "10ms"),
                endpoints: [(name: "high", share: 0.375, priority: 1), (name: "low", share: 0.625)])])"#
        )
    };
    let seeds = 10;
    let (mut high, mut low) = (Vec::new(), Vec::new());
    for seed in 1..=seeds {
        let s = run(&text(seed));
        let sv = svc(&s, "s");
        high.push(ep(sv, "high").latency.mean_ms);
        low.push(ep(sv, "low").latency.mean_ms);
    }
    for (name, xs, want) in [("high", &high, want_high), ("low", &low, want_low)] {
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
        // Student's t, 9 degrees of freedom, 99%: 3.25.
        let half = 3.25 * (var / n).sqrt();
        assert!(
            (mean - want).abs() <= half,
            "{name}: {mean:.2} ms +- {half:.2}, Cobham {want:.2}"
        );
        // The interval is narrow enough to tell the classes from FIFO (50 ms for both).
        assert!(half < 0.1 * want, "{name}: interval {half:.2} ms too wide");
    }
}

#[test]
fn under_overload_the_high_priority_keeps_its_answers() {
    // 200/s against a capacity of 100/s; high sends 50/s. With priorities the high class is
    // served first and pushes low ones out of the full queue, so it sees a 50%-loaded server;
    // low gets what is left (about 50/s). Without, both lose alike (about half).
    let text = |priority: u8| {
        format!(
            r#"(name: "o", duration: "200s", warmup: "10s", seed: 9,
            clients: [(name: "c", target: "s", load: Open(rate_per_s: 200.0))],
            services: [(name: "s", workers: 1, queue_capacity: 20, service_time: Exponential(mean: "10ms"),
                endpoints: [(name: "high", share: 0.25, priority: {priority}), (name: "low", share: 0.75)])])"#
        )
    };
    let s = run(&text(1));
    let sv = svc(&s, "s");
    let (high, low) = (ep(sv, "high"), ep(sv, "low"));
    assert!(high.ok_ratio > 0.99, "high ok {}", high.ok_ratio);
    assert!(
        (low.throughput_per_s - 50.0).abs() < 2.5,
        "low ok/s {}",
        low.throughput_per_s
    );
    let s = run(&text(0));
    let sv = svc(&s, "s");
    let (high, low) = (ep(sv, "high"), ep(sv, "low"));
    assert!((high.ok_ratio - low.ok_ratio).abs() < 0.03);
    assert!(high.ok_ratio < 0.55);
}

/// `db`: a primary and two standbys, writes acknowledged at once and applied `lag` later,
/// reads served at the standbys in turn.
fn reads_at_standbys(replication: &str) -> String {
    format!(
        r#"(name: "rs", duration: "200s", warmup: "10s", seed: 11,
        clients: [(name: "c", target: "db", load: Open(rate_per_s: 250.0))],
        services: [(name: "db", replicas: 3, workers: 1000, service_time: Exponential(mean: "1ms"),
            active_passive: (replication: {replication}, reads: Standbys()),
            endpoints: [(name: "read", share: 0.8), (name: "write", share: 0.2, kind: Write)])])"#
    )
}

#[test]
fn a_read_at_an_async_standby_is_stale_as_often_as_a_write_is_in_flight() {
    // Writes leave the primary as a Poisson stream of w = 50/s (an M/M/infinity queue passes
    // Poisson arrivals on as Poisson departures), each applied L = 20 ms later. A read at a
    // standby misses a write iff one was acknowledged in the last L: 1 - exp(-w L). Given that,
    // the oldest it misses is L - X old, X ~ Exp(w) conditioned on X < L.
    let (w, l) = (50.0_f64, 0.020_f64);
    let s = run(&reads_at_standbys(r#"Async(lag: Constant("20ms"))"#));
    let r = s.replication[0]
        .standby_reads
        .as_ref()
        .expect("reads at standbys");
    let n = r.at_standbys as f64;
    let want = 1.0 - (-w * l).exp();
    let got = r.stale as f64 / n;
    // Reads less than L apart share part of their window, so their outcomes are correlated:
    // the covariance at a spacing t < L is exp(-w (L + t)) - exp(-2 w L), which integrated
    // over the reads' spacing (200 reads/s) inflates the variance of the share.
    let reads_per_s = 200.0;
    let cov = (-w * l).exp() * (1.0 - (-w * l).exp()) / w - l * (-2.0 * w * l).exp();
    let inflation = 1.0 + 2.0 * reads_per_s * cov / (want * (1.0 - want));
    let sd = (want * (1.0 - want) * inflation / n).sqrt();
    assert!((got - want).abs() < 4.0 * sd, "stale {got:.4} vs {want:.4}");
    assert_eq!(r.to_primary, 0);
    assert!(r.max_staleness_ms <= 20.0 + 1e-9, "{}", r.max_staleness_ms);
    let p = (-w * l).exp();
    let mean_x = 1.0 / w - l * p / (1.0 - p);
    let want_age_ms = (l - mean_x) * 1e3;
    assert!(
        (r.mean_staleness_ms - want_age_ms).abs() < 0.03 * want_age_ms,
        "mean staleness {} vs {want_age_ms}",
        r.mean_staleness_ms
    );
    // Synchronous replication acknowledges a write once every standby has it: no stale read.
    let s = run(&reads_at_standbys(r#"Sync(lag: Constant("20ms"))"#));
    let r = s.replication[0].standby_reads.as_ref().unwrap();
    assert!(r.at_standbys > 10_000);
    assert_eq!(r.stale, 0);
}
