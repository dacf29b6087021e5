//! The batch-engine files in deploy/ do what they say: the Kubernetes Indexed Job's arguments
//! and the Slurm array script, run here with the variables each engine sets, produce shards that
//! merge into the same files as the sweep run on one machine. (No cluster runs here; what is
//! checked is everything but the scheduling: the arguments, the index variables, the counts.)

use std::path::{Path, PathBuf};
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_faultline");

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("faultline-deploy-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

/// Fewer seeds than the shipped 10, to keep the test short; everything else as shipped.
const SEEDS: &str = "1..=2";

fn ok(c: &mut Command) -> String {
    let o = c.output().unwrap();
    assert!(o.status.success(), "{c:?}: {o:?}");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The sweep on one machine, for comparison.
fn single(out: &Path) {
    ok(Command::new(BIN)
        .args([
            "sweep",
            "scenarios/metastable_retries.ron",
            "--set",
            "clients.shoppers.load.rate_per_s=150..=350:25",
            "--set",
            "clients.shoppers.policies[0].max_attempts=1,2,3,4",
            "--seeds",
            SEEDS,
            "-q",
            "--out",
        ])
        .arg(out));
}

fn same(a: &Path, b: &Path) {
    for f in ["runs.csv", "points.csv", "index.html"] {
        let (x, y) = (
            std::fs::read(a.join(f)).unwrap(),
            std::fs::read(b.join(f)).unwrap(),
        );
        assert!(
            x == y,
            "{f} differs between {} and {}",
            a.display(),
            b.display()
        );
    }
}

/// The `args: [...]` line of a manifest (written as a JSON list, which YAML reads as a list).
fn args_of(manifest: &str) -> Vec<String> {
    let line = manifest
        .lines()
        .find_map(|l| l.trim().strip_prefix("args: "))
        .expect("an args: line");
    serde_json::from_str(line).expect("args as a JSON list")
}

fn field(manifest: &str, name: &str) -> String {
    manifest
        .lines()
        .find_map(|l| l.trim().strip_prefix(&format!("{name}: ")))
        .unwrap_or_else(|| panic!("no {name}"))
        .to_string()
}

#[test]
fn the_kubernetes_indexed_job_shards_and_merges() {
    let job = std::fs::read_to_string("deploy/kubernetes/sweep-job.yaml").unwrap();
    let merge = std::fs::read_to_string("deploy/kubernetes/merge-job.yaml").unwrap();
    assert_eq!(field(&job, "completionMode"), "Indexed");
    let completions: usize = field(&job, "completions").parse().unwrap();
    let root = tmp("k8s");
    // The pods' /results volume is a directory here; the seeds are cut short.
    let local = |args: Vec<String>| -> Vec<String> {
        args.into_iter()
            .map(|a| match a.strip_prefix("/results") {
                Some(rest) => format!("{}{rest}", root.display()),
                None if a == "1..=10" => SEEDS.to_string(),
                None => a,
            })
            .collect()
    };
    let args = local(args_of(&job));
    let shards = args.iter().position(|a| a == "--shards").unwrap();
    assert_eq!(
        args[shards + 1],
        completions.to_string(),
        "completions and --shards must agree"
    );
    for index in 0..completions {
        ok(Command::new(BIN)
            .args(&args)
            .env_remove("SLURM_ARRAY_TASK_ID")
            .env("JOB_COMPLETION_INDEX", index.to_string()));
    }
    ok(Command::new(BIN).args(local(args_of(&merge))));
    let want = tmp("k8s-single");
    single(&want);
    same(&root.join("metastable-sweep"), &want);
}

#[test]
fn the_slurm_array_script_shards_and_merges() {
    let script = std::fs::read_to_string("deploy/slurm/sweep-array.sh").unwrap();
    let array = script
        .lines()
        .find_map(|l| l.strip_prefix("#SBATCH --array="))
        .expect("an #SBATCH --array= line");
    let (lo, hi) = array.split_once('-').unwrap();
    let (lo, hi): (usize, usize) = (lo.parse().unwrap(), hi.parse().unwrap());
    let out = tmp("slurm");
    for id in lo..=hi {
        ok(Command::new("bash")
            .arg("deploy/slurm/sweep-array.sh")
            .env("FAULTLINE", BIN)
            .env("OUT", &out)
            .env("SEEDS", SEEDS)
            .env_remove("JOB_COMPLETION_INDEX")
            .env("SLURM_ARRAY_TASK_ID", id.to_string())
            .env("SLURM_ARRAY_TASK_MIN", lo.to_string())
            .env("SLURM_ARRAY_TASK_COUNT", (hi - lo + 1).to_string())
            .env("SLURM_CPUS_PER_TASK", "2"));
    }
    ok(Command::new(BIN).args(["sweep", "merge", "-q"]).arg(&out));
    let want = tmp("slurm-single");
    single(&want);
    same(&out, &want);
}
