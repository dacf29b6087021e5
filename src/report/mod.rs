//! Reports: the time-series table ([`frame`]), the cascade analysis ([`cascade`]), the plots
//! ([`plots`]) and the pages (`index.html`, `report.md`) built from them.
//!
//! A report is a pure function of what a run wrote (summaries, the time series, the scenario
//! and its expanded fault schedule), so `faultline report DIR` rebuilds the same page without
//! running anything. This module does not read or write files and does not run scenarios.

pub mod cascade;
pub mod font;
pub mod frame;
pub mod judge;
pub mod page;
pub mod plots;
pub mod png;
#[cfg(test)]
mod rules_tests;
pub mod scaling;
pub mod story;
pub mod words;

use crate::metrics::{Summary, CDF_QUANTILES};
use crate::model::SystemSpec;
use crate::scenario::Scenario;
use cascade::{Cascade, Ending, Trigger};
use frame::{col, Frame};
use judge::{CallEdge, Graph, Node, Slo};
use serde::Serialize;

/// One run of the report: a variant (or the scenario itself, named `base`).
pub struct Run {
    pub name: String,
    pub summary: Summary,
    pub frame: Frame,
}

/// Everything a report shows.
pub struct Inputs<'a> {
    pub scenario: &'a Scenario,
    /// The expanded fault schedule, one line per window.
    pub schedule: &'a [String],
    pub runs: Vec<Run>,
}

/// The numbers a design review asks for first, per run: what users saw, then how it ended.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Headline {
    pub variant: String,
    /// ok or degraded, over all client requests that finished.
    pub availability: f64,
    pub goodput_per_s: f64,
    /// The worst client's p99 of ok requests.
    pub p99_ms: f64,
    /// Attempts sent by clients per client request.
    pub client_amplification: f64,
    /// Requests arriving at services per client request (retries at every hop included).
    pub service_amplification: f64,
    /// From the end (or instant) of the last trigger until everything was back (docs/analysis.md);
    /// None: not back by the end of the run, or no trigger ended.
    pub recovered_after_s: Option<f64>,
    /// When the last trigger ended but the run ended before everything was back: how long it
    /// was watched (its recovery time is at least this; a censored observation). None otherwise.
    pub not_back_after_s: Option<f64>,
    pub acked_writes_lost: u64,
    /// Reads served by standbys that missed an acknowledged write, and the age of the oldest
    /// write one missed (0 without reads at standbys).
    pub stale_reads: u64,
    pub max_staleness_ms: f64,
    pub services_degraded: usize,
    pub services_breached: usize,
    /// How the run stood after its last trigger (`recovered`, `recovering`, `sustained`, ...).
    pub ending: String,
    /// True only for a sustained breach; None when undecided.
    pub metastable: Option<bool>,
    pub sustained_by: Option<String>,
    pub recovering_eta_s: Option<f64>,
    /// Worker seconds spent on answers nobody waited for any more, over all services.
    pub wasted_worker_s: f64,
    pub trace_hash: String,
}

/// One analysed run.
pub struct Analysed {
    pub name: String,
    pub summary: Summary,
    pub frame: Frame,
    pub cascade: Cascade,
    pub headline: Headline,
    pub triggers: Vec<Trigger>,
}

/// The dependency graph of `spec`, each service at its longest distance from the clients.
pub fn graph(spec: &SystemSpec) -> Graph {
    let n = spec.services.len();
    let mut depth = vec![0usize; n];
    for c in &spec.clients {
        depth[c.target] = depth[c.target].max(1);
    }
    // Relax along calls; validation rejects cycles, and n rounds bound it regardless.
    for _ in 0..n {
        let mut changed = false;
        for (i, s) in spec.services.iter().enumerate() {
            if depth[i] == 0 {
                continue;
            }
            for c in &s.calls {
                if depth[c.to] < depth[i] + 1 && depth[i] < n + 1 {
                    depth[c.to] = depth[i] + 1;
                    changed = true;
                }
            }
        }
        if !changed {
            break;
        }
    }
    Graph {
        services: spec
            .services
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let mut callees: Vec<String> = s
                    .calls
                    .iter()
                    .map(|c| spec.services[c.to].name.clone())
                    .collect();
                callees.dedup();
                Node {
                    name: s.name.clone(),
                    depth: depth[i].max(1),
                    callees,
                    contended: s.contention.is_some(),
                    collects_garbage: s.gc.is_some(),
                }
            })
            .collect(),
        calls: spec
            .services
            .iter()
            .enumerate()
            .flat_map(|(si, s)| {
                s.calls.iter().enumerate().map(move |(ci, c)| CallEdge {
                    name: spec.call_name(si, ci),
                    caller: s.name.clone(),
                    callee: spec.services[c.to].name.clone(),
                    cached: c.cache.is_some(),
                })
            })
            .collect(),
        clients: spec
            .clients
            .iter()
            .map(|c| (c.name.clone(), spec.services[c.target].name.clone()))
            .collect(),
    }
}

