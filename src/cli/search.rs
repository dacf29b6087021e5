//! `faultline search FILE`: draws fault schedules from the scenario's `fault_space`, runs them in
//! parallel, and writes the worst that break its `expect` list, each shrunk, as scenario files
//! (`OUT/finding-K.ron`) with a page listing them (`OUT/index.html`, `OUT/findings.md`). Exit 0
//! when nothing broke it, 1 when something did, 2 for bad input, 3 when a run hit a limit.

use super::sweep::store_err;
use super::{
    rundir::default_out, Exit, SearchArgs, SearchCommand, SearchMergeArgs, EXIT_BAD_INPUT,
    EXIT_LIMIT, EXIT_MISMATCH,
};
use crate::rare;
use crate::search::store::{self, Journal, Judgement};
use crate::search::{self, page, Finding, Judged, SearchError};
use anyhow::{anyhow, Context, Result};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Runs each shrink may spend.
const SHRINK_RUNS: usize = 64;
/// The most schedules one search (or shard) may be asked for.
const MAX_BUDGET: u64 = 10_000_000;
/// Other seeds a finding is tried on.
const SEEDS_TRIED: u64 = 5;
/// Schedules run between two looks at the wall clock, per thread.
const BATCH_PER_THREAD: usize = 4;

pub(super) fn cmd_search(a: SearchArgs) -> Result<i32> {
    if let Some(SearchCommand::Merge(m)) = a.command {
        return cmd_merge(m);
    }
    if a.splitting {
        return cmd_splitting(a);
    }
    let bad = |msg: String| anyhow!(Exit(EXIT_BAD_INPUT, msg));
    let path = a.file.clone().context("a scenario file is required")?;
    let file = path.display().to_string();
    let text = crate::scenario::read_text(&path).map_err(|e| bad(format!("error: {e}")))?;
    let mut space = search::prepare(&text, &file).map_err(|ps| {
        bad(ps
            .iter()
            .map(|p| format!("error: {p}"))
            .collect::<Vec<_>>()
            .join("\n"))
    })?;
    if let Some(spec) = &a.seeds {
        space.seeds = crate::sweep::parse_seeds(spec).map_err(|e| bad(format!("error: {e}")))?;
    }
    if !(1..=MAX_BUDGET).contains(&a.budget) {
        return Err(bad(format!(
            "error: --budget {}: from 1 to {MAX_BUDGET} schedules (split a larger search with --shard K/N)",
            a.budget
        )));
    }
    let max_time = a
        .max_time
        .as_deref()
        .map(|t| {
            crate::engine::parse_duration(t)
                .ok()
                .filter(|d| d.0 > 0)
                .map(|d| std::time::Duration::from_nanos(d.0))
                .ok_or_else(|| {
                    bad(format!(
                        "error: --max-time {t}: a wall-clock duration such as 90s, 10m or 2h"
                    ))
                })
        })
        .transpose()?;
    let shard = a.sharding.get().map_err(|e| bad(format!("error: {e}")))?;
    let out = out_dir(a.out.as_deref(), &path);
    let dir = shard.map_or_else(|| out.clone(), |s| out.join(s.dir_name()));
    let mut judged: BTreeMap<u64, Judgement> = BTreeMap::new();
    if a.resume {
        match store::read(&dir).map_err(store_err)? {
            Some(r) if r.file == file && r.text == text && r.seeds == space.seeds => {
                judged = r.judged
            }
            Some(r) => {
                return Err(bad(format!(
                    "error: {} holds a search of {} (or of another text of it, or with other --seeds); run without --resume to start over there, or choose another --out",
                    dir.display(),
                    r.file
                )))
            }
            None => {}
        }
        judged.retain(|&k, _| shard.is_none_or(|s| s.owns(k as usize)));
    }
    let resumed = judged.len();
    let todo: Vec<u64> = (0..a.budget)
        .filter(|&k| shard.is_none_or(|s| s.owns(k as usize)) && !judged.contains_key(&k))
        .collect();
    let (pool, threads) = super::sweep::pool(a.jobs, todo.len().max(1))?;
    let mut journal =
        Journal::create(&dir, &file, &text, &space.seeds, &judged).map_err(store_err)?;
    let failed = |k: u64, e: SearchError| search_err(&file, k, e);
    let wall = std::time::Instant::now();
    // Schedule k is drawn from its own stream and judged alone, and schedules are run in
    // batches in k order: the results are those of the first schedules for any thread count.
    // The wall-clock budget is looked at between batches only, so it decides how many
    // schedules run, never which.
    let mut cut_short = None;
    for batch in todo.chunks(BATCH_PER_THREAD * threads) {
        if let Some(limit) = max_time {
            if wall.elapsed() >= limit {
                cut_short = Some(format!(
                    "the wall-time budget, --max-time {}, ran out; --resume goes on",
                    a.max_time.as_deref().unwrap_or_default()
                ));
                break;
            }
        }
        let results: Vec<Result<Judged, SearchError>> =
            pool.install(|| batch.par_iter().map(|&k| space.judge_run(k)).collect());
        let mut lines = Vec::with_capacity(batch.len());
        for (&k, r) in batch.iter().zip(results) {
            let j = r.map_err(|e| failed(k, e))?;
            let j = Judgement {
                miss: j.miss,
                fails: j.fails(),
            };
            lines.push((k, j));
            judged.insert(k, j);
        }
        journal.append(&lines).map_err(store_err)?;
    }
    let broke = judged.values().filter(|j| j.fails).count();
    println!(
        "{} {} from {file}'s fault_space{}: {broke} break its expectations ({:.1}s wall on {threads} thread{}{}){}",
        judged.len(),
        if space.seeds.len() > 1 { "runs of schedules" } else { "schedules" },
        shard.map(|s| format!(" (shard {} of {})", s.index, s.count)).unwrap_or_default(),
        wall.elapsed().as_secs_f64(),
        if threads == 1 { "" } else { "s" },
        if resumed > 0 { format!("; {resumed} judged before, kept") } else { String::new() },
        cut_short.as_deref().map(|w| format!("; stopped: {w}")).unwrap_or_default()
    );
    if let Some(s) = shard {
        println!(
            "wrote {}; when every shard of {} is done: faultline search merge {}",
            dir.join(store::JOURNAL).display(),
            s.count,
            out.display()
        );
        return Ok(0);
    }
    conclude(&space, &judged, a.budget, a.keep, cut_short, &out, &pool)
}

