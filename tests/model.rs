//! Model behaviour against expectations worked out by hand: fan-out timing, failure
//! propagation, timeouts, admission, call probabilities, rate steps and load balancing.
//! One helper runs a scenario; each case states the figure it expects and why.

use faultline::engine::{SimTime, TraceRecord, TraceSink};
use faultline::metrics::Summary;
use faultline::runner;
use faultline::scenario::{self, Overrides};
use std::collections::BTreeMap;

fn run(text: &str) -> Summary {
    let sc = scenario::from_str(text, "case.ron", &Overrides::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let r = runner::run(&sc);
    assert!(r.stopped.is_none());
    r.summary
}

fn svc<'a>(s: &'a Summary, name: &str) -> &'a faultline::metrics::ServiceSummary {
    s.services.iter().find(|v| v.name == name).unwrap()
}

/// A front service calling `a` (5 ms) and `b` (7 ms) with constant times and no network.
fn fan_out(mode: &str) -> String {
    format!(
        r#"(name: "f", duration: "10s",
            clients: [(name: "c", target: "front", load: Open(rate_per_s: 10.0, arrivals: Constant))],
            services: [
                (name: "front", workers: 10, service_time: Constant("1ms"), fan_out: {mode}, calls: [(to: "a"), (to: "b")]),
                (name: "a", workers: 10, service_time: Constant("5ms")),
                (name: "b", workers: 10, service_time: Constant("7ms")),
            ])"#
    )
}

#[test]
fn fan_out_latency_is_the_sum_or_the_max_of_the_calls() {
    // Sequential: 1 + 5 + 7 = 13 ms. Parallel: 1 + max(5, 7) = 8 ms. Nothing ever queues.
    for (mode, ms) in [("Sequential", 13.0), ("Parallel", 8.0)] {
        let s = run(&fan_out(mode));
        let c = &s.clients[0];
        assert_eq!(c.outcomes.ok, c.completed);
        assert!(
            (c.latency.mean_ms - ms).abs() < 1e-9,
            "{mode}: {} ms",
            c.latency.mean_ms
        );
        assert!(
            (c.latency.max_ms - ms).abs() < 0.01,
            "{mode}: max {} ms",
            c.latency.max_ms
        );
    }
}

#[test]
fn a_failing_dependency_fails_its_callers_with_error() {
    let text = fan_out("Parallel").replace(
        r#"(name: "b", workers: 10, service_time: Constant("7ms"))"#,
        r#"(name: "b", workers: 10, service_time: Constant("7ms"), error_rate: 1.0)"#,
    );
    let s = run(&text);
    assert_eq!(svc(&s, "b").outcomes.error, svc(&s, "b").completed);
    assert_eq!(svc(&s, "front").outcomes.error, svc(&s, "front").completed);
    assert_eq!(s.clients[0].outcomes.error, s.clients[0].completed);
    assert_eq!(s.clients[0].outcomes.ok, 0);
    // `a` itself is healthy.
    assert_eq!(svc(&s, "a").outcomes.ok, svc(&s, "a").completed);
}

#[test]
fn a_client_timeout_ends_requests_as_timeout_and_the_server_still_works() {
    // Service takes 50 ms, the client waits 10 ms: every request times out at the client,
    // while the server completes every one of them (wasted work).
    let s = run(r#"(name: "t", duration: "10s",
        clients: [(name: "c", target: "s", load: Open(rate_per_s: 10.0, arrivals: Constant), timeout: "10ms")],
        services: [(name: "s", workers: 4, service_time: Constant("50ms"))])"#);
    let c = &s.clients[0];
    assert_eq!(c.outcomes.timeout, c.completed);
    assert!(c.completed >= 99);
    assert_eq!(svc(&s, "s").outcomes.ok, svc(&s, "s").completed);
    assert!(svc(&s, "s").completed >= 99);
}

