//! Every command the README shows and every example in `--help` runs, as written, on the
//! shipped scenarios: a new user who copies one gets what the text says, never an error.
//! (The README's `cargo run --release --` stands for the binary under test; its test command
//! is this suite, so it is left out.)

use std::path::{Path, PathBuf};
use std::process::Command;

const README: &str = include_str!("../README.md");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

/// A fresh directory with the shipped scenarios in it, as a clone has them.
fn workdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("faultline-readme-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    std::os::unix::fs::symlink(Path::new(ROOT).join("scenarios"), d.join("scenarios")).unwrap();
    d
}

/// Runs shell `script` in `dir` with `faultline` meaning the binary under test; panics with
/// the output when it fails.
fn sh(dir: &Path, script: &str) {
    let bin = env!("CARGO_BIN_EXE_faultline");
    let out = Command::new("sh")
        .arg("-ec")
        .arg(format!("faultline() {{ \"{bin}\" \"$@\"; }}\n{script}"))
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "exit {:?} for:\n{script}\nstdout:\n{}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The README's `sh` blocks, in order, `cargo run --release --` read as `faultline`, the
/// `cargo test` line (this suite) left out.
fn readme_blocks() -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<Vec<&str>> = None;
    for line in README.lines() {
        match (&mut current, line.trim_start()) {
            (None, "```sh") => current = Some(Vec::new()),
            (Some(_), "```") => blocks.push(current.take().unwrap().join("\n")),
            (Some(b), l) if !l.starts_with("cargo test") => b.push(line),
            _ => {}
        }
    }
    blocks
        .into_iter()
        .map(|b| b.replace("cargo run --release --", "faultline"))
        .collect()
}

#[test]
fn every_readme_command_runs() {
    let blocks = readme_blocks();
    assert!(blocks.len() >= 3, "the README's command blocks: {blocks:?}");
    assert!(blocks[0].contains("faultline run scenarios/quickstart.ron"));
    let dir = workdir("all");
    // In order, in one directory: the replay replays the quickstart's run.
    for b in &blocks {
        sh(&dir, b);
    }
    assert!(dir.join("reports/quickstart/index.html").is_file());
    // What quickstart.ron's header says of its variants: retries barely move availability,
    // failing fast costs several points and cuts the p99.
    let client = |v: &str| {
        let p = dir.join(format!("reports/quickstart/variants/{v}/summary.json"));
        let s: serde_json::Value = serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
        s["clients"][0].clone()
    };
    let ok = |v: &str| client(v)["ok_ratio"].as_f64().unwrap();
    let p99 = |v: &str| client(v)["latency"]["p99_ms"].as_f64().unwrap();
    assert!((ok("retries") - ok("baseline")).abs() < 0.005);
    assert!(ok("baseline") - ok("fail-fast") > 0.05);
    assert!(p99("fail-fast") < p99("baseline"));
    assert!(dir.join("reports/mm1-7/trace.jsonl").is_file());
    assert!(dir.join("reports/metastable-sweep/runs.csv").is_file());
}

/// The examples under `Examples:` in `faultline [COMMAND] --help`, each command whole again
/// (the help text wraps long lines).
fn help_examples(command: &[&str]) -> Vec<String> {
    let out = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(command)
        .arg("--help")
        .output()
        .unwrap();
    let text = String::from_utf8(out.stdout).unwrap();
    let mut examples: Vec<String> = Vec::new();
    let mut inside = false;
    for line in text.lines() {
        if line.starts_with("Example") {
            inside = true;
            continue;
        }
        let l = line.trim();
        if !inside || l.is_empty() || l.starts_with('(') {
            continue;
        }
        if l.starts_with("faultline ") {
            examples.push(l.to_string());
        } else if let Some(last) = examples.last_mut() {
            last.push(' ');
            last.push_str(l);
        }
    }
    examples
}

#[test]
fn every_help_example_runs() {
    for command in [
        &[][..],
        &["run"],
        &["replay"],
        &["validate"],
        &["report"],
        &["sweep"],
        &["sweep", "merge"],
        &["check"],
        &["search"],
    ] {
        let mut examples = help_examples(command);
        assert!(!examples.is_empty(), "{command:?} --help shows no example");
        if command == ["search"] {
            // Its example finds the planted failure: exit 1 is the answer it must give.
            for e in &mut examples {
                e.push_str(" || [ $? -eq 1 ]");
            }
        }
        let dir = workdir(&format!("help-{}", command.join("-")));
        sh(&dir, &examples.join("\n"));
    }
}

/// The README's library example is this code, line for line (kept in step by the check).
#[test]
fn the_readme_library_example_runs() -> Result<(), Box<dyn std::error::Error>> {
    std::env::set_current_dir(ROOT)?;
    let scenario =
        faultline::scenario::load_file("scenarios/mm1.ron".as_ref(), &Default::default())?.scenario;
    let result = faultline::runner::run(&scenario);
    println!(
        "{} customers, trace hash {}",
        result.summary.services[0].completed, result.summary.trace_hash
    );
    assert!(result.summary.services[0].completed > 2_000_000);
    // Compared without whitespace: rustfmt wraps the lines here, the README does not.
    let squeeze = |t: &str| t.split_whitespace().collect::<String>();
    let this = squeeze(include_str!("readme.rs"));
    let block = README
        .split("```rust\n")
        .nth(1)
        .unwrap()
        .split("```")
        .next()
        .unwrap();
    for line in block.lines() {
        assert!(
            this.contains(&squeeze(line)),
            "the README's example has a line this test does not: {line}"
        );
    }
    Ok(())
}
