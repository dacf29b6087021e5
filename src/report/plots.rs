//! The report's plots, drawn with plotters as SVG text (the browser renders the text, so no
//! font files are needed to make them).
//!
//! Each function takes the data it draws (frames, the cascade, the graph) and returns a
//! complete SVG document; none of them knows where it will be written or embedded.

use super::cascade::{Cascade, Trigger};
use super::frame::{col, Frame, Kind};
use super::judge::Graph;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// SVG text, or empty when the plot went to a PNG file.
pub type PlotResult = Result<String, String>;

/// Where a plot goes: SVG text (returned), or a PNG file drawn with the built-in bitmap font.
pub enum Target {
    Svg,
    Png(std::path::PathBuf),
}

/// Runs `$body` with `$root` a drawing area of `$w` x `$h` pixels on the target's backend; the
/// body is compiled once per backend.
macro_rules! canvas {
    ($target:expr, $w:expr, $h:expr, |$root:ident| $body:block) => {{
        match $target {
            Target::Svg => {
                let mut svg = String::new();
                {
                    let $root = SVGBackend::with_string(&mut svg, ($w, $h)).into_drawing_area();
                    $body
                    $root.present().map_err(err)?;
                }
                Ok(svg)
            }
            Target::Png(path) => {
                let $root = super::png::PngBackend::new(path, ($w, $h)).into_drawing_area();
                $body
                $root.present().map_err(err)?;
                Ok(String::new())
            }
        }
    }};
}

const W: u32 = 960;
const FONT: &str = "sans-serif";

/// Colours for lines and variants, told apart also by people with the common colour-vision
/// deficiencies (Okabe-Ito).
pub const PALETTE: [RGBColor; 7] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(230, 159, 0),
    RGBColor(0, 0, 0),
];

/// Draws `text` in the 12-point font at pixel `at` of `area`, anchored there at (`h`, `v`).
fn text_at<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: impl Into<String>,
    at: (i32, i32),
    h: HPos,
    v: VPos,
) -> Result<(), String> {
    let style = (FONT, 12).into_text_style(area).pos(Pos::new(h, v));
    area.draw(&Text::new(text.into(), at, style)).map_err(err)
}

fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("plotting failed: {e:?}")
}

/// A line to draw: NaN values leave gaps.
pub struct Line {
    pub label: String,
    pub color: RGBColor,
    pub points: Vec<(f64, f64)>,
    pub dashed: bool,
}

