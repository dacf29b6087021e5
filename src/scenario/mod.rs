//! Scenario files: RON text in, a validated [`Scenario`] out, or every problem at once with
//! file, line:column, field path and what is allowed.
//!
//! This layer owns the file format (names, human durations, defaults) and error reporting. It
//! hands the model a [`SystemSpec`] in which every reference is an index and every value is
//! checked, so the model never has to report a user's mistake.

mod autoscale;
mod check;
mod endpoints;
pub mod expect;
mod faults;
pub mod overrides;
mod policies;
pub mod rare;
mod raw;
mod spans;
mod validate;
mod warnings;

pub use check::Problem;
pub use faults::Slo;
pub use raw::RawScenario;
pub use spans::SpanIndex;
pub use validate::{events_per_request, DEFAULT_MAX_EVENTS};
pub use warnings::render as render_warnings;

use crate::engine::{stable_hash_bytes, SimDuration};
use crate::model::SystemSpec;
use std::path::Path;

/// A validated scenario: the system plus how to run it.
#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub seed: u64,
    pub duration: SimDuration,
    /// Measurements start here.
    pub warmup: SimDuration,
    pub limits: ScenarioLimits,
    pub system: SystemSpec,
    /// What "recovered" means in fault figures.
    pub slo: Slo,
    /// What the author claims a run shows (`expect`), judged per variant by `faultline check`.
    pub expect: Vec<expect::Expectation>,
    /// What `faultline search` draws fault schedules from (None: the file has no `fault_space`).
    pub fault_space: Option<FaultSpace>,
    /// The rare event `faultline search --splitting` estimates (None: the file has no `rare`).
    pub rare: Option<rare::Rare>,
    /// Named variants (A/B): the same scenario with some fields replaced, each validated like
    /// the file. Empty when the file declares none. Variants have no variants of their own.
    pub variants: Vec<(String, Scenario)>,
    /// What is valid but surely unintended (a fault after the run's end, a field with no
    /// effect), in file order; callers print them and go on. A variant's own are listed here
    /// too, under `variants[k]`.
    pub warnings: Vec<Problem>,
}

impl Scenario {
    /// What a run of the file runs: the scenario itself (named `base`), or each of its
    /// variants (same seed, same streams).
    pub fn runs(&self) -> Vec<(String, &Scenario)> {
        if self.variants.is_empty() {
            vec![("base".to_string(), self)]
        } else {
            self.variants.iter().map(|(n, v)| (n.clone(), v)).collect()
        }
    }
}

/// The space `faultline search` draws fault schedules from: each drawn fault is one of `kinds`
/// (the file's `fault_space.faults[k]`, validated as a scripted fault would be), starting in
/// `window` and lasting within `durations`; at most `max_faults` at once.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultSpace {
    pub kinds: usize,
    pub max_faults: u32,
    pub window: (SimDuration, SimDuration),
    pub durations: (SimDuration, SimDuration),
}

/// The most faults a search draws into one schedule.
pub const MAX_SEARCH_FAULTS: i64 = 8;

/// The most variants a scenario may declare.
pub const MAX_VARIANTS: usize = 8;

/// Bounds on a run (the scenario's `limits` section).
#[derive(Clone, Copy, Debug)]
pub struct ScenarioLimits {
    pub max_events: u64,
    pub max_pending_events: u64,
    pub max_live_requests: u32,
}

/// Values given on the command line that replace the file's own.
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    pub seed: Option<u64>,
    pub duration: Option<SimDuration>,
    pub max_events: Option<u64>,
}

/// Why a scenario could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error(
        "cannot read scenario file {file}: {source} (check the path; scenarios ship in scenarios/)"
    )]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{}", render_problems(.file, .problems))]
    Invalid {
        file: String,
        problems: Vec<Problem>,
    },
}

impl ScenarioError {
    pub fn problems(&self) -> &[Problem] {
        match self {
            ScenarioError::Read { .. } => &[],
            ScenarioError::Invalid { problems, .. } => problems,
        }
    }
}

/// `PREFIXfile:line:col: path: message`, one line each (problems and warnings alike).
fn render_lines(prefix: &str, file: &str, problems: &[Problem]) -> String {
    let mut out = String::new();
    for p in problems {
        out.push_str(prefix);
        out.push_str(file);
        if let (Some(l), Some(c)) = (p.line, p.col) {
            out.push_str(&format!(":{l}:{c}"));
        }
        out.push_str(": ");
        if !p.path.is_empty() {
            out.push_str(&p.path);
            out.push_str(": ");
        }
        out.push_str(&p.message);
        out.push('\n');
    }
    out
}

