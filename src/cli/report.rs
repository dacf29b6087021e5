//! `faultline report`: rebuilds index.html, report.md and plots/ of a run's directory from its
//! files alone (manifest, scenario, summaries, time series), through the same function `run`
//! calls, so both give the same bytes.

use super::rundir::{load, write_file, Manifest};
use super::{table, Exit, ReportArgs, EXIT_BAD_INPUT};
use crate::engine::SimDuration;
use crate::report;
use crate::scenario::Overrides;
use anyhow::{anyhow, Context, Result};
use std::path::Path;

pub(super) fn cmd_report(a: ReportArgs) -> Result<()> {
    let heads = write_report(&a.dir, a.png)?;
    for line in table::cascade(&heads) {
        println!("{line}");
    }
    println!(
        "wrote {}/{{index.html, report.md, plots/}}",
        a.dir.display()
    );
    Ok(())
}

fn bad_dir(dir: &Path, what: String) -> anyhow::Error {
    anyhow!(Exit(
        EXIT_BAD_INPUT,
        format!(
            "error: {}: {what}\n(report takes a directory written by `faultline run`)",
            dir.display()
        )
    ))
}

fn read_manifest(dir: &Path) -> Result<Manifest> {
    let path = dir.join("manifest.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|e| bad_dir(dir, format!("cannot read manifest.json: {e}")))?;
    serde_json::from_str(&text).map_err(|e| {
        bad_dir(
            dir,
            format!("manifest.json is not a faultline manifest: {e}"),
        )
    })
}

/// Builds the report of the run in `dir` from its files; returns each run's analysis in
/// short form for the terminal.
pub(super) fn write_report(dir: &Path, png: bool) -> Result<Vec<(report::Headline, Vec<String>)>> {
    let (m, loaded, analysed) = read_run(dir)?;
    render(dir, &loaded.scenario, &m.fault_schedule, analysed, png)
}

/// Reads a run's directory back and analyses each of its runs, as `faultline report` does.
fn read_run(dir: &Path) -> Result<(Manifest, crate::scenario::Loaded, Vec<report::Analysed>)> {
    let m = read_manifest(dir)?;
    super::rundir::check_files(dir, &m).map_err(|why| bad_dir(dir, why))?;
    let overrides = Overrides {
        seed: Some(m.seed),
        duration: m.duration_override_ns.map(SimDuration),
        max_events: m.max_events_override,
    };
    let loaded = load(&dir.join("scenario.ron"), &overrides)?;
    let sc = &loaded.scenario;
    let csv = std::fs::read_to_string(dir.join("timeseries.csv"))
        .map_err(|e| bad_dir(dir, format!("cannot read timeseries.csv: {e}")))?;
    let mut frames = report::frame::Frame::from_csv(&csv)
        .map_err(|e| bad_dir(dir, format!("timeseries.csv: {e}")))?;
    let names: Vec<String> = if m.variants.is_empty() {
        vec!["base".to_string()]
    } else {
        m.variants.iter().map(|v| v.name.clone()).collect()
    };
    let mut analysed = Vec::new();
    for name in &names {
        let path = if m.variants.is_empty() {
            dir.join("summary.json")
        } else {
            dir.join("variants").join(name).join("summary.json")
        };
        let text = std::fs::read_to_string(&path)
            .map_err(|e| bad_dir(dir, format!("cannot read {}: {e}", path.display())))?;
        let summary: crate::metrics::Summary = serde_json::from_str(&text).map_err(|e| {
            bad_dir(
                dir,
                format!("{} is not a faultline summary: {e}", path.display()),
            )
        })?;
        let k = frames
            .iter()
            .position(|(n, _)| n == name)
            .ok_or_else(|| bad_dir(dir, format!("timeseries.csv has no rows for `{name}`")))?;
        let frame = frames.remove(k).1;
        let run_sc = if m.variants.is_empty() {
            sc
        } else {
            &sc.variants
                .iter()
                .find(|(n, _)| n == name)
                .ok_or_else(|| bad_dir(dir, format!("scenario.ron has no variant `{name}`")))?
                .1
        };
        analysed.push(report::analyse(
            run_sc,
            report::Run {
                name: name.clone(),
                summary,
                frame,
            },
        ));
    }
    Ok((m, loaded, analysed))
}

/// Writes the pages and plots of analysed runs into `dir` (what `faultline report` rebuilds
/// from the files, and `faultline run` from the same data before it was written); returns each
/// run's analysis in short form for the terminal.
pub(super) fn render(
    dir: &Path,
    sc: &crate::scenario::Scenario,
    fault_schedule: &[String],
    analysed: Vec<report::Analysed>,
    png: bool,
) -> Result<Vec<(report::Headline, Vec<String>)>> {
    let plots = dir.join("plots");
    std::fs::create_dir_all(&plots)
        .with_context(|| format!("cannot create {}", plots.display()))?;
    // Plots of an earlier report in this directory that this one does not draw would mislead.
    for e in std::fs::read_dir(&plots)?.flatten() {
        let p = e.path();
        if p.extension().is_some_and(|x| x == "svg" || x == "png") {
            std::fs::remove_file(&p).with_context(|| format!("cannot remove {}", p.display()))?;
        }
    }
    let pages = report::page::build(
        sc,
        fault_schedule,
        &analysed,
        png.then_some(plots.as_path()),
    )
    .map_err(|e| anyhow!("cannot draw the report: {e}"))?;
    for (file, svg) in &pages.plots {
        write_file(&plots.join(file), svg.as_bytes())?;
    }
    write_file(&dir.join("index.html"), pages.html.as_bytes())?;
    write_file(&dir.join("report.md"), pages.markdown.as_bytes())?;
    Ok(analysed
        .into_iter()
        .map(|a| (a.headline, a.cascade.narrative()))
        .collect())
}
