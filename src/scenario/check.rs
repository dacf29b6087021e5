//! The checking every part of validation shares: a [`Checker`] that collects [`Problem`]s
//! with their field paths (durations, counts, probabilities, rates and distributions checked
//! the same way everywhere) and the "did you mean" hint for an unknown name.
//!
//! It sits below `validate.rs`, `faults.rs` and `policies.rs`, which all use it; it knows the
//! raw schema's distributions and nothing of services, clients or faults.

use super::raw::RawDist;
use crate::engine::{parse_duration, SimDuration};
use crate::model::Dist;
use std::fmt;

/// One thing wrong with a scenario.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Field path such as `services[1].calls[0].to`; empty for the whole file.
    pub path: String,
    pub line: Option<usize>,
    pub col: Option<usize>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Mixtures may nest this deep: deeper is surely a mistake, and the sampler recurses once per
/// level for every draw.
const MAX_MIXTURE_DEPTH: usize = 8;

/// Collects every problem found, so a user fixing a scenario sees the whole list at once.
pub(super) struct Checker {
    pub(super) problems: Vec<Problem>,
}

impl Checker {
    pub(super) fn err(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.problems.push(Problem {
            path: path.into(),
            line: None,
            col: None,
            message: short_numbers(message.into()),
        });
    }

    pub(super) fn duration(&mut self, path: &str, text: &str) -> Option<SimDuration> {
        match parse_duration(text) {
            Ok(d) => Some(d),
            Err(e) => {
                self.err(path, e.to_string());
                None
            }
        }
    }

    pub(super) fn positive_duration(&mut self, path: &str, text: &str) -> Option<SimDuration> {
        let d = self.duration(path, text)?;
        if d.0 == 0 {
            self.err(path, format!("must be longer than zero, got \"{text}\""));
            return None;
        }
        Some(d)
    }

    /// An integer in [min, max]; `what` says what it counts.
    pub(super) fn count(
        &mut self,
        path: &str,
        v: Option<i64>,
        default: i64,
        min: i64,
        max: i64,
        what: &str,
    ) -> u64 {
        let x = v.unwrap_or(default);
        if x < min || x > max {
            self.err(
                path,
                format!("{what} must be between {min} and {max}, got {x}"),
            );
            return min.max(0) as u64;
        }
        x as u64
    }

    pub(super) fn probability(&mut self, path: &str, p: f64) -> f64 {
        if !(0.0..=1.0).contains(&p) {
            self.err(
                path,
                format!("a probability must be between 0 and 1, got {p}"),
            );
            return 0.0;
        }
        p
    }

    pub(super) fn rate(&mut self, path: &str, r: f64) -> f64 {
        if !r.is_finite() || r < 0.0 {
            self.err(
                path,
                format!(
                    "a rate must be a finite number of requests per second, zero or more, got {r}"
                ),
            );
            return 0.0;
        }
        if r > 1e9 {
            self.err(
                path,
                format!("{r} requests per second is above the supported 1e9 per client"),
            );
            return 0.0;
        }
        r
    }

    pub(super) fn dist(&mut self, path: &str, d: &RawDist, depth: usize) -> Option<Dist> {
        let ns = |d: SimDuration| d.0 as f64;
        match d {
            RawDist::Constant(v) => Some(Dist::constant_ns(self.duration(path, v)?.0)),
            RawDist::Exponential { mean } => {
                let m = self.positive_duration(&format!("{path}.mean"), mean)?;
                Some(Dist::exponential_mean_ns(ns(m)))
            }
            RawDist::Uniform { min, max } => {
                let lo = self.duration(&format!("{path}.min"), min);
                let hi = self.duration(&format!("{path}.max"), max);
                let (lo, hi) = (lo?, hi?);
                if lo > hi {
                    self.err(
                        format!("{path}.max"),
                        format!("max ({max}) must not be below min ({min})"),
                    );
                    return None;
                }
                Some(Dist::Uniform {
                    min_ns: ns(lo),
                    max_ns: ns(hi),
                })
            }
            RawDist::Normal { mean, std_dev } => {
                let m = self.duration(&format!("{path}.mean"), mean);
                let s = self.duration(&format!("{path}.std_dev"), std_dev);
                Some(Dist::Normal {
                    mean_ns: ns(m?),
                    std_dev_ns: ns(s?),
                })
            }
            RawDist::LogNormal { median, p99 } => {
                let m = self.positive_duration(&format!("{path}.median"), median);
                let p = self.positive_duration(&format!("{path}.p99"), p99);
                let (m, p) = (m?, p?);
                if p <= m {
                    self.err(
                        format!("{path}.p99"),
                        format!("p99 ({p99}) must be above the median ({median})"),
                    );
                    return None;
                }
                Some(Dist::lognormal_from_median_p99(ns(m), ns(p)))
            }
            RawDist::Mixture(parts) => {
                if depth >= MAX_MIXTURE_DEPTH {
                    self.err(
                        path,
                        format!("mixtures may nest at most {MAX_MIXTURE_DEPTH} deep"),
                    );
                    return None;
                }
                if parts.is_empty() {
                    self.err(path, "a mixture needs at least one part, e.g. Mixture([(weight: 1.0, dist: Constant(\"1ms\"))])");
                    return None;
                }
                let mut out = Vec::new();
                let mut ok = true;
                for (i, part) in parts.iter().enumerate() {
                    let p = format!("{path}[{i}]");
                    if !part.weight.is_finite() || part.weight < 0.0 {
                        self.err(
                            format!("{p}.weight"),
                            format!("a weight must be zero or more, got {}", part.weight),
                        );
                        ok = false;
                    }
                    match self.dist(&format!("{p}.dist"), &part.dist, depth + 1) {
                        Some(d) => out.push((part.weight, d)),
                        None => ok = false,
                    }
                }
                if ok && out.iter().map(|(w, _)| w).sum::<f64>() <= 0.0 {
                    self.err(
                        path,
                        "the weights of a mixture must add up to more than zero",
                    );
                    return None;
                }
                ok.then(|| Dist::mixture(out))
            }
        }
    }
}