fn render_problems(file: &str, problems: &[Problem]) -> String {
    let mut out = render_lines("", file, problems);
    let n = problems.len();
    out.push_str(&format!(
        "{n} problem{} in {file}; the scenario reference is docs/scenario.md",
        if n == 1 { "" } else { "s" }
    ));
    out
}

/// A scenario read from a file, with the text it came from.
#[derive(Clone, Debug)]
pub struct Loaded {
    pub scenario: Scenario,
    pub text: String,
    /// FNV-1a 64 of the file's bytes, as 16 hex digits.
    pub file_hash: String,
}

/// The largest scenario file read: scenarios are small text files (the largest shipped is a
/// few KB; 100,000 scripted faults take about 8 MB), and reading stops here, so a wrong path
/// such as `/dev/zero` fails at once instead of filling memory.
pub const MAX_FILE_BYTES: u64 = 64 << 20;

/// The text of a scenario file: at most [`MAX_FILE_BYTES`], UTF-8, a leading byte order mark
/// dropped (editors on Windows write one; it is not part of the RON).
pub fn read_text(path: &Path) -> Result<String, ScenarioError> {
    use std::io::Read;
    let file = path.display().to_string();
    let read_err = |source| ScenarioError::Read {
        file: file.clone(),
        source,
    };
    let one = |message: String| ScenarioError::Invalid {
        file: file.clone(),
        problems: vec![Problem {
            path: String::new(),
            line: None,
            col: None,
            message,
        }],
    };
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes))
        .map_err(read_err)?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(one(format!(
            "the file is larger than {} MB; a scenario is a small RON text file (is this the right path?)",
            MAX_FILE_BYTES >> 20
        )));
    }
    let mut text = String::from_utf8(bytes).map_err(|e| {
        one(format!(
            "the file is not UTF-8 text (invalid byte at offset {}); a scenario is a RON text file",
            e.utf8_error().valid_up_to()
        ))
    })?;
    if text.starts_with('\u{feff}') {
        text.drain(..'\u{feff}'.len_utf8());
    }
    Ok(text)
}

/// Reads and validates a scenario file.
pub fn load_file(path: &Path, overrides: &Overrides) -> Result<Loaded, ScenarioError> {
    let file = path.display().to_string();
    let text = read_text(path)?;
    let scenario = from_str(&text, &file, overrides)?;
    Ok(Loaded {
        scenario,
        file_hash: format!("{:016x}", stable_hash_bytes(text.as_bytes())),
        text,
    })
}

/// Parses and validates scenario text; `file` names it in messages.
pub fn from_str(text: &str, file: &str, overrides: &Overrides) -> Result<Scenario, ScenarioError> {
    let mut scenario = from_str_one(text, file, overrides)?;
    let raw = parse(text).map_err(|p| ScenarioError::Invalid {
        file: file.to_string(),
        problems: vec![p],
    })?;
    if raw.variants.is_empty() {
        return Ok(scenario);
    }
    let spans = SpanIndex::build(text);
    let base = overrides::without_variants(text);
    let mut problems = Vec::new();
    let mut at = |path: String, message: String| {
        let (line, col) = spans.lookup(&path).unzip();
        problems.push(Problem {
            path,
            line,
            col,
            message,
        });
    };
    if raw.variants.len() > MAX_VARIANTS {
        at(
            "variants".into(),
            format!(
                "at most {MAX_VARIANTS} variants, got {} (each one is a whole run)",
                raw.variants.len()
            ),
        );
    }
    for (k, v) in raw.variants.iter().enumerate() {
        let vp = format!("variants[{k}]");
        // It names a directory: starting with a letter or digit keeps `.` and `..` out.
        let ok_name = v.name.starts_with(|c: char| c.is_ascii_alphanumeric())
            && v.name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_+.".contains(c));
        if !ok_name {
            at(
                format!("{vp}.name"),
                format!("`{}`: a variant name is letters, digits and - _ + ., starting with a letter or digit (it names a directory and a column)", v.name),
            );
            continue;
        }
        if raw.variants[..k].iter().any(|o| o.name == v.name) {
            at(
                format!("{vp}.name"),
                format!("`{}` is used by an earlier variant", v.name),
            );
            continue;
        }
        let mut edits = Vec::new();
        for key in v.set.keys() {
            let kp = format!("{vp}.set.{key}");
            let value = spans.range(&kp).map(|(a, b)| text[a..b].to_string());
            match (overrides::resolve(&raw, key), value) {
                (Ok(path), Some(value)) => edits.push((path, value)),
                (Err(e), _) => at(kp, e),
                (_, None) => at(kp, "could not find this value's text in the file".into()),
            }
        }
        let vtext = match overrides::apply(&base, &edits) {
            Ok(t) => t,
            Err(e) => {
                at(format!("{vp}.set"), e);
                continue;
            }
        };
        match from_str_one(&vtext, file, overrides) {
            Ok(mut sc) => {
                // The variant's text is rewritten, so its lines are not the file's: its own
                // warnings (those the file without it does not have) point at the variant.
                let (line, col) = spans.lookup(&vp).unzip();
                for w in std::mem::take(&mut sc.warnings) {
                    if !scenario
                        .warnings
                        .iter()
                        .any(|b| b.path == w.path && b.message == w.message)
                    {
                        scenario.warnings.push(Problem {
                            path: vp.clone(),
                            line,
                            col,
                            message: format!("variant `{}`: {}: {}", v.name, w.path, w.message),
                        });
                    }
                }
                scenario.variants.push((v.name.clone(), sc));
            }
            Err(e) => {
                for p in e.problems() {
                    at(
                        format!("{vp}.set"),
                        format!(
                            "variant `{}`: {}{}",
                            v.name,
                            if p.path.is_empty() {
                                String::new()
                            } else {
                                format!("{}: ", p.path)
                            },
                            p.message
                        ),
                    );
                }
            }
        }
    }
    if problems.is_empty() {
        Ok(scenario)
    } else {
        Err(ScenarioError::Invalid {
            file: file.to_string(),
            problems,
        })
    }
}

