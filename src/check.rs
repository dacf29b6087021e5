//! Judging a scenario's expectations (`expect`) against an analysed run: one [`Verdict`] per
//! expectation, pass or fail with the value measured, in words a CI log can show.
//!
//! It reads only the run's summary and analysis (what `summary.json` holds), so a verdict is
//! what the report says; it knows nothing of how runs are made or printed (`cli/check.rs`).

use crate::engine::format_duration;
use crate::report::cascade::Ending;
use crate::report::Analysed;
use crate::scenario::expect::{Expect, Expectation, Scope};
use crate::scenario::Scenario;

/// One expectation judged on one run.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    /// `expect[k]`.
    pub path: String,
    /// What was claimed, e.g. `availability >= 99% (client shoppers)`.
    pub claim: String,
    pub pass: bool,
    /// What the run showed, e.g. `99.62%` or `not back by the end (watched 30 s)`.
    pub measured: String,
    /// How badly it failed, for ranking failures: 0 when it holds; the shortfall relative to
    /// the bound for a figure (0.1: 10% past it); 1 for a claim that is simply false, or a
    /// figure with nothing to judge; 2 for a recovery that never came.
    pub miss: f64,
}

/// Every expectation of `sc` judged on its analysed run `a`, in the file's order.
pub fn judge(sc: &Scenario, a: &Analysed) -> Vec<Verdict> {
    sc.expect.iter().map(|e| judge_one(sc, a, e)).collect()
}

fn pct(x: f64) -> String {
    format!("{:.2}%", x * 100.0)
}

/// `x` as a percentage with enough decimals to tell it from `bound` (97.996% against 98%, not
/// a failing "98.00%").
fn pct_vs(x: f64, bound: f64) -> String {
    (2..=6)
        .map(|d| format!("{:.*}%", d, x * 100.0))
        .find(|s| {
            *s != format!(
                "{:.*}%",
                s.len() - s.find('.').unwrap_or(0) - 2,
                bound * 100.0
            )
        })
        .unwrap_or_else(|| format!("{:.6}%", x * 100.0))
}

fn scope_words(sc: &Scenario, s: &Scope) -> String {
    match s {
        Scope::System => "system".into(),
        Scope::Client(i) => format!("client {}", sc.system.clients[*i].name),
        Scope::Service(i) => format!("service {}", sc.system.services[*i].name),
    }
}

