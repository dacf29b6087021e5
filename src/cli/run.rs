//! `faultline run`: runs a scenario (or each of its variants), writes the run's directory
//! (scenario, summaries, time series, manifest) and its report, and prints the tables, the
//! cascade and the trace hash.

use super::rundir::{
    default_out, file_hash, load, to_json, write_file, Manifest, Staging, SummaryFile,
    VariantRecord,
};
use super::{progress, table, Exit, RunArgs, EXIT_BAD_INPUT, EXIT_LIMIT};
use crate::engine::format_duration;
use crate::faults;
use crate::report;
use crate::runner::{self, JsonlTrace};
use crate::scenario::{self, Overrides};
use anyhow::{anyhow, Context, Result};
use std::time::Instant;

pub(super) fn cmd_run(a: RunArgs) -> Result<i32> {
    let overrides = Overrides {
        seed: a.seed,
        duration: a.duration,
        max_events: a.max_events,
    };
    let loaded = load(&a.file, &overrides)?;
    let sc = &loaded.scenario;
    eprint!(
        "{}",
        crate::scenario::render_warnings(&a.file.display().to_string(), &sc.warnings)
    );
    let out = a.out.clone().unwrap_or_else(|| default_out(&a.file));
    // A trace inside the run's directory is written with the run's files (into the staging
    // directory); elsewhere, its directory must exist.
    let trace_rel = a
        .trace
        .as_ref()
        .and_then(|t| t.strip_prefix(&out).ok())
        .map(|r| r.to_path_buf());
    if let Some(t) = &a.trace {
        let parent = t.parent().filter(|p| !p.as_os_str().is_empty());
        let problem = if t.is_dir() || trace_rel.as_ref().is_some_and(|r| r.as_os_str().is_empty())
        {
            Some("is a directory")
        } else if trace_rel.is_none() && parent.is_some_and(|p| !p.is_dir()) {
            Some("its directory does not exist")
        } else {
            None
        };
        if let Some(problem) = problem {
            return Err(anyhow!(Exit(
                EXIT_BAD_INPUT,
                format!(
                    "error: --trace {}: {problem}; name a file in a directory that exists, or in the run's --out directory",
                    t.display()
                )
            )));
        }
    }
    let staging = Staging::begin(&out)?;
    let trace_path = match (&a.trace, &trace_rel) {
        (_, Some(rel)) => {
            let p = staging.dir().join(rel);
            if let Some(d) = p.parent() {
                std::fs::create_dir_all(d)
                    .with_context(|| format!("cannot create {}", d.display()))?;
            }
            Some(p)
        }
        (t, None) => t.clone(),
    };

    let schedule: Vec<String> = sc.system.faults.iter().map(faults::describe).collect();
    if !a.quiet && !schedule.is_empty() {
        println!(
            "fault schedule ({} window{}, seed {}):",
            schedule.len(),
            if schedule.len() == 1 { "" } else { "s" },
            sc.seed
        );
        const SHOWN: usize = 20;
        for line in schedule.iter().take(SHOWN) {
            println!("  {line}");
        }
        if schedule.len() > SHOWN {
            println!(
                "  ... and {} more (all of them in manifest.json)",
                schedule.len() - SHOWN
            );
        }
        println!();
    }
    // The scenario itself, or each of its variants (same seed, same streams).
    let runs = sc.runs();
    let wall = Instant::now();
    let mut results = Vec::new();
    let mut frames = Vec::new();
    for (k, (name, run_sc)) in runs.iter().enumerate() {
        let bar = progress::bar(a.quiet, run_sc, name, runs.len() > 1);
        let mut progress = progress::Progress::new(bar);
        let (r, recorder) = match (&trace_path, k) {
            (Some(path), 0) => {
                let f = std::fs::File::create(path)
                    .with_context(|| format!("cannot create trace file {}", path.display()))?;
                let mut sink = JsonlTrace::new(std::io::BufWriter::new(f), &run_sc.system);
                let mut tee = progress::Tee(&mut sink, &mut progress);
                let out = runner::run_traced(run_sc, Some(&mut tee));
                sink.finish()
                    .with_context(|| format!("cannot write trace file {}", path.display()))?;
                out
            }
            _ if progress.active() => runner::run_traced(run_sc, Some(&mut progress)),
            _ => runner::run_traced(run_sc, None),
        };
        progress.finish();
        frames.push((
            name.clone(),
            report::frame::Frame::build(&recorder.series, &run_sc.system, &r.summary),
        ));
        results.push(r);
    }
    let wall_seconds = wall.elapsed().as_secs_f64();
    let result = &results[0];
    let produced = outputs(&runs, &results, frames, !sc.variants.is_empty())?;
    let dir = staging.dir();
    let mut files = std::collections::BTreeMap::new();
    let mut write = |rel: &str, bytes: &[u8]| -> Result<()> {
        let path = dir.join(rel);
        if let Some(p) = path.parent() {
            std::fs::create_dir_all(p).with_context(|| format!("cannot create {}", p.display()))?;
        }
        write_file(&path, bytes)?;
        files.insert(rel.to_string(), file_hash(bytes));
        Ok(())
    };
    write("scenario.ron", loaded.text.as_bytes())?;
    for (rel, bytes) in &produced.files {
        write(rel, bytes)?;
    }
    let manifest = Manifest {
        faultline_version: env!("CARGO_PKG_VERSION").to_string(),
        scenario_name: sc.name.clone(),
        scenario_file: a.file.display().to_string(),
        scenario_hash: loaded.file_hash.clone(),
        seed: sc.seed,
        duration_override_ns: a.duration.map(|d| d.0),
        max_events_override: a.max_events,
        trace_hash: result.summary.trace_hash.clone(),
        events: result.events,
        stopped_by: result.stopped.as_ref().map(|h| h.limit.to_string()),
        wall_seconds,
        fault_schedule: schedule,
        variants: if sc.variants.is_empty() {
            Vec::new()
        } else {
            runs.iter()
                .zip(&results)
                .map(|((n, _), r)| VariantRecord {
                    name: n.clone(),
                    trace_hash: r.summary.trace_hash.clone(),
                    events: r.events,
                })
                .collect()
        },
        files,
    };
    write_file(&dir.join("manifest.json"), &to_json(&manifest)?)?;
    // The same pages `faultline report` would draw from these files, from the same data.
    let fault_table = table::faults(&result.summary, &produced.analysed[0].cascade.recoveries);
    let headlines =
        super::report::render(dir, sc, &manifest.fault_schedule, produced.analysed, a.png)?;
    staging.commit()?;

    if !a.quiet {
        println!(
            "faultline run: {} ({}), seed {}, {} simulated{}\n",
            sc.name,
            a.file.display(),
            sc.seed,
            format_duration(sc.duration.0),
            if sc.warmup.0 > 0 {
                format!(
                    ", measured after a {} warm-up",
                    format_duration(sc.warmup.0)
                )
            } else {
                String::new()
            }
        );
        print!("{}", table::services(&result.summary));
        println!();
        print!("{}", table::clients(&result.summary));
        println!();
        for extra in [
            table::endpoints(&result.summary),
            table::policies(&result.summary),
            table::admission(&result.summary),
            fault_table,
            table::health(&result.summary),
            table::autoscalers(&result.summary),
            table::replication(&result.summary),
            table::caches(&result.summary),
            table::pools(&result.summary),
            table::links(&result.summary),
        ] {
            if !extra.is_empty() {
                print!("{extra}");
                println!();
            }
        }
    }
    if !a.quiet {
        for line in table::cascade(&headlines) {
            println!("{line}");
        }
        println!();
    }
    for (k, r) in results.iter().enumerate() {
        println!(
            "{}seed {} · trace hash {} · {} events{}",
            if runs.len() > 1 {
                format!("{}: ", runs[k].0)
            } else {
                String::new()
            },
            sc.seed,
            r.summary.trace_hash,
            table::thousands(r.events),
            if k == 0 {
                format!(" in {wall_seconds:.2}s wall")
            } else {
                String::new()
            }
        );
    }
    if !a.quiet {
        println!(
            "wrote {}/{{index.html, report.md, summary.json, timeseries.csv, manifest.json, scenario.ron, plots/}}",
            out.display()
        );
        println!("open the report: {}", out.join("index.html").display());
        if let Some(t) = &a.trace {
            println!("wrote trace {}", t.display());
        }
        println!("replay with: faultline replay {}", out.display());
    }
    if let Some(hit) = results.iter().find_map(|r| r.stopped.as_ref()) {
        eprintln!("stopped early: {hit}");
        return Ok(EXIT_LIMIT);
    }
    Ok(0)
}

