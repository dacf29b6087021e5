//! The shipped policy scenarios do what their comments say, checked against figures worked out
//! independently (closed forms and capacity arithmetic), not against earlier output.

use faultline::metrics::Summary;
use faultline::policy::breaker::BreakerState;
use faultline::runner;
use faultline::scenario::{self, Overrides};

fn run_text(text: &str) -> Summary {
    let sc = scenario::from_str(text, "case.ron", &Overrides::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let r = runner::run(&sc);
    assert!(r.stopped.is_none());
    r.summary
}

fn shipped(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/scenarios/{name}.ron",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// Removes the lines containing `needle` (and, for a multi-line policy, up to its closing `)),`).
fn without(text: &str, needle: &str) -> String {
    let mut out = Vec::new();
    let mut skipping = false;
    for line in text.lines() {
        if line.contains(needle) && !line.trim_start().starts_with("//") {
            skipping = !line.trim_end().ends_with("),") && !line.trim_end().ends_with(")),");
            continue;
        }
        if skipping {
            if line.trim() == "))," {
                skipping = false;
            }
            continue;
        }
        out.push(line);
    }
    let t = out.join("\n");
    assert_ne!(t, text, "{needle} not found");
    t
}

/// Share of client requests answered ok or degraded.
fn served(s: &Summary) -> f64 {
    let c = &s.clients[0];
    (c.outcomes.ok + c.outcomes.degraded) as f64 / c.offered as f64
}

#[test]
fn retries_amplify_load_as_one_plus_p_plus_p_squared() {
    let s = run_text(&shipped("retry_amplification"));
    let call = &s.services[0].calls[0];
    // p = 0.5 failures, 3 attempts: 1 + p + p^2 attempts per call, success 1 - p^3.
    // ~22k calls: the attempt count's standard error is under 0.5%.
    assert!(
        (call.amplification - 1.75).abs() < 0.03,
        "attempts per call {}",
        call.amplification
    );
    assert!(
        (s.clients[0].ok_ratio - 0.875).abs() < 0.01,
        "client success {}",
        s.clients[0].ok_ratio
    );
    // The dependency sees the amplified load.
    let ratio = s.services[1].offered as f64 / s.services[0].offered as f64;
    assert!((ratio - 1.75).abs() < 0.03, "inventory/api load {ratio}");
}

#[test]
fn a_retry_budget_caps_amplification() {
    let text = shipped("retry_budget");
    let capped = run_text(&text).services[0].calls[0].amplification;
    assert!(
        (1.24..=1.31).contains(&capped),
        "with tower's budget: {capped} attempts per call"
    );
    let unbounded = run_text(&without(&text, "budget: Tps")).services[0].calls[0].amplification;
    assert!(
        (unbounded - 3.0).abs() < 1e-3,
        "without a budget: {unbounded}"
    );
}

#[test]
fn the_aws_token_bucket_allows_exactly_capacity_over_cost_retries_against_a_dead_dependency() {
    // Every attempt fails: no success ever refills the bucket, so a shared bucket of 500 allows
    // exactly 500 / 5 = 100 retries in the whole run.
    let text = shipped("retry_budget").replace(
        "budget: Tps(ttl: \"10s\", min_per_sec: 10, retry_percent: 0.2)",
        "budget: AwsTokenBucket(), scope: Shared",
    );
    let text = text.replace("warmup: \"10s\"", "warmup: \"0s\"");
    let s = run_text(&text);
    let retry = s.policies.iter().find(|p| p.kind == "retry").unwrap();
    assert_eq!(retry.counters.retries, 100);
}

#[test]
fn a_breaker_contains_a_hung_dependency() {
    let text = shipped("breaker");
    let with = run_text(&text);
    assert!(
        served(&with) > 0.95,
        "with the breaker {:.3} served",
        served(&with)
    );
    // The breakers opened, and the hung service saw only trial calls after that.
    let b: Vec<_> = with
        .policies
        .iter()
        .filter(|p| p.kind == "circuit_breaker")
        .collect();
    assert_eq!(b.len(), 2, "one breaker per front-end replica");
    assert!(b.iter().all(|p| p.counters_opened() >= 10));
    let calls = with.services[0].calls[0].calls;
    assert!((with.services[1].offered as f64) < 0.02 * calls as f64);

    // Capacity arithmetic: 150/s x 0.5 s of waiting = 75 workers needed, 40 available.
    let no = run_text(&without(&text, "CircuitBreaker(Resilience4j("));
    assert!(
        served(&no) < 0.6,
        "without the breaker {:.3} served",
        served(&no)
    );
    assert!(no.services[0].utilisation > 0.99);
}

#[test]
fn a_bulkhead_keeps_a_slow_dependency_from_starving_the_rest() {
    let text = shipped("bulkhead");
    let with = run_text(&text);
    assert!(
        served(&with) > 0.95,
        "with the bulkhead {:.3}",
        served(&with)
    );
    assert!(with.clients[0].latency.p50_ms < 20.0);
    // 200/s x 0.3 x 2 s = 120 workers wanted for reports alone, 80 in the API.
    let no = run_text(&without(&text, "Bulkhead(Semaphore"));
    assert!(
        served(&no) < 0.75,
        "without the bulkhead {:.3}",
        served(&no)
    );
    assert!(no.clients[0].latency.p50_ms > 1000.0);
}

#[test]
fn policy_scenarios_are_deterministic() {
    for name in [
        "retry_amplification",
        "retry_budget",
        "breaker",
        "bulkhead",
        "hedging",
        "shedding",
    ] {
        let a = run_text(&shipped(name));
        let b = run_text(&shipped(name));
        assert_eq!(a, b, "{name}");
    }
}

#[test]
fn hedging_cuts_the_tail_caused_by_rare_slow_requests() {
    let text = shipped("hedging");
    let with = run_text(&text);
    let api = &with.services[0];
    // P(first attempt > 20 ms) = 0.02 + 0.98 e^-4 = 0.0379: the hedge rate.
    let expected = 0.02 + 0.98 * (-4f64).exp();
    let rate = api.calls[0].amplification - 1.0;
    assert!(
        (rate - expected).abs() < 0.006,
        "hedges per call {rate}, expected {expected}"
    );
    assert!(
        api.latency.p99_ms < 60.0,
        "p99 with hedging {}",
        api.latency.p99_ms
    );
    // The hedge wins when the first attempt is on the slow path (share 0.02 / 0.0379 of hedges)
    // and the hedge is fast (0.98); or when the first is a fast one past 20 ms, whose rest is
    // again Exp(5 ms), and the hedge, one 0.2 ms hop behind, beats it: 0.98 x 0.5 e^(-0.2/5).
    let slow_share = 0.02 / expected;
    let p_win = slow_share * 0.98 + (1.0 - slow_share) * 0.98 * 0.5 * (-0.2f64 / 5.0).exp();
    let hedge = with.policies.iter().find(|p| p.kind == "hedge").unwrap();
    let won = hedge.counters.hedges_won as f64 / hedge.counters.hedges as f64;
    assert!(
        (won - p_win).abs() < 0.04,
        "hedges won {won:.3}, expected {p_win:.3}"
    );
    let no = run_text(&without(&text, "Hedge("));
    assert!(
        no.services[0].latency.p99_ms > 350.0,
        "p99 without hedging {}",
        no.services[0].latency.p99_ms
    );
}

/// A client calling one service through `policy`; the service fails with `error_rate`.
fn one_edge(policy: &str, error_rate: f64) -> Summary {
    run_text(&format!(
        r#"(name: "h", duration: "20s",
            default_link_latency: Constant("1ms"),
            clients: [(name: "c", target: "s", load: Open(rate_per_s: 100.0, arrivals: Constant), policies: [{policy}])],
            services: [(name: "s", workers: 100, service_time: Constant("5ms"), error_rate: {error_rate})])"#
    ))
}

#[test]
fn hedging_modes_follow_polly() {
    // (policy, error rate, attempts per request, ok share)
    let cases = [
        // Delay 0: every attempt at once.
        (
            "Hedge(max_hedged_attempts: 2, delay: Parallel)",
            0.0,
            3.0,
            1.0,
        ),
        // Fallback mode against a dead service: one attempt after another, all fail.
        (
            "Hedge(max_hedged_attempts: 2, delay: Fallback)",
            1.0,
            3.0,
            0.0,
        ),
        // Fallback mode against a healthy service: the first attempt answers, no hedge.
        (
            "Hedge(max_hedged_attempts: 2, delay: Fallback)",
            0.0,
            1.0,
            1.0,
        ),
        // Latency mode, delay longer than the 7 ms round trip: no hedge.
        (
            "Hedge(max_hedged_attempts: 1, delay: Fixed(\"50ms\"))",
            0.0,
            1.0,
            1.0,
        ),
        // Latency mode, delay shorter than the round trip: always one hedge; the first wins.
        (
            "Hedge(max_hedged_attempts: 1, delay: Fixed(\"2ms\"))",
            0.0,
            2.0,
            1.0,
        ),
        // Latency mode against a dead service: a failure launches the next attempt at once.
        (
            "Hedge(max_hedged_attempts: 3, delay: Fixed(\"1s\"))",
            1.0,
            4.0,
            0.0,
        ),
    ];
    for (policy, err, attempts, ok) in cases {
        let s = one_edge(policy, err);
        let c = &s.clients[0];
        assert!(
            (c.amplification - attempts).abs() < 0.01,
            "{policy} (error rate {err}): {} attempts per request",
            c.amplification
        );
        assert!(
            (c.ok_ratio - ok).abs() < 1e-9,
            "{policy}: ok share {}",
            c.ok_ratio
        );
    }
}

#[test]
fn shedding_keeps_goodput_at_capacity_through_a_surge() {
    let text = shipped("shedding");
    // Capacity 4 workers / 10 ms = 400/s. Measured 5..120 s: 25 s at 300/s, 30 s at 400/s
    // (capacity during the 600/s surge), 60 s at 300/s.
    let ideal = (25.0 * 300.0 + 30.0 * 400.0 + 60.0 * 300.0) / 115.0;
    for admission in [
        "admission: (max_queue_time: \"100ms\"),",
        "admission: (concurrency_limit: Gradient2()),",
        "admission: (concurrency_limit: Aimd()),",
    ] {
        let t = text.replace("admission: (max_queue_time: \"100ms\"),", admission);
        let g = run_text(&t).clients[0].goodput_per_s;
        assert!(
            g > 0.95 * ideal,
            "{admission}: goodput {g:.1}/s, ideal {ideal:.1}/s"
        );
    }
    // Without shedding: 300/s before the surge, about 2 s more until waits pass the 1 s
    // timeout, nothing until the 2000-deep queue drains at 100/s to 400 (16 s after the surge),
    // then 300/s: (25 x 300 + 2 x 400 + 44 x 300) / 115 = 187/s.
    let expected = (25.0 * 300.0 + 2.0 * 400.0 + 44.0 * 300.0) / 115.0;
    let g = run_text(&without(&text, "admission:")).clients[0].goodput_per_s;
    assert!(
        (g - expected).abs() < 0.08 * expected,
        "without shedding: goodput {g:.1}/s, expected about {expected:.1}/s"
    );
}

#[test]
fn sre_adaptive_throttling_sends_about_k_times_what_the_backend_accepts() {
    // A backend that can take 50/s and turns the rest away at once, under 200/s. With K = 2 the
    // client sheds locally until requests sent are about 2 x accepts.
    let s = run_text(
        r#"(name: "t", duration: "200s", warmup: "20s", default_link_latency: Constant("1ms"),
            clients: [(name: "c", target: "s", load: Open(rate_per_s: 200.0),
                       policies: [AdaptiveThrottle(k: 2.0, window: "10s")])],
            services: [(name: "s", workers: 1, queue_capacity: 0, service_time: Constant("20ms"))])"#,
    );
    let backend = &s.services[0];
    let sent = backend.offered as f64;
    let accepted = backend.outcomes.ok as f64;
    assert!(
        (sent / accepted - 2.0).abs() < 0.15,
        "sent {sent} for {accepted} accepted"
    );
    let throttle = s
        .policies
        .iter()
        .find(|p| p.kind == "adaptive_throttle")
        .unwrap();
    assert!(throttle.counters.rejected > 0);
}

