//! Fault-schedule search: draws schedules from a scenario's `fault_space`, runs each, judges the
//! scenario's `expect` list, ranks the schedules that break it by how badly, and shrinks a
//! failing schedule to a smaller one that still fails: fewer faults, on fewer replicas, shorter,
//! softer, at rounder times.
//!
//! A schedule becomes plain scenario text (scripted faults appended to the file's own), so a
//! finding is a file `faultline check` fails and `faultline run`/`replay` reproduce. Schedule
//! `k` is drawn from its own stream (`search:k`), so what a search finds does not depend on
//! threads or order. It knows nothing of the command line; `store.rs` keeps the journal that
//! makes a search resumable and shardable, `page.rs` writes what it found.

use crate::check::{judge, Verdict};
use crate::engine::{format_duration, RngStream};
use crate::report;
use crate::scenario::{self, overrides, FaultSpace, Overrides, SpanIndex};

pub mod page;
pub mod store;

/// One drawn fault: kind `kind` of the space, from `at_ms` for `for_ms`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Drawn {
    pub at_ms: u64,
    pub for_ms: u64,
    pub kind: usize,
    /// Times its strength was halved by shrinking (see [`soften`]); 0 as drawn.
    pub softened: u8,
    /// Set by shrinking: the kind's `n`-th quoted service name narrowed to replica `r`
    /// (`"db"` to `"db/1"`, see [`narrow`]).
    pub narrowed: Option<(u8, u32)>,
}

/// Why a schedule could not be judged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SearchError {
    /// The schedule's scenario is not valid (a kind the file format refuses once shrunk).
    Invalid(String),
    /// A run stopped at one of the scenario's limits.
    Limit(String),
}

impl std::fmt::Display for SearchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SearchError::Invalid(e) => write!(f, "{e}"),
            SearchError::Limit(e) => write!(f, "a run stopped early: {e}"),
        }
    }
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
        let scale = libm::pow(0.5, n as f64);
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

/// The quoted names in a fault kind's text, in order, with their byte ranges (quotes excluded).
fn quoted(kind: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut open = None;
    for (i, c) in kind.char_indices() {
        if c == '"' {
            match open.take() {
                None => open = Some(i + 1),
                Some(a) => out.push((a, i)),
            }
        }
    }
    out
}

/// A fault kind's text with its `n`-th quoted name (a service) narrowed to replica `replica`:
/// `Hang("db")` to `Hang("db/1")`. None when there is no such name.
pub fn narrow(kind: &str, n: u8, replica: u32) -> Option<String> {
    let &(a, b) = quoted(kind).get(n as usize)?;
    let mut out = kind.to_string();
    out.replace_range(a..b, &format!("{}/{replica}", &kind[a..b]));
    Some(out)
}

/// Where a kind may be narrowed: each quoted name that is a service of more than one replica,
/// as (its place among the quoted names, its replicas).
fn narrowable(kind: &str, services: &[(String, u32)]) -> Vec<(u8, u32)> {
    quoted(kind)
        .iter()
        .enumerate()
        .filter_map(|(k, &(a, b))| {
            let name = &kind[a..b];
            services
                .iter()
                .find(|(s, n)| s == name && *n > 1)
                .map(|&(_, n)| (k as u8, n))
        })
        .collect()
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
    /// Each service's name and replicas at the start (what narrowing may pick from).
    pub services: Vec<(String, u32)>,
    /// The run's simulated length.
    pub duration_ms: u64,
    /// The seeds each schedule runs with (`--seeds`); just the file's when not given.
    pub seeds: Vec<u64>,
}

impl Space {
    /// Run `k` of a search: schedule `k / seeds`, with seed `k % seeds` (every schedule is
    /// tried with every seed, one after another).
    pub fn run(&self, k: u64) -> (Vec<Drawn>, u64) {
        let n = self.seeds.len().max(1) as u64;
        let seed = self
            .seeds
            .get((k % n) as usize)
            .copied()
            .unwrap_or(self.seed);
        (draw(self, k / n), seed)
    }

    /// Judges run `k`.
    pub fn judge_run(&self, k: u64) -> Result<Judged, SearchError> {
        let (schedule, seed) = self.run(k);
        evaluate(self, &schedule, Some(seed))
    }
}

