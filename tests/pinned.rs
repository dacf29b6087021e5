//! Refactoring guard, not a right-answer test: it pins what every shipped scenario produces at
//! its own seed (the trace hash, the event count, and digests of the `summary.json` bytes and
//! of the time series), so a change that means to move code without changing behaviour (the
//! split of the model into concerns, say) can prove it did. The pinned values are whatever the
//! code produced when they were taken; they say nothing about whether those runs are right.
//! Other tests judge that against independent expectations (`tests/queueing.rs`,
//! `tests/policies.rs`, ...).
//!
//! When a change is *meant* to change behaviour, the pins change with it: run
//! `FAULTLINE_BLESS=1 cargo test --release --test pinned`, which rewrites
//! `tests/data/pinned_runs.tsv`, and say in the commit why the runs differ.

use faultline::engine::stable_hash_bytes;
use faultline::report::frame::Frame;
use faultline::runner;
use faultline::scenario::{self, Overrides, Scenario};
use std::path::{Path, PathBuf};

const PINS: &str = "tests/data/pinned_runs.tsv";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One line per run: `file  variant  trace_hash  events  summary_digest  series_digest`.
fn pin_line(file: &str, variant: &str, sc: &Scenario) -> String {
    let (r, recorder) = runner::run_traced(sc, None);
    // The same bytes `faultline run` writes as summary.json.
    let mut summary = serde_json::to_vec_pretty(&r.summary).expect("summary serialises");
    summary.push(b'\n');
    let frame = Frame::build(&recorder.series, &sc.system, &r.summary);
    let csv = Frame::to_csv(&[(variant.to_string(), &frame)]);
    format!(
        "{file}\t{variant}\t{:016x}\t{}\t{:016x}\t{:016x}",
        r.trace_hash,
        r.events,
        stable_hash_bytes(&summary),
        stable_hash_bytes(csv.as_bytes())
    )
}

fn shipped_scenarios() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("scenarios"))
        .expect("scenarios/ exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "ron"))
        .collect();
    files.sort();
    files
}

fn current_lines() -> Vec<String> {
    let mut lines = Vec::new();
    for path in shipped_scenarios() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let loaded = scenario::load_file(&path, &Overrides::default())
            .unwrap_or_else(|e| panic!("{name} does not load: {e}"));
        let sc = &loaded.scenario;
        if sc.variants.is_empty() {
            lines.push(pin_line(&name, "base", sc));
        } else {
            for (variant, v) in &sc.variants {
                lines.push(pin_line(&name, variant, v));
            }
        }
    }
    lines
}

#[test]
fn every_shipped_scenario_runs_as_pinned() {
    let got = current_lines();
    let pins_path = root().join(PINS);
    if std::env::var_os("FAULTLINE_BLESS").is_some() {
        let mut text = String::from(
            "# file\tvariant\ttrace_hash\tevents\tsummary_digest\tseries_digest (tests/pinned.rs; FAULTLINE_BLESS=1 rewrites this)\n",
        );
        for l in &got {
            text.push_str(l);
            text.push('\n');
        }
        std::fs::write(&pins_path, text).expect("write the pins");
        return;
    }
    let text = std::fs::read_to_string(&pins_path).expect("tests/data/pinned_runs.tsv exists");
    let want: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .collect();
    let mut diffs = Vec::new();
    for w in &want {
        let key: Vec<&str> = w.split('\t').take(2).collect();
        match got
            .iter()
            .find(|g| g.split('\t').take(2).eq(key.iter().copied()))
        {
            Some(g) if g == w => {}
            Some(g) => diffs.push(format!("  pinned  {w}\n  now     {g}")),
            None => diffs.push(format!("  pinned  {w}\n  now     (no such run)")),
        }
    }
    for g in &got {
        let key: Vec<&str> = g.split('\t').take(2).collect();
        if !want
            .iter()
            .any(|w| w.split('\t').take(2).eq(key.iter().copied()))
        {
            diffs.push(format!("  new run {g} (not pinned)"));
        }
    }
    assert!(
        diffs.is_empty(),
        "runs differ from {} (file, variant, trace hash, events, summary digest, series digest):\n{}\n\
         If the change was meant to change behaviour, rewrite the pins with FAULTLINE_BLESS=1 and say why.",
        Path::new(PINS).display(),
        diffs.join("\n")
    );
}