#[test]
fn a_feature_flag_drops_a_failing_feature_and_retries_it_later() {
    // Recommendations fail 90% of the time. The page stops asking for them once 20 calls in the
    // last 10 s failed more than half the time, and asks again after 30 s: per replica, about
    // 20 calls every 30 s reach the failing service, and the page is served degraded meanwhile.
    let text = |flag: &str| {
        format!(
            r#"(name: "f", duration: "300s", default_link_latency: Constant("1ms"),
                clients: [(name: "c", target: "page", load: Open(rate_per_s: 100.0))],
                services: [
                    (name: "page", replicas: 2, workers: 50, service_time: Constant("1ms"),
                     calls: [(to: "recs", policies: [{flag}])]),
                    (name: "recs", workers: 50, service_time: Constant("2ms"), error_rate: 0.9),
                ])"#
        )
    };
    let with = run_text(&text(
        "FeatureFlag(failure_rate_above: 0.5, min_calls: 20, window: \"10s\", off_for: \"30s\")",
    ));
    let calls = with.services[0].calls[0].calls as f64;
    let reached = with.services[1].offered as f64;
    // 2 replicas x ceil(300 / 30) cycles x about 20 calls = about 400 of 30,000.
    assert!(
        reached < 0.03 * calls,
        "{reached} of {calls} calls reached the failing service"
    );
    assert!(served(&with) > 0.98, "served {:.3}", served(&with));
    let flags: Vec<_> = with
        .policies
        .iter()
        .filter(|p| p.kind == "feature_flag")
        .collect();
    assert_eq!(flags.len(), 2);
    assert!(
        flags.iter().all(|f| f.counters_opened() >= 9),
        "each replica's flag went off every cycle"
    );
    // Without the flag: 90% of pages fail.
    let no = run_text(&text("Timeout(\"1s\")"));
    assert!(
        (served(&no) - 0.1).abs() < 0.02,
        "served without the flag {:.3}",
        served(&no)
    );
}

