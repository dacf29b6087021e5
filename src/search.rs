//! Fault-schedule search: draws schedules from a scenario's `fault_space`, runs each, judges the
//! scenario's `expect` list, ranks the schedules that break it by how badly, and shrinks a
//! failing schedule to a smaller one that still fails (drop faults, then shorten them).
//!
//! A schedule becomes plain scenario text (scripted faults appended to the file's own), so a
//! finding is a file `faultline check` fails and `faultline run`/`replay` reproduce. Schedule
//! `k` is drawn from its own stream (`search:k`), so what a search finds does not depend on
//! threads or order. It knows nothing of the command line or of files on disk.

use crate::check::{judge, Verdict};
use crate::engine::{format_duration, RngStream};
use crate::report;
use crate::scenario::{self, overrides, FaultSpace, Overrides, SpanIndex};

/// One drawn fault: kind `kind` of the space, from `at_ms` for `for_ms`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Drawn {
    pub at_ms: u64,
    pub for_ms: u64,
    pub kind: usize,
    /// Times its strength was halved by shrinking (see [`soften`]); 0 as drawn.
    pub softened: u8,
}

/// A fault kind's text with its strength halved `n` times: a `factor` or `multiplier` moves
/// halfway to 1 each time, a `rate` halves. Kinds without such a field come back unchanged
/// (None when there was nothing to soften).
pub fn soften(kind: &str, n: u8) -> Option<String> {
    let mut out = kind.to_string();
    let mut changed = false;
    for (field, toward_one) in [("factor", true), ("multiplier", true), ("rate", false)] {
        let key = format!("{field}: ");
        let Some(k) = out.find(&key) else { continue };
        // `rate` inside another name (`error_rate`) is not this field.
        if out[..k].ends_with(|c: char| c.is_alphanumeric() || c == '_') {
            continue;
        }
        let start = k + key.len();
        let end = out[start..]
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == 'e' || c == '-'))
            .map_or(out.len(), |e| start + e);
        let Ok(x) = out[start..end].parse::<f64>() else {
            continue;
        };
        let scale = 0.5f64.powi(n as i32);
        let y = if toward_one {
            1.0 + (x - 1.0) * scale
        } else {
            x * scale
        };
        out.replace_range(start..end, &format!("{y:?}"));
        changed = true;
    }
    changed.then_some(out)
}

/// What a search draws from, read from the scenario's text.
pub struct Space {
    pub file: String,
    /// The scenario's text without its variants.
    pub base: String,
    /// The text of each `fault_space.faults[k]`.
    pub kinds: Vec<String>,
    /// The text of each of the file's own faults (kept in every schedule).
    pub own_faults: Vec<String>,
    pub space: FaultSpace,
    pub seed: u64,
}

/// One schedule judged.
#[derive(Clone, Debug)]
pub struct Judged {
    pub schedule: Vec<Drawn>,
    pub verdicts: Vec<Verdict>,
    /// The sum of the verdicts' misses (0: every expectation holds).
    pub miss: f64,
}

impl Judged {
    pub fn fails(&self) -> bool {
        self.verdicts.iter().any(|v| !v.pass)
    }
}

/// The search space of `text`, or why there is none.
pub fn prepare(text: &str, file: &str) -> Result<Space, Vec<String>> {
    let base = overrides::without_variants(text);
    let sc =
        scenario::from_str(&base, file, &Overrides::default()).map_err(|e| vec![e.to_string()])?;
    let Some(space) = sc.fault_space.clone() else {
        return Err(vec![format!(
            "{file}: no fault_space: say which faults a search may draw, e.g. fault_space: (faults: [Crash(\"db/0\"), Hang(\"api/1\")], max_faults: 2, window: (\"10s\", \"60s\"), durations: (\"1s\", \"20s\")) (docs/scenario.md)"
        )]);
    };
    if sc.expect.is_empty() {
        return Err(vec![format!(
            "{file}: no expect list: a search looks for schedules that break the scenario's expectations, e.g. expect: [Availability(at_least: 0.99)] (docs/scenario.md)"
        )]);
    }
    let spans = SpanIndex::build(&base);
    let slice = |path: String| spans.range(&path).map(|(a, b)| base[a..b].to_string());
    let kinds = (0..space.kinds)
        .map(|k| slice(format!("fault_space.faults[{k}]")))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| {
            vec![format!(
                "{file}: could not find fault_space.faults in the text"
            )]
        })?;
    let raw = scenario::parse_raw(&base).map_err(|e| vec![e])?;
    let own_faults = (0..raw.faults.len())
        .map(|k| slice(format!("faults[{k}]")))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| vec![format!("{file}: could not find faults in the text")])?;
    Ok(Space {
        file: file.to_string(),
        base,
        kinds,
        own_faults,
        space,
        seed: sc.seed,
    })
}

/// Schedule `index`: one to `max_faults` faults, kinds, starts and lengths drawn uniformly (to
/// the millisecond) from its own stream; in start order.
pub fn draw(s: &Space, index: u64) -> Vec<Drawn> {
    let mut rng = RngStream::derive(s.seed, &format!("search:{index}"), "schedule");
    let n = 1 + rng.below(s.space.max_faults as u64);
    let ms = |ns: u64| ns / 1_000_000;
    let (w0, w1) = (ms(s.space.window.0 .0), ms(s.space.window.1 .0));
    let (d0, d1) = (
        ms(s.space.durations.0 .0).max(1),
        ms(s.space.durations.1 .0).max(1),
    );
    let mut out: Vec<Drawn> = (0..n)
        .map(|_| Drawn {
            kind: rng.below(s.kinds.len() as u64) as usize,
            at_ms: w0 + rng.below(w1.saturating_sub(w0) + 1),
            for_ms: d0 + rng.below(d1.max(d0) - d0 + 1),
            softened: 0,
        })
        .collect();
    out.sort();
    out
}