/// Fault windows (from the summary) and load surges (from the spec), in time order.
pub fn triggers(spec: &SystemSpec, summary: &Summary) -> Vec<Trigger> {
    let mut t: Vec<Trigger> = summary
        .faults
        .iter()
        .map(|f| Trigger {
            label: f.fault.clone(),
            start_s: f.start_s,
            end_s: if f.instant { None } else { f.end_s },
            load: false,
            instant: f.instant,
            targets: f.targets.clone(),
            direct_failures: Some(f.requests_failed),
        })
        .chain(
            frame::load_surges(spec, summary.measured_to_s)
                .into_iter()
                .map(|(client, label, a, b)| Trigger {
                    label,
                    start_s: a,
                    end_s: (b < summary.measured_to_s).then_some(b),
                    load: true,
                    instant: false,
                    targets: vec![spec.services[spec.clients[client].target].name.clone()],
                    direct_failures: None,
                }),
        )
        .collect();
    // A Spike fault also shows in the client's rate steps: keep it once, as the fault.
    let faults: Vec<(f64, Option<f64>)> = t
        .iter()
        .filter(|x| !x.load)
        .map(|x| (x.start_s, x.end_s))
        .collect();
    t.retain(|x| {
        !x.load
            || !faults
                .iter()
                .any(|f| (f.0 - x.start_s).abs() < 1e-9 && f.1 == x.end_s)
    });
    t.sort_by(|a, b| a.start_s.total_cmp(&b.start_s).then(a.label.cmp(&b.label)));
    t
}

/// The SLO as the judge applies it.
pub fn slo(scenario: &Scenario) -> Slo {
    Slo {
        availability: scenario.slo.availability,
        service_error_rate: scenario.slo.error_rate,
        latency_p99_ms: scenario.slo.latency_p99.map(|d| d.0 as f64 / 1e6),
        from_s: scenario.warmup.0 as f64 / 1e9,
    }
}

/// How many windows at the end of a run decide how it ended: the SLO's `metastable_after`.
pub fn tail_windows(scenario: &Scenario, frame: &Frame) -> usize {
    let w = frame.window_s.max(1e-9);
    ((scenario.slo.metastable_after.0 as f64 / 1e9 / w).round() as usize).max(1)
}

/// Runs `scenario` and analyses it as `faultline run` would (the frame through the CSV text,
/// so the verdicts are those the report writes); with the limit that stopped it, if one did.
/// Sweeps, `check` and `search` judge runs through this.
pub fn run_and_analyse(
    scenario: &Scenario,
    name: &str,
) -> (Analysed, Option<crate::engine::LimitHit>) {
    let (r, rec) = crate::runner::run_traced(scenario, None);
    let frame = Frame::canonical(Frame::build(&rec.series, &scenario.system, &r.summary));
    let a = analyse(
        scenario,
        Run {
            name: name.to_string(),
            summary: r.summary,
            frame,
        },
    );
    (a, r.stopped)
}

