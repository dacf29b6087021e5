//! The engine against queueing theory: closed forms computed here, independently of the
//! simulator, and compared with 95% confidence intervals across 20 seeds (Student t, 19 degrees
//! of freedom). Seeds are fixed, so each check is deterministic; a failure means the simulated
//! mean is off by more than its own sampling error, which is how a bug shows up.

use faultline::metrics::Summary;
use faultline::runner;
use faultline::scenario;

const SEEDS: u64 = 20;
/// t(0.975, 19).
const T_975_19: f64 = 2.093;

fn run(text: &str, seed: u64) -> Summary {
    let ov = scenario::Overrides {
        seed: Some(seed),
        ..Default::default()
    };
    let sc = scenario::from_str(text, "test.ron", &ov).unwrap_or_else(|e| panic!("{e}"));
    let r = runner::run(&sc);
    assert!(r.stopped.is_none(), "stopped: {:?}", r.stopped);
    r.summary
}

/// Mean and 95% half-width of `metric` over the seeds.
fn across_seeds(text: &str, metric: impl Fn(&Summary) -> f64) -> (f64, f64) {
    let xs: Vec<f64> = (1..=SEEDS).map(|s| metric(&run(text, s))).collect();
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, T_975_19 * (var / n).sqrt())
}

/// Asserts that `expected` lies in the 95% interval of `metric`, and that the interval is
/// narrow enough (relative half-width below `max_rel`) for the check to mean something.
fn check(what: &str, text: &str, expected: f64, max_rel: f64, metric: impl Fn(&Summary) -> f64) {
    let (mean, hw) = across_seeds(text, metric);
    println!("{what}: simulated {mean:.4} +/- {hw:.4}, theory {expected:.4}");
    assert!(
        (mean - expected).abs() <= hw,
        "{what}: theory {expected:.5} is outside the 95% interval {mean:.5} +/- {hw:.5}"
    );
    assert!(
        hw / expected <= max_rel,
        "{what}: interval too wide to test anything ({hw:.5} around {mean:.5})"
    );
}

/// One service fed by a Poisson client, with zero-latency links.
fn single_server(
    rate_per_s: f64,
    workers: u32,
    queue_capacity: u32,
    service_time: &str,
    duration: &str,
) -> String {
    format!(
        r#"(
            name: "q", duration: "{duration}", warmup: "2000s",
            clients: [(name: "arrivals", target: "server", load: Open(rate_per_s: {rate_per_s}), max_in_flight: 1000000)],
            services: [(name: "server", workers: {workers}, queue_capacity: {queue_capacity}, service_time: {service_time})],
        )"#
    )
}

fn server(s: &Summary) -> &faultline::metrics::ServiceSummary {
    &s.services[0]
}

#[test]
fn mm1_mean_response_time_and_probability_of_waiting() {
    // lambda 0.7, mu 1: W = 1/(mu - lambda), P(wait) = rho, Wq = rho/(mu - lambda).
    let (lambda, mu) = (0.7, 1.0);
    let text = single_server(
        lambda,
        1,
        1_000_000,
        r#"Exponential(mean: "1s")"#,
        "100000s",
    );
    check("M/M/1 W (s)", &text, 1.0 / (mu - lambda), 0.015, |s| {
        server(s).latency.mean_ms / 1e3
    });
    check("M/M/1 P(wait)", &text, lambda / mu, 0.005, |s| {
        server(s).waited_ratio
    });
    check(
        "M/M/1 Wq (s)",
        &text,
        (lambda / mu) / (mu - lambda),
        0.02,
        |s| server(s).mean_wait_ms / 1e3,
    );
    check("M/M/1 utilisation", &text, lambda / mu, 0.005, |s| {
        server(s).utilisation
    });
}

/// Erlang C: the probability that an arrival waits in an M/M/c queue with offered load a = lambda/mu.
fn erlang_c(c: u32, a: f64) -> f64 {
    let rho = a / c as f64;
    let mut term = 1.0; // a^k / k!
    let mut sum = 0.0;
    for k in 0..c {
        if k > 0 {
            term *= a / k as f64;
        }
        sum += term;
    }
    let last = term * a / c as f64; // a^c / c!
    let top = last / (1.0 - rho);
    top / (sum + top)
}