fn segments(points: &[(f64, f64)]) -> Vec<Vec<(f64, f64)>> {
    let mut out: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
    for &(x, y) in points {
        if y.is_finite() {
            out.last_mut().expect("never empty").push((x, y));
        } else if !out.last().expect("never empty").is_empty() {
            out.push(Vec::new());
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

/// Where to put the labels of shaded windows: the first of three rows where the label does
/// not overlap the previous one; a label that fits nowhere is left out (its window is still
/// shaded, and the page lists every trigger).
fn place_labels(spans: &[(f64, f64, String)], px: impl Fn(f64) -> i32) -> Vec<(usize, i32, i32)> {
    let mut row_end = [i32::MIN; 3];
    let mut out = Vec::new();
    for (k, (s, _, label)) in spans.iter().enumerate() {
        let x = px(*s) + 3;
        let wpx = (label.chars().count() as i32) * 6 + 6;
        if let Some(r) = (0..3).find(|&r| row_end[r] < x) {
            row_end[r] = x + wpx;
            out.push((k, x, r as i32));
        }
    }
    out
}

fn short(label: &str, max: usize) -> String {
    if label.chars().count() <= max {
        label.to_string()
    } else {
        let mut s: String = label.chars().take(max - 1).collect();
        s.push('…');
        s
    }
}

macro_rules! time_chart {
    ($root:expr, $title:expr, $y_desc:expr, $end:expr, $yrange:expr, $lines:expr, $triggers:expr, $warmup:expr, $ybottom:expr, $ytop:expr) => {{
        let root = $root;
        let mut chart = ChartBuilder::on(root)
            .caption($title, (FONT, 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..$end, $yrange)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("simulated time (s)")
            .y_desc($y_desc)
            .x_label_formatter(&|x: &f64| tick(*x))
            .y_label_formatter(&|y: &f64| tick(*y))
            .light_line_style(RGBColor(235, 235, 235))
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 13))
            .draw()
            .map_err(err)?;
        let (yb, yt) = ($ybottom, $ytop);
        if $warmup > 0.0 {
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(0.0, yb), ($warmup, yt)],
                    RGBColor(120, 120, 120).mix(0.12).filled(),
                )))
                .map_err(err)?;
        }
        let spans: Vec<(f64, f64, String)> = $triggers
            .iter()
            .map(|t: &Trigger| {
                (
                    t.start_s,
                    t.end_s.unwrap_or($end).min($end),
                    short(&t.label, 28),
                )
            })
            .collect();
        for (s, e, _) in &spans {
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(*s, yb), (e.max(*s + $end / 400.0), yt)],
                    RGBColor(220, 50, 47).mix(0.13).filled(),
                )))
                .map_err(err)?;
        }
        for l in $lines.iter() {
            let style = ShapeStyle::from(&l.color).stroke_width(2);
            let mut first = true;
            for seg in segments(&l.points) {
                let anno = if l.dashed {
                    chart
                        .draw_series(DashedLineSeries::new(seg, 6, 4, style))
                        .map_err(err)?
                } else {
                    chart
                        .draw_series(LineSeries::new(seg, style))
                        .map_err(err)?
                };
                if first {
                    let c = l.color;
                    anno.label(l.label.clone()).legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(3))
                    });
                    first = false;
                }
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(180, 180, 180))
            .label_font((FONT, 12))
            .draw()
            .map_err(err)?;
        // Labels of the shaded windows, inside the top of the plot, never overlapping.
        let area = chart.plotting_area();
        let (x0, y0) = area.get_base_pixel();
        let (pw, _) = area.dim_in_pixel();
        let end = $end;
        let px = |x: f64| x0 + (x / end * pw as f64) as i32;
        let placed = place_labels(&spans, px);
        for (k, x, row) in placed {
            root.draw(&Text::new(
                spans[k].2.clone(),
                (x, y0 + 4 + row * 14),
                (FONT, 11).into_font().color(&RGBColor(160, 30, 30)),
            ))
            .map_err(err)?;
        }
        if $warmup > 0.0 {
            root.draw(&Text::new(
                "warm-up",
                (x0 + 3, y0 + pw.min(1) as i32 * 0 + 4 + 3 * 14),
                (FONT, 11).into_font().color(&RGBColor(110, 110, 110)),
            ))
            .map_err(err)?;
        }
    }};
}

/// Lines over simulated time with triggers shaded; `log_y` for latencies.
/// A plot of lines over simulated time.
pub struct TimePlot<'a> {
    pub title: &'a str,
    pub y_desc: &'a str,
    pub end_s: f64,
    pub lines: &'a [Line],
    /// Shaded and labelled.
    pub triggers: &'a [Trigger],
    /// Shaded grey.
    pub warmup_s: f64,
    /// For latencies.
    pub log_y: bool,
}

pub fn time_plot(p: &TimePlot, target: &Target) -> PlotResult {
    let (title, y_desc, frame_end_s, lines, triggers, warmup_s, log_y) = (
        p.title, p.y_desc, p.end_s, p.lines, p.triggers, p.warmup_s, p.log_y,
    );
    canvas!(target, W, 380, |root| {
        root.fill(&WHITE).map_err(err)?;
        let ys = lines
            .iter()
            .flat_map(|l| l.points.iter().map(|p| p.1))
            .filter(|y| y.is_finite());
        let end = frame_end_s.max(1e-9);
        if log_y {
            let (lo, hi) = ys
                .filter(|y| *y > 0.0)
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| {
                    (a.min(y), b.max(y))
                });
            let (lo, hi) = if lo.is_finite() {
                (lo / 1.5, hi * 1.5)
            } else {
                (0.1, 10.0)
            };
            time_chart!(
                &root,
                title,
                y_desc,
                end,
                (lo..hi).log_scale(),
                lines,
                triggers,
                warmup_s,
                lo,
                hi
            );
        } else {
            let hi = ys.fold(0.0f64, f64::max);
            let hi = if hi > 0.0 { hi * 1.12 } else { 1.0 };
            time_chart!(
                &root,
                title,
                y_desc,
                end,
                0f64..hi,
                lines,
                triggers,
                warmup_s,
                0.0,
                hi
            );
        }
    })
}

/// An axis tick: no decimals on large numbers, as few as needed on small ones.
fn tick(v: f64) -> String {
    let a = v.abs();
    if a >= 100.0 || v == v.trunc() {
        format!("{v:.0}")
    } else if a >= 1.0 {
        format!("{v:.1}")
    } else if a >= 0.01 {
        format!("{v:.2}")
    } else {
        format!("{v:.1e}")
    }
}

