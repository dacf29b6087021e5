//! The analysis in words: one sentence per line, each stating a verdict of the [`Cascade`] with
//! the figures it rests on. The terminal, `index.html` and `report.md` print these lines as
//! they are, so all three say the same thing.
//!
//! It decides nothing: every sentence reads a field the analysis computed by the rules of
//! docs/analysis.md.

use super::cascade::{count, secs, Cascade, Ending, Recovery};

/// Joins names as `a`, `a and b`, `a, b and c`.
fn and(names: &[String]) -> String {
    match names.len() {
        0 => String::new(),
        1 => names[0].clone(),
        n => format!("{} and {}", names[..n - 1].join(", "), names[n - 1]),
    }
}

/// A run without triggers and without a breach: what held throughout, since nothing can be
/// "degraded" against a baseline that is the run itself.
fn steady_lines(st: &super::cascade::Steady) -> Vec<String> {
    let mut out = vec![
        "Nothing was injected and no service breached its SLO. With no trigger the run is its own baseline, so a condition present from the start is not called degraded."
            .to_string(),
    ];
    let all = st.ok + st.degraded + st.failed;
    if st.degraded + st.failed > 0 {
        out.push(format!(
            "Of the {} client answers given after the warm-up, {} were ok, {} degraded (a fallback or partial answer) and {} failed.",
            count(all as f64),
            count(st.ok as f64),
            count(st.degraded as f64),
            count(st.failed as f64)
        ));
    } else if all > 0 {
        out.push(format!(
            "All {} client answers given after the warm-up were ok.",
            count(all as f64)
        ));
    }
    for (name, share) in &st.breakers_open {
        out.push(format!(
            "The breakers of {name} were open at the end of {:.0}% of windows.",
            share * 100.0
        ));
    }
    out
}