/// `faultline search merge OUT`: the shards' judged schedules combined, then what one machine
/// does at the end of a search.
fn cmd_merge(m: SearchMergeArgs) -> Result<i32> {
    let bad = |msg: String| anyhow!(Exit(EXIT_BAD_INPUT, msg));
    let (pool, _) = super::sweep::pool(m.jobs, m.keep.max(1))?;
    let shards = if m.shards.is_empty() {
        crate::sweep::store::shard_dirs(&m.dir).map_err(store_err)?
    } else {
        m.shards.clone()
    };
    let r = store::merge(&shards).map_err(store_err)?;
    let mut space = search::prepare(&r.text, &r.file).map_err(|ps| bad(ps.join("\n")))?;
    space.seeds = r.seeds.clone();
    let n = r.judged.len() as u64;
    println!(
        "merged {} shards of the search of {}: {n} schedules, {} break its expectations",
        shards.len(),
        r.file,
        r.judged.values().filter(|j| j.fails).count()
    );
    conclude(&space, &r.judged, n, m.keep, None, &m.dir, &pool)
}

fn search_err(file: &str, k: u64, e: SearchError) -> anyhow::Error {
    match e {
        SearchError::Limit(m) => anyhow!(Exit(
            EXIT_LIMIT,
            format!("error: {file}: schedule {k}: {m}")
        )),
        SearchError::Invalid(m) => anyhow!(Exit(
            EXIT_BAD_INPUT,
            format!("error: {file}: schedule {k}: {m}")
        )),
    }
}