/// One schedule judged.
#[derive(Clone, Debug)]
pub struct Judged {
    pub schedule: Vec<Drawn>,
    /// The seed it ran with.
    pub seed: u64,
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
    let services = sc
        .system
        .services
        .iter()
        .map(|s| (s.name.clone(), s.initial_replicas))
        .collect();
    Ok(Space {
        file: file.to_string(),
        base,
        kinds,
        own_faults,
        space,
        seed: sc.seed,
        services,
        duration_ms: sc.duration.0 / 1_000_000,
        seeds: vec![sc.seed],
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
            narrowed: None,
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

/// A finding's scenario text: `judged`'s schedule, and its seed when it is not the file's.
pub fn text_with_seed(s: &Space, judged: &Judged) -> String {
    let text = text_of(s, &judged.schedule);
    if judged.seed == s.seed {
        return text;
    }
    overrides::apply(&text, &[("seed".to_string(), judged.seed.to_string())]).unwrap_or(text)
}

/// The kind of `d` as written into a schedule, softened and narrowed as shrinking left it.
fn kind_text(s: &Space, d: &Drawn) -> String {
    let base = &s.kinds[d.kind];
    let soft = match d.softened {
        0 => base.clone(),
        n => soften(base, n).unwrap_or_else(|| base.clone()),
    };
    match d.narrowed {
        Some((k, r)) => narrow(&soft, k, r).unwrap_or(soft),
        None => soft,
    }
}

/// Runs `schedule` (with `seed`, or the file's) and judges it.
pub fn evaluate(s: &Space, schedule: &[Drawn], seed: Option<u64>) -> Result<Judged, SearchError> {
    let text = text_of(s, schedule);
    let o = Overrides {
        seed,
        ..Default::default()
    };
    let sc =
        scenario::from_str(&text, &s.file, &o).map_err(|e| SearchError::Invalid(e.to_string()))?;
    let (a, stopped) = report::run_and_analyse(&sc, "");
    if let Some(hit) = stopped {
        return Err(SearchError::Limit(hit.to_string()));
    }
    let verdicts = judge(&sc, &a);
    let miss = verdicts.iter().map(|v| v.miss).sum();
    Ok(Judged {
        schedule: schedule.to_vec(),
        seed: sc.seed,
        verdicts,
        miss,
    })
}

/// Round `x` to the nearest multiple of `unit`.
fn round_to(x: u64, unit: u64) -> u64 {
    (x + unit / 2) / unit * unit
}

/// The units a time is rounded to while shrinking, coarsest first.
const ROUND_MS: [u64; 4] = [10_000, 5_000, 1_000, 100];

/// A shrink in progress: the smallest failing schedule so far and the runs spent.
struct Shrinker<'a> {
    s: &'a Space,
    best: Judged,
    runs: usize,
    budget: usize,
}

impl Shrinker<'_> {
    /// Runs `trial` and keeps it if it still fails. A trial the file format refuses (a
    /// narrowed target a kind does not take) counts as one that passes; none is run once the
    /// budget is spent.
    fn attempt(&mut self, trial: Vec<Drawn>) -> Result<bool, SearchError> {
        if self.runs >= self.budget || trial == self.best.schedule {
            return Ok(false);
        }
        self.runs += 1;
        match evaluate(self.s, &trial, Some(self.best.seed)) {
            Ok(j) if j.fails() => {
                self.best = j;
                Ok(true)
            }
            Ok(_) | Err(SearchError::Invalid(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The best schedule with fault `i` changed by `f`.
    fn with(&self, i: usize, f: impl FnOnce(&mut Drawn)) -> Vec<Drawn> {
        let mut t = self.best.schedule.clone();
        f(&mut t[i]);
        t
    }
}

/// A smaller schedule that still fails, found greedily, each step kept only if the schedule
/// still fails: faults dropped one at a time; a fault on every replica of a service narrowed
/// to one of its first three; each fault halved in length (not below the space's shortest);
/// its strength halved (at most 6 times); then moved: started with the fault before it, and
/// its start rounded (and its length rounded down) to the coarsest of 10 s, 5 s, 1 s, 100 ms
/// that still fails.
/// Returns it judged (faults in start order) and the runs spent (at most `budget`).
pub fn shrink(s: &Space, failing: &Judged, budget: usize) -> Result<(Judged, usize), SearchError> {
    let mut sh = Shrinker {
        s,
        best: failing.clone(),
        runs: 0,
        budget,
    };
    let mut i = 0;
    while i < sh.best.schedule.len() && sh.best.schedule.len() > 1 && sh.runs < budget {
        let mut trial = sh.best.schedule.clone();
        trial.remove(i);
        if !sh.attempt(trial)? {
            i += 1;
        }
    }
    for i in 0..sh.best.schedule.len() {
        let kind = &s.kinds[sh.best.schedule[i].kind];
        'narrowed: for (k, replicas) in narrowable(kind, &s.services) {
            for r in 0..replicas.min(3) {
                if sh.attempt(sh.with(i, |d| d.narrowed = Some((k, r))))? {
                    break 'narrowed;
                }
            }
        }
    }
    let shortest = (s.space.durations.0 .0 / 1_000_000).max(1);
    for i in 0..sh.best.schedule.len() {
        while sh.best.schedule[i].for_ms / 2 >= shortest
            && sh.attempt(sh.with(i, |d| d.for_ms /= 2))?
        {}
    }
    // A slowdown's factor, an error rate, a surge's multiplier: halfway toward harmless.
    for i in 0..sh.best.schedule.len() {
        while sh.best.schedule[i].softened < 6
            && soften(&s.kinds[sh.best.schedule[i].kind], 1).is_some()
            && sh.attempt(sh.with(i, |d| d.softened += 1))?
        {}
    }
    // Moves: together with the fault before, then to round times.
    for i in 1..sh.best.schedule.len() {
        let prev = sh.best.schedule[i - 1].at_ms;
        sh.attempt(sh.with(i, |d| d.at_ms = prev))?;
    }
    let window_ms = (
        s.space.window.0 .0 / 1_000_000,
        s.space.window.1 .0 / 1_000_000,
    );
    for i in 0..sh.best.schedule.len() {
        for unit in ROUND_MS {
            let at = round_to(sh.best.schedule[i].at_ms, unit);
            if (window_ms.0..=window_ms.1).contains(&at)
                && sh.attempt(sh.with(i, |d| d.at_ms = at))?
            {
                break;
            }
        }
        for unit in ROUND_MS {
            // Down, never up: a shrunk fault is never longer than it was.
            let length = sh.best.schedule[i].for_ms / unit * unit;
            if length >= shortest && sh.attempt(sh.with(i, |d| d.for_ms = length))? {
                break;
            }
        }
    }
    let mut best = sh.best;
    best.schedule.sort();
    Ok((best, sh.runs))
}

/// A failing schedule shrunk and tried on other seeds.
#[derive(Clone, Debug)]
pub struct Finding {
    /// The schedule's index among those drawn.
    pub index: usize,
    /// As drawn.
    pub original: Judged,
    /// As shrunk (with the seed it failed with).
    pub shrunk: Judged,
    /// The runs shrinking took.
    pub runs: usize,
    /// The other seeds tried: the seed it failed with plus 1, 2, ...
    pub seeds_tried: u64,
    /// On how many of them the shrunk schedule fails too.
    pub held: u64,
}

impl Finding {
    /// What the shrunk schedule breaks: `expect[0]: availability >= 98.00% (system)
    /// (measured 97.35%)`, one per failing expectation.
    pub fn failures(&self) -> Vec<String> {
        self.shrunk
            .verdicts
            .iter()
            .filter(|v| !v.pass)
            .map(|v| format!("{}: {} (measured {})", v.path, v.claim, v.measured))
            .collect()
    }

    /// Where it came from: `schedule 17`, or `schedule 3 with seed 2` when the search tried
    /// several seeds.
    pub fn origin(&self, s: &Space) -> String {
        let n = s.seeds.len().max(1);
        if n == 1 {
            format!("schedule {}", self.index)
        } else {
            format!(
                "schedule {} with seed {}",
                self.index / n,
                self.original.seed
            )
        }
    }
}

/// Shrinks run `index` (which fails as `original`) within `shrink_runs` runs and tries the
/// result on `seeds_tried` other seeds.
pub fn finding(
    s: &Space,
    index: usize,
    original: &Judged,
    shrink_runs: usize,
    seeds_tried: u64,
) -> Result<Finding, SearchError> {
    let (shrunk, runs) = shrink(s, original, shrink_runs)?;
    let mut held = 0;
    for extra in 1..=seeds_tried {
        if evaluate(s, &shrunk.schedule, Some(shrunk.seed.wrapping_add(extra)))?.fails() {
            held += 1;
        }
    }
    Ok(Finding {
        index,
        original: original.clone(),
        shrunk,
        runs,
        seeds_tried,
        held,
    })
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
