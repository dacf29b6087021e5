//! Health and breaker timelines: per service the replicas in balancing, per edge the
//! breakers open, window by window.

use super::*;

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
