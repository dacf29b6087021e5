//! The story of a run: what set it off (triggers), which services the faults hit and whether
//! they degraded (origin), how the degradation spread along the call graph and why at each
//! step (the chain, with causes), when the system was back (one definition of recovery), what
//! each fault cost (direct and induced failures), and what state it was left in after the last
//! trigger (recovered, recovering with a drain time, sustained by a named loop: metastable, or
//! undecided). The rules are docs/analysis.md's.
//!
//! It reads a [`Frame`] and the judgement of its windows (`judge.rs`); it does not know how the
//! frame was made or how the story is drawn. Windows inside the warm-up are not judged.

use super::frame::{col, EntitySeries, Frame, Kind};
use super::judge::{self, Graph, Judged, Signal, Signals, Slo, MIN_REQUESTS};
use super::words::pct;
pub use super::words::{count, ms, secs};
use serde::Serialize;

/// A run needs this many judged windows after its last trigger before anything is concluded
/// about how it ended.
pub const MIN_WINDOWS_AFTER: usize = 5;

/// Something that can set off a cascade: a fault window or a load surge.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Trigger {
    pub label: String,
    pub start_s: f64,
    /// None: lasts to the end of the run (for an instant trigger: always None).
    pub end_s: Option<f64>,
    /// A load surge rather than an injected fault.
    pub load: bool,
    /// Acts at its start only (a cache flush; a change with no end).
    pub instant: bool,
    /// The services it acts on directly (a load surge: its client's entry service).
    pub targets: Vec<String>,
    /// Requests the fault itself failed (faults only).
    pub direct_failures: Option<u64>,
}

impl Trigger {
    /// When its impact can start to end: its end, or its instant; None while in force.
    pub fn over_s(&self) -> Option<f64> {
        if self.instant {
            Some(self.start_s)
        } else {
            self.end_s
        }
    }
}

/// The worst a service looked while degraded.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Worst {
    pub error_rate: f64,
    pub p99_ms: f64,
    pub utilisation: f64,
    pub queue_fill: f64,
}

/// One step of the chain.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Step {
    pub service: String,
    pub first_degraded_s: f64,
    /// When it first broke its SLO (None: it degraded but held its SLO).
    pub first_breach_s: Option<f64>,
    /// Degraded in the same window as the step before it.
    pub simultaneous: bool,
    /// A callee degraded in that window or the one before: the way it was likely reached.
    pub reached_through: Option<String>,
    /// The first-named of `causes`: what most directly made it degrade.
    pub cause: String,
    /// The signals of its first two degraded windows, in naming order.
    pub causes: Vec<String>,
    /// The cause figures, in words, one per cause.
    pub cause_words: Vec<String>,
    /// Signals that appeared only later while it was degraded, each with when it first did
    /// and its figures then: (signal, at_s, words).
    pub later_causes: Vec<(String, f64, String)>,
    /// The latest trigger that had started by then.
    pub after_trigger: Option<String>,
    pub worst: Worst,
}

/// A fault and the targets it hit that degraded.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Origin {
    pub trigger: String,
    /// Its targets that degraded while it acted (empty: contained).
    pub degraded: Vec<String>,
    /// Of those, the ones already degraded in the window before it started (by an earlier
    /// trigger): it hit them when they were down already.
    pub already_degraded: Vec<String>,
    /// Its targets that did not.
    pub held: Vec<String>,
    pub first_degraded_s: Option<f64>,
    /// The clients breached their SLO while it acted: it was not contained, whatever its
    /// targets did.
    pub clients_breached: bool,
}

/// What one trigger cost and when the system was back after it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Recovery {
    pub trigger: String,
    pub start_s: f64,
    /// When the recovery clock starts: the trigger's end, or its instant (None: in force).
    pub from_s: Option<f64>,
    /// From `from_s` to the start of the first window from which, until the next trigger or
    /// the end, nothing breaches and every backlog is near its baseline (None: never).
    pub recovered_after_s: Option<f64>,
    /// Requests the fault itself failed (faults only).
    pub direct_failures: Option<u64>,
    /// Client requests that failed from its start until it recovered (or the run ended).
    pub induced_failures: u64,
    /// Back within the SLO while the trigger still acted: something inside the system (an
    /// autoscaler, a limiter) absorbed it. From this time to the trigger's end nothing
    /// breached, for at least five judged windows (None: it breached until its end).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub within_s: Option<f64>,
    /// Nothing breached from its start until it was over, and everything was back within a
    /// window of its end: absorbed.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub absorbed: bool,
}

/// How the run stood after its last trigger.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Ending {
    /// No trigger: nothing to recover from.
    NoTrigger,
    /// A fault lasts to the end of the run.
    InForce {
        trigger: String,
    },
    Recovered {
        after_s: f64,
    },
    /// Still in breach, but the backlog drains: back near its baseline at `back_at_s`.
    Recovering {
        backlog: f64,
        drain_per_s: f64,
        back_at_s: f64,
    },
    /// Metastable: a loop holds a service above what it can complete.
    Sustained {
        service: String,
        by: String,
        /// Arrivals per second at the service, what the users' own load would bring, and
        /// what it completes.
        arrivals_per_s: f64,
        own_load_per_s: f64,
        completes_per_s: f64,
        /// Held by its callers' exhausted connection pools rather than saturated workers.
        #[serde(skip_serializing_if = "std::ops::Not::not")]
        pool_bound: bool,
    },
    Undecided {
        reason: String,
    },
}

