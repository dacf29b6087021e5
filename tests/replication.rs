//! Active-passive failover, replication loss and split brain, checked against arithmetic done
//! here from the scenario's own numbers (evenly spaced writes, constant lags, heartbeat ticks),
//! never against earlier output.

use faultline::metrics::{ReplicationSummary, Summary};
use faultline::runner;
use faultline::scenario::{self, Overrides};

fn run_text(text: &str) -> Summary {
    let sc = scenario::from_str(text, "case.ron", &Overrides::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let r = runner::run(&sc);
    assert!(r.stopped.is_none(), "{:?}", r.stopped);
    r.summary
}

fn db(s: &Summary) -> &ReplicationSummary {
    s.replication
        .iter()
        .find(|r| r.service == "db")
        .expect("db is active-passive")
}

/// Writes every 10 ms (100/s, evenly spaced, the first at 10 ms), 1 ms of service, no network
/// latency, workers enough for synchronous writes that hold theirs for the lag; heartbeats
/// every 100 ms, takeover after 3 missed; db/0 crashes at `crash`.
fn crash_case(replication: &str, crash: &str) -> String {
    format!(
        r#"Scenario(
    name: "crash_case", seed: 3, duration: "20s",
    default_link_latency: Constant("0s"),
    clients: [(name: "w", target: "db", load: Open(rate_per_s: 100.0, arrivals: Constant), timeout: "5s")],
    services: [(
        name: "db", replicas: 2, workers: 64, queue_capacity: 100,
        service_time: Constant("1ms"),
        active_passive: (heartbeat_interval: "100ms", missed_heartbeats: 3, replication: {replication}),
        restart: (delay: "60s"),
    )],
    faults: [(at: "{crash}", fault: Crash("db/0"))],
)"#
    )
}

