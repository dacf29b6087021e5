//! Cascade analysis: which services breached their SLO and when, in what order the breaches
//! spread along the dependency graph, which fault came first, how far it reached, how long
//! recovery took, and whether anything stayed broken after every trigger had ended (a
//! metastable failure).
//!
//! It reads a [`Frame`] and the run's fault windows; it does not know how the frame was made
//! or how the answer is drawn. Windows inside the warm-up are not judged.

use super::frame::{col, Frame, Kind};
use serde::Serialize;

/// Fewer requests than this in a window is too few to call its error rate a breach.
pub const MIN_REQUESTS: f64 = 5.0;

/// What counts as a breach, per window.
#[derive(Clone, Debug, PartialEq)]
pub struct Thresholds {
    /// Clients end to end: the share of requests answered ok or degraded.
    pub availability: f64,
    /// Services: the largest acceptable share of failed requests.
    pub service_error_rate: f64,
    /// Services and clients: the largest acceptable p99 latency, if any.
    pub latency_p99_ms: Option<f64>,
    /// A breach that outlives every trigger by this long is metastable.
    pub metastable_after_s: f64,
    /// Measurements before this are not judged (the warm-up).
    pub from_s: f64,
}

/// Something that can set off a cascade: a fault window or a load surge.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Trigger {
    pub label: String,
    pub start_s: f64,
    /// None: lasts to the end of the run.
    pub end_s: Option<f64>,
    /// A load surge rather than an injected fault.
    pub load: bool,
}

/// One service (or `clients`, end to end) and its breaches.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Breaches {
    pub name: String,
    /// Distance from the clients in the call graph (clients 0, entry services 1, ...).
    pub depth: usize,
    /// `[start_s, end_s)` intervals; gaps of one window are bridged.
    pub intervals: Vec<(f64, f64)>,
    /// Worst error rate and p99 (ms) seen in a breached window.
    pub worst_error_rate: f64,
    pub worst_p99_ms: f64,
}

/// One step of the cascade chain.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Step {
    pub name: String,
    pub first_breach_s: f64,
    /// A dependency (callee) that breached no later, the likely way it was reached.
    pub via: Option<String>,
    /// The latest trigger that started at or before this breach.
    pub after_trigger: Option<String>,
}

/// Recovery after one trigger ended.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Recovery {
    pub trigger: String,
    pub ended_s: f64,
    /// From the trigger's end until no service (and no client) breached; None if that never
    /// happened before the run ended.
    pub recovered_after_s: Option<f64>,
}

/// A service that stayed in breach after every trigger had ended.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Metastable {
    pub name: String,
    /// When the last trigger ended.
    pub triggers_ended_s: f64,
    /// How long the breach had lasted after that when the run ended (it had not ended).
    pub lasted_s: f64,
}

/// The whole analysis.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Cascade {
    pub triggers: Vec<Trigger>,
    /// Every service and the clients, breached or not, in dependency order.
    pub breaches: Vec<Breaches>,
    /// Breached services in the order they first breached.
    pub chain: Vec<Step>,
    pub first_trigger: Option<String>,
    /// Services that breached at least once, of all services.
    pub services_breached: usize,
    pub services_total: usize,
    /// Client requests that failed, as a share of all judged client requests.
    pub failed_share: f64,
    /// ... and of those finished during the incident (first trigger to last breach).
    pub failed_share_during_incident: Option<f64>,
    pub recoveries: Vec<Recovery>,
    pub metastable: Vec<Metastable>,
}

/// The dependency graph as the analysis needs it: services with their callees and depth.
#[derive(Clone, Debug, PartialEq)]
pub struct Graph {
    pub services: Vec<(String, usize, Vec<String>)>,
}

