//! The words both pages print: a verdict line per variant, the headline table's rows, what
//! each variant changed, the meta line, the services table's rows. Every figure comes from the
//! analysis (docs/analysis.md) or the summary; nothing is judged here.

use crate::report::cascade::{count, ms, secs, Ending};
use crate::report::{Analysed, Headline};
use crate::scenario::Scenario;

pub fn pct(v: f64) -> String {
    if (0.9995..1.0).contains(&v) {
        format!("{:.3}%", v * 100.0)
    } else {
        format!("{:.2}%", v * 100.0)
    }
}

/// One sentence per variant: what its users saw, where it started, how it ended. Returns
/// (sentence, alarming?): the latter when it ended metastable or never got back.
pub fn verdict(a: &Analysed) -> (String, bool) {
    let h = &a.headline;
    let c = &a.cascade;
    let no_ok = a.summary.clients.iter().all(|c| c.latency.count == 0);
    let (ok, degraded, done) = a.summary.clients.iter().fold((0, 0, 0), |acc, c| {
        (
            acc.0 + c.outcomes.ok,
            acc.1 + c.outcomes.degraded,
            acc.2 + c.completed,
        )
    });
    // "ok" only when it is: fallbacks are counted as served, and said to be.
    let served = if degraded == 0 {
        format!("{} of client requests ok", pct(h.availability))
    } else {
        let share = |x: u64| {
            if done > 0 {
                x as f64 / done as f64
            } else {
                0.0
            }
        };
        format!(
            "{} of client requests served ({} ok, {} degraded)",
            pct(h.availability),
            pct(share(ok)),
            pct(share(degraded))
        )
    };
    let mut s = format!(
        "{}: {served}, goodput {:.1}/s, p99 {}",
        a.name,
        h.goodput_per_s,
        if no_ok {
            "n/a (no ok answer)".to_string()
        } else {
            ms(h.p99_ms)
        }
    );
    let clients_breach = c.intervals.first().and_then(|i| i.breached.first());
    match (c.chain.first(), clients_breach) {
        (None, None) if c.triggers.is_empty() => {
            s.push_str("; nothing injected, no SLO breached");
            if let Some((name, share)) = c.steady.breakers_open.first() {
                s.push_str(&format!(
                    "; {name} breakers open in {:.0}% of windows",
                    share * 100.0
                ));
            }
        }
        (None, None) if h.stale_reads > 0 => s.push_str(&format!(
            "; nothing degraded in latency or errors, but {} reads were stale, missing writes up to {} old",
            count(h.stale_reads as f64),
            ms(h.max_staleness_ms)
        )),
        (None, None) => s.push_str("; every fault and surge absorbed: nothing degraded"),
        (first, breach) => {
            if let Some(f) = first {
                s.push_str(&format!(
                    "; {} degraded first, at {} ({})",
                    f.service,
                    secs(f.first_degraded_s),
                    f.cause.replace('_', " ")
                ));
            }
            match breach {
                Some(b) => s.push_str(&format!("; clients breached their SLO from {}", secs(b.0))),
                None => s.push_str("; clients held their SLO"),
            }
        }
    }
    let alarming = match &c.ending {
        Ending::NoTrigger => false,
        Ending::Recovered { after_s } => {
            // The last trigger's recovery: back while it still acted, or after its end.
            let last = c
                .recoveries
                .iter()
                .filter(|r| r.from_s.is_some())
                .max_by(|a, b| a.from_s.partial_cmp(&b.from_s).expect("finite"));
            match last.and_then(|r| Some((r, r.within_s?))) {
                Some((r, at)) => s.push_str(&format!(
                    "; back within its SLO at {} while {} still went on",
                    secs(at),
                    r.trigger
                )),
                None => s.push_str(&format!("; back {} after the last trigger", secs(*after_s))),
            }
            false
        }
        Ending::Recovering { back_at_s, .. } => {
            s.push_str(&format!(
                "; still recovering at the end, back at about {}",
                secs(*back_at_s)
            ));
            false
        }
        Ending::Sustained { by, .. } => {
            s.push_str(&format!("; METASTABLE: {by}"));
            true
        }
        Ending::Undecided { .. } => {
            s.push_str("; not back by the end, and too little to tell why (run it longer)");
            true
        }
        Ending::InForce { trigger } => {
            s.push_str(&format!("; {trigger} lasts to the end"));
            false
        }
    };
    s.push('.');
    (s, alarming)
}