/// The heatmap's colour scale: error rates on a square-root scale, so that the few percent
/// that breach an SLO are visible next to a total outage.
fn heat_scale(rate: f64) -> f64 {
    rate.clamp(0.0, 1.0).sqrt()
}

/// A colour from pale (0) to dark red (1).
fn heat(v: f64) -> RGBColor {
    let v = v.clamp(0.0, 1.0);
    let lerp = |a: f64, b: f64, t: f64| (a + (b - a) * t).round() as u8;
    if v < 0.5 {
        let t = v / 0.5;
        RGBColor(
            lerp(247.0, 253.0, t),
            lerp(247.0, 174.0, t),
            lerp(240.0, 97.0, t),
        )
    } else {
        let t = (v - 0.5) / 0.5;
        RGBColor(
            lerp(253.0, 165.0, t),
            lerp(174.0, 0.0, t),
            lerp(97.0, 38.0, t),
        )
    }
}

/// Services (deepest dependency at the bottom) by time, coloured by error rate, with the
/// triggers marked above.
pub fn heatmap(frame: &Frame, graph: &Graph, triggers: &[Trigger], target: &Target) -> PlotResult {
    let mut rows: Vec<(String, usize)> = graph
        .services
        .iter()
        .map(|s| (s.name.clone(), s.depth))
        .collect();
    rows.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
    rows.insert(0, ("clients (end to end)".into(), 0));
    let n = rows.len();
    let h = 170 + 26 * n as u32;
    canvas!(target, W, h, |root| {
        root.fill(&WHITE).map_err(err)?;
        let end = frame.end_s.max(1e-9);
        root.draw(&Text::new(
            "Error rate per service over time (darker = more failed requests)",
            (W as i32 / 2, 12),
            (FONT, 18)
                .into_text_style(&root)
                .pos(Pos::new(HPos::Center, VPos::Top)),
        ))
        .map_err(err)?;
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .margin_top(84)
            .x_label_area_size(40)
            .y_label_area_size(150)
            .right_y_label_area_size(70)
            .build_cartesian_2d(0f64..end, 0f64..n as f64)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .disable_y_axis()
            .x_desc("simulated time (s)")
            .x_label_formatter(&|x: &f64| tick(*x))
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 13))
            .draw()
            .map_err(err)?;
        for (r, (name, _)) in rows.iter().enumerate() {
            let e = if r == 0 {
                Some(frame.system())
            } else {
                frame.get(Kind::Service, name)
            };
            let Some(e) = e else { continue };
            let y0 = (n - 1 - r) as f64;
            for i in 0..frame.windows() {
                let v = e.rows[i][col::ERROR_RATE];
                let stuck = e.finished(i) == 0.0
                    && e.rows[i][col::OFFERED] > 0.0
                    && e.rows[i][col::QUEUE] >= 1.0;
                let c = if v.is_nan() && !stuck {
                    RGBColor(255, 255, 255)
                } else {
                    heat(if stuck { 1.0 } else { heat_scale(v) })
                };
                let x0 = frame.t(i);
                let x1 = (x0 + frame.window_s).min(end);
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(x0, y0 + 0.06), (x1, y0 + 0.94)],
                        c.filled(),
                    )))
                    .map_err(err)?;
            }
            let p = chart.backend_coord(&(0.0, y0 + 0.5));
            text_at(
                &root,
                short(name, 22),
                (p.0 - 8, p.1),
                HPos::Right,
                VPos::Center,
            )?;
        }
        // Trigger markers: a line across all rows at the start, a label above.
        let spans: Vec<(f64, f64, String)> = triggers
            .iter()
            .map(|t| (t.start_s, t.end_s.unwrap_or(end), short(&t.label, 28)))
            .collect();
        for (s, e, _) in &spans {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(*s, 0.0), (*s, n as f64)],
                    RGBColor(40, 40, 40).stroke_width(2),
                )))
                .map_err(err)?;
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(e.min(end), 0.0), (e.min(end), n as f64)],
                    ShapeStyle::from(&RGBColor(40, 40, 40)).stroke_width(1),
                )))
                .map_err(err)?;
        }
        let (x0, y0) = chart.plotting_area().get_base_pixel();
        let (pw, _) = chart.plotting_area().dim_in_pixel();
        let px = |x: f64| x0 + (x / end * pw as f64) as i32;
        for (k, x, row) in place_labels(&spans, px) {
            root.draw(&Text::new(
                format!("▼ {}", spans[k].2),
                (x - 7, y0 - 14 - row * 13),
                (FONT, 11).into_font().color(&RGBColor(40, 40, 40)),
            ))
            .map_err(err)?;
        }
        // The colour scale.
        let lx = x0 + pw as i32 + 16;
        for k in 0..=20 {
            let v = k as f64 / 20.0;
            let y = y0 + 10 + (20 - k) * 5;
            root.draw(&Rectangle::new(
                [(lx, y), (lx + 14, y + 5)],
                heat(v).filled(),
            ))
            .map_err(err)?;
        }
        for (rate, label) in [
            (0.0, "0%"),
            (0.01, "1%"),
            (0.1, "10%"),
            (0.5, "50%"),
            (1.0, "100%"),
        ] {
            let v = heat_scale(rate);
            let y = y0 + 10 + ((1.0 - v) * 100.0) as i32 + 3;
            root.draw(&Text::new(
                label,
                (lx + 18, y),
                (FONT, 11)
                    .into_text_style(&root)
                    .pos(Pos::new(HPos::Left, VPos::Center)),
            ))
            .map_err(err)?;
        }
        root.draw(&Text::new("errors", (lx, y0 - 2), (FONT, 11)))
            .map_err(err)?;
    })
}

