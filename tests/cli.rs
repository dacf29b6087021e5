//! Bad input: every kind the contract lists exits 2 with file, line:column, field path and a
//! useful message, never a panic. One helper, one line per case.

use std::process::Command;

fn validate_text(name: &str, text: &str) -> (i32, String) {
    // One directory per call: tests run on parallel threads and must not share files.
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("faultline-cli-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .arg("validate")
        .arg(&path)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code().unwrap_or(-1), err)
}

/// Validates `text` and expects exit 2 with every fragment of `expect` in the message.
fn check(text: &str, expect: &[&str]) {
    let (code, err) = validate_text("case.ron", text);
    assert_eq!(code, 2, "exit code for:\n{text}\nstderr:\n{err}");
    assert!(!err.contains("panicked"), "panic:\n{err}");
    assert!(!err.contains("`Raw"), "an internal type's name:\n{err}");
    for e in expect {
        assert!(err.contains(e), "expected {e:?} in:\n{err}");
    }
}

fn scenario(services: &str, clients: &str) -> String {
    format!("(\n    name: \"t\",\n    clients: [{clients}],\n    services: [{services}],\n)\n")
}

const OK_CLIENT: &str = r#"(name: "c", target: "s", load: Open(rate_per_s: 10.0))"#;
const OK_SERVICE: &str = r#"(name: "s", service_time: Constant("1ms"))"#;

#[test]
fn a_valid_scenario_passes() {
    let (code, err) = validate_text("ok.ron", &scenario(OK_SERVICE, OK_CLIENT));
    assert_eq!(code, 0, "{err}");
}