/// Rows of the headline table: (label, value per run). What users saw first, then how it
/// ended; the same rows for every variant, so they compare side by side.
pub fn headline_rows(runs: &[Analysed]) -> Vec<(String, Vec<String>)> {
    let h: Vec<&Headline> = runs.iter().map(|r| &r.headline).collect();
    let row = |label: &str, f: &dyn Fn(&Headline) -> String| {
        (
            label.to_string(),
            h.iter().map(|x| f(x)).collect::<Vec<_>>(),
        )
    };
    let mut rows = vec![
        row("availability (ok or degraded)", &|x| pct(x.availability)),
        row("goodput", &|x| format!("{:.1}/s", x.goodput_per_s)),
        row("client p99 (ok requests)", &|x| ms(x.p99_ms)),
        row("recovered after the last trigger", &|x| match (
            x.recovered_after_s,
            x.not_back_after_s,
            x.ending.as_str(),
        ) {
            (Some(t), _, _) => secs(t),
            (None, Some(t), _) => format!("not within {} (the run's end)", secs(t)),
            (None, _, "no_trigger") => "n/a".into(),
            (None, _, "in_force") => "fault in force".into(),
            (None, _, _) => "not by the end".into(),
        }),
        row(
            "how it ended",
            &|x| match (x.ending.as_str(), x.recovering_eta_s) {
                ("sustained", _) => {
                    format!("METASTABLE: {}", x.sustained_by.clone().unwrap_or_default())
                }
                ("recovering", Some(t)) => format!("recovering, back at about {}", secs(t)),
                ("undecided", _) => "undecided (too little to tell)".into(),
                ("in_force", _) => "fault in force".into(),
                ("no_trigger", _) => "no trigger".into(),
                (e, _) => e.to_string(),
            },
        ),
    ];
    if runs.iter().any(|r| !r.summary.replication.is_empty()) {
        rows.push(row("acknowledged writes lost", &|x| {
            x.acked_writes_lost.to_string()
        }));
    }
    let reads_at_standbys = |r: &Analysed| {
        r.summary
            .replication
            .iter()
            .any(|x| x.standby_reads.is_some())
    };
    if runs.iter().any(reads_at_standbys) {
        rows.push(row("stale reads (oldest write missed)", &|x| {
            if x.stale_reads == 0 {
                "0".to_string()
            } else {
                format!(
                    "{} ({})",
                    count(x.stale_reads as f64),
                    ms(x.max_staleness_ms)
                )
            }
        }));
    }
    rows.push(row("wasted work (worker seconds)", &|x| {
        count(x.wasted_worker_s)
    }));
    rows.push(row("client attempts per request", &|x| {
        format!("{:.3}", x.client_amplification)
    }));
    rows.push(row("service arrivals per client request", &|x| {
        format!("{:.3}", x.service_amplification)
    }));
    rows.push(row("trace hash", &|x| x.trace_hash.clone()));
    rows
}

/// With several clients, the ones whose availability moved by a point or more between two
/// variants: the total can hide who gained and who paid (priorities move failures from one
/// client to another).
fn client_changes(a: &Analysed, b: &Analysed) -> String {
    if a.summary.clients.len() < 2 {
        return String::new();
    }
    let served = |c: &crate::metrics::ClientSummary| {
        if c.completed == 0 {
            0.0
        } else {
            (c.outcomes.ok + c.outcomes.degraded) as f64 / c.completed as f64
        }
    };
    let moved: Vec<String> = a
        .summary
        .clients
        .iter()
        .filter_map(|ca| {
            let cb = b.summary.clients.iter().find(|c| c.name == ca.name)?;
            let (x, y) = (served(ca), served(cb));
            ((y - x).abs() >= 0.01).then(|| format!("{} {} -> {}", ca.name, pct(x), pct(y)))
        })
        .collect();
    if moved.is_empty() {
        String::new()
    } else {
        format!("; by client: {}", moved.join(", "))
    }
}

/// What changed from the first variant to each other one, on what users saw.
pub fn differences(runs: &[Analysed]) -> Vec<String> {
    let Some(base) = runs.first() else {
        return Vec::new();
    };
    runs.iter()
        .skip(1)
        .map(|r| {
            let (a, b) = (&base.headline, &r.headline);
            let failed_a = 1.0 - a.availability;
            let failed_b = 1.0 - b.availability;
            format!(
                "{} vs {}: availability {} -> {} ({:+.2} points; failed requests {}), goodput {:+.1}/s, p99 {} -> {}, service arrivals per request {:.2} -> {:.2}{}{}{}.",
                r.name,
                base.name,
                pct(a.availability),
                pct(b.availability),
                (b.availability - a.availability) * 100.0,
                if failed_a > 0.0 {
                    format!("x{:.2}", failed_b / failed_a)
                } else {
                    "from none".into()
                },
                b.goodput_per_s - a.goodput_per_s,
                ms(a.p99_ms),
                ms(b.p99_ms),
                a.service_amplification,
                b.service_amplification,
                match (a.metastable, b.metastable) {
                    (Some(true), Some(false)) => "; no longer metastable",
                    (Some(false), Some(true)) => "; becomes metastable",
                    _ => "",
                },
                if a.stale_reads != b.stale_reads {
                    format!(
                        ", stale reads {} -> {}",
                        count(a.stale_reads as f64),
                        count(b.stale_reads as f64)
                    )
                } else {
                    String::new()
                },
                client_changes(base, r)
            )
        })
        .collect()
}

