//! The shipped policy scenarios do what their comments say, checked against figures worked out
//! independently (closed forms and capacity arithmetic), not against earlier output.

use faultline::metrics::Summary;
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
        if line.contains(needle) {
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
    for name in ["retry_amplification", "retry_budget", "breaker", "bulkhead"] {
        let a = run_text(&shipped(name));
        let b = run_text(&shipped(name));
        assert_eq!(a, b, "{name}");
    }
}
