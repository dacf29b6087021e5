//! Parameter sweeps: a grid of field overrides (`--set PATH=VALUES`) times a list of seeds,
//! each combination an independent run, spread over threads with rayon.
//!
//! A run depends only on its point and its seed, never on which thread ran it or when, so the
//! outputs are the same for any number of threads. Every point uses the same seeds (common random
//! numbers: a seed gives the same arrivals and faults at every point, so differences between
//! points are the parameters' doing, not noise). This module knows nothing of files or terminals;
//! the CLI writes what it returns.

pub mod page;
pub mod store;

use crate::report;
use crate::scenario::{self, overrides, Overrides, RawScenario, Scenario};

/// The figures recorded per run, in CSV order (the verdicts are the report's: docs/analysis.md).
pub const METRICS: [&str; 12] = [
    "availability",
    "goodput_per_s",
    "p99_ms",
    "client_amplification",
    "service_amplification",
    "services_degraded",
    "services_breached",
    "metastable",
    "recovered_after_s",
    "not_back_after_s",
    "recovering_eta_s",
    "wasted_worker_s",
];

/// Where the time to recover and its censored twin sit in [`METRICS`]: a run that was not back
/// by its end counts in a point's recovery time at the time it was watched, as a lower bound.
pub const RECOVERED: usize = 8;
pub const NOT_BACK: usize = 9;

/// The most runs one sweep may have (points x seeds).
pub const MAX_RUNS: usize = 100_000;

/// The most warnings a sweep prints from its points (the same mistake in every point is said
/// once, by the scenario; this bounds the rest).
const MAX_WARNINGS: usize = 20;

/// One `--set`: a field path and the values it takes.
#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    /// As the user wrote it (the CSV column name).
    pub path: String,
    /// With indices instead of names.
    pub resolved: String,
    /// As the user wrote them (CSV cells).
    pub labels: Vec<String>,
    /// As RON text, spliced into the scenario.
    pub values: Vec<String>,
}

/// Splits `PATH=VALUES` and expands the values: a list (`1,2,3`, `50ms,1s`) or an inclusive
/// range with a step (`100..=1000:100`).
pub fn parse_set(arg: &str) -> Result<(String, Vec<String>), String> {
    let (path, values) = arg
        .split_once('=')
        .ok_or_else(|| format!("`{arg}`: expected PATH=VALUES, e.g. services.db.workers=2,4,8"))?;
    let path = path.trim();
    if path.is_empty() {
        return Err(format!("`{arg}`: the field path before `=` is empty"));
    }
    Ok((path.to_string(), parse_values(values.trim())?))
}

fn parse_values(s: &str) -> Result<Vec<String>, String> {
    if s.is_empty() {
        return Err("no values after `=`".into());
    }
    if let Some((range, step)) = s.split_once(':') {
        if let Some((a, b)) = range.split_once("..=") {
            let num = |x: &str| {
                x.trim().parse::<f64>().map_err(|_| {
                    format!("`{s}`: `{x}` is not a number (a range is FROM..=TO:STEP)")
                })
            };
            let (a, b, step) = (num(a)?, num(b)?, num(step)?);
            if step.is_nan() || step <= 0.0 || b < a {
                return Err(format!(
                    "`{s}`: a range needs FROM <= TO and a positive STEP"
                ));
            }
            let n = ((b - a) / step + 1e-9).floor() as usize + 1;
            if n > MAX_RUNS {
                return Err(format!("`{s}`: {n} values; at most {MAX_RUNS}"));
            }
            let ints = [a, b, step].iter().all(|v| v.fract() == 0.0);
            return Ok((0..n)
                .map(|k| {
                    let v = a + k as f64 * step;
                    if ints {
                        format!("{}", v as i64)
                    } else {
                        let t = format!("{v:.9}");
                        let t = t.trim_end_matches('0');
                        let t = t.strip_suffix('.').unwrap_or(t);
                        // RON floats need a point where the field is a float.
                        if t.contains('.') {
                            t.to_string()
                        } else {
                            format!("{t}.0")
                        }
                    }
                })
                .collect());
        }
    }
    Ok(s.split(',').map(|v| v.trim().to_string()).collect())
}

