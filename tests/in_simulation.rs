//! Policies, faults and limits that were unit-tested but never run inside a simulation, each
//! run in a small system and held to what its documented rule must produce there: rate
//! limiters, pybreaker and Polly breakers, gRPC retry throttling, NGINX active probes, one-way
//! partitions, periodic fault plans, `Config(workers)`, cold restarts, and the
//! `max_pending_events` limit.

use faultline::metrics::Summary;
use faultline::runner;
use faultline::scenario::{self, Overrides};

fn run(text: &str) -> Summary {
    let sc = scenario::from_str(text, "case.ron", &Overrides::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let r = runner::run(&sc);
    assert!(r.stopped.is_none(), "{:?}", r.stopped);
    r.summary
}

/// A client sending `rate`/s at constant spacing to `api` (3 replicas, 8 workers, 5 ms), with
/// `policies` on the client, `extra` fields on api, and `faults`; 60 s, 1 s timeout.
fn system(rate: f64, policies: &str, extra: &str, faults: &str) -> String {
    format!(
        r#"(name: "t", seed: 4, duration: "60s", default_link_latency: Constant("1ms"),
            clients: [(name: "c", target: "api", load: Open(rate_per_s: {rate}, arrivals: Constant),
                       timeout: "1s", policies: [{policies}])],
            services: [(name: "api", replicas: 3, workers: 8, service_time: Constant("5ms"), {extra})],
            faults: [{faults}])"#
    )
}

#[test]
fn a_token_bucket_rate_limiter_passes_its_rate() {
    // 200/s at constant spacing into a bucket refilled at 100/s holding one token: every other
    // call finds it empty, so half are rejected (the first second's burst aside).
    let s = run(&system(
        200.0,
        "RateLimiter(TokenBucket(rate_per_s: 100.0, burst: 1))",
        "",
        "",
    ));
    let c = &s.clients[0];
    let share = c.outcomes.rejected as f64 / c.completed as f64;
    assert!((share - 0.5).abs() < 0.01, "rejected {share}");
    assert_eq!(c.outcomes.ok + c.outcomes.rejected, c.completed);
}

/// Timeouts and rejections of 20/s against api hung from 10 s to 50 s, through `breaker`.
fn against_a_hang(breaker: &str) -> (u64, u64) {
    let s = run(&system(
        20.0,
        breaker,
        "",
        r#"(at: "10s", for: "40s", fault: Hang("api"))"#,
    ));
    let c = &s.clients[0];
    (c.outcomes.timeout, c.outcomes.rejected)
}