#[test]
fn bad_input_is_reported_with_position_path_and_fix() {
    // Not RON at all.
    check(r#"{"name": "json"}"#, &["case.ron:1:1", "RON"]);
    // Broken syntax.
    check(
        "(\n    name: \"t\",\n    clients: [",
        &["case.ron:3:", "Expected"],
    );
    // Wrong type.
    check(
        &scenario(
            OK_SERVICE,
            r#"(name: "c", target: "s", load: Open(rate_per_s: "fast"))"#,
        ),
        &[
            "case.ron:3:",
            "clients[0].load.rate_per_s",
            "Expected float",
        ],
    );
    // Unknown field.
    check(
        &scenario(
            r#"(name: "s", replica: 2, service_time: Constant("1ms"))"#,
            OK_CLIENT,
        ),
        &["case.ron:4:", "services[0].replica", "`replicas`"],
    );
    // A call to a service that does not exist, with a suggestion.
    check(
        &scenario(
            r#"(name: "s", service_time: Constant("1ms"), calls: [(to: "dbb")]), (name: "db", service_time: Constant("1ms"))"#,
            OK_CLIENT,
        ),
        &[
            "case.ron:4:",
            "services[0].calls[0].to",
            "did you mean \"db\"",
        ],
    );
    // A client aimed at a missing service.
    check(
        &scenario(
            OK_SERVICE,
            r#"(name: "c", target: "nope", load: Open(rate_per_s: 1.0))"#,
        ),
        &["clients[0].target", "no service is named \"nope\""],
    );
    // A link naming a missing endpoint.
    check(&format!("(name: \"t\", clients: [{OK_CLIENT}], services: [{OK_SERVICE}], links: [(from: \"x\", to: \"s\", latency: Constant(\"1ms\"))])"), &["links[0].from", "no client or service is named \"x\""]);
    // A cycle in the call graph.
    check(
        &scenario(
            r#"(name: "s", service_time: Constant("1ms"), calls: [(to: "b")]), (name: "b", service_time: Constant("1ms"), calls: [(to: "s")])"#,
            OK_CLIENT,
        ),
        &["cycle", "s -> b -> s"],
    );
    // Counts and rates that are zero or negative.
    check(
        &scenario(
            r#"(name: "s", replicas: 0, workers: -1, service_time: Constant("1ms"))"#,
            OK_CLIENT,
        ),
        &[
            "services[0].replicas",
            "got 0",
            "services[0].workers",
            "got -1",
        ],
    );
    check(
        &scenario(
            OK_SERVICE,
            r#"(name: "c", target: "s", load: Open(rate_per_s: 0.0))"#,
        ),
        &["clients[0].load.rate_per_s", "rate of zero"],
    );
    check(
        &scenario(
            OK_SERVICE,
            r#"(name: "c", target: "s", load: Closed(users: 0, think_time: Constant("1s")))"#,
        ),
        &["clients[0].load.users", "got 0"],
    );
    // Probabilities outside [0, 1].
    check(
        &scenario(
            r#"(name: "s", service_time: Constant("1ms"), error_rate: 1.5)"#,
            OK_CLIENT,
        ),
        &["services[0].error_rate", "between 0 and 1"],
    );
    // Durations: overflow, missing unit, bad unit, negative.
    check(&format!("(name: \"t\", duration: \"999999999d\", clients: [{OK_CLIENT}], services: [{OK_SERVICE}])"), &["case.ron:1:", "duration", "overflows"]);
    check(
        &scenario(r#"(name: "s", service_time: Constant("5"))"#, OK_CLIENT),
        &["services[0].service_time", "no unit"],
    );
    check(
        &scenario(
            r#"(name: "s", service_time: Exponential(mean: "5 parsecs"))"#,
            OK_CLIENT,
        ),
        &["services[0].service_time.mean", "unknown unit"],
    );
    // A run that would exceed its event limit.
    check(&format!("(name: \"t\", duration: \"1h\", limits: (max_events: 1000), clients: [{OK_CLIENT}], services: [{OK_SERVICE}])"), &["limits.max_events", "raise limits.max_events", "--max-events"]);
    // Duplicate names.
    check(
        &scenario(&format!("{OK_SERVICE}, {OK_SERVICE}"), OK_CLIENT),
        &["services[1].name", "already used"],
    );
}

#[test]
fn bad_policies_are_reported_with_their_field_path() {
    let call = |policies: &str| {
        scenario(
            &format!(
                r#"(name: "s", service_time: Constant("1ms"), calls: [(to: "b", policies: [{policies}])]), (name: "b", service_time: Constant("1ms"))"#
            ),
            OK_CLIENT,
        )
    };
    let p = "services[0].calls[0].policies[0]";
    check(
        &call("Retry(max_attempts: 3, max_retries: 2)"),
        &[&format!("{p}.max_retries"), "not both"],
    );
    check(
        &call("Retry(max_attempts: 0)"),
        &[&format!("{p}.max_attempts"), "between 1 and 100"],
    );
    check(
        &call("Retry(backoff: Resilience4j(initial: \"500ms\", multiplier: 0.5))"),
        &[&format!("{p}.backoff.multiplier"), "at least 1"],
    );
    check(
        &call("Retry(backoff: Aws(jitter: Full, base: \"2s\", cap: \"1s\"))"),
        &[&format!("{p}.backoff.cap"), "below the base"],
    );
    check(
        &call("Retry(budget: Tps(ttl: \"100ms\"))"),
        &[&format!("{p}.budget.ttl"), "between 1s and 60s"],
    );
    check(
        &call("Retry(budget: GrpcThrottle(max_tokens: 5000, token_ratio: 0.1))"),
        &[&format!("{p}.budget.max_tokens"), "between 1 and 1000"],
    );
    check(
        &call("CircuitBreaker(Resilience4j(failure_rate_threshold: 150.0))"),
        &[&format!("{p}.failure_rate_threshold"), "(0, 100]"],
    );
    check(
        &call("CircuitBreaker(Polly(break_duration: \"100ms\"))"),
        &[&format!("{p}.break_duration"), "500ms"],
    );
    check(
        &call("CircuitBreaker(PyBreaker(fail_max: 0))"),
        &[&format!("{p}.fail_max"), "between 1"],
    );
    check(
        &call("Bulkhead(ThreadPool(core: 4, max: 2))"),
        &[&format!("{p}.max_thread_pool_size"), "core (4) <= max (2)"],
    );
    check(
        &call("RateLimiter(TokenBucket(rate_per_s: 0.0))"),
        &[&format!("{p}.rate_per_s"), "above zero"],
    );
    check(
        &call("Hedge(max_hedged_attempts: 11)"),
        &[&format!("{p}.max_hedged_attempts"), "between 1 and 10"],
    );
    check(
        &call("Hedge(delay: Percentile(quantile: 1.5, initial: \"10ms\"))"),
        &[&format!("{p}.delay.quantile"), "between 0 and 1"],
    );
    check(
        &call("AdaptiveThrottle(k: 0.5)"),
        &[&format!("{p}.k"), "at least 1"],
    );
    check(
        &call("FeatureFlag(failure_rate_above: 1.0)"),
        &[&format!("{p}.failure_rate_above"), "[0, 1)"],
    );
    check(&call("Timeout(\"0s\")"), &[p, "longer than zero"]);
    check(
        &call("Retry(retry_on: [Timeoutt])"),
        &["Timeoutt", "Timeout"],
    );
    check(
        &scenario(
            r#"(name: "s", service_time: Constant("1ms"), admission: (concurrency_limit: Aimd(initial: 5, min: 10)))"#,
            OK_CLIENT,
        ),
        &[
            "services[0].admission.concurrency_limit.initial_limit",
            "min (10) <= initial (5)",
        ],
    );
}

#[test]
fn all_problems_are_reported_at_once() {
    let text = scenario(
        r#"(name: "s", replicas: 0, service_time: Exponential(mean: "0s"), calls: [(to: "x", probability: 2.0)])"#,
        r#"(name: "c", target: "y", load: Open(rate_per_s: -1.0))"#,
    );
    let (code, err) = validate_text("many.ron", &text);
    assert_eq!(code, 2);
    for e in [
        "replicas",
        "mean",
        "calls[0].to",
        "calls[0].probability",
        "clients[0].target",
        "rate_per_s",
        "6 problems",
    ] {
        assert!(err.contains(e), "expected {e:?} in:\n{err}");
    }
}

#[test]
fn missing_file_and_missing_replay_dir_exit_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["validate", "/nonexistent/x.ron"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("cannot read scenario file /nonexistent/x.ron"));
    let out = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["replay", "/nonexistent/dir"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["run", "x.ron", "--duration", "ten"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_runaway_run_stops_at_its_limit_and_says_how_to_raise_it() {
    let dir = std::env::temp_dir().join(format!("faultline-limit-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Closed-loop load escapes the up-front estimate; the run itself must stop at the limit.
    let path = dir.join("runaway.ron");
    std::fs::write(
        &path,
        r#"(name: "runaway", duration: "1h", limits: (max_events: 10000),
            clients: [(name: "c", target: "s", load: Closed(users: 10, think_time: Constant("1ms")))],
            services: [(name: "s", workers: 10, service_time: Constant("1ms"))])"#,
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .arg("run")
        .arg(&path)
        .arg("--out")
        .arg(dir.join("out"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("limits.max_events = 10000") && err.contains("--max-events"),
        "{err}"
    );
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("out/summary.json")).unwrap()).unwrap();
    assert_eq!(summary["stopped_by"]["limit"], "max_events");
}

#[test]
fn every_command_has_help_with_an_example() {
    for cmd in [
        vec!["--help"],
        vec!["run", "--help"],
        vec!["replay", "--help"],
        vec!["validate", "--help"],
        vec!["report", "--help"],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_faultline"))
            .args(&cmd)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Example"), "{cmd:?}: {text}");
    }
}

#[test]
fn shipped_scenarios_are_valid() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "ron"))
        .collect();
    files.sort();
    assert!(files.len() >= 3);
    let out = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .arg("validate")
        .args(&files)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn bad_faults_and_health_checks_are_reported_with_their_field_path() {
    let faults = |f: &str| {
        format!(
            "(\n    name: \"t\",\n    clients: [{OK_CLIENT}],\n    services: [(name: \"s\", replicas: 2, service_time: Constant(\"1ms\"))],\n    faults: [{f}],\n)\n"
        )
    };
    let health = |h: &str| {
        scenario(
            &format!(r#"(name: "s", service_time: Constant("1ms"), health: ({h}))"#),
            OK_CLIENT,
        )
    };
    check(
        &faults(r#"(at: "1s", fault: Crash("s/2"))"#),
        &["faults[0].fault", "replicas 0 to 1", "\"s/0\""],
    );
    check(
        &faults(r#"(at: "1s", fault: Crash("api"))"#),
        &["faults[0].fault", "no service is named \"api\""],
    );
    check(
        &faults(r#"(fault: Hang("s"))"#),
        &["faults[0].at", "needs `at`"],
    );
    check(
        &faults(r#"(at: "1s", for: "1s", until: "5s", fault: Hang("s"))"#),
        &["faults[0].until", "not both"],
    );
    check(
        &faults(r#"(at: "5s", until: "2s", fault: Hang("s"))"#),
        &["faults[0].until", "after `at`"],
    );
    check(
        &faults(r#"(time_to_failure: Exponential(mean: "1m"), fault: Crash("s"))"#),
        &["faults[0]", "time_to_repair"],
    );
    check(
        &faults(r#"(every: "1m", probability: 0.5, fault: Crash("s"))"#),
        &["faults[0]", "every, probability and for"],
    );
    check(
        &faults(r#"(at: "1s", fault: Errors(target: "s", rate: 1.5))"#),
        &["faults[0].fault.rate", "between 0 and 1"],
    );
    check(
        &faults(
            r#"(at: "1s", fault: MemoryLeak(target: "s", per_request_mb: 0.0, limit_mb: 100.0))"#,
        ),
        &["faults[0].fault.per_request_mb", "above 0"],
    );
    check(
        &faults(r#"(at: "1s", fault: Config(target: "s", timeout: "10ms"))"#),
        &[
            "faults[0].fault.timeout",
            "belongs to a client or a call edge",
        ],
    );
    check(
        &faults(r#"(at: "1s", fault: Config(target: "c", timeout: "10ms"))"#),
        &["faults[0].fault.timeout", "has no timeout to change"],
    );
    check(
        &faults(r#"(at: "1s", fault: Config(target: "s -> x"))"#),
        &["faults[0].fault.target", "caller -> callee"],
    );
    check(
        &faults(r#"(at: "1s", fault: Config(target: "c"))"#),
        &["faults[0].fault", "needs something to change"],
    );
    check(
        &faults(r#"(at: "1s", fault: Scale(service: "s", replicas: 0))"#),
        &["faults[0].fault.replicas", "between 1 and 10000"],
    );
    check(
        &faults(r#"(at: "1s", fault: DiskFull("s"))"#),
        &["faults[0].fault", "has no disk"],
    );
    check(
        &scenario(
            r#"(name: "s", service_time: Constant("1ms"), disk: (latency: Constant("1ms"), iops: 0.0))"#,
            OK_CLIENT,
        ),
        &["services[0].disk.iops", "above 0"],
    );
    check(
        &faults(r#"(at: "1s", fault: FlushCache("s -> s"))"#),
        &["faults[0].fault", "caller -> callee"],
    );
    check(
        &faults(r#"(at: "1s", fault: Partition(from: ["s"], to: ["s"]))"#),
        &["faults[0].fault.to", "both sides"],
    );
    check(
        &faults(r#"(at: "1s", fault: Degrade(from: "s", to: "s", loss: 0.1))"#),
        &["faults[0].fault", "no requests go from"],
    );
    check(
        &faults(r#"(at: "1s", fault: Spike(client: "d", multiplier: 2.0))"#),
        &["faults[0].fault.client", "no client is named \"d\""],
    );
    check(
        &faults(
            r#"(time_to_failure: Constant("1ns"), time_to_repair: Constant("1ns"), fault: Crash("s"))"#,
        ),
        &["faults[0]", "more than 100000 windows"],
    );
    check(
        &health(r#"liveness: Kubernetes(success_threshold: 2)"#),
        &[
            "services[0].health.liveness.success_threshold",
            "to be 1",
            "set it to 1",
        ],
    );
    check(
        &health(r#"readiness: Kubernetes(period: "0s")"#),
        &["services[0].health.readiness.period", "longer than zero"],
    );
    check(
        &health(r#"liveness: Nginx()"#),
        &["services[0].health.liveness", "use Kubernetes"],
    );
    check(
        &health(r#"passive: Envoy(max_ejection_percent: 150)"#),
        &[
            "services[0].health.passive.max_ejection_percent",
            "between 0 and 100",
        ],
    );
    check(
        &scenario(
            r#"(name: "s", service_time: Constant("1ms"), restart: (cold_factor: 0.5))"#,
            OK_CLIENT,
        ),
        &["services[0].restart.cold_factor", "between 1 and 1000"],
    );
}

#[test]
fn bad_link_bandwidth_is_reported() {
    let link = |fields: &str| {
        scenario(OK_SERVICE, OK_CLIENT).replace(
            "\n)\n",
            &format!("\n    links: [(from: \"c\", to: \"s\", {fields})],\n)\n"),
        )
    };
    check(
        &link("bandwidth_mbit_per_s: 0.0"),
        &["links[0].bandwidth_mbit_per_s", "above 0"],
    );
    check(
        &link("bandwidth_mbit_per_s: 10.0, response_kb: -1.0"),
        &["links[0].response_kb", "between 0 and 1e9"],
    );
    check(
        &link("request_kb: 2.0"),
        &["links[0].request_kb", "add bandwidth_mbit_per_s"],
    );
}

#[test]
fn bad_service_disciplines_and_contention_are_reported() {
    let svc = |extra: &str| {
        scenario(
            &format!(r#"(name: "s", service_time: Constant("1ms"), {extra})"#),
            OK_CLIENT,
        )
    };
    let cases: &[(&str, &[&str])] = &[
        (
            "contention: Linear(per_request: -0.1)",
            &[
                "services[0].contention.per_request",
                "between 0 and 1000",
                "4:",
            ],
        ),
        (
            "contention: Polynomial(coefficient: 0.1, exponent: 11.0)",
            &["services[0].contention.exponent", "between 0 and 10"],
        ),
        (
            "contention: Exponential(per_request: 20.0)",
            &["services[0].contention.per_request", "between 0 and 10"],
        ),
        ("contention: Quadratic(a: 1.0)", &["Quadratic", "Linear"]),
        (
            "discipline: RoundRobin",
            &["RoundRobin", "ProcessorSharing"],
        ),
        (
            r#"queue: CoDel(target: "200ms", interval: "100ms")"#,
            &["services[0].queue.target", "shorter than the interval"],
        ),
        (
            r#"queue: AdaptiveLifo(after: "0s")"#,
            &["services[0].queue.after", "longer than zero"],
        ),
        (
            "discipline: ProcessorSharing, queue: Lifo",
            &["services[0].queue", "holds no queue"],
        ),
        ("queue: Random", &["Random", "AdaptiveLifo"]),
        (
            "gc: (heap_mb: 0.0, allocation_per_request_mb: 1.0)",
            &["services[0].gc.heap_mb", "above 0"],
        ),
        (
            "gc: (heap_mb: 100.0, allocation_per_request_mb: 1.0, live_base_mb: 200.0)",
            &["services[0].gc.live_base_mb", "raise heap_mb"],
        ),
        (
            r#"gc: (heap_mb: 100.0, allocation_per_request_mb: 1.0, pause_base: "soon")"#,
            &["services[0].gc.pause_base"],
        ),
        ("gc: (heap_mb: 100.0)", &["allocation_per_request_mb"]),
        (
            "replicas: 3, balancer: LeastRequest(choice_count: 1)",
            &["services[0].balancer.choice_count", "between 2 and 1000"],
        ),
        (
            "autoscale: (metric: Utilization(target_percent: 0), max_replicas: 4)",
            &[
                "case.ron:4:",
                "services[0].autoscale.metric.target_percent",
                "between 1 and 1000",
            ],
        ),
        (
            "replicas: 6, autoscale: (metric: InFlight(target: 5.0), max_replicas: 4)",
            &[
                "services[0].replicas",
                "within min_replicas..max_replicas (1..4)",
            ],
        ),
        (
            "autoscale: (metric: InFlight(target: 5.0), min_replicas: 5, max_replicas: 4)",
            &["services[0].autoscale.min_replicas", "above max_replicas"],
        ),
        (
            "autoscale: (metric: RatePerReplica(target_per_s: -1.0), max_replicas: 4)",
            &["services[0].autoscale.metric.target_per_s", "above 0"],
        ),
        (
            "autoscale: (metric: InFlight(target: 5.0), max_replicas: 4, tolerance: 1.0)",
            &["services[0].autoscale.tolerance", "up to (not including) 1"],
        ),
        (
            r#"autoscale: (metric: InFlight(target: 5.0), max_replicas: 4, scale_down: (stabilization_window: "2h"))"#,
            &[
                "services[0].autoscale.scale_down.stabilization_window",
                "at most 3600s",
            ],
        ),
        (
            r#"autoscale: (metric: InFlight(target: 5.0), max_replicas: 4, scale_up: (policies: [Pods(value: 0, period: "15s")]))"#,
            &[
                "services[0].autoscale.scale_up.policies[0].value",
                "between 1 and 10000",
            ],
        ),
        (
            r#"autoscale: (metric: InFlight(target: 5.0), max_replicas: 4, scale_up: (policies: [Percent(value: 50, period: "1h")]))"#,
            &[
                "services[0].autoscale.scale_up.policies[0].period",
                "at most 1800s",
            ],
        ),
        (
            "autoscale: (metric: InFlight(target: 5.0), max_replicas: 4, scale_up: (policies: []))",
            &[
                "services[0].autoscale.scale_up.policies",
                "select: Disabled",
            ],
        ),
        (
            r#"autoscale: (metric: Cpu(target: 5.0), max_replicas: 4)"#,
            &["Cpu", "Utilization", "InFlight", "RatePerReplica"],
        ),
        (
            r#"autoscale: (metric: InFlight(target: 5.0))"#,
            &["max_replicas"],
        ),
        (
            "balancer_retry: (tries: 5)",
            &["services[0].balancer_retry.tries", "between 2 and 4"],
        ),
        (
            "balancer_retry: (tries: 2, on: [])",
            &["services[0].balancer_retry.on", "at least one of Refused"],
        ),
        (
            "balancer_retry: (tries: 2, on: [Timeout])",
            &["Timeout", "Refused", "Overloaded"],
        ),
    ];
    for (extra, expect) in cases {
        check(&svc(extra), expect);
    }
    // An autoscaler sets the replicas: a scripted Scale of the same service is refused.
    let scaled = svc("autoscale: (metric: InFlight(target: 5.0), max_replicas: 4)").replace(
        "\n)\n",
        "\n    faults: [(at: \"1s\", fault: Scale(service: \"s\", replicas: 3))],\n)\n",
    );
    check(&scaled, &["faults[0].fault.service", "has an autoscaler"]);
}

#[test]
fn bad_endpoints_are_reported() {
    // `s` calls `d`; `d` has endpoints `r` and `w`.
    let with = |s_extra: &str, d_extra: &str, client_extra: &str| {
        scenario(
            &format!(
                r#"(name: "s", service_time: Constant("1ms"), calls: [(to: "d")], {s_extra}),
                   (name: "d", service_time: Constant("1ms"), endpoints: [(name: "r"), (name: "w", kind: Write)], {d_extra})"#
            ),
            &format!(r#"(name: "c", target: "s", load: Open(rate_per_s: 10.0), {client_extra})"#),
        )
    };
    let ok = with("", "", "");
    let (code, err) = validate_text("ok.ron", &ok);
    assert_eq!(code, 0, "{err}");
    let cases: &[(String, &[&str])] = &[
        (
            with("", "", r#"endpoint: "x""#),
            &["clients[0].endpoint", "service `s` has no endpoints"],
        ),
        (
            with(
                r#"endpoints: [(name: "a", calls: [(to: "d", endpoint: "rd")])]"#,
                "",
                "",
            ),
            &[
                "services[0].endpoints[0].calls[0].endpoint",
                "did you mean \"r\"",
            ],
        ),
        (
            with(r#"endpoints: [(name: "a", calls: [(to: "e")])]"#, "", ""),
            &[
                "services[0].endpoints[0].calls[0].to",
                "one of its service's `calls`",
            ],
        ),
        (
            with(
                r#"endpoints: [(name: "a", share: 0.5), (name: "b", share: 0.4)]"#,
                "",
                "",
            ),
            &["services[0].endpoints", "sum to 0.9", "must sum to 1"],
        ),
        (
            with(
                r#"endpoints: [(name: "a", share: 0.5), (name: "b")]"#,
                "",
                "",
            ),
            &["services[0].endpoints", "every endpoint a `share`, or none"],
        ),
        (
            with(r#"endpoints: [(name: "a"), (name: "a")]"#, "", ""),
            &["services[0].endpoints[1].name", "two endpoints"],
        ),
        (
            with(r#"endpoints: [(name: "a", priority: 10)]"#, "", ""),
            &["services[0].endpoints[0].priority", "between 0 and 9"],
        ),
        (
            with(
                r#"endpoints: [(name: "a", priority: 1), (name: "b")], queue: Lifo"#,
                "",
                "",
            ),
            &["services[0].queue", "highest priority first"],
        ),
        (
            with("", "", "").replace(
                r#"calls: [(to: "d")]"#,
                r#"calls: [(to: "d", endpoint: "x")]"#,
            ),
            &["services[0].calls[0].endpoint", "endpoint of `d`"],
        ),
        (
            with(
                "",
                r#"replicas: 2, active_passive: (replication: Async(lag: Constant("1ms")), write_fraction: 0.5)"#,
                "",
            ),
            &[
                "services[1].active_passive.write_fraction",
                "remove `write_fraction`",
            ],
        ),
        (
            scenario(
                r#"(name: "s", replicas: 2, service_time: Constant("1ms"), active_passive: (replication: Async(lag: Constant("1ms")), reads: Standbys()))"#,
                OK_CLIENT,
            ),
            &["services[0].active_passive.reads", "kind: Read"],
        ),
        (
            with(
                "",
                r#"replicas: 2, active_passive: (replication: Async(lag: Constant("1ms")), reads: Standbys(max_lag: "0s"))"#,
                "",
            ),
            &[
                "services[1].active_passive.reads.max_lag",
                "longer than zero",
            ],
        ),
    ];
    for (text, expect) in cases {
        check(text, expect);
    }
}

#[test]
fn bad_cache_settings_are_reported() {
    let cached = |cache: &str| {
        scenario(
            &format!(
                r#"(name: "s", service_time: Constant("1ms"), calls: [(to: "d", cache: {cache})]),
                   (name: "d", service_time: Constant("1ms"))"#
            ),
            OK_CLIENT,
        )
    };
    check(
        &scenario(
            r#"(name: "s", service_time: Constant("1ms"), calls: [(to: "d", connections: 0)]),
               (name: "d", service_time: Constant("1ms"))"#,
            OK_CLIENT,
        ),
        &["services[0].calls[0].connections", "between 1 and 1000000"],
    );
    // Cache faults name a cached call; slowing one needs a lookup latency to stretch.
    let with_fault = |cache: &str, fault: &str| {
        cached(cache).replace(
            "\n)\n",
            &format!("\n    faults: [(at: \"1s\", fault: {fault})],\n)\n"),
        )
    };
    check(
        &with_fault(
            r#"(keys: 10, ttl: "1s")"#,
            r#"SlowCache(target: "s -> d", factor: 3.0)"#,
        ),
        &[
            "faults[0].fault.target",
            "answers at once",
            "give it a `latency`",
        ],
    );
    check(
        &with_fault(
            r#"(keys: 10, ttl: "1s", latency: Constant("1ms"))"#,
            r#"SlowCache(target: "s -> d", factor: 0.5)"#,
        ),
        &["faults[0].fault.factor", "from 1 to 1000000"],
    );
    check(
        &with_fault(
            r#"(keys: 10, ttl: "1s", latency: Constant("soon"))"#,
            r#"CacheDown("s -> d")"#,
        ),
        &["services[0].calls[0].cache.latency"],
    );
    check(
        &scenario(
            r#"(name: "s", service_time: Constant("1ms"), calls: [(to: "d")]),
               (name: "d", service_time: Constant("1ms"))"#,
            OK_CLIENT,
        )
        .replace(
            "\n)\n",
            "\n    faults: [(at: \"1s\", fault: CacheDown(\"s -> d\"))],\n)\n",
        ),
        &["faults[0].fault", "has no cache to take down"],
    );
    check(
        &cached(r#"(keys: 0, ttl: "1s")"#),
        &["services[0].calls[0].cache.keys", "between 1 and 10000000"],
    );
    check(
        &cached(r#"(keys: 10, ttl: "0s")"#),
        &["services[0].calls[0].cache.ttl", "longer than zero"],
    );
    check(
        &cached(r#"(keys: 10, ttl: "1s", capacity: 11)"#),
        &["services[0].calls[0].cache.capacity", "between 1 and 10"],
    );
    check(
        &cached(r#"(keys: 10, ttl: "1s", popularity: Zipf(s: -1.0))"#),
        &[
            "services[0].calls[0].cache.popularity.s",
            "between 0 and 10",
        ],
    );
    check(
        &cached(r#"(keys: 10, ttl: "1s", lease: true)"#),
        &["services[0].calls[0].cache", "lease"],
    );
}

#[test]
fn bad_active_passive_settings_are_reported() {
    let ap = |replicas: u32, extra: &str, fields: &str| {
        scenario(
            &format!(
                r#"(name: "s", replicas: {replicas}, service_time: Constant("1ms"), {extra}
                   active_passive: (replication: Async(lag: Constant("1ms")), {fields}))"#
            ),
            OK_CLIENT,
        )
    };
    check(
        &ap(1, "", ""),
        &[
            "services[0].replicas",
            "needs a standby",
            "replicas: 2 or more",
        ],
    );
    check(
        &ap(3, "", r#"heartbeat_interval: "0s""#),
        &[
            "services[0].active_passive.heartbeat_interval",
            "longer than zero",
        ],
    );
    check(
        &ap(3, "", "missed_heartbeats: 0"),
        &["services[0].active_passive.missed_heartbeats"],
    );
    check(
        &ap(3, "", r#"fencing: Quorum(lease: "5s")"#),
        &[
            "services[0].active_passive.fencing.lease",
            "shorter than heartbeat_interval x missed_heartbeats = 3s",
        ],
    );
    check(
        &ap(2, "", r#"fencing: Quorum(lease: "1s")"#),
        &["services[0].active_passive.fencing", "3 or more replicas"],
    );
    check(
        &ap(3, "", "write_fraction: 2.0"),
        &[
            "services[0].active_passive.write_fraction",
            "between 0 and 1",
        ],
    );
    check(
        &ap(3, "health: (readiness: Kubernetes()),", ""),
        &["services[0].health", "routes to its primary"],
    );
    check(
        &scenario(
            r#"(name: "s", replicas: 2, service_time: Constant("1ms"), active_passive: ())"#,
            OK_CLIENT,
        ),
        &["services[0].active_passive", "replication"],
    );
    check(
        &ap(2, "", "").replace(
            "\n)\n",
            "\n    faults: [(at: \"1s\", fault: Partition(from: [\"s\"], to: [\"s/1\"]))],\n)\n",
        ),
        &["faults[0].fault.to", "\"s\" is on both sides"],
    );
    check(
        &ap(2, "", "").replace(
            "\n)\n",
            "\n    faults: [(at: \"1s\", fault: Partition(from: [\"s/0\"], to: [\"s/5\"]))],\n)\n",
        ),
        &["faults[0].fault.to[0]", "replicas 0 to 1"],
    );
}

#[test]
fn bad_variants_and_slo_settings_are_reported() {
    let with = |extra: &str| {
        format!(
            "(\n    name: \"t\",\n    clients: [{OK_CLIENT}],\n    services: [{OK_SERVICE}],\n{extra}\n)\n"
        )
    };
    let cases: &[(&str, &[&str])] = &[
        (
            r#"variants: [(name: "v", set: {"services.nope.workers": 2})]"#,
            &[
                "case.ron:5:",
                "variants[0].set.services.nope.workers",
                "no service named `nope` (there are: s)",
            ],
        ),
        (
            r#"variants: [(name: "v", set: {"services.s.workers": -3})]"#,
            &["variants[0].set", "variant `v`: services[0].workers"],
        ),
        (
            r#"variants: [(name: "v", set: {"links[0].latency": Constant("1ms")})]"#,
            &["variants[0].set", "is not written in the file"],
        ),
        (
            r#"variants: [(name: "a"), (name: "a")]"#,
            &["variants[1].name", "used by an earlier variant"],
        ),
        (
            r#"variants: [(name: "a b")]"#,
            &["variants[0].name", "letters, digits"],
        ),
        (r#"slo: (error_rate: 1.5)"#, &["slo.error_rate", "below 1"]),
        (r#"slo: (latency_p99: "soon")"#, &["slo.latency_p99"]),
        (
            r#"slo: (metastable_after: "0s")"#,
            &["slo.metastable_after"],
        ),
    ];
    for (extra, expect) in cases {
        check(&with(extra), expect);
    }
}

/// Runs `text` through `faultline run` into a fresh directory; returns the exit code, stderr
/// and the directory.
fn run_text(name: &str, text: &str) -> (i32, String, std::path::PathBuf) {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("faultline-run-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .arg("run")
        .arg(&path)
        .arg("--quiet")
        .arg("--out")
        .arg(dir.join("out"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code().unwrap_or(-1), err, dir.join("out"))
}

/// `validate` ok means `run` works: a caller that calls one callee twice (sequentially) or 64
/// times (a parallel fan-out) runs, writes its report, and every call is an edge of its own.
#[test]
fn repeated_callees_run_as_edges_of_their_own() {
    let fan = |n: usize, fan_out: &str, extra: &str| {
        let calls = vec![r#"(to: "b", timeout: "1s")"#; n].join(", ");
        format!(
            r#"(name: "t", duration: "10s", warmup: "0s",
                clients: [(name: "c", target: "a", load: Open(rate_per_s: 50.0))],
                services: [(name: "a", workers: 8, fan_out: {fan_out}, calls: [{calls}], service_time: Constant("1ms")),
                           (name: "b", workers: 256, service_time: Constant("1ms"))],
                {extra})"#
        )
    };
    for (n, fan_out) in [(2, "Sequential"), (64, "Parallel")] {
        let (code, err, out) = run_text("rep.ron", &fan(n, fan_out, ""));
        assert_eq!(code, 0, "{n} calls: {err}");
        assert!(out.join("index.html").exists(), "{n} calls: no report");
        let s: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
        let svc = |name: &str| {
            s["services"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["name"] == name)
                .unwrap()["offered"]
                .as_u64()
                .unwrap()
        };
        // Every request of a makes all n calls and nothing fails: b sees exactly n times a's.
        assert_eq!(svc("b"), n as u64 * svc("a"), "{n} calls");
        let edges: Vec<String> = s["policies"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|p| p["edge"].as_str().filter(|e| e.starts_with("a -> ")))
            .map(str::to_string)
            .collect();
        let mut distinct = edges.clone();
        distinct.dedup();
        assert_eq!(distinct.len(), n, "one timeout layer per edge: {edges:?}");
        assert_eq!(distinct[0], "a -> b#1");
        assert_eq!(distinct[n - 1], format!("a -> b#{n}"));
    }
    // A fault on one of them names it; the bare name is ambiguous, and says what to write.
    let fault = |t: &str| {
        fan(
            2,
            "Sequential",
            &format!(r#"faults: [(at: "1s", fault: Config(target: "{t}", timeout: "1ms"))]"#),
        )
    };
    let (code, err, _) = run_text("ok.ron", &fault("a -> b#2"));
    assert_eq!(code, 0, "{err}");
    check(
        &fault("a -> b"),
        &[
            "faults[0].fault.target",
            "\"a\" calls \"b\" 2 times",
            "\"a -> b#1\" or \"a -> b#2\"",
        ],
    );
    check(
        &fault("a -> b#3"),
        &[
            "faults[0].fault.target",
            "\"a -> b#3\"",
            "\"a -> b#1\" or \"a -> b#2\"",
        ],
    );
    check(
        &fault("a -> b#x"),
        &["faults[0].fault.target", "\"a -> b#x\""],
    );
    // An endpoint's call names the edge the same way, without the caller.
    let endpoint = |to: &str| {
        fan(2, "Sequential", "").replace(
            r#"service_time: Constant("1ms")),"#,
            &format!(r#"service_time: Constant("1ms"), endpoints: [(name: "e", calls: [(to: "{to}")])]),"#),
        )
    };
    let (code, err, _) = run_text("ok.ron", &endpoint("b#2"));
    assert_eq!(code, 0, "{err}");
    check(
        &endpoint("b"),
        &["services[0].endpoints[0].calls[0].to", "\"b#1\" or \"b#2\""],
    );
}

/// The parser's terse messages, in a scenario author's words: what is expected, what was
/// found, how to write it, and the field's path.
#[test]
fn parse_errors_say_what_is_expected_and_how_to_write_it() {
    let with = |client: &str, service: &str| {
        scenario(
            &format!(r#"(name: "s", {service} service_time: Constant("1ms"))"#),
            &format!(r#"(name: "c", target: "s", load: Open(rate_per_s: 10.0), {client})"#),
        )
    };
    let top = |field: &str| {
        format!("(name: \"t\",\n {field},\n clients: [{OK_CLIENT}], services: [{OK_SERVICE}])")
    };
    check(
        &with("", "workers: 2.5,"),
        &["services[0].workers", "whole number", "found 2.5"],
    );
    check(
        &with("", "workers: 3.0e2,"),
        &["services[0].workers", "found 3.0e2"],
    );
    check(
        &top("seed: 0.0"),
        &["case.ron:2:", "seed: a whole number", "found 0.0"],
    );
    check(
        &top("seed: -5"),
        &["seed: -5 is out of range", "18446744073709551615"],
    );
    check(
        &with("", "replicas: 1e3,"),
        &["services[0].replicas", "found 1e3", "1000, not 1e3"],
    );
    check(
        &with("timeout: 2s", ""),
        &[
            "clients[0].timeout",
            "found 2s",
            "durations are strings",
            "\"2s\"",
        ],
    );
    check(
        &with(
            r#"policies: [Retry(max_attempts: 3, backoff: Aws(jitter: "Full", base: "1s", cap: "8s"))]"#,
            "",
        ),
        &["backoff.jitter", "without quotes", "found \"Full\""],
    );
    check(
        &with(
            r#"policies: [Retry(max_attempts: 3, backoff: Aws(jitter: 5, base: "1s", cap: "8s"))]"#,
            "",
        ),
        &["backoff.jitter", "a name is expected", "found 5"],
    );
    let mut deep = r#"Constant("1ms")"#.to_string();
    for _ in 0..40 {
        deep = format!("Mixture([(weight: 1.0, dist: {deep})])");
    }
    check(
        &scenario(&format!(r#"(name: "s", service_time: {deep})"#), OK_CLIENT),
        &["services[0].service_time", "nested too deeply", "flatten"],
    );
    // Long expansions of floats are written in exponent form.
    check(
        &with("", "").replace("10.0", "1e308"),
        &["rate_per_s: 1e308 requests per second"],
    );
    let (_, err) = validate_text("case.ron", &with("", "").replace("10.0", "1e308"));
    assert!(!err.contains("0000000000"), "{err}");
    for (_, err) in [
        validate_text("case.ron", &with("", "workers: 2.5,")),
        validate_text("case.ron", &top("seed: 0.0")),
    ] {
        assert!(
            !err.contains("Expected comma") && !err.contains("r#"),
            "{err}"
        );
    }
}

/// A byte order mark (written by some editors) is not part of the scenario; a file that is
/// not a scenario at all (`/dev/zero`) is refused after a bounded read.
#[test]
fn a_byte_order_mark_is_ignored_and_input_size_is_bounded() {
    let (code, err) = validate_text(
        "bom.ron",
        &format!("\u{feff}{}", scenario(OK_SERVICE, OK_CLIENT)),
    );
    assert_eq!(code, 0, "{err}");
    // The same problem at the same line:column as without the mark (the first line's too).
    let bad = format!("(name: 5, {}", &scenario(OK_SERVICE, OK_CLIENT)[1..]);
    let (code, with_mark) = validate_text("bom.ron", &format!("\u{feff}{bad}"));
    assert_eq!(code, 2, "{with_mark}");
    let (_, without) = validate_text("bom.ron", &bad);
    let at = |e: &str| {
        e.lines()
            .next()
            .unwrap_or("")
            .split("bom.ron")
            .nth(1)
            .unwrap_or("")
            .to_string()
    };
    assert!(with_mark.contains("bom.ron:1:"), "{with_mark}");
    assert_eq!(at(&with_mark), at(&without));
    // Just over the bound, made of zero bytes (valid UTF-8, so only the size can refuse it).
    let dir = std::env::temp_dir().join(format!("faultline-big-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let big = dir.join("big.ron");
    let f = std::fs::File::create(&big).unwrap();
    f.set_len(faultline::scenario::MAX_FILE_BYTES + 1).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .arg("validate")
        .arg(&big)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("larger than 64 MB"), "{err}");
    if std::path::Path::new("/dev/zero").exists() {
        let out = Command::new(env!("CARGO_BIN_EXE_faultline"))
            .arg("validate")
            .arg("/dev/zero")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
    }
}

/// Valid but surely unintended: printed as warnings with file, line:column and field path;
/// the exit code stays 0 and the run goes on. One line per case; a clean file warns nothing.
#[test]
fn what_is_valid_but_surely_unintended_is_warned_about() {
    let db = r#"(name: "db", service_time: Constant("1ms"))"#;
    let api =
        |call: &str| format!(r#"(name: "api", service_time: Constant("1ms"), calls: [{call}])"#);
    let cached = |ttl: &str, warm: bool| {
        api(&format!(
            r#"(to: "db", cache: (keys: 100, ttl: "{ttl}", warm: {warm}))"#
        ))
    };
    let client = r#"(name: "c", target: "api", load: Open(rate_per_s: 10.0))"#;
    let file = |services: String, faults: &str| {
        format!(
            "(\n    name: \"t\",\n    duration: \"60s\",\n    clients: [{client}],\n    services: [{services}],\n    faults: [{faults}],\n)\n"
        )
    };
    let ap = r#"(name: "db", replicas: 2, service_time: Constant("1ms"), active_passive: (replication: Async(lag: Constant("1ms"))))"#;
    let ap_rr = ap.replace("replicas: 2,", "replicas: 2, balancer: Random,");
    let cases: Vec<(String, Vec<&str>)> = vec![
        // Nothing to warn about.
        (
            file(
                format!("{}, {db}", api(r#"(to: "db")"#)),
                r#"(at: "10s", for: "5s", fault: Crash("db"))"#,
            ),
            vec![],
        ),
        (
            file(
                format!("{}, {db}", cached("30s", true)),
                r#"(at: "40s", for: "5s", fault: Crash("db"))"#,
            ),
            vec![],
        ),
        (
            file(
                format!("{}, {db}", cached("30s", false)),
                r#"(at: "20s", for: "20s", fault: Crash("db"))"#,
            ),
            vec![],
        ),
        (
            file(
                format!("{}, {db}", cached("30s", true)),
                r#"(at: "30s", fault: FlushCache("api -> db"))"#,
            ),
            vec![],
        ),
        (file(format!("{}, {ap}", api(r#"(to: "db")"#)), ""), vec![]),
        // A fault after the end (scripted, or random from a time past the end).
        (
            file(
                format!("{}, {db}", api(r#"(to: "db")"#)),
                r#"(at: "90s", for: "5s", fault: Crash("db"))"#,
            ),
            vec![
                "case.ron:6:",
                "faults[0].at: this fault starts at 1m30s",
                "duration 1m",
                "never happens",
            ],
        ),
        (
            file(
                format!("{}, {db}", api(r#"(to: "db")"#)),
                r#"(at: "60s", time_to_failure: Constant("1s"), time_to_repair: Constant("1s"), fault: Hang("db"))"#,
            ),
            vec!["faults[0].at: this fault starts at 1m"],
        ),
        // A balancer on an active-passive service.
        (
            file(format!("{}, {ap_rr}", api(r#"(to: "db")"#)), ""),
            vec![
                "case.ron:5:",
                "services[1].balancer: an active-passive service",
                "no effect",
            ],
        ),
        // A warm cache's mass expiry inside a fault window (one with no end lasts to the end).
        (
            file(
                format!("{}, {db}", cached("30s", true)),
                r#"(at: "20s", for: "20s", fault: Slowdown(target: "db", factor: 5.0))"#,
            ),
            vec![
                "services[0].calls[0].cache.ttl: the cache is warm",
                "at 30s",
                "slowdown",
                "20s to 40s",
            ],
        ),
        (
            file(
                format!("{}, {db}", cached("30s", true)),
                r#"(at: "25s", fault: Hang("db"))"#,
            ),
            vec!["cache.ttl", "25s to the end"],
        ),
    ];
    for (text, expect) in cases {
        let (code, err) = validate_text("case.ron", &text);
        assert_eq!(code, 0, "exit code for:\n{text}\nstderr:\n{err}");
        let warnings: Vec<&str> = err.lines().filter(|l| l.starts_with("warning: ")).collect();
        if expect.is_empty() {
            assert!(
                warnings.is_empty(),
                "no warning expected for:\n{text}\n{err}"
            );
        } else {
            assert_eq!(
                warnings.len(),
                1,
                "one warning expected for:\n{text}\n{err}"
            );
        }
        for e in &expect {
            assert!(err.contains(e), "expected {e:?} in:\n{err}");
        }
    }
    // `run` prints them too and runs; `--duration` shorter than a fault's start warns.
    let text = file(
        format!("{}, {db}", api(r#"(to: "db")"#)),
        r#"(at: "10s", for: "5s", fault: Crash("db"))"#,
    );
    let (code, err, out) = run_text("warn.ron", &text.replace("\"60s\"", "\"5s\""));
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("warning: ") && err.contains("faults[0].at"),
        "{err}"
    );
    assert!(out.join("summary.json").exists());
    // A variant's own warning names the variant.
    let text = text.replace(
        "faults: [",
        "variants: [(name: \"short\", set: {\"duration\": \"8s\"})],\n    faults: [",
    );
    let (code, err) = validate_text("case.ron", &text);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("variants[0]: variant `short`: faults[0].at: this fault starts at 10s"),
        "{err}"
    );
    // A sweep says which point has a warning the file does not.
    let (_, _, out) = run_text("sweep.ron", &text);
    let dir = out.parent().unwrap();
    let sweep = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["sweep", "--quiet", "--set", "duration=5s,20s", "--out"])
        .arg(dir.join("sweep"))
        .arg(dir.join("sweep.ron"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&sweep.stderr);
    assert_eq!(sweep.status.code(), Some(0), "{err}");
    assert!(
        err.contains("point duration=5s: faults[0].at: this fault starts at 10s"),
        "{err}"
    );
    assert!(!err.contains("point duration=20s"), "{err}");
}
