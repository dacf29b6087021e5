//! The pages: `index.html` (self-contained: styles, plots and a few lines of script inline,
//! nothing fetched; it works from disk and prints) and `report.md` (the same words, plots as
//! files beside it). Built from analysed runs; knows nothing about how they were run or where
//! the files go.
//!
//! The page answers first (a verdict line per variant, the headline table), then says what
//! happened (the story of each variant, the fault schedule), then the services, then the plots
//! grouped by the question they answer. Variants sit side by side in the tables and as tabs
//! elsewhere, never as repeated blocks.

mod html;
mod markdown;
mod text;

pub(crate) use html::{esc, CSS};
/// The lines comparing each variant with the first, as the report writes them.
pub use text::differences;

use super::frame::{col, EntitySeries, Frame, Kind};
use super::judge::Graph;
use super::plots::{self, CdfLine, LatencyPlot, Line, Target, TimePlot, PALETTE};
use super::{cdf_points, no_ok_spans, system_points, Analysed};
use crate::scenario::Scenario;
use std::collections::BTreeSet;
use std::path::Path;

/// A finished report: the two pages and the plots (file name, SVG text).
pub struct Pages {
    pub html: String,
    pub markdown: String,
    pub plots: Vec<(String, String)>,
}

/// The questions the plots answer, in page order: (id, heading, question).
const GROUPS: [(&str, &str, &str); 5] = [
    (
        "load",
        "Load and goodput",
        "Did the users' requests get through, and how much extra work did retries add?",
    ),
    (
        "latency",
        "Latency and failures",
        "How slow were the answers, and which windows failed, at which service?",
    ),
    (
        "saturation",
        "Saturation",
        "What ran out: workers, queue room, connections?",
    ),
    (
        "health",
        "Health and breakers",
        "Which replicas left balancing, and which breakers opened?",
    ),
    (
        "graph",
        "The call graph",
        "Where did it start, and how far did it go?",
    ),
];

/// At most this many lines share a plot (colour and dash tell them apart); more make more
/// plots of balanced size, never fewer lines.
const PER_PLOT: usize = 10;

/// `items` cut into the fewest chunks of at most [`PER_PLOT`], as even as possible.
fn balanced<T>(items: &[T]) -> Vec<&[T]> {
    balanced_by(items, PER_PLOT)
}

/// ... of at most `most`.
fn balanced_by<T>(items: &[T], most: usize) -> Vec<&[T]> {
    let parts = items.len().div_ceil(most).max(1);
    let size = items.len().div_ceil(parts).max(1);
    items.chunks(size).collect()
}

/// At most this many services are drawn in the per-service plots (latency CDFs, saturation,
/// the error-rate heatmap, the call graph). A larger model shows the services its story
/// names, then those that failed most, ran busiest or answered slowest, and says how many it
/// left out; every service stays in `summary.json`, `timeseries.csv` and the services table.
pub const MAX_DRAWN_SERVICES: usize = 40;

/// The services run `r`'s per-service plots draw, or None when every service fits.
fn drawn_services(r: &Analysed, g: &Graph) -> Option<BTreeSet<String>> {
    if g.services.len() <= MAX_DRAWN_SERVICES {
        return None;
    }
    let c = &r.cascade;
    // What the story names first: the cascade in order, what each trigger hit or spared,
    // the wasted work, the autoscalers and standbys.
    let named = c
        .chain
        .iter()
        .flat_map(|s| std::iter::once(&s.service).chain(s.reached_through.as_ref()))
        .chain(
            c.origins
                .iter()
                .flat_map(|o| o.degraded.iter().chain(&o.already_degraded).chain(&o.held)),
        )
        .chain(r.triggers.iter().flat_map(|t| &t.targets))
        .chain(c.wasted.iter().map(|w| &w.service))
        .chain(c.scaling.iter().map(|s| &s.service))
        .chain(c.standby_reads.iter().map(|(s, _)| s));
    // Then the rest by failed answers, utilisation and p99 (scenario order breaks ties).
    let mut rest: Vec<(usize, &crate::metrics::ServiceSummary)> =
        r.summary.services.iter().enumerate().collect();
    rest.sort_by(|(i, a), (j, b)| {
        let failed = |s: &crate::metrics::ServiceSummary| s.completed - s.outcomes.ok;
        failed(b)
            .cmp(&failed(a))
            .then(b.utilisation.total_cmp(&a.utilisation))
            .then(b.latency.p99_ms.total_cmp(&a.latency.p99_ms))
            .then(i.cmp(j))
    });
    let mut drawn = BTreeSet::new();
    for name in named.chain(rest.iter().map(|(_, s)| &s.name)) {
        if drawn.len() == MAX_DRAWN_SERVICES {
            break;
        }
        drawn.insert(name.clone());
    }
    Some(drawn)
}

