//! Warnings: what a valid scenario says that is surely not what its author meant (a fault that
//! starts after the run has ended, a field the model ignores, a warm cache whose keys all
//! expire inside a fault window). They are printed and the run goes on (exit 0).
//!
//! This module reads the raw file (to know what was written) and the validated scenario (to
//! know what it means: the duration after `--duration`, the fault windows as expanded); it
//! does not refuse anything, which is `validate`'s job.

use super::raw::RawScenario;
use super::{Problem, Scenario, SpanIndex};
use crate::engine::{format_duration, parse_duration, SimTime};
use crate::model::FaultEffect;

/// The warnings for `raw` validated as `sc`, in file order; `text` is the file (for spans).
pub(super) fn find(raw: &RawScenario, sc: &Scenario, text: &str) -> Vec<Problem> {
    let spans = SpanIndex::build(text);
    let mut out = Vec::new();
    let mut warn = |path: String, message: String| {
        let (line, col) = spans.lookup(&path).unzip();
        out.push(Problem {
            path,
            line,
            col,
            message,
        });
    };
    let end = SimTime(sc.duration.0);

    for (i, f) in raw.faults.iter().enumerate() {
        let Some(at) = f.at.as_deref().and_then(|a| parse_duration(a).ok()) else {
            continue;
        };
        if at.0 >= end.0 {
            warn(
                format!("faults[{i}].at"),
                format!(
                    "this fault starts at {}, when the run has ended (duration {}): it never happens; give an earlier `at` or a longer duration",
                    format_duration(at.0),
                    format_duration(end.0)
                ),
            );
        }
    }

    for (i, s) in raw.services.iter().enumerate() {
        let path = format!("services[{i}].balancer");
        if s.active_passive.is_some() && spans.range(&path).is_some() {
            warn(
                path,
                "an active-passive service sends every request to its primary, so the balancer has no effect; remove it (or remove active_passive to balance over the replicas)".into(),
            );
        }
    }

    for (i, s) in raw.services.iter().enumerate() {
        for (j, call) in s.calls.iter().enumerate() {
            let Some(cache) = &call.cache else { continue };
            if cache.warm != Some(true) {
                continue;
            }
            let Ok(ttl) = parse_duration(&cache.ttl) else {
                continue;
            };
            let expiry = SimTime(ttl.0);
            if expiry >= end {
                continue;
            }
            // The first window (in start order) that holds the mass expiry; a flush is an
            // instant, not a window.
            let hit = sc
                .system
                .faults
                .iter()
                .filter(|w| !matches!(w.effect, FaultEffect::FlushCache { .. }))
                .filter(|w| w.start <= expiry && expiry < w.end.unwrap_or(end))
                .min_by_key(|w| (w.start, w.rule));
            if let Some(w) = hit {
                warn(
                    format!("services[{i}].calls[{j}].cache.ttl"),
                    format!(
                        "the cache is warm, so every key expires at once at {}, inside the fault `{}` ({} to {}): the misses' stampede and the fault land together and the report cannot tell them apart; give a ttl outside the fault, warm: false, or move the fault",
                        format_duration(ttl.0),
                        w.label,
                        format_duration(w.start.0),
                        w.end.map_or_else(|| "the end".into(), |e| format_duration(e.0)),
                    ),
                );
            }
        }
    }

    out.sort_by_key(|p| (p.line.unwrap_or(0), p.col.unwrap_or(0)));
    out
}

/// `warning: file:line:col: path: message`, one line per warning.
pub fn render(file: &str, warnings: &[Problem]) -> String {
    super::render_lines("warning: ", file, warnings)
}
