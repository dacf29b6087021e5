//! Latency CDFs that count failures: a failed request never answered well, so it sits at
//! infinite latency, and each curve ends at the share of requests that succeeded. A variant
//! that fails fast therefore cannot look faster than one that answers.

use super::*;

/// One curve: the CDF of the `ok` requests' latency, `(latency_ms, quantile among ok)`, and
/// the share of all finished requests that were `ok` (where the curve ends).
pub struct CdfLine {
    pub label: String,
    pub points: Vec<(f64, f64)>,
    pub ok_share: f64,
}

pub fn cdf(title: &str, lines: &[CdfLine], target: &Target) -> PlotResult {
    let xs = lines
        .iter()
        .flat_map(|l| l.points.iter().map(|p| p.0))
        .filter(|x| *x > 0.0);
    let (lo, hi) = xs.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
        (a.min(x), b.max(x))
    });
    let (lo, hi) = if lo.is_finite() {
        (lo / 1.3, hi * 1.3)
    } else {
        (0.1, 10.0)
    };
    let axis: (i32, i32);
    let svg = canvas!(target, W, 300, |root| {
        root.fill(&WHITE).map_err(err)?;
        let (root, side) = root.split_horizontally(W - LEGEND_W);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, (FONT, 18))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(70)
            .build_cartesian_2d((lo..hi).log_scale(), 0f64..1.0)
            .map_err(err)?;
        chart
            .configure_mesh()
            .x_desc("latency (ms, log scale; failed requests never arrive)")
            .x_label_formatter(&|_| String::new())
            .disable_x_mesh()
            .y_desc("share of all requests answered ok this fast")
            .y_label_formatter(&|y: &f64| format!("{:.0}%", y * 100.0))
            .light_line_style(RGBColor(235, 235, 235))
            .label_style((FONT, 12))
            .axis_desc_style((FONT, 13))
            .draw()
            .map_err(err)?;
        // A label at every decade of the log axis.
        for v in log_ticks(lo, hi) {
            chart
                .draw_series(std::iter::once(PathElement::new(
                    vec![(v, 0.0), (v, 1.0)],
                    RGBColor(225, 225, 225),
                )))
                .map_err(err)?;
            let (px, py) = chart.backend_coord(&(v, 0.0));
            root.draw(&PathElement::new(vec![(px, py), (px, py + 5)], BLACK))
                .map_err(err)?;
            text_at(&root, tick(v), (px, py + 8), HPos::Center, VPos::Top)?;
        }
        let mut entries = Vec::new();
        for (i, l) in lines.iter().enumerate() {
            let base = Line::new("", PALETTE[i % PALETTE.len()], Vec::new()).nth(i);
            let style = ShapeStyle::from(&base.color).stroke_width(base.width);
            let pts: Vec<(f64, f64)> = l
                .points
                .iter()
                .filter(|p| p.0 > 0.0)
                .map(|&(x, q)| (x, q * l.ok_share))
                .collect();
            if base.dashed {
                chart
                    .draw_series(DashedLineSeries::new(pts.clone(), 7, 5, style))
                    .map_err(err)?;
            } else {
                chart
                    .draw_series(LineSeries::new(pts.clone(), style))
                    .map_err(err)?;
            }
            // Where the curve ends: the requests that succeeded; the rest never arrive.
            if let Some(&(x, y)) = pts.last() {
                chart
                    .draw_series(DashedLineSeries::new(
                        [(x, y), (hi, y)],
                        2,
                        4,
                        ShapeStyle::from(&base.color).stroke_width(1),
                    ))
                    .map_err(err)?;
            }
            entries.push((
                format!("{}: ends at {:.1}%", l.label, l.ok_share * 100.0),
                base.color,
                base.dashed,
                base.width,
            ));
        }
        legend(&side, &entries, 48)?;
        let area = chart.plotting_area();
        let (x0, _) = area.get_base_pixel();
        axis = (x0, x0 + area.dim_in_pixel().0 as i32);
    })?;
    // The page's script turns a pointer position into a latency: pixels and log10 range.
    Ok(svg.replacen(
        "<svg ",
        &format!(
            "<svg data-x0=\"{}\" data-x1=\"{}\" data-lx0=\"{:.6}\" data-lx1=\"{:.6}\" ",
            axis.0,
            axis.1,
            libm::log10(lo),
            libm::log10(hi)
        ),
        1,
    ))
}
