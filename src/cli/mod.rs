//! The command line: the clap definitions of every command and the dispatch to them. Each
//! command lives in its own file (`run.rs`, `replay.rs`, `validate.rs`, `report.rs`,
//! `sweep.rs`); what a run's directory holds is `rundir.rs`; terminal tables and the progress
//! bar are `table.rs` and `progress.rs`. No simulation logic lives here: commands parse, call
//! the library, print, write files, and pick the exit code.
//!
//! Exit codes: 0 success; 1 a replay whose trace hash differs, an expectation `check` finds
//! false, or an unexpected failure (such
//! as an unwritable output directory); 2 bad input (an invalid scenario, a missing file, a bad
//! flag); 3 a run stopped by one of its limits.

mod check;
mod progress;
mod replay;
mod report;
mod run;
mod rundir;
mod search;
mod sweep;
mod table;
mod validate;

pub use rundir::{Manifest, VariantRecord};

use crate::engine::{parse_duration, SimDuration};
use crate::scenario::ScenarioError;
use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

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
        after_help = "Examples:\n  faultline run scenarios/quickstart.ron\n  faultline run scenarios/mm1.ron --seed 7 --duration 2h --out reports/mm1-seed7\n  faultline run scenarios/mm1.ron --duration 2h --trace reports/mm1/trace.jsonl"
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
    /// Run scenarios and judge their `expect` lists: one line per expectation and variant,
    /// exit 0 when all hold, 1 when any fails (a resilience test for CI).
    #[command(
        after_help = "Examples:\n  faultline check scenarios/quickstart.ron\n  faultline check scenarios/*.ron --junit check.xml"
    )]
    Check(CheckArgs),
    /// Draw fault schedules from the scenario's `fault_space`, run them in parallel, and write
    /// the worst that break its `expect` list, each shrunk to fewer and shorter faults, as
    /// scenario files (exit 1 when any is found).
    #[command(
        after_help = "Examples:\n  faultline search scenarios/search_planted.ron --budget 100 --out reports/planted-search\n  faultline search scenarios/gamblers_ruin.ron --splitting"
    )]
    Search(SearchArgs),
}

#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct SearchArgs {
    #[command(subcommand)]
    pub command: Option<SearchCommand>,
    /// The scenario file; it needs `expect` and `fault_space` (docs/scenario.md), or `rare`
    /// with --splitting.
    #[arg(required = true)]
    pub file: Option<PathBuf>,
    /// Schedules to draw and run.
    #[arg(long, default_value_t = 200)]
    pub budget: u64,
    /// How many of the worst failing schedules to shrink and write.
    #[arg(long, default_value_t = 3)]
    pub keep: usize,
    /// Threads (default one per core; never more than the cores or the schedules).
    #[arg(short = 'j', long)]
    pub jobs: Option<usize>,
    /// Output directory [default: reports/<file name>-search].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Seeds each schedule runs with, one run each (`1..=5` or `1,5,9`; the budget counts
    /// runs) [default: the scenario's seed].
    #[arg(long)]
    pub seeds: Option<String>,
    /// Instead of drawing fault schedules, estimate the probability of the scenario's `rare`
    /// event by multilevel splitting, with a 95% confidence interval.
    #[arg(long)]
    pub splitting: bool,
    /// Splitting: copies of the run kept at each level (the interval narrows as its square
    /// root; fewer than about 1,000 make each estimate's spread too heavy-tailed for the
    /// interval to hold its 95%).
    #[arg(long, default_value_t = 1000, requires = "splitting")]
    pub particles: usize,
    /// Splitting: independent estimates, for the interval.
    #[arg(long, default_value_t = 10, requires = "splitting")]
    pub repeats: usize,
    /// Stop drawing schedules after this much wall-clock time (90s, 10m, 2h); the schedules
    /// run are then 0..n for some n below the budget, and the page says so.
    #[arg(long, value_name = "DURATION")]
    pub max_time: Option<String>,
    /// Continue a search that was stopped (Ctrl-C, kill, --max-time, a lost machine) in the
    /// same --out: judged schedules are kept (OUT/schedules.journal), the rest are run. A
    /// larger --budget extends a finished search.
    #[arg(long)]
    pub resume: bool,
    #[command(flatten)]
    pub sharding: ShardArgs,
}

