//! Engine benchmark: the shipped `scenarios/mm1.ron` run end to end (metrics and trace hash
//! on), reported as simulated customers per wall second. BENCHMARKS.md compares it with the
//! hand-written floor and SimPy using `benches/compare.sh`, which runs all three in one go.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use faultline::engine::SimDuration;
use faultline::scenario::{self, Overrides};

fn mm1(c: &mut Criterion) {
    let text = include_str!("../scenarios/mm1.ron");
    // 200k customers at 0.9 per second, no warm-up cut (the bench measures speed, not means).
    let customers = 200_000u64;
    let secs = (customers as f64 / 0.9) as u64;
    let text = text.replace("warmup: \"1h\"", "warmup: \"0s\"");
    let sc = scenario::from_str(
        &text,
        "mm1.ron",
        &Overrides {
            duration: Some(SimDuration::from_secs(secs)),
            ..Default::default()
        },
    )
    .expect("mm1.ron is valid");
    let mut g = c.benchmark_group("engine");
    g.throughput(Throughput::Elements(customers));
    g.sample_size(20);
    g.bench_function("mm1_200k_customers", |b| {
        b.iter(|| {
            let r = faultline::runner::run(&sc);
            assert!(r.summary.services[0].completed > customers * 9 / 10);
            r.trace_hash
        })
    });
    g.finish();
}

criterion_group!(benches, mm1);
criterion_main!(benches);