/// The call graph, services placed by depth, each coloured by when it first breached.
pub fn graph(graph: &Graph, cascade: &Cascade, target: &Target) -> PlotResult {
    let max_depth = graph.services.iter().map(|s| s.depth).max().unwrap_or(1);
    let mut columns: Vec<Vec<&str>> = vec![Vec::new(); max_depth + 1];
    columns[0].push("clients");
    for s in &graph.services {
        columns[s.depth].push(&s.name);
    }
    let tallest = columns.iter().map(Vec::len).max().unwrap_or(1);
    let h = (110 + 70 * tallest as u32).max(260);
    let (t_lo, t_hi) = cascade
        .chain
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), s| {
            (a.min(s.first_degraded_s), b.max(s.first_degraded_s))
        });
    let colour = |name: &str| -> (RGBColor, String) {
        if name == "clients" {
            return match cascade.intervals[0].breached.first() {
                Some(iv) => (
                    RGBColor(190, 190, 190),
                    format!("breached {}", super::cascade::secs(iv.0)),
                ),
                None => (RGBColor(190, 190, 190), String::new()),
            };
        }
        match cascade.chain.iter().find(|s| s.service == name) {
            Some(s) => {
                let t = s.first_degraded_s;
                let f = if t_hi > t_lo {
                    (t - t_lo) / (t_hi - t_lo)
                } else {
                    0.0
                };
                match s.first_breach_s {
                    // Breached its SLO: the red scale, darkest first.
                    Some(b) => (
                        heat(1.0 - 0.6 * f),
                        format!(
                            "degraded {}, breached {}",
                            super::cascade::secs(t),
                            super::cascade::secs(b)
                        ),
                    ),
                    // Degraded within its SLO: amber.
                    None => (
                        RGBColor(255, 204, 128),
                        format!("degraded {}", super::cascade::secs(t)),
                    ),
                }
            }
            None => (RGBColor(200, 230, 201), "held".into()),
        }
    };
    canvas!(target, W, h, |root| {
        root.fill(&WHITE).map_err(err)?;
        root.draw(&Text::new(
            "Call graph: red breached its SLO (darkest first), amber degraded, green held",
            (12, 10),
            (FONT, 16),
        ))
        .map_err(err)?;
        let col_w = (W as i32 - 40) / (max_depth as i32 + 1);
        let pos = |name: &str| -> Option<(i32, i32)> {
            columns.iter().enumerate().find_map(|(d, c)| {
                c.iter().position(|n| *n == name).map(|k| {
                    let x = 20 + d as i32 * col_w + col_w / 2;
                    let span = h as i32 - 110;
                    let y = 60 + ((k as f64 + 0.5) / c.len() as f64 * span as f64) as i32;
                    (x, y)
                })
            })
        };
        let (bw, bh) = ((col_w - 30).min(170), 52);
        // Edges first, so boxes sit on top of them.
        let mut edges: Vec<(&str, &str)> = Vec::new();
        for s in &graph.services {
            if s.depth == 1 {
                edges.push(("clients", &s.name));
            }
        }
        for s in &graph.services {
            for c in &s.callees {
                edges.push((&s.name, c));
            }
        }
        for (a, b) in edges {
            if let (Some(pa), Some(pb)) = (pos(a), pos(b)) {
                let (sx, ex) = if pb.0 > pa.0 {
                    (pa.0 + bw / 2, pb.0 - bw / 2)
                } else {
                    (pa.0, pb.0)
                };
                root.draw(&PathElement::new(
                    vec![(sx, pa.1), (ex, pb.1)],
                    RGBColor(120, 120, 120).stroke_width(2),
                ))
                .map_err(err)?;
                root.draw(&Circle::new(
                    (ex, pb.1),
                    4,
                    RGBColor(120, 120, 120).filled(),
                ))
                .map_err(err)?;
            }
        }
        for c in &columns {
            for name in c {
                let Some((x, y)) = pos(name) else { continue };
                let (fill, note) = colour(name);
                root.draw(&Rectangle::new(
                    [(x - bw / 2, y - bh / 2), (x + bw / 2, y + bh / 2)],
                    fill.filled(),
                ))
                .map_err(err)?;
                root.draw(&Rectangle::new(
                    [(x - bw / 2, y - bh / 2), (x + bw / 2, y + bh / 2)],
                    RGBColor(80, 80, 80).stroke_width(1),
                ))
                .map_err(err)?;
                let dark = fill.0 as u32 + fill.1 as u32 + fill.2 as u32 > 380;
                let text_c = if dark { BLACK } else { WHITE };
                root.draw(&Text::new(
                    short(name, 20),
                    (x, y - 12),
                    (FONT, 13)
                        .into_font()
                        .color(&text_c)
                        .pos(Pos::new(HPos::Center, VPos::Center)),
                ))
                .map_err(err)?;
                // "degraded 60 s, breached 73 s" on two lines, to fit the box.
                for (k, line) in note.split(", ").enumerate() {
                    root.draw(&Text::new(
                        line.to_string(),
                        (x, y + 6 + 12 * k as i32),
                        (FONT, 11)
                            .into_font()
                            .color(&text_c)
                            .pos(Pos::new(HPos::Center, VPos::Center)),
                    ))
                    .map_err(err)?;
                }
            }
        }
    })
}

