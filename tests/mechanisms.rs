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

/// The analysed run of variant `v` among `runs`.
fn variant<'a>(runs: &'a [(String, Analysed)], v: &str) -> &'a Analysed {
    &runs
        .iter()
        .find(|(n, _)| n == v)
        .unwrap_or_else(|| panic!("no variant {v}"))
        .1
}

/// Checks each claim against the variants of `scenarios/{name}.ron`, and returns the runs for
/// further checks.
fn check(name: &str, claims: &[Claim]) -> Vec<(String, Analysed)> {
    let runs = variants(name);
    for c in claims {
        let a = variant(&runs, c.variant);
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
    runs
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

/// Runs an inline scenario and returns its summary.
fn summary_of(text: &str) -> faultline::metrics::Summary {
    let sc = scenario::from_str(text, "inline.ron", &Overrides::default())
        .unwrap_or_else(|e| panic!("{e}"));
    runner::run(&sc).summary
}

/// The autoscaler settles where Kubernetes' rule puts it, computed here from the offered load:
/// 600 requests/s of 10 ms each keep 6 workers busy; over 2 replicas of 4 workers that is 75 %
/// against a 55 % target, so the first sync asks for ceil(2 x 75/55) = ceil(2.73) = 3; over 3
/// replicas it is 50 %, and 50/55 = 0.91 lies within the 10 % tolerance: no further change.
/// With the rate per replica (300/s against 160/s) the first sync asks for ceil(2 x 1.875) = 4,
/// and then 150/160 = 0.94 stays. Poisson noise over a 15 s window (about 1 %) cannot move
/// either ceiling.
#[test]
fn the_autoscaler_settles_where_the_hpa_rule_puts_it() {
    let cases = [
        ("Utilization(target_percent: 55)", 3, 0.75),
        ("RatePerReplica(target_per_s: 160.0)", 4, 300.0),
    ];
    for (metric, settles_at, first_reading) in cases {
        let text = format!(
            r#"(
            name: "hpa", seed: 3, duration: "200s", warmup: "0s",
            default_link_latency: Constant("0s"),
            clients: [(name: "c", target: "api", load: Open(rate_per_s: 600.0))],
            services: [(name: "api", replicas: 2, workers: 4, queue_capacity: 10000,
                service_time: Constant("10ms"), balancer: RoundRobin,
                autoscale: (metric: {metric}, min_replicas: 1, max_replicas: 10))],
        )"#
        );
        let s = summary_of(&text);
        let a = &s.autoscalers[0];
        assert_eq!(a.changes.len(), 1, "{metric}: {:?}", a.changes);
        let c = &a.changes[0];
        assert_eq!((c.at_s, c.from, c.to), (15.0, 2, settles_at), "{metric}");
        let m = c.metric.expect("a reading");
        assert!(
            (m / first_reading - 1.0).abs() < 0.03,
            "{metric}: read {m}, offered {first_reading}"
        );
        assert_eq!(
            (a.requested_at_end, a.running_at_end),
            (settles_at, settles_at)
        );
    }
}

/// The HPA of `autoscaler_too_slow` adds capacity a sync and a start delay late: the slow
/// variant fails requests until the surge ends and its first new replicas serve no sooner than
/// 40 s after the decision; spare capacity absorbs the surge; fast starts bring it back while
/// the surge still goes on, and the story says so.
#[test]
fn autoscaler_too_slow_fails_until_capacity_arrives() {
    let runs = variants("autoscaler_too_slow");
    let get = |v: &str| variant(&runs, v);
    let slow = get("slow");
    let a = &slow.summary.autoscalers[0];
    let first = &a.changes[0];
    assert_eq!((first.at_s, first.from), (45.0, 3), "{:?}", a.changes);
    let scaling = &slow.cascade.scaling[0].steps[0];
    let serving = scaling.serving_from_s.expect("the first replicas serve");
    assert!(serving >= 45.0 + 40.0, "served from {serving}");
    assert!(
        slow.headline.availability < 0.7,
        "{}",
        slow.headline.availability
    );
    let story = slow.cascade.narrative().join("\n");
    assert!(!story.contains("still went on"), "{story}");
    let pool = get("warm-pool");
    assert!(
        pool.headline.availability > 0.999,
        "{}",
        pool.headline.availability
    );
    let fast = get("fast-start");
    assert!(
        fast.headline.availability > 0.85,
        "{}",
        fast.headline.availability
    );
    let within = fast.cascade.recoveries[0]
        .within_s
        .expect("back during the surge");
    assert!((40.0..100.0).contains(&within), "{within}");
    let story = fast.cascade.narrative().join("\n");
    assert!(story.contains("still went on (ended at 150 s)"), "{story}");
}

/// `autoscaler_flapping`: with no scale-down window the replica count goes up and down with
/// every burst and every burst fails requests; with the default 300 s window it only goes up
/// and the later bursts are absorbed.
#[test]
fn autoscaler_flapping_without_a_window_meets_every_burst_scaled_down() {
    let runs = variants("autoscaler_flapping");
    let get = |v: &str| variant(&runs, v);
    let flap = get("no-window");
    let changes = &flap.summary.autoscalers[0].changes;
    let downs = changes.iter().filter(|c| c.to < c.from).count();
    assert!(changes.len() >= 8 && downs >= 4, "{changes:?}");
    assert!(flap.cascade.recoveries.iter().all(|r| !r.absorbed));
    assert!(
        flap.headline.availability < 0.7,
        "{}",
        flap.headline.availability
    );
    let held = get("default-window");
    let changes = &held.summary.autoscalers[0].changes;
    assert!(changes.iter().all(|c| c.to > c.from), "{changes:?}");
    let absorbed = held
        .cascade
        .recoveries
        .iter()
        .filter(|r| r.absorbed)
        .count();
    assert_eq!(absorbed, 3, "{}", held.cascade.narrative().join("\n"));
    assert!(
        held.headline.availability > 0.85,
        "{}",
        held.headline.availability
    );
}

#[test]
fn hot_key_stampede_is_sustained_by_failed_fills_and_coalescing_recovers() {
    let runs = check(
        "hot_key_stampede",
        &[
            Claim {
                variant: "no-coalescing",
                ending: "sustained",
                loop_says: "cache misses on api -> db",
                min_availability: 0.0,
            },
            Claim {
                variant: "coalesce",
                ending: "recovered",
                loop_says: "",
                min_availability: 0.99,
            },
        ],
    );
    // The herd is on the hot keys: with coalescing, misses waited for a fill in flight.
    let coalesced = variant(&runs, "coalesce");
    assert!(coalesced.summary.caches[0].coalesced > 100);
}

/// The balancer retries a refused attempt on a replica it has not tried (NGINX
/// `proxy_next_upstream`, Envoy's `previous_hosts`). With 2 of 4 replicas down and a random
/// balancer, a request fails when every attempt lands on a dead one: without retries 1/2; with
/// 2 tries 1/2 x 1/3 = 1/6 (the second pick avoids the first); with 3 tries never. A client's
/// own retry picks afresh and may land on the same dead replica: 1/2 x 1/2 = 1/4. Round robin
/// with 1 of 4 down and 2 tries never fails (the next in turn is up).
#[test]
fn balancer_retries_avoid_the_replicas_already_tried() {
    let cases = [
        ("Random", 2, "", "", 0.5),
        ("Random", 2, "balancer_retry: (tries: 2),", "", 1.0 / 6.0),
        (
            "Random",
            2,
            "balancer_retry: (tries: 3, on: [Refused]),",
            "",
            0.0,
        ),
        (
            "Random",
            2,
            "",
            r#", policies: [Retry(max_attempts: 2, backoff: Constant("0s"))]"#,
            0.25,
        ),
        ("RoundRobin", 1, "balancer_retry: (tries: 2),", "", 0.0),
        // Overloaded answers are not retried unless listed.
        (
            "Random",
            2,
            "balancer_retry: (tries: 2, on: [Overloaded]),",
            "",
            0.5,
        ),
    ];
    for (balancer, down, retry, client_policies, failed) in cases {
        let faults: Vec<String> = (0..down)
            .map(|i| format!(r#"(at: "0s", for: "1000s", fault: Crash("api/{i}"))"#))
            .collect();
        let text = format!(
            r#"(
            name: "lb", seed: 5, duration: "100s", warmup: "0s",
            default_link_latency: Constant("1ms"),
            clients: [(name: "c", target: "api", load: Open(rate_per_s: 1000.0){client_policies})],
            services: [(name: "api", replicas: 4, workers: 100, balancer: {balancer}, {retry}
                service_time: Constant("1ms"))],
            faults: [{}],
        )"#,
            faults.join(", ")
        );
        let s = summary_of(&text);
        let c = &s.clients[0];
        let share = c.outcomes.refused as f64 / c.completed as f64;
        assert!(
            (share - failed).abs() < 0.006,
            "{balancer} {retry}{client_policies}: {share} refused, expected {failed}"
        );
        if failed == 0.0 {
            assert_eq!(c.outcomes.refused, 0, "{balancer} {retry}");
        }
    }
}

/// A degraded link loses each message with probability p, each way: an attempt over it fails
/// (its request or its answer lost, found out by the call's timeout) with 1 - (1 - p)^2, and a
/// call retried up to 3 times fails with (1 - (1 - p)^2)^3. Checked within 5 standard errors.
#[test]
fn packet_loss_fails_attempts_as_the_arithmetic_says() {
    let p: f64 = 0.05;
    let attempt = 1.0 - (1.0 - p).powi(2);
    let n = 100_000.0;
    for (policies, expect) in [
        ("", attempt),
        (
            r#"Retry(max_attempts: 3, backoff: Constant("0s"))"#,
            attempt.powi(3),
        ),
    ] {
        let text = format!(
            r#"(
            name: "loss", seed: 9, duration: "100s", warmup: "0s",
            default_link_latency: Constant("1ms"),
            clients: [(name: "c", target: "api", load: Open(rate_per_s: 1000.0), timeout: "2s")],
            services: [
                (name: "api", workers: 1000, service_time: Constant("1ms"),
                 calls: [(to: "db", timeout: "50ms", policies: [{policies}])]),
                (name: "db", workers: 1000, service_time: Constant("1ms")),
            ],
            faults: [(at: "0s", for: "1000s", fault: Degrade(from: "api", to: "db", added_latency: Constant("5ms"), loss: {p}))],
        )"#
        );
        let s = summary_of(&text);
        let c = &s.clients[0];
        let failed = c.outcomes.error as f64 / c.completed as f64;
        let se = (expect * (1.0 - expect) / n).sqrt();
        assert!(
            (failed - expect).abs() < 5.0 * se,
            "{policies}: {failed} failed, expected {expect} +- {se}"
        );
    }
}

/// `lossy_link`: without retries the losses breach the SLO; retries hide them at the cost of a
/// tail of one timeout; a shorter per-attempt timeout shortens that tail.
#[test]
fn lossy_link_losses_cost_timeouts_and_retries_hide_them() {
    let runs = variants("lossy_link");
    let get = |v: &str| variant(&runs, v);
    let (none, retry, short) = (get("no-retry"), get("retry"), get("short-timeout"));
    assert!((0.97..0.99).contains(&none.headline.availability));
    assert!(retry.headline.availability > 0.9999);
    assert!(short.headline.availability > 0.9999);
    assert!(retry.headline.p99_ms > 300.0, "{}", retry.headline.p99_ms);
    assert!(
        short.headline.p99_ms < retry.headline.p99_ms - 100.0,
        "{} vs {}",
        short.headline.p99_ms,
        retry.headline.p99_ms
    );
    for a in [none, retry, short] {
        assert_eq!(a.cascade.ending.name(), "recovered");
    }
}

/// `stuck_workers`: round robin keeps sending a quarter of the traffic to the replica whose
/// pool is stuck, so about a quarter of requests fail while it lasts; least outstanding routes
/// around it.
#[test]
fn stuck_workers_fail_a_quarter_under_round_robin_and_none_under_least_outstanding() {
    let runs = variants("stuck_workers");
    let get = |v: &str| variant(&runs, v);
    let rr = get("round-robin");
    let during = rr
        .cascade
        .failed_share_during_incident
        .expect("an incident");
    assert!((0.2..0.3).contains(&during), "{during}");
    let lo = get("least-outstanding");
    assert!(
        lo.headline.availability > 0.999,
        "{}",
        lo.headline.availability
    );
    assert!(lo.cascade.recoveries[0].absorbed);
}

/// `feature_flag_degradation`: without a flag a failing optional call fails the page; with a
/// health-driven flag the pages are served degraded once the flag has seen more than half of
/// its 10 s window fail (about 5.5 s into the failures, the window holding the good calls from
/// before), and the flag tries the feature again every 15 s.
#[test]
fn a_feature_flag_serves_degraded_pages_instead_of_errors() {
    let runs = variants("feature_flag_degradation");
    let get = |v: &str| variant(&runs, v);
    let none = get("no-flag");
    assert!(
        none.headline.availability < 0.6,
        "{}",
        none.headline.availability
    );
    let flag = get("flag");
    assert!(
        flag.headline.availability > 0.9,
        "{}",
        flag.headline.availability
    );
    let c = &flag.summary.clients[0];
    assert!(c.outcomes.degraded as f64 / c.completed as f64 > 0.4);
    for p in flag
        .summary
        .policies
        .iter()
        .filter(|p| p.kind == "feature_flag")
    {
        let first = &p.transitions[0];
        assert_eq!(first.to, faultline::policy::breaker::BreakerState::Open);
        assert!((34.0..37.0).contains(&first.at_s), "{}", first.at_s);
    }
}

/// `sync_replication`: asynchronous replication loses the writes acknowledged in the lag
/// before the primary's crash; synchronous loses none, pays the lag on every write, and fails
/// writes while there is no standby to replicate to.
#[test]
fn sync_replication_trades_failed_writes_for_no_lost_ones() {
    let runs = variants("sync_replication");
    let get = |v: &str| variant(&runs, v);
    let (a, s) = (get("async"), get("sync"));
    let (ra, rs) = (&a.summary.replication[0], &s.summary.replication[0]);
    assert!(
        (1..=12).contains(&ra.acked_writes_lost),
        "{}",
        ra.acked_writes_lost
    );
    assert_eq!(rs.acked_writes_lost, 0);
    assert!(a.headline.availability > 0.99);
    // Sync fails writes for the 10 s the standby is down and the 5 s after the takeover.
    assert!(rs.refused_no_standby > 2_000, "{}", rs.refused_no_standby);
    assert!((0.7..0.85).contains(&s.headline.availability));
    let p50 = |x: &faultline::report::Analysed| x.summary.clients[0].latency.p50_ms;
    assert!(p50(s) - p50(a) > 18.0, "{} vs {}", p50(s), p50(a));
}

#[test]
fn pool_contention_outlives_the_slowdown_and_a_smaller_pool_recovers() {
    let runs = check(
        "pool_contention",
        &[
            Claim {
                variant: "pool-30",
                ending: "sustained",
                loop_says: "connection pools stay exhausted",
                min_availability: 0.0,
            },
            Claim {
                variant: "pool-15",
                ending: "recovered",
                loop_says: "",
                min_availability: 0.97,
            },
        ],
    );
    let stuck = variant(&runs, "pool-30");
    let by = stuck.headline.sustained_by.clone().unwrap_or_default();
    assert!(by.contains("(contention)"), "{by}");
    let story = stuck.cascade.narrative().join("\n");
    assert!(
        story.contains("held at its callers' pool limits"),
        "{story}"
    );
}

#[test]
fn stale_reads_come_from_the_cut_off_replica_and_a_lag_bound_caps_them() {
    let runs = variants("stale_reads");
    let get = |v: &str| variant(&runs, v);
    let reads = |v: &str| {
        get(v).summary.replication[0]
            .standby_reads
            .clone()
            .expect("reads at standbys")
    };
    for v in ["replicas", "max_lag", "primary"] {
        // Stale answers are ok answers: availability shows nothing.
        assert!(get(v).headline.availability > 0.999, "{v}");
    }
    // db/2 serves half of the 270 reads/s for the minute it is cut off, every one of them
    // missing writes (30 writes/s): about 8,100, up to the partition's 60 s old.
    let r = reads("replicas");
    assert!(r.stale > 7_700 && r.stale < 14_600, "{}", r.stale);
    assert!(
        (59_000.0..60_200.0).contains(&r.max_staleness_ms),
        "{}",
        r.max_staleness_ms
    );
    // With a 1 s bound db/2 is skipped a second into the partition; what is left is the
    // ordinary asynchronous lag: 30 writes/s x 5 ms in flight, so a read misses one with
    // probability about 1 - exp(-0.15) = 14% of the 32,400 reads of the run.
    let b = reads("max_lag");
    assert!(b.max_staleness_ms < 1_050.0, "{}", b.max_staleness_ms);
    assert!((3_500..5_500).contains(&b.stale), "{}", b.stale);
    assert_eq!(b.to_primary, 0, "db/1 qualifies throughout");
    assert!(get("primary").summary.replication[0]
        .standby_reads
        .is_none());
    let story = get("replicas").cascade.narrative().join(" ");
    assert!(
        story.contains("stale reads") && story.contains("during the partition"),
        "{story}"
    );
}

#[test]
fn priorities_keep_checkout_whole_while_browse_is_shed() {
    let runs = variants("priority_shedding");
    let buyers = |v: &str| {
        variant(&runs, v)
            .summary
            .clients
            .iter()
            .find(|c| c.name == "buyers")
            .cloned()
            .unwrap()
    };
    let (f, p) = (buyers("fifo"), buyers("priorities"));
    // Served first, checkout sees a server loaded by its own 100/s of 800/s: no wait to speak
    // of, so its p99 is the exponential service time's (10 ms x ln 100 = 46 ms) plus the link
    // both ways and a worker's residual time.
    assert!(p.ok_ratio > 0.999, "{}", p.ok_ratio);
    assert!(
        (44.0..55.0).contains(&p.latency.p99_ms),
        "{}",
        p.latency.p99_ms
    );
    assert!(f.ok_ratio < 0.9, "{}", f.ok_ratio);
    // Priorities move the shedding onto browse; they add no capacity.
    let avail = |v: &str| variant(&runs, v).headline.availability;
    assert!((avail("fifo") - avail("priorities")).abs() < 0.01);
    // The report says who gained and who paid, which the totals hide.
    let both: Vec<faultline::report::Analysed> = runs.into_iter().map(|(_, a)| a).collect();
    let lines = faultline::report::page::differences(&both).join(" ");
    assert!(
        lines.contains("by client: browsers") && lines.contains("buyers 8"),
        "{lines}"
    );
}