#[test]
fn erlang_c_helper_matches_a_published_value() {
    // c = 2, a = 1: C = 1/3 (textbook value: P(wait) = a^2 / (a^2 + 2(2 - a)) ... = 1/3).
    assert!((erlang_c(2, 1.0) - 1.0 / 3.0).abs() < 1e-12);
    // c = 1 reduces to rho.
    assert!((erlang_c(1, 0.7) - 0.7).abs() < 1e-12);
}

#[test]
fn mmc_mean_wait_is_erlang_c() {
    // c = 3, lambda = 2.4, mu = 1 (rho = 0.8): Wq = C(c, a) / (c mu - lambda).
    let (c, lambda, mu) = (3u32, 2.4, 1.0);
    let text = single_server(lambda, c, 1_000_000, r#"Exponential(mean: "1s")"#, "40000s");
    let pw = erlang_c(c, lambda / mu);
    check("M/M/3 P(wait)", &text, pw, 0.008, |s| {
        server(s).waited_ratio
    });
    check(
        "M/M/3 Wq (s)",
        &text,
        pw / (c as f64 * mu - lambda),
        0.035,
        |s| server(s).mean_wait_ms / 1e3,
    );
}

#[test]
fn md1_mean_wait_is_pollaczek_khinchine() {
    // M/D/1, lambda 0.8, D = 1 s: Wq = rho D / (2 (1 - rho)) = 2 s.
    let (lambda, d) = (0.8, 1.0);
    let rho = lambda * d;
    let text = single_server(lambda, 1, 1_000_000, r#"Constant("1s")"#, "100000s");
    check(
        "M/D/1 Wq (s)",
        &text,
        rho * d / (2.0 * (1.0 - rho)),
        0.02,
        |s| server(s).mean_wait_ms / 1e3,
    );
    check(
        "M/D/1 W (s)",
        &text,
        d + rho * d / (2.0 * (1.0 - rho)),
        0.015,
        |s| server(s).latency.mean_ms / 1e3,
    );
}

#[test]
fn mm1k_blocking_probability() {
    // M/M/1/K with K = 5 places (one in service, four waiting), lambda 1, mu 1.25:
    // P(block) = (1 - rho) rho^K / (1 - rho^(K+1)).
    let (lambda, mu, k) = (1.0, 1.25, 5i32);
    let rho: f64 = lambda / mu;
    let expected = (1.0 - rho) * rho.powi(k) / (1.0 - rho.powi(k + 1));
    let text = single_server(
        lambda,
        1,
        (k - 1) as u32,
        r#"Exponential(mean: "800ms")"#,
        "50000s",
    );
    check("M/M/1/5 P(block)", &text, expected, 0.018, |s| {
        let v = server(s);
        v.outcomes.overloaded as f64 / v.offered as f64
    });
}

/// A three-tier system with links, fan-out, replicas and no failures.
const TIERS: &str = r#"(
    name: "tiers", duration: "400s", warmup: "20s",
    default_link_latency: Exponential(mean: "2ms"),
    clients: [(name: "web", target: "front", load: Open(rate_per_s: 200.0), max_in_flight: 100000)],
    services: [
        (name: "front", replicas: 2, workers: 50, service_time: Exponential(mean: "4ms"),
         fan_out: Parallel, calls: [(to: "mid"), (to: "db", probability: 0.5)], balancer: LeastOutstanding),
        (name: "mid", replicas: 3, workers: 2, service_time: LogNormal(median: "5ms", p99: "30ms"),
         calls: [(to: "db")], balancer: PowerOfTwoChoices),
        (name: "db", replicas: 1, workers: 2, service_time: Exponential(mean: "3ms")),
    ],
)"#;

#[test]
fn littles_law_holds_at_every_service_and_end_to_end() {
    // L = lambda W is a sample-path identity: per seed, the time-average number present must
    // equal throughput times mean time spent, up to requests cut off at the run's edges.
    for seed in 1..=5 {
        let s = run(TIERS, seed);
        let span = s.measured_to_s - s.measured_from_s;
        for v in &s.services {
            assert_eq!(
                v.completed, v.outcomes.ok,
                "{}: no failures expected",
                v.name
            );
            let lambda = v.completed as f64 / span;
            let w = v.latency.mean_ms / 1e3;
            let rel = (v.mean_in_system - lambda * w).abs() / v.mean_in_system;
            assert!(
                rel < 0.01,
                "seed {seed} {}: L = {} but lambda W = {}",
                v.name,
                v.mean_in_system,
                lambda * w
            );
        }
        let c = &s.clients[0];
        let lw = c.goodput_per_s * c.latency.mean_ms / 1e3;
        assert!(
            (c.mean_in_flight - lw).abs() / lw < 0.01,
            "seed {seed} end to end: L {} vs lambda W {lw}",
            c.mean_in_flight
        );
    }
}

#[test]
fn closed_loop_obeys_the_interactive_response_time_law() {
    // N users, mean think time Z: throughput X and response time R satisfy N = X (R + Z).
    let text = include_str!("../scenarios/closed_loop.ron");
    for seed in 1..=3 {
        let s = run(text, seed);
        let c = &s.clients[0];
        let n = 50.0;
        let z = 1.0;
        let r = c.latency.mean_ms / 1e3;
        let x = c.goodput_per_s;
        let implied = x * (r + z);
        assert!(
            (implied - n).abs() / n < 0.02,
            "seed {seed}: X (R + Z) = {implied}, users = {n}"
        );
    }
}

#[test]
fn a_bandwidth_limited_link_queues_like_md1() {
    // Requests of 1 kB over an 8 Mbit/s link take D = 1 ms each to transmit, one at a time;
    // Poisson arrivals at 800/s make the link an M/D/1 queue with rho = 0.8. The server answers
    // at once, and responses (0 kB) and propagation add nothing, so a client's latency is the
    // link's wait plus D: rho D / (2 (1 - rho)) + D = 2 ms + 1 ms (Pollaczek-Khinchine).
    let text = r#"(
    name: "link_md1", duration: "200s", warmup: "10s",
    default_link_latency: Constant("0s"),
    clients: [(name: "c", target: "s", load: Open(rate_per_s: 800.0), max_in_flight: 100000)],
    services: [(name: "s", workers: 1000, service_time: Constant("0s"))],
    links: [(from: "c", to: "s", bandwidth_mbit_per_s: 8.0, request_kb: 1.0, response_kb: 0.0)],
)"#;
    let (rho, d_ms) = (0.8, 1.0);
    let expected_ms = rho * d_ms / (2.0 * (1.0 - rho)) + d_ms;
    check("M/D/1 link latency (ms)", text, expected_ms, 0.008, |s| {
        s.clients[0].latency.mean_ms
    });
}

