//! Reports: the time-series table ([`frame`]), the cascade analysis ([`cascade`]), the plots
//! ([`plots`]) and the pages (`index.html`, `report.md`) built from them.
//!
//! A report is a pure function of what a run wrote (summaries, the time series, the scenario
//! and its expanded fault schedule), so `faultline report DIR` rebuilds the same page without
//! running anything. This module does not read or write files and does not run scenarios.

pub mod cascade;
pub mod font;
pub mod frame;
pub mod page;
pub mod plots;
pub mod png;

use crate::metrics::{Summary, CDF_QUANTILES};
use crate::model::SystemSpec;
use crate::scenario::Scenario;
use cascade::{Cascade, Graph, Thresholds, Trigger};
use frame::{col, Frame};
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

/// The numbers a design review asks for first, per run.
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
    /// The longest time from a trigger's end until nothing breached; None: never recovered.
    pub time_to_recover_s: Option<f64>,
    pub acked_writes_lost: u64,
    pub services_breached: usize,
    pub metastable: bool,
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
                (s.name.clone(), depth[i].max(1), callees)
            })
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
            end_s: f.end_s,
            load: false,
        })
        .chain(
            frame::load_surges(spec, summary.measured_to_s)
                .into_iter()
                .map(|(label, a, b)| Trigger {
                    label,
                    start_s: a,
                    end_s: (b < summary.measured_to_s).then_some(b),
                    load: true,
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

pub fn thresholds(scenario: &Scenario) -> Thresholds {
    Thresholds {
        availability: scenario.slo.availability,
        service_error_rate: scenario.slo.error_rate,
        latency_p99_ms: scenario.slo.latency_p99.map(|d| d.0 as f64 / 1e6),
        metastable_after_s: scenario.slo.metastable_after.0 as f64 / 1e9,
        from_s: scenario.warmup.0 as f64 / 1e9,
    }
}

/// Analyses one run.
pub fn analyse(scenario: &Scenario, run: Run) -> Analysed {
    let spec = &scenario.system;
    let g = graph(spec);
    let triggers = triggers(spec, &run.summary);
    let cascade = Cascade::analyse(&run.frame, &g, triggers.clone(), &thresholds(scenario));
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
        time_to_recover_s: c
            .recoveries
            .iter()
            .map(|r| r.recovered_after_s)
            .try_fold(0.0f64, |m, r| r.map(|r| m.max(r))),
        acked_writes_lost: s.replication.iter().map(|r| r.acked_writes_lost).sum(),
        services_breached: c.services_breached,
        metastable: !c.metastable.is_empty(),
        trace_hash: s.trace_hash.clone(),
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
