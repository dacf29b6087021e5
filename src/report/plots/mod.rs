//! The report's plots, drawn with plotters as SVG text (the browser renders the text, so no
//! font files are needed to make them).
//!
//! Each function takes the data it draws (frames, the cascade, the graph) and returns a
//! complete SVG document; none of them knows where it will be written or embedded.

use super::cascade::{Cascade, Trigger};
use super::frame::{col, EntitySeries, Frame, Kind};
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
                Ok::<String, String>(svg)
            }
            Target::Png(path) => {
                let $root = crate::report::png::PngBackend::new(path, ($w, $h)).into_drawing_area();
                $body
                $root.present().map_err(err)?;
                Ok::<String, String>(String::new())
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
    /// Stroke width in pixels (2 for most lines; variants get distinct widths and dashes so
    /// that identical series stay visible on top of each other).
    pub width: u32,
}

impl Line {
    pub fn new(label: impl Into<String>, color: RGBColor, points: Vec<(f64, f64)>) -> Self {
        Line {
            label: label.into(),
            color,
            points,
            dashed: false,
            width: 2,
        }
    }
    pub fn dashed(mut self) -> Self {
        self.dashed = true;
        self
    }
    /// Line `i` of several that may coincide (variants): the first wide and solid, the next
    /// ones narrower and dashed, so each stays visible when they overlap.
    pub fn nth(mut self, i: usize) -> Self {
        self.width = if i == 0 { 4 } else { 2 };
        // Within the palette, every other line dashed; past it, the colours come round again
        // with the other dash, so colour and dash together stay unique.
        self.dashed = (i % 2 == 1) != ((i / PALETTE.len()) % 2 == 1);
        self
    }
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

/// The width of the legend column beside a time plot: legends never sit on the data.
const LEGEND_W: u32 = 220;

/// The ticks of a log axis over `[lo, hi]`: every decade, and 2x and 5x within it when the
/// range spans fewer than two decades.
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    if !(lo > 0.0 && hi > lo) {
        return Vec::new();
    }
    let (a, b) = (
        libm::log10(lo).floor() as i32,
        libm::log10(hi).ceil() as i32,
    );
    let mut out = Vec::new();
    let fine = b - a <= 2;
    for k in a..=b {
        let d = libm::pow(10.0, k as f64);
        for m in if fine {
            &[1.0, 2.0, 5.0][..]
        } else {
            &[1.0][..]
        } {
            let v = d * m;
            if v >= lo && v <= hi {
                out.push(v);
            }
        }
    }
    out
}

/// Draws a legend in its own column: one entry per `(label, colour, dashed, width)`.
fn legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[(String, RGBColor, bool, u32)],
    top: i32,
) -> Result<(), String> {
    // Lines without a label (a second line of the same series) have no entry of their own.
    for (k, (label, c, dashed, width)) in entries.iter().filter(|e| !e.0.is_empty()).enumerate() {
        let y = top + 18 * k as i32;
        let style = ShapeStyle::from(c).stroke_width((*width).max(2));
        if *dashed {
            area.draw(&PathElement::new(vec![(4, y), (9, y)], style))
                .map_err(err)?;
            area.draw(&PathElement::new(vec![(14, y), (20, y)], style))
                .map_err(err)?;
        } else {
            area.draw(&PathElement::new(vec![(4, y), (20, y)], style))
                .map_err(err)?;
        }
        text_at(area, short(label, 32), (26, y), HPos::Left, VPos::Center)?;
    }
    Ok(())
}

/// The pixel range of a time axis and the time it spans, written onto the SVG so that the
/// page's script can turn a pointer position into a window (`data-x0`, `data-x1`, `data-t1`).
pub fn mark_time_axis(svg: String, x0: i32, x1: i32, t1: f64) -> String {
    svg.replacen(
        "<svg ",
        &format!("<svg data-x0=\"{x0}\" data-x1=\"{x1}\" data-t1=\"{t1}\" "),
        1,
    )
}