/// Health and breaker timelines: per service the share of replicas up and in balancing, per
/// call edge with breakers the number open, window by window.
pub fn states(frame: &Frame, triggers: &[Trigger], target: &Target) -> Option<PlotResult> {
    let mut rows: Vec<(String, Vec<f64>, f64)> = Vec::new();
    for e in frame.entities.iter().filter(|e| e.kind == Kind::Service) {
        let v: Vec<f64> = e.column(col::HEALTHY).collect();
        let max = v
            .iter()
            .copied()
            .filter(|x| x.is_finite())
            .fold(0.0, f64::max);
        if v.iter().any(|x| x.is_finite() && *x < max) {
            rows.push((format!("{} replicas up", e.name), v, max));
        }
    }
    for e in frame
        .entities
        .iter()
        .filter(|e| matches!(e.kind, Kind::Call | Kind::Client))
    {
        let v: Vec<f64> = e.column(col::BREAKERS_OPEN).collect();
        if v.iter().any(|x| x.is_finite()) {
            let label = if e.kind == Kind::Client {
                format!("client {} breakers open", e.name)
            } else {
                format!("{} breakers open", e.name)
            };
            rows.push((label, v, -1.0));
        }
    }
    if rows.is_empty() {
        return None;
    }
    let n = rows.len();
    let h = 90 + 26 * n as u32 + 60;
    let res: PlotResult = (|| {
        canvas!(target, W, h, |root| {
            root.fill(&WHITE).map_err(err)?;
            let end = frame.end_s.max(1e-9);
            let mut chart = ChartBuilder::on(&root)
                .caption(
                    "Health and breaker state over time (end of each window)",
                    (FONT, 18),
                )
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(230)
                .build_cartesian_2d(0f64..end, 0f64..n as f64)
                .map_err(err)?;
            chart
                .configure_mesh()
                .disable_mesh()
                .disable_y_axis()
                .x_desc("simulated time (s)")
                .x_label_formatter(&|x: &f64| tick(*x))
                .label_style((FONT, 12))
                .axis_desc_style((FONT, 13))
                .draw()
                .map_err(err)?;
            for (r, (label, v, max)) in rows.iter().enumerate() {
                let y0 = (n - 1 - r) as f64;
                for (i, x) in v.iter().enumerate() {
                    if !x.is_finite() {
                        continue;
                    }
                    let c = if *max >= 0.0 {
                        // Health: green when all are up, red when none are.
                        let share = if *max > 0.0 { x / max } else { 0.0 };
                        if share >= 1.0 {
                            RGBColor(120, 190, 120)
                        } else if share <= 0.0 {
                            RGBColor(200, 40, 40)
                        } else {
                            RGBColor(240, 170, 60)
                        }
                    } else if *x > 0.0 {
                        RGBColor(200, 40, 40)
                    } else {
                        RGBColor(120, 190, 120)
                    };
                    let x0 = frame.t(i);
                    chart
                        .draw_series(std::iter::once(Rectangle::new(
                            [(x0, y0 + 0.1), ((x0 + frame.window_s).min(end), y0 + 0.9)],
                            c.filled(),
                        )))
                        .map_err(err)?;
                }
                let p = chart.backend_coord(&(0.0, y0 + 0.5));
                text_at(
                    &root,
                    short(label, 36),
                    (p.0 - 8, p.1),
                    HPos::Right,
                    VPos::Center,
                )?;
            }
            for t in triggers {
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![(t.start_s, 0.0), (t.start_s, n as f64)],
                        RGBColor(40, 40, 40).stroke_width(2),
                    )))
                    .map_err(err)?;
            }
            root.draw(&Text::new(
            "green: all replicas up / breakers closed · amber: some replicas out · red: none up / a breaker open · black lines: fault starts",
            (12, h as i32 - 16),
            (FONT, 11),
        ))
        .map_err(err)?;
        })
    })();
    Some(res)
}