/// One scenario, its variants ignored.
fn from_str_one(text: &str, file: &str, overrides: &Overrides) -> Result<Scenario, ScenarioError> {
    let invalid = |problems| ScenarioError::Invalid {
        file: file.to_string(),
        problems,
    };
    let mut raw = parse(text).map_err(|p| invalid(vec![p]))?;
    if let Some(seed) = overrides.seed {
        raw.seed = Some(seed);
    }
    if let Some(d) = overrides.duration {
        raw.duration = Some(format!("{}ns", d.0));
    }
    if let Some(m) = overrides.max_events {
        raw.limits.max_events = Some(m.min(i64::MAX as u64) as i64);
    }
    validate::validate(&raw).map_err(|mut problems| {
        let spans = SpanIndex::build(text);
        for p in &mut problems {
            if let Some((l, c)) = spans.lookup(&p.path) {
                p.line = Some(l);
                p.col = Some(c);
            }
        }
        if overrides.duration.is_some() {
            for p in problems
                .iter_mut()
                .filter(|p| p.path == "duration" || p.path == "warmup")
            {
                p.message.push_str(if p.path == "warmup" {
                    " (the duration was given with --duration: give a longer one; the warm-up is the file's)"
                } else {
                    " (the duration was given with --duration)"
                });
            }
        }
        // In file order, so the list reads top to bottom like the file (stable for ties).
        problems.sort_by_key(|p| (p.line.unwrap_or(0), p.col.unwrap_or(0)));
        invalid(problems)
    })
    .map(|mut sc| {
        sc.warnings = warnings::find(&raw, &sc, text);
        sc
    })
}

/// The raw schema of `text`, or its one syntax or type error as text (for sweeps, which name
/// fields by path before anything is validated).
pub fn parse_raw(text: &str) -> Result<RawScenario, String> {
    parse(text).map_err(|p| match (p.line, p.col) {
        (Some(l), Some(c)) => format!("{l}:{c}: {}", p.message),
        _ => p.message,
    })
}

/// RON text to the raw schema. Syntax and type errors stop the parser, so this reports one.
fn parse(text: &str) -> Result<RawScenario, Problem> {
    use ron::extensions::Extensions;
    let options = ron::Options::default().with_default_extension(Extensions::IMPLICIT_SOME);
    let mut de = match ron::Deserializer::from_str_with_options(text, &options) {
        Ok(de) => de,
        Err(e) => return Err(spanned_problem(String::new(), &e, text)),
    };
    let result: Result<RawScenario, _> = serde_path_to_error::deserialize(&mut de);
    match result {
        Ok(raw) => {
            if let Err(e) = de.end() {
                return Err(spanned_problem(String::new(), &de.span_error(e), text));
            }
            Ok(raw)
        }
        Err(e) => {
            let path = format_path(e.path());
            let spanned = de.span_error(e.into_inner());
            Err(spanned_problem(path, &spanned, text))
        }
    }
}

fn format_path(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut out = String::new();
    for seg in path.iter() {
        match seg {
            Segment::Seq { index } => out.push_str(&format!("[{index}]")),
            Segment::Map { key } => {
                if !out.is_empty() {
                    out.push('.');
                }
                out.push_str(key);
            }
            // Enum variant names (`Open`, `Exponential`) are not part of field paths.
            Segment::Enum { .. } | Segment::Unknown => {}
        }
    }
    out
}