impl Ending {
    /// Metastable: true for a sustained breach, false for a recovery (done or under way), None
    /// when nothing can be concluded.
    pub fn metastable(&self) -> Option<bool> {
        match self {
            Ending::Sustained { .. } => Some(true),
            Ending::Recovered { .. } | Ending::Recovering { .. } => Some(false),
            Ending::NoTrigger | Ending::InForce { .. } | Ending::Undecided { .. } => None,
        }
    }
    pub fn name(&self) -> &'static str {
        match self {
            Ending::NoTrigger => "no_trigger",
            Ending::InForce { .. } => "in_force",
            Ending::Recovered { .. } => "recovered",
            Ending::Recovering { .. } => "recovering",
            Ending::Sustained { .. } => "sustained",
            Ending::Undecided { .. } => "undecided",
        }
    }
}

/// An entity's breach and degradation intervals (`[start_s, end_s)`), for tables and plots.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Intervals {
    pub name: String,
    pub depth: usize,
    pub breached: Vec<(f64, f64)>,
    pub degraded: Vec<(f64, f64)>,
}

/// Wasted work of one service: answers nobody waited for any more.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Wasted {
    pub service: String,
    pub late_answers: u64,
    pub worker_s: f64,
}

/// The whole analysis.
#[derive(Clone, Debug, PartialEq)]
pub struct Cascade {
    pub triggers: Vec<Trigger>,
    /// The clients first, then every service: each window's signals.
    pub judged: Vec<Judged>,
    /// The same, as intervals.
    pub intervals: Vec<Intervals>,
    pub origins: Vec<Origin>,
    pub chain: Vec<Step>,
    pub first_trigger: Option<String>,
    pub services_degraded: usize,
    pub services_breached: usize,
    pub services_total: usize,
    /// Client requests that failed, of all judged ones ...
    pub failed_share: f64,
    /// ... and of those finished from the first trigger to the last breach.
    pub failed_share_during_incident: Option<f64>,
    pub recoveries: Vec<Recovery>,
    /// After the last trigger: from its end (or instant) until everything was back.
    pub recovered_after_s: Option<f64>,
    pub ending: Ending,
    pub wasted: Vec<Wasted>,
    /// Triggers exist but the baseline before them is too short for the relative rules.
    pub baseline_windows: usize,
    /// Client answers and open breakers over the judged windows: with no trigger there is no
    /// before and after, and these say what held throughout.
    pub steady: Steady,
    /// What each autoscaler did, and the reads standbys served (by service), filled from the
    /// summary by `report::analyse`.
    pub scaling: Vec<super::scaling::Scaling>,
    pub standby_reads: Vec<(String, crate::model::replication::StandbyReads)>,
}

/// A run without triggers: its baseline is the run itself, so a condition present from the
/// start (a hung dependency answered by fallbacks) is never "degraded". These are the facts
/// that say what that condition was.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Steady {
    /// Client requests finished in the judged windows, by outcome.
    pub ok: u64,
    pub degraded: u64,
    pub failed: u64,
    /// Breakers (a call edge's or a client's) open at the end of this share of judged windows.
    pub breakers_open: Vec<(String, f64)>,
}

fn window_of(t: f64, w: f64) -> usize {
    ((t / w) + 1e-9).floor().max(0.0) as usize
}

fn first_window_from(t: f64, w: f64) -> usize {
    ((t / w) - 1e-9).ceil().max(0.0) as usize
}

fn intervals(frame: &Frame, f: &[bool]) -> Vec<(f64, f64)> {
    let n = f.len();
    let mut out = Vec::new();
    let mut i = 0;
    while i < n {
        if f[i] {
            let s = i;
            while i < n && f[i] {
                i += 1;
            }
            out.push((frame.t(s), frame.t(i).min(frame.end_s)));
        } else {
            i += 1;
        }
    }
    out
}

/// Least-squares slope of `(x, y)` points (NaN with fewer than two distinct x).
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if n < 2.0 {
        return f64::NAN;
    }
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx) * (p.0 - mx)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    if sxx > 0.0 {
        sxy / sxx
    } else {
        f64::NAN
    }
}

