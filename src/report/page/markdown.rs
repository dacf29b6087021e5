//! `report.md`: the same words as `index.html`, in the same order (verdicts, headline table,
//! what happened, the fault schedule, the services, the plots by question), every variant in
//! turn, the plots as files beside it.

use super::text::{differences, endpoints, headline_rows, meta, services, verdict};
use super::{Plot, GROUPS};
use crate::report::Analysed;
use crate::scenario::Scenario;
use std::fmt::Write as _;

fn table(o: &mut String, header: &[&str], rows: &[Vec<String>]) {
    let _ = writeln!(o, "| {} |", header.join(" | "));
    let _ = writeln!(
        o,
        "|---|{}",
        header.iter().skip(1).map(|_| "---:|").collect::<String>()
    );
    for r in rows {
        let _ = writeln!(o, "| {} |", r.join(" | "));
    }
    o.push('\n');
}

pub(super) fn page(
    scenario: &Scenario,
    schedule: &[String],
    runs: &[Analysed],
    plots: &[Plot],
) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# {}\n", scenario.name);
    if !scenario.description.is_empty() {
        let _ = writeln!(o, "{}\n", scenario.description);
    }
    let _ = writeln!(o, "{}\n", meta(scenario, runs));
    for r in runs {
        let (line, alarm) = verdict(r);
        if alarm {
            let _ = writeln!(o, "- **{line}**");
        } else {
            let _ = writeln!(o, "- {line}");
        }
    }
    o.push_str("\n## Headline numbers\n\n");
    let mut header: Vec<&str> = vec![""];
    header.extend(runs.iter().map(|r| r.name.as_str()));
    let rows: Vec<Vec<String>> = headline_rows(runs)
        .into_iter()
        .map(|(label, vals)| std::iter::once(label).chain(vals).collect())
        .collect();
    table(&mut o, &header, &rows);
    for d in differences(runs) {
        let _ = writeln!(o, "- {d}");
    }
    o.push_str("\n## What happened\n\n");
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
    o.push_str("## Services\n\n");
    for r in runs {
        if runs.len() > 1 {
            let _ = writeln!(o, "### {}\n", r.name);
        }
        let (header, rows) = services(r);
        table(&mut o, &header, &rows);
        let (header, rows) = endpoints(r);
        if !rows.is_empty() {
            table(&mut o, &header, &rows);
        }
    }
    for (id, heading, question) in GROUPS {
        let group: Vec<&Plot> = plots.iter().filter(|p| p.group == id).collect();
        if group.is_empty() {
            continue;
        }
        let _ = writeln!(o, "## {heading}\n\n*{question}*\n");
        for p in group.iter().filter(|p| p.variant.is_none()) {
            let _ = writeln!(o, "![{}](plots/{})\n", p.title, p.file);
        }
        for (k, r) in runs.iter().enumerate() {
            let mine: Vec<&&Plot> = group.iter().filter(|p| p.variant == Some(k)).collect();
            if mine.is_empty() {
                continue;
            }
            if runs.len() > 1 {
                let _ = writeln!(o, "**{}**\n", r.name);
            }
            for p in mine {
                let _ = writeln!(o, "![{}](plots/{})\n", p.title, p.file);
            }
        }
    }
    o
}