fn judge_one(sc: &Scenario, a: &Analysed, e: &Expectation) -> Verdict {
    let s = &a.summary;
    let h = &a.headline;
    let scope = scope_words(sc, &e.scope);
    let verdict = |claim: String, pass: bool, measured: String| Verdict {
        path: e.path.clone(),
        claim,
        pass,
        measured,
        miss: if pass { 0.0 } else { 1.0 },
    };
    // Past the bound, relative to it (0 when within).
    let past = |over: f64, bound: f64| (over / bound.abs().max(1e-12)).max(0.0);
    let share = |good: u64, all: u64| (all > 0).then(|| good as f64 / all as f64);
    match &e.expect {
        Expect::Availability {
            at_least,
            at_most,
            during_faults,
        } => {
            let bound = match (*at_least > 0.0, *at_most < 1.0) {
                (true, true) => format!("from {} to {}", pct(*at_least), pct(*at_most)),
                (false, true) => format!("<= {}", pct(*at_most)),
                _ => format!(">= {}", pct(*at_least)),
            };
            let claim = if *during_faults {
                format!("availability during faults {bound} ({scope})")
            } else {
                format!("availability {bound} ({scope})")
            };
            let measured = match (&e.scope, during_faults) {
                (_, true) => match a.cascade.failed_share_during_incident {
                    Some(f) => Some(1.0 - f),
                    // Nothing to judge: fine for a floor, not for a claimed failure.
                    None => return verdict(claim, *at_most >= 1.0, "no incident".into()),
                },
                (Scope::System, false) => s
                    .clients
                    .iter()
                    .any(|c| c.completed > 0)
                    .then_some(h.availability),
                (Scope::Client(i), false) => {
                    let c = &s.clients[*i];
                    share(c.outcomes.ok + c.outcomes.degraded, c.completed)
                }
                (Scope::Service(i), false) => {
                    let v = &s.services[*i];
                    share(v.outcomes.ok + v.outcomes.degraded, v.completed)
                }
            };
            match measured {
                Some(m) => {
                    let near = if m > *at_most { *at_most } else { *at_least };
                    Verdict {
                        miss: past(*at_least - m, *at_least) + past(m - *at_most, *at_most),
                        ..verdict(claim, m >= *at_least && m <= *at_most, pct_vs(m, near))
                    }
                }
                None => verdict(
                    claim,
                    false,
                    "no request completed: nothing to judge".into(),
                ),
            }
        }
        Expect::P99 { at_most } => {
            let claim = format!("p99 <= {} ({scope})", format_duration(at_most.0));
            let lat = match &e.scope {
                Scope::System => s
                    .clients
                    .iter()
                    .filter(|c| c.latency.count > 0)
                    .map(|c| c.latency.p99_ms)
                    .reduce(f64::max),
                Scope::Client(i) => Some(&s.clients[*i].latency)
                    .filter(|l| l.count > 0)
                    .map(|l| l.p99_ms),
                Scope::Service(i) => Some(&s.services[*i].latency)
                    .filter(|l| l.count > 0)
                    .map(|l| l.p99_ms),
            };
            match lat {
                Some(ms) => Verdict {
                    miss: past(ms * 1e6 - at_most.0 as f64, at_most.0 as f64),
                    ..verdict(
                        claim,
                        ms * 1e6 <= at_most.0 as f64,
                        format_duration((ms * 1e6).round() as u64),
                    )
                },
                None => verdict(claim, false, "no ok request: nothing to judge".into()),
            }
        }
        Expect::RecoversWithin(d) => {
            let claim = format!("recovers within {}", format_duration(d.0));
            match (&a.cascade.ending, h.recovered_after_s) {
                (_, Some(x)) => Verdict {
                    miss: past(x * 1e9 - d.0 as f64, d.0 as f64).min(1.0),
                    ..verdict(
                        claim,
                        x * 1e9 <= d.0 as f64,
                        format!("back {} after the last trigger", secs(x)),
                    )
                },
                (Ending::NoTrigger, None) => verdict(claim, true, "no trigger".into()),
                (ending, None) => Verdict {
                    miss: 2.0,
                    ..verdict(claim, false, not_back(a, ending))
                },
            }
        }
        Expect::NotMetastable => {
            let claim = "not metastable".to_string();
            match (&a.cascade.ending, h.metastable) {
                (_, Some(false)) => {
                    verdict(claim, true, format!("ended {}", a.cascade.ending.name()))
                }
                (Ending::NoTrigger, _) => verdict(claim, true, "no trigger".into()),
                (Ending::Sustained { service, by, .. }, _) => {
                    verdict(claim, false, format!("sustained at {service}: {by}"))
                }
                (ending, _) => verdict(claim, false, not_back(a, ending)),
            }
        }
        Expect::Metastable => {
            let claim = "metastable".to_string();
            match &a.cascade.ending {
                Ending::Sustained { service, by, .. } => {
                    verdict(claim, true, format!("sustained at {service}: {by}"))
                }
                Ending::NoTrigger => verdict(claim, false, "no trigger".into()),
                Ending::Recovered { .. } | Ending::Recovering { .. } => {
                    verdict(claim, false, format!("ended {}", a.cascade.ending.name()))
                }
                ending => verdict(claim, false, not_back(a, ending)),
            }
        }
        Expect::NoLostWrites => {
            let lost: u64 = s.replication.iter().map(|r| r.acked_writes_lost).sum();
            let measured = if s.replication.is_empty() {
                "0 (no active-passive service)".into()
            } else {
                format!("{lost} acknowledged writes lost")
            };
            verdict("no acknowledged write lost".into(), lost == 0, measured)
        }
        Expect::NoSplitBrain => {
            let t: f64 = s.replication.iter().map(|r| r.split_brain_s).sum();
            let measured = if s.replication.is_empty() {
                "0 s (no active-passive service)".into()
            } else {
                format!("{} with two primaries", secs(t))
            };
            verdict("no split brain".into(), t == 0.0, measured)
        }
        Expect::RetryAmplification { at_most } => {
            let claim = format!("retry amplification <= {at_most} attempts per call ({scope})");
            let ratio = |attempts: u64, calls: u64| share(attempts, calls);
            let m = match &e.scope {
                Scope::System => s
                    .clients
                    .iter()
                    .filter_map(|c| ratio(c.attempts, c.offered))
                    .chain(
                        s.services
                            .iter()
                            .flat_map(|v| &v.calls)
                            .filter_map(|c| ratio(c.attempts, c.calls)),
                    )
                    .reduce(f64::max),
                Scope::Client(i) => ratio(s.clients[*i].attempts, s.clients[*i].offered),
                Scope::Service(i) => {
                    let name = &sc.system.services[*i].name;
                    let (mut attempts, mut calls) = (0, 0);
                    for (k, c) in s.clients.iter().enumerate() {
                        if sc.system.clients[k].target == *i {
                            attempts += c.attempts;
                            calls += c.offered;
                        }
                    }
                    for c in s.services.iter().flat_map(|v| &v.calls) {
                        if c.to == *name {
                            attempts += c.attempts;
                            calls += c.calls;
                        }
                    }
                    ratio(attempts, calls)
                }
            };
            match m {
                Some(m) => Verdict {
                    miss: past(m - *at_most, *at_most),
                    ..verdict(claim, m <= *at_most, format!("{m:.3}"))
                },
                None => verdict(claim, false, "no call made: nothing to judge".into()),
            }
        }
    }
}

fn secs(x: f64) -> String {
    format_duration((x * 1e9).round().max(0.0) as u64)
}

/// Why a run is not known to be back, in words.
fn not_back(a: &Analysed, ending: &Ending) -> String {
    match ending {
        Ending::InForce { trigger } => format!("{trigger} lasts to the end of the run"),
        Ending::Undecided { reason } => format!("undecided: {reason}"),
        Ending::Sustained { service, by, .. } => format!("sustained at {service}: {by}"),
        _ => match a.headline.not_back_after_s {
            Some(w) => format!(
                "not back by the end (watched {} after the last trigger)",
                secs(w)
            ),
            None => format!("not back ({})", ending.name()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::pct_vs;

    #[test]
    fn a_measured_share_is_never_printed_equal_to_a_bound_it_misses() {
        for (x, bound, want) in [
            (0.9863, 0.85, "98.63%"),
            (0.97997, 0.98, "97.997%"),
            (0.9799996, 0.98, "97.99996%"),
            (0.98, 0.98, "98.000000%"),
        ] {
            assert_eq!(pct_vs(x, bound), want, "{x} vs {bound}");
        }
    }
}