impl Cascade {
    /// The analysis in words, one sentence per line.
    pub fn narrative(&self) -> Vec<String> {
        let mut out = Vec::new();
        let clients_breached = !self.intervals[0].breached.is_empty();
        if self.chain.is_empty() && !clients_breached {
            if self.triggers.is_empty() {
                out.extend(steady_lines(&self.steady));
            } else if self.standby_reads.iter().any(|(_, r)| r.stale > 0) {
                // Stale answers are ok answers: nothing degraded, but not all was absorbed.
                out.push(
                    "No service degraded in latency or errors, but reads were stale (below)."
                        .into(),
                );
            } else {
                out.push("No service degraded: every fault and load surge was absorbed.".into());
            }
            out.extend(self.contained());
            out.extend(self.stale_lines());
            return out;
        }
        if !self.triggers.is_empty() && self.baseline_windows < super::judge::MIN_BASELINE_WINDOWS {
            out.push(format!(
                "The run has {} judged window{} before its first trigger (fewer than {}): degradation is judged by the SLO alone.",
                self.baseline_windows,
                if self.baseline_windows == 1 { "" } else { "s" },
                super::judge::MIN_BASELINE_WINDOWS
            ));
        }
        match self
            .triggers
            .iter()
            .find(|t| Some(&t.label) == self.first_trigger.as_ref())
        {
            Some(t) => {
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
            }
            None => out.push(
                "No fault or load surge preceded the first breach: the system breached its SLO on its own."
                    .into(),
            ),
        }
        // Faults with the same effect on the same targets (one fault rule over several
        // replicas) share a line.
        // Grouped through an index of their keys (in order of first appearance), so many
        // faults do not compare every pair. Times are compared as they were (+0 and -0 alike).
        let mut groups: Vec<(Vec<String>, &super::cascade::Origin)> = Vec::new();
        type Key<'a> = (&'a [String], &'a [String], &'a [String], Option<u64>);
        let mut index: std::collections::BTreeMap<Key, usize> = std::collections::BTreeMap::new();
        for o in self.origins.iter().filter(|o| !o.degraded.is_empty()) {
            let key = (
                &o.degraded[..],
                &o.already_degraded[..],
                &o.held[..],
                o.first_degraded_s.map(|t| (t + 0.0).to_bits()),
            );
            match index.get(&key) {
                Some(&g) => groups[g].0.push(o.trigger.clone()),
                None => {
                    index.insert(key, groups.len());
                    groups.push((vec![o.trigger.clone()], o));
                }
            }
        }
        for (labels, o) in groups {
            let fresh: Vec<String> = o
                .degraded
                .iter()
                .filter(|d| !o.already_degraded.contains(d))
                .cloned()
                .collect();
            let held = if o.held.is_empty() {
                String::new()
            } else {
                format!(" ({} held)", and(&o.held))
            };
            // When the chain dates a service from (its first degraded window).
            let first_degraded = |name: &String| {
                self.chain
                    .iter()
                    .find(|s| &s.service == name)
                    .map(|s| s.first_degraded_s)
            };
            let since = |name: &String| {
                first_degraded(name).map_or(String::new(), |t| format!(" since {}", secs(t)))
            };
            if fresh.is_empty() {
                let at = self
                    .triggers
                    .iter()
                    .find(|t| labels.contains(&t.label))
                    .map_or(String::new(), |t| format!(" at {}", secs(t.start_s)));
                let to = match &o.already_degraded[..] {
                    [one] => format!("{one}, which had been degraded{}", since(one)),
                    many => and(&many
                        .iter()
                        .map(|d| format!("{d} (degraded{})", since(d)))
                        .collect::<Vec<_>>()),
                };
                out.push(format!("{} came{at} to {to}{held}.", and(&labels)));
            } else {
                let from_s = o.first_degraded_s.unwrap_or(0.0);
                // A fresh target may have degraded before (under an earlier trigger) and come
                // back by the window before this fault: say so, or the chain below, which
                // dates it from its first degraded window, would seem to contradict this.
                let before: Vec<(&String, f64)> = fresh
                    .iter()
                    .filter_map(|d| {
                        let first = first_degraded(d)?;
                        (first < from_s - 1e-9).then_some((d, first))
                    })
                    .collect();
                let again = match &before[..] {
                    [] => String::new(),
                    [(_, first)] if fresh.len() == 1 => format!(
                        " (again: it had degraded at {}, and was not degraded in the window before the fault)",
                        secs(*first)
                    ),
                    many => format!(
                        " (again for {}: degraded before, and not in the window before the fault)",
                        and(&many
                            .iter()
                            .map(|(d, first)| format!("{d} at {}", secs(*first)))
                            .collect::<Vec<_>>())
                    ),
                };
                out.push(format!(
                    "Origin: {} hit {}, which degraded from {}{again}{}{held}.",
                    and(&labels),
                    and(&fresh),
                    secs(from_s),
                    if o.already_degraded.is_empty() {
                        String::new()
                    } else {
                        format!(" (and {}, already degraded)", and(&o.already_degraded))
                    }
                ));
            }
        }
        out.extend(self.contained());
        for (k, s) in self.chain.iter().enumerate() {
            let when = if s.simultaneous {
                format!("at {} too", secs(s.first_degraded_s))
            } else {
                format!("at {}", secs(s.first_degraded_s))
            };
            let breach = match s.first_breach_s {
                Some(t) if (t - s.first_degraded_s).abs() < 1e-9 => {
                    ", breaching its SLO".to_string()
                }
                Some(t) => format!(", breaching its SLO from {}", secs(t)),
                None => ", within its SLO".to_string(),
            };
            let via = s.reached_through.as_ref().map_or(String::new(), |v| {
                format!("; reached through its call to {v}")
            });
            let mut later = String::new();
            let mut at = f64::NAN;
            for (_, t, w) in &s.later_causes {
                if *t != at {
                    at = *t;
                    let _ = std::fmt::Write::write_fmt(
                        &mut later,
                        format_args!("; then from {}: {w}", secs(*t)),
                    );
                } else {
                    later.push_str(", ");
                    later.push_str(w);
                }
            }
            out.push(format!(
                "{}. {} degraded {when}{breach}: {}{via}{later}.",
                k + 1,
                s.service,
                s.cause_words.join(", ")
            ));
        }
        // Fallbacks are served, not ok: when there were any, their share is said beside the
        // failures, so that "within the SLO" is never read as "all well".
        let st = &self.steady;
        let answers = st.ok + st.degraded + st.failed;
        let fallbacks = if st.degraded > 0 && answers > 0 {
            format!(
                "; {:.1}% of client answers were degraded (fallbacks)",
                st.degraded as f64 / answers as f64 * 100.0
            )
        } else {
            String::new()
        };
        if let Some(iv) = self.intervals[0].breached.first() {
            out.push(format!(
                "Clients saw it from {}: {:.1}% of client requests failed during the incident, {:.1}% over the run{fallbacks}.",
                secs(iv.0),
                self.failed_share_during_incident.unwrap_or(0.0) * 100.0,
                self.failed_share * 100.0
            ));
        } else if !self.chain.is_empty() {
            out.push(format!(
                "Clients stayed within their SLO: {:.1}% of client requests failed over the run{fallbacks}.",
                self.failed_share * 100.0
            ));
        }
        let names: Vec<String> = self.chain.iter().map(|s| s.service.clone()).collect();
        out.push(format!(
            "Blast radius: {} of {} services degraded{}; {} breached their SLO.",
            self.services_degraded,
            self.services_total,
            if names.is_empty() {
                String::new()
            } else {
                format!(" ({})", and(&names))
            },
            self.services_breached
        ));
        out.extend(self.scaling_lines());
        out.extend(self.stale_lines());
        out.extend(self.recovery_lines());
        out.extend(self.ending_line());
        if !self.wasted.is_empty() {
            // The largest first: that is where the waste was.
            let mut w: Vec<&super::cascade::Wasted> = self.wasted.iter().collect();
            w.sort_by(|a, b| {
                b.worker_s
                    .total_cmp(&a.worker_s)
                    .then(a.service.cmp(&b.service))
            });
            let parts: Vec<String> = w
                .iter()
                .map(|w| {
                    format!(
                        "{} {} answer{} ({} worker-seconds)",
                        w.service,
                        count(w.late_answers as f64),
                        if w.late_answers == 1 { "" } else { "s" },
                        count(w.worker_s)
                    )
                })
                .collect();
            out.push(format!(
                "Wasted work, answers that reached callers who had stopped waiting: {}.",
                parts.join(", ")
            ));
        }
        out
    }

    /// Faults whose targets all held: contained, or, if the clients breached meanwhile, not;
    /// and not contained either if the stalest read at a standby was served while it acted.
    fn contained(&self) -> Vec<String> {
        self.origins
            .iter()
            .filter(|o| o.degraded.is_empty() && !o.held.is_empty())
            .map(|o| {
                if o.clients_breached {
                    format!(
                        "{}: {} did not degrade, but the clients breached their SLO while it acted (requests lost or refused on the way).",
                        o.trigger,
                        and(&o.held)
                    )
                } else if self.stalest_during(&o.trigger) {
                    format!(
                        "{}: {} did not degrade and the clients held their SLO, but reads served while it acted were stale (below).",
                        o.trigger,
                        and(&o.held)
                    )
                } else {
                    format!(
                        "{} was contained: {} did not degrade and the clients held their SLO.",
                        o.trigger,
                        and(&o.held)
                    )
                }
            })
            .collect()
    }

    /// Was some service's stalest read at a standby served while trigger `label` acted?
    fn stalest_during(&self, label: &str) -> bool {
        self.triggers.iter().any(|t| {
            t.label == label
                && self.standby_reads.iter().any(|(_, r)| {
                    r.stale > 0
                        && t.start_s <= r.stalest_at_s
                        && t.end_s.is_none_or(|e| r.stalest_at_s <= e)
                })
        })
    }

    /// One line per service whose standbys served reads: how many were stale and how old the
    /// writes they missed were. Stale answers are `ok`: nothing else in the story shows them.
    fn stale_lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (service, r) in &self.standby_reads {
            if r.at_standbys == 0 && r.to_primary == 0 {
                continue;
            }
            let primary = if r.to_primary > 0 {
                format!(
                    "; {} read{} went to the primary, no standby qualifying",
                    count(r.to_primary as f64),
                    if r.to_primary == 1 { "" } else { "s" }
                )
            } else {
                String::new()
            };
            if r.stale == 0 {
                out.push(format!(
                    "The standbys of {service} served {} reads, none stale{primary}.",
                    count(r.at_standbys as f64)
                ));
                continue;
            }
            // The fault in force when the stalest read was served, if one was.
            let during = self
                .triggers
                .iter()
                .find(|t| {
                    !t.load
                        && t.start_s <= r.stalest_at_s
                        && t.end_s.is_none_or(|e| r.stalest_at_s <= e)
                })
                .map_or(String::new(), |t| format!(", during the {}", t.label));
            out.push(format!(
                "The standbys of {service} served {} stale reads ({} of the {} they served), missing acknowledged writes up to {} old (at {}{during}; on average {}); they were answered ok, so availability does not count them{primary}.",
                count(r.stale as f64),
                super::words::pct(r.stale as f64 / r.at_standbys as f64),
                count(r.at_standbys as f64),
                super::words::ms(r.max_staleness_ms),
                secs(r.stalest_at_s),
                super::words::ms(r.mean_staleness_ms),
            ));
        }
        out
    }

    /// One line per autoscaler that changed anything: each change (up to six), or a count.
    fn scaling_lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        for sc in &self.scaling {
            let steps = &sc.steps;
            let Some(first) = steps.first() else {
                continue;
            };
            if steps.len() <= 6 && sc.more == 0 {
                let parts: Vec<String> = steps
                    .iter()
                    .map(|st| {
                        let serving = match st.serving_from_s {
                            _ if st.to < st.from => String::new(),
                            Some(t) => format!(" (serving from {})", secs(t)),
                            None => " (not serving by the end)".to_string(),
                        };
                        format!("{} at {}{serving}", st.to, secs(st.at_s))
                    })
                    .collect();
                out.push(format!(
                    "The autoscaler of {} went from {} replicas to {}.",
                    sc.service,
                    first.from,
                    and(&parts)
                ));
            } else {
                let ups = steps.iter().filter(|s| s.to > s.from).count();
                let most = steps.iter().map(|s| s.to.max(s.from)).max().unwrap_or(0);
                let least = steps.iter().map(|s| s.to.min(s.from)).min().unwrap_or(0);
                let total = steps.len() as u64 + sc.more;
                out.push(format!(
                    "The autoscaler of {} changed its replicas {} times between {least} and {most} ({ups} up, {} down{}), the first at {}.",
                    sc.service,
                    count(total as f64),
                    steps.len() - ups,
                    if sc.more > 0 { " among the first 1,000" } else { "" },
                    secs(first.at_s)
                ));
            }
        }
        out
    }

    /// One line per recovery instant: triggers that were back at the same moment share it.
    fn recovery_lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut done: Vec<bool> = vec![false; self.recoveries.len()];
        let back_at = |r: &Recovery| -> Option<f64> { Some(r.from_s? + r.recovered_after_s?) };
        for (i, r) in self.recoveries.iter().enumerate() {
            if done[i] {
                continue;
            }
            let t = self.triggers.iter().find(|t| t.label == r.trigger);
            let cost = cost(r);
            match (r.from_s, back_at(r)) {
                (None, _) => out.push(format!(
                    "{} lasted to the end of the run{cost}.",
                    r.trigger
                )),
                (Some(from), None) => out.push(format!(
                    "After {} {} {}, the system was not back within its SLO and backlog by the end of the run{cost}.",
                    r.trigger,
                    if t.is_some_and(|t| t.instant) { "at" } else { "ended at" },
                    secs(from)
                )),
                (Some(_), Some(_)) if r.absorbed => {
                    done[i] = true;
                    out.push(format!(
                        "{} at {} was absorbed: nothing breached its SLO while it acted{}.",
                        r.trigger,
                        secs(r.start_s),
                        if r.induced_failures + r.direct_failures.unwrap_or(0) > 0 {
                            cost_short(r)
                        } else {
                            String::new()
                        }
                    ));
                }
                (Some(from), Some(_)) if r.within_s.is_some() => {
                    // Triggers over the same span, back at the same moment, share the line.
                    let group: Vec<usize> = (i..self.recoveries.len())
                        .filter(|&k| {
                            let o = &self.recoveries[k];
                            !done[k]
                                && o.within_s == r.within_s
                                && o.from_s == r.from_s
                                && o.start_s == r.start_s
                        })
                        .collect();
                    let labels: Vec<String> = group
                        .iter()
                        .map(|&k| {
                            done[k] = true;
                            self.recoveries[k].trigger.clone()
                        })
                        .collect();
                    let merged = Recovery {
                        direct_failures: group
                            .iter()
                            .map(|&k| self.recoveries[k].direct_failures)
                            .sum(),
                        ..r.clone()
                    };
                    out.push(format!(
                        "Back within its SLO at {} while {} still went on (ended at {}){}.",
                        secs(r.within_s.unwrap_or(from)),
                        and(&labels),
                        secs(from),
                        cost_short(&merged)
                    ));
                }
                (Some(_), Some(at)) => {
                    let same: Vec<usize> = (i..self.recoveries.len())
                        .filter(|&k| {
                            !done[k]
                                && self.recoveries[k].within_s.is_none()
                                && !self.recoveries[k].absorbed
                                && back_at(&self.recoveries[k]).is_some_and(|b| (b - at).abs() < 1e-9)
                        })
                        .collect();
                    // Triggers whose clock started at the same moment share a part.
                    let mut parts: Vec<String> = Vec::new();
                    let mut k = 0;
                    while k < same.len() {
                        let r0 = &self.recoveries[same[k]];
                        let group: Vec<usize> = same[k..]
                            .iter()
                            .copied()
                            .take_while(|&x| self.recoveries[x].from_s == r0.from_s)
                            .collect();
                        k += group.len();
                        let labels: Vec<String> = group
                            .iter()
                            .map(|&x| {
                                done[x] = true;
                                self.recoveries[x].trigger.clone()
                            })
                            .collect();
                        let instant = self
                            .triggers
                            .iter()
                            .find(|t| t.label == r0.trigger)
                            .is_some_and(|t| t.instant);
                        let direct: Option<u64> = group
                            .iter()
                            .map(|&x| self.recoveries[x].direct_failures)
                            .sum();
                        let merged = Recovery {
                            direct_failures: direct,
                            ..r0.clone()
                        };
                        parts.push(format!(
                            "{} after {} {} ({}){}",
                            secs(r0.recovered_after_s.unwrap_or(0.0)),
                            and(&labels),
                            if instant { "at" } else { "ended" },
                            secs(r0.from_s.unwrap_or(0.0)),
                            cost_short(&merged)
                        ));
                    }
                    out.push(format!(
                        "Back within its SLO and backlog at {}: {}.",
                        secs(at),
                        parts.join("; ")
                    ));
                }
            }
        }
        out
    }

    fn ending_line(&self) -> Option<String> {
        Some(match &self.ending {
            Ending::NoTrigger | Ending::Recovered { .. } => return None,
            Ending::InForce { trigger } => format!(
                "{trigger} was still in force when the run ended: how the system recovers is not judged."
            ),
            Ending::Recovering {
                backlog,
                drain_per_s,
                back_at_s,
            } => format!(
                "RECOVERING: not back when the run ended, but the backlog ({backlog:.0} requests at services) drains at {drain_per_s:.1}/s: near its baseline again at about {} if the drain holds.",
                secs(*back_at_s)
            ),
            Ending::Sustained {
                service,
                by,
                arrivals_per_s,
                own_load_per_s,
                completes_per_s,
                pool_bound,
            } => format!(
                "METASTABLE: {service} stays {} after every trigger ended: {by}; it receives {arrivals_per_s:.0}/s, where its users' own load would bring {own_load_per_s:.0}/s at the arrivals per request of before the incident, and it completes {completes_per_s:.0}/s.",
                if *pool_bound {
                    "held at its callers' pool limits"
                } else {
                    "saturated"
                }
            ),
            Ending::Undecided { reason } => format!("UNDECIDED: {reason}."),
        })
    }
}

/// "; it failed 120 requests itself, and 3,400 client requests failed while it lasted" for a
/// fault.
fn cost(r: &Recovery) -> String {
    let induced = requests(r.induced_failures, "client request");
    match r.direct_failures {
        Some(d) => format!(
            "; it failed {} itself, and {induced} failed while it lasted",
            requests(d, "request")
        ),
        None if r.induced_failures > 0 => format!("; {induced} failed while it lasted"),
        None => String::new(),
    }
}

/// ", failing 120 requests itself and 3,400 client requests in all" for a fault.
fn cost_short(r: &Recovery) -> String {
    let induced = requests(r.induced_failures, "client request");
    match r.direct_failures {
        Some(d) => format!(
            ", failing {} itself and {induced} in all",
            requests(d, "request")
        ),
        None if r.induced_failures > 0 => format!(", {induced} failed"),
        None => String::new(),
    }
}

/// "1 request", "3,400 client requests".
fn requests(n: u64, noun: &str) -> String {
    format!(
        "{} {noun}{}",
        count(n as f64),
        if n == 1 { "" } else { "s" }
    )
}
