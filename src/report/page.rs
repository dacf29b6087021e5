//! The pages: `index.html` (self-contained: styles and plots inline, nothing fetched) and
//! `report.md` (the same words, plots as files beside it). Built from analysed runs; knows
//! nothing about how they were run or where the files go.

use super::cascade::{ms, secs};
use super::frame::col;
use super::plots::{self, Line, Target, PALETTE};
use super::{cdf_points, system_points, Analysed};
use crate::scenario::Scenario;
use std::fmt::Write as _;
use std::path::Path;

/// A finished report: the two pages and the plots (file name, SVG text).
pub struct Pages {
    pub html: String,
    pub markdown: String,
    pub plots: Vec<(String, String)>,
}

struct Plot {
    file: String,
    title: String,
    svg: String,
}

pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn pct(v: f64) -> String {
    if (0.9995..1.0).contains(&v) {
        format!("{:.3}%", v * 100.0)
    } else {
        format!("{:.2}%", v * 100.0)
    }
}

/// Draws a plot as SVG, and as `png_dir/NAME.png` too when asked.
fn make(
    file: String,
    title: String,
    png_dir: Option<&Path>,
    draw: &dyn Fn(&Target) -> plots::PlotResult,
) -> Result<Plot, String> {
    let svg = draw(&Target::Svg)?;
    if let Some(dir) = png_dir {
        draw(&Target::Png(dir.join(file.replace(".svg", ".png"))))?;
    }
    Ok(Plot { file, title, svg })
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
    let mut plots_out: Vec<Plot> = Vec::new();
    let many = runs.len() > 1;

    // Side by side first: the variants' goodput and p99 overlaid.
    if many {
        let end = runs.iter().map(|r| r.frame.end_s).fold(0.0, f64::max);
        let goodput: Vec<Line> = runs
            .iter()
            .enumerate()
            .map(|(i, r)| Line {
                label: format!("{} goodput", r.name),
                color: PALETTE[i % PALETTE.len()],
                points: system_points(&r.frame, col::GOODPUT),
                dashed: false,
            })
            .chain(std::iter::once(Line {
                label: "offered".into(),
                color: RGBA_GREY,
                points: system_points(&runs[0].frame, col::OFFERED),
                dashed: true,
            }))
            .collect();
        plots_out.push(make(
            "variants-goodput.svg".into(),
            "Goodput by variant (same arrivals, same faults)".into(),
            png,
            &|t| {
                plots::time_plot(
                    &plots::TimePlot {
                        title: "Goodput by variant: ok or degraded client requests per second",
                        y_desc: "requests per second",
                        end_s: end,
                        lines: &goodput,
                        triggers: &runs[0].triggers,
                        warmup_s,
                        log_y: false,
                    },
                    t,
                )
            },
        )?);
        let p99: Vec<Line> = runs
            .iter()
            .enumerate()
            .map(|(i, r)| Line {
                label: format!("{} p99", r.name),
                color: PALETTE[i % PALETTE.len()],
                points: system_points(&r.frame, col::P99),
                dashed: false,
            })
            .collect();
        plots_out.push(make(
            "variants-p99.svg".into(),
            "Client p99 latency by variant".into(),
            png,
            &|t| {
                plots::time_plot(
                    &plots::TimePlot {
                        title: "Client p99 latency of ok requests by variant (per window)",
                        y_desc: "latency (ms, log scale)",
                        end_s: end,
                        lines: &p99,
                        triggers: &runs[0].triggers,
                        warmup_s,
                        log_y: true,
                    },
                    t,
                )
            },
        )?);
        let cdfs: Vec<(String, Vec<(f64, f64)>)> = runs
            .iter()
            .filter_map(|r| {
                r.summary
                    .clients
                    .first()
                    .filter(|c| !c.latency_cdf_ms.is_empty())
                    .map(|c| {
                        (
                            format!("{} ({})", r.name, c.name),
                            cdf_points(&c.latency_cdf_ms),
                        )
                    })
            })
            .collect();
        if !cdfs.is_empty() {
            plots_out.push(make(
                "variants-cdf.svg".into(),
                "End-to-end latency CDF by variant".into(),
                png,
                &|t| {
                    plots::cdf(
                        "End-to-end latency CDF by variant (measured interval)",
                        &cdfs,
                        t,
                    )
                },
            )?);
        }
    }

    for r in runs {
        let prefix = if many {
            format!("{}-", r.name)
        } else {
            String::new()
        };
        let tag = if many {
            format!(" [{}]", r.name)
        } else {
            String::new()
        };
        let f = &r.frame;
        let lines = vec![
            Line {
                label: "offered".into(),
                color: RGBA_GREY,
                points: system_points(f, col::OFFERED),
                dashed: true,
            },
            Line {
                label: "attempts (with retries, hedges)".into(),
                color: PALETTE[1],
                points: system_points(f, col::ATTEMPTS),
                dashed: false,
            },
            Line {
                label: "goodput (ok or degraded)".into(),
                color: PALETTE[0],
                points: system_points(f, col::GOODPUT),
                dashed: false,
            },
        ];
        plots_out.push(make(
            format!("{prefix}throughput.svg"),
            format!("Goodput, offered load and attempts{tag}"),
            png,
            &|t| {
                plots::time_plot(
                    &plots::TimePlot {
                        title: &format!(
                            "Goodput vs offered load vs attempts, clients end to end{tag}"
                        ),
                        y_desc: "requests per second",
                        end_s: f.end_s,
                        lines: &lines,
                        triggers: &r.triggers,
                        warmup_s,
                        log_y: false,
                    },
                    t,
                )
            },
        )?);
        let lat = vec![
            Line {
                label: "p50".into(),
                color: PALETTE[2],
                points: system_points(f, col::P50),
                dashed: false,
            },
            Line {
                label: "p99".into(),
                color: PALETTE[5],
                points: system_points(f, col::P99),
                dashed: false,
            },
            Line {
                label: "p99.9".into(),
                color: PALETTE[1],
                points: system_points(f, col::P999),
                dashed: false,
            },
        ];
        plots_out.push(make(
            format!("{prefix}latency.svg"),
            format!("Latency percentiles over time{tag}"),
            png,
            &|t| {
                plots::time_plot(
                    &plots::TimePlot {
                        title: &format!("Client latency of ok requests per window{tag}"),
                        y_desc: "latency (ms, log scale)",
                        end_s: f.end_s,
                        lines: &lat,
                        triggers: &r.triggers,
                        warmup_s,
                        log_y: true,
                    },
                    t,
                )
            },
        )?);
        plots_out.push(make(
            format!("{prefix}cascade.svg"),
            format!("Cascade heatmap{tag}"),
            png,
            &|t| plots::heatmap(f, &g, &r.triggers, t),
        )?);
        plots_out.push(make(
            format!("{prefix}graph.svg"),
            format!("Dependency graph by first breach{tag}"),
            png,
            &|t| plots::graph(&g, &r.cascade, t),
        )?);
        // Drawn only when some replica or breaker changed state; SVG once, PNG when asked.
        if let Some(svg) = plots::states(f, &r.triggers, &Target::Svg) {
            let file = format!("{prefix}states.svg");
            if let Some(dir) = png {
                let path = dir.join(file.replace(".svg", ".png"));
                plots::states(f, &r.triggers, &Target::Png(path)).transpose()?;
            }
            plots_out.push(Plot {
                file,
                title: format!("Health and breaker timelines{tag}"),
                svg: svg?,
            });
        }
        let mut cdfs: Vec<(String, Vec<(f64, f64)>)> = r
            .summary
            .clients
            .iter()
            .filter(|c| !c.latency_cdf_ms.is_empty())
            .map(|c| (format!("client {}", c.name), cdf_points(&c.latency_cdf_ms)))
            .collect();
        cdfs.extend(
            r.summary
                .services
                .iter()
                .filter(|s| !s.latency_cdf_ms.is_empty())
                .take(PALETTE.len() - cdfs.len().min(PALETTE.len()))
                .map(|s| (s.name.clone(), cdf_points(&s.latency_cdf_ms))),
        );
        if !cdfs.is_empty() {
            plots_out.push(make(
                format!("{prefix}cdf.svg"),
                format!("Latency CDFs{tag}"),
                png,
                &|t| {
                    plots::cdf(
                        &format!("Latency CDF of ok requests, whole measured interval{tag}"),
                        &cdfs,
                        t,
                    )
                },
            )?);
        }
    }

    let html = html(scenario, schedule, runs, &plots_out);
    let markdown = markdown(scenario, schedule, runs, &plots_out);
    Ok(Pages {
        html,
        markdown,
        plots: plots_out.into_iter().map(|p| (p.file, p.svg)).collect(),
    })
}