#[test]
fn a_call_timeout_fails_the_caller() {
    let s = run(r#"(name: "t", duration: "10s",
        clients: [(name: "c", target: "front", load: Open(rate_per_s: 10.0, arrivals: Constant))],
        services: [
            (name: "front", workers: 4, service_time: Constant("1ms"), calls: [(to: "slow", timeout: "20ms")]),
            (name: "slow", workers: 4, service_time: Constant("30ms")),
        ])"#);
    let front = svc(&s, "front");
    assert_eq!(front.calls[0].outcomes.timeout, front.completed);
    assert_eq!(front.outcomes.error, front.completed);
    // The client sees the failure 1 ms + 20 ms after sending.
    assert_eq!(s.clients[0].outcomes.error, s.clients[0].completed);
}

#[test]
fn a_full_queue_turns_requests_away_as_overloaded() {
    // Arrivals every 10 ms, service 15 ms, one worker, no queue: each request served blocks
    // the next one, so exactly every other request is overloaded.
    let s = run(r#"(name: "o", duration: "10s",
        clients: [(name: "c", target: "s", load: Open(rate_per_s: 100.0, arrivals: Constant))],
        services: [(name: "s", workers: 1, queue_capacity: 0, service_time: Constant("15ms"))])"#);
    let v = svc(&s, "s");
    assert!(v.completed >= 998, "{}", v.completed);
    assert!(
        (v.outcomes.overloaded as i64 - v.outcomes.ok as i64).abs() <= 1,
        "{:?}",
        v.outcomes
    );
    assert_eq!(s.clients[0].outcomes.overloaded, v.outcomes.overloaded);
}

#[test]
fn the_client_in_flight_cap_rejects_at_the_client() {
    // 100 requests/s, each held 1 s, at most 10 outstanding: about 10 per second get through.
    let s = run(r#"(name: "r", duration: "20s",
        clients: [(name: "c", target: "s", load: Open(rate_per_s: 100.0, arrivals: Constant), max_in_flight: 10)],
        services: [(name: "s", workers: 100, service_time: Constant("1s"))])"#);
    let c = &s.clients[0];
    assert!(c.mean_in_flight <= 10.0 + 1e-9);
    assert!((c.goodput_per_s - 10.0).abs() < 0.6, "{}", c.goodput_per_s);
    assert!(c.outcomes.rejected > 1700, "{:?}", c.outcomes);
}

#[test]
fn call_probability_is_respected() {
    // 20k requests, p = 0.3: the count is Binomial(20000, 0.3), sd = 65; allow 4 sd.
    let s = run(r#"(name: "p", duration: "200s",
        clients: [(name: "c", target: "front", load: Open(rate_per_s: 100.0, arrivals: Constant))],
        services: [
            (name: "front", workers: 10, service_time: Constant("1ms"), calls: [(to: "x", probability: 0.3)]),
            (name: "x", workers: 10, service_time: Constant("1ms")),
        ])"#);
    let n = svc(&s, "front").completed as f64;
    let x = svc(&s, "x").completed as f64;
    let sd = (n * 0.3 * 0.7).sqrt();
    assert!((x - 0.3 * n).abs() < 4.0 * sd, "{x} of {n}");
}

#[test]
fn rate_steps_change_the_arrival_rate() {
    // 50/s for 100 s then 200/s for 100 s: 5000 + 20000 = 25000 arrivals, Poisson sd ~ 158.
    let s = run(r#"(name: "s", duration: "200s",
        clients: [(name: "c", target: "s", load: Open(rate_per_s: 50.0, steps: [(at: "100s", rate_per_s: 200.0)]))],
        services: [(name: "s", workers: 100, service_time: Constant("1ms"))])"#);
    let n = s.clients[0].offered as f64;
    assert!((n - 25_000.0).abs() < 4.0 * 25_000f64.sqrt(), "{n}");
}

/// Counts `Deliver` events per replica entity.
#[derive(Default)]
struct PerReplica(BTreeMap<u32, u64>);
impl TraceSink for PerReplica {
    fn event(&mut self, _: SimTime, _: u64, r: &TraceRecord) {
        if r.kind == 3 {
            *self.0.entry(r.entity).or_default() += 1;
        }
    }
}

fn deliveries(balancer: &str, service_time: &str) -> Vec<u64> {
    let text = format!(
        r#"(name: "lb", duration: "100s", default_link_latency: Constant("1ms"),
            clients: [(name: "c", target: "s", load: Open(rate_per_s: 200.0))],
            services: [(name: "s", replicas: 4, workers: 8, balancer: {balancer}, service_time: {service_time})])"#
    );
    let sc = scenario::from_str(&text, "lb.ron", &Overrides::default()).unwrap();
    let mut sink = PerReplica::default();
    runner::run_traced(&sc, Some(&mut sink));
    sink.0.values().copied().collect()
}