impl Cascade {
    pub fn analyse(
        frame: &Frame,
        graph: &Graph,
        triggers: Vec<Trigger>,
        slo: &Slo,
        tail_windows: usize,
    ) -> Cascade {
        let n = frame.windows();
        let w = frame.window_s;
        let first_start = triggers
            .iter()
            .map(|t| t.start_s)
            .fold(f64::INFINITY, f64::min);
        let first_trigger_s = first_start.is_finite().then_some(first_start);
        let (judged, from) = judge::judge(frame, graph, slo, first_trigger_s);
        let is_judged = |i: usize| judge::judged(frame, slo, i);
        // Degradation is judged, and the chain starts, where the baseline ended.
        let from = from.unwrap_or(0);

        let intervals_all: Vec<Intervals> = judged
            .iter()
            .map(|j| Intervals {
                name: j.name.clone(),
                depth: j.depth,
                breached: intervals(frame, &j.breach),
                degraded: intervals(frame, &j.degraded),
            })
            .collect();

        let chain = chain(frame, graph, &judged, &triggers, from);
        let first_degraded = chain
            .first()
            .map(|s| s.first_degraded_s)
            .into_iter()
            .chain(judged[0].breach.iter().position(|&b| b).map(|i| frame.t(i)))
            .fold(f64::INFINITY, f64::min);
        // The first trigger that had started when the first degradation began; at the same
        // instant a fault before a load surge.
        let first_trigger = triggers
            .iter()
            .filter(|t| t.start_s < first_degraded + w)
            .min_by(|a, b| a.start_s.total_cmp(&b.start_s).then(a.load.cmp(&b.load)))
            .map(|t| t.label.clone());

        let mut starts: Vec<f64> = triggers.iter().map(|t| t.start_s).collect();
        starts.sort_by(f64::total_cmp);
        let recoveries: Vec<Recovery> = triggers
            .iter()
            .map(|t| recovery(frame, &judged, &starts, t, slo))
            .collect();
        let origins = origins(frame, graph, &judged, &triggers, &recoveries);

        // Blast radius over the judged client requests.
        let sys = frame.system();
        let failed_in = |range: &mut dyn Iterator<Item = usize>| {
            let (mut failed, mut all) = (0.0, 0.0);
            for i in range.filter(|&i| is_judged(i)) {
                let done = sys.finished(i);
                all += done;
                failed += done - sys.rows[i][col::OK] - sys.rows[i][col::DEGRADED];
            }
            (failed, all)
        };
        let (failed, all) = failed_in(&mut (0..n));
        let last_breach_end = intervals_all
            .iter()
            .filter_map(|b| b.breached.last().map(|iv| iv.1))
            .fold(f64::NEG_INFINITY, f64::max);
        let incident_start = first_start.min(first_degraded);
        let failed_share_during_incident = (last_breach_end > incident_start).then(|| {
            let a = window_of(incident_start, w);
            let b = first_window_from(last_breach_end, w).min(n);
            let (f, all) = failed_in(&mut (a..b));
            if all > 0.0 {
                f / all
            } else {
                0.0
            }
        });

        let last = last_trigger(&triggers);
        let recovered_after_s = last.and_then(|t| {
            recoveries
                .iter()
                .find(|r| r.trigger == t.label)
                .and_then(|r| r.recovered_after_s)
        });
        let ending = ending(
            &Ctx {
                frame,
                graph,
                judged: &judged,
                triggers: &triggers,
                slo,
            },
            recovered_after_s,
            tail_windows,
            from,
        );
        let wasted = judged
            .iter()
            .skip(1)
            .filter_map(|j| {
                let e = frame.get(Kind::Service, &j.name)?;
                let (mut late, mut secs) = (0.0, 0.0);
                for i in (0..n).filter(|&i| is_judged(i)) {
                    late += e.rows[i][col::LATE].max(0.0);
                    secs += e.rows[i][col::WASTED_S].max(0.0);
                }
                (late > 0.0).then(|| Wasted {
                    service: j.name.clone(),
                    late_answers: late.round() as u64,
                    worker_s: secs,
                })
            })
            .collect();
        let steady = {
            let sys = frame.system();
            let judged_windows: Vec<usize> = (0..n).filter(|&i| is_judged(i)).collect();
            let sum = |c: usize| -> f64 {
                judged_windows
                    .iter()
                    .map(|&i| sys.rows[i][c].max(0.0))
                    .sum()
            };
            let finished: f64 = judged_windows.iter().map(|&i| sys.finished(i)).sum();
            let (ok, degraded) = (sum(col::OK), sum(col::DEGRADED));
            let breakers_open = frame
                .entities
                .iter()
                .filter(|e| matches!(e.kind, Kind::Call | Kind::Client))
                .filter_map(|e| {
                    let open = judged_windows
                        .iter()
                        .filter(|&&i| e.rows[i][col::BREAKERS_OPEN] > 0.0)
                        .count();
                    (open > 0).then(|| {
                        (
                            match e.kind {
                                Kind::Client => format!("client {}", e.name),
                                _ => e.name.clone(),
                            },
                            open as f64 / judged_windows.len().max(1) as f64,
                        )
                    })
                })
                .collect();
            Steady {
                ok: ok.round() as u64,
                degraded: degraded.round() as u64,
                failed: (finished - ok - degraded).max(0.0).round() as u64,
                breakers_open,
            }
        };
        Cascade {
            steady,
            scaling: Vec::new(),
            standby_reads: Vec::new(),
            services_degraded: chain.len(),
            services_breached: chain.iter().filter(|s| s.first_breach_s.is_some()).count(),
            services_total: judged.len() - 1,
            baseline_windows: judged[0].baseline.windows,
            triggers,
            intervals: intervals_all,
            judged,
            origins,
            chain,
            first_trigger,
            failed_share: if all > 0.0 { failed / all } else { 0.0 },
            failed_share_during_incident,
            recoveries,
            recovered_after_s,
            ending,
            wasted,
        }
    }
}

/// The trigger whose impact ends last (None if there is none, or one lasts to the end).
fn last_trigger(triggers: &[Trigger]) -> Option<&Trigger> {
    if triggers.iter().any(|t| t.over_s().is_none()) {
        return None;
    }
    triggers
        .iter()
        .max_by(|a, b| a.over_s().unwrap().total_cmp(&b.over_s().unwrap()))
}

/// Does any entity breach its SLO in window `i`?
fn any_breach(judged: &[Judged], i: usize) -> bool {
    judged.iter().any(|j| j.breach[i])
}

