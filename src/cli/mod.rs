//! The command line: `run`, `replay` and `validate`. Parses arguments (clap), calls the library,
//! prints tables, writes output files, and picks the exit code. No simulation logic lives here.
//!
//! Exit codes: 0 success; 1 a replay whose trace hash differs, or an unexpected failure (such
//! as an unwritable output directory); 2 bad input (an invalid scenario, a missing file, a bad
//! flag); 3 a run stopped by one of its limits.

mod table;

mod progress;

use crate::engine::{format_duration, parse_duration, SimDuration};
use crate::faults;
use crate::report;
use crate::runner::{self, JsonlTrace};
use crate::scenario::{self, Loaded, Overrides, ScenarioError};
use anyhow::{anyhow, bail, Context, Result};
use clap::{Parser, Subcommand};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::Instant;

pub const EXIT_MISMATCH: i32 = 1;
pub const EXIT_BAD_INPUT: i32 = 2;
pub const EXIT_LIMIT: i32 = 3;

#[derive(Parser, Debug)]
#[command(
    name = "faultline",
    version,
    about = "Deterministic simulation of distributed systems under failure",
    long_about = "faultline runs a scenario (a RON file describing clients, services, calls and \
links) in a deterministic discrete-event simulation and reports what every service saw. The \
same scenario and seed give the same run, bit for bit: every run prints a trace hash, and \
`faultline replay` checks it.\n\nScenario reference: docs/scenario.md",
    after_help = "Examples:\n  faultline run scenarios/quickstart.ron\n  faultline replay reports/quickstart\n  faultline validate scenarios/*.ron"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run a scenario, print a per-service table, write summary.json and manifest.json.
    #[command(
        after_help = "Examples:\n  faultline run scenarios/quickstart.ron\n  faultline run scenarios/mm1.ron --seed 7 --duration 1h --out reports/mm1-seed7\n  faultline run scenarios/quickstart.ron --trace reports/quickstart/trace.jsonl"
    )]
    Run(RunArgs),
    /// Run a recorded run again and check that its trace hash matches (exit 0 only if it does).
    #[command(
        after_help = "Example:\n  faultline run scenarios/quickstart.ron --out reports/q\n  faultline replay reports/q"
    )]
    Replay(ReplayArgs),
    /// Check scenario files and report every problem with file, line:column and field path.
    #[command(after_help = "Example:\n  faultline validate scenarios/*.ron")]
    Validate(ValidateArgs),
    /// Rebuild index.html, report.md and plots/ in a run's directory from its data, without
    /// running anything.
    #[command(
        after_help = "Example:\n  faultline run scenarios/quickstart.ron --out reports/q\n  faultline report reports/q"
    )]
    Report(ReportArgs),
    /// Run a grid of parameter values x seeds in parallel: runs.csv, points.csv and index.html
    /// (each metric against the parameters, where the SLO stops holding); resume, shard, merge.
    #[command(
        after_help = "Examples:\n  faultline sweep scenarios/metastable_retries.ron --set clients.shoppers.load.rate_per_s=150..=350:25 --set 'clients.shoppers.policies[0].max_attempts=1,2,3,4' --seeds 1..=10 --out reports/metastable-sweep\n  (the same command with --resume continues it after Ctrl-C or kill)\n  faultline sweep scenarios/quickstart.ron --set services.db.workers=2,3,4 --set services.gateway.calls.storefront.timeout=300ms,1500ms --slo 'p99_ms<=400' -j 2\n  faultline sweep scenarios/mm1.ron --set services.server.workers=1,2 --seeds 1..=4 --shard 0/2 --out reports/s\n  faultline sweep scenarios/mm1.ron --set services.server.workers=1,2 --seeds 1..=4 --shard 1/2 --out reports/s\n  faultline sweep merge reports/s"
    )]
    Sweep(SweepArgs),
}

