//! Each rule of docs/analysis.md on its own, on hand-made series: one helper builds a frame of
//! the clients and one service from a few numbers per window, and each case says what the
//! rule must conclude.

use super::cascade::{Cascade, Ending, Trigger};
use super::frame::{col, EntitySeries, Frame, Kind, Row, COLUMNS};
use super::judge::{self, binomial_tail, elevated, Graph, Node, Signal, Slo};

/// One window of one entity: offered, ok, failed, p99 (ms), in flight.
#[derive(Clone, Copy)]
struct W(f64, f64, f64, f64, f64);

fn row(w: W) -> Row {
    let mut r = [f64::NAN; COLUMNS.len()];
    r[..col::OUTCOMES + 8].fill(0.0);
    r[col::OFFERED] = w.0;
    r[col::OK] = w.1;
    r[col::OUTCOMES + crate::model::Outcome::Error.index()] = w.2;
    r[col::P99] = w.3;
    r[col::IN_FLIGHT] = w.4;
    for c in [
        col::QUEUE_FULL,
        col::SHED,
        col::LATE,
        col::WASTED_S,
        col::QUEUE,
    ] {
        r[c] = 0.0;
    }
    r[col::UTILISATION] = 0.3;
    r[col::HEALTHY] = 1.0;
    let done = w.1 + w.2;
    r[col::ERROR_RATE] = if done > 0.0 { w.2 / done } else { f64::NAN };
    r
}

/// A frame of 1 s windows: the clients see `clients`, the service `svc` sees `service`.
fn frame(clients: &[W], service: &[W]) -> Frame {
    let n = clients.len();
    assert_eq!(n, service.len());
    Frame {
        window_s: 1.0,
        end_s: n as f64,
        entities: vec![
            EntitySeries {
                kind: Kind::System,
                name: "all".into(),
                rows: clients.iter().map(|&w| row(w)).collect(),
            },
            EntitySeries {
                kind: Kind::Service,
                name: "svc".into(),
                rows: service.iter().map(|&w| row(w)).collect(),
            },
        ],
        index: Default::default(),
    }
}

fn graph() -> Graph {
    Graph {
        services: vec![Node {
            name: "svc".into(),
            depth: 1,
            callees: vec![],
            contended: false,
            collects_garbage: false,
        }],
        calls: vec![],
        clients: vec![("c".into(), "svc".into())],
    }
}

fn slo() -> Slo {
    Slo {
        availability: 0.99,
        service_error_rate: 0.05,
        latency_p99_ms: None,
        from_s: 0.0,
    }
}

fn fault(start_s: f64, end_s: Option<f64>, instant: bool) -> Trigger {
    Trigger {
        label: "f".into(),
        start_s,
        end_s,
        load: false,
        instant,
        targets: vec!["svc".into()],
        direct_failures: Some(0),
    }
}

fn analyse(clients: &[W], service: &[W], triggers: Vec<Trigger>) -> Cascade {
    Cascade::analyse(&frame(clients, service), &graph(), triggers, &slo(), 10)
}

/// The signals of the service in each window, as lists of names.
fn service_signals(clients: &[W], service: &[W], trigger_s: Option<f64>) -> Vec<Vec<&'static str>> {
    let (j, _) = judge::judge(&frame(clients, service), &graph(), &slo(), trigger_s);
    j[1].signals
        .iter()
        .map(|s| s.list().into_iter().map(Signal::name).collect())
        .collect()
}

const OK: W = W(100.0, 100.0, 0.0, 10.0, 2.0);

#[test]
fn elevated_counts_and_binomial_tails() {
    for (x, m, want) in [
        (1.0, 0.0, false), // a single event over none is not elevated
        (2.0, 0.0, true),
        (12.0, 5.0, false), // 5 + 3 sqrt 5 + 1 = 12.7
        (13.0, 5.0, true),
        (201.0, 100.0, false), // double, plus one
        (202.0, 100.0, true),
    ] {
        assert_eq!(elevated(x, m), want, "elevated({x}, {m})");
    }
    for (n, k, p, want) in [
        (1, 1, 0.05, 0.05),
        (2, 2, 0.05, 0.0025),
        (3, 2, 0.05, 3.0 * 0.0025 * 0.95 + 0.000125),
        (4, 0, 0.05, 1.0),
    ] {
        assert!(
            (binomial_tail(n, k, p) - want).abs() < 1e-12,
            "P(X>={k}|{n},{p})"
        );
    }
}