#[test]
fn a_ttl_cache_hits_as_renewal_theory_says() {
    // N equally popular keys, Poisson lookups at rate L, instant fills, time to live T: each key
    // sees Poisson arrivals at L/N; a miss stores it for T, and the arrivals in that T hit, so
    // the hit ratio is x / (1 + x) with x = L T / N. Here x = 1000 x 2 / 1000 = 2: 2/3.
    let text = r#"(
    name: "ttl_cache", duration: "60s", warmup: "10s",
    default_link_latency: Constant("0s"),
    clients: [(name: "c", target: "api", load: Open(rate_per_s: 1000.0), max_in_flight: 100000)],
    services: [
        (name: "api", workers: 1000, service_time: Constant("0s"),
         calls: [(to: "db", cache: (keys: 1000, ttl: "2s"))]),
        (name: "db", workers: 1000, service_time: Constant("0s")),
    ],
)"#;
    let x: f64 = 1000.0 * 2.0 / 1000.0;
    check("TTL cache hit ratio", text, x / (1.0 + x), 0.002, |s| {
        s.caches[0].hit_ratio
    });
}

#[test]
fn a_disk_with_an_iops_limit_queues_like_md1() {
    // Each request does one I/O: operations start at least 1/iops = 2 ms apart, first come first
    // served, then take 3 ms. With Poisson arrivals at 400/s the starts form an M/D/1 queue with
    // rho = 0.8 and D = 2 ms, so a request waits rho D / (2 (1 - rho)) = 4 ms for its start and
    // is answered 3 ms later: 7 ms in all (no service time, no network).
    let text = r#"(
    name: "disk_md1", duration: "200s", warmup: "10s",
    default_link_latency: Constant("0s"),
    clients: [(name: "c", target: "s", load: Open(rate_per_s: 400.0), max_in_flight: 100000)],
    services: [(name: "s", workers: 1000, service_time: Constant("0s"),
                disk: (latency: Constant("3ms"), iops: 500.0))],
)"#;
    let (rho, d_ms, l_ms) = (0.8, 2.0, 3.0);
    let expected = rho * d_ms / (2.0 * (1.0 - rho)) + l_ms;
    check("disk M/D/1 response (ms)", text, expected, 0.01, |s| {
        s.clients[0].latency.mean_ms
    });
}