impl Cascade {
    pub fn analyse(
        frame: &Frame,
        graph: &Graph,
        triggers: Vec<Trigger>,
        th: &Thresholds,
    ) -> Cascade {
        let n = frame.windows();
        let w = frame.window_s;
        let judged = |i: usize| frame.t(i) >= th.from_s - 1e-9 && frame.width(i) >= w / 2.0;
        let mut breaches = Vec::new();
        let mut flags: Vec<Vec<bool>> = Vec::new();
        let entities = std::iter::once(("clients".to_string(), 0, frame.system(), true)).chain(
            graph.services.iter().filter_map(|(name, depth, _)| {
                frame
                    .get(Kind::Service, name)
                    .map(|e| (name.clone(), *depth, e, false))
            }),
        );
        for (name, depth, e, is_clients) in entities {
            let max_err = if is_clients {
                1.0 - th.availability
            } else {
                th.service_error_rate
            };
            let (mut worst_err, mut worst_p99) = (0.0f64, 0.0f64);
            let mut f: Vec<bool> = (0..n)
                .map(|i| {
                    if !judged(i) {
                        return false;
                    }
                    let r = &e.rows[i];
                    let done = e.finished(i);
                    let err = r[col::ERROR_RATE];
                    // Requests arrived, none finished, and work is waiting: stuck (a hang). A
                    // long poll that finishes nothing in a window but has free workers is not.
                    let stuck = !is_clients
                        && done == 0.0
                        && r[col::OFFERED] >= MIN_REQUESTS
                        && r[col::QUEUE] >= 1.0;
                    let by_errors = done >= MIN_REQUESTS && err > max_err + 1e-12;
                    let by_latency = th
                        .latency_p99_ms
                        .is_some_and(|l| r[col::P99] > l && r[col::OK] >= MIN_REQUESTS);
                    let b = stuck || by_errors || by_latency;
                    if b {
                        if !err.is_nan() {
                            worst_err = worst_err.max(err);
                        }
                        if stuck {
                            worst_err = 1.0;
                        }
                        if !r[col::P99].is_nan() {
                            worst_p99 = worst_p99.max(r[col::P99]);
                        }
                    }
                    b
                })
                .collect();
            // Bridge one-window gaps: a breach that flickers is one breach.
            for i in 1..n.saturating_sub(1) {
                if !f[i] && f[i - 1] && f[i + 1] {
                    f[i] = true;
                }
            }
            let mut intervals = Vec::new();
            let mut i = 0;
            while i < n {
                if f[i] {
                    let s = i;
                    while i < n && f[i] {
                        i += 1;
                    }
                    intervals.push((frame.t(s), (frame.t(i)).min(frame.end_s)));
                } else {
                    i += 1;
                }
            }
            breaches.push(Breaches {
                name,
                depth,
                intervals,
                worst_error_rate: worst_err,
                worst_p99_ms: worst_p99,
            });
            flags.push(f);
        }

        // The chain: services in the order they first breached; within one window, callees
        // (deeper services) first, since that is the direction failures travel.
        let mut chain: Vec<Step> = breaches
            .iter()
            .skip(1)
            .filter_map(|b| b.intervals.first().map(|iv| (b, iv.0)))
            .map(|(b, t)| Step {
                name: b.name.clone(),
                first_breach_s: t,
                via: None,
                after_trigger: triggers
                    .iter()
                    .filter(|tr| tr.start_s <= t + w)
                    .max_by(|a, b| a.start_s.total_cmp(&b.start_s))
                    .map(|tr| tr.label.clone()),
            })
            .collect();
        let depth_of = |name: &str| {
            graph
                .services
                .iter()
                .find(|s| s.0 == name)
                .map_or(0, |s| s.1)
        };
        chain.sort_by(|a, b| {
            a.first_breach_s
                .total_cmp(&b.first_breach_s)
                .then(depth_of(&b.name).cmp(&depth_of(&a.name)))
                .then(a.name.cmp(&b.name))
        });
        for k in 0..chain.len() {
            let callees = graph
                .services
                .iter()
                .find(|s| s.0 == chain[k].name)
                .map(|s| s.2.clone())
                .unwrap_or_default();
            chain[k].via = chain[..k]
                .iter()
                .find(|earlier| callees.contains(&earlier.name))
                .map(|s| s.name.clone());
        }
        let first_breach = chain
            .first()
            .map(|s| s.first_breach_s)
            .into_iter()
            .chain(breaches[0].intervals.first().map(|iv| iv.0))
            .fold(f64::INFINITY, f64::min);
        // The first injected fault before the first breach; a load surge only if no fault.
        let before: Vec<&Trigger> = triggers
            .iter()
            .filter(|t| t.start_s <= first_breach + w)
            .collect();
        let first_trigger = before
            .iter()
            .filter(|t| !t.load)
            .chain(before.iter().filter(|t| t.load))
            .next()
            .map(|t| t.label.clone());

        // Blast radius over the judged client requests.
        let sys = frame.system();
        let (mut failed, mut all) = (0.0, 0.0);
        for i in (0..n).filter(|&i| judged(i)) {
            let done = sys.finished(i);
            all += done;
            failed += done - sys.rows[i][col::OK] - sys.rows[i][col::DEGRADED];
        }
        let last_breach_end = breaches
            .iter()
            .filter_map(|b| b.intervals.last().map(|iv| iv.1))
            .fold(f64::NEG_INFINITY, f64::max);
        let incident_start = triggers
            .iter()
            .map(|t| t.start_s)
            .fold(f64::INFINITY, f64::min)
            .min(first_breach);
        let failed_share_during_incident = (last_breach_end > incident_start).then(|| {
            let (mut f, mut a) = (0.0, 0.0);
            for i in (0..n).filter(|&i| {
                judged(i) && frame.t(i) + w > incident_start && frame.t(i) < last_breach_end
            }) {
                let done = sys.finished(i);
                a += done;
                f += done - sys.rows[i][col::OK] - sys.rows[i][col::DEGRADED];
            }
            if a > 0.0 {
                f / a
            } else {
                0.0
            }
        });

        // Recovery: from a trigger's end to the first window from which nothing breaches again
        // until the next trigger starts (or the run ends): back, and staying back.
        let any_breach = |i: usize| flags.iter().any(|f| f[i]);
        let recoveries = triggers
            .iter()
            .filter_map(|t| t.end_s.map(|e| (t, e)))
            .map(|(t, e)| {
                let first = (e / w - 1e-9).ceil().max(0.0) as usize;
                let next = triggers
                    .iter()
                    .map(|o| o.start_s)
                    .filter(|&s| s >= e)
                    .fold(frame.end_s, f64::min);
                let stop = ((next / w).ceil() as usize).min(n);
                let last_breach = (first..stop).rev().find(|&i| any_breach(i));
                let back = match last_breach {
                    None => Some(first),
                    Some(i) if i + 1 < stop => Some(i + 1),
                    // Still breaching when the next trigger started or the run ended.
                    Some(_) => None,
                };
                Recovery {
                    trigger: t.label.clone(),
                    ended_s: e,
                    recovered_after_s: back.map(|i| (frame.t(i) - e).max(0.0)),
                }
            })
            .collect();

        // Metastable: still in breach when the run ends, at least `metastable_after_s` after
        // the last trigger ended. A breach that ends on its own is a slow recovery (it shows
        // in the recovery times), not a state the system is stuck in.
        let mut metastable = Vec::new();
        let all_end = triggers
            .iter()
            .map(|t| t.end_s)
            .try_fold(f64::NEG_INFINITY, |m, e| e.map(|e| m.max(e)));
        if let Some(ended) = all_end.filter(|_| !triggers.is_empty()) {
            // The last window counts as the end if it is a whole one.
            let last_whole = (0..n).rev().find(|&i| frame.width(i) >= w / 2.0);
            let end_t = last_whole.map_or(0.0, |i| (frame.t(i) + w).min(frame.end_s));
            for b in &breaches {
                if let Some(iv) = b.intervals.last().filter(|iv| {
                    iv.1 >= end_t - 1e-9 && end_t - ended.max(iv.0) >= th.metastable_after_s
                }) {
                    metastable.push(Metastable {
                        name: b.name.clone(),
                        triggers_ended_s: ended,
                        lasted_s: end_t - ended.max(iv.0),
                    });
                }
            }
        }

        Cascade {
            services_breached: breaches
                .iter()
                .skip(1)
                .filter(|b| !b.intervals.is_empty())
                .count(),
            services_total: breaches.len() - 1,
            triggers,
            breaches,
            chain,
            first_trigger,
            failed_share: if all > 0.0 { failed / all } else { 0.0 },
            failed_share_during_incident,
            recoveries,
            metastable,
        }
    }

