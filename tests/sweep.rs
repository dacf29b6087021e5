//! Sweeps: the same outputs for any number of threads, bad paths and values reported before
//! anything runs, and the grid and confidence intervals computed as documented.

use std::path::PathBuf;
use std::process::Command;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("faultline-sweep-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn sweep(args: &[&str], out: &PathBuf) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .arg("sweep")
        .args(args)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

const GRID: &[&str] = &[
    "scenarios/metastable_retries.ron",
    "--set",
    "clients.shoppers.load.rate_per_s=200..=300:100",
    "--set",
    "services.api.workers=32,40",
    "--seeds",
    "1..=3",
];

#[test]
fn outputs_do_not_depend_on_the_number_of_threads() {
    let (a, b) = (tmp("j1"), tmp("j2"));
    let (code, out, err) = sweep(&[GRID, &["-j", "1"]].concat(), &a);
    assert_eq!(code, 0, "{out}\n{err}");
    let (code, out, err) = sweep(&[GRID, &["-j", "2"]].concat(), &b);
    assert_eq!(code, 0, "{out}\n{err}");
    for f in ["runs.csv", "points.csv"] {
        let (x, y) = (
            std::fs::read_to_string(a.join(f)).unwrap(),
            std::fs::read_to_string(b.join(f)).unwrap(),
        );
        assert_eq!(x, y, "{f} differs between -j 1 and -j 2");
    }
    let runs = std::fs::read_to_string(a.join("runs.csv")).unwrap();
    // 2 rates x 2 worker counts x 3 seeds, first --set slowest, seeds fastest.
    let lines: Vec<&str> = runs.lines().collect();
    assert_eq!(lines.len(), 1 + 12);
    assert!(lines[0].starts_with(
        "point,clients.shoppers.load.rate_per_s,services.api.workers,seed,availability"
    ));
    assert!(lines[1].starts_with("0,200,32,1,"), "{}", lines[1]);
    assert!(lines[4].starts_with("1,200,40,1,"), "{}", lines[4]);
    assert!(lines[12].starts_with("3,300,40,3,"), "{}", lines[12]);
    // The same seed at two points sees the same arrivals: with 40 workers at 200/s nothing
    // fails, and with 32 at 300/s the spike tips it over (the scenario's own finding).
    let cell = |line: &str, k: usize| line.split(',').nth(k).unwrap().to_string();
    assert_eq!(cell(lines[4], 4), "1");
    assert_eq!(
        cell(lines[7], 10),
        "1",
        "metastable at 300/s with 32 workers: {}",
        lines[7]
    );
    // points.csv: the mean and CI of availability at point 0 from its three runs.
    let points = std::fs::read_to_string(a.join("points.csv")).unwrap();
    let p0: Vec<&str> = points.lines().nth(1).unwrap().split(',').collect();
    assert_eq!(p0[3], "3", "runs per point");
    let avail: Vec<f64> = lines[1..4]
        .iter()
        .map(|l| cell(l, 4).parse().unwrap())
        .collect();
    let mean = avail.iter().sum::<f64>() / 3.0;
    assert!(
        (p0[4].parse::<f64>().unwrap() - mean).abs() < 1e-6,
        "{p0:?}"
    );
}

#[test]
fn bad_paths_and_values_are_reported_before_anything_runs() {
    let out = tmp("bad");
    let cases: &[(&[&str], &str)] = &[
        (
            &["--set", "services.nope.workers=2"],
            "no service named `nope`",
        ),
        (&["--set", "services.api.workers=-3"], "services[0].workers"),
        (&["--set", "services.api.workers"], "PATH=VALUES"),
        (&["--set", "services.api.workers=4..=2:1"], "FROM <= TO"),
        (
            &["--set", "services.api.workers=2", "--seeds", "x"],
            "--seeds",
        ),
    ];
    for (args, expect) in cases {
        let (code, o, err) = sweep(
            &[&["scenarios/metastable_retries.ron"], *args].concat(),
            &out,
        );
        assert_eq!(code, 2, "{args:?}\n{o}\n{err}");
        assert!(
            err.contains(expect),
            "{args:?}: expected {expect:?} in\n{err}"
        );
        assert!(!out.join("runs.csv").exists(), "{args:?} ran something");
    }
}
