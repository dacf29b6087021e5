//! The call graph: services placed by depth, coloured by what the analysis found of them.

use super::*;

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
                    format!("breached {}", crate::report::cascade::secs(iv.0)),
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
                            crate::report::cascade::secs(t),
                            crate::report::cascade::secs(b)
                        ),
                    ),
                    // Degraded within its SLO: amber.
                    None => (
                        RGBColor(255, 204, 128),
                        format!("degraded {}", crate::report::cascade::secs(t)),
                    ),
                }
            }
            None => (RGBColor(200, 230, 201), "held".into()),
        }
    };
    // The origin: a fault's target that degraded from it on; without one (a load surge), the
    // first service to degrade.
    let mut origin: Vec<&str> = cascade
        .origins
        .iter()
        .flat_map(|o| {
            o.degraded
                .iter()
                .filter(|d| !o.already_degraded.contains(d))
                .map(String::as_str)
        })
        .collect();
    let origin_label = if origin.is_empty() {
        origin.extend(cascade.chain.first().map(|s| s.service.as_str()));
        "first to degrade"
    } else {
        "origin"
    };
    let h = h + 40;
    canvas!(target, W, h, |root| {
        root.fill(&WHITE).map_err(err)?;
        root.draw(&Text::new(
            "Call graph: where the failure started and how far it went",
            (12, 10),
            (FONT, 16),
        ))
        .map_err(err)?;
        // The colour legend, along the bottom.
        let ly = h as i32 - 24;
        let mut lx = 12;
        for (c, label) in [
            (heat(0.9), "breached its SLO (darker: earlier)"),
            (RGBColor(255, 204, 128), "degraded within its SLO"),
            (RGBColor(200, 230, 201), "held"),
        ] {
            root.draw(&Rectangle::new(
                [(lx, ly - 7), (lx + 16, ly + 7)],
                c.filled(),
            ))
            .map_err(err)?;
            text_at(&root, label, (lx + 22, ly), HPos::Left, VPos::Center)?;
            lx += 22 + 7 * label.chars().count() as i32 + 18;
        }
        root.draw(&Rectangle::new(
            [(lx, ly - 7), (lx + 16, ly + 7)],
            ShapeStyle::from(&BLACK).stroke_width(3),
        ))
        .map_err(err)?;
        text_at(
            &root,
            format!("{origin_label} · arrows point from caller to callee"),
            (lx + 22, ly),
            HPos::Left,
            VPos::Center,
        )?;
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
                // An arrowhead at the callee's end.
                let (dx, dy) = ((ex - sx) as f64, (pb.1 - pa.1) as f64);
                let len = (dx * dx + dy * dy).sqrt().max(1.0);
                let (ux, uy) = (dx / len, dy / len);
                let tip = (ex as f64, pb.1 as f64);
                let base = (tip.0 - 11.0 * ux, tip.1 - 11.0 * uy);
                let wing = |s: f64| {
                    (
                        (base.0 - 5.0 * uy * s).round() as i32,
                        (base.1 + 5.0 * ux * s).round() as i32,
                    )
                };
                root.draw(&Polygon::new(
                    vec![(ex, pb.1), wing(1.0), wing(-1.0)],
                    RGBColor(90, 90, 90).filled(),
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
                let is_origin = origin.contains(name);
                root.draw(&Rectangle::new(
                    [(x - bw / 2, y - bh / 2), (x + bw / 2, y + bh / 2)],
                    if is_origin {
                        ShapeStyle::from(&BLACK).stroke_width(4)
                    } else {
                        ShapeStyle::from(&RGBColor(80, 80, 80)).stroke_width(1)
                    },
                ))
                .map_err(err)?;
                if is_origin {
                    text_at(
                        &root,
                        origin_label,
                        (x, y - bh / 2 - 10),
                        HPos::Center,
                        VPos::Center,
                    )?;
                }
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