/// Splitting a sweep or a search across machines.
#[derive(clap::Args, Debug)]
pub struct ShardArgs {
    /// Run only shard K of N (K from 0): every N-th run (or schedule), into
    /// OUT/shard-K-of-N/. Combine the shards with `faultline sweep merge OUT` (or `search
    /// merge`).
    #[arg(long, value_name = "K/N", conflicts_with = "shards")]
    pub shard: Option<String>,
    /// Split into N shards and take this task's index from the batch engine:
    /// JOB_COMPLETION_INDEX (Kubernetes Indexed Job) or SLURM_ARRAY_TASK_ID (Slurm array).
    #[arg(long, value_name = "N")]
    pub shards: Option<usize>,
}

impl ShardArgs {
    /// The shard this process runs (None: all of it), or why the flags say none.
    pub fn get(&self) -> Result<Option<crate::sweep::Shard>, String> {
        use crate::sweep::Shard;
        match (&self.shard, self.shards) {
            (Some(s), _) => Shard::parse(s).map(Some),
            (None, Some(n)) => Shard::from_env(n, |k| std::env::var(k).ok()).map(Some),
            (None, None) => Ok(None),
        }
    }
}

#[derive(clap::Subcommand, Debug)]
pub enum SearchCommand {
    /// Combine the shards of a search (OUT/shard-K-of-N/), shrink the worst failing schedules
    /// and write the findings into OUT, as one machine running the whole search would.
    #[command(
        after_help = "Example:\n  faultline search scenarios/search_coincidence.ron --shard 0/2 --out reports/c\n  faultline search scenarios/search_coincidence.ron --shard 1/2 --out reports/c\n  faultline search merge reports/c"
    )]
    Merge(SearchMergeArgs),
}

#[derive(clap::Args, Debug)]
pub struct SearchMergeArgs {
    /// The search's output directory: the findings go here.
    pub dir: PathBuf,
    /// Shard directories [default: every DIR/shard-K-of-N].
    pub shards: Vec<PathBuf>,
    /// How many of the worst failing schedules to shrink and write.
    #[arg(long, default_value_t = 3)]
    pub keep: usize,
    /// Threads for shrinking (default one per core).
    #[arg(short = 'j', long)]
    pub jobs: Option<usize>,
}

#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// One or more scenario files; each one's variants are all run.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Replace every file's seed.
    #[arg(long)]
    pub seed: Option<u64>,
    /// Also write the verdicts as JUnit XML (a testsuite per file, a testcase per
    /// expectation and variant).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
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
    /// Threads [default: one per core; at most the cores and the runs left]. Results do not
    /// depend on it.
    #[arg(long, short = 'j')]
    pub jobs: Option<usize>,
    /// Output directory [default: reports/<scenario file name>-sweep].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Continue a sweep that was stopped (Ctrl-C, kill, a lost machine) in the same --out:
    /// finished runs are kept, the rest are run. Same arguments as the first time.
    #[arg(long)]
    pub resume: bool,
    #[command(flatten)]
    pub sharding: ShardArgs,
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
        Command::Run(a) => run::cmd_run(a),
        Command::Replay(a) => replay::cmd_replay(a),
        Command::Validate(a) => validate::cmd_validate(a),
        Command::Report(a) => report::cmd_report(a).map(|_| 0),
        Command::Sweep(a) => sweep::cmd_sweep(a),
        Command::Check(a) => check::cmd_check(a),
        Command::Search(a) => search::cmd_search(a),
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