/// Is every entity's backlog near its baseline in window `i`?
fn backlogs_near(judged: &[Judged], frame: &Frame, i: usize) -> bool {
    judged.iter().all(|j| {
        if !j.baseline.usable() {
            return true;
        }
        let e = if j.clients {
            Some(frame.system())
        } else {
            frame.get(Kind::Service, &j.name)
        };
        e.is_none_or(|e| j.baseline.backlog_near(e.rows[i][col::IN_FLIGHT]))
    })
}

/// Judged windows a backlog must stay near its baseline to count as settled.
const SETTLED_WINDOWS: usize = 5;

/// `starts`: every trigger's start, ascending.
fn recovery(frame: &Frame, judged: &[Judged], starts: &[f64], t: &Trigger, slo: &Slo) -> Recovery {
    let n = frame.windows();
    let w = frame.window_s;
    let is_judged = |i: usize| judge::judged(frame, slo, i);
    let back = t.over_s().and_then(|e| {
        let k0 = first_window_from(e, w);
        // The next trigger's start (or the end).
        let next = starts
            .get(starts.partition_point(|&s| s <= e + 1e-9))
            .map_or(frame.end_s, |&s| s.min(frame.end_s));
        let stop = first_window_from(next, w).min(n);
        let windows: Vec<usize> = (k0..stop).filter(|&i| is_judged(i)).collect();
        // Back: the SLO holds from here on (until the next trigger or the end) ...
        let after_last_breach = match windows.iter().rposition(|&i| any_breach(judged, i)) {
            None => 0,
            Some(p) => p + 1,
        };
        // ... and every backlog is near its baseline here and in the windows that follow.
        (after_last_breach..windows.len())
            .find(|&p| {
                windows[p..]
                    .iter()
                    .take(SETTLED_WINDOWS)
                    .all(|&i| backlogs_near(judged, frame, i))
            })
            .map(|p| (frame.t(windows[p]) - e).max(0.0))
    });
    // Absorbed while it went on: breaches after its start, then none for the rest of it.
    let within = match (t.end_s, back) {
        (Some(e), Some(after)) if after < w && e > t.start_s => {
            let windows: Vec<usize> = (window_of(t.start_s, w)..first_window_from(e, w).min(n))
                .filter(|&i| is_judged(i))
                .collect();
            windows
                .iter()
                .rposition(|&i| any_breach(judged, i))
                .filter(|&p| windows.len() - (p + 1) >= SETTLED_WINDOWS)
                .map(|p| frame.t(windows[p + 1]))
        }
        _ => None,
    };
    // Induced: client requests failed from the trigger's start until it recovered.
    let sys = frame.system();
    let a = window_of(t.start_s, w);
    let b = match (t.over_s(), back, within) {
        (_, _, Some(at)) => first_window_from(at, w).min(n),
        (Some(e), Some(after), None) => first_window_from(e + after, w).min(n),
        _ => n,
    };
    let absorbed = back.is_some_and(|after| after < w)
        && !(a..b.max(a)).any(|i| is_judged(i) && any_breach(judged, i));
    let induced: f64 = (a..b.max(a))
        .filter(|&i| is_judged(i))
        .map(|i| sys.finished(i) - sys.rows[i][col::OK] - sys.rows[i][col::DEGRADED])
        .sum();
    Recovery {
        trigger: t.label.clone(),
        start_s: t.start_s,
        from_s: t.over_s(),
        recovered_after_s: back,
        direct_failures: t.direct_failures,
        induced_failures: induced.max(0.0).round() as u64,
        within_s: within,
        absorbed,
    }
}

/// Each fault and what its targets did while it acted (from its start to its recovery).
fn origins(
    frame: &Frame,
    graph: &Graph,
    judged: &[Judged],
    triggers: &[Trigger],
    recoveries: &[Recovery],
) -> Vec<Origin> {
    let n = frame.windows();
    let w = frame.window_s;
    triggers
        .iter()
        .zip(recoveries)
        .filter(|(t, _)| !t.load)
        .map(|(t, r)| {
            let a = window_of(t.start_s, w);
            let b = match (r.from_s, r.recovered_after_s) {
                (Some(e), Some(after)) => first_window_from(e + after, w).max(a + 1),
                _ => n,
            }
            .min(n);
            let mut degraded = Vec::new();
            let mut already_degraded = Vec::new();
            let mut held = Vec::new();
            let mut first = f64::INFINITY;
            for name in &t.targets {
                let Some(j) = judged.iter().find(|j| !j.clients && &j.name == name) else {
                    continue;
                };
                match (a..b).find(|&i| j.degraded[i]) {
                    Some(i) => {
                        first = first.min(frame.t(i));
                        degraded.push(name.clone());
                        if a > 0 && j.degraded[a - 1] {
                            already_degraded.push(name.clone());
                        }
                    }
                    None => held.push(name.clone()),
                }
            }
            // Targets in call-graph order: the deepest first, as failures travel up.
            let by_depth = |v: &mut Vec<String>| {
                v.sort_by(|x, y| graph.depth(y).cmp(&graph.depth(x)).then(x.cmp(y)))
            };
            by_depth(&mut degraded);
            by_depth(&mut held);
            Origin {
                trigger: t.label.clone(),
                clients_breached: (a..b).any(|i| judged[0].breach[i]),
                degraded,
                already_degraded,
                held,
                first_degraded_s: first.is_finite().then_some(first),
            }
        })
        .collect()
}