#[test]
fn errors_are_judged_by_share_and_small_counts_by_surprise() {
    let healthy = [OK; 4];
    let check = |w: W, want: bool| {
        let mut s = [OK; 4];
        s[2] = w;
        let sig = service_signals(&healthy, &s, None);
        assert_eq!(sig[2].contains(&"errors"), want, "{:?}", sig[2]);
    };
    check(W(100.0, 94.0, 6.0, 10.0, 2.0), true); // 6% > 5%
    check(W(100.0, 95.0, 5.0, 10.0, 2.0), false); // at the SLO
    check(W(100.0, 0.0, 2.0, f64::NAN, 2.0), true); // 2 of 2 failed: P = 0.25%
    check(W(100.0, 0.0, 1.0, f64::NAN, 2.0), false); // 1 of 1: P = 5%, could be chance
    check(W(3.0, 0.0, 2.0, f64::NAN, 2.0), false); // too little offered to judge
}

#[test]
fn starved_needs_most_of_the_offered_work_unanswered() {
    let healthy = [OK; 4];
    let check = |w: W, want: bool| {
        let mut s = [OK; 4];
        s[2] = w;
        let sig = service_signals(&healthy, &s, None);
        assert_eq!(sig[2].contains(&"starved"), want, "{:?}", sig[2]);
    };
    // 0.5 x 0.95 x 400 - 3 x 20 = 130: a queue forming answers 300 of 400, not starved.
    check(W(400.0, 300.0, 0.0, 10.0, 2.0), false);
    check(W(400.0, 129.0, 0.0, 10.0, 2.0), true);
}

#[test]
fn no_progress_needs_three_windows_of_nothing_while_work_waits() {
    let stalled = W(50.0, 0.0, 0.0, f64::NAN, 30.0);
    let healthy = [OK; 8];
    let mut two = [OK; 8];
    two[3] = stalled;
    two[4] = stalled;
    let sig = service_signals(&healthy, &two, None);
    assert!(sig.iter().all(|s| !s.contains(&"no_progress")), "{sig:?}");
    let mut three = two;
    three[5] = stalled;
    let sig = service_signals(&healthy, &three, None);
    for (i, s) in sig.iter().enumerate() {
        assert_eq!(
            s.contains(&"no_progress"),
            (3..6).contains(&i),
            "window {i}: {s:?}"
        );
    }
}

/// Counts are judged against the baseline's mean taken at the window's load: a baseline of 2
/// late answers a window at 100 offered expects 4 at 200 offered, never fewer than 2.
#[test]
fn counts_are_judged_at_the_windows_load() {
    for (offered, late, want) in [
        (100.0, 8.0, true),  // same load: 8 is above max(4, 2 + 3 sqrt 2) + 1 = 7.2
        (100.0, 7.0, false), // and 7 is not
        (200.0, 8.0, false), // twice the load: against 4, the bar is max(8, 4 + 6) + 1 = 11
        (200.0, 12.0, true),
        (50.0, 8.0, true), // half the load: still against 2, not 1
    ] {
        let c = vec![OK; 11];
        let mut s = vec![OK; 11];
        s[10].0 = offered;
        s[10].1 = offered;
        let mut f = frame(&c, &s);
        for (i, r) in f.entities[1].rows.iter_mut().enumerate() {
            r[col::LATE] = if i < 10 { 2.0 } else { late };
        }
        let (j, _) = judge::judge(&f, &graph(), &slo(), Some(10.0));
        let got = j[1].signals[10].has(Signal::LateAnswers);
        assert_eq!(got, want, "{late} late answers at {offered} offered");
    }
}