const RGBA_GREY: plotters::style::RGBColor = plotters::style::RGBColor(110, 110, 110);

/// Rows of the headline table: (label, value per run).
fn headline_rows(runs: &[Analysed]) -> Vec<(String, Vec<String>)> {
    let h: Vec<_> = runs.iter().map(|r| &r.headline).collect();
    let row = |label: &str, f: &dyn Fn(&super::Headline) -> String| {
        (
            label.to_string(),
            h.iter().map(|x| f(x)).collect::<Vec<_>>(),
        )
    };
    let mut rows = vec![
        row("availability (ok or degraded)", &|x| pct(x.availability)),
        row("goodput", &|x| format!("{:.1}/s", x.goodput_per_s)),
        row("client p99 (ok requests)", &|x| ms(x.p99_ms)),
        row("client attempts per request", &|x| {
            format!("{:.3}", x.client_amplification)
        }),
        row("service arrivals per client request", &|x| {
            format!("{:.3}", x.service_amplification)
        }),
        row(
            "recovered after the last trigger",
            &|x| match (x.recovered_after_s, x.ending.as_str()) {
                (Some(t), _) => secs(t),
                (None, "no_trigger") => "n/a".into(),
                (None, "in_force") => "fault in force".into(),
                (None, _) => "not by the end".into(),
            },
        ),
        row(
            "how it ended",
            &|x| match (x.ending.as_str(), x.recovering_eta_s) {
                ("sustained", _) => "METASTABLE (sustained)".into(),
                ("recovering", Some(t)) => format!("recovering, back at about {}", secs(t)),
                ("undecided", _) => "undecided (see below)".into(),
                ("in_force", _) => "fault in force".into(),
                ("no_trigger", _) => "no trigger".into(),
                (e, _) => e.to_string(),
            },
        ),
        row("wasted work (worker seconds)", &|x| {
            format!("{:.1}", x.wasted_worker_s)
        }),
    ];
    if h.iter().any(|x| x.acked_writes_lost > 0)
        || runs.iter().any(|r| !r.summary.replication.is_empty())
    {
        rows.push(row("acknowledged writes lost", &|x| {
            x.acked_writes_lost.to_string()
        }));
    }
    rows.push(row("trace hash", &|x| x.trace_hash.clone()));
    rows
}