/// What a run's directory holds besides its scenario, manifest and pages, made from the runs'
/// results the same way for `run` and `replay`: the time series and each run's summary, as
/// (path in the directory, bytes), with the analyses they hold. `variants`: the runs are the
/// scenario's variants (each gets `variants/NAME/summary.json`; `summary.json` is the first's).
pub(super) struct Outputs {
    pub files: Vec<(String, Vec<u8>)>,
    pub analysed: Vec<report::Analysed>,
}

pub(super) fn outputs(
    runs: &[(String, &scenario::Scenario)],
    results: &[runner::RunResult],
    frames: Vec<(String, report::frame::Frame)>,
    variants: bool,
) -> Result<Outputs> {
    // The analysis reads the frames as timeseries.csv gives them back, as `faultline report`
    // does, so summary.json's verdicts and the report's are the same to the last digit.
    let csv_frames: Vec<(String, &report::frame::Frame)> =
        frames.iter().map(|(n, f)| (n.clone(), f)).collect();
    let csv = report::frame::Frame::to_csv(&csv_frames);
    let read_back = report::frame::Frame::from_csv(&csv)
        .map_err(|e| anyhow!("the time series does not read back: {e}"))?;
    let analysed: Vec<report::Analysed> = runs
        .iter()
        .zip(results)
        .zip(read_back)
        .map(|(((name, run_sc), r), (_, frame))| {
            report::analyse(
                run_sc,
                report::Run {
                    name: name.clone(),
                    summary: r.summary.clone(),
                    frame,
                },
            )
        })
        .collect();
    let summary_json = |a: &report::Analysed| to_json(&SummaryFile::new(&a.summary, a.analysis()));
    let mut files = vec![("summary.json".to_string(), summary_json(&analysed[0])?)];
    if variants {
        for ((n, _), a) in runs.iter().zip(&analysed) {
            files.push((format!("variants/{n}/summary.json"), summary_json(a)?));
        }
    }
    files.push(("timeseries.csv".to_string(), csv.into_bytes()));
    Ok(Outputs { files, analysed })
}