#[test]
fn a_pybreaker_breaker_stops_calling_a_hung_service() {
    // 800 calls meet the hang (those of its last second wait it out within their 1 s timeout,
    // so without a breaker about 780 time out). pybreaker opens after fail_max = 5 consecutive failures; after
    // reset_timeout (5 s) it lets calls through (half-open, unlimited) until the first fails
    // and reopens it: the calls of that one timeout (1 s at 20/s, 20) each time, so at most
    // 5 + 8 x 21 = 173 time out over the 40 s, and the rest are rejected at once.
    let (without, _) = against_a_hang("");
    assert!((770..=800).contains(&without), "{without}");
    let (timeouts, rejected) =
        against_a_hang(r#"CircuitBreaker(PyBreaker(fail_max: 5, reset_timeout: "5s"))"#);
    assert!(timeouts <= 173, "{timeouts} timed out");
    assert!(timeouts + rejected >= 770, "{timeouts} + {rejected}");
}

#[test]
fn a_polly_breaker_sends_one_probe_per_break() {
    // Polly v8 trips once the last 2 s held at least 10 calls, half failed; then one probe per
    // 5 s break: at most the first 2 s of the hang (40 calls, before the window's failures
    // reach half), then a probe per break (8 in 40 s).
    let (timeouts, rejected) = against_a_hang(
        r#"CircuitBreaker(Polly(failure_ratio: 0.5, minimum_throughput: 10, sampling_duration: "2s", break_duration: "5s"))"#,
    );
    assert!(timeouts <= 40 + 8, "{timeouts} timed out");
    assert!(rejected >= 770 - 48, "{rejected} rejected");
}

#[test]
fn grpc_retry_throttling_stops_retries_once_tokens_fall_to_half() {
    // Every attempt fails. Tokens start at 10 and lose one per failed attempt; retries are
    // made only while tokens > 5: the first call's 3 attempts leave 7, the second's first
    // attempt 6, its retry 5: 3 retries in all, then none for the rest of the run.
    let s = run(&system(
        20.0,
        r#"Retry(max_attempts: 3, backoff: Constant("0s"), budget: GrpcThrottle(max_tokens: 10, token_ratio: 0.1))"#,
        "",
        r#"(at: "0s", fault: Errors(target: "api", rate: 1.0))"#,
    ));
    let c = &s.clients[0];
    assert_eq!(
        c.attempts - c.offered,
        3,
        "{} attempts for {}",
        c.attempts,
        c.offered
    );
}

#[test]
fn nginx_active_probes_take_a_crashed_replica_out() {
    // api/1 is down from 10 s to 40 s. Round robin sends it a third of 150/s. NGINX checks
    // every second and marks it down after one failure: the refusals stop within about two
    // intervals (at most about 2 s x 50/s = 100), against 30 s x 50/s = 1,500 without checks.
    let crash = r#"(at: "10s", for: "30s", fault: Crash("api/1"))"#;
    let refused = |extra: &str| {
        run(&system(150.0, "", extra, crash)).clients[0]
            .outcomes
            .refused
    };
    let without = refused("");
    assert!((1_450..=1_550).contains(&without), "{without}");
    let with = refused(
        r#"health: (readiness: Nginx(interval: "1s", fails: 1, passes: 1, timeout: "1s"))"#,
    );
    assert!(with <= 110, "{with} refused with active checks");
}

/// api -> db with a 100 ms call timeout; `cut` partitions them from 20 s to 30 s.
fn two_tier(cut: &str) -> Summary {
    run(&format!(
        r#"(name: "p", seed: 4, duration: "60s", default_link_latency: Constant("1ms"),
            clients: [(name: "c", target: "api", load: Open(rate_per_s: 100.0, arrivals: Constant), timeout: "1s")],
            services: [(name: "api", workers: 64, service_time: Constant("1ms"), calls: [(to: "db", timeout: "100ms")]),
                       (name: "db", workers: 16, service_time: Constant("2ms"))],
            faults: [(at: "20s", for: "10s", fault: {cut})])"#
    ))
}

