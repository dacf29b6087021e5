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
            d.at_ms, d.for_ms, s.kinds[d.kind]
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
/// shortest). Returns it judged, and the runs spent.
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
    Ok((best, runs))
}

/// One line per fault of a schedule, as the scenario would read.
pub fn describe(s: &Space, schedule: &[Drawn]) -> Vec<String> {
    schedule
        .iter()
        .map(|d| {
            format!(
                "{} at {} for {}",
                s.kinds[d.kind],
                format_duration(d.at_ms * 1_000_000),
                format_duration(d.for_ms * 1_000_000)
            )
        })
        .collect()
}