/// Edit distance, for "did you mean" hints.
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            cur.push(
                (prev[j] + usize::from(ca != *cb))
                    .min(prev[j + 1] + 1)
                    .min(cur[j] + 1),
            );
        }
        prev = cur;
    }
    prev[b.len()]
}

pub(super) fn unknown_name(kind: &str, name: &str, known: &[&str]) -> String {
    let best = known.iter().min_by_key(|k| distance(name, k));
    let list = if known.is_empty() {
        "none is defined".to_string()
    } else {
        format!(
            "known: {}",
            known
                .iter()
                .map(|k| format!("\"{k}\""))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    match best {
        Some(b) if distance(name, b) <= 2.max(name.len() / 3) => {
            format!("no {kind} is named \"{name}\"; did you mean \"{b}\"? ({list})")
        }
        _ => format!("no {kind} is named \"{name}\" ({list})"),
    }
}

/// Which of a caller's calls `written` names: `callee`, or `callee#n` for the n-th of several
/// calls to one callee (counted from 1, in the order `calls` lists them). `callees` holds each
/// call's callee name in that order; `prefix` is put before a suggested name (`"api -> "` where
/// a call is written as an edge, `""` where the caller is implied). `Err(None)`: no call goes
/// to that name (the caller words that error, it knows what to suggest); `Err(Some(why))`: the
/// name is there but `#n` is missing, not a number or out of range.
pub(super) fn call_of(
    callees: &[&str],
    written: &str,
    caller: &str,
    prefix: &str,
) -> Result<usize, Option<String>> {
    let (name, ordinal) = match written.rsplit_once('#') {
        Some((n, k)) if callees.contains(&n.trim()) => (n.trim(), Some(k.trim())),
        _ => (written.trim(), None),
    };
    let at: Vec<usize> = (0..callees.len()).filter(|&i| callees[i] == name).collect();
    if at.is_empty() {
        return Err(None);
    }
    let choices = match at.len() {
        2 => format!("\"{prefix}{name}#1\" or \"{prefix}{name}#2\""),
        n => format!("\"{prefix}{name}#1\" to \"{prefix}{name}#{n}\""),
    };
    match ordinal {
        None if at.len() == 1 => Ok(at[0]),
        None => Err(Some(format!(
            "\"{caller}\" calls \"{name}\" {} times; say which call: {choices}, in the order of its `calls`",
            at.len()
        ))),
        Some(k) => match k.parse::<usize>() {
            Ok(n) if (1..=at.len()).contains(&n) => Ok(at[n - 1]),
            _ => Err(Some(format!(
                "\"{prefix}{written}\": \"{caller}\" calls \"{name}\" {} time(s); its calls to it are {}",
                at.len(),
                if at.len() == 1 { format!("written \"{prefix}{name}\"") } else { choices }
            ))),
        },
    }
}

/// `message` with every number printed in more than 24 characters (a float's full expansion:
/// `1e308` prints as 309 digits, `1e-300` as 300 zeros) written in exponent form instead, the
/// same value in a form a reader can take in.
pub(super) fn short_numbers(message: String) -> String {
    let is_num = |c: char| c.is_ascii_digit() || c == '.';
    if !message.contains(|c: char| c.is_ascii_digit()) {
        return message;
    }
    let mut out = String::with_capacity(message.len());
    let mut rest = message.as_str();
    while let Some(i) = rest.find(is_num) {
        out.push_str(&rest[..i]);
        let run_len = rest[i..]
            .find(|c: char| !is_num(c))
            .unwrap_or(rest.len() - i);
        let run = &rest[i..i + run_len];
        match run.parse::<f64>() {
            Ok(v) if run.len() > 24 => out.push_str(&format!("{v:e}")),
            _ => out.push_str(run),
        }
        rest = &rest[i + run_len..];
    }
    out.push_str(rest);
    out
}