/// The end of a search: the worst `keep` failing schedules judged again, shrunk and tried on
/// other seeds, written as finding files with the page. Exit 1 when there is a finding.
fn conclude(
    space: &search::Space,
    judged: &BTreeMap<u64, Judgement>,
    budget: u64,
    keep: usize,
    cut_short: Option<String>,
    out: &std::path::Path,
    pool: &rayon::ThreadPool,
) -> Result<i32> {
    let file = &space.file;
    let broke = judged.values().filter(|j| j.fails).count();
    // Worst first; ties in draw order.
    let mut failing: Vec<(u64, f64)> = judged
        .iter()
        .filter(|(_, j)| j.fails)
        .map(|(&k, j)| (k, j.miss))
        .collect();
    failing.sort_by(|x, y| y.1.total_cmp(&x.1).then(x.0.cmp(&y.0)));
    failing.truncate(keep);
    let shrunk: Vec<Result<Finding, SearchError>> = pool.install(|| {
        failing
            .par_iter()
            .map(|&(k, _)| {
                let original = space.judge_run(k)?;
                search::finding(space, k as usize, &original, SHRINK_RUNS, SEEDS_TRIED)
            })
            .collect()
    });
    // Two schedules may shrink to the same one: it is written once, under the worse.
    let mut findings: Vec<(String, Finding)> = Vec::new();
    for (r, &(k, _)) in shrunk.into_iter().zip(&failing) {
        let f = r.map_err(|e| search_err(file, k, e))?;
        if findings
            .iter()
            .all(|(_, g)| g.shrunk.schedule != f.shrunk.schedule)
        {
            findings.push((format!("finding-{}.ron", findings.len() + 1), f));
        }
    }
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let write = |name: &str, body: String| {
        let path = out.join(name);
        std::fs::write(&path, body).with_context(|| format!("cannot write {}", path.display()))
    };
    // Everything is written before anything is said, so a reader that stops early (`| head`)
    // does not stop the files.
    let mut said = String::new();
    for (name, f) in &findings {
        write(name, finding_file(space, file, &out.join(name), f))?;
        let faults = search::describe(space, &f.shrunk.schedule);
        let _ = writeln!(
            said,
            "{}/{name}: {} fault{}:",
            out.display(),
            faults.len(),
            if faults.len() == 1 { "" } else { "s" }
        );
        for d in &faults {
            let _ = writeln!(said, "  {d}");
        }
        for v in f.failures() {
            let _ = writeln!(said, "  fails {v}");
        }
        let _ = writeln!(
            said,
            "  fails on {} of {} other seeds",
            f.held, f.seeds_tried
        );
    }
    let summary = page::Summary {
        space,
        drawn: judged.len() as u64,
        budget,
        cut_short,
        broke,
        findings: &findings,
    };
    write("findings.md", page::markdown(&summary))?;
    write("index.html", page::html(&summary))?;
    print!("{said}");
    println!("wrote {}/index.html and findings.md", out.display());
    Ok(if findings.is_empty() {
        0
    } else {
        EXIT_MISMATCH
    })
}

/// A finding as a scenario file: a header saying where it came from and what it breaks, then
/// the scenario with the shrunk schedule's faults.
fn finding_file(space: &search::Space, file: &str, path: &std::path::Path, f: &Finding) -> String {
    let mut header = format!(
        "// Found by `faultline search {file}`: {} ({} faults), shrunk in {} runs to {}.\n",
        f.origin(space),
        f.original.schedule.len(),
        f.runs,
        f.shrunk.schedule.len()
    );
    for v in f.failures() {
        let _ = writeln!(header, "// fails {v}");
    }
    let _ = writeln!(
        header,
        "// With seeds {}..={} it fails {} of {} times. Reproduce: faultline check {}",
        f.shrunk.seed.wrapping_add(1),
        f.shrunk.seed.wrapping_add(f.seeds_tried),
        f.held,
        f.seeds_tried,
        path.display()
    );
    header + &search::text_with_seed(space, &f.shrunk)
}

/// Where a search writes: `--out`, or `reports/<file name>-search`.
fn out_dir(out: Option<&std::path::Path>, file: &std::path::Path) -> std::path::PathBuf {
    out.map(|o| o.to_path_buf()).unwrap_or_else(|| {
        let mut d = default_out(file).into_os_string();
        d.push("-search");
        std::path::PathBuf::from(d)
    })
}

/// The most copies and repeats a splitting estimate takes (memory and time guards).
const MAX_PARTICLES: usize = 100_000;
const MAX_REPEATS: usize = 1_000;
/// Levels at most per estimate.
const MAX_LEVELS: usize = 100_000;