/// One service under processor sharing (`workers` cores) and an optional `contention`.
fn shared_server(rate_per_s: f64, workers: u32, extra: &str, service_time: &str) -> String {
    format!(
        r#"(
            name: "ps", duration: "100000s", warmup: "2000s",
            clients: [(name: "arrivals", target: "server", load: Open(rate_per_s: {rate_per_s}), max_in_flight: 1000000)],
            services: [(name: "server", workers: {workers}, service_time: {service_time}, {extra})],
        )"#
    )
}

#[test]
fn mm1_processor_sharing_mean_response_is_one_over_mu_minus_lambda() {
    let (lambda, mu) = (0.7, 1.0);
    let text = shared_server(
        lambda,
        1,
        "discipline: ProcessorSharing, queue_capacity: 1000000",
        r#"Exponential(mean: "1s")"#,
    );
    check("M/M/1-PS W (s)", &text, 1.0 / (mu - lambda), 0.015, |s| {
        server(s).latency.mean_ms / 1e3
    });
    // Nobody waits for a worker: every request is in service at once.
    check("M/M/1-PS utilisation", &text, lambda / mu, 0.005, |s| {
        server(s).utilisation
    });
}

#[test]
fn md1_processor_sharing_is_insensitive_to_the_size_distribution() {
    // M/G/1-PS: E[T] = E[S] / (1 - rho) for any sizes, so constant 1 s at rho 0.8 gives 5 s,
    // where FIFO's Pollaczek-Khinchine gives 3 s (md1_mean_wait_is_pollaczek_khinchine).
    let lambda = 0.8;
    let text = shared_server(
        lambda,
        1,
        "discipline: ProcessorSharing, queue_capacity: 1000000",
        r#"Constant("1s")"#,
    );
    check("M/D/1-PS W (s)", &text, 1.0 / (1.0 - lambda), 0.017, |s| {
        server(s).latency.mean_ms / 1e3
    });
}

/// Mean number in a birth-death queue with arrival rate `lambda` in every state below `k`
/// (none at `k`: turned away) and total service rate `mu(n)` with `n` present, from the
/// product form p(n) ~ prod lambda / mu(j).
fn birth_death_mean(lambda: f64, k: usize, mu: impl Fn(usize) -> f64) -> f64 {
    let (mut p, mut z, mut l) = (1.0, 1.0, 0.0);
    for n in 1..=k {
        p *= lambda / mu(n);
        z += p;
        l += n as f64 * p;
    }
    l / z
}