#[test]
fn propagated_deadlines_let_servers_drop_work_nobody_waits_for() {
    // The shedding scenario without admission control, but with requests carrying the client's
    // 1 s deadline: the API drops queued requests whose deadline has passed. Its workers no
    // longer serve requests nobody waits for, and the queue no longer has to drain after the
    // surge; but the requests it serves have waited up to 1 s, so many still finish past their
    // deadline. Goodput lands between no shedding (about 187/s, see above) and shedding at
    // 100 ms of queueing (326/s): deadlines alone recover part of the loss.
    let text = without(&shipped("shedding"), "admission:").replace(
        "timeout: \"1s\",",
        "timeout: \"1s\", propagate_deadline: true,",
    );
    let s = run_text(&text);
    let ideal = (25.0 * 300.0 + 30.0 * 400.0 + 60.0 * 300.0) / 115.0;
    let none = (25.0 * 300.0 + 2.0 * 400.0 + 44.0 * 300.0) / 115.0;
    let g = s.clients[0].goodput_per_s;
    assert!(
        g > 1.2 * none && g < ideal,
        "goodput {g:.1}/s with deadlines; none {none:.1}/s, ideal {ideal:.1}/s"
    );
    assert!(s.admission[0].shed_expired > 1000, "{:?}", s.admission);
}

