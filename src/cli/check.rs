//! `faultline check FILE...`: runs every scenario (each of its variants) and judges its
//! `expect` list; one line per expectation, exit 0 when all hold, 1 when any fails, 2 for bad
//! input, 3 when a run stops at a limit (its verdicts would judge a cut-short run). `--junit`
//! writes the verdicts as JUnit XML for CI systems.

use super::{CheckArgs, EXIT_BAD_INPUT, EXIT_LIMIT, EXIT_MISMATCH};
use crate::check::{judge, Verdict};
use crate::report;
use crate::scenario::{self, Overrides};
use anyhow::{Context, Result};

/// One file's verdicts, per variant.
struct FileResult {
    file: String,
    runs: Vec<(String, Vec<Verdict>)>,
}

pub(super) fn cmd_check(a: CheckArgs) -> Result<i32> {
    let overrides = Overrides {
        seed: a.seed,
        ..Default::default()
    };
    // Every file is loaded before anything runs, so bad input is found at once.
    let mut loaded = Vec::new();
    let mut bad = 0;
    for f in &a.files {
        match scenario::load_file(f, &overrides) {
            Ok(l) => {
                let file = f.display().to_string();
                eprint!("{}", scenario::render_warnings(&file, &l.scenario.warnings));
                loaded.push((file, l.scenario));
            }
            Err(e) => {
                bad += 1;
                eprintln!("error: {e}");
            }
        }
    }
    if bad > 0 {
        return Ok(EXIT_BAD_INPUT);
    }
    let mut results = Vec::new();
    let (mut passed, mut failed, mut empty) = (0, 0, Vec::new());
    for (file, sc) in &loaded {
        let runs = sc.runs();
        let mut fr = FileResult {
            file: file.clone(),
            runs: Vec::new(),
        };
        for (name, run_sc) in runs {
            if run_sc.expect.is_empty() {
                empty.push(if sc.variants.is_empty() {
                    file.clone()
                } else {
                    format!("{file} [{name}]")
                });
                continue;
            }
            let (analysed, stopped) = report::run_and_analyse(run_sc, &name);
            if let Some(hit) = stopped {
                eprintln!("error: {file} [{name}]: stopped early: {hit}");
                return Ok(EXIT_LIMIT);
            }
            let verdicts = judge(run_sc, &analysed);
            for v in &verdicts {
                println!(
                    "{} {file} [{name}] {}: {} (measured {})",
                    if v.pass { "pass" } else { "FAIL" },
                    v.path,
                    v.claim,
                    v.measured
                );
                if v.pass {
                    passed += 1;
                } else {
                    failed += 1;
                }
            }
            fr.runs.push((name, verdicts));
        }
        results.push(fr);
    }
    if !empty.is_empty() {
        eprintln!(
            "note: no expectations stated by {} (add `expect: [...]`; docs/scenario.md)",
            empty.join(", ")
        );
    }
    println!(
        "{passed} passed, {failed} failed ({} expectation{} in {} file{})",
        passed + failed,
        if passed + failed == 1 { "" } else { "s" },
        loaded.len(),
        if loaded.len() == 1 { "" } else { "s" }
    );
    if let Some(path) = &a.junit {
        std::fs::write(path, junit(&results))
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(if failed > 0 { EXIT_MISMATCH } else { 0 })
}

/// JUnit XML: a `testsuite` per file, a `testcase` per expectation and variant, a `failure`
/// with the measured value for each that fails.
fn junit(results: &[FileResult]) -> String {
    // (tests, failures) per file; the totals are their sums.
    let counts: Vec<(usize, usize)> = results
        .iter()
        .map(|f| {
            let verdicts = f.runs.iter().flat_map(|(_, v)| v);
            (
                verdicts.clone().count(),
                verdicts.filter(|x| !x.pass).count(),
            )
        })
        .collect();
    let total: usize = counts.iter().map(|c| c.0).sum();
    let fails: usize = counts.iter().map(|c| c.1).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"faultline check\" tests=\"{total}\" failures=\"{fails}\">\n"
    ));
    for (f, &(n, k)) in results.iter().zip(&counts) {
        out.push_str(&format!(
            "  <testsuite name=\"{}\" tests=\"{n}\" failures=\"{k}\" errors=\"0\" skipped=\"0\">\n",
            xml(&f.file)
        ));
        for (variant, verdicts) in &f.runs {
            for v in verdicts {
                let name = xml(&format!("[{variant}] {}: {}", v.path, v.claim));
                let class = xml(&f.file);
                if v.pass {
                    out.push_str(&format!(
                        "    <testcase name=\"{name}\" classname=\"{class}\"/>\n"
                    ));
                } else {
                    out.push_str(&format!(
                        "    <testcase name=\"{name}\" classname=\"{class}\">\n      <failure message=\"measured {}\" type=\"expectation\"/>\n    </testcase>\n",
                        xml(&v.measured)
                    ));
                }
            }
        }
        out.push_str("  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

fn xml(s: &str) -> String {
    // XML 1.0 has no place for control characters other than tab and newlines.
    let kept: String = s
        .chars()
        .filter(|&c| (c as u32) >= 0x20 || matches!(c, '\n' | '\t' | '\r'))
        .collect();
    crate::report::page::esc(&kept).replace('\'', "&apos;")
}