/// A value as RON text: numbers, booleans and RON syntax as written; anything else (a duration
/// such as `50ms`, a name) as a string.
pub fn ron_value(v: &str) -> String {
    let first = v.chars().next().unwrap_or(' ');
    if v.parse::<f64>().is_ok()
        || v == "true"
        || v == "false"
        || first.is_ascii_uppercase()
        || "([{\"".contains(first)
    {
        v.to_string()
    } else {
        format!("\"{}\"", v.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// `1..=20`, `1,2,3` or `7`.
pub fn parse_seeds(s: &str) -> Result<Vec<u64>, String> {
    let bad = |x: &str| format!("--seeds `{s}`: `{x}` is not a seed (a whole number)");
    let seeds: Vec<u64> = if let Some((a, b)) = s.split_once("..=") {
        let a: u64 = a.trim().parse().map_err(|_| bad(a))?;
        let b: u64 = b.trim().parse().map_err(|_| bad(b))?;
        if b < a || b - a >= MAX_RUNS as u64 {
            return Err(format!(
                "--seeds `{s}`: FROM..=TO with FROM <= TO, at most {MAX_RUNS} seeds"
            ));
        }
        (a..=b).collect()
    } else {
        s.split(',')
            .map(|x| x.trim().parse().map_err(|_| bad(x)))
            .collect::<Result<_, _>>()?
    };
    let mut sorted = seeds.clone();
    sorted.sort_unstable();
    if let Some(w) = sorted.windows(2).find(|w| w[0] == w[1]) {
        return Err(format!(
            "--seeds `{s}`: seed {} appears twice; each seed once",
            w[0]
        ));
    }
    Ok(seeds)
}

/// One grid point: a value index per parameter, and the scenario text with them in.
#[derive(Clone, Debug)]
pub struct Point {
    pub index: usize,
    pub labels: Vec<String>,
    pub text: String,
}

/// A sweep, checked and expanded: every point's scenario has been validated (with the first
/// seed), so nothing is run if any point is bad.
#[derive(Clone, Debug)]
pub struct Plan {
    pub file: String,
    /// The scenario's name (for the page).
    pub name: String,
    /// The SLO points are judged by unless `--slo` says otherwise: the scenario's availability
    /// target.
    pub default_slo: Criterion,
    /// The scenario file's text, as read.
    pub text: String,
    pub params: Vec<Param>,
    pub seeds: Vec<u64>,
    pub points: Vec<Point>,
    /// The scenario's warnings, and those a point has that the scenario does not, one line
    /// each (printed before the sweep runs).
    pub warnings: Vec<String>,
}

impl Plan {
    pub fn runs(&self) -> usize {
        self.points.len() * self.seeds.len()
    }

    /// Run `k` is point `k / seeds` with seed `k % seeds`.
    pub fn run_index(&self, point: usize, seed_index: usize) -> usize {
        point * self.seeds.len() + seed_index
    }

    /// Everything a run's result depends on (faultline's version, the file's name and text, the
    /// sets, the seeds), hashed: a journal or shard with another fingerprint belongs to another
    /// sweep and is never mixed in.
    pub fn fingerprint(&self) -> String {
        let mut b = format!(
            "faultline {}\0{}\0{}\0",
            env!("CARGO_PKG_VERSION"),
            self.file,
            self.text
        );
        for p in &self.params {
            b.push_str(&format!("set {}={}\0", p.path, p.labels.join("\u{1f}")));
        }
        for s in &self.seeds {
            b.push_str(&format!("seed {s}\0"));
        }
        format!("{:016x}", crate::engine::stable_hash_bytes(b.as_bytes()))
    }
}

/// A deterministic share of a sweep's runs: shard `index` of `count` (from 0) takes the runs
/// `k` with `k % count == index`. Dealing runs round-robin spreads slow points (high load, long
/// incidents) evenly over the shards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

/// The most shards a sweep may be split into.
pub const MAX_SHARDS: usize = 10_000;

impl Shard {
    /// `K/N` with `0 <= K < N`.
    pub fn parse(s: &str) -> Result<Shard, String> {
        let bad =
            || format!("--shard `{s}`: expected K/N with 0 <= K < N <= {MAX_SHARDS}, e.g. 0/4");
        let (k, n) = s.split_once('/').ok_or_else(bad)?;
        let (index, count): (usize, usize) = (
            k.trim().parse().map_err(|_| bad())?,
            n.trim().parse().map_err(|_| bad())?,
        );
        Shard::new(index, count).ok_or_else(bad)
    }

    pub fn new(index: usize, count: usize) -> Option<Shard> {
        ((1..=MAX_SHARDS).contains(&count) && index < count).then_some(Shard { index, count })
    }

    /// The shard index a batch engine gives a task: Kubernetes Indexed Jobs set
    /// `JOB_COMPLETION_INDEX` (from 0); Slurm job arrays set `SLURM_ARRAY_TASK_ID`, counted from
    /// `SLURM_ARRAY_TASK_MIN` so that `--array=1-4` works as well as `--array=0-3`.
    pub fn from_env(count: usize, var: impl Fn(&str) -> Option<String>) -> Result<Shard, String> {
        let num = |name: &str, v: String| {
            v.trim()
                .parse::<usize>()
                .map_err(|_| format!("{name}=`{v}` is not a shard index (a whole number from 0)"))
        };
        let index = if let Some(v) = var("JOB_COMPLETION_INDEX") {
            num("JOB_COMPLETION_INDEX", v)?
        } else if let Some(v) = var("SLURM_ARRAY_TASK_ID") {
            let id = num("SLURM_ARRAY_TASK_ID", v)?;
            let min = match var("SLURM_ARRAY_TASK_MIN") {
                Some(m) => num("SLURM_ARRAY_TASK_MIN", m)?,
                None => 0,
            };
            id.checked_sub(min).ok_or_else(|| {
                format!("SLURM_ARRAY_TASK_ID={id} is below SLURM_ARRAY_TASK_MIN={min}")
            })?
        } else {
            return Err(format!(
                "--shards {count}: neither JOB_COMPLETION_INDEX (Kubernetes Indexed Job) nor SLURM_ARRAY_TASK_ID (Slurm array) is set; outside a batch engine use --shard K/{count}"
            ));
        };
        Shard::new(index, count).ok_or_else(|| {
            format!(
                "shard index {index} from the environment is not below --shards {count}; give the job as many completions (or array tasks) as shards"
            )
        })
    }

    pub fn owns(&self, run: usize) -> bool {
        run % self.count == self.index
    }

    /// The directory name of this shard's outputs inside the sweep's directory.
    pub fn dir_name(&self) -> String {
        format!("shard-{}-of-{}", self.index, self.count)
    }
}

/// The SLO a sweep's page judges points by: a metric's mean across seeds against a threshold.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Criterion {
    /// Index into [`METRICS`].
    pub metric: usize,
    /// `>=` (else `<=`).
    pub at_least: bool,
    pub threshold: f64,
}

impl Criterion {
    /// `availability>=0.99`, `p99_ms<=250`.
    pub fn parse(s: &str) -> Result<Criterion, String> {
        let (name, at_least, v) = if let Some((a, b)) = s.split_once(">=") {
            (a, true, b)
        } else if let Some((a, b)) = s.split_once("<=") {
            (a, false, b)
        } else {
            return Err(format!(
                "--slo `{s}`: expected METRIC>=X or METRIC<=X, e.g. availability>=0.99 or p99_ms<=250"
            ));
        };
        let metric = METRICS
            .iter()
            .position(|m| *m == name.trim())
            .ok_or_else(|| {
                format!(
                    "--slo `{s}`: no metric `{}`; one of {}",
                    name.trim(),
                    METRICS.join(", ")
                )
            })?;
        let threshold: f64 = v
            .trim()
            .parse()
            .ok()
            .filter(|x: &f64| x.is_finite())
            .ok_or_else(|| format!("--slo `{s}`: `{}` is not a number", v.trim()))?;
        Ok(Criterion {
            metric,
            at_least,
            threshold,
        })
    }

    /// Whether a point meets the SLO (None: unknown). A recovery time with seeds that were not
    /// back is a lower bound: it decides only when the bound alone does.
    pub fn holds_at(&self, st: &PointStats) -> Option<bool> {
        let m = st.mean[self.metric]?;
        if self.metric == RECOVERED && st.not_back > 0 {
            return match (self.at_least, self.holds(m)) {
                (true, true) => Some(true),
                (false, false) => Some(false),
                _ => None,
            };
        }
        Some(self.holds(m))
    }

    pub fn holds(&self, mean: f64) -> bool {
        if self.at_least {
            mean >= self.threshold
        } else {
            mean <= self.threshold
        }
    }
}

impl std::fmt::Display for Criterion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}{}{}",
            METRICS[self.metric],
            if self.at_least { ">=" } else { "<=" },
            report::frame::fmt_num(self.threshold)
        )
    }
}