/// The scenario text of `schedule`: the file's own faults, then the drawn ones as scripted
/// faults.
pub fn text_of(s: &Space, schedule: &[Drawn]) -> String {
    let mut items: Vec<String> = s.own_faults.clone();
    for d in schedule {
        items.push(format!(
            "(at: \"{}ms\", for: \"{}ms\", fault: {})",
            d.at_ms,
            d.for_ms,
            kind_text(s, d)
        ));
    }
    let list = format!("[\n        {},\n    ]", items.join(",\n        "));
    let text = overrides::apply(&s.base, &[("faults".to_string(), list)])
        .unwrap_or_else(|_| s.base.clone());
    // A list added to a file without one lands right after the opening parenthesis: give it
    // a line of its own, as the other fields have.
    text.replacen("(faults: [\n", "(\n    faults: [\n", 1)
        .replacen("\n    ], \n", "\n    ],\n", 1)
}

/// The kind of `d` as written into a schedule, softened as shrinking left it.
fn kind_text(s: &Space, d: &Drawn) -> String {
    match d.softened {
        0 => s.kinds[d.kind].clone(),
        n => soften(&s.kinds[d.kind], n).unwrap_or_else(|| s.kinds[d.kind].clone()),
    }
}

/// Runs `schedule` (with `seed`, or the file's) and judges it.
pub fn evaluate(s: &Space, schedule: &[Drawn], seed: Option<u64>) -> Result<Judged, String> {
    let text = text_of(s, schedule);
    let o = Overrides {
        seed,
        ..Default::default()
    };
    let sc = scenario::from_str(&text, &s.file, &o).map_err(|e| e.to_string())?;
    let (a, stopped) = report::run_and_analyse(&sc, "");
    if let Some(hit) = stopped {
        return Err(format!("a run stopped early: {hit}"));
    }
    let verdicts = judge(&sc, &a);
    let miss = verdicts.iter().map(|v| v.miss).sum();
    Ok(Judged {
        schedule: schedule.to_vec(),
        verdicts,
        miss,
    })
}

/// A smaller schedule that still fails: faults dropped one at a time while it still fails, then
/// each remaining fault halved in length while it still fails (not below the space's
/// shortest), then its strength halved while it still fails. Returns it judged, and the runs spent.
pub fn shrink(s: &Space, failing: &Judged, budget: usize) -> Result<(Judged, usize), String> {
    let mut best = failing.clone();
    let mut runs = 0;
    let mut i = 0;
    while i < best.schedule.len() && best.schedule.len() > 1 && runs < budget {
        let mut trial = best.schedule.clone();
        trial.remove(i);
        runs += 1;
        let j = evaluate(s, &trial, None)?;
        if j.fails() {
            best = j;
        } else {
            i += 1;
        }
    }
    let shortest = (s.space.durations.0 .0 / 1_000_000).max(1);
    for i in 0..best.schedule.len() {
        while best.schedule[i].for_ms / 2 >= shortest && runs < budget {
            let mut trial = best.schedule.clone();
            trial[i].for_ms /= 2;
            runs += 1;
            let j = evaluate(s, &trial, None)?;
            if !j.fails() {
                break;
            }
            best = j;
        }
    }
    // Then each fault's strength (a slowdown's factor, an error rate, a surge's multiplier),
    // halved toward harmless while it still fails, at most 6 times (1/64 of the way).
    for i in 0..best.schedule.len() {
        while best.schedule[i].softened < 6
            && runs < budget
            && soften(&s.kinds[best.schedule[i].kind], 1).is_some()
        {
            let mut trial = best.schedule.clone();
            trial[i].softened += 1;
            runs += 1;
            let j = evaluate(s, &trial, None)?;
            if !j.fails() {
                break;
            }
            best = j;
        }
    }
    Ok((best, runs))
}

/// One line per fault of a schedule, as the scenario would read.
pub fn describe(s: &Space, schedule: &[Drawn]) -> Vec<String> {
    schedule
        .iter()
        .map(|d| {
            format!(
                "{} at {} for {}",
                kind_text(s, d),
                format_duration(d.at_ms * 1_000_000),
                format_duration(d.for_ms * 1_000_000)
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::soften;

    #[test]
    fn softening_halves_the_strength_and_nothing_else() {
        let cases: &[(&str, u8, Option<&str>)] = &[
            (
                r#"Slowdown(target: "db", factor: 5.0)"#,
                1,
                Some(r#"Slowdown(target: "db", factor: 3.0)"#),
            ),
            (
                r#"Slowdown(target: "db", factor: 5.0)"#,
                2,
                Some(r#"Slowdown(target: "db", factor: 2.0)"#),
            ),
            (
                r#"Errors(target: "api/1", rate: 0.4)"#,
                1,
                Some(r#"Errors(target: "api/1", rate: 0.2)"#),
            ),
            (
                r#"Spike(client: "c", multiplier: 3.0)"#,
                1,
                Some(r#"Spike(client: "c", multiplier: 2.0)"#),
            ),
            (r#"Hang("db")"#, 1, None),
            (r#"Crash("db/0")"#, 3, None),
        ];
        for &(kind, n, want) in cases {
            assert_eq!(soften(kind, n).as_deref(), want, "{kind} x{n}");
        }
    }
}
