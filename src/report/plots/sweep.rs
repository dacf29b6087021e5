//! The sweep page's plots: a metric against a swept parameter with its 95% band, and a
//! grid of two parameters coloured by a metric.

use super::*;

/// One series of a sweep plot: a metric's mean at each parameter value with its 95% band.
pub struct Band {
    pub label: String,
    pub color: RGBColor,
    /// (x, mean, low, high); NaN where the point has no value.
    pub points: Vec<(f64, f64, f64, f64)>,
    /// Where the SLO stops holding along x (marked with a dashed vertical line).
    pub tip_x: Option<f64>,
    /// Per point: the mean is only a lower bound (some runs were censored), drawn as an open
    /// triangle pointing up with no band. Empty: none is.
    pub lower_bound: Vec<bool>,
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
        // Lines that coincide (two retry budgets that never come into play) would hide each
        // other: each series is shifted sideways by a few pixels (a dodge), and the legend says
        // which are the same everywhere.
        let n = p.bands.len();
        let px_per_x = (W - 210 - 100) as f64 / (x_hi - x_lo).max(1e-12);
        let gap = p
            .ticks
            .windows(2)
            .map(|w| (w[1].0 - w[0].0).abs())
            .fold(f64::INFINITY, f64::min);
        let step_px = if gap.is_finite() {
            (gap * px_per_x * 0.3 / n.max(1) as f64).min(5.0)
        } else {
            5.0
        };
        let dodge = |k: usize| (k as f64 - (n as f64 - 1.0) / 2.0) * step_px / px_per_x;
        let bands: Vec<Vec<(f64, f64, f64, f64)>> = p
            .bands
            .iter()
            .enumerate()
            .map(|(k, b)| {
                b.points
                    .iter()
                    .map(|q| (q.0 + dodge(k), q.1, q.2, q.3))
                    .collect()
            })
            .collect();
        for (b, points) in p.bands.iter().zip(&bands) {
            // The band: mean +- the 95% half-width, one polygon per run of defined points.
            let mut run: Vec<(f64, f64, f64)> = Vec::new();
            let mut runs = Vec::new();
            for (k, &(x, _, lo, hi)) in points.iter().enumerate() {
                let bound = b.lower_bound.get(k).copied().unwrap_or(false);
                if lo.is_finite() && hi.is_finite() && !bound {
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
        for (b, points) in p.bands.iter().zip(&bands) {
            let style = ShapeStyle::from(&b.color).stroke_width(2);
            let pts: Vec<(f64, f64)> = points.iter().map(|q| (q.0, q.1)).collect();
            for seg in segments(&pts) {
                chart
                    .draw_series(LineSeries::new(seg.clone(), style))
                    .map_err(err)?;
                chart
                    .draw_series(seg.iter().map(|&q| Circle::new(q, 3, b.color.filled())))
                    .map_err(err)?;
            }
            let bounds = points
                .iter()
                .zip(&b.lower_bound)
                .filter(|(q, &lb)| lb && q.1.is_finite());
            for (q, _) in bounds {
                let (px, py) = chart.backend_coord(&(q.0, q.1));
                left.draw(&Polygon::new(
                    vec![(px - 6, py + 3), (px + 6, py + 3), (px, py - 8)],
                    WHITE.filled(),
                ))
                .map_err(err)?;
                left.draw(&PathElement::new(
                    vec![
                        (px - 6, py + 3),
                        (px + 6, py + 3),
                        (px, py - 8),
                        (px - 6, py + 3),
                    ],
                    ShapeStyle::from(&b.color).stroke_width(2),
                ))
                .map_err(err)?;
            }
            if let Some(tx) = b.tip_x {
                chart
                    .draw_series(DashedLineSeries::new([(tx, y_lo), (tx, y_hi)], 6, 4, style))
                    .map_err(err)?;
            }
        }
        // (label, colour, dashed, "same as" note)
        let mut entries: Vec<(String, RGBColor, bool, Option<String>)> = p
            .bands
            .iter()
            .enumerate()
            .map(|(k, b)| {
                let twin = p.bands[..k].iter().find(|a| same_means(a, b));
                (
                    short(&b.label, 28),
                    b.color,
                    false,
                    twin.map(|a| format!("same as {}", short(&a.label, 20))),
                )
            })
            .collect();
        let grey = RGBColor(90, 90, 90);
        if p.threshold.is_some() {
            entries.push(("SLO threshold".into(), grey, true, None));
        }
        if p.bands.iter().any(|b| b.tip_x.is_some()) {
            entries.push(("SLO fails from here".into(), grey, true, None));
        }
        let mut y = 48;
        for (label, c, dashed, note) in &entries {
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
            if let Some(note) = note {
                y += 14;
                right
                    .draw(&Text::new(
                        note.clone(),
                        (34, y),
                        (FONT, 11)
                            .into_font()
                            .color(&grey)
                            .pos(Pos::new(HPos::Left, VPos::Center)),
                    ))
                    .map_err(err)?;
            }
            y += 18;
        }
        if p.bands.iter().any(|b| b.lower_bound.iter().any(|&x| x)) {
            let y = y + 4;
            right
                .draw(&PathElement::new(
                    vec![(6, y + 4), (18, y + 4), (12, y - 7), (6, y + 4)],
                    ShapeStyle::from(&grey).stroke_width(2),
                ))
                .map_err(err)?;
            text_at(
                &right,
                "at least: some seeds",
                (26, y),
                HPos::Left,
                VPos::Center,
            )?;
            text_at(
                &right,
                "not back by the end",
                (26, y + 15),
                HPos::Left,
                VPos::Center,
            )?;
        }
    })
}

/// Whether two series have the same mean at every point (then one would hide the other).
fn same_means(a: &Band, b: &Band) -> bool {
    a.points.len() == b.points.len()
        && a.points.iter().zip(&b.points).all(|(p, q)| {
            (p.1.is_nan() && q.1.is_nan()) || (p.1 - q.1).abs() <= 1e-9 * p.1.abs().max(1.0)
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
        // The colour scale gets a column of its own.
        let (root, side) = root.split_horizontally(W - 170);
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
        // The scale: from the best value seen (light) to the worst (dark), with both written.
        if lo.is_finite() {
            let (top, steps) = (48, 20);
            let (best, worst) = if g.higher_is_better {
                (hi, lo)
            } else {
                (lo, hi)
            };
            text_at(
                &side,
                "mean across seeds",
                (4, top - 16),
                HPos::Left,
                VPos::Center,
            )?;
            for k in 0..=steps {
                let t = k as f64 / steps as f64;
                let y = top + (steps - k) * 5;
                side.draw(&Rectangle::new([(4, y), (20, y + 5)], heat(t).filled()))
                    .map_err(err)?;
            }
            let label_y = |t: f64| top + ((1.0 - t) * (steps * 5) as f64) as i32 + 3;
            text_at(
                &side,
                format!("{} (worst)", sig4(worst)),
                (26, label_y(1.0)),
                HPos::Left,
                VPos::Center,
            )?;
            text_at(
                &side,
                format!("{} (best)", sig4(best)),
                (26, label_y(0.0)),
                HPos::Left,
                VPos::Center,
            )?;
            let y = top + steps * 5 + 24;
            side.draw(&Rectangle::new(
                [(4, y), (20, y + 12)],
                ShapeStyle::from(&RGBColor(20, 20, 20)).stroke_width(2),
            ))
            .map_err(err)?;
            text_at(&side, "SLO fails", (26, y + 6), HPos::Left, VPos::Center)?;
            if g.cells.iter().flatten().any(|c| !c.0.is_finite()) {
                let y = y + 20;
                side.draw(&Rectangle::new(
                    [(4, y), (20, y + 12)],
                    ShapeStyle::from(&RGBColor(180, 180, 180)).stroke_width(1),
                ))
                .map_err(err)?;
                text_at(&side, "no figure", (26, y + 6), HPos::Left, VPos::Center)?;
            }
        }
    })
}

/// Four significant figures (the scale's ends are read against the cells' values).
fn sig4(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return tick(v);
    }
    let digits = (3 - libm::log10(v.abs()).floor() as i32).clamp(0, 6) as usize;
    format!("{v:.digits$}")
}
