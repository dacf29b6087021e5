//! The scale table of BENCHMARKS.md: how events per second, peak memory and bytes per entity
//! grow with the number of replicas, of clients and of services in a chain.
//!
//! `cargo bench --bench scale` runs every size, each in a fresh process (this binary again,
//! with `--one KIND N`), so each peak is that run's own. A size runs the library end to end:
//! build the scenario, simulate 10 s, summarise (no report pages: their size follows what
//! is drawn, not the model). Bytes per entity are (peak - peak of the family's smallest size)
//! / (entities added). Peak memory is the kernel's high-water mark of resident memory
//! (VmHWM), so this bench needs Linux.
//!
//! `cargo bench --bench scale -- --print KIND N` prints the scenario of one size instead.

use std::process::Command;
use std::time::Instant;

/// One client sending 10,000 requests a second to a service of `n` replicas (16 workers,
/// exponential 1 ms): most replicas of the large sizes stay idle, which is what their
/// memory per replica measures.
fn replicas(n: usize) -> String {
    format!(
        r#"(name: "replicas-{n}", duration: "10s", seed: 1,
            clients: [(name: "c", target: "api", load: Open(rate_per_s: 10000.0))],
            services: [(name: "api", replicas: {n}, workers: 16, service_time: Exponential(mean: "1ms"))])"#
    )
}

/// `n` clients, each sending one request a second to one service (4 replicas of 64 workers).
fn clients(n: usize) -> String {
    let cs: Vec<String> = (0..n)
        .map(|i| format!(r#"(name: "c{i}", target: "api", load: Open(rate_per_s: 1.0))"#))
        .collect();
    format!(
        r#"(name: "clients-{n}", duration: "10s", seed: 1,
            clients: [{}],
            services: [(name: "api", replicas: 4, workers: 64, service_time: Exponential(mean: "1ms"))])"#,
        cs.join(",\n")
    )
}

/// A chain of `n` services, each calling the next (one replica, 8 workers, 10 us), fed 10
/// requests a second: every request crosses every service and every call edge.
fn chain(n: usize) -> String {
    let ss: Vec<String> = (0..n)
        .map(|i| {
            let calls = if i + 1 < n {
                format!(r#", calls: [(to: "s{}")]"#, i + 1)
            } else {
                String::new()
            };
            format!(r#"(name: "s{i}", workers: 8, service_time: Exponential(mean: "10us"){calls})"#)
        })
        .collect();
    format!(
        r#"(name: "chain-{n}", duration: "10s", seed: 1,
            clients: [(name: "c", target: "s0", load: Open(rate_per_s: 10.0))],
            services: [{}])"#,
        ss.join(",\n")
    )
}

const FAMILIES: [(&str, &[usize]); 3] = [
    ("replicas", &[1, 1_000, 10_000, 100_000, 1_000_000]),
    ("clients", &[1, 100, 1_000, 10_000]),
    ("chain", &[1, 100, 1_000, 10_000]),
];

fn scenario(kind: &str, n: usize) -> String {
    match kind {
        "replicas" => replicas(n),
        "clients" => clients(n),
        "chain" => chain(n),
        _ => panic!("unknown kind {kind}: replicas, clients or chain"),
    }
}

/// The process's peak resident memory so far, in KB (VmHWM).
fn peak_kb() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("this bench needs Linux");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/self/status")
}

/// Runs one size and prints `events wall_s peak_kb`.
fn one(kind: &str, n: usize) {
    let text = scenario(kind, n);
    let t = Instant::now();
    let sc = faultline::scenario::from_str(&text, "scale.ron", &Default::default())
        .unwrap_or_else(|e| panic!("{e}"));
    let r = faultline::runner::run(&sc);
    let wall = t.elapsed().as_secs_f64();
    assert!(r.stopped.is_none(), "{:?}", r.stopped);
    println!("{} {wall} {}", r.events, peak_kb());
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let pos = |flag: &str| args.iter().position(|a| a == flag);
    if let Some(i) = pos("--one").or(pos("--print")) {
        let (kind, n) = (
            &args[i + 1],
            args[i + 2].parse().expect("a number of entities"),
        );
        if args[i] == "--one" {
            one(kind, n);
        } else {
            println!("{}", scenario(kind, n));
        }
        return;
    }
    if pos("--bench").is_none() && args.len() > 1 {
        return; // `cargo test` runs benches with other arguments: nothing to do.
    }
    let me = std::env::current_exe().expect("own path");
    println!(
        "| model | entities | events | wall s | events/s | peak RSS | bytes per added entity |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    for (kind, sizes) in FAMILIES {
        let mut base: Option<(usize, u64)> = None;
        for &n in sizes {
            let out = Command::new(&me)
                .args(["--one", kind, &n.to_string()])
                .output()
                .expect("run one size");
            assert!(
                out.status.success(),
                "{kind} {n}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let text = String::from_utf8_lossy(&out.stdout);
            let f: Vec<&str> = text.split_whitespace().collect();
            let (events, wall, kb): (u64, f64, u64) = (
                f[0].parse().unwrap(),
                f[1].parse().unwrap(),
                f[2].parse().unwrap(),
            );
            let per = match base {
                None => {
                    base = Some((n, kb));
                    "".to_string()
                }
                Some((n0, kb0)) => format!(
                    "{:.0}",
                    (kb.saturating_sub(kb0) * 1024) as f64 / (n - n0) as f64
                ),
            };
            println!(
                "| {kind} | {n} | {events} | {wall:.2} | {:.2} M | {:.1} MB | {per} |",
                events as f64 / wall / 1e6,
                kb as f64 / 1024.0
            );
        }
    }
}
