//! The cascade heatmap: services by time, each window coloured by its error rate.

use super::*;

/// A window with no request offered or finished.
const NO_TRAFFIC: RGBColor = RGBColor(215, 215, 215);
/// A window in which requests arrived and none finished.
const UNANSWERED: RGBColor = RGBColor(60, 0, 20);

/// Services (deepest dependency at the bottom) by time, coloured by error rate, with the
/// triggers marked above.
/// The services in the order the heatmap draws them below the clients: by depth, then name.
pub fn heatmap_rows(graph: &Graph) -> Vec<String> {
    let mut rows: Vec<(String, usize)> = graph
        .services
        .iter()
        .map(|s| (s.name.clone(), s.depth))
        .collect();
    rows.sort_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
    rows.into_iter().map(|r| r.0).collect()
}

pub fn heatmap(frame: &Frame, graph: &Graph, triggers: &[Trigger], target: &Target) -> PlotResult {
    let mut rows: Vec<(String, usize)> = heatmap_rows(graph).into_iter().map(|n| (n, 1)).collect();
    rows.insert(0, ("clients (end to end)".into(), 0));
    let n = rows.len();
    let h = 170 + 26 * n as u32;
    let axis: (i32, i32);
    let end = frame.end_s.max(1e-9);
    let svg = canvas!(target, W, h, |root| {
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
            .right_y_label_area_size(110)
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
                let (finished, offered) = (e.finished(i), e.rows[i][col::OFFERED]);
                // No traffic has a colour of its own, so it never reads as healthy; requests
                // that arrived and were not answered read as the worst.
                let c = if finished == 0.0 && offered > 0.0 {
                    UNANSWERED
                } else if finished == 0.0 {
                    NO_TRAFFIC
                } else {
                    heat(heat_scale(v))
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
        axis = (x0, x0 + pw as i32);
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
        for (k, (c, label)) in [(NO_TRAFFIC, "no traffic"), (UNANSWERED, "none answered")]
            .into_iter()
            .enumerate()
        {
            let y = y0 + 130 + 18 * k as i32;
            root.draw(&Rectangle::new([(lx, y), (lx + 14, y + 12)], c.filled()))
                .map_err(err)?;
            text_at(&root, label, (lx + 18, y + 6), HPos::Left, VPos::Center)?;
        }
    })?;
    Ok(mark_time_axis(svg, axis.0, axis.1, end))
}