#[test]
fn a_propagated_deadline_bounds_the_callers_wait() {
    // The client waits 100 ms; the front end's call to a 500 ms backend inherits that deadline,
    // so the front end gives up at 100 ms instead of holding a worker for 500 ms.
    let text = |propagate: bool| {
        format!(
            r#"(name: "d", duration: "60s", default_link_latency: Constant("0s"),
                clients: [(name: "c", target: "front", load: Open(rate_per_s: 20.0, arrivals: Constant),
                           timeout: "100ms", propagate_deadline: true)],
                services: [
                    (name: "front", workers: 100, service_time: Constant("1ms"),
                     calls: [(to: "back", propagate_deadline: {propagate})]),
                    (name: "back", workers: 100, service_time: Constant("500ms")),
                ])"#
        )
    };
    let with = run_text(&text(true));
    let no = run_text(&text(false));
    // Busy worker time per request: 100 ms (1 ms + 99 ms waiting) against 501 ms.
    let ratio = with.services[0].utilisation / no.services[0].utilisation;
    assert!(
        (ratio - 100.0 / 501.0).abs() < 0.02,
        "utilisation ratio {ratio:.3}"
    );
    let deadline = with.policies.iter().find(|p| p.kind == "deadline").unwrap();
    assert!(deadline.counters.timeouts > 1000);
}

