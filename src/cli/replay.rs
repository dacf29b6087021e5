//! `faultline replay`: runs a recorded run again from its directory and checks that the
//! scenario, the fault schedule and every variant's trace hash and event count match.

use super::rundir::{load, Manifest};
use super::{table, Exit, ReplayArgs, EXIT_BAD_INPUT, EXIT_MISMATCH};
use crate::engine::SimDuration;
use crate::faults;
use crate::runner;
use crate::scenario::{self, Overrides};
use anyhow::{anyhow, bail, Result};

pub(super) fn cmd_replay(a: ReplayArgs) -> Result<i32> {
    let manifest_path = a.dir.join("manifest.json");
    let text = std::fs::read_to_string(&manifest_path).map_err(|e| {
        Exit(
            EXIT_BAD_INPUT,
            format!(
                "error: cannot read {}: {e}\n(replay takes a directory written by `faultline run`)",
                manifest_path.display()
            ),
        )
    })?;
    let m: Manifest = serde_json::from_str(&text).map_err(|e| {
        Exit(
            EXIT_BAD_INPUT,
            format!(
                "error: {} is not a faultline manifest: {e}",
                manifest_path.display()
            ),
        )
    })?;
    let overrides = Overrides {
        seed: Some(m.seed),
        duration: m.duration_override_ns.map(SimDuration),
        max_events: m.max_events_override,
    };
    let scenario_path = a.dir.join("scenario.ron");
    let loaded = load(&scenario_path, &overrides)?;
    if loaded.file_hash != m.scenario_hash {
        bail!(Exit(
            EXIT_MISMATCH,
            format!(
                "replay: {} changed since the run (file hash {} now, {} recorded); restore it or run again",
                scenario_path.display(),
                loaded.file_hash,
                m.scenario_hash
            )
        ));
    }
    if m.faultline_version != env!("CARGO_PKG_VERSION") {
        eprintln!(
            "note: recorded with faultline {}, replaying with {}",
            m.faultline_version,
            env!("CARGO_PKG_VERSION")
        );
    }
    let schedule: Vec<String> = loaded
        .scenario
        .system
        .faults
        .iter()
        .map(faults::describe)
        .collect();
    if schedule != m.fault_schedule {
        let first = schedule
            .iter()
            .zip(&m.fault_schedule)
            .position(|(a, b)| a != b)
            .unwrap_or(schedule.len().min(m.fault_schedule.len()));
        bail!(Exit(
            EXIT_MISMATCH,
            format!(
                "replay MISMATCH: the fault schedule differs from the recorded one at window {first} (recorded {} windows, now {})",
                m.fault_schedule.len(),
                schedule.len()
            )
        ));
    }
    let mut expected: Vec<(String, &scenario::Scenario, String, u64)> = Vec::new();
    if m.variants.is_empty() {
        expected.push((
            "base".into(),
            &loaded.scenario,
            m.trace_hash.clone(),
            m.events,
        ));
    } else {
        // The top-level hash is the first variant's; a manifest where they differ was edited.
        if m.variants[0].trace_hash != m.trace_hash {
            bail!(Exit(
                EXIT_MISMATCH,
                format!(
                    "replay MISMATCH: manifest.json records trace hash {} but its first variant `{}` has {}",
                    m.trace_hash, m.variants[0].name, m.variants[0].trace_hash
                )
            ));
        }
        for v in &m.variants {
            let sc = loaded
                .scenario
                .variants
                .iter()
                .find(|(n, _)| *n == v.name)
                .map(|(_, s)| s)
                .ok_or_else(|| {
                    anyhow!(Exit(
                        EXIT_MISMATCH,
                        format!(
                            "replay MISMATCH: the recorded variant `{}` is not in the scenario",
                            v.name
                        )
                    ))
                })?;
            expected.push((v.name.clone(), sc, v.trace_hash.clone(), v.events));
        }
    }
    super::rundir::check_files(&a.dir, &m)
        .map_err(|why| anyhow!(Exit(EXIT_MISMATCH, format!("replay MISMATCH: {why}"))))?;
    let mut bad = Vec::new();
    let mut runs = Vec::new();
    let mut results = Vec::new();
    let mut frames = Vec::new();
    for (name, sc, hash, events) in &expected {
        let (result, recorder) = runner::run_traced(sc, None);
        frames.push((
            name.clone(),
            crate::report::frame::Frame::build(&recorder.series, &sc.system, &result.summary),
        ));
        let got = result.summary.trace_hash.clone();
        let label = if m.variants.is_empty() {
            String::new()
        } else {
            format!("{name}: ")
        };
        if got == *hash && result.events == *events {
            println!(
                "replay ok: {label}trace hash {} matches ({} events, seed {})",
                got,
                table::thousands(result.events),
                m.seed
            );
        } else {
            bad.push(format!(
                "replay MISMATCH: {label}recorded trace hash {} ({} events), replayed {} ({} events)",
                hash, events, got, result.events
            ));
        }
        runs.push((name.clone(), *sc));
        results.push(result);
    }
    // The files the run wrote, made again from the replayed runs: the same bytes, or the
    // directory's figures are not the ones this scenario and seed give.
    if bad.is_empty() {
        let produced = super::run::outputs(&runs, &results, frames, !m.variants.is_empty())?;
        for (rel, bytes) in &produced.files {
            let on_disk = std::fs::read(a.dir.join(rel)).unwrap_or_default();
            if on_disk != *bytes {
                let line = on_disk
                    .split(|&b| b == b'\n')
                    .zip(bytes.split(|&b| b == b'\n'))
                    .position(|(x, y)| x != y)
                    .map_or(String::new(), |i| format!(" from line {}", i + 1));
                bad.push(format!(
                    "replay MISMATCH: {rel} differs from the replayed run's{line} (edited, or written by another version)"
                ));
            }
        }
        if bad.is_empty() {
            let names: Vec<&str> = produced.files.iter().map(|(r, _)| r.as_str()).collect();
            println!("replay ok: {} made again, byte for byte", names.join(", "));
        }
    }
    if bad.is_empty() {
        Ok(0)
    } else {
        Err(anyhow!(Exit(EXIT_MISMATCH, bad.join("\n"))))
    }
}