/// Latency CDFs: each line is `(label, [(latency_ms, quantile)])`.
pub fn cdf(title: &str, lines: &[(String, Vec<(f64, f64)>)], target: &Target) -> PlotResult {
    canvas!(target, W, 400, |root| {
        root.fill(&WHITE).map_err(err)?;
        let xs = lines
            .iter()
            .flat_map(|l| l.1.iter().map(|p| p.0))
            .filter(|x| *x > 0.0);
        let (lo, hi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(x), b.max(x))
        });
        let (lo, hi) = if lo.is_finite() {
            (lo / 1.3, hi * 1.3)
        } else {
            (0.1, 10.0)
        };
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d((lo..hi).log_scale(), 0f64..1.0)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("latency of ok requests (ms, log scale)")
            .x_label_formatter(&|x: &f64| tick(*x))
            .y_desc("share of requests at most this slow")
            .light_line_style(RGBColor(235, 235, 235))
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 13))
            .draw()
            .map_err(err)?;
        for (i, (label, pts)) in lines.iter().enumerate() {
            let c = PALETTE[i % PALETTE.len()];
            let style = ShapeStyle::from(&c).stroke_width(2);
            chart
                .draw_series(LineSeries::new(
                    pts.iter().copied().filter(|p| p.0 > 0.0),
                    style,
                ))
                .map_err(err)?
                .label(label.clone())
                .legend(move |(x, y)| {
                    PathElement::new(vec![(x, y), (x + 18, y)], c.stroke_width(3))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::LowerRight)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(180, 180, 180))
            .label_font((FONT, 12))
            .draw()
            .map_err(err)?;
    })
}

/// One series of a sweep plot: a metric's mean at each parameter value with its 95% band.
pub struct Band {
    pub label: String,
    pub color: RGBColor,
    /// (x, mean, low, high); NaN where the point has no value.
    pub points: Vec<(f64, f64, f64, f64)>,
    /// Where the SLO stops holding along x (marked with a dashed vertical line).
    pub tip_x: Option<f64>,
}

/// A metric against a swept parameter.
pub struct ParamPlot<'a> {
    pub title: &'a str,
    pub x_desc: &'a str,
    pub y_desc: &'a str,
    /// The x axis is labelled at exactly these positions (the swept values, as written).
    pub ticks: &'a [(f64, String)],
    pub bands: &'a [Band],
    /// The SLO's threshold, drawn as a grey dashed line when this metric is the SLO's.
    pub threshold: Option<f64>,
}