/// `faultline search FILE --splitting`: the probability of the scenario's `rare` event, per
/// variant, with a 95% interval; printed and written to `OUT/splitting.md`.
fn cmd_splitting(a: SearchArgs) -> Result<i32> {
    let bad = |msg: String| anyhow!(Exit(EXIT_BAD_INPUT, msg));
    let path = a.file.clone().context("a scenario file is required")?;
    let file = path.display().to_string();
    let loaded = super::rundir::load(&path, &Default::default())?;
    let sc = &loaded.scenario;
    eprint!("{}", crate::scenario::render_warnings(&file, &sc.warnings));
    if sc.rare.is_none() {
        return Err(bad(format!("error: {file}: {}", rare::RareError::NoEvent)));
    }
    if !(2..=MAX_PARTICLES).contains(&a.particles) {
        return Err(bad(format!(
            "error: --particles {}: from 2 to {MAX_PARTICLES} (1000 by default; the interval narrows as its square root)",
            a.particles
        )));
    }
    if !(2..=MAX_REPEATS).contains(&a.repeats) {
        return Err(bad(format!(
            "error: --repeats {}: from 2 to {MAX_REPEATS} (the interval needs at least 2)",
            a.repeats
        )));
    }
    let settings = rare::Settings {
        particles: a.particles,
        max_levels: MAX_LEVELS,
    };
    let (pool, threads) = super::sweep::pool(a.jobs, a.repeats)?;
    let out = out_dir(a.out.as_deref(), &path);
    let mut said = String::new();
    let mut md = format!("# Splitting estimates for {file}\n\n");
    for (variant, v) in sc.runs() {
        let Some(event) = v.rare else { continue };
        let wall = std::time::Instant::now();
        // Repeat r draws from its own streams: collected in r order, the same for any -j.
        let repeats: Vec<Result<rare::Repeat, rare::RareError>> = pool.install(|| {
            (0..a.repeats)
                .into_par_iter()
                .map(|r| rare::repeat(v, r, &settings))
                .collect()
        });
        let repeats = repeats
            .into_iter()
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| anyhow!(Exit(EXIT_LIMIT, format!("error: {file} [{variant}]: {e}"))))?;
        let est = rare::combine(repeats);
        let what = event.describe(&v.system);
        let runs: u64 = est.repeats.iter().map(|r| r.runs).sum();
        let events: u64 = est.repeats.iter().map(|r| r.events).sum();
        let levels = est.repeats.first().map_or(0, |r| r.levels.len());
        let plain = if est.p > 0.0 {
            format!(
                "plain runs would need about {:.3e} to see it once with 95% chance (3 / p)",
                3.0 / est.p
            )
        } else {
            "no copy rose above the lowest level: the event looks out of reach".to_string()
        };
        let _ = writeln!(
            said,
            "{file} [{variant}]: P({what}) = {:.4e}, 95% CI {:.4e} to {:.4e}\n  {} estimates of {} copies ({levels} levels in the first), {runs} runs, {events} events, {:.1}s wall on {threads} thread{}; {plain}",
            est.p,
            est.ci95.0,
            est.ci95.1,
            a.repeats,
            a.particles,
            wall.elapsed().as_secs_f64(),
            if threads == 1 { "" } else { "s" },
        );
        let _ = write!(
            md,
            "## {variant}\n\nP({what}) = **{:.4e}**, 95% confidence interval {:.4e} to {:.4e} (Student's t over {} independent estimates of {} copies each; seed {}). {}.\n\n| estimate | p | levels | runs | events |\n|---|---|---|---|---|\n",
            est.p,
            est.ci95.0,
            est.ci95.1,
            a.repeats,
            a.particles,
            v.seed,
            capitalised(&plain)
        );
        for (r, rep) in est.repeats.iter().enumerate() {
            let _ = writeln!(
                md,
                "| {r} | {:.4e} | {} | {} | {} |",
                rep.p,
                rep.levels.len(),
                rep.runs,
                rep.events
            );
        }
        if let Some(first) = est.repeats.first() {
            let _ = write!(
                md,
                "\nLevels of the first estimate (level: share of copies above it): "
            );
            let parts: Vec<String> = first
                .levels
                .iter()
                .map(|(l, s)| format!("{l}: {s:.2}"))
                .collect();
            let _ = writeln!(md, "{}.\n", parts.join(", "));
        }
    }
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let path = out.join("splitting.md");
    std::fs::write(&path, md).with_context(|| format!("cannot write {}", path.display()))?;
    print!("{said}");
    println!("wrote {}", path.display());
    Ok(0)
}

/// `s` with its first letter upper-case (a clause that starts a sentence).
fn capitalised(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().chain(c).collect())
        .unwrap_or_default()
}