#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct SweepArgs {
    #[command(subcommand)]
    pub command: Option<SweepCommand>,
    /// The scenario file (RON); its variants are not run, the file itself is.
    #[arg(required = true)]
    pub file: Option<PathBuf>,
    /// A field path and its values: `PATH=1,2,3`, `PATH=100..=1000:100` or `PATH=50ms,1s`.
    /// Paths are those validation messages print, with names for indices
    /// (`services.db.workers`, `clients.web.load.rate_per_s`). Repeat for a grid.
    #[arg(long = "set", value_name = "PATH=VALUES", required = true)]
    pub set: Vec<String>,
    /// Seeds every point runs with: `1..=20` or `1,5,9` [default: the scenario's seed].
    #[arg(long)]
    pub seeds: Option<String>,
    /// Threads [default: one per core]. Results do not depend on it.
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
    /// Output directory [default: reports/<scenario file name>-sweep].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue a sweep that was stopped (Ctrl-C, kill, a lost machine) in the same --out:
    /// finished runs are kept, the rest are run. Same arguments as the first time.
    #[arg(long)]
    pub resume: bool,
    /// Run only shard K of N (K from 0): every N-th run, into OUT/shard-K-of-N/. Combine the
    /// shards with `faultline sweep merge OUT`.
    #[arg(long, value_name = "K/N", conflicts_with = "shards")]
    pub shard: Option<String>,
    /// Split into N shards and take this task's index from the batch engine:
    /// JOB_COMPLETION_INDEX (Kubernetes Indexed Job) or SLURM_ARRAY_TASK_ID (Slurm array).
    #[arg(long, value_name = "N")]
    pub shards: Option<usize>,
    /// The SLO the page judges points by: `METRIC>=X` or `METRIC<=X` on the mean across seeds,
    /// e.g. `availability>=0.99`, `p99_ms<=250` [default: availability>= the scenario's target].
    #[arg(long, value_name = "EXPR")]
    pub slo: Option<String>,
    /// No progress bar and no summary, only errors.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(clap::Subcommand, Debug)]
pub enum SweepCommand {
    /// Combine the shards of a sweep (OUT/shard-K-of-N/) into OUT/runs.csv, points.csv and
    /// index.html, byte-identical to running the sweep on one machine.
    #[command(
        after_help = "Example:\n  faultline sweep scenarios/metastable_retries.ron --set clients.shoppers.load.rate_per_s=200..=300:50 --seeds 1..=4 --shard 0/2 --out reports/s\n  faultline sweep scenarios/metastable_retries.ron --set clients.shoppers.load.rate_per_s=200..=300:50 --seeds 1..=4 --shard 1/2 --out reports/s\n  faultline sweep merge reports/s"
    )]
    Merge(MergeArgs),
}

#[derive(clap::Args, Debug)]
pub struct MergeArgs {
    /// The sweep's output directory: the merged files go here.
    pub dir: PathBuf,
    /// Shard directories [default: every DIR/shard-K-of-N].
    pub shards: Vec<PathBuf>,
    /// Judge points by this SLO instead of the one the shards were run with.
    #[arg(long, value_name = "EXPR")]
    pub slo: Option<String>,
    /// No summary, only errors.
    #[arg(long, short)]
    pub quiet: bool,
}

#[derive(clap::Args, Debug)]
pub struct ReportArgs {
    /// A directory written by `faultline run`.
    pub dir: PathBuf,
    /// Also write every plot as a PNG file (plots/*.png), drawn with a built-in font.
    #[arg(long)]
    pub png: bool,
}

#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// The scenario file (RON).
    pub file: PathBuf,
    /// Master seed for every random stream [default: the scenario's `seed`, else 1].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Output directory [default: reports/<scenario file name without .ron>].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Simulated time to run, e.g. 30s, 10m, 1h30m [default: the scenario's `duration`, else 60s].
    #[arg(long, value_parser = parse_duration_arg)]
    pub duration: Option<SimDuration>,
    /// Stop after this many events [default: the scenario's `limits.max_events`, else 200000000].
    #[arg(long)]
    pub max_events: Option<u64>,
    /// Also write every processed event to this file, one JSON object per line.
    #[arg(long, value_name = "FILE.jsonl")]
    pub trace: Option<PathBuf>,
    /// Print only the trace hash line and errors (and no progress bar).
    #[arg(long, short)]
    pub quiet: bool,
    /// Also write every plot as a PNG file (plots/*.png), drawn with a built-in font.
    #[arg(long)]
    pub png: bool,
}