fn spanned_problem(path: String, e: &ron::error::SpannedError, text: &str) -> Problem {
    let (line, col) = (e.span.start.line, e.span.start.col);
    let (path, message) = plain_words(path, e.code.to_string(), text, line, col);
    Problem {
        path,
        line: Some(line),
        col: Some(col),
        message,
    }
}

/// The parser's message in a scenario author's words: what was expected, what was found at
/// `line:col` of `text`, and how to write it, without the parser's internal type names or its
/// advice to its own programmers. Returns the field path too, completed with the field's name
/// when the parser stopped after the value (a number that is not an integer).
fn plain_words(
    mut path: String,
    mut message: String,
    text: &str,
    line: usize,
    col: usize,
) -> (String, String) {
    // Our internal types (`RawBalancer`) are named in some messages: the field path already
    // says where, so drop `in enum ...`, and elsewhere name the type as the file writes it.
    for kind in [" in enum `Raw", " in struct `Raw"] {
        if let Some(a) = message.find(kind) {
            if let Some(b) = message[a + kind.len()..].find('`') {
                message.replace_range(a..a + kind.len() + b + 1, "");
            }
        }
    }
    message = message.replace("`Raw", "`");
    // The value where the parser stopped, and the text before it on the line.
    let at_line = text.lines().nth(line.saturating_sub(1)).unwrap_or("");
    let start = at_line
        .char_indices()
        .nth(col.saturating_sub(1))
        .map_or(at_line.len(), |(i, _)| i);
    let (before, rest) = at_line.split_at(start);
    let token: String = rest
        .trim_start()
        .chars()
        .take_while(|c| !matches!(c, ',' | ')' | ']' | '}') && !c.is_whitespace())
        .take(40)
        .collect();
    // A number before the stop: `workers: 2.5` stops at `.5`, `seed: 0.0` at `.0`.
    let number_start = before
        .trim_end_matches(|c: char| c.is_ascii_digit() || c == '-' || c == '+')
        .len();
    let number = &before[number_start..];
    let field_before = before[..number_start]
        .trim_end()
        .strip_suffix(':')
        .map(|f| {
            let f = f.trim_end();
            let s = f
                .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
                .map_or(0, |i| i + 1);
            f[s..].to_string()
        });
    let integer = "a whole number is expected here";
    if message == "Expected comma" && !number.is_empty() && token.starts_with(['.', 'e', 'E']) {
        if let Some(field) = field_before.filter(|f| !f.is_empty()) {
            if path.is_empty() {
                path = field;
            } else {
                path = format!("{path}.{field}");
            }
        }
        message =
            format!("{integer}, found {number}{token} (write it without a fraction or exponent)");
    } else if message.starts_with("Invalid digit") && message.contains("integer") {
        message = format!("{integer}, found {token} (write it in digits, without a fraction or exponent: 1000, not 1e3)");
    } else if message == "Expected string" && !token.starts_with('"') {
        message = format!(
            "a string in double quotes is expected here, found {token}{}",
            if token.starts_with(|c: char| c.is_ascii_digit())
                && token.ends_with(['s', 'm', 'h', 'd'])
            {
                " (durations are strings with a unit: \"2s\", \"150ms\", \"1m30s\")"
            } else {
                ""
            }
        );
    } else if message == "Expected identifier" && token.starts_with('"') {
        message = format!(
            "a name without quotes is expected here (a kind such as `Poisson` or `Full`), found {token}"
        );
    } else if message.starts_with("Found invalid std identifier")
        || message == "Expected identifier"
    {
        message = format!(
            "a name is expected here (a kind such as `Poisson`, `Full` or `Exponential(...)`; docs/scenario.md lists each field's), found {token}"
        );
    } else if message == "Integer is out of bounds" {
        let sign = if before.ends_with('-') { "-" } else { "" };
        message = format!(
            "{sign}{token} is out of range here (a whole number from 0 to 18446744073709551615)"
        );
    } else if message.starts_with("Exceeded recursion limit") {
        message = "nested too deeply for the parser (over 100 levels); flatten it: a `Mixture` lists all its components in one list".to_string();
        // The path repeats the nesting: keep its two ends.
        if path.len() > 80 {
            let head: String = path.chars().take(40).collect();
            let tail: String = path
                .chars()
                .rev()
                .take(30)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            path = format!("{head}...{tail}");
        }
    }
    if line == 1 && col <= 1 {
        message.push_str(" (a scenario is a RON file that starts with `(` or `Scenario(`; see scenarios/quickstart.ron)");
    }
    (path, message)
}