#[test]
fn balancers_spread_load_as_documented() {
    // Round robin: counts differ by at most one.
    let rr = deliveries("RoundRobin", r#"Exponential(mean: "10ms")"#);
    assert_eq!(rr.len(), 4);
    assert!(
        rr.iter().max().unwrap() - rr.iter().min().unwrap() <= 1,
        "{rr:?}"
    );
    // Random: each replica gets Binomial(n, 1/4); allow 5 sd. (The load-aware balancers are
    // held to what they must achieve in `load_aware_balancers_achieve_their_means` below.)
    for b in ["Random"] {
        let v = deliveries(b, r#"Exponential(mean: "10ms")"#);
        let n: u64 = v.iter().sum();
        let sd = (n as f64 * 0.25 * 0.75).sqrt();
        for x in &v {
            assert!((*x as f64 - n as f64 / 4.0).abs() < 5.0 * sd, "{b}: {v:?}");
        }
    }
}

#[test]
fn a_service_of_a_hundred_thousand_replicas_is_balanced_across_all_of_them() {
    // 10,000 requests a second at constant spacing for 10 s to 100,000 replicas: round robin
    // gives each replica at most one, and least outstanding (through its tree) picks the
    // first idle replica after the last pick, so it goes round too.
    for balancer in ["RoundRobin", "LeastOutstanding"] {
        let text = format!(
            r#"(name: "big", duration: "10s", default_link_latency: Constant("1ms"),
                clients: [(name: "c", target: "s", load: Open(rate_per_s: 10000.0, arrivals: Constant))],
                services: [(name: "s", replicas: 100000, balancer: {balancer}, service_time: Constant("1ms"))])"#
        );
        let sc = scenario::from_str(&text, "big.ron", &Overrides::default()).unwrap();
        let mut sink = PerReplica::default();
        let (r, _) = runner::run_traced(&sc, Some(&mut sink));
        assert!(r.stopped.is_none());
        let most = sink.0.values().max().copied();
        assert_eq!(most, Some(1), "{balancer}: a replica got {most:?}");
        // Sent every 0.1 ms from 0.1 ms, arriving 1 ms later: the 99,990 sent by 9.999 s
        // arrive by the end.
        assert_eq!(sink.0.len(), 99_990, "{balancer}");
    }
    // The most a service may have, and a message past it.
    let over = r#"(name: "x", clients: [(name: "c", target: "s", load: Open(rate_per_s: 1.0))],
                   services: [(name: "s", replicas: 1000001, service_time: Constant("1ms"))])"#;
    let err = match scenario::from_str(over, "x.ron", &Overrides::default()) {
        Ok(_) => panic!("1,000,001 replicas accepted"),
        Err(e) => e.to_string(),
    };
    assert!(
        err.contains("services[0].replicas") && err.contains("1000000"),
        "{err}"
    );
}

#[test]
fn least_outstanding_beats_random_on_tail_latency() {
    // With heavy-tailed service times, choosing the least-loaded replica avoids queueing
    // behind slow requests, so its p99 is lower than random placement's (a well-known result
    // that also follows from join-the-shortest-queue being optimal for exponential servers).
    let p99 = |b: &str| {
        let text = format!(
            r#"(name: "lb", duration: "200s",
                clients: [(name: "c", target: "s", load: Open(rate_per_s: 300.0))],
                services: [(name: "s", replicas: 4, workers: 1, balancer: {b}, service_time: LogNormal(median: "5ms", p99: "60ms"))])"#
        );
        run(&text).services[0].latency.p99_ms
    };
    let (lo, rnd, p2c) = (
        p99("LeastOutstanding"),
        p99("Random"),
        p99("PowerOfTwoChoices"),
    );
    assert!(
        lo < rnd && p2c < rnd,
        "least outstanding {lo}, p2c {p2c}, random {rnd}"
    );
}