/// The call graph cut down to the `drawn` services: their calls to each other, and the
/// clients that send to one of them.
fn drawn_graph(g: &Graph, drawn: &BTreeSet<String>) -> Graph {
    Graph {
        services: g
            .services
            .iter()
            .filter(|n| drawn.contains(&n.name))
            .map(|n| super::judge::Node {
                callees: n
                    .callees
                    .iter()
                    .filter(|c| drawn.contains(*c))
                    .cloned()
                    .collect(),
                ..n.clone()
            })
            .collect(),
        calls: g
            .calls
            .iter()
            .filter(|e| drawn.contains(&e.caller) && drawn.contains(&e.callee))
            .cloned()
            .collect(),
        clients: g
            .clients
            .iter()
            .filter(|(_, entry)| drawn.contains(entry))
            .cloned()
            .collect(),
    }
}

/// A plot as the page shows it.
struct Plot {
    file: String,
    title: String,
    svg: String,
    /// Which group of [`GROUPS`] it answers.
    group: &'static str,
    /// The variant it belongs to (None: all variants overlaid).
    variant: Option<usize>,
    /// What hovering shows: JSON with the window length and the series by window.
    hover: Option<String>,
}

/// Draws a plot as SVG, and as `png_dir/NAME.png` too when asked.
fn make(
    file: String,
    title: String,
    png_dir: Option<&Path>,
    draw: &dyn Fn(&Target) -> plots::PlotResult,
) -> Result<(String, String, String), String> {
    let svg = draw(&Target::Svg)?;
    if let Some(dir) = png_dir {
        draw(&Target::Png(dir.join(file.replace(".svg", ".png"))))?;
    }
    Ok((file, title, svg))
}

/// Hover data for a time plot: each series' value in each window.
fn hover(frame: &Frame, series: &[(String, Vec<f64>)]) -> String {
    let num = |v: f64| {
        if v.is_finite() {
            let s = format!("{v:.4}");
            let s = s.trim_end_matches('0').trim_end_matches('.');
            s.to_string()
        } else {
            "null".into()
        }
    };
    let mut o = format!("{{\"w\":{},\"s\":[", num(frame.window_s));
    for (k, (label, vals)) in series.iter().enumerate() {
        if k > 0 {
            o.push(',');
        }
        o.push_str(&format!(
            "{{\"l\":{},\"v\":[{}]}}",
            json_str(label),
            vals.iter().map(|&v| num(v)).collect::<Vec<_>>().join(",")
        ));
    }
    o.push_str("]}");
    o
}

/// Hover data for a CDF: each curve's points as plotted (latency in ms, share of all finished
/// requests answered ok within it), from summary.json's `latency_cdf_ms`.
fn cdf_hover(lines: &[CdfLine]) -> String {
    let num = |v: f64| {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    };
    let series: Vec<String> = lines
        .iter()
        .map(|l| {
            let pts = l.points.iter().filter(|p| p.0 > 0.0);
            format!(
                "{{\"l\":{},\"x\":[{}],\"q\":[{}]}}",
                json_str(&l.label),
                pts.clone().map(|p| num(p.0)).collect::<Vec<_>>().join(","),
                pts.map(|p| num(p.1 * l.ok_share))
                    .collect::<Vec<_>>()
                    .join(",")
            )
        })
        .collect();
    format!("{{\"cdf\":1,\"s\":[{}]}}", series.join(","))
}

fn json_str(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
}

fn column(e: &EntitySeries, c: usize) -> Vec<f64> {
    e.column(c).collect()
}

/// Per-second values of a count column.
fn rate(frame: &Frame, e: &EntitySeries, c: usize) -> Vec<f64> {
    (0..frame.windows())
        .map(|i| {
            let w = frame.width(i);
            if w > 0.0 {
                e.rows[i][c] / w
            } else {
                f64::NAN
            }
        })
        .collect()
}

fn points(frame: &Frame, vals: &[f64]) -> Vec<(f64, f64)> {
    vals.iter()
        .enumerate()
        .map(|(i, &v)| (frame.t(i) + frame.width(i) / 2.0, v))
        .collect()
}

