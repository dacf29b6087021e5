//! `faultline sweep` and `faultline sweep merge`: a grid of parameter values x seeds on a
//! rayon pool (resumable, shardable), and the merge of shards; the files are the sweep
//! module's (`crate::sweep`), the terminal lines and exit codes are here.

use super::rundir::default_out;
use super::{progress, Exit, MergeArgs, SweepArgs, SweepCommand, EXIT_BAD_INPUT, EXIT_LIMIT};
use anyhow::{anyhow, Context, Result};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// A sweep-store error as the CLI reports it: the user's to fix (exit 2) or an I/O failure.
pub(super) fn store_err(e: crate::sweep::store::StoreError) -> anyhow::Error {
    match e {
        crate::sweep::store::StoreError::Input(m) => {
            anyhow!(Exit(EXIT_BAD_INPUT, format!("error: {m}")))
        }
        // The message already names the cause; anyhow's chain would print it twice.
        io => anyhow!(io.to_string()),
    }
}

pub(super) fn cmd_sweep(a: SweepArgs) -> Result<i32> {
    use crate::sweep::{self, store};
    use rayon::prelude::*;
    if let Some(SweepCommand::Merge(m)) = a.command {
        return cmd_sweep_merge(m);
    }
    let bad = |msg: String| anyhow!(Exit(EXIT_BAD_INPUT, msg));
    let scenario_file = a.file.clone().context("a scenario file is required")?;
    let file = scenario_file.display().to_string();
    let text =
        crate::scenario::read_text(&scenario_file).map_err(|e| bad(format!("error: {e}")))?;
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
    let shard = a.sharding.get().map_err(|e| bad(format!("error: {e}")))?;
    let plan = sweep::plan(&text, &file, &sets, seeds).map_err(|ps| {
        bad(ps
            .iter()
            .map(|p| format!("error: {file}: {p}"))
            .collect::<Vec<_>>()
            .join("\n"))
    })?;
    for w in &plan.warnings {
        eprintln!("{w}");
    }
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
    let n_seeds = plan.seeds.len();
    let done: std::collections::BTreeSet<usize> = rows
        .iter()
        .map(|r| plan.run_index(r.point, r.seed_index))
        .collect();
    let todo: Vec<usize> = (0..plan.runs())
        .filter(|&k| shard.is_none_or(|s| s.owns(k)) && !done.contains(&k))
        .collect();
    let (pool, _) = pool(a.jobs, todo.len())?;
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

/// A thread pool for `runs` independent runs, and its size: `jobs` threads (default one per
/// core), never more than the cores or the runs. `-j 0` is bad input.
pub(super) fn pool(jobs: Option<usize>, runs: usize) -> Result<(rayon::ThreadPool, usize)> {
    if jobs == Some(0) {
        return Err(anyhow!(Exit(
            EXIT_BAD_INPUT,
            "error: -j 0: at least one thread".into()
        )));
    }
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = crate::sweep::threads(jobs, runs, cores);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .context("cannot start the thread pool")?;
    Ok((pool, threads))
}