/// Resilience4j's time-driven transitions inside a run: the breaker trips while the service
/// fails, then no call comes (the load stops); still it goes half-open at exactly the wait,
/// back to open at the half-open max wait, and so on, each transition recorded at its time.
#[test]
fn resilience4j_time_driven_transitions_happen_without_traffic() {
    let text = r#"(name: "t", duration: "20s", warmup: "0s",
        default_link_latency: Constant("0s"),
        clients: [(name: "c", target: "api",
            load: Open(rate_per_s: 100.0, arrivals: Constant, steps: [(at: "1s", rate_per_s: 0.0)]),
            policies: [CircuitBreaker(Resilience4j(sliding_window: CountBased(10), minimum_number_of_calls: 10,
                wait_in_open: "2s", automatic_transition: true, max_wait_in_half_open: "500ms"))])],
        services: [(name: "api", workers: 10, error_rate: 1.0, service_time: Constant("1ms"))])"#;
    let s = run_text(text);
    let b = s
        .policies
        .iter()
        .find(|p| p.kind == "circuit_breaker")
        .unwrap();
    let t = &b.transitions;
    // Ten failures (one every 10 ms from 10 ms, each taking 1 ms) open it at the tenth: 0.101 s.
    assert_eq!(
        (t[0].from, t[0].to),
        (BreakerState::Closed, BreakerState::Open)
    );
    let opened = t[0].at_s;
    assert!((opened - 0.101).abs() < 1e-9, "opened at {opened}");
    // Calls keep coming until 1 s, all rejected while open; after that none. From the
    // opening: half-open at +2 s, open at +2.5 s, half-open at +4.5 s, ... (2.5 s a cycle).
    let mut want = vec![(opened, BreakerState::Closed, BreakerState::Open)];
    let mut at = opened;
    while at + 2.5 <= 20.0 {
        want.push((at + 2.0, BreakerState::Open, BreakerState::HalfOpen));
        want.push((at + 2.5, BreakerState::HalfOpen, BreakerState::Open));
        at += 2.5;
    }
    if at + 2.0 <= 20.0 {
        want.push((at + 2.0, BreakerState::Open, BreakerState::HalfOpen));
    }
    assert_eq!(t.len(), want.len(), "{t:?}");
    for (got, w) in t.iter().zip(&want) {
        assert!(
            (got.at_s - w.0).abs() < 1e-9 && got.from == w.1 && got.to == w.2,
            "{got:?} vs {w:?}"
        );
    }
    assert_eq!(
        s.services[0].offered, 10,
        "no call after the breaker opened"
    );
}

/// Resilience4j's thread-pool bulkhead inside a run, with ThreadPoolExecutor's rules: calls
/// every 6 ms that take 9 ms need two threads (one is busy 1.5x its time). The queue (1)
/// fills, a second thread starts, and from then on each thread serves every other call and
/// idles 3 ms between them: within the keep-alive (Resilience4j's 20 ms default, or 1 h) it
/// stays, and a call arriving while it is idle runs at once, so only the first few calls
/// wait however long the run. With no keep-alive the second thread exits each time it idles
/// and most calls wait in the queue for the core thread.
#[test]
fn the_thread_pool_bulkhead_keeps_idle_threads_for_its_keep_alive() {
    let run = |keep_alive: &str, duration: &str| {
        let text = format!(
            r#"(name: "t", duration: "{duration}", warmup: "0s", default_link_latency: Constant("0s"),
            clients: [(name: "c", target: "api", load: Open(rate_per_s: 166.66666666666666, arrivals: Constant))],
            services: [(name: "api", workers: 100, service_time: Constant("1ms"),
                        calls: [(to: "db", policies: [Bulkhead(ThreadPool(core: 1, max: 2, queue_capacity: 1{keep_alive}))])]),
                       (name: "db", workers: 100, service_time: Constant("9ms"))])"#
        );
        let s = run_text(&text);
        let b = s.policies.iter().find(|p| p.kind == "bulkhead").unwrap();
        assert_eq!(b.counters.rejected, 0);
        (b.counters.waited, b.counters.calls)
    };
    for keep_alive in ["", r#", keep_alive: "1h""#] {
        let (short, _) = run(keep_alive, "10s");
        let (long, calls) = run(keep_alive, "20s");
        assert!(
            short <= 5 && long == short,
            "{keep_alive}: {short} then {long} of {calls} waited"
        );
    }
    let (waited, calls) = run(r#", keep_alive: "0s""#, "10s");
    assert!(waited as f64 > 0.5 * calls as f64, "{waited} of {calls}");
}
