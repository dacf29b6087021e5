//! A sweep's `index.html`: where the chosen SLO stops holding, each metric against the first
//! swept parameter with its 95% confidence band (one line per value of the second), a heatmap
//! when two parameters vary, and every point's figures. Self-contained like the run report
//! (styles and SVG inline, no script, nothing fetched).
//!
//! Built from the plan and the rows alone, so a merged sweep's page is byte-identical to a
//! single machine's. It deliberately holds no wall time, thread count or shard split.

use super::{point_stats, Criterion, Plan, PointStats, RunRow, METRICS, NOT_BACK, RECOVERED};
use crate::engine::parse_duration;
use crate::report::frame::fmt_num;
use crate::report::page::{esc, CSS};
use crate::report::plots::{self, Band, GridHeat, ParamPlot, Target, PALETTE};
use std::fmt::Write as _;

/// At most this many lines per plot (the palette) and plot groups per page.
const MAX_SERIES: usize = PALETTE.len();
const MAX_FACETS: usize = 6;
/// Rows of the points table on the page (points.csv has them all).
const MAX_TABLE_ROWS: usize = 400;

/// What each metric is, for axes and tables.
fn describe(metric: usize) -> &'static str {
    match METRICS[metric] {
        "availability" => "availability (share of client requests ok)",
        "goodput_per_s" => "goodput (ok client requests per s)",
        "p99_ms" => "p99 latency of ok requests, worst client (ms)",
        "client_amplification" => "attempts per client request",
        "service_amplification" => "service requests per client request",
        "services_degraded" => "services that degraded",
        "services_breached" => "services that breached their SLO",
        "metastable" => "share of seeds metastable (of those decided)",
        "recovered_after_s" => "time to recover after the last trigger (s)",
        "not_back_after_s" => "not back by the run's end, watched for (s)",
        "recovering_eta_s" => "still recovering: back at about (s)",
        "wasted_worker_s" => "worker seconds spent on answers nobody waited for",
        _ => "",
    }
}

/// Why a metric can have no figure at any point.
fn why_empty(metric: usize) -> &'static str {
    match METRICS[metric] {
        "recovering_eta_s" => "no run was still draining a backlog at its end",
        "recovered_after_s" => "no run had a trigger that ended before the run did",
        "metastable" => "no run's ending could be decided",
        _ => "no run has a figure for it",
    }
}

/// Metrics that are shares, between 0 and 1.
fn bounded(metric: usize) -> bool {
    matches!(METRICS[metric], "availability" | "metastable")
}

/// How a parameter's values sit on an axis: as numbers (plain, or durations in a unit) or as
/// evenly spaced categories.
struct Axis {
    desc: String,
    xs: Vec<f64>,
}

fn axis(path: &str, labels: &[String]) -> Axis {
    if let Some(xs) = labels
        .iter()
        .map(|l| l.parse::<f64>().ok().filter(|x| x.is_finite()))
        .collect::<Option<Vec<f64>>>()
    {
        return Axis {
            desc: path.to_string(),
            xs,
        };
    }
    if let Some(ns) = labels
        .iter()
        .map(|l| parse_duration(l).ok().map(|d| d.0 as f64))
        .collect::<Option<Vec<f64>>>()
    {
        let max = ns.iter().cloned().fold(0.0, f64::max);
        let (unit, div) = if max >= 10e9 { ("s", 1e9) } else { ("ms", 1e6) };
        return Axis {
            desc: format!("{path} ({unit})"),
            xs: ns.iter().map(|n| n / div).collect(),
        };
    }
    Axis {
        desc: path.to_string(),
        xs: (0..labels.len()).map(|k| k as f64).collect(),
    }
}

/// The point with these value indices (the first parameter varies slowest).
fn point_of(plan: &Plan, picks: &[usize]) -> usize {
    plan.params
        .iter()
        .zip(picks)
        .fold(0, |acc, (p, &i)| acc * p.values.len() + i)
}