/// Builds every plot and both pages; with `png`, also writes each plot as a PNG file there.
pub fn build(
    scenario: &Scenario,
    schedule: &[String],
    runs: &[Analysed],
    png: Option<&Path>,
) -> Result<Pages, String> {
    let warmup_s = scenario.warmup.0 as f64 / 1e9;
    let g = super::graph(&scenario.system);
    let mut out: Vec<Plot> = Vec::new();
    let many = runs.len() > 1;
    let mut push = |(file, title, svg): (String, String, String),
                    group: &'static str,
                    variant: Option<usize>,
                    hover: Option<String>| {
        out.push(Plot {
            file,
            title,
            svg,
            group,
            variant,
            hover,
        });
    };

    // The variants overlaid: what their users saw.
    if many {
        let f0 = &runs[0].frame;
        let end = runs.iter().map(|r| r.frame.end_s).fold(0.0, f64::max);
        let mut load: Vec<Line> = Vec::new();
        for (i, r) in runs.iter().enumerate() {
            let c = PALETTE[i % PALETTE.len()];
            load.push(
                Line::new(
                    format!("{} goodput", r.name),
                    c,
                    system_points(&r.frame, col::GOODPUT),
                )
                .nth(i),
            );
        }
        for (i, r) in runs.iter().enumerate() {
            let mut l = Line::new(
                format!("{} attempts", r.name),
                PALETTE[i % PALETTE.len()],
                system_points(&r.frame, col::ATTEMPTS),
            )
            .dashed();
            l.width = 1;
            load.push(l);
        }
        load.push(Line::new("offered", GREY, system_points(f0, col::OFFERED)).dashed());
        let data: Vec<(String, Vec<f64>)> = load
            .iter()
            .map(|l| {
                (
                    format!("{} /s", l.label),
                    l.points.iter().map(|p| p.1).collect(),
                )
            })
            .collect();
        let height = (60 + 18 * load.len() as u32).max(320);
        push(
            make(
                "variants-load.svg".into(),
                "Goodput and attempts by variant, against the offered load".into(),
                png,
                &|t| {
                    plots::time_plot(
                        &TimePlot {
                            title: "Goodput (solid) and attempts (dashed) by variant",
                            y_desc: "requests per second",
                            end_s: end,
                            lines: &load,
                            triggers: &runs[0].triggers,
                            warmup_s,
                            log_y: false,
                            y_max: None,
                            height,
                        },
                        t,
                    )
                },
            )?,
            "load",
            None,
            Some(hover(f0, &data)),
        );
        let p99: Vec<Line> = runs
            .iter()
            .enumerate()
            .map(|(i, r)| {
                Line::new(
                    format!("{} p99", r.name),
                    PALETTE[i % PALETTE.len()],
                    system_points(&r.frame, col::P99),
                )
                .nth(i)
            })
            .collect();
        let failed: Vec<Line> = runs
            .iter()
            .enumerate()
            .map(|(i, r)| {
                Line::new(
                    format!("{} failed", r.name),
                    PALETTE[i % PALETTE.len()],
                    system_points(&r.frame, col::ERROR_RATE),
                )
                .nth(i)
            })
            .collect();
        let no_ok: Vec<Vec<(f64, f64)>> = runs.iter().map(|r| no_ok_spans(&r.frame)).collect();
        let data: Vec<(String, Vec<f64>)> = p99
            .iter()
            .map(|l| {
                (
                    format!("{} ms", l.label),
                    l.points.iter().map(|p| p.1).collect(),
                )
            })
            .chain(failed.iter().map(|l| {
                (
                    format!("{} %", l.label),
                    l.points.iter().map(|p| p.1 * 100.0).collect(),
                )
            }))
            .collect();
        push(
            make(
                "variants-latency.svg".into(),
                "Client p99 of ok requests and failed share, by variant".into(),
                png,
                &|t| {
                    plots::compare_latency(
                        &plots::CompareLatency {
                            title: "Client p99 of ok requests (above) and failed share (below)",
                            end_s: end,
                            p99: &p99,
                            failed: &failed,
                            no_ok: &no_ok,
                            triggers: &runs[0].triggers,
                            warmup_s,
                        },
                        t,
                    )
                },
            )?,
            "latency",
            None,
            Some(hover(f0, &data)),
        );
        let cdfs: Vec<CdfLine> = runs
            .iter()
            .filter_map(|r| {
                r.summary
                    .clients
                    .first()
                    .filter(|c| !c.latency_cdf_ms.is_empty())
                    .map(|c| CdfLine {
                        label: if r.summary.clients.len() == 1 {
                            r.name.clone()
                        } else {
                            format!("{} {}", r.name, c.name)
                        },
                        points: cdf_points(&c.latency_cdf_ms),
                        ok_share: c.ok_ratio,
                    })
            })
            .collect();
        if !cdfs.is_empty() {
            push(
                make(
                    "variants-cdf.svg".into(),
                    "End-to-end latency CDF by variant, failures at infinity".into(),
                    png,
                    &|t| {
                        plots::cdf(
                            "End-to-end latency by variant (failed requests never arrive)",
                            &cdfs,
                            t,
                        )
                    },
                )?,
                "latency",
                None,
                Some(cdf_hover(&cdfs)),
            );
        }
    }

    for (k, r) in runs.iter().enumerate() {
        let prefix = if many {
            format!("{}-", r.name)
        } else {
            String::new()
        };
        let f = &r.frame;
        let sys = f.system();
        // A model of many services draws a few of them (see MAX_DRAWN_SERVICES).
        let drawn = drawn_services(r, &g);
        let shows = |name: &str| drawn.as_ref().is_none_or(|d| d.contains(name));
        let drawn_g = drawn.as_ref().map(|d| drawn_graph(&g, d));
        let gr = drawn_g.as_ref().unwrap_or(&g);
        let cut = drawn.as_ref().map_or(String::new(), |d| {
            format!(
                " ({} of {} services: those the story names, then the most failed, busiest and slowest)",
                d.len(),
                super::words::count(g.services.len() as f64)
            )
        });
        // Load and goodput, and latency with failures: overlaid above when there are
        // variants, per run here when there is one.
        if !many {
            let lines = vec![
                Line::new("offered", GREY, points(f, &rate(f, sys, col::OFFERED))).dashed(),
                Line::new(
                    "attempts (retries, hedges)",
                    PALETTE[1],
                    points(f, &rate(f, sys, col::ATTEMPTS)),
                ),
                Line::new(
                    "goodput (ok or degraded)",
                    PALETTE[0],
                    points(f, &column(sys, col::GOODPUT)),
                ),
            ];
            let data: Vec<(String, Vec<f64>)> = lines
                .iter()
                .map(|l| {
                    (
                        format!("{} /s", l.label),
                        l.points.iter().map(|p| p.1).collect(),
                    )
                })
                .collect();
            push(
                make(
                    format!("{prefix}throughput.svg"),
                    "Goodput, offered load and attempts".into(),
                    png,
                    &|t| {
                        plots::time_plot(
                            &TimePlot {
                                title: "Goodput vs offered load vs attempts, clients end to end",
                                y_desc: "requests per second",
                                end_s: f.end_s,
                                lines: &lines,
                                triggers: &r.triggers,
                                warmup_s,
                                log_y: false,
                                y_max: None,
                                height: 320,
                            },
                            t,
                        )
                    },
                )?,
                "load",
                Some(k),
                Some(hover(f, &data)),
            );
            // Latency and failures.
            let data = vec![
                ("p50 ms".to_string(), column(sys, col::P50)),
                ("p99 ms".to_string(), column(sys, col::P99)),
                ("p99.9 ms".to_string(), column(sys, col::P999)),
                (
                    "failed %".to_string(),
                    column(sys, col::ERROR_RATE)
                        .into_iter()
                        .map(|v| v * 100.0)
                        .collect(),
                ),
            ];
            push(
                make(
                    format!("{prefix}latency.svg"),
                    "Client latency of ok requests, and the failed share".into(),
                    png,
                    &|t| {
                        plots::latency(
                            &LatencyPlot {
                                title: "Client latency of ok requests per window",
                                frame: f,
                                entity: sys,
                                triggers: &r.triggers,
                                warmup_s,
                            },
                            t,
                        )
                    },
                )?,
                "latency",
                Some(k),
                Some(hover(f, &data)),
            );
        }
        let rows: Vec<(String, Vec<f64>)> =
            std::iter::once(("clients".to_string(), column(sys, col::ERROR_RATE)))
                .chain(super::plots::heatmap_rows(gr).iter().filter_map(|name| {
                    f.get(Kind::Service, name)
                        .map(|e| (name.clone(), column(e, col::ERROR_RATE)))
                }))
                .map(|(n, v)| {
                    (
                        format!("{n} failed %"),
                        v.into_iter().map(|x| x * 100.0).collect(),
                    )
                })
                .collect();
        push(
            make(
                format!("{prefix}cascade.svg"),
                format!("Error rate by service over time{cut}"),
                png,
                &|t| plots::heatmap(f, gr, &r.triggers, t),
            )?,
            "latency",
            Some(k),
            Some(hover(f, &rows)),
        );
        // Every client and service's CDF, failures at infinity; more than fit make more plots.
        let cdfs: Vec<CdfLine> = r
            .summary
            .clients
            .iter()
            .filter(|c| !c.latency_cdf_ms.is_empty())
            .map(|c| CdfLine {
                label: format!("client {}", c.name),
                points: cdf_points(&c.latency_cdf_ms),
                ok_share: c.ok_ratio,
            })
            .chain(
                r.summary
                    .services
                    .iter()
                    .filter(|s| !s.latency_cdf_ms.is_empty() && shows(&s.name))
                    .map(|s| CdfLine {
                        label: s.name.clone(),
                        points: cdf_points(&s.latency_cdf_ms),
                        ok_share: s.ok_ratio,
                    }),
            )
            .collect();
        let chunks = balanced(&cdfs);
        let parts = chunks.len();
        for (n, chunk) in chunks.into_iter().enumerate() {
            let (part, file) = chunk_names(&prefix, "cdf", n, parts);
            push(
                make(
                    file,
                    format!("Latency CDFs, failures at infinity{part}{cut}"),
                    png,
                    &|t| {
                        plots::cdf(
                            &format!("Latency over the measured interval{part}"),
                            chunk,
                            t,
                        )
                    },
                )?,
                "latency",
                Some(k),
                Some(cdf_hover(chunk)),
            );
        }
        // Saturation: worker use and queue room per service, more services more plots.
        let services: Vec<&EntitySeries> = f
            .entities
            .iter()
            .filter(|e| e.kind == Kind::Service && shows(&e.name))
            .collect();
        // Solid and dashed are taken (workers and queue): one colour per service.
        let chunks = balanced_by(&services, PALETTE.len());
        let parts = chunks.len();
        for (n, chunk) in chunks.into_iter().enumerate() {
            let mut lines = Vec::new();
            let mut data = Vec::new();
            for (i, e) in chunk.iter().enumerate() {
                let c = PALETTE[i % PALETTE.len()];
                let util: Vec<f64> = column(e, col::UTILISATION)
                    .into_iter()
                    .map(|v| v * 100.0)
                    .collect();
                let fill: Vec<f64> = column(e, col::QUEUE_FILL)
                    .into_iter()
                    .map(|v| v * 100.0)
                    .collect();
                lines.push(Line::new(e.name.clone(), c, points(f, &util)));
                // Queue lines share their service's legend entry (the title says which is which).
                lines.push(Line::new("", c, points(f, &fill)).dashed());
                data.push((format!("{} workers busy %", e.name), util));
                data.push((format!("{} queue used %", e.name), fill));
            }
            let (part, file) = chunk_names(&prefix, "saturation", n, parts);
            push(
                make(
                    file,
                    format!("Workers busy and queue room used, per service{part}{cut}"),
                    png,
                    &|t| {
                        plots::time_plot(
                            &TimePlot {
                                title: &format!(
                                    "Workers busy (solid) and queue room used (dashed){part}"
                                ),
                                y_desc: "% of capacity",
                                end_s: f.end_s,
                                lines: &lines,
                                triggers: &r.triggers,
                                warmup_s,
                                log_y: false,
                                y_max: Some(105.0),
                                height: 320,
                            },
                            t,
                        )
                    },
                )?,
                "saturation",
                Some(k),
                Some(hover(f, &data)),
            );
        }
        // Autoscaled services: replicas in service against the count the autoscaler asked for.
        if !r.summary.autoscalers.is_empty() {
            let mut lines = Vec::new();
            let mut data = Vec::new();
            for (i, a) in r.summary.autoscalers.iter().enumerate() {
                let Some(e) = f.get(Kind::Service, &a.service) else {
                    continue;
                };
                let workers = scenario
                    .system
                    .services
                    .iter()
                    .find(|s| s.name == a.service)
                    .map_or(1, |s| s.workers.max(1)) as f64;
                let c = PALETTE[i % PALETTE.len()];
                let serving: Vec<f64> = column(e, col::CAPACITY)
                    .into_iter()
                    .map(|v| v / workers)
                    .collect();
                // The count asked for at each window's end (a step at each change).
                let asked: Vec<f64> = (0..f.windows())
                    .map(|w| {
                        let end = f.t(w) + f.width(w);
                        a.changes
                            .iter()
                            .take_while(|c| c.at_s < end)
                            .last()
                            .map_or(a.initial_replicas, |c| c.to) as f64
                    })
                    .collect();
                lines.push(Line::new(a.service.clone(), c, points(f, &serving)));
                lines.push(Line::new("", c, points(f, &asked)).dashed());
                data.push((format!("{} replicas in service", a.service), serving));
                data.push((format!("{} replicas asked for", a.service), asked));
            }
            push(
                make(
                    format!("{prefix}replicas.svg"),
                    "Replicas in service (workers able to take a request over workers per replica: started, not down) and the count the autoscaler asked for".into(),
                    png,
                    &|t| {
                        plots::time_plot(
                            &TimePlot {
                                title: "Replicas in service (solid) and asked for by the autoscaler (dashed)",
                                y_desc: "replicas",
                                end_s: f.end_s,
                                lines: &lines,
                                triggers: &r.triggers,
                                warmup_s,
                                log_y: false,
                                y_max: None,
                                height: 320,
                            },
                            t,
                        )
                    },
                )?,
                "saturation",
                Some(k),
                Some(hover(f, &data)),
            );
        }
        let pooled: Vec<&EntitySeries> = f
            .entities
            .iter()
            .filter(|e| {
                e.kind == Kind::Call && e.column(col::POOL_WAITS).any(|v| v.is_finite() && v > 0.0)
            })
            .collect();
        for (n, chunk) in balanced(&pooled).into_iter().enumerate() {
            let lines: Vec<Line> = chunk
                .iter()
                .enumerate()
                .map(|(i, e)| {
                    Line::new(
                        e.name.clone(),
                        PALETTE[i % PALETTE.len()],
                        points(f, &rate(f, e, col::POOL_WAITS)),
                    )
                })
                .collect();
            let data: Vec<(String, Vec<f64>)> = lines
                .iter()
                .map(|l| {
                    (
                        format!("{} waits /s", l.label),
                        l.points.iter().map(|p| p.1).collect(),
                    )
                })
                .collect();
            push(
                make(
                    format!("{prefix}pool-waits-{}.svg", n + 1),
                    "Attempts waiting for a pooled connection".into(),
                    png,
                    &|t| {
                        plots::time_plot(
                            &TimePlot {
                                title: "Attempts that waited for a pooled connection, per call",
                                y_desc: "waits per second",
                                end_s: f.end_s,
                                lines: &lines,
                                triggers: &r.triggers,
                                warmup_s,
                                log_y: false,
                                y_max: None,
                                height: 320,
                            },
                            t,
                        )
                    },
                )?,
                "saturation",
                Some(k),
                Some(hover(f, &data)),
            );
        }
        // Health and breakers: drawn only when some replica or breaker changed state.
        if let Some(svg) = plots::states(f, &r.triggers, &Target::Svg) {
            let file = format!("{prefix}states.svg");
            if let Some(dir) = png {
                let path = dir.join(file.replace(".svg", ".png"));
                plots::states(f, &r.triggers, &Target::Png(path)).transpose()?;
            }
            push(
                (file, "Health and breaker timelines".into(), svg?),
                "health",
                Some(k),
                None,
            );
        }
        push(
            make(
                format!("{prefix}graph.svg"),
                format!("The call graph: origin, degraded, breached, held{cut}"),
                png,
                &|t| plots::graph(gr, &r.cascade, t),
            )?,
            "graph",
            Some(k),
            None,
        );
    }

    let html = html::page(scenario, schedule, runs, &out);
    let markdown = markdown::page(scenario, schedule, runs, &out);
    Ok(Pages {
        html,
        markdown,
        plots: out.into_iter().map(|p| (p.file, p.svg)).collect(),
    })
}

const GREY: plotters::style::RGBColor = plotters::style::RGBColor(110, 110, 110);

/// The title suffix and file of chunk `n` (from 0) of a plot split into `parts` small
/// multiples: " (2 of 3)" and `{prefix}{stem}-2.svg`; the first keeps the plain file name, and
/// a plot in one part has no suffix.
fn chunk_names(prefix: &str, stem: &str, n: usize, parts: usize) -> (String, String) {
    let part = if parts > 1 {
        format!(" ({} of {parts})", n + 1)
    } else {
        String::new()
    };
    let file = if n == 0 {
        format!("{prefix}{stem}.svg")
    } else {
        format!("{prefix}{stem}-{}.svg", n + 1)
    };
    (part, file)
}