/// Services in the order they first degraded from window `from` on; within one window,
/// callees first.
fn chain(
    frame: &Frame,
    graph: &Graph,
    judged: &[Judged],
    triggers: &[Trigger],
    from: usize,
) -> Vec<Step> {
    let n = frame.windows();
    let w = frame.window_s;
    let first_of = |j: &Judged| (from..n).find(|&i| j.degraded[i]);
    // A fault's target that degraded from the fault on, having been fine just before it, is
    // where the failure starts: it leads the services that degraded in the same window, and
    // it was not reached through anything.
    let fresh_origin = |j: &Judged, k: usize| {
        triggers.iter().filter(|t| !t.load).any(|t| {
            let a = window_of(t.start_s, w);
            t.targets.contains(&j.name) && a <= k && !(a > 0 && j.degraded[a - 1])
        })
    };
    let mut steps: Vec<(usize, &Judged)> = judged
        .iter()
        .skip(1)
        .filter_map(|j| first_of(j).map(|k| (k, j)))
        .collect();
    steps.sort_by(|a, b| {
        a.0.cmp(&b.0)
            .then(fresh_origin(b.1, b.0).cmp(&fresh_origin(a.1, a.0)))
            .then(b.1.depth.cmp(&a.1.depth))
            .then(a.1.name.cmp(&b.1.name))
    });
    let mut out: Vec<Step> = Vec::new();
    for (pos, &(k, j)) in steps.iter().enumerate() {
        let callees: &[String] = if fresh_origin(j, k) {
            &[]
        } else {
            graph.callees(&j.name)
        };
        let reached_through = callees
            .iter()
            .filter_map(|c| {
                let cj = judged.iter().find(|x| !x.clients && &x.name == c)?;
                let ck = first_of(cj)?;
                let now = cj.degraded[k] || (k > 0 && cj.degraded[k - 1]);
                (ck <= k && now).then_some((ck, cj))
            })
            .min_by(|a, b| {
                a.0.cmp(&b.0)
                    .then(b.1.depth.cmp(&a.1.depth))
                    .then(a.1.name.cmp(&b.1.name))
            })
            .map(|(_, cj)| cj.name.clone());
        let mut sig: Signals = j.signals[k];
        if k + 1 < n && j.degraded[k + 1] {
            sig = sig.union(j.signals[k + 1]);
        }
        let e = frame
            .get(Kind::Service, &j.name)
            .expect("judged services have rows");
        let causes = sig.list();
        // Each cause with the figures of the window it was seen in.
        let cause_words = causes
            .iter()
            .map(|&s| {
                let at = if j.signals[k].has(s) { k } else { k + 1 };
                words(s, at, j, frame, graph)
            })
            .collect();
        let mut later_causes = Vec::new();
        for i in (k + 2..n).filter(|&i| j.degraded[i]) {
            for s in j.signals[i].list() {
                let name = s.name().to_string();
                if !sig.has(s) && !later_causes.iter().any(|(c, _, _)| *c == name) {
                    later_causes.push((name, frame.t(i), words(s, i, j, frame, graph)));
                }
            }
        }
        later_causes.sort_by(|a, b| a.1.total_cmp(&b.1));
        let mut worst = Worst::default();
        for i in (from..n).filter(|&i| j.degraded[i]) {
            let r = &e.rows[i];
            if e.finished(i) >= MIN_REQUESTS && r[col::ERROR_RATE].is_finite() {
                worst.error_rate = worst.error_rate.max(r[col::ERROR_RATE]);
            }
            for (v, x) in [
                (&mut worst.p99_ms, r[col::P99]),
                (&mut worst.utilisation, r[col::UTILISATION]),
                (&mut worst.queue_fill, r[col::QUEUE_FILL]),
            ] {
                if x.is_finite() {
                    *v = v.max(x);
                }
            }
        }
        let t = frame.t(k);
        out.push(Step {
            service: j.name.clone(),
            first_degraded_s: t,
            first_breach_s: (from..n).find(|&i| j.breach[i]).map(|i| frame.t(i)),
            simultaneous: pos > 0 && steps[pos - 1].0 == k,
            reached_through,
            cause: causes
                .first()
                .map_or(String::new(), |s| s.name().to_string()),
            causes: causes.iter().map(|s| s.name().to_string()).collect(),
            cause_words,
            later_causes,
            after_trigger: triggers
                .iter()
                .filter(|tr| tr.start_s < t + w)
                .max_by(|a, b| a.start_s.total_cmp(&b.start_s))
                .map(|tr| tr.label.clone()),
            worst,
        });
    }
    out
}