/// The mean response time, in ms, of 100 single-worker replicas (exponential service of 10 ms)
/// at utilisation 0.9, behind `balancer`, with `seed`.
fn mean_response_ms(balancer: &str, seed: u64) -> f64 {
    let text = format!(
        r#"(name: "sm", seed: {seed}, duration: "60s", warmup: "10s", default_link_latency: Constant("0s"),
            clients: [(name: "c", target: "s", load: Open(rate_per_s: 9000.0), max_in_flight: 1000000)],
            services: [(name: "s", replicas: 100, workers: 1, queue_capacity: 100000, balancer: {balancer},
                        service_time: Exponential(mean: "10ms"))])"#
    );
    run(&text).clients[0].latency.mean_ms
}

#[test]
fn load_aware_balancers_achieve_their_means() {
    // The supermarket model (Mitzenmacher 2001; Vvedenskaya et al. 1996): n exponential
    // servers at load lambda, each arrival joining the shorter of two queues drawn at random.
    // As n grows the share of queues holding at least i is lambda^(2^i - 1), so the mean
    // number per queue is the sum over i >= 1 of lambda^(2^i - 1) and, by Little's law, the
    // mean response time is that sum / lambda service times: 2.614 x 10 ms at lambda = 0.9,
    // against 10 / (1 - 0.9) = 100 ms for random placement (independent M/M/1 queues). With
    // 100 servers the finite-n correction is about a percent; allow 5%.
    let lambda: f64 = 0.9;
    let per_queue: f64 = (1..20).map(|i| lambda.powi((1 << i) - 1)).sum();
    let want = per_queue / lambda * 10.0;
    for seed in [1, 2] {
        let p2c = mean_response_ms("PowerOfTwoChoices", seed);
        assert!(
            (p2c - want).abs() < 0.05 * want,
            "seed {seed}: p2c {p2c} ms against {want:.2} ms"
        );
        let random = mean_response_ms("Random", seed);
        // Random placement: M/M/1 at 0.9 each, 100 ms, within the noise of 450k requests
        // of a heavily loaded queue.
        assert!(
            (random - 100.0).abs() < 15.0,
            "seed {seed}: random {random} ms"
        );
        // Least outstanding sees every queue: join-the-shortest-queue, which no policy that
        // looks at queue lengths beats; strictly better than two choices, on the same seed.
        let lo = mean_response_ms("LeastOutstanding", seed);
        assert!(
            lo < p2c && lo >= 10.0,
            "seed {seed}: least outstanding {lo} ms, p2c {p2c} ms"
        );
    }
}

/// The running world indexes its tables unchecked (`engine::Table`), so a spec with an index
/// out of range is refused when the world is built, naming what is wrong; the scenario layer
/// never builds one (every shipped scenario passes).
#[test]
fn a_spec_with_an_index_out_of_range_is_refused_before_the_run() {
    use faultline::model::{FaultEffect, Quiet, SystemSpec, World, WorldLimits};
    let sys = scenario::load_file("scenarios/quickstart.ron".as_ref(), &Overrides::default())
        .unwrap()
        .scenario
        .system;
    assert_eq!(sys.check_indices(), Ok(()));
    let n = sys.services.len();
    type Break = fn(&mut SystemSpec, usize);
    let cases: [(Break, &str); 4] = [
        (
            |s, n| s.clients[0].target = n,
            "client shoppers names service 7 of 7",
        ),
        (
            |s, n| s.services[0].calls[0].to = n + 2,
            "a call of gateway names service 9 of 7",
        ),
        (|s, n| s.links[0].to = n, "a link names service 7"),
        (
            |s, _| {
                if let FaultEffect::Slowdown { replica, .. } = &mut s.faults[0].effect {
                    *replica = 10_000;
                }
            },
            "fault slowdown x3 db/0 names replica 10000",
        ),
    ];
    for (break_it, want) in cases {
        let mut bad = sys.clone();
        break_it(&mut bad, n);
        let e = bad.check_indices().unwrap_err();
        assert!(e.contains(want), "{e}");
        let limits = WorldLimits {
            max_live_requests: 1000,
            count_from: SimTime(0),
        };
        let built = std::panic::catch_unwind(|| World::new(bad, 1, limits, Quiet));
        assert!(built.is_err(), "World::new took a spec where {want}");
    }
}
