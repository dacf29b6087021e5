//! The contract's first clause: same scenario and seed, same run, bit for bit; named streams
//! keep one entity's randomness independent of the rest of the scenario.

use faultline::engine::{SimTime, TraceRecord, TraceSink};
use faultline::runner;
use faultline::scenario::{self, Overrides};
use std::path::Path;
use std::process::Command;

const QUICKSTART: &str = include_str!("../scenarios/quickstart.ron");

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_faultline"))
}

fn run_cli(out: &Path, seed: u64) -> (Vec<u8>, serde_json::Value) {
    let st = bin()
        .args([
            "run",
            "scenarios/quickstart.ron",
            "--quiet",
            "--duration",
            "30s",
            "--seed",
        ])
        .arg(seed.to_string())
        .arg("--out")
        .arg(out)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .expect("run faultline");
    assert!(st.success());
    let summary = std::fs::read(out.join("summary.json")).unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    (summary, manifest)
}

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("faultline-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn two_processes_give_the_same_hash_and_summary_bytes() {
    let (a, ma) = run_cli(&tmp("a"), 42);
    let (b, mb) = run_cli(&tmp("b"), 42);
    assert_eq!(
        a, b,
        "summary.json differs between two runs with the same seed"
    );
    assert_eq!(ma["trace_hash"], mb["trace_hash"]);
    assert_eq!(ma["events"], mb["events"]);
}

#[test]
fn a_different_seed_gives_a_different_hash() {
    let (_, ma) = run_cli(&tmp("s1"), 1);
    let (_, mb) = run_cli(&tmp("s2"), 2);
    assert_ne!(ma["trace_hash"], mb["trace_hash"]);
}

#[test]
fn replay_accepts_its_own_run_and_rejects_a_tampered_manifest() {
    let dir = tmp("replay");
    run_cli(&dir, 5);
    let ok = bin().arg("replay").arg(&dir).output().unwrap();
    assert_eq!(
        ok.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    assert!(String::from_utf8_lossy(&ok.stdout).contains("matches"));

    let path = dir.join("manifest.json");
    let mut m: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    let real = m["trace_hash"].as_str().unwrap().to_string();
    m["trace_hash"] = "0000000000000000".into();
    std::fs::write(&path, serde_json::to_vec(&m).unwrap()).unwrap();
    let bad = bin().arg("replay").arg(&dir).output().unwrap();
    assert_eq!(bad.status.code(), Some(1));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(
        err.contains("0000000000000000") && err.contains(&real),
        "must name both hashes: {err}"
    );
}

#[test]
fn threads_do_not_change_a_run() {
    // No global state: the same run on two threads at once equals the run alone.
    let sc = scenario::from_str(QUICKSTART, "q.ron", &Overrides::default()).unwrap();
    let alone = runner::run(&sc).trace_hash;
    let hashes: Vec<u64> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..2)
            .map(|_| s.spawn(|| runner::run(&sc).trace_hash))
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(hashes, vec![alone, alone]);
}

/// Records the times of one client's arrivals.
struct Arrivals {
    client_entity: u32,
    times: Vec<SimTime>,
}
impl TraceSink for Arrivals {
    fn event(&mut self, time: SimTime, _seq: u64, r: &TraceRecord) {
        if r.kind == 1 && r.entity == self.client_entity {
            self.times.push(time);
        }
    }
}

fn arrivals_of_first_client(text: &str) -> Vec<SimTime> {
    let sc = scenario::from_str(
        text,
        "q.ron",
        &Overrides {
            duration: Some(faultline::engine::SimDuration::from_secs(20)),
            ..Default::default()
        },
    )
    .unwrap();
    let mut sink = Arrivals {
        client_entity: 0,
        times: Vec::new(),
    };
    runner::run_traced(&sc, Some(&mut sink));
    sink.times
}

