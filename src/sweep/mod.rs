//! Parameter sweeps: a grid of field overrides (`--set PATH=VALUES`) times a list of seeds,
//! each combination an independent run, spread over threads with rayon.
//!
//! A run depends only on its point and its seed, never on which thread ran it or when, so the
//! outputs are the same for any number of threads. Every point uses the same seeds (common random
//! numbers: a seed gives the same arrivals and faults at every point, so differences between
//! points are the parameters' doing, not noise). This module knows nothing of files or terminals;
//! the CLI writes what it returns.

use crate::report::{self, frame::Frame};
use crate::runner;
use crate::scenario::{self, overrides, Overrides, RawScenario, Scenario};

/// The figures recorded per run, in CSV order.
pub const METRICS: [&str; 8] = [
    "availability",
    "goodput_per_s",
    "p99_ms",
    "client_amplification",
    "service_amplification",
    "services_breached",
    "metastable",
    "time_to_recover_s",
];

/// The most runs one sweep may have (points x seeds).
pub const MAX_RUNS: usize = 100_000;

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
    pub params: Vec<Param>,
    pub seeds: Vec<u64>,
    pub points: Vec<Point>,
}

impl Plan {
    pub fn runs(&self) -> usize {
        self.points.len() * self.seeds.len()
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
                if let Err(e) = scenario::from_str(&t, file, &check) {
                    for p in e.problems() {
                        problems.push(format!("point {desc}: {}: {}", p.path, p.message));
                    }
                    if problems.len() > 50 {
                        break;
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
        params,
        seeds,
        points,
    })
}

/// One finished run.
#[derive(Clone, Debug, PartialEq)]
pub struct RunRow {
    pub point: usize,
    pub seed_index: usize,
    pub seed: u64,
    pub metrics: [f64; METRICS.len()],
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
    let (r, rec) = runner::run_traced(&sc, None);
    let frame = Frame::build(&rec.series, &sc.system, &r.summary);
    let a = report::analyse(
        &sc,
        report::Run {
            name: String::new(),
            summary: r.summary,
            frame,
        },
    );
    let h = &a.headline;
    Ok(RunRow {
        point,
        seed_index,
        seed,
        metrics: [
            h.availability,
            h.goodput_per_s,
            h.p99_ms,
            h.client_amplification,
            h.service_amplification,
            h.services_breached as f64,
            h.metastable as u8 as f64,
            h.time_to_recover_s.unwrap_or(f64::NAN),
        ],
        trace_hash: h.trace_hash.clone(),
        stopped_by: r.stopped.map(|s| s.limit.to_string()),
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
    h.push_str(",trace_hash,stopped_by");
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
        ",{},{}",
        r.trace_hash,
        r.stopped_by.as_deref().unwrap_or("")
    ));
    l
}

/// points.csv: per point, the mean of each metric across seeds and the half-width of its 95%
/// confidence interval (Student's t; empty with one seed). `rows` must hold every run.
pub fn points_csv(plan: &Plan, rows: &[RunRow]) -> String {
    let mut out = String::from("point");
    for p in &plan.params {
        out.push(',');
        out.push_str(&csv(&p.path));
    }
    out.push_str(",runs");
    for m in METRICS {
        out.push_str(&format!(",{m}_mean,{m}_ci95"));
    }
    out.push('\n');
    for p in &plan.points {
        let mine: Vec<&RunRow> = rows.iter().filter(|r| r.point == p.index).collect();
        out.push_str(&p.index.to_string());
        for v in &p.labels {
            out.push(',');
            out.push_str(&csv(v));
        }
        out.push_str(&format!(",{}", mine.len()));
        for k in 0..METRICS.len() {
            let xs: Vec<f64> = mine
                .iter()
                .map(|r| r.metrics[k])
                .filter(|v| v.is_finite())
                .collect();
            let (mean, half) = mean_ci95(&xs);
            out.push(',');
            if let Some(m) = mean {
                out.push_str(&report::frame::fmt_num(m));
            }
            out.push(',');
            if let Some(h) = half {
                out.push_str(&report::frame::fmt_num(h));
            }
        }
        out.push('\n');
    }
    out
}

/// Mean and 95% confidence half-width of `xs` (None where there are too few values).
pub fn mean_ci95(xs: &[f64]) -> (Option<f64>, Option<f64>) {
    let n = xs.len();
    if n == 0 {
        return (None, None);
    }
    let mean = xs.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return (Some(mean), None);
    }
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
    (Some(mean), Some(t975(n - 1) * (var / n as f64).sqrt()))
}

/// The 0.975 quantile of Student's t with `df` degrees of freedom (tables; 1.96 for large df).
fn t975(df: usize) -> f64 {
    const T: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::NAN,
        1..=30 => T[df - 1],
        31..=40 => 2.021,
        41..=60 => 2.000,
        61..=120 => 1.980,
        _ => 1.960,
    }
}

fn csv(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