#[test]
fn async_failover_loses_exactly_the_writes_acknowledged_but_not_yet_shipped() {
    // Write k arrives at k x 10 ms and is acknowledged 1 ms later; with a constant lag L it is
    // shipped at ack + L. A crash at t_c loses the writes acknowledged in (t_c - L, t_c].
    for (lag_ms, crash_s, expect) in [
        // acks at 9.801 .. 9.991 s: k = 980..999
        (200u64, 10.0005f64, 20u64),
        // acks in (9.9505, 10.0005]: 9.951 .. 9.991
        (50, 10.0005, 5),
        // acks in (14.0002, 15.0002]: 14.001 .. 14.991 (15.001 is after the crash)
        (1000, 15.0002, 100),
        // a lag shorter than one write gap: at most the last one (acked 10.001 <= 10.0015)
        (1, 10.0015, 1),
    ] {
        // Independent count from the arithmetic above.
        let t_c = crash_s;
        let lag = lag_ms as f64 / 1000.0;
        let counted = (1..2000u64)
            .map(|k| k as f64 * 0.010 + 0.001)
            .filter(|&a| a > t_c - lag + 1e-9 && a <= t_c)
            .count() as u64;
        assert_eq!(counted, expect, "worked example for lag {lag_ms} ms");
        let s = run_text(&crash_case(
            &format!(r#"Async(lag: Constant("{lag_ms}ms"))"#),
            &format!("{crash_s}s"),
        ));
        let r = db(&s);
        assert_eq!(r.failovers.len(), 1, "{r:?}");
        assert_eq!(r.failovers[0].writes_lost, expect, "lag {lag_ms} ms: {r:?}");
        assert_eq!(r.acked_writes_lost, expect);
        assert_eq!(r.conflicting_writes, 0);
        assert_eq!(r.split_brain_s, 0.0);
    }
}

#[test]
fn promotion_comes_after_the_missed_heartbeats() {
    // The last heartbeat the standby hears is the round at or before the crash (rounds at
    // multiples of 100 ms); it takes over at the first round 300 ms or more after it.
    for (crash_s, expect_s) in [(10.0005, 10.3), (10.05, 10.3), (10.0999, 10.3), (7.25, 7.5)] {
        let s = run_text(&crash_case(
            r#"Async(lag: Constant("10ms"))"#,
            &format!("{crash_s}s"),
        ));
        let f = &db(&s).failovers[0];
        assert!(
            (f.at_s - expect_s).abs() < 1e-9,
            "crash at {crash_s}: promoted at {} not {expect_s}",
            f.at_s
        );
        assert_eq!(f.to, "db/1");
        assert_eq!(f.from.as_deref(), Some("db/0"));
        assert_eq!(db(&s).primaries_at_end, vec!["db/1".to_string()]);
    }
}

#[test]
fn sync_failover_loses_nothing_and_acknowledges_after_the_lag() {
    let s = run_text(&crash_case(r#"Sync(lag: Constant("200ms"))"#, "10.0005s"));
    let r = db(&s);
    assert_eq!(r.failovers.len(), 1);
    assert_eq!(r.acked_writes_lost, 0, "{r:?}");
    // Every acknowledged write waited 1 ms of service and the 200 ms lag.
    let c = &s.clients[0];
    assert!(
        (c.latency.p50_ms - 201.0).abs() < 0.5,
        "p50 {}",
        c.latency.p50_ms
    );
    // Write k arrives at k x 10 ms, finishes service 1 ms later and waits 200 ms for the
    // standby: those still waiting at the crash were never acknowledged and are reset.
    let arrivals = || (1..2000u64).map(|k| k as f64 * 0.010);
    let reset = arrivals()
        .filter(|&t| t <= 10.0005 && t + 0.201 > 10.0005)
        .count() as u64;
    // Until db/1 takes over at the 10.3 round, writes go to the dead primary: refused.
    let refused = arrivals().filter(|&t| t > 10.0005 && t < 10.3).count() as u64;
    // After it, db/1 has no standby left to acknowledge a synchronous write: every write that
    // finishes its service before the end of the run fails.
    let no_standby = arrivals()
        .filter(|&t| t >= 10.3 && t + 0.001 <= 20.0)
        .count() as u64;
    assert_eq!((reset, refused, no_standby), (21, 29, 970));
    assert_eq!(c.outcomes.error, reset + no_standby, "{:?}", c.outcomes);
    assert_eq!(c.outcomes.refused, refused);
    assert_eq!(r.refused_no_standby, no_standby);
}

#[test]
fn a_returning_primary_rejoins_as_standby_of_the_newer_epoch() {
    let text = crash_case(r#"Async(lag: Constant("10ms"))"#, "5.0005s")
        .replace(r#"(delay: "60s")"#, r#"(delay: "5s")"#);
    let s = run_text(&text);
    let r = db(&s);
    assert_eq!(r.failovers.len(), 1, "{r:?}");
    assert_eq!(r.primaries_at_end, vec!["db/1".to_string()]);
    assert_eq!(r.split_brain_s, 0.0);
    assert_eq!(r.conflicting_writes, 0);
}

/// Three replicas, two writers: `a` beside db/0 (the primary), `b` beside db/1 and db/2. From
/// 10.05 s to 20.05 s the two sides cannot talk.
fn split_case(fencing: &str) -> String {
    format!(
        r#"Scenario(
    name: "split_case", seed: 5, duration: "30s",
    default_link_latency: Constant("0s"),
    clients: [
        (name: "a", target: "db", load: Open(rate_per_s: 100.0, arrivals: Constant), timeout: "1s"),
        (name: "b", target: "db", load: Open(rate_per_s: 50.0, arrivals: Constant), timeout: "1s"),
    ],
    services: [(
        name: "db", replicas: 3, workers: 4, queue_capacity: 100,
        service_time: Constant("1ms"),
        active_passive: (heartbeat_interval: "100ms", missed_heartbeats: 3,
                         replication: Async(lag: Constant("5ms")), {fencing}),
    )],
    faults: [(at: "10.05s", until: "20.05s",
              fault: Partition(from: ["a", "db/0"], to: ["b", "db/1", "db/2"]))],
)"#
    )
}

#[test]
fn split_brain_without_fencing_takes_conflicting_writes() {
    let s = run_text(&split_case("fencing: None"));
    let r = db(&s);
    // db/1 stops hearing db/0 after the 10.0 round and takes over at the 10.3 round; db/0 keeps
    // its clients' writes until the partition heals and it hears db/1 at the 20.1 round.
    assert_eq!(r.failovers.len(), 1, "{r:?}");
    assert!((r.failovers[0].at_s - 10.3).abs() < 1e-9, "{r:?}");
    assert_eq!(r.failovers[0].to, "db/1");
    assert_eq!(r.split_brain_intervals.len(), 1);
    let (from, to) = r.split_brain_intervals[0];
    assert!(
        (from - 10.3).abs() < 1e-9 && (to - 20.1).abs() < 1e-9,
        "{r:?}"
    );
    assert!((r.split_brain_s - 9.8).abs() < 1e-6);
    // Writer a (every 10 ms, acked 1 ms after arrival) reaches only db/0: its writes acked in
    // [10.3, 20.05) conflict: arrivals k x 10 ms with 10.3 <= k x 10 ms + 1 ms < 20.05.
    let expect = (1..3000u64)
        .map(|k| k as f64 * 0.010 + 0.001)
        .filter(|&t| (10.3..20.05).contains(&t))
        .count() as u64;
    assert_eq!(expect, 975);
    assert_eq!(r.conflicting_writes, expect, "{r:?}");
    // Lost: the conflicting ones, plus whatever db/1 had not received of db/0's log at 10.05.
    assert!(r.acked_writes_lost >= r.conflicting_writes);
    assert_eq!(r.primaries_at_end, vec!["db/1".to_string()]);
}

#[test]
fn quorum_fencing_leaves_no_conflicting_writes() {
    let s = run_text(&split_case(r#"fencing: Quorum(lease: "250ms")"#));
    let r = db(&s);
    assert_eq!(r.split_brain_s, 0.0, "{r:?}");
    assert_eq!(r.conflicting_writes, 0);
    // db/1 wins db/2's vote at the 10.3 round; db/0's lease (last renewed at the 10.0 round)
    // ran out at 10.25, so from then on writer a's writes are refused.
    assert_eq!(r.failovers.len(), 1);
    assert!((r.failovers[0].at_s - 10.3).abs() < 1e-9, "{r:?}");
    // Refused at db/0: writes arriving in [10.25, 20.05) (db/0 cannot renew until the heal, and
    // then it hears db/1's newer epoch at the 20.1 round and steps down).
    let refused = (1..3000u64)
        .map(|k| k as f64 * 0.010 + 0.001)
        .filter(|&t| (10.25..20.05).contains(&t))
        .count() as u64;
    assert_eq!(r.refused_not_primary, refused, "{r:?}");
    assert_eq!(r.primaries_at_end, vec!["db/1".to_string()]);
}

#[test]
fn a_minority_side_cannot_elect_with_quorum_fencing() {
    // Cut db/2 alone away: it never hears the primary but cannot win a majority, so nothing
    // changes; without fencing it would promote itself.
    let text = split_case(r#"fencing: Quorum(lease: "250ms")"#).replace(
        r#"Partition(from: ["a", "db/0"], to: ["b", "db/1", "db/2"])"#,
        r#"Partition(from: ["db/2"], to: ["a", "b", "db/0", "db/1"])"#,
    );
    let r = db(&run_text(&text)).clone();
    assert_eq!(r.failovers.len(), 0, "{r:?}");
    assert_eq!(r.refused_not_primary, 0);
    let unfenced = text.replace(r#"fencing: Quorum(lease: "250ms")"#, "fencing: None");
    let r = db(&run_text(&unfenced)).clone();
    assert_eq!(r.failovers.len(), 1, "{r:?}");
    assert_eq!(r.failovers[0].to, "db/2");
    // Nobody can reach db/2, so nobody writes to it, but it holds the newest epoch: when the
    // partition heals db/0 hears it and steps down, and everything db/0 acknowledged after
    // db/2's promotion (10.3) is on the losing branch. Writer a every 10 ms, writer b every
    // 20 ms, each acknowledged 1 ms after arrival, in [10.3, 20.05).
    let acked = |gap: f64| {
        (1..3000u64)
            .map(|k| k as f64 * gap + 0.001)
            .filter(|&t| (10.3..20.05).contains(&t))
            .count() as u64
    };
    assert_eq!(r.conflicting_writes, acked(0.010) + acked(0.020), "{r:?}");
    assert!((r.split_brain_s - 9.8).abs() < 1e-6, "{r:?}");
    assert_eq!(r.primaries_at_end, vec!["db/2".to_string()]);
}

#[test]
fn a_standby_cut_off_for_a_while_catches_up_before_it_is_needed() {
    // Synchronous replication to db/1 and db/2, quorum fencing (so the cut-off db/2 cannot
    // elect itself); db/2 is cut off from 5 s to 8 s (writes are acknowledged on db/1 alone
    // meanwhile), then catches up in full at the first heartbeat round after the heal. At 10 s
    // db/0 crashes: db/1 and db/2 both have every acknowledged write, db/1 takes over (the lower
    // number), and nothing is lost.
    let text = r#"Scenario(
    name: "catch_up", seed: 3, duration: "15s",
    default_link_latency: Constant("0s"),
    clients: [(name: "w", target: "db", load: Open(rate_per_s: 100.0, arrivals: Constant), timeout: "5s")],
    services: [(
        name: "db", replicas: 3, workers: 64, queue_capacity: 100,
        service_time: Constant("1ms"),
        active_passive: (heartbeat_interval: "100ms", missed_heartbeats: 3,
                         replication: Sync(lag: Constant("2ms")),
                         fencing: Quorum(lease: "250ms")),
        restart: (delay: "60s"),
    )],
    faults: [
        (at: "5.0005s", until: "8.0005s", fault: Partition(from: ["db/2"], to: ["db/0", "db/1"])),
        (at: "10.0005s", fault: Crash("db/0")),
    ],
)"#;
    let s = run_text(text);
    let r = db(&s);
    assert_eq!(r.failovers.len(), 1, "{r:?}");
    assert_eq!(r.failovers[0].to, "db/1");
    assert_eq!(r.acked_writes_lost, 0, "{r:?}");
    assert_eq!(r.split_brain_s, 0.0);
    // db/2 voted for db/1 with as much of the log: it had caught up.
    assert_eq!(r.refused_no_standby, 0, "{r:?}");
}