    /// The cascade in words, one sentence per line.
    pub fn narrative(&self) -> Vec<String> {
        let mut out = Vec::new();
        if self.chain.is_empty() && self.breaches[0].intervals.is_empty() {
            out.push(if self.triggers.is_empty() {
                "No service breached its SLO, and nothing was injected.".to_string()
            } else {
                "No service breached its SLO: every fault was contained.".to_string()
            });
            return out;
        }
        if let Some(t) = self
            .triggers
            .iter()
            .find(|t| Some(&t.label) == self.first_trigger.as_ref())
        {
            let during = self
                .triggers
                .iter()
                .find(|o| {
                    o.load
                        && !t.load
                        && o.start_s <= t.start_s
                        && o.end_s.is_none_or(|e| e > t.start_s)
                })
                .map_or(String::new(), |o| {
                    format!(", during the {} that began at {}", o.label, secs(o.start_s))
                });
            out.push(format!(
                "It started with {} at {}{during}.",
                t.label,
                secs(t.start_s)
            ));
        } else if !self.chain.is_empty() {
            out.push("No fault or load surge preceded the first breach: the system breached its SLO on its own.".into());
        }
        for (k, s) in self.chain.iter().enumerate() {
            let b = self.breaches.iter().find(|b| b.name == s.name);
            let how = b.map_or(String::new(), |b| {
                format!(
                    " (worst window: {:.0}% errors, p99 {})",
                    b.worst_error_rate * 100.0,
                    ms(b.worst_p99_ms)
                )
            });
            let via = s.via.as_ref().map_or(String::new(), |v| {
                format!(", reached through its call to {v}")
            });
            out.push(format!(
                "{}. {} breached at {}{}{}.",
                k + 1,
                s.name,
                secs(s.first_breach_s),
                via,
                how
            ));
        }
        if let Some(iv) = self.breaches[0].intervals.first() {
            out.push(format!(
                "Clients saw it from {}: {:.1}% of client requests failed during the incident, {:.1}% over the run.",
                secs(iv.0),
                self.failed_share_during_incident.unwrap_or(0.0) * 100.0,
                self.failed_share * 100.0
            ));
        }
        out.push(format!(
            "Blast radius: {} of {} services breached.",
            self.services_breached, self.services_total
        ));
        for r in &self.recoveries {
            out.push(match r.recovered_after_s {
                Some(d) => format!(
                    "After {} ended at {}, everything was back within its SLO {} later.",
                    r.trigger,
                    secs(r.ended_s),
                    secs(d)
                ),
                None => format!(
                    "After {} ended at {}, the system never got back within its SLO.",
                    r.trigger,
                    secs(r.ended_s)
                ),
            });
        }
        for m in &self.metastable {
            out.push(format!(
                "METASTABLE: {} still in breach when the run ended, {} after every fault and load surge had ended.",
                if m.name == "clients" {
                    "the clients (end to end) were".to_string()
                } else {
                    format!("{} was", m.name)
                },
                secs(m.lasted_s)
            ));
        }
        out
    }
}

pub fn secs(s: f64) -> String {
    if s >= 100.0 || s == s.trunc() {
        format!("{s:.0} s")
    } else {
        format!("{s:.1} s")
    }
}

pub fn ms(v: f64) -> String {
    if v.is_nan() || v == 0.0 {
        "n/a".into()
    } else if v >= 1000.0 {
        format!("{:.2} s", v / 1000.0)
    } else if v >= 10.0 {
        format!("{v:.0} ms")
    } else {
        format!("{v:.2} ms")
    }
}