#[test]
fn adding_a_client_leaves_another_clients_arrivals_unchanged() {
    let base = arrivals_of_first_client(QUICKSTART);
    // A second client that hammers the database directly: it changes the load everywhere, but
    // must not move a single arrival of the first client.
    let extra = QUICKSTART.replacen(
        "clients: [",
        r#"clients: [
        (name: "batch", target: "db", load: Open(rate_per_s: 50.0)),"#,
        1,
    );
    // The new client is listed first, so the shoppers are entity 1 in this variant.
    let sc = scenario::from_str(
        &extra,
        "q2.ron",
        &Overrides {
            duration: Some(faultline::engine::SimDuration::from_secs(20)),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(sc.system.clients[1].name, "shoppers");
    let mut sink = Arrivals {
        client_entity: 1,
        times: Vec::new(),
    };
    let with_batch = runner::run_traced(&sc, Some(&mut sink)).0;
    assert!(base.len() > 5000);
    assert_eq!(
        base, sink.times,
        "the shoppers' arrival times moved when a client was added"
    );
    // ...while the run as a whole did change.
    let plain = runner::run(
        &scenario::from_str(
            QUICKSTART,
            "q.ron",
            &Overrides {
                duration: Some(faultline::engine::SimDuration::from_secs(20)),
                ..Default::default()
            },
        )
        .unwrap(),
    );
    assert_ne!(plain.trace_hash, with_batch.trace_hash);
}

#[test]
fn jsonl_trace_lists_every_event() {
    let dir = tmp("trace");
    std::fs::create_dir_all(&dir).unwrap();
    let trace = dir.join("t.jsonl");
    let st = bin()
        .args([
            "run",
            "scenarios/closed_loop.ron",
            "--quiet",
            "--duration",
            "40s",
            "--out",
        ])
        .arg(&dir)
        .arg("--trace")
        .arg(&trace)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .status()
        .unwrap();
    assert!(st.success());
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let text = std::fs::read_to_string(&trace).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("each line is JSON"))
        .collect();
    assert_eq!(lines.len() as u64, m["events"].as_u64().unwrap());
    // Times never go backwards; same-time events keep insertion order.
    for w in lines.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        assert!(a["t_ns"].as_u64() <= b["t_ns"].as_u64());
    }
    assert!(lines
        .iter()
        .any(|l| l["kind"] == "deliver" && l["entity"] == "api/0"));
    // The file is the run, event for event: folding its lines (kind and entity names turned
    // back into their codes) gives the trace hash the manifest recorded.
    let sc = scenario::from_str(
        &std::fs::read_to_string(format!(
            "{}/scenarios/closed_loop.ron",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap(),
        "closed_loop.ron",
        &Overrides::default(),
    )
    .unwrap();
    let entities = faultline::model::entity_names(&sc.system);
    let kind_code = |name: &str| {
        (0..=u8::MAX)
            .find(|&k| faultline::model::world_kind_name(k) == name)
            .unwrap_or_else(|| panic!("unknown kind {name}"))
    };
    let mut h = faultline::engine::TraceHasher::default();
    for l in &lines {
        let entity = entities
            .iter()
            .position(|e| l["entity"] == e.as_str())
            .unwrap_or_else(|| panic!("unknown entity in {l}"));
        h.record(
            l["t_ns"].as_u64().unwrap(),
            kind_code(l["kind"].as_str().unwrap()),
            entity as u32,
            l["request"].as_u64().unwrap(),
        );
    }
    assert_eq!(
        format!("{:016x}", h.value()),
        m["trace_hash"].as_str().unwrap(),
        "the trace file does not fold to the run's hash"
    );
}

fn code_and_err(c: &mut Command) -> (Option<i32>, String) {
    let o = c.output().unwrap();
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

/// A run directory holds one run: files from another run or edited ones are refused by
/// `replay` (exit 1) and `report` (exit 2), a run replaces an earlier one whole (no stale
/// `variants/`), and a killed run's staging directory is cleared by the next.
#[test]
fn a_run_directory_holds_one_run_and_nothing_else() {
    let dir = tmp("onerun");
    let other = tmp("onerun-other");
    run_cli(&dir, 5);
    run_cli(&other, 6);
    let summary = std::fs::read(dir.join("summary.json")).unwrap();
    // Another run's summary beside this run's manifest and time series.
    std::fs::copy(other.join("summary.json"), dir.join("summary.json")).unwrap();
    let (code, err) = code_and_err(bin().arg("replay").arg(&dir));
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("summary.json is not the file this run wrote"),
        "{err}"
    );
    let (code, err) = code_and_err(bin().arg("report").arg(&dir));
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("summary.json is not the file this run wrote"),
        "{err}"
    );
    // An edit that keeps the manifest's record in step is still caught: replay makes the
    // files again and compares bytes.
    let edited =
        String::from_utf8(summary.clone())
            .unwrap()
            .replacen("\"events\": ", "\"events\": 1", 1);
    std::fs::write(dir.join("summary.json"), &edited).unwrap();
    let mpath = dir.join("manifest.json");
    let mut m: serde_json::Value = serde_json::from_slice(&std::fs::read(&mpath).unwrap()).unwrap();
    m["files"]["summary.json"] = format!(
        "{:016x}",
        faultline::engine::stable_hash_bytes(edited.as_bytes())
    )
    .into();
    std::fs::write(&mpath, serde_json::to_vec(&m).unwrap()).unwrap();
    let (code, err) = code_and_err(bin().arg("replay").arg(&dir));
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains("summary.json differs from the replayed run's"),
        "{err}"
    );

    // quickstart has variants; a run of mm1 into the same directory leaves none of them.
    assert!(dir.join("variants").is_dir());
    let stale = dir.parent().unwrap().join(format!(
        ".{}.partial",
        dir.file_name().unwrap().to_string_lossy()
    ));
    std::fs::create_dir_all(stale.join("plots")).unwrap();
    let (code, err) = code_and_err(
        bin()
            .args([
                "run",
                "scenarios/mm1.ron",
                "--quiet",
                "--duration",
                "2h",
                "--out",
            ])
            .arg(&dir)
            .current_dir(env!("CARGO_MANIFEST_DIR")),
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(!dir.join("variants").exists(), "stale variants/ left");
    assert!(
        !stale.exists(),
        "a killed run's staging directory is cleared"
    );
    let (code, err) = code_and_err(bin().arg("replay").arg(&dir));
    assert_eq!(code, Some(0), "{err}");
}

/// Output paths that cannot work are bad input (exit 2), found before anything runs, and a
/// directory of the user's own files is never replaced.
#[test]
fn output_paths_that_cannot_work_are_bad_input() {
    let base = tmp("outpaths");
    std::fs::create_dir_all(base.join("mine")).unwrap();
    std::fs::write(base.join("mine/notes.txt"), "keep me").unwrap();
    std::fs::write(base.join("a-file"), "x").unwrap();
    let run = |extra: &[&std::ffi::OsStr]| {
        code_and_err(
            bin()
                .args(["run", "scenarios/mm1.ron", "--quiet", "--duration", "2h"])
                .args(extra)
                .current_dir(env!("CARGO_MANIFEST_DIR")),
        )
    };
    let out = |p: &Path| vec![std::ffi::OsString::from("--out"), p.as_os_str().to_owned()];
    let cases: Vec<(Vec<std::ffi::OsString>, &str)> = vec![
        (out(&base.join("a-file")), "is a file, not a directory"),
        (out(&base.join("mine")), "holds files but no faultline run"),
        (
            [
                out(&base.join("r")),
                vec![
                    "--trace".into(),
                    base.join("missing/t.jsonl").into_os_string(),
                ],
            ]
            .concat(),
            "its directory does not exist",
        ),
        (
            [
                out(&base.join("r")),
                vec!["--trace".into(), base.clone().into_os_string()],
            ]
            .concat(),
            "is a directory",
        ),
    ];
    for (args, want) in cases {
        let refs: Vec<&std::ffi::OsStr> = args.iter().map(|a| a.as_os_str()).collect();
        let (code, err) = run(&refs);
        assert_eq!(code, Some(2), "{args:?}: {err}");
        assert!(err.contains(want), "{args:?}: expected {want:?} in {err}");
    }
    assert_eq!(
        std::fs::read_to_string(base.join("mine/notes.txt")).unwrap(),
        "keep me"
    );
    assert!(
        !base.join("r").exists(),
        "nothing written for a refused run"
    );
}

#[test]
fn adding_a_fault_or_a_probe_leaves_the_arrivals_unchanged() {
    // Faults and probes draw from streams of their own: a fault that fails half of db's
    // requests (whose errors go back up the chain) or readiness probes on db change what
    // happens after each arrival, never when the shoppers arrive.
    let base = arrivals_of_first_client(QUICKSTART);
    let with_fault = QUICKSTART.replacen(
        "faults: [",
        r#"faults: [
        (at: "3s", for: "8s", fault: Errors(target: "db", rate: 0.5)),"#,
        1,
    );
    let with_probe = QUICKSTART.replacen(
        "            name: \"db\",",
        "            name: \"db\",\n            health: (readiness: Kubernetes(period: \"1s\")),",
        1,
    );
    for (what, text) in [("a fault", with_fault), ("a probe", with_probe)] {
        assert_ne!(text, QUICKSTART, "{what} was not added");
        let sc = scenario::from_str(&text, "q.ron", &Overrides::default()).unwrap();
        // The runs differ...
        let plain = scenario::from_str(QUICKSTART, "q.ron", &Overrides::default()).unwrap();
        let (a, b) = (
            runner::run(&sc).summary.trace_hash,
            runner::run(&plain).summary.trace_hash,
        );
        assert_ne!(a, b, "{what} changed nothing");
        // ...but not the arrivals.
        assert_eq!(
            arrivals_of_first_client(&text),
            base,
            "adding {what} moved the shoppers' arrivals"
        );
    }
}

/// The service times db's only replica drew, in the order its requests started, and how many
/// of its answers failed.
struct ServiceTimes(Vec<(SimTime, u64)>, usize);
impl faultline::model::Observer for ServiceTimes {
    fn client_sent(&mut self, _: usize, _: u32, _: SimTime) {}
    fn client_done(
        &mut self,
        _: usize,
        _: faultline::model::Outcome,
        _: SimTime,
        _: u32,
        _: SimTime,
    ) {
    }
    fn service_arrival(&mut self, _: usize, _: SimTime) {}
    fn service_done(
        &mut self,
        _: usize,
        outcome: faultline::model::Outcome,
        _: SimTime,
        started_at: SimTime,
        now: SimTime,
    ) {
        self.1 += usize::from(outcome != faultline::model::Outcome::Ok);
        self.0.push((started_at, now.0 - started_at.0));
    }
    fn replica_level(&mut self, _: usize, _: u32, _: u32, _: u32, _: SimTime) {}
    fn client_attempt(&mut self, _: usize, _: SimTime) {}
    fn call_attempt(&mut self, _: usize, _: usize, _: SimTime) {}
    fn call_done(
        &mut self,
        _: usize,
        _: usize,
        _: faultline::model::Outcome,
        _: SimTime,
        _: SimTime,
    ) {
    }
}

fn service_times(text: &str) -> (Vec<u64>, usize) {
    use faultline::engine::{self, EventQueue};
    use faultline::model::{World, WorldLimits};
    let sc = scenario::from_str(text, "st.ron", &Overrides::default()).unwrap();
    let limits = WorldLimits {
        max_live_requests: sc.limits.max_live_requests,
        count_from: SimTime(0),
    };
    let mut world = World::new(
        sc.system.clone(),
        sc.seed,
        limits,
        ServiceTimes(Vec::new(), 0),
    );
    let mut q = EventQueue::new();
    world.start(&mut q);
    let end = engine::Limits {
        end: SimTime(sc.duration.0),
        max_events: sc.limits.max_events,
        max_pending_events: usize::MAX,
    };
    assert!(engine::run(&mut world, &mut q, &end, None)
        .stopped
        .is_none());
    let ServiceTimes(mut times, failed) = world.into_observer();
    times.sort_by_key(|&(started, _)| started);
    (times.into_iter().map(|(_, d)| d).collect(), failed)
}

#[test]
fn adding_a_fault_or_a_probe_leaves_the_service_times_unchanged() {
    // Every request reaches db (no retries, no balancer choice); a fault failing half of
    // what db finishes, or a readiness probe, must leave the k-th service time db draws as it
    // was. Errors are decided after the work, so failed requests draw a service time too.
    let base = r#"(
        name: "st", duration: "60s", seed: 7,
        clients: [(name: "c", target: "db", load: Open(rate_per_s: 80.0))],
        services: [(name: "db", workers: 4, service_time: Exponential(mean: "20ms")%HEALTH%)],
        faults: [%FAULT%],
    )"#;
    let (plain, none_failed) = service_times(&base.replace("%HEALTH%", "").replace("%FAULT%", ""));
    assert!(plain.len() > 4000 && none_failed == 0, "{}", plain.len());
    for (what, failing, text) in [
        (
            "a fault",
            1000..1400,
            base.replace("%HEALTH%", "").replace(
                "%FAULT%",
                r#"(at: "10s", for: "30s", fault: Errors(target: "db", rate: 0.5))"#,
            ),
        ),
        (
            "a probe",
            0..1,
            base.replace(
                "%HEALTH%",
                r#", health: (readiness: Kubernetes(period: "1s"))"#,
            )
            .replace("%FAULT%", ""),
        ),
    ] {
        // 30 s of 80/s, half failing: about 1,200 errors.
        let (times, failed) = service_times(&text);
        assert!(failing.contains(&failed), "{what}: {failed} failed");
        assert_eq!(times, plain, "adding {what} moved db's service times");
    }
}