#[test]
fn latency_against_the_baseline_only_after_the_first_trigger() {
    // Ten baseline windows at p99 10 ms, then 40 ms (4x the median, above 1.5x the worst).
    let mut s = vec![OK; 14];
    for w in &mut s[10..] {
        w.3 = 40.0;
    }
    let c = vec![OK; 14];
    let sig = service_signals(&c, &s, Some(10.0));
    assert!(sig[..10].iter().all(|x| x.is_empty()), "{sig:?}");
    assert!(sig[10..].iter().all(|x| x.contains(&"latency")), "{sig:?}");
    // Without a trigger there is no baseline to be slow against.
    let sig = service_signals(&c, &s, None);
    assert!(sig.iter().all(|x| x.is_empty()), "{sig:?}");
}

#[test]
fn one_window_gaps_are_bridged() {
    assert_eq!(
        judge::bridge(vec![true, false, true, false, false, true]),
        vec![true, true, true, false, false, true]
    );
}

#[test]
fn recovery_waits_for_the_backlog_not_only_the_slo() {
    // A fault from 10 s to 12 s; errors in 10-11; then no breach, but the backlog stays at
    // 40 (baseline 2) until 16 s.
    let mut s = vec![OK; 30];
    s[10] = W(100.0, 50.0, 50.0, 10.0, 40.0);
    s[11] = W(100.0, 50.0, 50.0, 10.0, 40.0);
    for w in &mut s[12..16] {
        w.4 = 40.0;
    }
    let c = s.clone();
    let cascade = analyse(&c, &s, vec![fault(10.0, Some(12.0), false)]);
    assert_eq!(cascade.recoveries[0].recovered_after_s, Some(4.0));
    assert_eq!(cascade.recovered_after_s, Some(4.0));
    assert_eq!(cascade.ending, Ending::Recovered { after_s: 4.0 });
}

#[test]
fn an_instant_trigger_starts_the_recovery_clock_at_its_instant() {
    let mut s = vec![OK; 30];
    for w in &mut s[10..14] {
        *w = W(100.0, 50.0, 50.0, 10.0, 2.0);
    }
    let c = s.clone();
    let cascade = analyse(&c, &s, vec![fault(10.0, None, true)]);
    let r = &cascade.recoveries[0];
    assert_eq!(r.from_s, Some(10.0));
    assert_eq!(r.recovered_after_s, Some(4.0));
    // A fault without an end that is not instant is in force: nothing is concluded.
    let cascade = analyse(&c, &s, vec![fault(10.0, None, false)]);
    assert_eq!(cascade.recoveries[0].recovered_after_s, None);
    assert!(matches!(cascade.ending, Ending::InForce { .. }));
}

#[test]
fn too_few_windows_after_the_last_trigger_is_undecided() {
    let mut s = vec![OK; 20];
    for w in &mut s[10..] {
        *w = W(100.0, 50.0, 50.0, 10.0, 2.0);
    }
    let c = s.clone();
    let cascade = analyse(&c, &s, vec![fault(10.0, Some(17.0), false)]);
    match &cascade.ending {
        Ending::Undecided { reason } => assert!(reason.contains("too short"), "{reason}"),
        e => panic!("{e:?}"),
    }
    assert_eq!(cascade.ending.metastable(), None);
}

#[test]
fn the_faulted_target_leads_its_window_and_a_contained_fault_says_so() {
    let mut s = vec![OK; 30];
    for w in &mut s[10..12] {
        *w = W(100.0, 50.0, 50.0, 10.0, 2.0);
    }
    let cascade = analyse(&[OK; 30], &s, vec![fault(10.0, Some(12.0), false)]);
    assert_eq!(cascade.chain[0].service, "svc");
    assert_eq!(cascade.origins[0].degraded, vec!["svc".to_string()]);
    assert!(cascade
        .narrative()
        .iter()
        .any(|l| l.starts_with("Origin: f hit svc")));
    // Nothing degrades: contained.
    let cascade = analyse(&[OK; 30], &[OK; 30], vec![fault(10.0, Some(12.0), false)]);
    assert!(cascade.chain.is_empty());
    assert!(
        cascade
            .narrative()
            .iter()
            .any(|l| l == "f was contained: svc did not degrade and the clients held their SLO."),
        "{:?}",
        cascade.narrative()
    );
}