#[test]
fn contention_with_dedicated_workers_is_the_birth_death_queue_it_describes() {
    // 4 workers, exponential 1 s, Linear(0.2): with m computing each runs at 1 / (1 + 0.2 (m-1)),
    // so n present complete at min(n,4) / (1 + 0.2 (min(n,4)-1)) per second (2.5 at most).
    let lambda = 1.8;
    let mu = |n: usize| {
        let m = n.min(4) as f64;
        m / (1.0 + 0.2 * (m - 1.0))
    };
    let expected = birth_death_mean(lambda, 5000, mu);
    let text = shared_server(
        lambda,
        4,
        "queue_capacity: 1000000, contention: Linear(per_request: 0.2)",
        r#"Exponential(mean: "1s")"#,
    );
    // Without the stretch (plain M/M/4) it would be 1.905.
    check("contended M/M/4 L", &text, expected, 0.009, |s| {
        server(s).mean_in_system
    });
}

#[test]
fn contention_under_processor_sharing_is_the_birth_death_queue_it_describes() {
    // 2 cores, Polynomial(c, 2): n present complete at min(n, 2) / (1 + c (n-1)^2) per second;
    // the service slows as the queue grows. Two cases: a strong stretch (c 0.02, at most 12
    // held: L 6.75, against 1.85 without contention) and a mild one (c 0.002, at most 20:
    // L 2.12 against 1.87). Both keep every completion rate above lambda = 1.2 below the cap,
    // so run means are near normal: the birth-death formula for the variance of a time
    // average gives a per-run sd of 2.0% and 2.0% of L, and runs show the same.
    //
    // Why not a near-critical case: at c 0.002 with 30 held the rate falls below lambda from
    // 20 up, a second high mode that runs visit rarely; the per-run sd is then 16% of L and
    // run means are right-skewed, so 20 runs give an interval that cannot be trusted. Checked
    // once at length instead: 100 seeds of 1,000,000 s gave 3.378 +/- 0.037 against 3.375.
    for (c, held, expected_without) in [(0.02, 12, 1.8544), (0.002, 20, 1.8744)] {
        let lambda = 1.2;
        let mu = |n: usize| (n.min(2) as f64) / (1.0 + c * ((n - 1) as f64).powi(2));
        let expected = birth_death_mean(lambda, held, mu);
        let plain = birth_death_mean(lambda, held, |n| n.min(2) as f64);
        assert!((plain - expected_without).abs() < 1e-3, "{plain}");
        let text = shared_server(
            lambda,
            2,
            &format!(
                "discipline: ProcessorSharing, queue_capacity: {}, contention: Polynomial(coefficient: {c}, exponent: 2.0)",
                held - 2
            ),
            r#"Exponential(mean: "1s")"#,
        );
        // Runs achieve a half-width of about 1%; the guard keeps the power to see a 3% bias.
        check(
            &format!("contended M/M/2-PS/{held} (c {c}) L"),
            &text,
            expected,
            0.016,
            |s| server(s).mean_in_system,
        );
    }
}

/// Per-request response times at the service (arrival to answer), first and second moments,
/// counted for requests that arrived after `from`.
struct Moments {
    from: faultline::engine::SimTime,
    n: f64,
    sum: f64,
    sum_sq: f64,
}

impl faultline::model::Observer for Moments {
    fn client_sent(&mut self, _: usize, _: u32, _: faultline::engine::SimTime) {}
    fn client_done(
        &mut self,
        _: usize,
        _: faultline::model::Outcome,
        _: faultline::engine::SimTime,
        _: u32,
        _: faultline::engine::SimTime,
    ) {
    }
    fn service_arrival(&mut self, _: usize, _: faultline::engine::SimTime) {}
    fn service_done(
        &mut self,
        _: usize,
        _: faultline::model::Outcome,
        arrived_at: faultline::engine::SimTime,
        _: faultline::engine::SimTime,
        now: faultline::engine::SimTime,
    ) {
        if arrived_at >= self.from {
            let t = (now.0 - arrived_at.0) as f64 / 1e9;
            self.n += 1.0;
            self.sum += t;
            self.sum_sq += t * t;
        }
    }
    fn replica_level(&mut self, _: usize, _: u32, _: u32, _: u32, _: faultline::engine::SimTime) {}
    fn client_attempt(&mut self, _: usize, _: faultline::engine::SimTime) {}
    fn call_attempt(&mut self, _: usize, _: usize, _: faultline::engine::SimTime) {}
    fn call_done(
        &mut self,
        _: usize,
        _: usize,
        _: faultline::model::Outcome,
        _: faultline::engine::SimTime,
        _: faultline::engine::SimTime,
    ) {
    }
}