/// What changed from the first variant to each other one.
fn differences(runs: &[Analysed]) -> Vec<String> {
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
                "{} vs {}: availability {} -> {} ({:+.2} points; failed requests {}), goodput {:+.1}/s, p99 {} -> {}, service arrivals per request {:.2} -> {:.2}{}.",
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
                }
            )
        })
        .collect()
}

/// Seed, length, warm-up, SLO and the number of variants, in one line.
fn meta(scenario: &Scenario, runs: usize) -> String {
    let d = |ns: u64| crate::engine::format_duration(ns);
    format!(
        "seed {} · {} simulated, measured after a {} warm-up · SLO: availability {} per {} window, service error rate at most {}{} · {} variant{}",
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

/// A service's degradation (or breach) intervals, `73-82, 84-86`, or `-`.
fn intervals(c: &super::cascade::Cascade, name: &str, breached: bool) -> String {
    let ivs: Vec<String> = c
        .intervals
        .iter()
        .filter(|b| b.name == name)
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

pub(crate) const CSS: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:1.6em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
.meta{color:#555}.meta code{font-size:.9em}.flag{color:#b00;font-weight:bold}
figure{margin:1.2em 0}figure svg{max-width:100%;height:auto;border:1px solid #eee}
figcaption{color:#555;font-size:.9em}ol.chain li{margin:.15em 0}pre{background:#f7f7f7;padding:.6em;overflow-x:auto}";

fn html(scenario: &Scenario, schedule: &[String], runs: &[Analysed], plots: &[Plot]) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>faultline: {}</title>\n<style>{CSS}</style></head><body>\n",
        esc(&scenario.name)
    );
    let _ = writeln!(o, "<h1>{}</h1>", esc(&scenario.name));
    if !scenario.description.is_empty() {
        let _ = writeln!(o, "<p>{}</p>", esc(&scenario.description));
    }
    let _ = writeln!(
        o,
        "<p class=\"meta\">{}</p>",
        esc(&meta(scenario, runs.len()))
    );

    o.push_str("<h2>Headline numbers</h2>\n<table><tr><th></th>");
    for r in runs {
        let _ = write!(o, "<th>{}</th>", esc(&r.name));
    }
    o.push_str("</tr>\n");
    for (label, vals) in headline_rows(runs) {
        let _ = write!(o, "<tr><td>{}</td>", esc(&label));
        for v in vals {
            let cls = if v == "YES" { " class=\"flag\"" } else { "" };
            let _ = write!(o, "<td{cls}>{}</td>", esc(&v));
        }
        o.push_str("</tr>\n");
    }
    o.push_str("</table>\n");
    let diffs = differences(runs);
    if !diffs.is_empty() {
        o.push_str("<p>Every variant ran with the same seed and the same per-entity random streams (the same arrivals, service times and faults), so these differences come from the changed fields alone:</p>\n<ul>\n");
        for d in diffs {
            let _ = writeln!(o, "<li>{}</li>", esc(&d));
        }
        o.push_str("</ul>\n");
    }

    o.push_str("<h2>How the failure spread</h2>\n");
    for r in runs {
        if runs.len() > 1 {
            let _ = writeln!(o, "<h3>{}</h3>", esc(&r.name));
        }
        o.push_str("<ul class=\"chain\">\n");
        for line in r.cascade.narrative() {
            let cls = if line.starts_with("METASTABLE") {
                " class=\"flag\""
            } else {
                ""
            };
            let _ = writeln!(o, "<li{cls}>{}</li>", esc(&line));
        }
        o.push_str("</ul>\n");
    }

    o.push_str("<h2>Fault schedule</h2>\n");
    if schedule.is_empty() {
        o.push_str("<p>No faults were injected.</p>\n");
    } else {
        let _ = writeln!(
            o,
            "<p>As the seed expanded it ({} window{}):</p><pre>{}</pre>",
            schedule.len(),
            if schedule.len() == 1 { "" } else { "s" },
            esc(&schedule.join("\n"))
        );
    }

    o.push_str("<h2>Plots</h2>\n<p>Fault windows are shaded red and labelled; the warm-up (not measured) is shaded grey. Plots are per window of the SLO.</p>\n");
    for p in plots {
        // The SVG is embedded as is, minus its XML declaration.
        let svg = p
            .svg
            .trim_start()
            .strip_prefix("<?xml")
            .and_then(|r| r.find("?>").map(|k| &r[k + 2..]))
            .unwrap_or(&p.svg);
        let _ = writeln!(
            o,
            "<figure id=\"{}\">{}<figcaption>{} · <code>plots/{}</code></figcaption></figure>",
            esc(&p.file),
            svg.trim(),
            esc(&p.title),
            esc(&p.file)
        );
    }

    o.push_str("<h2>Services</h2>\n");
    for r in runs {
        if runs.len() > 1 {
            let _ = writeln!(o, "<h3>{}</h3>", esc(&r.name));
        }
        o.push_str("<table><tr><th>service</th><th>requests</th><th>ok</th><th>p99</th><th>utilisation</th><th>mean queue</th><th>turned away (queue full)</th><th>late answers (worker s)</th><th>degraded (s)</th><th>in breach of its SLO (s)</th></tr>\n");
        for s in &r.summary.services {
            let _ = writeln!(
                o,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1}%</td><td>{:.2}</td><td>{}</td><td>{} ({:.1})</td><td>{}</td><td>{}</td></tr>",
                esc(&s.name),
                s.offered,
                pct(s.ok_ratio),
                ms(s.latency.p99_ms),
                s.utilisation * 100.0,
                s.mean_queue,
                s.queue_full,
                s.late_answers,
                s.wasted_worker_s,
                intervals(&r.cascade, &s.name, false),
                intervals(&r.cascade, &s.name, true)
            );
        }
        o.push_str("</table>\n");
    }
    o.push_str("<h2>Files</h2>\n<p><code>summary.json</code> (every figure of the first variant; each variant's under <code>variants/NAME/</code>), <code>timeseries.csv</code> (one row per window and entity), <code>manifest.json</code> (seed, hashes, the fault schedule; <code>faultline replay</code> checks it), <code>report.md</code>, <code>plots/*.svg</code>. Rebuild this page with <code>faultline report DIR</code>.</p>\n");
    o.push_str("</body></html>\n");
    o
}

fn markdown(scenario: &Scenario, schedule: &[String], runs: &[Analysed], plots: &[Plot]) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# {}\n", scenario.name);
    if !scenario.description.is_empty() {
        let _ = writeln!(o, "{}\n", scenario.description);
    }
    let _ = writeln!(o, "{}\n", meta(scenario, runs.len()));
    o.push_str("## Headline numbers\n\n|  |");
    for r in runs {
        let _ = write!(o, " {} |", r.name);
    }
    o.push_str("\n|---|");
    for _ in runs {
        o.push_str("---:|");
    }
    o.push('\n');
    for (label, vals) in headline_rows(runs) {
        let _ = write!(o, "| {label} |");
        for v in vals {
            let _ = write!(o, " {v} |");
        }
        o.push('\n');
    }
    o.push('\n');
    for d in differences(runs) {
        let _ = writeln!(o, "- {d}");
    }
    o.push_str("\n## How the failure spread\n\n");
    for r in runs {
        if runs.len() > 1 {
            let _ = writeln!(o, "### {}\n", r.name);
        }
        for line in r.cascade.narrative() {
            let _ = writeln!(o, "- {line}");
        }
        o.push('\n');
    }
    o.push_str("## Fault schedule\n\n");
    if schedule.is_empty() {
        o.push_str("No faults were injected.\n\n");
    } else {
        o.push_str("```\n");
        for l in schedule {
            let _ = writeln!(o, "{l}");
        }
        o.push_str("```\n\n");
    }
    o.push_str("## Plots\n\n");
    for p in plots {
        let _ = writeln!(o, "![{}](plots/{})\n", p.title, p.file);
    }
    o
}