#[test]
fn a_one_way_partition_loses_only_what_goes_its_way() {
    // Lose only db -> api (the answers): db still serves every call (6,000 over the run) while
    // api times out on the 1,000 of those 10 s. Both ways: the calls are lost too, and db
    // serves 1,000 fewer.
    let answers = two_tier(r#"Partition(from: ["db"], to: ["api"], one_way: true)"#);
    let both = two_tier(r#"Partition(from: ["api"], to: ["db"])"#);
    let served = |s: &Summary| s.services[1].completed as i64;
    assert!(
        (served(&answers) - 6_000).abs() <= 2,
        "{}",
        served(&answers)
    );
    assert!((served(&both) - 5_000).abs() <= 2, "{}", served(&both));
    for s in [&answers, &both] {
        let t = s.clients[0].outcomes.error + s.clients[0].outcomes.timeout;
        assert!((t as i64 - 1_000).abs() <= 12, "{t} failed");
    }
}

#[test]
fn a_periodic_fault_plan_fires_every_period() {
    // every 10 s from 5 s with probability 1, 2 s each: windows at 5, 15, ..., 55 s.
    let s = run(&system(
        50.0,
        "",
        "",
        r#"(at: "5s", every: "10s", probability: 1.0, for: "2s", fault: Errors(target: "api", rate: 1.0))"#,
    ));
    // A plan on "api" hits each of its 3 replicas with windows of its own: 18, listed replica
    // by replica.
    assert_eq!(s.faults.len(), 18);
    for replica in s.faults.chunks(6) {
        let starts: Vec<f64> = replica.iter().map(|f| f.start_s).collect();
        assert_eq!(starts, vec![5.0, 15.0, 25.0, 35.0, 45.0, 55.0]);
        // Each fails its replica's third of 2 s of requests at 50/s: 33 or 34.
        for f in replica {
            assert!((33..=34).contains(&f.requests_failed), "{f:?}");
        }
    }
    // Together every request of the six 2 s windows: 600.
    assert_eq!(s.faults.iter().map(|f| f.requests_failed).sum::<u64>(), 600);
}

#[test]
fn a_config_change_of_workers_takes_effect_while_it_lasts() {
    // One worker at 10 ms serves 100/s; 150/s overload it, and 1 s timeouts fail most of what
    // arrives once its queue has grown. Four workers from 0 s, for the whole run, serve
    // everything, as a scenario written with four would.
    let one = |faults: &str| {
        run(&format!(
            r#"(name: "w", seed: 4, duration: "60s",
                clients: [(name: "c", target: "api", load: Open(rate_per_s: 150.0), timeout: "1s")],
                services: [(name: "api", workers: 1, queue_capacity: 1000, service_time: Exponential(mean: "10ms"))],
                faults: [{faults}])"#
        ))
        .clients[0]
            .ok_ratio
    };
    assert!(one("") < 0.8, "{}", one(""));
    let four = one(r#"(at: "0s", fault: Config(target: "api", workers: 4))"#);
    assert!(four > 0.999, "{four}");
}

#[test]
fn a_cold_restart_serves_slower_while_it_warms_up() {
    // api/0 crashes at 10 s for 5 s and restarts cold: 5x slower, back to 1x linearly over
    // 20 s (3x on average). Its third of the requests of those 20 s (1,000 of 9,000 at 150/s)
    // take 3 x 5 ms instead of 5 ms: the mean latency of what api served rises by about
    // 1,000 x 10 ms / 8,250 served = 1.2 ms (the 250 refused while it was down aside).
    let crash = r#"(at: "10s", for: "5s", fault: Crash("api/0"))"#;
    let mean = |cold: &str| {
        run(&system(
            150.0,
            "",
            &format!("restart: (warmup: \"20s\", cold_factor: {cold})"),
            crash,
        ))
        .services[0]
            .latency
            .mean_ms
    };
    let extra = mean("5.0") - mean("1.0");
    assert!((0.9..=1.5).contains(&extra), "{extra} ms");
}

#[test]
fn the_pending_events_limit_stops_a_run_and_says_how_to_raise_it() {
    // Every api replica hangs from 10 s: each request sent after it holds a live 1 s timeout
    // (150 a second), so the queue passes 100 pending events within a second of it.
    let all = r#"(at: "10s", for: "20s", fault: Hang("api/0")), (at: "10s", for: "20s", fault: Hang("api/1")), (at: "10s", for: "20s", fault: Hang("api/2"))"#;
    let text = system(150.0, "", "", all).replace(
        r#"name: "t","#,
        r#"name: "t", limits: (max_pending_events: 100),"#,
    );
    let sc = scenario::from_str(&text, "l.ron", &Overrides::default()).unwrap();
    let r = runner::run(&sc);
    let hit = r.stopped.expect("stopped by the limit");
    assert_eq!(hit.limit, "max_pending_events");
    assert!(
        (10_000_000_000..11_000_000_000).contains(&hit.at_ns),
        "{}",
        hit.at_ns
    );
    assert!(
        hit.to_string().contains("raise limits.max_pending_events"),
        "{hit}"
    );
}

#[test]
fn timers_of_answered_requests_leave_the_queue() {
    // 1,000 requests a second with a one-hour timeout each, for a minute: were the timers of
    // answered requests kept until they fire, 60,000 would be pending at the end. Only live
    // ones count against the limit, so a limit of 5,000 is never reached, and the run is the
    // one with a 1 s timeout that never fires, event for event.
    let run_with = |timeout: &str| {
        let text = system(1000.0, "", "", "")
            .replace(r#"timeout: "1s""#, &format!(r#"timeout: "{timeout}""#))
            .replace(
                r#"name: "t","#,
                r#"name: "t", limits: (max_pending_events: 5000),"#,
            );
        let sc = scenario::from_str(&text, "l.ron", &Overrides::default()).unwrap();
        let r = runner::run(&sc);
        assert!(r.stopped.is_none(), "{timeout}: {:?}", r.stopped);
        (r.trace_hash, r.events, r.summary.clients[0].outcomes.ok)
    };
    let (long, short) = (run_with("1h"), run_with("1s"));
    // All answered but the few still in flight at the end (7 ms each).
    assert!(long.2 >= 59_990, "{} answered", long.2);
    assert_eq!(long, short);
}