/// Mean and 95% half-width over the seeds of (E[T], E[T^2]) from `Moments`.
fn response_moments(text: &str) -> [(f64, f64); 2] {
    use faultline::engine::{self, EventQueue, SimTime};
    use faultline::model::{World, WorldLimits};
    let per_seed: Vec<[f64; 2]> = (1..=SEEDS)
        .map(|seed| {
            let ov = scenario::Overrides {
                seed: Some(seed),
                ..Default::default()
            };
            let sc = scenario::from_str(text, "test.ron", &ov).unwrap_or_else(|e| panic!("{e}"));
            let obs = Moments {
                from: SimTime(sc.warmup.0),
                n: 0.0,
                sum: 0.0,
                sum_sq: 0.0,
            };
            let limits = WorldLimits {
                max_live_requests: sc.limits.max_live_requests,
                count_from: SimTime(sc.warmup.0),
            };
            let mut world = World::new(sc.system.clone(), seed, limits, obs);
            let mut q = EventQueue::new();
            world.start(&mut q);
            let out = engine::run(
                &mut world,
                &mut q,
                &engine::Limits {
                    end: SimTime(sc.duration.0),
                    max_events: sc.limits.max_events,
                    max_pending_events: usize::MAX,
                },
                None,
            );
            assert!(out.stopped.is_none());
            let m = world.into_observer();
            [m.sum / m.n, m.sum_sq / m.n]
        })
        .collect();
    let stat = |k: usize| {
        let xs: Vec<f64> = per_seed.iter().map(|v| v[k]).collect();
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0);
        (mean, T_975_19 * (var / n).sqrt())
    };
    [stat(0), stat(1)]
}

#[test]
fn lifo_has_fifos_mean_response_and_the_second_moment_theory_gives() {
    // M/M/1, lambda 0.7, mu 1. Any order that does not look at sizes has E[T] = 1/(mu-lambda).
    // FIFO: W > 0 with probability rho and is then Exp(mu - lambda), so E[W^2] = 2 rho /
    // (mu-lambda)^2. Non-preemptive LIFO: a waiting request waits one busy period started by
    // the residual service (Exp(mu)), E[B^2] = 2 / (mu^2 (1-rho)^3), so E[W^2] is FIFO's over
    // (1 - rho). E[T^2] = E[W^2] + 2 E[W] E[S] + E[S^2].
    let (lambda, mu) = (0.7, 1.0);
    let rho: f64 = lambda / mu;
    let ew = rho / (mu - lambda);
    let ew2_fifo = 2.0 * rho / (mu - lambda).powi(2);
    let et2 = |ew2: f64| ew2 + 2.0 * ew / mu + 2.0 / (mu * mu);
    for (queue, ew2) in [("Fifo", ew2_fifo), ("Lifo", ew2_fifo / (1.0 - rho))] {
        let text = shared_server(
            lambda,
            1,
            &format!("queue_capacity: 1000000, queue: {queue}"),
            r#"Exponential(mean: "1s")"#,
        );
        let [(m1, h1), (m2, h2)] = response_moments(&text);
        println!(
            "{queue}: E[T] {m1:.3} +/- {h1:.3} (theory {:.3}), E[T^2] {m2:.2} +/- {h2:.2} (theory {:.2})",
            1.0 / (mu - lambda),
            et2(ew2)
        );
        assert!((m1 - 1.0 / (mu - lambda)).abs() <= h1, "{queue} E[T]");
        assert!(h1 / m1 < 0.05, "{queue} E[T] interval too wide");
        assert!((m2 - et2(ew2)).abs() <= h2, "{queue} E[T^2]");
        assert!(h2 / m2 < 0.15, "{queue} E[T^2] interval too wide");
    }
}
