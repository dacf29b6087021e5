//! `faultline search FILE`: draws fault schedules from the scenario's `fault_space`, runs them in
//! parallel, and writes the worst that break its `expect` list, each shrunk, as scenario files
//! (`OUT/finding-K.ron`) with a summary (`OUT/findings.md`). Exit 0 when nothing broke it, 1
//! when something did, 2 for bad input.

use super::{rundir::default_out, Exit, SearchArgs, EXIT_BAD_INPUT, EXIT_MISMATCH};
use crate::search::{self, Judged};
use anyhow::{anyhow, Context, Result};
use rayon::prelude::*;
use std::fmt::Write as _;

/// A finding: the schedule's index, it as drawn, it shrunk, the runs shrinking took, and on how
/// many other seeds the shrunk one fails.
type Finding = (usize, Judged, Judged, usize, u64);

/// Runs each shrink may spend.
const SHRINK_RUNS: usize = 64;
/// Other seeds a finding is tried on.
const SEEDS_TRIED: u64 = 5;

pub(super) fn cmd_search(a: SearchArgs) -> Result<i32> {
    let bad = |msg: String| anyhow!(Exit(EXIT_BAD_INPUT, msg));
    let file = a.file.display().to_string();
    let text = crate::scenario::read_text(&a.file).map_err(|e| bad(format!("error: {e}")))?;
    let space = search::prepare(&text, &file).map_err(|ps| {
        bad(ps
            .iter()
            .map(|p| format!("error: {p}"))
            .collect::<Vec<_>>()
            .join("\n"))
    })?;
    if a.budget == 0 {
        return Err(bad("error: --budget 0: at least one schedule".into()));
    }
    let out = a.out.clone().unwrap_or_else(|| {
        let mut d = default_out(&a.file).into_os_string();
        d.push("-search");
        std::path::PathBuf::from(d)
    });
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = crate::sweep::threads(a.jobs, a.budget as usize, cores);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .context("cannot start the thread pool")?;
    let wall = std::time::Instant::now();
    // Schedule k is drawn from its own stream and judged alone: the results, collected in k
    // order, are the same for any thread count.
    let judged: Vec<Result<Judged, String>> = pool.install(|| {
        (0..a.budget)
            .into_par_iter()
            .map(|k| search::evaluate(&space, &search::draw(&space, k), None))
            .collect()
    });
    let mut failing = Vec::new();
    for (k, j) in judged.into_iter().enumerate() {
        match j {
            Ok(j) if j.fails() => failing.push((k, j)),
            Ok(_) => {}
            Err(e) => return Err(bad(format!("error: {file}: schedule {k}: {e}"))),
        }
    }
    println!(
        "{} schedules from {file}'s fault_space: {} break its expectations ({:.1}s wall on {threads} thread{})",
        a.budget,
        failing.len(),
        wall.elapsed().as_secs_f64(),
        if threads == 1 { "" } else { "s" }
    );
    if failing.is_empty() {
        return Ok(0);
    }
    let broke = failing.len();
    // Worst first; ties in draw order.
    failing.sort_by(|x, y| y.1.miss.total_cmp(&x.1.miss).then(x.0.cmp(&y.0)));
    let worst: Vec<(usize, Judged)> = failing.into_iter().take(a.keep).collect();
    let shrunk: Vec<Result<Finding, String>> = pool.install(|| {
        worst
            .par_iter()
            .map(|(k, j)| {
                let (s, runs) = search::shrink(&space, j, SHRINK_RUNS)?;
                let mut held = 0;
                for extra in 1..=SEEDS_TRIED {
                    let seed = space.seed.wrapping_add(extra);
                    if search::evaluate(&space, &s.schedule, Some(seed))?.fails() {
                        held += 1;
                    }
                }
                Ok((*k, j.clone(), s, runs, held))
            })
            .collect()
    });
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut md = format!(
        "# Findings of faultline search on {file}\n\n{} schedules drawn (seed {}); {} broke the expectations; the worst {} shrunk.\n",
        a.budget,
        space.seed,
        broke,
        worst.len()
    );
    // Everything is written before anything is said, so a reader that stops early (`| head`)
    // does not stop the files.
    let mut said = String::new();
    let mut seen: Vec<Vec<search::Drawn>> = Vec::new();
    let mut n = 0;
    for r in shrunk {
        let (k, original, s, runs, held) = r.map_err(|e| anyhow!("{file}: {e}"))?;
        if seen.contains(&s.schedule) {
            continue;
        }
        seen.push(s.schedule.clone());
        n += 1;
        let name = format!("finding-{n}.ron");
        let failed: Vec<String> = s
            .verdicts
            .iter()
            .filter(|v| !v.pass)
            .map(|v| format!("{}: {} (measured {})", v.path, v.claim, v.measured))
            .collect();
        let faults = search::describe(&space, &s.schedule);
        let mut header = format!(
            "// Found by `faultline search {file}`: schedule {k} ({} faults), shrunk in {runs} runs to {}.\n",
            original.schedule.len(),
            s.schedule.len()
        );
        for f in &failed {
            let _ = writeln!(header, "// fails {f}");
        }
        let _ = writeln!(
            header,
            "// With seeds {}..={} it fails {held} of {SEEDS_TRIED} times. Reproduce: faultline check {}",
            space.seed.wrapping_add(1),
            space.seed.wrapping_add(SEEDS_TRIED),
            out.join(&name).display()
        );
        let body = search::text_of(&space, &s.schedule);
        std::fs::write(out.join(&name), format!("{header}{body}"))
            .with_context(|| format!("cannot write {}", out.join(&name).display()))?;
        let _ = writeln!(
            said,
            "{}/{name}: {} fault{}:",
            out.display(),
            faults.len(),
            if faults.len() == 1 { "" } else { "s" }
        );
        for f in &faults {
            let _ = writeln!(said, "  {f}");
        }
        for f in &failed {
            let _ = writeln!(said, "  fails {f}");
        }
        let _ = writeln!(said, "  fails on {held} of {SEEDS_TRIED} other seeds");
        let _ = write!(
            md,
            "\n## {name}\n\nFrom schedule {k} ({} faults, miss {:.3}), shrunk in {runs} runs.\n\nFaults:\n",
            original.schedule.len(),
            original.miss
        );
        for f in &faults {
            let _ = writeln!(md, "- `{f}`");
        }
        let _ = writeln!(md, "\nFails:");
        for f in &failed {
            let _ = writeln!(md, "- {f}");
        }
        let _ = writeln!(
            md,
            "\nOn {SEEDS_TRIED} other seeds it fails {held} times ({}).",
            if held == SEEDS_TRIED {
                "it does not need this seed"
            } else {
                "it needs this seed's luck, at least in part"
            }
        );
    }
    std::fs::write(out.join("findings.md"), md)
        .with_context(|| format!("cannot write {}", out.join("findings.md").display()))?;
    print!("{said}");
    println!("wrote {}/findings.md", out.display());
    Ok(EXIT_MISMATCH)
}