/// A cause in words, with the figures of the window it was seen in.
fn words(s: Signal, i: usize, j: &Judged, frame: &Frame, graph: &Graph) -> String {
    let b = &j.baseline;
    let r = &frame
        .get(Kind::Service, &j.name)
        .expect("judged services have rows")
        .rows[i];
    let outcome = |o: crate::model::Outcome| r[col::OUTCOMES + o.index()];
    match s {
        Signal::Unreachable => format!(
            "unreachable ({} refused)",
            count(outcome(crate::model::Outcome::Refused))
        ),
        Signal::ReplicasDown => format!(
            "replicas down ({} of {} in balancing)",
            r[col::HEALTHY],
            b.healthy.round()
        ),
        Signal::NoProgress => "no progress (nothing finished while work waited)".into(),
        Signal::Errors => format!("errors {}", pct(r[col::ERROR_RATE])),
        Signal::QueueFull => format!(
            "queue full ({} turned away, queue {} full)",
            count(r[col::QUEUE_FULL]),
            pct(r[col::QUEUE_FILL])
        ),
        Signal::WorkersSaturated => format!(
            "workers saturated ({} of {:.0} workers busy)",
            pct(r[col::UTILISATION]),
            r[col::CAPACITY]
        ),
        Signal::PoolExhausted => "its connection pool exhausted (attempts waiting)".into(),
        Signal::BreakerOpen => "a breaker on its calls open".into(),
        Signal::CacheMisses => {
            let hits: Vec<String> = graph
                .calls
                .iter()
                .filter(|c| c.callee == j.name && c.cached)
                .filter_map(|c| {
                    let v = frame.get(Kind::Call, &c.name)?.rows[i][col::CACHE_HIT_RATIO];
                    v.is_finite()
                        .then(|| format!("{} hit ratio {}", c.name, pct(v)))
                })
                .collect();
            if hits.is_empty() {
                "cache misses".into()
            } else {
                format!("cache misses ({})", hits.join(", "))
            }
        }
        Signal::Shed => format!("shedding ({} shed)", count(r[col::SHED])),
        Signal::Starved => format!(
            "starved (answered {} of {} offered)",
            count(r[col::OK] + r[col::DEGRADED]),
            count(r[col::OFFERED])
        ),
        Signal::LatencySlo => format!("p99 {} above the SLO", ms(r[col::P99])),
        Signal::Latency => format!(
            "p99 {} ({:.0}x its {} baseline)",
            ms(r[col::P99]),
            r[col::P99] / b.p99_median_ms,
            ms(b.p99_median_ms)
        ),
        Signal::LateAnswers => format!(
            "answering late ({} answers after the caller gave up)",
            count(r[col::LATE])
        ),
    }
}

/// How the run stood after its last trigger (see docs/analysis.md).
/// What the ending is judged from.
struct Ctx<'a> {
    frame: &'a Frame,
    graph: &'a Graph,
    judged: &'a [Judged],
    triggers: &'a [Trigger],
    slo: &'a Slo,
}

fn ending(c: &Ctx, recovered_after_s: Option<f64>, tail_windows: usize, from: usize) -> Ending {
    let Ctx {
        frame,
        graph,
        judged,
        triggers,
        slo,
    } = *c;
    if triggers.is_empty() {
        return Ending::NoTrigger;
    }
    if let Some(t) = triggers.iter().find(|t| t.over_s().is_none()) {
        return Ending::InForce {
            trigger: t.label.clone(),
        };
    }
    if let Some(after_s) = recovered_after_s {
        return Ending::Recovered { after_s };
    }
    let w = frame.window_s;
    let n = frame.windows();
    let last = last_trigger(triggers).expect("every trigger ends");
    let over = last.over_s().expect("it ends");
    let post: Vec<usize> = (first_window_from(over, w)..n)
        .filter(|&i| judge::judged(frame, slo, i))
        .collect();
    if post.len() < MIN_WINDOWS_AFTER {
        return Ending::Undecided {
            reason: format!(
                "the run ended {} after the last trigger ({}): too short to tell how it ends; run it longer",
                secs((frame.end_s - over).max(0.0)),
                last.label
            ),
        };
    }
    let tail = &post[post
        .len()
        .saturating_sub(tail_windows.max(MIN_WINDOWS_AFTER))..];
    // The baseline windows, as the judge took them.
    let base: Vec<usize> = (0..from.min(n))
        .filter(|&i| judge::judged(frame, slo, i))
        .collect();
    if let Some(s) = sustained(frame, graph, judged, &base, tail) {
        return s;
    }
    // The backlog: requests at services, summed.
    let services: Vec<&Judged> = judged.iter().skip(1).collect();
    let backlog = |i: usize| -> f64 {
        services
            .iter()
            .filter_map(|j| frame.get(Kind::Service, &j.name))
            .map(|e| e.rows[i][col::IN_FLIGHT])
            .filter(|v| v.is_finite())
            .sum()
    };
    let points: Vec<(f64, f64)> = tail
        .iter()
        .map(|&i| (frame.t(i) + frame.width(i) / 2.0, backlog(i)))
        .collect();
    let s = slope(&points);
    let mean_backlog = points.iter().map(|p| p.1).sum::<f64>() / points.len() as f64;
    let span_s = points.last().unwrap().0 - points[0].0;
    if s < 0.0 && -s * span_s >= 0.1 * mean_backlog && mean_backlog > 0.0 {
        let base: f64 = services.iter().map(|j| j.baseline.in_flight).sum();
        let near = (2.0 * base).max(base + 3.0 * base.sqrt()) + 1.0;
        let now = points.last().unwrap().1;
        let end = frame.end_s;
        return Ending::Recovering {
            backlog: now,
            drain_per_s: -s,
            back_at_s: end + ((now - near).max(0.0) / -s),
        };
    }
    Ending::Undecided {
        reason: format!(
            "not back (in breach, or with a backlog above its baseline) {} after the last trigger ({}) ended, with neither a draining backlog nor an amplifying loop; run it longer",
            secs((frame.end_s - over).max(0.0)),
            last.label
        ),
    }
}