#[derive(clap::Args, Debug)]
pub struct ReplayArgs {
    /// A directory written by `faultline run` (it holds manifest.json and scenario.ron).
    pub dir: PathBuf,
}

#[derive(clap::Args, Debug)]
pub struct ValidateArgs {
    /// One or more scenario files.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

fn parse_duration_arg(s: &str) -> Result<SimDuration, String> {
    parse_duration(s).map_err(|e| e.to_string())
}

/// What `run` records so that `replay` can do it again.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Manifest {
    pub faultline_version: String,
    pub scenario_name: String,
    /// The file given to `run`; a copy is kept as `scenario.ron` beside the manifest.
    pub scenario_file: String,
    /// FNV-1a 64 of the scenario's bytes.
    pub scenario_hash: String,
    pub seed: u64,
    /// Overrides given on the command line (null when not given).
    pub duration_override_ns: Option<u64>,
    pub max_events_override: Option<u64>,
    pub trace_hash: String,
    pub events: u64,
    pub stopped_by: Option<String>,
    pub wall_seconds: f64,
    /// The expanded fault schedule, one line per window, as the seed produced it.
    #[serde(default)]
    pub fault_schedule: Vec<String>,
    /// The scenario's variants, in file order, each with its own hash (empty when it has none;
    /// then `trace_hash` is the only run).
    #[serde(default)]
    pub variants: Vec<VariantRecord>,
}

/// One variant's run.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct VariantRecord {
    pub name: String,
    pub trace_hash: String,
    pub events: u64,
}

/// An error that already knows its exit code.
#[derive(Debug)]
struct Exit(i32, String);
impl std::fmt::Display for Exit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.1)
    }
}
impl std::error::Error for Exit {}

/// Parses `args`, runs the command, prints errors; returns the process exit code.
pub fn main_with_args(args: impl IntoIterator<Item = std::ffi::OsString>) -> i32 {
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() { EXIT_BAD_INPUT } else { 0 };
        }
    };
    let result = match cli.command {
        Command::Run(a) => cmd_run(a),
        Command::Replay(a) => cmd_replay(a),
        Command::Validate(a) => cmd_validate(a),
        Command::Report(a) => cmd_report(a).map(|_| 0),
        Command::Sweep(a) => cmd_sweep(a),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            if let Some(Exit(code, msg)) = e.downcast_ref::<Exit>() {
                eprintln!("{msg}");
                return *code;
            }
            if let Some(se) = e.downcast_ref::<ScenarioError>() {
                eprintln!("error: {se}");
                return EXIT_BAD_INPUT;
            }
            eprintln!("error: {e:#}");
            EXIT_MISMATCH
        }
    }
}

fn load(file: &Path, overrides: &Overrides) -> Result<Loaded> {
    Ok(scenario::load_file(file, overrides)?)
}

fn default_out(file: &Path) -> PathBuf {
    let stem = file
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "run".to_string());
    Path::new("reports").join(stem)
}