/// Seed, length, warm-up, SLO and the number of variants, in one line; and the width of the
/// time series' windows when it is not the SLO's (a long run or a large model keeps wider
/// windows, `metrics::series::MAX_SERIES_CELLS`): every time the page gives is then a
/// multiple of it.
pub fn meta(scenario: &Scenario, runs: &[Analysed]) -> String {
    let d = |ns: u64| crate::engine::format_duration(ns);
    let series_window_ns = runs.first().map_or(scenario.slo.window.0, |r| {
        (r.frame.window_s * 1e9).round() as u64
    });
    let widened = if series_window_ns != scenario.slo.window.0 {
        format!(
            " · time series and their analysis in {} windows (a run keeps at most {} windows, and {} windows x series)",
            d(series_window_ns),
            count(crate::metrics::MAX_SERIES_WINDOWS as f64),
            count(crate::metrics::MAX_SERIES_CELLS as f64)
        )
    } else {
        String::new()
    };
    let runs = runs.len();
    format!(
        "seed {} · {} simulated, measured after a {} warm-up · SLO: availability {} per {} window, service error rate at most {}{}{widened} · {} variant{}",
        scenario.seed,
        d(scenario.duration.0),
        d(scenario.warmup.0),
        pct(scenario.slo.availability),
        d(scenario.slo.window.0),
        pct(scenario.slo.error_rate),
        scenario
            .slo
            .latency_p99
            .map_or(String::new(), |l| format!(", p99 at most {}", d(l.0))),
        runs,
        if runs == 1 { "" } else { "s" }
    )
}

/// The services table of a run: header and rows.
pub fn services(a: &Analysed) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let header = vec![
        "service",
        "requests",
        "ok",
        "p99",
        "utilisation",
        "mean queue",
        "turned away (queue full)",
        "late answers (worker s)",
        "degraded (s)",
        "breached its SLO (s)",
    ];
    // Each service's intervals by name (a scan per service is quadratic in thousands of
    // services); the clients' row comes first and is not a service's, whatever its name.
    let by_name: std::collections::BTreeMap<&str, &crate::report::cascade::Intervals> = a
        .cascade
        .intervals
        .iter()
        .skip(1)
        .map(|b| (b.name.as_str(), b))
        .collect();
    let rows = a
        .summary
        .services
        .iter()
        .map(|s| {
            let iv = by_name.get(s.name.as_str()).copied();
            vec![
                s.name.clone(),
                count(s.offered as f64),
                pct(s.ok_ratio),
                ms(s.latency.p99_ms),
                format!("{:.1}%", s.utilisation * 100.0),
                format!("{:.2}", s.mean_queue),
                count(s.queue_full as f64),
                format!(
                    "{} ({:.1})",
                    count(s.late_answers as f64),
                    s.wasted_worker_s
                ),
                intervals(iv, false),
                intervals(iv, true),
            ]
        })
        .collect();
    (header, rows)
}

/// One row per endpoint of the services that have endpoints (no rows without any).
pub fn endpoints(a: &Analysed) -> (Vec<&'static str>, Vec<Vec<String>>) {
    let header = vec![
        "endpoint", "kind", "priority", "requests", "ok", "goodput", "p50", "p99",
    ];
    let rows = a
        .summary
        .services
        .iter()
        .flat_map(|s| {
            s.endpoints.iter().map(move |e| {
                vec![
                    format!("{} {}", s.name, e.name),
                    if e.write { "write" } else { "read" }.to_string(),
                    e.priority.to_string(),
                    count(e.requests as f64),
                    pct(e.ok_ratio),
                    format!("{:.1}/s", e.throughput_per_s),
                    ms(e.latency.p50_ms),
                    ms(e.latency.p99_ms),
                ]
            })
        })
        .collect();
    (header, rows)
}

/// A service's degradation (or breach) intervals, `73-82, 84-86`, or `-`.
fn intervals(iv: Option<&crate::report::cascade::Intervals>, breached: bool) -> String {
    let ivs: Vec<String> = iv
        .into_iter()
        .flat_map(|b| if breached { &b.breached } else { &b.degraded }.iter())
        .map(|(a, b)| format!("{}-{}", trim(*a), trim(*b)))
        .collect();
    if ivs.is_empty() {
        "-".into()
    } else {
        ivs.join(", ")
    }
}

fn trim(v: f64) -> String {
    let s = format!("{v:.1}");
    s.strip_suffix(".0").map_or(s.clone(), str::to_string)
}