/// A service's figures over the last windows, which both loop rules judge.
struct Held<'a> {
    judged: &'a Judged,
    series: &'a EntitySeries,
    util: f64,
    arrivals_per_s: f64,
    /// Finished requests per second, turned-away ones included.
    completes_per_s: f64,
    /// What its users' own load brings at the baseline's arrivals per client request.
    own_per_s: f64,
    /// A connection pool on a call into it had attempts waiting in at least 90% of the tail
    /// windows: its callers, not its workers, bound how much it is given at once.
    pool_bound: bool,
}

impl Held<'_> {
    /// Saturated (utilisation at least 95%, or bound by its callers' exhausted connection
    /// pools) and not draining (arrivals at least 95% of completions): the condition both
    /// loop rules start from.
    fn stuck(&self) -> bool {
        (self.util >= judge::SATURATED || self.pool_bound)
            && self.arrivals_per_s >= 0.95 * self.completes_per_s
    }
}

/// A service held above what it completes by more work than its users' own load brings, and
/// the loop that brings it; failing that, a service slowed under load (see docs/analysis.md).
fn sustained(
    frame: &Frame,
    graph: &Graph,
    judged: &[Judged],
    base: &[usize],
    tail: &[usize],
) -> Option<Ending> {
    let sys = frame.system();
    let mean =
        |f: &dyn Fn(usize) -> f64| tail.iter().map(|&i| f(i)).sum::<f64>() / tail.len() as f64;
    let client_rate = mean(&|i| sys.rows[i][col::OFFERED] / frame.width(i));
    let clients_base = judged[0].baseline.offered_per_s;
    if clients_base <= 0.0 {
        return None;
    }
    let held: Vec<Held> = judged
        .iter()
        .skip(1)
        .filter(|j| j.baseline.usable())
        .filter_map(|j| {
            let e = frame.get(Kind::Service, &j.name)?;
            Some(Held {
                judged: j,
                series: e,
                util: mean(&|i| e.rows[i][col::UTILISATION]),
                arrivals_per_s: mean(&|i| e.rows[i][col::OFFERED] / frame.width(i)),
                completes_per_s: mean(&|i| e.finished(i) / frame.width(i)),
                own_per_s: client_rate * j.baseline.offered_per_s / clients_base,
                pool_bound: judge::pool_bound(frame, graph, &j.name, tail),
            })
        })
        .collect();
    let mut best: Option<(f64, Ending)> = None;
    for h in held.iter().filter(|h| h.stuck()) {
        let (arrivals, own, completes) = (h.arrivals_per_s, h.own_per_s, h.completes_per_s);
        if !(arrivals >= 1.2 * own && own < 0.9 * completes) {
            continue;
        }
        let excess = arrivals / own.max(1e-9);
        if best.as_ref().is_some_and(|(x, _)| *x >= excess) {
            continue;
        }
        let name = &h.judged.name;
        best = Some((
            excess,
            Ending::Sustained {
                service: name.clone(),
                by: the_loop(frame, graph, base, tail, name, excess),
                arrivals_per_s: arrivals,
                own_load_per_s: own,
                completes_per_s: completes,
                pool_bound: h.pool_bound && h.util < judge::SATURATED,
            },
        ));
    }
    best.map(|b| b.1)
        .or_else(|| slowed(frame, graph, base, tail, &held))
}

/// A service that, since the trigger, can serve less than its users' own load although before
/// it could serve more: fewer usable workers (a process stopped by collections) or each
/// request holding a worker longer (contention), or both. The backlog that slows it does not
/// clear (see docs/analysis.md).
fn slowed(
    frame: &Frame,
    graph: &Graph,
    base: &[usize],
    tail: &[usize],
    held: &[Held],
) -> Option<Ending> {
    let avg = |rows: &[usize], f: &dyn Fn(usize) -> f64| {
        rows.iter().map(|&i| f(i)).sum::<f64>() / rows.len().max(1) as f64
    };
    let fin = |v: f64| if v.is_finite() { v } else { 0.0 };
    let mut best: Option<(f64, Ending)> = None;
    for h in held.iter().filter(|h| h.stuck()) {
        let e = h.series;
        // Requests that finished without being turned away (`overloaded`: queue full, shed).
        let served = |i: usize| e.finished(i) - fin(e.rows[i][col::OVERLOADED]);
        // Requests served per busy worker-second over `rows`.
        let speed = |rows: &[usize]| {
            let (served, busy_s) = rows.iter().fold((0.0, 0.0), |(a, b), &i| {
                let r = &e.rows[i];
                (
                    a + served(i),
                    b + fin(r[col::UTILISATION]) * fin(r[col::CAPACITY]) * frame.width(i),
                )
            });
            if busy_s > 0.0 {
                served / busy_s
            } else {
                f64::NAN
            }
        };
        let (speed_was, speed_now) = (speed(base), speed(tail));
        let (cap_was, cap_now) = (
            avg(base, &|i| fin(e.rows[i][col::CAPACITY])),
            avg(tail, &|i| fin(e.rows[i][col::CAPACITY])),
        );
        let served_now = avg(tail, &|i| served(i) / frame.width(i));
        let own = h.own_per_s;
        // What it could serve before the trigger, and how much less it serves now.
        let could = speed_was * cap_was;
        let factor = could / served_now;
        if !(own > 1.05 * served_now && could >= 1.1 * own && factor >= 1.5) {
            continue;
        }
        if best.as_ref().is_some_and(|(x, _)| *x >= factor) {
            continue;
        }
        let name = &h.judged.name;
        let node = graph.services.iter().find(|n| n.name == *name);
        let mechanism = match node {
            Some(n) if n.collects_garbage => " (garbage collection)",
            Some(n) if n.contended => " (contention)",
            _ => "",
        };
        let mut parts = Vec::new();
        if cap_was / cap_now.max(1e-9) >= 1.2 {
            parts.push(format!(
                "{cap_now:.1} workers usable on average, the process stopped the rest of the time ({cap_was:.1} before the trigger)"
            ));
        }
        let slower = speed_was / speed_now;
        if slower >= 1.2 {
            parts.push(format!(
                "each request holds a worker {slower:.1}x longer than before the trigger ({speed_was:.1} served per busy worker-second then, {speed_now:.2} now)"
            ));
        }
        if parts.is_empty() {
            continue; // less served, but neither part explains it
        }
        if h.pool_bound && h.util < judge::SATURATED {
            parts.push(format!(
                "its callers' connection pools stay exhausted (attempts waiting for a connection in the windows since; its workers {:.0}% busy)",
                h.util * 100.0
            ));
        }
        best = Some((
            factor,
            Ending::Sustained {
                service: name.clone(),
                by: format!(
                    "a slowdown under load at {name}{mechanism}: {}, so it serves less than its users' own load and the backlog that slows it does not clear",
                    parts.join(", and ")
                ),
                arrivals_per_s: h.arrivals_per_s,
                own_load_per_s: own,
                completes_per_s: served_now,
                pool_bound: h.pool_bound && h.util < judge::SATURATED,
            },
        ));
    }
    best.map(|b| b.1)
}