pub fn param_plot(p: &ParamPlot, target: &Target) -> PlotResult {
    canvas!(target, W, 360, |root| {
        root.fill(&WHITE).map_err(err)?;
        let xs = p.bands.iter().flat_map(|b| b.points.iter().map(|q| q.0));
        let (x_lo, x_hi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
            (a.min(x), b.max(x))
        });
        let (x_lo, x_hi) = if !x_lo.is_finite() {
            (0.0, 1.0)
        } else if x_hi > x_lo {
            let pad = (x_hi - x_lo) * 0.04;
            (x_lo - pad, x_hi + pad)
        } else {
            (x_lo - 0.5, x_hi + 0.5)
        };
        let ys = p
            .bands
            .iter()
            .flat_map(|b| b.points.iter().flat_map(|q| [q.1, q.2, q.3]))
            .chain(p.threshold)
            .filter(|y| y.is_finite());
        let (y_lo, y_hi) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| {
            (a.min(y), b.max(y))
        });
        let (y_lo, y_hi) = if !y_lo.is_finite() {
            (0.0, 1.0)
        } else {
            let lo = y_lo.min(0.0);
            let span = (y_hi - lo).max(1e-9);
            (lo, y_hi + span * 0.12)
        };
        // The legend gets a column of its own so that it never hides a line.
        let (left, right) = root.split_horizontally(W - 210);
        let mut chart = ChartBuilder::on(&left)
            .caption(p.title, (FONT, 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(x_lo..x_hi, y_lo..y_hi)
            .map_err(err)?;
        // Plotters would put ticks at round numbers; a sweep's axis is labelled at its values
        // (every k-th when there are many), drawn here, with a light grid line at each.
        chart
            .configure_mesh()
            .x_desc(p.x_desc)
            .y_desc(p.y_desc)
            .x_labels(0)
            .disable_x_mesh()
            .y_label_formatter(&|y: &f64| tick(*y))
            .light_line_style(RGBColor(235, 235, 235))
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 13))
            .draw()
            .map_err(err)?;
        let every = p.ticks.len().div_ceil(14).max(1);
        for (k, (x, label)) in p.ticks.iter().enumerate() {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(*x, y_lo), (*x, y_hi)],
                    RGBColor(235, 235, 235),
                )))
                .map_err(err)?;
            if k % every != 0 {
                continue;
            }
            let (px, py) = chart.backend_coord(&(*x, y_lo));
            left.draw(&PathElement::new(
                vec![(px, py), (px, py + 5)],
                RGBColor(0, 0, 0),
            ))
            .map_err(err)?;
            text_at(
                &left,
                short(label, 12),
                (px, py + 8),
                HPos::Center,
                VPos::Top,
            )?;
        }
        if let Some(t) = p.threshold {
            chart
                .draw_series(DashedLineSeries::new(
                    [(x_lo, t), (x_hi, t)],
                    5,
                    4,
                    ShapeStyle::from(&RGBColor(90, 90, 90)).stroke_width(1),
                ))
                .map_err(err)?;
        }
        for b in p.bands {
            // The band: mean +- the 95% half-width, one polygon per run of defined points.
            let mut run: Vec<(f64, f64, f64)> = Vec::new();
            let mut runs = Vec::new();
            for &(x, _, lo, hi) in &b.points {
                if lo.is_finite() && hi.is_finite() {
                    run.push((x, lo, hi));
                } else if !run.is_empty() {
                    runs.push(std::mem::take(&mut run));
                }
            }
            runs.push(run);
            for r in runs.into_iter().filter(|r| r.len() > 1) {
                let poly: Vec<(f64, f64)> = r
                    .iter()
                    .map(|q| (q.0, q.2))
                    .chain(r.iter().rev().map(|q| (q.0, q.1)))
                    .collect();
                chart
                    .draw_series(std::iter::once(Polygon::new(poly, b.color.mix(0.16))))
                    .map_err(err)?;
            }
        }
        for b in p.bands {
            let style = ShapeStyle::from(&b.color).stroke_width(2);
            let pts: Vec<(f64, f64)> = b.points.iter().map(|q| (q.0, q.1)).collect();
            for seg in segments(&pts) {
                chart
                    .draw_series(LineSeries::new(seg.clone(), style))
                    .map_err(err)?;
                chart
                    .draw_series(seg.iter().map(|&q| Circle::new(q, 3, b.color.filled())))
                    .map_err(err)?;
            }
            if let Some(tx) = b.tip_x {
                chart
                    .draw_series(DashedLineSeries::new([(tx, y_lo), (tx, y_hi)], 6, 4, style))
                    .map_err(err)?;
            }
        }
        let mut entries: Vec<(String, RGBColor, bool)> = p
            .bands
            .iter()
            .map(|b| (short(&b.label, 28), b.color, false))
            .collect();
        if p.threshold.is_some() {
            entries.push(("SLO threshold".into(), RGBColor(90, 90, 90), true));
        }
        if p.bands.iter().any(|b| b.tip_x.is_some()) {
            entries.push(("SLO fails from here".into(), RGBColor(90, 90, 90), true));
        }
        for (k, (label, c, dashed)) in entries.iter().enumerate() {
            let y = 48 + 18 * k as i32;
            let style = ShapeStyle::from(c).stroke_width(if *dashed { 1 } else { 3 });
            if *dashed {
                right
                    .draw(&PathElement::new(vec![(4, y), (9, y)], style))
                    .map_err(err)?;
                right
                    .draw(&PathElement::new(vec![(14, y), (20, y)], style))
                    .map_err(err)?;
            } else {
                right
                    .draw(&PathElement::new(vec![(4, y), (20, y)], style))
                    .map_err(err)?;
            }
            text_at(&right, label.clone(), (26, y), HPos::Left, VPos::Center)?;
        }
    })
}