/// Analyses one run.
pub fn analyse(scenario: &Scenario, run: Run) -> Analysed {
    let spec = &scenario.system;
    let g = graph(spec);
    let triggers = triggers(spec, &run.summary);
    let tail = tail_windows(scenario, &run.frame);
    let mut cascade = Cascade::analyse(&run.frame, &g, triggers.clone(), &slo(scenario), tail);
    cascade.scaling = scaling::Scaling::from_summary(&run.summary, spec);
    cascade.standby_reads = run
        .summary
        .replication
        .iter()
        .filter_map(|r| Some((r.service.clone(), r.standby_reads.clone()?)))
        .collect();
    let headline = headline(&run.name, &run.summary, &cascade);
    Analysed {
        name: run.name,
        summary: run.summary,
        frame: run.frame,
        cascade,
        headline,
        triggers,
    }
}

fn headline(name: &str, s: &Summary, c: &Cascade) -> Headline {
    let completed: u64 = s.clients.iter().map(|c| c.completed).sum();
    let good: u64 = s
        .clients
        .iter()
        .map(|c| c.outcomes.ok + c.outcomes.degraded)
        .sum();
    let offered: u64 = s.clients.iter().map(|c| c.offered).sum();
    let attempts: u64 = s.clients.iter().map(|c| c.attempts).sum();
    let arrivals: u64 = s.services.iter().map(|s| s.offered).sum();
    let span = (s.measured_to_s - s.measured_from_s).max(1e-9);
    let ratio = |a: u64, b: u64| if b > 0 { a as f64 / b as f64 } else { 0.0 };
    Headline {
        variant: name.to_string(),
        availability: ratio(good, completed),
        goodput_per_s: good as f64 / span,
        p99_ms: s
            .clients
            .iter()
            .map(|c| c.latency.p99_ms)
            .fold(0.0, f64::max),
        client_amplification: ratio(attempts, offered),
        service_amplification: ratio(arrivals, offered),
        recovered_after_s: c.recovered_after_s,
        not_back_after_s: not_back_after_s(s, c),
        acked_writes_lost: s.replication.iter().map(|r| r.acked_writes_lost).sum(),
        stale_reads: s
            .replication
            .iter()
            .filter_map(|r| r.standby_reads.as_ref())
            .map(|r| r.stale)
            .sum(),
        max_staleness_ms: s
            .replication
            .iter()
            .filter_map(|r| r.standby_reads.as_ref())
            .map(|r| r.max_staleness_ms)
            .fold(0.0, f64::max),
        services_degraded: c.services_degraded,
        services_breached: c.services_breached,
        ending: c.ending.name().to_string(),
        metastable: c.ending.metastable(),
        sustained_by: match &c.ending {
            Ending::Sustained { by, .. } => Some(by.clone()),
            _ => None,
        },
        recovering_eta_s: match &c.ending {
            Ending::Recovering { back_at_s, .. } => Some(*back_at_s),
            _ => None,
        },
        wasted_worker_s: s.services.iter().map(|x| x.wasted_worker_s).sum(),
        trace_hash: s.trace_hash.clone(),
    }
}

/// From the end (or instant) of the last trigger to the end of the run, when nothing says the
/// system was back by then: no fault in force, and no recovery found.
fn not_back_after_s(s: &Summary, c: &Cascade) -> Option<f64> {
    if c.recovered_after_s.is_some() || c.recoveries.is_empty() {
        return None;
    }
    // Every trigger's clock must have started: one in force to the end is not a recovery.
    let from = c
        .recoveries
        .iter()
        .map(|r| r.from_s)
        .collect::<Option<Vec<f64>>>()?
        .into_iter()
        .fold(f64::NEG_INFINITY, f64::max);
    Some((s.measured_to_s - from).max(0.0))
}