/// Names the amplification that holds `service` up: the largest of the clients' retries, the
/// retries on calls into it, and the cache misses on cached calls into it, against the
/// baseline.
fn the_loop(
    frame: &Frame,
    graph: &Graph,
    base: &[usize],
    tail: &[usize],
    service: &str,
    excess: f64,
) -> String {
    let ratio = |rows: &[usize], e: &super::frame::EntitySeries, num: usize, den: usize| {
        let (a, b) = rows.iter().fold((0.0, 0.0), |(a, b), &i| {
            let r = &e.rows[i];
            (
                a + if r[num].is_finite() { r[num] } else { 0.0 },
                b + if r[den].is_finite() { r[den] } else { 0.0 },
            )
        });
        if b > 0.0 {
            a / b
        } else {
            f64::NAN
        }
    };
    let mut candidates: Vec<(f64, String)> = Vec::new();
    for (client, _) in &graph.clients {
        if let Some(e) = frame.get(Kind::Client, client) {
            let now = ratio(tail, e, col::ATTEMPTS, col::OFFERED);
            let was = ratio(base, e, col::ATTEMPTS, col::OFFERED);
            if now.is_finite() && was.is_finite() && was > 0.0 {
                candidates.push((
                    now / was,
                    format!(
                        "retries at client {client} hold attempts at {now:.1}x its users' requests ({was:.1}x before the trigger)"
                    ),
                ));
            }
        }
    }
    for c in graph.calls.iter().filter(|c| c.callee == service) {
        let Some(e) = frame.get(Kind::Call, &c.name) else {
            continue;
        };
        let now = ratio(tail, e, col::ATTEMPTS, col::CALLS);
        let was = ratio(base, e, col::ATTEMPTS, col::CALLS);
        if now.is_finite() && was.is_finite() && was > 0.0 {
            candidates.push((
                now / was,
                format!(
                    "retries on {} hold {now:.1} attempts per call ({was:.1} before the trigger)",
                    c.name
                ),
            ));
        }
        if c.cached {
            let hit = |rows: &[usize]| {
                let (h, l) = rows.iter().fold((0.0, 0.0), |(h, l), &i| {
                    let r = &e.rows[i];
                    if r[col::CACHE_HIT_RATIO].is_finite() && r[col::CALLS].is_finite() {
                        (
                            h + r[col::CACHE_HIT_RATIO] * r[col::CALLS],
                            l + r[col::CALLS],
                        )
                    } else {
                        (h, l)
                    }
                });
                if l > 0.0 {
                    h / l
                } else {
                    f64::NAN
                }
            };
            let (now, was) = (hit(tail), hit(base));
            if now.is_finite() && was.is_finite() && now < was {
                // A cache that answered everything before sends "infinitely" more misses: the
                // factor is only for ranking, the words give the ratios.
                let factor = (1.0 - now) / (1.0 - was).max(1e-6);
                candidates.push((
                    factor,
                    format!(
                        "cache misses on {}: hit ratio {} ({} before the trigger) send {service} its misses, and failed fills keep the cache from refilling",
                        c.name,
                        pct(now),
                        pct(was)
                    ),
                ));
            }
        }
    }
    candidates.sort_by(|a, b| b.0.total_cmp(&a.0));
    match candidates.first() {
        Some((f, text)) if *f >= 1.2 => text.clone(),
        _ if excess.is_finite() && excess < 1e3 => format!(
            "{service} receives {excess:.1}x the work its users' own load brings, from no retry or cache loop the series show"
        ),
        _ => format!(
            "{service} receives work it hardly received before the trigger, from no retry or cache loop the series show"
        ),
    }
}
