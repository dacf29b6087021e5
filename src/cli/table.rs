//! Plain-text tables for the terminal: right-aligned numbers, latencies in the unit that keeps
//! three significant figures.

use crate::metrics::Summary;

pub use crate::report::words::thousands;

/// Milliseconds with three significant figures in a fitting unit: `850us`, `12.1ms`, `1.20s`.
pub fn latency(ms: f64) -> String {
    if ms <= 0.0 {
        "-".to_string()
    } else if ms < 1.0 {
        format!("{}us", sig3(ms * 1000.0))
    } else if ms < 1000.0 {
        format!("{}ms", sig3(ms))
    } else {
        format!("{}s", sig3(ms / 1000.0))
    }
}

fn sig3(x: f64) -> String {
    if x >= 100.0 {
        format!("{x:.0}")
    } else if x >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

fn render(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<&str>, out: &mut String| {
        for (i, c) in cells.iter().enumerate() {
            let pad = widths[i] - c.chars().count();
            if i == 0 {
                out.push_str(c);
                out.push_str(&" ".repeat(pad));
            } else if i == cells.len() - 1 && header[i] == "failures" {
                out.push_str("  ");
                out.push_str(c);
            } else {
                out.push_str("  ");
                out.push_str(&" ".repeat(pad));
                out.push_str(c);
            }
        }
        out.push('\n');
    };
    line(header.to_vec(), &mut out);
    for r in rows {
        line(r.iter().map(String::as_str).collect(), &mut out);
    }
    out
}

fn failures(f: Vec<(&str, u64)>) -> String {
    if f.is_empty() {
        "-".to_string()
    } else {
        f.iter()
            .map(|(n, c)| format!("{n} {}", thousands(*c)))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// The per-service table.
pub fn services(s: &Summary) -> String {
    let header = [
        "service",
        "offered",
        "completed",
        "ok %",
        "thru/s",
        "p50",
        "p99",
        "p99.9",
        "util",
        "max queue",
        "failures",
    ];
    let rows: Vec<Vec<String>> = s
        .services
        .iter()
        .map(|v| {
            vec![
                v.name.clone(),
                thousands(v.offered),
                thousands(v.completed),
                format!("{:.2}", v.ok_ratio * 100.0),
                format!("{:.1}", v.throughput_per_s),
                latency(v.latency.p50_ms),
                latency(v.latency.p99_ms),
                latency(v.latency.p999_ms),
                format!("{:.1}%", v.utilisation * 100.0),
                thousands(v.max_queue as u64),
                failures(v.outcomes.failures()),
            ]
        })
        .collect();
    render(&header, &rows)
}

/// One row per endpoint of the services that have endpoints: its kind and priority, what it
/// was answered as and how fast. Empty when no service has endpoints.
pub fn endpoints(s: &Summary) -> String {
    let header = [
        "endpoint", "kind", "priority", "share", "requests", "ok %", "thru/s", "p50", "p99",
        "failures",
    ];
    let rows: Vec<Vec<String>> = s
        .services
        .iter()
        .flat_map(|v| {
            let total: u64 = v.endpoints.iter().map(|e| e.requests).sum();
            v.endpoints.iter().map(move |e| {
                vec![
                    format!("{} {}", v.name, e.name),
                    if e.write { "write" } else { "read" }.to_string(),
                    e.priority.to_string(),
                    // What it was configured for, and what it got (named requests included).
                    format!(
                        "{:.0}% ({:.0}%)",
                        e.share * 100.0,
                        if total > 0 {
                            e.requests as f64 * 100.0 / total as f64
                        } else {
                            0.0
                        }
                    ),
                    thousands(e.requests),
                    format!("{:.2}", e.ok_ratio * 100.0),
                    format!("{:.1}", e.throughput_per_s),
                    latency(e.latency.p50_ms),
                    latency(e.latency.p99_ms),
                    failures(e.outcomes.failures()),
                ]
            })
        })
        .collect();
    if rows.is_empty() {
        return String::new();
    }
    render(&header, &rows)
}

/// The per-client (end-to-end) table.
pub fn clients(s: &Summary) -> String {
    let header = [
        "client",
        "offered",
        "attempts/req",
        "completed",
        "ok %",
        "goodput/s",
        "p50",
        "p99",
        "p99.9",
        "in flight",
        "failures",
    ];
    let rows: Vec<Vec<String>> = s
        .clients
        .iter()
        .map(|v| {
            vec![
                v.name.clone(),
                thousands(v.offered),
                format!("{:.2}", v.amplification),
                thousands(v.completed),
                format!("{:.2}", v.ok_ratio * 100.0),
                format!("{:.1}", v.goodput_per_s),
                latency(v.latency.p50_ms),
                latency(v.latency.p99_ms),
                latency(v.latency.p999_ms),
                format!("{:.1}", v.mean_in_flight),
                failures(v.outcomes.failures()),
            ]
        })
        .collect();
    render(&header, &rows)
}

/// One row per policy layer (instances of a per-replica policy added up). Empty when the
/// scenario has no policies.
pub fn policies(s: &Summary) -> String {
    use crate::metrics::PolicySummary;
    use crate::policy::breaker::BreakerState;
    let mut groups: Vec<(String, usize, String, Vec<&PolicySummary>)> = Vec::new();
    for p in &s.policies {
        match groups.last_mut() {
            Some(g) if g.0 == p.edge && g.1 == p.layer => g.3.push(p),
            _ => groups.push((p.edge.clone(), p.layer, p.kind.clone(), vec![p])),
        }
    }
    if groups.is_empty() {
        return String::new();
    }
    let header = [
        "edge",
        "policy",
        "calls",
        "retries",
        "budget refused",
        "gave up",
        "timeouts",
        "rejected",
        "degraded",
        "details",
    ];
    let rows: Vec<Vec<String>> = groups
        .iter()
        .map(|(edge, layer, kind, ps)| {
            let sum = |f: fn(&PolicySummary) -> u64| ps.iter().map(|p| f(p)).sum::<u64>();
            let n = |x: u64| {
                if x == 0 {
                    "-".to_string()
                } else {
                    thousands(x)
                }
            };
            let details = match kind.as_str() {
                "circuit_breaker" => {
                    let opened: u64 = sum(|p| p.counters_opened());
                    let open_now = ps
                        .iter()
                        .filter(|p| p.breaker_state == Some(BreakerState::Open))
                        .count();
                    format!(
                        "opened {}x; {} of {} open at end",
                        opened,
                        open_now,
                        ps.len()
                    )
                }
                "hedge" => format!(
                    "hedges {}, won {}",
                    thousands(sum(|p| p.counters.hedges)),
                    thousands(sum(|p| p.counters.hedges_won))
                ),
                "bulkhead" | "rate_limiter" if sum(|p| p.counters.waited) > 0 => {
                    format!("waited {}", thousands(sum(|p| p.counters.waited)))
                }
                _ => "-".to_string(),
            };
            vec![
                edge.clone(),
                format!("{layer}: {kind}"),
                thousands(sum(|p| p.counters.calls)),
                n(sum(|p| p.counters.retries)),
                n(sum(|p| p.counters.budget_exhausted)),
                n(sum(|p| p.counters.attempts_exhausted)),
                n(sum(|p| p.counters.timeouts)),
                n(sum(|p| p.counters.rejected)),
                n(sum(|p| p.counters.degraded)),
                details,
            ]
        })
        .collect();
    render(&header, &rows)
}

/// One row per replica with admission control. Empty when no service has any.
pub fn admission(s: &Summary) -> String {
    if s.admission.is_empty() {
        return String::new();
    }
    let header = [
        "replica",
        "limit at end",
        "shed by limit",
        "shed by queue time",
        "shed expired",
    ];
    let rows: Vec<Vec<String>> = s
        .admission
        .iter()
        .map(|a| {
            vec![
                format!("{}/{}", a.service, a.replica),
                a.limit_at_end
                    .map(|l| l.to_string())
                    .unwrap_or_else(|| "-".to_string()),
                thousands(a.shed_by_limit),
                thousands(a.shed_by_queue_time),
                thousands(a.shed_expired),
            ]
        })
        .collect();
    render(&header, &rows)
}

fn seconds(s: f64) -> String {
    crate::engine::format_duration((s * 1e9).round() as u64)
}

/// One row per fault window, with what the analysis found of it (`recoveries`, one per
/// trigger; a fault's is the one with its label and start). Empty when there are no faults.
pub fn faults(s: &Summary, recoveries: &[crate::report::cascade::Recovery]) -> String {
    if s.faults.is_empty() {
        return String::new();
    }
    let header = [
        "fault",
        "window",
        "failed by it",
        "client requests failed while it lasted",
        "detected after",
        "recovered after",
    ];
    // The recovery of each fault: the first (in their order) with its name and start. Found
    // among the recoveries sorted by start, so 100,000 faults do not compare every pair.
    let mut by_start: Vec<usize> = (0..recoveries.len()).collect();
    by_start.sort_by(|&a, &b| recoveries[a].start_s.total_cmp(&recoveries[b].start_s));
    let recovery_of = |f: &crate::metrics::FaultSummary| {
        let lo = by_start.partition_point(|&i| recoveries[i].start_s < f.start_s - 1e-9);
        by_start[lo..]
            .iter()
            .take_while(|&&i| recoveries[i].start_s <= f.start_s + 1e-9)
            .filter(|&&i| recoveries[i].trigger == f.fault)
            .min()
            .map(|&i| &recoveries[i])
    };
    let rows: Vec<Vec<String>> = s
        .faults
        .iter()
        .map(|f| {
            let r = recovery_of(f);
            vec![
                f.fault.clone(),
                if f.instant {
                    format!("at {}", seconds(f.start_s))
                } else {
                    format!(
                        "{} -> {}",
                        seconds(f.start_s),
                        f.end_s.map(seconds).unwrap_or_else(|| "end".to_string())
                    )
                },
                thousands(f.requests_failed),
                r.map_or("-".to_string(), |r| thousands(r.induced_failures)),
                f.detected_after_s
                    .map(seconds)
                    .unwrap_or_else(|| "-".to_string()),
                match r {
                    Some(r) if r.from_s.is_none() => "in force".to_string(),
                    Some(r) => r
                        .recovered_after_s
                        .map(seconds)
                        .unwrap_or_else(|| "not recovered".to_string()),
                    None => "-".to_string(),
                },
            ]
        })
        .collect();
    render(&header, &rows)
}

/// One row per replica that faults or health checks touched. Empty when none did.
pub fn health(s: &Summary) -> String {
    if s.health.is_empty() {
        return String::new();
    }
    // Garbage collection columns only where a service models it.
    let gc = s.health.iter().any(|h| h.gc_collections > 0);
    let mut header = vec![
        "replica",
        "crashes",
        "liveness kills",
        "OOM kills",
        "refused",
        "reset",
        "ejections",
    ];
    if gc {
        header.extend(["GC pauses", "paused"]);
    }
    header.push("state changes");
    let rows: Vec<Vec<String>> = s
        .health
        .iter()
        .map(|h| {
            let mut row = vec![
                format!("{}/{}", h.service, h.replica),
                thousands(h.crashes),
                thousands(h.liveness_kills),
                thousands(h.oom_kills),
                thousands(h.refused),
                thousands(h.reset),
                thousands(h.ejections),
            ];
            if gc {
                row.push(thousands(h.gc_collections));
                row.push(seconds(h.gc_pause_s));
            }
            row.push({
                let shown: Vec<String> = h
                    .changes
                    .iter()
                    .take(4)
                    .map(|(t, w)| format!("{w} {}", seconds(*t)))
                    .collect();
                let more = h.changes.len().saturating_sub(4) as u64 + h.changes_dropped;
                if more > 0 {
                    format!("{} (+{more})", shown.join(", "))
                } else {
                    shown.join(", ")
                }
            });
            row
        })
        .collect();
    render(&header, &rows)
}

/// One row per active-passive service: failovers, writes lost, split brain. Empty when none.
pub fn replication(s: &Summary) -> String {
    if s.replication.is_empty() {
        return String::new();
    }
    let reads_at_standbys = s.replication.iter().any(|r| r.standby_reads.is_some());
    let mut header = vec![
        "active-passive",
        "writes acked",
        "acked writes lost",
        "conflicting writes",
        "refused (not primary / no standby)",
        "split brain",
        "failovers",
    ];
    if reads_at_standbys {
        header.push("reads at standbys (stale, oldest write missed)");
    }
    let rows: Vec<Vec<String>> = s
        .replication
        .iter()
        .map(|r| {
            let shown: Vec<String> = r
                .failovers
                .iter()
                .take(3)
                .map(|f| {
                    format!(
                        "{} at {} (lost {})",
                        f.to,
                        seconds(f.at_s),
                        thousands(f.writes_lost)
                    )
                })
                .collect();
            let more = r.failovers_total.saturating_sub(3);
            let reads = match &r.standby_reads {
                None => "at the primary".to_string(),
                Some(x) if x.stale == 0 => format!("{} (none stale)", thousands(x.at_standbys)),
                Some(x) => format!(
                    "{} ({} stale, {})",
                    thousands(x.at_standbys),
                    thousands(x.stale),
                    crate::report::words::ms(x.max_staleness_ms)
                ),
            };
            let mut row = vec![
                r.service.clone(),
                thousands(r.writes_acked),
                thousands(r.acked_writes_lost),
                thousands(r.conflicting_writes),
                format!(
                    "{} / {}",
                    thousands(r.refused_not_primary),
                    thousands(r.refused_no_standby)
                ),
                if r.split_brain_s > 0.0 {
                    seconds(r.split_brain_s)
                } else {
                    "none".to_string()
                },
                listed(&shown, more),
            ];
            if reads_at_standbys {
                row.push(reads);
            }
            row
        })
        .collect();
    render(&header, &rows)
}

/// The first few items of a list and how many more: `a, b (+3)`, or `none`.
fn listed(shown: &[String], more: u64) -> String {
    match (shown.is_empty(), more) {
        (true, _) => "none".to_string(),
        (false, 0) => shown.join(", "),
        (false, m) => format!("{} (+{m})", shown.join(", ")),
    }
}

/// One row per autoscaled service: its metric and bounds, and the changes it made (the
/// first few with their times). Empty when there is none.
pub fn autoscalers(s: &Summary) -> String {
    if s.autoscalers.is_empty() {
        return String::new();
    }
    let header = [
        "autoscaler",
        "metric (target)",
        "min..max",
        "asked for (fewest..most)",
        "at end (running)",
        "changes",
    ];
    let rows: Vec<Vec<String>> = s
        .autoscalers
        .iter()
        .map(|a| {
            let target = match a.metric.as_str() {
                "utilization" => format!("{:.0}%", a.target * 100.0),
                "rate_per_replica" => format!("{}/s", sig3(a.target)),
                _ => sig3(a.target),
            };
            let shown: Vec<String> = a
                .changes
                .iter()
                .take(4)
                .map(|c| format!("{}->{} at {}", c.from, c.to, seconds(c.at_s)))
                .collect();
            let more = (a.changes.len() as u64 + a.changes_dropped).saturating_sub(4);
            vec![
                a.service.clone(),
                format!("{} ({target})", a.metric),
                format!("{}..{}", a.min_replicas, a.max_replicas),
                format!("{}..{}", a.fewest_requested, a.most_requested),
                format!("{} ({})", a.requested_at_end, a.running_at_end),
                listed(&shown, more),
            ]
        })
        .collect();
    render(&header, &rows)
}

/// One row per bandwidth-limited link. Empty when there is none.
pub fn links(s: &Summary) -> String {
    if s.links.is_empty() {
        return String::new();
    }
    let header = [
        "bandwidth-limited link",
        "requests sent / dropped",
        "longest request wait",
        "responses sent / dropped",
        "longest response wait",
    ];
    let rows: Vec<Vec<String>> = s
        .links
        .iter()
        .map(|l| {
            vec![
                l.link.clone(),
                format!(
                    "{} / {}",
                    thousands(l.requests_sent),
                    thousands(l.requests_dropped)
                ),
                latency(l.requests_max_wait_ms),
                format!(
                    "{} / {}",
                    thousands(l.responses_sent),
                    thousands(l.responses_dropped)
                ),
                latency(l.responses_max_wait_ms),
            ]
        })
        .collect();
    render(&header, &rows)
}

/// One row per connection pool (call and caller replica). Empty when there is none.
pub fn pools(s: &Summary) -> String {
    if s.pools.is_empty() {
        return String::new();
    }
    let header = [
        "connection pool",
        "connections",
        "waited",
        "longest queue",
        "dropped (caller gave up)",
    ];
    let rows: Vec<Vec<String>> = s
        .pools
        .iter()
        .map(|p| {
            vec![
                format!("{} (replica {})", p.call, p.replica),
                p.connections.to_string(),
                thousands(p.waited),
                thousands(p.max_waiting as u64),
                thousands(p.abandoned),
            ]
        })
        .collect();
    render(&header, &rows)
}

/// One row per cache tier. Empty when there is none.
pub fn caches(s: &Summary) -> String {
    if s.caches.is_empty() {
        return String::new();
    }
    let header = [
        "cache",
        "hit ratio",
        "hits",
        "misses",
        "coalesced",
        "fills",
        "flushes",
        "evictions",
        "tier down (lookups)",
    ];
    let rows: Vec<Vec<String>> = s
        .caches
        .iter()
        .map(|c| {
            vec![
                c.edge.clone(),
                format!("{:.1}%", c.hit_ratio * 100.0),
                thousands(c.hits),
                thousands(c.misses),
                thousands(c.coalesced),
                thousands(c.fills),
                thousands(c.flushes),
                thousands(c.evictions),
                thousands(c.unreachable),
            ]
        })
        .collect();
    render(&header, &rows)
}

/// The cascade in words and the headline numbers, for the terminal (one run, or variants side
/// by side).
pub fn cascade(runs: &[(crate::report::Headline, Vec<String>)]) -> Vec<String> {
    let mut out = Vec::new();
    for (h, narrative) in runs {
        if runs.len() > 1 {
            out.push(format!("variant {}:", h.variant));
        }
        for line in narrative {
            out.push(format!("  {line}"));
        }
    }
    if runs.len() > 1 {
        // Variants side by side on what their users saw, then how each run ended.
        out.push(String::new());
        out.push(format!(
            "{:<16} {:>12} {:>11} {:>11} {:>10} {:>12}  {}",
            "variant", "availability", "goodput/s", "client p99", "arrivals/", "recovered", "ended"
        ));
        out.push(format!(
            "{:<16} {:>12} {:>11} {:>11} {:>10} {:>12}",
            "", "", "", "", "request", "after"
        ));
        for (h, _) in runs {
            out.push(format!(
                "{:<16} {:>11.3}% {:>11.1} {:>11} {:>10.2} {:>12}  {}",
                h.variant,
                h.availability * 100.0,
                h.goodput_per_s,
                crate::report::cascade::ms(h.p99_ms),
                h.service_amplification,
                match (h.recovered_after_s, h.not_back_after_s) {
                    (Some(t), _) => seconds(t),
                    (None, Some(t)) => format!(">{}", seconds(t)),
                    _ => "-".to_string(),
                },
                match h.ending.as_str() {
                    "sustained" => "METASTABLE".to_string(),
                    e => e.replace('_', " "),
                }
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_numbers() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(latency(0.85), "850us");
        assert_eq!(latency(12.14), "12.1ms");
        assert_eq!(latency(1200.0), "1.20s");
        assert_eq!(latency(0.0), "-");
    }
}