fn cmd_run(a: RunArgs) -> Result<i32> {
    let overrides = Overrides {
        seed: a.seed,
        duration: a.duration,
        max_events: a.max_events,
    };
    let loaded = load(&a.file, &overrides)?;
    let sc = &loaded.scenario;
    let out = a.out.clone().unwrap_or_else(|| default_out(&a.file));
    std::fs::create_dir_all(&out)
        .with_context(|| format!("cannot create output directory {}", out.display()))?;

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
    let runs: Vec<(String, &scenario::Scenario)> = if sc.variants.is_empty() {
        vec![("base".to_string(), sc)]
    } else {
        sc.variants.iter().map(|(n, v)| (n.clone(), v)).collect()
    };
    let wall = Instant::now();
    let mut results = Vec::new();
    let mut frames = Vec::new();
    for (k, (name, run_sc)) in runs.iter().enumerate() {
        let bar = progress::bar(a.quiet, run_sc, name, runs.len() > 1);
        let mut progress = progress::Progress::new(bar);
        let (r, recorder) = match (&a.trace, k) {
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
    };
    write_file(&out.join("scenario.ron"), loaded.text.as_bytes())?;
    write_file(&out.join("summary.json"), &to_json(&result.summary)?)?;
    if !sc.variants.is_empty() {
        for ((n, _), r) in runs.iter().zip(&results) {
            let d = out.join("variants").join(n);
            std::fs::create_dir_all(&d)
                .with_context(|| format!("cannot create {}", d.display()))?;
            write_file(&d.join("summary.json"), &to_json(&r.summary)?)?;
        }
    }
    let csv_frames: Vec<(String, &report::frame::Frame)> =
        frames.iter().map(|(n, f)| (n.clone(), f)).collect();
    write_file(
        &out.join("timeseries.csv"),
        report::frame::Frame::to_csv(&csv_frames).as_bytes(),
    )?;
    write_file(&out.join("manifest.json"), &to_json(&manifest)?)?;
    let headlines = write_report(&out, a.png)?;

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
            table::policies(&result.summary),
            table::admission(&result.summary),
            table::faults(&result.summary),
            table::health(&result.summary),
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

/// A sweep-store error as the CLI reports it: the user's to fix (exit 2) or an I/O failure.
fn store_err(e: crate::sweep::store::StoreError) -> anyhow::Error {
    match e {
        crate::sweep::store::StoreError::Input(m) => {
            anyhow!(Exit(EXIT_BAD_INPUT, format!("error: {m}")))
        }
        // The message already names the cause; anyhow's chain would print it twice.
        io => anyhow!(io.to_string()),
    }
}

fn cmd_sweep(a: SweepArgs) -> Result<i32> {
    use crate::sweep::{self, store};
    use rayon::prelude::*;
    if let Some(SweepCommand::Merge(m)) = a.command {
        return cmd_sweep_merge(m);
    }
    let bad = |msg: String| anyhow!(Exit(EXIT_BAD_INPUT, msg));
    let scenario_file = a.file.clone().context("a scenario file is required")?;
    let file = scenario_file.display().to_string();
    let text = std::fs::read_to_string(&scenario_file).map_err(|e| {
        bad(format!(
            "error: cannot read scenario file {file}: {e} (check the path; scenarios ship in scenarios/)"
        ))
    })?;
    let sets = a
        .set
        .iter()
        .map(|s| sweep::parse_set(s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("error: --set {e}")))?;
    let seeds = a
        .seeds
        .as_deref()
        .map(sweep::parse_seeds)
        .transpose()
        .map_err(|e| bad(format!("error: {e}")))?;
    if a.jobs == Some(0) {
        return Err(bad("error: -j 0: at least one thread".into()));
    }
    let slo = a
        .slo
        .as_deref()
        .map(sweep::Criterion::parse)
        .transpose()
        .map_err(|e| bad(format!("error: {e}")))?;
    let shard = match (&a.shard, a.shards) {
        (Some(s), _) => Some(sweep::Shard::parse(s).map_err(|e| bad(format!("error: {e}")))?),
        (None, Some(n)) => Some(
            sweep::Shard::from_env(n, |k| std::env::var(k).ok())
                .map_err(|e| bad(format!("error: {e}")))?,
        ),
        (None, None) => None,
    };
    let plan = sweep::plan(&text, &file, &sets, seeds).map_err(|ps| {
        bad(ps
            .iter()
            .map(|p| format!("error: {file}: {p}"))
            .collect::<Vec<_>>()
            .join("\n"))
    })?;
    let slo = slo.unwrap_or(plan.default_slo);
    let base = a.out.clone().unwrap_or_else(|| {
        let mut d = default_out(&scenario_file).into_os_string();
        d.push("-sweep");
        PathBuf::from(d)
    });
    let out = match shard {
        Some(s) => base.join(s.dir_name()),
        None => base.clone(),
    };
    std::fs::create_dir_all(&out)
        .with_context(|| format!("cannot create output directory {}", out.display()))?;
    let (journal, mut rows) = if a.resume {
        let r = store::Journal::resume(&out, &plan, shard).map_err(store_err)?;
        if !a.quiet {
            println!(
                "resuming in {}: {} run{} already finished{}",
                out.display(),
                r.rows.len(),
                if r.rows.len() == 1 { "" } else { "s" },
                if r.discarded > 0 {
                    format!(
                        "; {} unfinished or damaged journal line{} dropped (those runs are done again)",
                        r.discarded,
                        if r.discarded == 1 { "" } else { "s" }
                    )
                } else {
                    String::new()
                }
            );
        }
        (r.journal, r.rows)
    } else {
        store::clear_outputs(&out).map_err(store_err)?;
        (
            store::Journal::create(&out, &plan.fingerprint()).map_err(store_err)?,
            Vec::new(),
        )
    };
    store::Manifest::new(&plan, &slo, shard)
        .write(&out)
        .map_err(store_err)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(a.jobs.unwrap_or(0))
        .build()
        .context("cannot start the thread pool")?;
    let n_seeds = plan.seeds.len();
    let done: std::collections::BTreeSet<usize> = rows
        .iter()
        .map(|r| plan.run_index(r.point, r.seed_index))
        .collect();
    let todo: Vec<usize> = (0..plan.runs())
        .filter(|&k| shard.is_none_or(|s| s.owns(k)) && !done.contains(&k))
        .collect();
    let bar = progress::sweep_bar(a.quiet, todo.len() as u64);
    // Finished runs go to the journal as they finish (any order); the CSV files are written in
    // point and seed order at the end, so they depend neither on the threads nor on resuming.
    let journal = std::sync::Mutex::new(journal);
    let wall = Instant::now();
    let results: Vec<Result<sweep::RunRow, String>> = pool.install(|| {
        todo.par_iter()
            .map(|&k| {
                let row = sweep::run_one(&plan, k / n_seeds, k % n_seeds)?;
                journal
                    .lock()
                    .map_err(|_| "the journal's lock was poisoned".to_string())?
                    .append(&plan, &row)
                    .map_err(|e| e.to_string())?;
                if let Some(b) = &bar {
                    b.inc(1);
                }
                Ok(row)
            })
            .collect()
    });
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let wall_s = wall.elapsed().as_secs_f64();
    for r in results {
        rows.push(r.map_err(|e| anyhow!("a run failed: {e}"))?);
    }
    store::write_outputs(&out, &plan, &slo, &rows, shard).map_err(store_err)?;
    journal
        .into_inner()
        .map_err(|_| anyhow!("the journal's lock was poisoned"))?
        .finish()
        .map_err(store_err)?;
    if !a.quiet {
        let threads = pool.current_num_threads();
        let earlier = rows.len() - todo.len();
        println!(
            "{} runs ({} point{} x {} seed{}{}){} in {:.2}s wall, {:.1} runs/s on {} thread{}",
            rows.len(),
            plan.points.len(),
            if plan.points.len() == 1 { "" } else { "s" },
            n_seeds,
            if n_seeds == 1 { "" } else { "s" },
            match shard {
                Some(s) => format!(" in shard {}/{}", s.index, s.count),
                None => String::new(),
            },
            if a.resume {
                format!(": {earlier} were done, {} ran now", todo.len())
            } else {
                String::new()
            },
            wall_s,
            todo.len() as f64 / wall_s.max(1e-9),
            threads,
            if threads == 1 { "" } else { "s" }
        );
        match shard {
            Some(s) => println!(
                "wrote {}/runs.csv (shard {} of {}); when every shard has finished: faultline sweep merge {}",
                out.display(),
                s.index,
                s.count,
                base.display()
            ),
            None => print_sweep_findings(&out, &plan, &slo, &rows),
        }
    }
    Ok(sweep_exit(&rows))
}

fn print_sweep_findings(
    out: &Path,
    plan: &crate::sweep::Plan,
    slo: &crate::sweep::Criterion,
    rows: &[crate::sweep::RunRow],
) {
    println!("SLO {slo} (mean across seeds):");
    for line in crate::sweep::page::findings(plan, slo, rows) {
        println!("  {line}");
    }
    println!(
        "wrote {}/{{runs.csv, points.csv, index.html}}",
        out.display()
    );
}

fn sweep_exit(rows: &[crate::sweep::RunRow]) -> i32 {
    let stopped = rows.iter().filter(|r| r.stopped_by.is_some()).count();
    if stopped > 0 {
        eprintln!("{stopped} run(s) stopped at a limit (see the stopped_by column of runs.csv)");
        return EXIT_LIMIT;
    }
    0
}

fn cmd_sweep_merge(a: MergeArgs) -> Result<i32> {
    use crate::sweep::{self, store};
    let shards = if a.shards.is_empty() {
        store::shard_dirs(&a.dir).map_err(store_err)?
    } else {
        a.shards.clone()
    };
    let (plan, slo, rows) = store::merge(&shards).map_err(store_err)?;
    let slo = match a.slo.as_deref() {
        Some(s) => sweep::Criterion::parse(s)
            .map_err(|e| anyhow!(Exit(EXIT_BAD_INPUT, format!("error: {e}"))))?,
        None => slo,
    };
    std::fs::create_dir_all(&a.dir)
        .with_context(|| format!("cannot create output directory {}", a.dir.display()))?;
    store::write_outputs(&a.dir, &plan, &slo, &rows, None).map_err(store_err)?;
    if !a.quiet {
        println!(
            "merged {} shard{}: {} runs ({} points x {} seeds)",
            shards.len(),
            if shards.len() == 1 { "" } else { "s" },
            rows.len(),
            plan.points.len(),
            plan.seeds.len()
        );
        print_sweep_findings(&a.dir, &plan, &slo, &rows);
    }
    Ok(sweep_exit(&rows))
}

fn cmd_report(a: ReportArgs) -> Result<()> {
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
fn write_report(dir: &Path, png: bool) -> Result<Vec<(report::Headline, Vec<String>)>> {
    let m = read_manifest(dir)?;
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
        &m.fault_schedule,
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

fn to_json<T: Serialize>(v: &T) -> Result<Vec<u8>> {
    let mut s = serde_json::to_vec_pretty(v)?;
    s.push(b'\n');
    Ok(s)
}

/// Writes through a temporary file and a rename, so a crash never leaves half a file.
fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    crate::sweep::store::write_atomic(path, bytes).map_err(|e| anyhow!(e.to_string()))
}

fn cmd_replay(a: ReplayArgs) -> Result<i32> {
    let manifest_path = a.dir.join("manifest.json");
    let text = std::fs::read_to_string(&manifest_path).map_err(|e| {
        Exit(
            EXIT_BAD_INPUT,
            format!(
                "error: cannot read {}: {e}\n(replay takes a directory written by `faultline run`)",
                manifest_path.display()
            ),
        )
    })?;
    let m: Manifest = serde_json::from_str(&text).map_err(|e| {
        Exit(
            EXIT_BAD_INPUT,
            format!(
                "error: {} is not a faultline manifest: {e}",
                manifest_path.display()
            ),
        )
    })?;
    let overrides = Overrides {
        seed: Some(m.seed),
        duration: m.duration_override_ns.map(SimDuration),
        max_events: m.max_events_override,
    };
    let scenario_path = a.dir.join("scenario.ron");
    let loaded = load(&scenario_path, &overrides)?;
    if loaded.file_hash != m.scenario_hash {
        bail!(Exit(
            EXIT_MISMATCH,
            format!(
                "replay: {} changed since the run (file hash {} now, {} recorded); restore it or run again",
                scenario_path.display(),
                loaded.file_hash,
                m.scenario_hash
            )
        ));
    }
    if m.faultline_version != env!("CARGO_PKG_VERSION") {
        eprintln!(
            "note: recorded with faultline {}, replaying with {}",
            m.faultline_version,
            env!("CARGO_PKG_VERSION")
        );
    }
    let schedule: Vec<String> = loaded
        .scenario
        .system
        .faults
        .iter()
        .map(faults::describe)
        .collect();
    if schedule != m.fault_schedule {
        let first = schedule
            .iter()
            .zip(&m.fault_schedule)
            .position(|(a, b)| a != b)
            .unwrap_or(schedule.len().min(m.fault_schedule.len()));
        bail!(Exit(
            EXIT_MISMATCH,
            format!(
                "replay MISMATCH: the fault schedule differs from the recorded one at window {first} (recorded {} windows, now {})",
                m.fault_schedule.len(),
                schedule.len()
            )
        ));
    }
    let mut expected: Vec<(String, &scenario::Scenario, String, u64)> = Vec::new();
    if m.variants.is_empty() {
        expected.push((
            "base".into(),
            &loaded.scenario,
            m.trace_hash.clone(),
            m.events,
        ));
    } else {
        // The top-level hash is the first variant's; a manifest where they differ was edited.
        if m.variants[0].trace_hash != m.trace_hash {
            bail!(Exit(
                EXIT_MISMATCH,
                format!(
                    "replay MISMATCH: manifest.json records trace hash {} but its first variant `{}` has {}",
                    m.trace_hash, m.variants[0].name, m.variants[0].trace_hash
                )
            ));
        }
        for v in &m.variants {
            let sc = loaded
                .scenario
                .variants
                .iter()
                .find(|(n, _)| *n == v.name)
                .map(|(_, s)| s)
                .ok_or_else(|| {
                    anyhow!(Exit(
                        EXIT_MISMATCH,
                        format!(
                            "replay MISMATCH: the recorded variant `{}` is not in the scenario",
                            v.name
                        )
                    ))
                })?;
            expected.push((v.name.clone(), sc, v.trace_hash.clone(), v.events));
        }
    }
    let mut bad = Vec::new();
    for (name, sc, hash, events) in &expected {
        let result = runner::run(sc);
        let got = format!("{:016x}", result.trace_hash);
        let label = if m.variants.is_empty() {
            String::new()
        } else {
            format!("{name}: ")
        };
        if got == *hash && result.events == *events {
            println!(
                "replay ok: {label}trace hash {} matches ({} events, seed {})",
                got,
                table::thousands(result.events),
                m.seed
            );
        } else {
            bad.push(format!(
                "replay MISMATCH: {label}recorded trace hash {} ({} events), replayed {} ({} events)",
                hash, events, got, result.events
            ));
        }
    }
    if bad.is_empty() {
        Ok(0)
    } else {
        Err(anyhow!(Exit(EXIT_MISMATCH, bad.join("\n"))))
    }
}

fn cmd_validate(a: ValidateArgs) -> Result<i32> {
    let mut bad = 0;
    for f in &a.files {
        match scenario::load_file(f, &Overrides::default()) {
            Ok(l) => {
                let s = &l.scenario;
                println!(
                    "{}: ok ({} client{}, {} service{}, {} simulated, seed {})",
                    f.display(),
                    s.system.clients.len(),
                    if s.system.clients.len() == 1 { "" } else { "s" },
                    s.system.services.len(),
                    if s.system.services.len() == 1 {
                        ""
                    } else {
                        "s"
                    },
                    format_duration(s.duration.0),
                    s.seed
                );
            }
            Err(e) => {
                bad += 1;
                eprintln!("error: {e}");
            }
        }
    }
    Ok(if bad > 0 { EXIT_BAD_INPUT } else { 0 })
}