/// Expands `sets` over the scenario `text`; every problem with the sets or with any point's
/// scenario is returned at once.
pub fn plan(
    text: &str,
    file: &str,
    sets: &[(String, Vec<String>)],
    seeds: Option<Vec<u64>>,
) -> Result<Plan, Vec<String>> {
    let base = overrides::without_variants(text);
    let raw: RawScenario = match scenario::parse_raw(&base) {
        Ok(r) => r,
        Err(e) => return Err(vec![e]),
    };
    let mut problems = Vec::new();
    let mut params = Vec::new();
    for (path, labels) in sets {
        match overrides::resolve(&raw, path) {
            Ok(resolved) => params.push(Param {
                path: path.clone(),
                resolved,
                labels: labels.clone(),
                values: labels.iter().map(|v| ron_value(v)).collect(),
            }),
            Err(e) => problems.push(format!("--set {e}")),
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let n_points: usize = params.iter().map(|p| p.values.len()).product();
    let first = match scenario::from_str(&base, file, &Overrides::default()) {
        Ok(s) => s,
        Err(e) => return Err(vec![e.to_string()]),
    };
    let mut warnings: Vec<String> = scenario::render_warnings(file, &first.warnings)
        .lines()
        .map(String::from)
        .collect();
    let seeds = seeds.unwrap_or_else(|| vec![first.seed]);
    if seeds.is_empty() {
        return Err(vec!["--seeds: no seeds".into()]);
    }
    if n_points.saturating_mul(seeds.len()) > MAX_RUNS {
        return Err(vec![format!(
            "{n_points} points x {} seeds is more than {MAX_RUNS} runs; sweep fewer values or seeds, or split it with shards",
            seeds.len()
        )]);
    }
    let mut points = Vec::with_capacity(n_points);
    for index in 0..n_points {
        // The first parameter varies slowest (the order of the --set flags).
        let mut rest = index;
        let mut picks = vec![0; params.len()];
        for (k, p) in params.iter().enumerate().rev() {
            picks[k] = rest % p.values.len();
            rest /= p.values.len();
        }
        let edits: Vec<(String, String)> = params
            .iter()
            .zip(&picks)
            .map(|(p, &i)| (p.resolved.clone(), p.values[i].clone()))
            .collect();
        let labels: Vec<String> = params
            .iter()
            .zip(&picks)
            .map(|(p, &i)| p.labels[i].clone())
            .collect();
        let desc = params
            .iter()
            .zip(&labels)
            .map(|(p, l)| format!("{}={l}", p.path))
            .collect::<Vec<_>>()
            .join(" ");
        match overrides::apply(&base, &edits) {
            Ok(t) => {
                let check = Overrides {
                    seed: Some(seeds[0]),
                    ..Default::default()
                };
                match scenario::from_str(&t, file, &check) {
                    Err(e) => {
                        for p in e.problems() {
                            problems.push(format!("point {desc}: {}: {}", p.path, p.message));
                        }
                        if problems.len() > 50 {
                            break;
                        }
                    }
                    Ok(sc) => {
                        for w in &sc.warnings {
                            let own = !first
                                .warnings
                                .iter()
                                .any(|b| b.path == w.path && b.message == w.message);
                            if own && warnings.len() < MAX_WARNINGS {
                                warnings.push(format!(
                                    "warning: {file}: point {desc}: {}: {}",
                                    w.path, w.message
                                ));
                            }
                        }
                    }
                }
                points.push(Point {
                    index,
                    labels,
                    text: t,
                });
            }
            Err(e) => {
                problems.push(format!("--set {e}"));
                break;
            }
        }
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Plan {
        file: file.to_string(),
        name: first.name.clone(),
        default_slo: Criterion {
            metric: 0,
            at_least: true,
            threshold: first.slo.availability,
        },
        text: text.to_string(),
        params,
        seeds,
        points,
        warnings,
    })
}

/// One finished run.
#[derive(Clone, Debug, PartialEq)]
pub struct RunRow {
    pub point: usize,
    pub seed_index: usize,
    pub seed: u64,
    pub metrics: [f64; METRICS.len()],
    /// How the run ended after its last trigger (`recovered`, `recovering`, `sustained`, ...),
    /// and the loop that sustains it.
    pub ending: String,
    pub sustained_by: Option<String>,
    pub trace_hash: String,
    pub stopped_by: Option<String>,
}

/// Runs one point with one seed.
pub fn run_one(plan: &Plan, point: usize, seed_index: usize) -> Result<RunRow, String> {
    let seed = plan.seeds[seed_index];
    let o = Overrides {
        seed: Some(seed),
        ..Default::default()
    };
    let sc: Scenario =
        scenario::from_str(&plan.points[point].text, &plan.file, &o).map_err(|e| e.to_string())?;
    // As `faultline run` analyses it, so the verdicts are those its report would write.
    let (a, stopped) = report::run_and_analyse(&sc, "");
    let h = &a.headline;
    let metrics = [
        h.availability,
        h.goodput_per_s,
        h.p99_ms,
        h.client_amplification,
        h.service_amplification,
        h.services_degraded as f64,
        h.services_breached as f64,
        h.metastable.map_or(f64::NAN, |m| m as u8 as f64),
        h.recovered_after_s.unwrap_or(f64::NAN),
        h.not_back_after_s.unwrap_or(f64::NAN),
        h.recovering_eta_s.unwrap_or(f64::NAN),
        h.wasted_worker_s,
    ];
    Ok(RunRow {
        point,
        seed_index,
        seed,
        // As runs.csv prints them, so that figures computed from a row read back from a journal
        // or a shard's file are the same as from a row just computed.
        metrics: metrics.map(|v| {
            if v.is_finite() {
                report::frame::fmt_num(v).parse().unwrap_or(v)
            } else {
                f64::NAN
            }
        }),
        ending: h.ending.clone(),
        sustained_by: h.sustained_by.clone(),
        trace_hash: h.trace_hash.clone(),
        stopped_by: stopped.map(|s| s.limit.to_string()),
    })
}

/// The header of runs.csv.
pub fn runs_header(plan: &Plan) -> String {
    let mut h = String::from("point");
    for p in &plan.params {
        h.push(',');
        h.push_str(&csv(&p.path));
    }
    h.push_str(",seed");
    for m in METRICS {
        h.push(',');
        h.push_str(m);
    }
    h.push_str(",ending,sustained_by,trace_hash,stopped_by");
    h
}

/// One line of runs.csv.
pub fn runs_line(plan: &Plan, r: &RunRow) -> String {
    let mut l = r.point.to_string();
    for v in &plan.points[r.point].labels {
        l.push(',');
        l.push_str(&csv(v));
    }
    l.push_str(&format!(",{}", r.seed));
    for v in r.metrics {
        l.push(',');
        if v.is_finite() {
            l.push_str(&report::frame::fmt_num(v));
        }
    }
    l.push_str(&format!(
        ",{},{},{},{}",
        csv(&r.ending),
        csv(r.sustained_by.as_deref().unwrap_or("")),
        r.trace_hash,
        r.stopped_by.as_deref().unwrap_or("")
    ));
    l
}

/// Reads back a line written by [`runs_line`], checking it against the plan: the point's values
/// and the seed must be the plan's.
pub fn parse_runs_line(plan: &Plan, line: &str) -> Result<RunRow, String> {
    let cells = report::frame::split_csv(line);
    let np = plan.params.len();
    let want = 1 + np + 1 + METRICS.len() + 4;
    if cells.len() != want {
        return Err(format!("{} cells, expected {want}", cells.len()));
    }
    let point: usize = cells[0]
        .parse()
        .ok()
        .filter(|&p| p < plan.points.len())
        .ok_or_else(|| format!("point `{}` is not in this sweep", cells[0]))?;
    if cells[1..=np] != plan.points[point].labels[..] {
        return Err(format!(
            "point {point} has values {:?}, this sweep's has {:?}",
            &cells[1..=np],
            plan.points[point].labels
        ));
    }
    let seed: u64 = cells[np + 1]
        .parse()
        .map_err(|_| format!("seed `{}` is not a number", cells[np + 1]))?;
    let seed_index = plan
        .seeds
        .iter()
        .position(|&s| s == seed)
        .ok_or_else(|| format!("seed {seed} is not one of this sweep's"))?;
    let mut metrics = [f64::NAN; METRICS.len()];
    for (k, m) in metrics.iter_mut().enumerate() {
        let c = &cells[np + 2 + k];
        if !c.is_empty() {
            *m = c
                .parse()
                .map_err(|_| format!("{} `{c}` is not a number", METRICS[k]))?;
        }
    }
    let ending = cells[want - 4].clone();
    let sustained = &cells[want - 3];
    let trace_hash = cells[want - 2].clone();
    if trace_hash.len() != 16 || !trace_hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(format!("trace hash `{trace_hash}` is not 16 hex digits"));
    }
    let stopped = &cells[want - 1];
    Ok(RunRow {
        point,
        seed_index,
        seed,
        metrics,
        ending,
        sustained_by: (!sustained.is_empty()).then(|| sustained.clone()),
        trace_hash,
        stopped_by: (!stopped.is_empty()).then(|| stopped.clone()),
    })
}

/// runs.csv for the given rows (any order; written in run order).
pub fn runs_csv(plan: &Plan, rows: &[RunRow]) -> String {
    let mut sorted: Vec<&RunRow> = rows.iter().collect();
    sorted.sort_by_key(|r| plan.run_index(r.point, r.seed_index));
    let mut out = runs_header(plan);
    out.push('\n');
    for r in sorted {
        out.push_str(&runs_line(plan, r));
        out.push('\n');
    }
    out
}

/// One point's figures across its seeds.
#[derive(Clone, Debug, PartialEq)]
pub struct PointStats {
    pub runs: usize,
    /// Runs whose last trigger ended but which were not back by their end (censored).
    pub not_back: usize,
    /// Per metric: the mean over the runs where it is defined, and the 95% half-width. For
    /// `recovered_after_s` the runs not back count at `not_back_after_s`, so with `not_back > 0`
    /// the mean is a lower bound and has no interval.
    pub mean: [Option<f64>; METRICS.len()],
    pub ci95: [Option<f64>; METRICS.len()],
}

/// Every point's statistics, in point order. `rows` may come in any order.
pub fn point_stats(plan: &Plan, rows: &[RunRow]) -> Vec<PointStats> {
    let mut by_point: Vec<Vec<&RunRow>> = vec![Vec::new(); plan.points.len()];
    for r in rows {
        by_point[r.point].push(r);
    }
    by_point
        .into_iter()
        .map(|mut mine| {
            // In seed order, whatever order the rows came in: float sums depend on the order.
            mine.sort_by_key(|r| r.seed_index);
            let mut st = PointStats {
                runs: mine.len(),
                not_back: mine
                    .iter()
                    .filter(|r| r.metrics[NOT_BACK].is_finite())
                    .count(),
                mean: [None; METRICS.len()],
                ci95: [None; METRICS.len()],
            };
            for k in 0..METRICS.len() {
                let xs: Vec<f64> = mine
                    .iter()
                    .map(|r| match k {
                        // A run not back by its end took at least as long as it was watched.
                        RECOVERED if !r.metrics[k].is_finite() => r.metrics[NOT_BACK],
                        _ => r.metrics[k],
                    })
                    .filter(|v| v.is_finite())
                    .collect();
                (st.mean[k], st.ci95[k]) = mean_ci95(&xs);
            }
            if st.not_back > 0 {
                // A mean of lower bounds is a lower bound; no interval is honest about it.
                st.ci95[RECOVERED] = None;
            }
            st
        })
        .collect()
}

/// points.csv: per point, the mean of each metric across seeds and the half-width of its 95%
/// confidence interval (Student's t; empty with one seed). `rows` must hold every run.
pub fn points_csv(plan: &Plan, rows: &[RunRow]) -> String {
    let mut out = String::from("point");
    for p in &plan.params {
        out.push(',');
        out.push_str(&csv(&p.path));
    }
    out.push_str(",runs,not_back_runs");
    for m in METRICS {
        out.push_str(&format!(",{m}_mean,{m}_ci95"));
    }
    out.push('\n');
    let num = |v: Option<f64>| v.map(report::frame::fmt_num).unwrap_or_default();
    for (p, st) in plan.points.iter().zip(point_stats(plan, rows)) {
        out.push_str(&p.index.to_string());
        for v in &p.labels {
            out.push(',');
            out.push_str(&csv(v));
        }
        out.push_str(&format!(",{},{}", st.runs, st.not_back));
        for k in 0..METRICS.len() {
            out.push_str(&format!(",{},{}", num(st.mean[k]), num(st.ci95[k])));
        }
        out.push('\n');
    }
    out
}

pub use crate::metrics::stats::mean_ci95;

fn csv(s: &str) -> String {
    report::frame::csv_field(s)
}

/// Threads for a sweep: as many as asked (`-j`; default: the cores), but never more than the
/// cores (the runs are computation only) nor the runs left to do (an idle thread costs its
/// start-up and its stack), and at least one. Which thread runs what never reaches the outputs.
pub fn threads(requested: Option<usize>, runs_left: usize, cores: usize) -> usize {
    requested
        .unwrap_or(cores)
        .min(cores.max(1))
        .min(runs_left)
        .max(1)
}

#[cfg(test)]
mod tests {
    #[test]
    fn threads_are_capped_at_the_cores_and_the_runs_left() {
        // (requested, runs left, cores) -> threads
        let cases = [
            ((Some(10_000), 4, 2), 2),
            ((Some(100_000), 4, 64), 4),
            ((None, 4, 2), 2),
            ((None, 1, 8), 1),
            ((Some(1), 100, 8), 1),
            ((Some(3), 100, 8), 3),
            ((None, 0, 8), 1),
            ((None, 10, 0), 1),
        ];
        for ((requested, left, cores), want) in cases {
            assert_eq!(
                super::threads(requested, left, cores),
                want,
                "{requested:?} {left} {cores}"
            );
        }
    }

    use super::*;

    #[test]
    fn a_censored_recovery_time_decides_only_as_a_bound() {
        assert_eq!(METRICS[RECOVERED], "recovered_after_s");
        assert_eq!(METRICS[NOT_BACK], "not_back_after_s");
        let st = |mean: f64, not_back: usize| {
            let mut s = PointStats {
                runs: 10,
                not_back,
                mean: [None; METRICS.len()],
                ci95: [None; METRICS.len()],
            };
            s.mean[RECOVERED] = Some(mean);
            s
        };
        let c = |s: &str| Criterion::parse(s).unwrap();
        // (criterion, mean, runs not back, verdict): with runs not back the mean is a lower
        // bound, so `<=` can only fail and `>=` can only hold.
        let cases = [
            ("recovered_after_s<=10", 5.0, 0, Some(true)),
            ("recovered_after_s<=10", 12.0, 0, Some(false)),
            ("recovered_after_s<=10", 5.0, 1, None),
            ("recovered_after_s<=10", 12.0, 1, Some(false)),
            ("recovered_after_s>=10", 12.0, 1, Some(true)),
            ("recovered_after_s>=10", 5.0, 1, None),
        ];
        for (crit, mean, nb, want) in cases {
            assert_eq!(c(crit).holds_at(&st(mean, nb)), want, "{crit} {mean} {nb}");
        }
    }

    #[test]
    fn values_expand() {
        let cases: &[(&str, &[&str])] = &[
            ("a=1,2,3", &["1", "2", "3"]),
            ("a=100..=300:100", &["100", "200", "300"]),
            ("a=0.5..=1.5:0.5", &["0.5", "1.0", "1.5"]),
            ("a=50ms, 1s", &["50ms", "1s"]),
        ];
        for (arg, want) in cases {
            assert_eq!(parse_set(arg).unwrap().1, *want, "{arg}");
        }
        assert!(parse_set("a").is_err());
        assert!(parse_set("a=3..=1:1").is_err());
        assert!(parse_set("a=1..=3:0").is_err());
        assert_eq!(ron_value("50ms"), "\"50ms\"");
        assert_eq!(ron_value("2.5"), "2.5");
        assert_eq!(ron_value("Constant(\"1s\")"), "Constant(\"1s\")");
        assert_eq!(parse_seeds("1..=3").unwrap(), vec![1, 2, 3]);
        assert_eq!(parse_seeds("4,9").unwrap(), vec![4, 9]);
        assert!(parse_seeds("x").is_err());
    }

    #[test]
    fn confidence_intervals_use_students_t() {
        // Mean 2, sample sd 1, n 4: half-width t(3) x 1/2 = 1.5915.
        let (m, h) = mean_ci95(&[1.0, 2.0, 2.0, 3.0].map(|x| x));
        assert_eq!(m, Some(2.0));
        let sd = (2.0f64 / 3.0).sqrt();
        assert!((h.unwrap() - 3.182 * sd / 2.0).abs() < 1e-12);
        assert_eq!(mean_ci95(&[5.0]), (Some(5.0), None));
    }
}
