//! Latency with its failures: the percentiles of the `ok` requests of each window over time
//! (log scale, a label at every decade), and beneath them, on the same time axis, the share of
//! each window's requests that failed, so that an outage never looks like a calm, empty
//! stretch of the latency plot.

use super::*;

/// A window with no request offered or finished.
const NO_TRAFFIC: RGBColor = RGBColor(215, 215, 215);
/// A window in which requests arrived and none finished.
const UNANSWERED: RGBColor = RGBColor(60, 0, 20);
const FAILED: RGBColor = RGBColor(200, 40, 40);

/// One entity's latency and failures over time.
pub struct LatencyPlot<'a> {
    pub title: &'a str,
    pub frame: &'a Frame,
    /// The row to draw (the clients end to end, a client or a service).
    pub entity: &'a EntitySeries,
    pub triggers: &'a [Trigger],
    pub warmup_s: f64,
}

/// Several variants' latency and failures on one time axis: each variant's p99 above, its
/// failed share below.
pub struct CompareLatency<'a> {
    pub title: &'a str,
    pub end_s: f64,
    /// p99 per variant, and failed share (0 to 1) per variant, in the same order and colours.
    pub p99: &'a [Line],
    pub failed: &'a [Line],
    /// Per variant, in the same order: the spans with traffic and no ok answer (drawn as a bar
    /// in the variant's colour beneath the failed share, so a gap in p99 is never read as calm).
    pub no_ok: &'a [Vec<(f64, f64)>],
    pub triggers: &'a [Trigger],
    pub warmup_s: f64,
}

pub fn compare_latency(p: &CompareLatency, target: &Target) -> PlotResult {
    let end = p.end_s.max(1e-9);
    let axis: (i32, i32);
    let svg = canvas!(target, W, 460, |root| {
        root.fill(&WHITE).map_err(err)?;
        let (top, bottom) = root.split_vertically(300);
        let (lo, hi) = log_range(p.p99.iter().flat_map(|l| l.points.iter().map(|q| q.1)));
        time_chart!(
            top,
            p.title,
            "p99 (ms, log scale)",
            end,
            (lo..hi).log_scale(),
            true,
            p.p99,
            p.triggers,
            p.warmup_s,
            lo,
            hi,
            axis
        );
        let (strip, side) = bottom.split_horizontally(W - LEGEND_W);
        // Beneath 0%: one row per variant marking the spans with no ok answer.
        let row = 0.12;
        let floor = -(row * p.no_ok.len() as f64) - 0.02;
        let mut chart = ChartBuilder::on(&strip)
            .margin(12)
            .margin_top(4)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..end, floor..1.05)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("simulated time (s)")
            .y_desc("failed")
            .y_labels(3)
            .x_label_formatter(&|x: &f64| tick(*x))
            .y_label_formatter(&|y: &f64| {
                if *y < -1e-9 {
                    String::new()
                } else {
                    format!("{:.0}%", y * 100.0)
                }
            })
            .light_line_style(RGBColor(235, 235, 235))
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 13))
            .draw()
            .map_err(err)?;
        let colours = p.failed.iter().map(|l| l.color);
        for (k, (spans, c)) in p.no_ok.iter().zip(colours).enumerate() {
            let (y0, y1) = (-(k as f64 + 1.0) * row + 0.01, -(k as f64) * row - 0.02);
            for &(a, b) in spans {
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(a, y0), (b.min(end), y1)],
                        c.filled(),
                    )))
                    .map_err(err)?;
            }
        }
        if p.no_ok.iter().any(|s| !s.is_empty()) {
            let grey = RGBColor(90, 90, 90);
            side.draw(&Rectangle::new([(4, 24), (20, 32)], grey.filled()))
                .map_err(err)?;
            text_at(
                &side,
                "beneath 0%: no ok answer",
                (26, 28),
                HPos::Left,
                VPos::Center,
            )?;
            text_at(
                &side,
                "(a row per variant)",
                (26, 43),
                HPos::Left,
                VPos::Center,
            )?;
        }
        for l in p.failed {
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
    })?;
    Ok(mark_time_axis(svg, axis.0, axis.1, end))
}

pub fn latency(p: &LatencyPlot, target: &Target) -> PlotResult {
    let f = p.frame;
    let e = p.entity;
    let at = |c: usize| -> Vec<(f64, f64)> {
        (0..f.windows())
            .map(|i| (f.t(i) + f.width(i) / 2.0, e.rows[i][c]))
            .collect()
    };
    let lines = [
        Line::new("p50 of ok", PALETTE[2], at(col::P50)),
        Line::new("p99 of ok", PALETTE[5], at(col::P99)),
        Line::new("p99.9 of ok", PALETTE[1], at(col::P999)),
    ];
    let end = f.end_s.max(1e-9);
    let axis: (i32, i32);
    let svg = canvas!(target, W, 440, |root| {
        root.fill(&WHITE).map_err(err)?;
        let (top, bottom) = root.split_vertically(300);
        let (lo, hi) = log_range(lines.iter().flat_map(|l| l.points.iter().map(|p| p.1)));
        time_chart!(
            top,
            p.title,
            "latency (ms, log scale)",
            end,
            (lo..hi).log_scale(),
            true,
            lines,
            p.triggers,
            p.warmup_s,
            lo,
            hi,
            axis
        );
        // The failed share of each window, on the same time axis.
        let (strip, side) = bottom.split_horizontally(W - LEGEND_W);
        let mut chart = ChartBuilder::on(&strip)
            .margin(12)
            .margin_top(4)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d(0f64..end, 0f64..1.0)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("simulated time (s)")
            .y_desc("failed")
            .y_labels(3)
            .x_label_formatter(&|x: &f64| tick(*x))
            .y_label_formatter(&|y: &f64| format!("{:.0}%", y * 100.0))
            .light_line_style(RGBColor(235, 235, 235))
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 13))
            .draw()
            .map_err(err)?;
        for i in 0..f.windows() {
            let (x0, x1) = (f.t(i), (f.t(i) + f.width(i)).min(end));
            let (finished, offered) = (e.finished(i), e.rows[i][col::OFFERED]);
            let (c, v) = if finished == 0.0 && offered > 0.0 {
                (UNANSWERED, 1.0)
            } else if finished == 0.0 {
                (NO_TRAFFIC, 1.0)
            } else {
                let failed = e.rows[i][col::ERROR_RATE];
                (FAILED, if failed.is_finite() { failed } else { 0.0 })
            };
            if v > 0.0 {
                chart
                    .draw_series(std::iter::once(Rectangle::new(
                        [(x0, 0.0), (x1, v)],
                        c.filled(),
                    )))
                    .map_err(err)?;
            }
        }
        for t in p.triggers {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(t.start_s, 0.0), (t.start_s, 1.0)],
                    RGBColor(200, 40, 40).stroke_width(1),
                )))
                .map_err(err)?;
        }
        for (k, (c, label)) in [
            (FAILED, "failed share"),
            (UNANSWERED, "none answered"),
            (NO_TRAFFIC, "no traffic"),
        ]
        .into_iter()
        .enumerate()
        {
            let y = 16 + 18 * k as i32;
            side.draw(&Rectangle::new([(4, y - 6), (20, y + 6)], c.filled()))
                .map_err(err)?;
            text_at(&side, label, (26, y), HPos::Left, VPos::Center)?;
        }
    })?;
    Ok(mark_time_axis(svg, axis.0, axis.1, end))
}