/// The analysis as `summary.json` carries it (`analysis`): every verdict the report states,
/// by the rules of docs/analysis.md.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Analysis {
    /// Where the rules are written.
    pub rules: &'static str,
    /// Judged windows before the first trigger (the baseline); relative rules need 5.
    pub baseline_windows: usize,
    pub first_trigger: Option<String>,
    /// Each fault, the targets it hit that degraded, and those that held.
    pub origin: Vec<cascade::Origin>,
    pub chain: Vec<cascade::Step>,
    /// After the last trigger ended (or its instant) until everything was back; null: never.
    pub recovered_after_s: Option<f64>,
    /// Not back by the run's end: how long after the last trigger it was watched (the recovery
    /// time is at least this). Null when it recovered, or a fault lasts to the end.
    pub not_back_after_s: Option<f64>,
    /// Client answers after the warm-up by kind, and breakers open: what held throughout.
    pub answers: cascade::Steady,
    /// How the run ended, with its figures: `recovered`, `recovering` (drain rate, when back),
    /// `sustained` (the loop), `undecided` (why), `in_force`, `no_trigger`.
    pub ending: Ending,
    /// True only when sustained (metastable); null when undecided or a fault is in force.
    pub metastable: Option<bool>,
    pub sustained_by: Option<String>,
    pub recovering_eta_s: Option<f64>,
    /// Per trigger: when its recovery clock started, when it was back, direct and induced
    /// failures.
    pub triggers: Vec<cascade::Recovery>,
    pub services_degraded: usize,
    pub services_breached: usize,
    pub services_total: usize,
    /// Client requests failed, of all judged ones and of those during the incident.
    pub failed_share: f64,
    pub failed_share_during_incident: Option<f64>,
    /// Per service: answers nobody waited for any more, and the worker time they held.
    pub wasted_work: Vec<cascade::Wasted>,
    /// Breach and degradation intervals of the clients and every service.
    pub intervals: Vec<cascade::Intervals>,
}

impl Analysed {
    /// The machine-readable analysis of this run.
    pub fn analysis(&self) -> Analysis {
        let c = &self.cascade;
        Analysis {
            rules: "docs/analysis.md",
            baseline_windows: c.baseline_windows,
            first_trigger: c.first_trigger.clone(),
            origin: c.origins.clone(),
            chain: c.chain.clone(),
            recovered_after_s: c.recovered_after_s,
            not_back_after_s: self.headline.not_back_after_s,
            answers: c.steady.clone(),
            metastable: c.ending.metastable(),
            sustained_by: self.headline.sustained_by.clone(),
            recovering_eta_s: self.headline.recovering_eta_s,
            ending: c.ending.clone(),
            triggers: c.recoveries.clone(),
            services_degraded: c.services_degraded,
            services_breached: c.services_breached,
            services_total: c.services_total,
            failed_share: c.failed_share,
            failed_share_during_incident: c.failed_share_during_incident,
            wasted_work: c.wasted.clone(),
            intervals: c.intervals.clone(),
        }
    }
}

/// A latency CDF as `(ms, quantile)` points, from a summary's quantile list.
pub fn cdf_points(values_ms: &[f64]) -> Vec<(f64, f64)> {
    values_ms
        .iter()
        .zip(CDF_QUANTILES)
        .map(|(v, q)| (*v, q))
        .collect()
}

/// Per-window values of one column of the system row, as plot points.
/// The stretches of time, merged across adjacent windows, in which the clients sent or finished
/// requests and got no ok (or degraded) answer: where a plot of ok latency has nothing to show.
pub fn no_ok_spans(f: &Frame) -> Vec<(f64, f64)> {
    let sys = f.system();
    let mut out: Vec<(f64, f64)> = Vec::new();
    for i in 0..f.windows() {
        let r = &sys.rows[i];
        let busy = r[col::OFFERED] > 0.0 || sys.finished(i) > 0.0;
        if !busy || r[col::OK] + r[col::DEGRADED] > 0.0 {
            continue;
        }
        let (a, b) = (f.t(i), f.t(i) + f.width(i));
        match out.last_mut() {
            Some(last) if (last.1 - a).abs() < 1e-9 => last.1 = b,
            _ => out.push((a, b)),
        }
    }
    out
}

pub fn system_points(f: &Frame, c: usize) -> Vec<(f64, f64)> {
    let sys = f.system();
    (0..f.windows())
        .map(|i| {
            let v = sys.rows[i][c];
            // Rates are per second of the window's length.
            let v = if matches!(c, col::OFFERED | col::ATTEMPTS) {
                let w = f.width(i);
                if w > 0.0 {
                    v / w
                } else {
                    f64::NAN
                }
            } else {
                v
            };
            (f.t(i) + f.width(i) / 2.0, v)
        })
        .collect()
}
