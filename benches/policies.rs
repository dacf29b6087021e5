//! Decision-path cost of each policy: nanoseconds per call for the operations a call makes
//! (acquire + record for breakers, one delay for backoffs, one withdraw/deposit for budgets,
//! acquire + release for bulkheads, one acquire for limiters). Results in BENCHMARKS.md.

use criterion::{criterion_group, criterion_main, Criterion};
use faultline::policy::backoff::{AwsJitter, Backoff, BackoffState, PollyBackoffType};
use faultline::policy::breaker::*;
use faultline::policy::budget::{AwsTokenBucket, GrpcThrottle, TpsBudget};
use faultline::policy::limit::{Bulkhead, RateLimiter};
use faultline::policy::Outcome;
use std::hint::black_box;

const MS: u64 = 1_000_000;

fn breakers(c: &mut Criterion) {
    let mut g = c.benchmark_group("breaker_call");
    let make: Vec<(&str, Breaker)> = vec![
        (
            "resilience4j_count",
            Breaker::Resilience4j(Resilience4jBreaker::new(Resilience4jConfig::default()).unwrap()),
        ),
        (
            "resilience4j_time",
            Breaker::Resilience4j(
                Resilience4jBreaker::new(Resilience4jConfig {
                    sliding_window: SlidingWindow::TimeBased { seconds: 10 },
                    ..Default::default()
                })
                .unwrap(),
            ),
        ),
        (
            "pybreaker",
            Breaker::PyBreaker(PyBreaker::new(PyBreakerConfig::default()).unwrap()),
        ),
        (
            "polly",
            Breaker::Polly(PollyBreaker::new(PollyConfig::default()).unwrap()),
        ),
    ];
    for (name, mut b) in make {
        let mut now = 0u64;
        let mut i = 0u64;
        g.bench_function(name, |bench| {
            bench.iter(|| {
                now += MS;
                i += 1;
                // 1 failure in 20: the breakers stay closed, the common path.
                let o = if i.is_multiple_of(20) {
                    Outcome::Error
                } else {
                    Outcome::Ok
                };
                if b.try_acquire(now).is_ok() {
                    b.on_result(now, o, MS);
                }
                black_box(b.state())
            })
        });
    }
    g.finish();
}

fn backoffs(c: &mut Criterion) {
    let mut g = c.benchmark_group("backoff_delay");
    let cases = [
        (
            "resilience4j_exponential",
            Backoff::Resilience4j {
                initial_ms: 500,
                multiplier: 1.5,
                max_ms: Some(60_000),
                randomization_factor: Some(0.5),
            },
        ),
        (
            "polly_decorrelated_v2",
            Backoff::Polly {
                kind: PollyBackoffType::Exponential,
                delay_ns: 200 * MS,
                use_jitter: true,
                max_delay_ns: None,
            },
        ),
        (
            "aws_full_jitter",
            Backoff::Aws {
                jitter: AwsJitter::Full,
                base_ns: 100 * MS,
                cap_ns: 20_000 * MS,
            },
        ),
        (
            "grpc",
            Backoff::Grpc {
                initial_ns: 1000 * MS,
                multiplier: 1.6,
                max_ns: 120_000 * MS,
            },
        ),
    ];
    for (name, b) in cases {
        let mut n = 0u32;
        g.bench_function(name, |bench| {
            bench.iter(|| {
                n = n % 5 + 1;
                let mut st = BackoffState::default();
                black_box(b.delay_ns(black_box(n), &mut st, 0.37))
            })
        });
    }
    g.finish();
}

fn budgets(c: &mut Criterion) {
    let mut g = c.benchmark_group("budget");
    let mut aws = AwsTokenBucket::default();
    g.bench_function("aws_retry_and_refund", |b| {
        b.iter(|| {
            let t = aws.try_retry(false);
            aws.on_success(t);
            black_box(aws.balance())
        })
    });
    let mut tps = TpsBudget::default();
    let mut now = 0u64;
    g.bench_function("tps_deposit_and_withdraw", |b| {
        b.iter(|| {
            now += MS;
            tps.deposit(now);
            black_box(tps.withdraw(now))
        })
    });
    let mut grpc = GrpcThrottle::new(10, 0.1).unwrap();
    g.bench_function("grpc_failure_and_check", |b| {
        b.iter(|| {
            grpc.on_failure();
            grpc.on_success();
            black_box(grpc.allows_retry())
        })
    });
    g.finish();
}

fn limits(c: &mut Criterion) {
    let mut g = c.benchmark_group("limit");
    let mut bh = Bulkhead::semaphore(25, 0);
    g.bench_function("semaphore_acquire_release", |b| {
        b.iter(|| {
            let a = bh.try_acquire(0);
            black_box(bh.release(0));
            a
        })
    });
    let mut tb = RateLimiter::token_bucket(1e6, 100, 0).unwrap();
    let mut now = 0u64;
    g.bench_function("token_bucket_acquire", |b| {
        b.iter(|| {
            now += 1000;
            black_box(tb.try_acquire(now))
        })
    });
    let mut r4j = RateLimiter::resilience4j(50, 500, 5_000 * MS, 0).unwrap();
    let mut now2 = 0u64;
    g.bench_function("resilience4j_limiter_acquire", |b| {
        b.iter(|| {
            now2 += 20;
            black_box(r4j.try_acquire(now2))
        })
    });
    g.finish();
}

fn health(c: &mut Criterion) {
    use faultline::policy::health::{
        NginxPassive, NginxPassiveConfig, OutlierConfig, OutlierDetector, Probe, ProbeConfig,
    };
    let mut g = c.benchmark_group("health");
    let mut probe = Probe::new(ProbeConfig::default(), true);
    let mut i = 0u64;
    g.bench_function("kubernetes_probe_result", |b| {
        b.iter(|| {
            i += 1;
            black_box(probe.on_result(!i.is_multiple_of(7)))
        })
    });
    let cfg = NginxPassiveConfig::default();
    let mut peer = NginxPassive::default();
    let mut now = 0u64;
    g.bench_function("nginx_pick_and_result", |b| {
        b.iter(|| {
            now += MS;
            let up = peer.available(&cfg, now);
            peer.on_selected(&cfg, now);
            peer.on_result(&cfg, !now.is_multiple_of(20), now);
            black_box(up)
        })
    });
    let mut od = OutlierDetector::new(OutlierConfig::default(), 10).unwrap();
    let mut n = 0u64;
    g.bench_function("envoy_result", |b| {
        b.iter(|| {
            n += 1;
            black_box(od.on_result((n % 10) as usize, !n.is_multiple_of(20), n * MS))
        })
    });
    g.finish();
}

criterion_group!(benches, breakers, backoffs, budgets, limits, health);
criterion_main!(benches);