/// Every combination of values of the parameters in `which` (others left at 0).
fn combos(plan: &Plan, which: &[usize]) -> Vec<Vec<usize>> {
    let mut out = vec![vec![0; plan.params.len()]];
    for &k in which {
        out = out
            .into_iter()
            .flat_map(|c| {
                (0..plan.params[k].values.len()).map(move |i| {
                    let mut c = c.clone();
                    c[k] = i;
                    c
                })
            })
            .collect();
    }
    out
}

fn describe_combo(plan: &Plan, picks: &[usize], which: &[usize]) -> String {
    which
        .iter()
        .map(|&k| {
            format!(
                "{}={}",
                plan.params[k].path, plan.params[k].labels[picks[k]]
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Along a line of points: the index of the first point where the SLO fails right after one
/// where it held.
fn tip(holds: &[Option<bool>]) -> Option<usize> {
    (1..holds.len()).find(|&i| holds[i - 1] == Some(true) && holds[i] == Some(false))
}

/// One sentence about a line of points: where the SLO holds and where it stops.
fn verdict(labels: &[String], holds: &[Option<bool>]) -> String {
    let known: Vec<(usize, bool)> = holds
        .iter()
        .enumerate()
        .filter_map(|(i, h)| h.map(|h| (i, h)))
        .collect();
    if known.is_empty() {
        return "no figures".into();
    }
    if known.iter().all(|k| k.1) {
        return "holds at every value".into();
    }
    if known.iter().all(|k| !k.1) {
        return "fails at every value".into();
    }
    match tip(holds) {
        Some(i) => {
            let mut s = format!(
                "holds at {}, fails from {}: the tipping point lies between {} and {}",
                labels[i - 1],
                labels[i],
                labels[i - 1],
                labels[i]
            );
            if holds[i..].contains(&Some(true)) {
                s.push_str(" (and it holds again further on)");
            }
            s
        }
        None => {
            let first = known.iter().find(|k| k.1).map(|k| k.0).unwrap_or(0);
            format!("fails below {}, holds from there", labels[first])
        }
    }
}

fn seeds_text(seeds: &[u64]) -> String {
    let contiguous = seeds.windows(2).all(|w| w[1] == w[0] + 1);
    if seeds.len() > 2 && contiguous {
        format!("{}..={}", seeds[0], seeds[seeds.len() - 1])
    } else {
        seeds
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
            .join(",")
    }
}

/// `w` as one shell word: as is when it holds only characters no shell treats specially
/// (`policies[0]` would be a glob), else in single quotes.
fn shell_word(w: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "._,=:/+-@%".contains(c);
    if !w.is_empty() && w.chars().all(plain) {
        w.to_string()
    } else {
        format!("'{}'", w.replace('\'', "'\\''"))
    }
}

/// `name` with a line-break opportunity after each `.` and `_`, except one that would leave a
/// unit (`_s`, `_ms`) alone on the last line.
fn break_points(name: &str) -> String {
    let mut o = String::with_capacity(name.len() + 16);
    for (i, c) in name.char_indices() {
        o.push(c);
        let rest = &name[i + c.len_utf8()..];
        if (c == '.' || c == '_') && rest.len() > 2 {
            o.push_str("<wbr>");
        }
    }
    o
}

/// The command that reruns this sweep.
pub fn command(plan: &Plan, slo: &Criterion) -> String {
    let mut c = format!("faultline sweep {}", shell_word(&plan.file));
    for p in &plan.params {
        let _ = write!(
            c,
            " --set {}",
            shell_word(&format!("{}={}", p.path, p.labels.join(",")))
        );
    }
    let _ = write!(c, " --seeds {} --slo '{slo}'", seeds_text(&plan.seeds));
    c
}

fn cell(v: Option<f64>) -> String {
    v.map(fmt_num).unwrap_or_else(|| "–".into())
}

/// Which parameter runs along x (the first that varies), which tells the lines apart (the
/// second), and the combinations of the rest, each drawn as its own group of plots.
struct Layout {
    x: Option<usize>,
    series: Option<usize>,
    facet_params: Vec<usize>,
    facets: Vec<Vec<usize>>,
}

fn layout(plan: &Plan) -> Layout {
    let varying: Vec<usize> = (0..plan.params.len())
        .filter(|&k| plan.params[k].values.len() > 1)
        .collect();
    let facet_params: Vec<usize> = varying.iter().skip(2).copied().collect();
    Layout {
        x: varying.first().copied(),
        series: varying.get(1).copied(),
        facets: combos(plan, &facet_params),
        facet_params,
    }
}

/// In one facet, per value of the series parameter: its label and the points along x.
fn facet_lines(plan: &Plan, l: &Layout, x: usize, facet: &[usize]) -> Vec<(String, Vec<usize>)> {
    let series_values: Vec<usize> = match l.series {
        Some(s) => (0..plan.params[s].values.len()).collect(),
        None => vec![0],
    };
    series_values
        .iter()
        .map(|&sv| {
            let mut picks = facet.to_vec();
            if let Some(s) = l.series {
                picks[s] = sv;
            }
            let label = l
                .series
                .map(|s| {
                    let p = &plan.params[s].path;
                    // The last segment is enough for a legend; the page lists the full paths.
                    let tail = p.rsplit('.').next().unwrap_or(p);
                    format!("{tail}={}", plan.params[s].labels[sv])
                })
                .unwrap_or_else(|| "mean".into());
            let pts = (0..plan.params[x].values.len())
                .map(|i| {
                    picks[x] = i;
                    point_of(plan, &picks)
                })
                .collect();
            (label, pts)
        })
        .collect()
}

/// Whether each point meets the SLO (None: no figure).
fn holds_of(slo: &Criterion, stats: &[PointStats]) -> Vec<Option<bool>> {
    stats.iter().map(|s| slo.holds_at(s)).collect()
}

/// The verdicts, one per line of points (true where the SLO does not hold everywhere).
fn verdicts(plan: &Plan, l: &Layout, holds: &[Option<bool>]) -> Vec<(String, bool)> {
    let Some(x) = l.x else {
        let v = match holds.first().copied().flatten() {
            Some(true) => "one point: the SLO holds",
            Some(false) => "one point: the SLO fails",
            None => "one point, with no figure",
        };
        return vec![(v.to_string(), holds.first() == Some(&Some(false)))];
    };
    let mut out = Vec::new();
    for facet in l.facets.iter().take(MAX_FACETS) {
        let facet_desc = describe_combo(plan, facet, &l.facet_params);
        for (label, pts) in facet_lines(plan, l, x, facet) {
            let h: Vec<Option<bool>> = pts.iter().map(|&p| holds[p]).collect();
            let mut who = Vec::new();
            if l.series.is_some() {
                who.push(label);
            }
            if !facet_desc.is_empty() {
                who.push(facet_desc.clone());
            }
            let who = if who.is_empty() {
                String::new()
            } else {
                format!("{}: ", who.join(", "))
            };
            let v = verdict(&plan.params[x].labels, &h);
            let flag = !v.starts_with("holds at every");
            out.push((format!("{who}along {}: {v}", plan.params[x].path), flag));
        }
    }
    out
}

/// The verdicts as text, for the terminal.
pub fn findings(plan: &Plan, slo: &Criterion, rows: &[RunRow]) -> Vec<String> {
    let holds = holds_of(slo, &point_stats(plan, rows));
    verdicts(plan, &layout(plan), &holds)
        .into_iter()
        .map(|v| v.0)
        .collect()
}

pub fn render(plan: &Plan, slo: &Criterion, rows: &[RunRow]) -> Result<String, String> {
    let stats = point_stats(plan, rows);
    let holds = holds_of(slo, &stats);
    let lay = layout(plan);
    let mut o = String::new();
    let title = format!("Sweep: {}", plan.name);
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>faultline: {}</title>\n<style>{CSS}</style></head><body>\n<h1>{}</h1>\n",
        esc(&title),
        esc(&title)
    );
    let stopped = rows.iter().filter(|r| r.stopped_by.is_some()).count();
    let _ = writeln!(
        o,
        "<p class=\"meta\">{} · {} point{} x {} seed{} ({}) = {} runs · every point ran with the same seeds (common random numbers), so differences between points come from the parameters · faultline {} · sweep {}</p>",
        esc(&plan.file),
        plan.points.len(),
        if plan.points.len() == 1 { "" } else { "s" },
        plan.seeds.len(),
        if plan.seeds.len() == 1 { "" } else { "s" },
        esc(&seeds_text(&plan.seeds)),
        plan.runs(),
        env!("CARGO_PKG_VERSION"),
        plan.fingerprint()
    );
    o.push_str("<ul>\n");
    for p in &plan.params {
        let _ = writeln!(
            o,
            "<li><code>{}</code> = {}</li>",
            esc(&p.path),
            esc(&p.labels.join(", "))
        );
    }
    o.push_str("</ul>\n");
    if stopped > 0 {
        let _ = writeln!(
            o,
            "<p class=\"flag\">{stopped} run{} stopped at a limit before the scenario's end (runs.csv, column stopped_by); their figures cover only the time simulated.</p>",
            if stopped == 1 { "" } else { "s" }
        );
    }

    // Where the SLO stops holding.
    let _ = writeln!(
        o,
        "<h2>Where the SLO stops holding</h2>\n<p>SLO: mean <code>{}</code> across the seeds (change it with <code>--slo</code>). A dashed vertical line on the plots marks the first value where it fails after holding.</p>",
        esc(&slo.to_string())
    );
    o.push_str("<ul>\n");
    for (v, flag) in verdicts(plan, &lay, &holds) {
        let cls = if flag { " class=\"flag\"" } else { "" };
        let _ = writeln!(o, "<li{cls}>{}</li>", esc(&v));
    }
    o.push_str("</ul>\n");
    let mut figures = String::new();
    if let Some(x) = lay.x {
        let ax = axis(&plan.params[x].path, &plan.params[x].labels);
        for (fi, facet) in lay.facets.iter().enumerate().take(MAX_FACETS) {
            let facet_desc = describe_combo(plan, facet, &lay.facet_params);
            let lines = facet_lines(plan, &lay, x, facet);
            let ticks: Vec<(f64, String)> = ax
                .xs
                .iter()
                .copied()
                .zip(plan.params[x].labels.iter().cloned())
                .collect();
            if !facet_desc.is_empty() {
                let _ = writeln!(figures, "<h2>{}</h2>", esc(&facet_desc));
            } else {
                figures.push_str("<h2>Plots</h2>\n");
            }
            if fi == 0 {
                figures.push_str("<p>Each line is the mean across seeds; the shaded band its 95% confidence interval (Student's t; drawn within the metric's range, points.csv has it as computed). Two points of one seed differ only by the parameters, so a gap between lines is often clearer than the bands suggest.</p>\n");
            }
            if let Some(s) = lay.series {
                let svg = heatmap(plan, slo, &stats, &holds, x, s, facet)?;
                let _ = writeln!(figures, "<figure>{svg}<figcaption>{} against {} and {}; outlined cells fail the SLO.</figcaption></figure>", esc(describe(slo.metric)), esc(&plan.params[x].path), esc(&plan.params[s].path));
            }
            for (m, metric) in METRICS.iter().enumerate() {
                if m == NOT_BACK {
                    // Drawn within the recovery time, as the lower bounds they are.
                    continue;
                }
                if lines
                    .iter()
                    .all(|(_, pts)| pts.iter().all(|&p| stats[p].mean[m].is_none()))
                {
                    // An empty plot would look like a flat zero: say why there is none.
                    let _ = writeln!(
                        figures,
                        "<p class=\"question\">No plot of <code>{metric}</code>: {}.</p>",
                        esc(why_empty(m))
                    );
                    continue;
                }
                let bands: Vec<Band> = lines
                    .iter()
                    .take(MAX_SERIES)
                    .enumerate()
                    .map(|(k, (label, pts))| {
                        let h: Vec<Option<bool>> = pts.iter().map(|&p| holds[p]).collect();
                        Band {
                            label: label.clone(),
                            color: PALETTE[k],
                            points: pts
                                .iter()
                                .enumerate()
                                .map(|(i, &p)| {
                                    let st = &stats[p];
                                    let mean = st.mean[m].unwrap_or(f64::NAN);
                                    let half = st.ci95[m].unwrap_or(0.0);
                                    // The band is drawn within the metric's range (shares
                                    // lie in 0..1, nothing is negative); points.csv has the
                                    // interval as computed.
                                    let top = if bounded(m) { 1.0 } else { f64::INFINITY };
                                    (
                                        ax.xs[i],
                                        mean,
                                        (mean - half).max(0.0),
                                        (mean + half).min(top),
                                    )
                                })
                                .collect(),
                            tip_x: tip(&h).map(|i| ax.xs[i]),
                            lower_bound: pts
                                .iter()
                                .map(|&p| m == RECOVERED && stats[p].not_back > 0)
                                .collect(),
                        }
                    })
                    .collect();
                let title = describe(m);
                let svg = plots::param_plot(
                    &ParamPlot {
                        title,
                        x_desc: &ax.desc,
                        y_desc: metric,
                        ticks: &ticks,
                        bands: &bands,
                        threshold: (m == slo.metric).then_some(slo.threshold),
                    },
                    &Target::Svg,
                )?;
                let _ = writeln!(figures, "<figure>{svg}</figure>");
            }
            if lines.len() > MAX_SERIES {
                let _ = writeln!(
                    figures,
                    "<p>The plots show the first {MAX_SERIES} values of the second parameter; points.csv has all.</p>"
                );
            }
        }
        if lay.facets.len() > MAX_FACETS {
            let _ = writeln!(
                o,
                "<p>Only the first {MAX_FACETS} of {} combinations of the other parameters are drawn; points.csv has every point.</p>",
                lay.facets.len()
            );
        }
    }
    o.push_str(&figures);

    // Every point.
    o.push_str("<h2>Points</h2>\n<p>Mean ± 95% half-width across seeds (points.csv; every run in runs.csv). A time to recover marked ≥ counts the seeds not back by the run's end at the time they were watched: the true mean is at least that.</p>\n<div class=\"scroll\"><table><tr><th>point</th>");
    // Long names may break after a dot or an underscore, so the table stays narrow.
    let head = |s: &str| break_points(&esc(s));
    for p in &plan.params {
        let _ = write!(o, "<th class=\"w\">{}</th>", head(&p.path));
    }
    o.push_str("<th>SLO</th>");
    for (k, m) in METRICS.iter().enumerate() {
        if k != NOT_BACK {
            let _ = write!(o, "<th class=\"w\">{}</th>", head(m));
        }
    }
    o.push_str("</tr>\n");
    for (p, st) in plan.points.iter().zip(&stats).take(MAX_TABLE_ROWS) {
        let _ = write!(o, "<tr><td>{}</td>", p.index);
        for l in &p.labels {
            let _ = write!(o, "<td>{}</td>", esc(l));
        }
        let (cls, verdict) = match holds[p.index] {
            Some(true) => ("", "holds"),
            Some(false) => (" class=\"flag\"", "fails"),
            None => ("", "–"),
        };
        let _ = write!(o, "<td{cls}>{verdict}</td>");
        for k in (0..METRICS.len()).filter(|&k| k != NOT_BACK) {
            let _ = write!(o, "<td>{}</td>", esc(&mean_pm(st, k)));
        }
        o.push_str("</tr>\n");
    }
    o.push_str("</table></div>\n");
    if plan.points.len() > MAX_TABLE_ROWS {
        let _ = writeln!(
            o,
            "<p>The first {MAX_TABLE_ROWS} of {} points; points.csv has all.</p>",
            plan.points.len()
        );
    }
    let _ = writeln!(
        o,
        "<h2>Reproduce</h2>\n<pre class=\"wrap\">{}</pre>\n</body></html>",
        // One option per line (a shell continuation), so it reads and copies whole.
        esc(&command(plan, slo).replace(" --", " \\\n    --"))
    );
    Ok(o)
}

fn mean_pm(st: &PointStats, k: usize) -> String {
    if k == RECOVERED && st.not_back > 0 {
        return format!(
            "≥ {} ({} of {} not back)",
            st.mean[k].map(short_num).unwrap_or_default(),
            st.not_back,
            st.runs
        );
    }
    match (st.mean[k], st.ci95[k]) {
        (Some(m), Some(h)) => format!("{} ± {}", short_num(m), short_num(h)),
        (m, _) => cell(m),
    }
}

/// Four significant figures for the table (the CSV has six decimals).
fn short_num(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return fmt_num(v);
    }
    let digits = (3 - libm::log10(v.abs()).floor() as i32).clamp(0, 6) as usize;
    format!("{v:.digits$}")
}

fn heatmap(
    plan: &Plan,
    slo: &Criterion,
    stats: &[PointStats],
    holds: &[Option<bool>],
    x: usize,
    y: usize,
    facet: &[usize],
) -> Result<String, String> {
    let (px, py) = (&plan.params[x], &plan.params[y]);
    let cells: Vec<Vec<(f64, String, Option<bool>)>> = (0..py.values.len())
        .map(|j| {
            (0..px.values.len())
                .map(|i| {
                    let mut picks = facet.to_vec();
                    picks[x] = i;
                    picks[y] = j;
                    let p = point_of(plan, &picks);
                    let m = stats[p].mean[slo.metric];
                    let bound = slo.metric == RECOVERED && stats[p].not_back > 0;
                    (
                        m.unwrap_or(f64::NAN),
                        m.map(|v| format!("{}{}", if bound { "≥" } else { "" }, short_num(v)))
                            .unwrap_or_default(),
                        holds[p],
                    )
                })
                .collect()
        })
        .collect();
    plots::grid_heatmap(
        &GridHeat {
            title: &format!("{} (mean across seeds)", METRICS[slo.metric]),
            x_desc: &px.path,
            y_desc: &py.path,
            x_labels: &px.labels,
            y_labels: &py.labels,
            cells: &cells,
            higher_is_better: slo.at_least,
        },
        &Target::Svg,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_name_the_tipping_point() {
        let l: Vec<String> = ["100", "200", "300", "400"].map(String::from).to_vec();
        type Case<'a> = (&'a [Option<bool>], &'a str, Option<usize>);
        let cases: &[Case] = &[
            (&[Some(true); 4], "holds at every value", None),
            (&[Some(false); 4], "fails at every value", None),
            (
                &[Some(true), Some(true), Some(false), Some(false)],
                "holds at 200, fails from 300: the tipping point lies between 200 and 300",
                Some(2),
            ),
            (
                &[Some(false), Some(true), Some(true), Some(true)],
                "fails below 200, holds from there",
                None,
            ),
            (
                &[Some(true), Some(false), Some(true), Some(true)],
                "holds at 100, fails from 200: the tipping point lies between 100 and 200 (and it holds again further on)",
                Some(1),
            ),
        ];
        for (h, want, t) in cases {
            assert_eq!(verdict(&l, h), *want, "{h:?}");
            assert_eq!(tip(h), *t, "{h:?}");
        }
    }

    #[test]
    fn names_break_after_dots_and_underscores_but_keep_their_unit() {
        let cases = [
            ("goodput_per_s", "goodput_<wbr>per_s"),
            ("a.b_ms", "a.<wbr>b_ms"),
            ("p99_ms", "p99_ms"),
            ("clients.shoppers.load", "clients.<wbr>shoppers.<wbr>load"),
        ];
        for (n, want) in cases {
            assert_eq!(break_points(n), want, "{n}");
        }
    }

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        let cases = [
            ("a.b=1,2", "a.b=1,2"),
            ("p[0].x=1", "'p[0].x=1'"),
            ("it's", "'it'\\''s'"),
            ("", "''"),
        ];
        for (w, want) in cases {
            assert_eq!(shell_word(w), want, "{w}");
        }
    }

    #[test]
    fn axes_are_numbers_durations_or_categories() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let a = axis("p", &s(&["1", "2.5", "10"]));
        assert_eq!(a.xs, vec![1.0, 2.5, 10.0]);
        let a = axis("t", &s(&["50ms", "1s"]));
        assert_eq!((a.xs, a.desc.as_str()), (vec![50.0, 1000.0], "t (ms)"));
        // Not numbers: evenly spaced, labelled as written.
        let a = axis("m", &s(&["Fixed", "Jitter"]));
        assert_eq!((a.xs, a.desc.as_str()), (vec![0.0, 1.0], "m"));
    }
}