/// A grid of two swept parameters, each cell a point coloured by a metric's mean (darker =
/// worse), its value written in, and the cells where the SLO fails outlined.
pub struct GridHeat<'a> {
    pub title: &'a str,
    pub x_desc: &'a str,
    pub y_desc: &'a str,
    pub x_labels: &'a [String],
    pub y_labels: &'a [String],
    /// `cells[y][x]`: the value, its text, and whether the SLO holds there.
    pub cells: &'a [Vec<(f64, String, Option<bool>)>],
    pub higher_is_better: bool,
}

pub fn grid_heatmap(g: &GridHeat, target: &Target) -> PlotResult {
    let (nx, ny) = (g.x_labels.len().max(1), g.y_labels.len().max(1));
    let h = (150 + 34 * ny as u32).min(900);
    canvas!(target, W, h, |root| {
        root.fill(&WHITE).map_err(err)?;
        let vals = g
            .cells
            .iter()
            .flatten()
            .map(|c| c.0)
            .filter(|v| v.is_finite());
        let (lo, hi) = vals.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
            (a.min(v), b.max(v))
        });
        let badness = |v: f64| {
            if hi.partial_cmp(&lo) != Some(std::cmp::Ordering::Greater) {
                0.0
            } else if g.higher_is_better {
                (hi - v) / (hi - lo)
            } else {
                (v - lo) / (hi - lo)
            }
        };
        let mut chart = ChartBuilder::on(&root)
            .caption(g.title, (FONT, 18))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(90)
            .build_cartesian_2d(0f64..nx as f64, 0f64..ny as f64)
            .map_err(err)?;
        // Each row and column is labelled at its centre (drawn here: plotters' ticks would also
        // mark the cell borders).
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc(g.x_desc)
            .y_desc(g.y_desc)
            .x_labels(0)
            .y_labels(0)
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 13))
            .draw()
            .map_err(err)?;
        for (k, label) in g.x_labels.iter().enumerate() {
            let (px, py) = chart.backend_coord(&(k as f64 + 0.5, 0.0));
            root.draw(&PathElement::new(vec![(px, py), (px, py + 5)], BLACK))
                .map_err(err)?;
            text_at(
                &root,
                short(label, 12),
                (px, py + 8),
                HPos::Center,
                VPos::Top,
            )?;
        }
        for (k, label) in g.y_labels.iter().enumerate() {
            let (px, py) = chart.backend_coord(&(0.0, k as f64 + 0.5));
            root.draw(&PathElement::new(vec![(px - 5, py), (px, py)], BLACK))
                .map_err(err)?;
            text_at(
                &root,
                short(label, 12),
                (px - 8, py),
                HPos::Right,
                VPos::Center,
            )?;
        }
        for (y, row) in g.cells.iter().enumerate() {
            for (x, (v, text, holds)) in row.iter().enumerate() {
                let (x0, y0) = (x as f64, y as f64);
                let t = badness(*v);
                let fill = if v.is_finite() {
                    heat(t)
                } else {
                    RGBColor(255, 255, 255)
                };
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(x0 + 0.02, y0 + 0.04), (x0 + 0.98, y0 + 0.96)],
                        fill.filled(),
                    )))
                    .map_err(err)?;
                if *holds == Some(false) {
                    chart
                        .draw_series(std::iter::once(Rectangle::new(
                            [(x0 + 0.06, y0 + 0.12), (x0 + 0.94, y0 + 0.88)],
                            ShapeStyle::from(&RGBColor(20, 20, 20)).stroke_width(2),
                        )))
                        .map_err(err)?;
                }
                let c = chart.backend_coord(&(x0 + 0.5, y0 + 0.5));
                let ink = if t > 0.6 { WHITE } else { BLACK };
                root.draw(&Text::new(
                    short(text, 10),
                    c,
                    (FONT, 12)
                        .into_text_style(&root)
                        .color(&ink)
                        .pos(Pos::new(HPos::Center, VPos::Center)),
                ))
                .map_err(err)?;
            }
        }
    })
}