macro_rules! time_chart {
    ($root:expr, $title:expr, $y_desc:expr, $end:expr, $yrange:expr, $log:expr, $lines:expr, $triggers:expr, $warmup:expr, $ybottom:expr, $ytop:expr, $axis:expr) => {{
        let (root, side) = $root.split_horizontally(W - LEGEND_W);
        let root = &root;
        let mut chart = ChartBuilder::on(root)
            .caption($title, (FONT, 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..$end, $yrange)
            .map_err(err)?;
        let (yb, yt) = ($ybottom, $ytop);
        let mut mesh = chart.configure_mesh();
        mesh.x_desc("simulated time (s)")
            .y_desc($y_desc)
            .x_label_formatter(&|x: &f64| tick(*x))
            .y_label_formatter(&|y: &f64| tick(*y))
            .light_line_style(RGBColor(235, 235, 235))
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 13));
        if $log {
            // Plotters labels a log axis sparsely (and draws one label even when asked for
            // none): the decades are labelled here instead.
            mesh.y_label_formatter(&|_| String::new()).disable_y_mesh();
        }
        mesh.draw().map_err(err)?;
        if $log {
            for v in log_ticks(yb, yt) {
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![(0.0, v), ($end, v)],
                        RGBColor(225, 225, 225),
                    )))
                    .map_err(err)?;
                let (px, py) = chart.backend_coord(&(0.0, v));
                root.draw(&PathElement::new(vec![(px - 5, py), (px, py)], BLACK))
                    .map_err(err)?;
                text_at(root, tick(v), (px - 8, py), HPos::Right, VPos::Center)?;
            }
        }
        if $warmup > 0.0 {
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(0.0, yb), ($warmup, yt)],
                    RGBColor(120, 120, 120).mix(0.12).filled(),
                )))
                .map_err(err)?;
        }
        // Fault windows are shaded; an instant fault (a flush, a lasting change) is a line.
        let spans: Vec<(f64, f64, String)> = $triggers
            .iter()
            .map(|t: &Trigger| {
                let end = if t.instant {
                    t.start_s
                } else {
                    t.end_s.unwrap_or($end).min($end)
                };
                (t.start_s, end, short(&t.label, 28))
            })
            .collect();
        for (s, e, _) in &spans {
            if e <= s {
                chart
                    .draw_series(std::iter::once(PathElement::new(
                        vec![(*s, yb), (*s, yt)],
                        RGBColor(200, 40, 40).stroke_width(2),
                    )))
                    .map_err(err)?;
            } else {
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(*s, yb), (*e, yt)],
                        RGBColor(220, 50, 47).mix(0.13).filled(),
                    )))
                    .map_err(err)?;
            }
        }
        for l in $lines.iter() {
            let style = ShapeStyle::from(&l.color).stroke_width(l.width);
            for seg in segments(&l.points) {
                if l.dashed {
                    chart
                        .draw_series(DashedLineSeries::new(seg, 7, 5, style))
                        .map_err(err)?;
                } else {
                    chart
                        .draw_series(LineSeries::new(seg, style))
                        .map_err(err)?;
                }
            }
        }
        let entries: Vec<(String, RGBColor, bool, u32)> = $lines
            .iter()
            .map(|l| (l.label.clone(), l.color, l.dashed, l.width))
            .collect();
        legend(&side, &entries, 48)?;
        // Labels of the shaded windows, inside the top of the plot, never overlapping.
        let area = chart.plotting_area();
        let (x0, y0) = area.get_base_pixel();
        let (pw, _) = area.dim_in_pixel();
        $axis = (x0, x0 + pw as i32);
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
                (x0 + 3, y0 + 4 + 3 * 14),
                (FONT, 11).into_font().color(&RGBColor(110, 110, 110)),
            ))
            .map_err(err)?;
        }
    }};
}

/// A plot of lines over simulated time, triggers shaded (instant ones as lines), the legend
/// in a column of its own.
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
    /// A fixed y range (shares: 0 to 1); None: from the data.
    pub y_max: Option<f64>,
    /// Pixels (320 reads well at the page's width).
    pub height: u32,
}

pub fn time_plot(p: &TimePlot, target: &Target) -> PlotResult {
    let (title, y_desc, frame_end_s, lines, triggers, warmup_s, log_y) = (
        p.title, p.y_desc, p.end_s, p.lines, p.triggers, p.warmup_s, p.log_y,
    );
    let axis: (i32, i32);
    let end = frame_end_s.max(1e-9);
    let svg = canvas!(target, W, p.height, |root| {
        root.fill(&WHITE).map_err(err)?;
        let ys = lines
            .iter()
            .flat_map(|l| l.points.iter().map(|p| p.1))
            .filter(|y| y.is_finite());
        if log_y {
            let (lo, hi) = log_range(ys);
            time_chart!(
                root,
                title,
                y_desc,
                end,
                (lo..hi).log_scale(),
                true,
                lines,
                triggers,
                warmup_s,
                lo,
                hi,
                axis
            );
        } else {
            let hi = p.y_max.unwrap_or_else(|| {
                let hi = ys.fold(0.0f64, f64::max);
                if hi > 0.0 {
                    hi * 1.12
                } else {
                    1.0
                }
            });
            time_chart!(
                root,
                title,
                y_desc,
                end,
                0f64..hi,
                false,
                lines,
                triggers,
                warmup_s,
                0.0,
                hi,
                axis
            );
        }
    })?;
    Ok(mark_time_axis(svg, axis.0, axis.1, end))
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

mod cdf;
mod graph;
mod heatmap;
mod latency;
mod states;
mod sweep;

pub use cdf::{cdf, CdfLine};
pub use graph::graph;
pub use heatmap::{heatmap, heatmap_rows};
pub use latency::{compare_latency, latency, CompareLatency, LatencyPlot};
pub use states::states;
pub use sweep::{grid_heatmap, param_plot, Band, GridHeat, ParamPlot};

/// A log axis's range for values `ys`: the finite positive ones, padded by 1.5x either way
/// (0.1 to 10 when there is none).
pub(super) fn log_range(ys: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = ys
        .filter(|y| y.is_finite() && *y > 0.0)
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), y| {
            (a.min(y), b.max(y))
        });
    if lo.is_finite() {
        (lo / 1.5, hi * 1.5)
    } else {
        (0.1, 10.0)
    }
}
