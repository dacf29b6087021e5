//! How long to wait before retry number `n` (1 for the first retry), in nanoseconds.
//!
//! The formulas follow each library exactly, including where they truncate: Resilience4j works
//! in whole milliseconds and truncates after every multiplication; Polly counts attempts from 0;
//! the AWS architecture blog's `expo(n) = min(cap, base * 2^n)` starts at n = 1. Random modes take
//! a uniform draw `u` in [0, 1) from the caller; decorrelated modes keep their previous value in
//! [`BackoffState`].

use super::{config_error, ConfigError};

const NS_PER_MS: f64 = 1e6;

/// Which jitter the AWS architecture blog formula applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AwsJitter {
    /// `expo(n)`.
    None,
    /// `U(0, expo(n))`.
    Full,
    /// `v/2 + U(0, v/2)` with `v = expo(n)`.
    Equal,
    /// `min(cap, U(base, 3 * previous))`, starting from `previous = base`.
    Decorrelated,
}

/// Polly v8's `DelayBackoffType`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PollyBackoffType {
    Constant,
    Linear,
    Exponential,
}

/// A backoff schedule.
#[derive(Clone, Debug, PartialEq)]
pub enum Backoff {
    /// The same delay every time (Resilience4j `IntervalFunction.of`).
    Constant { delay_ns: u64 },
    /// Resilience4j `IntervalFunction.ofExponentialBackoff(initial, multiplier, max)`, and with a
    /// randomization factor `ofExponentialRandomBackoff`: x1 = initial, x(n+1) = (long)(x(n) *
    /// multiplier) in milliseconds; randomized as `max(1, (long)(v - f v + u (2 f v + 1)))`, then
    /// capped at `max`.
    Resilience4j {
        initial_ms: u64,
        multiplier: f64,
        max_ms: Option<u64>,
        randomization_factor: Option<f64>,
    },
    /// Polly v8 retry delays (attempt k = n - 1, counted from 0): Constant d, Linear (k+1) d,
    /// Exponential 2^k d; jitter on Constant/Linear gives `x + x 0.5 u - x/4`; Exponential with
    /// jitter is Polly's decorrelated jitter V2. The final delay is capped at `max_delay`.
    Polly {
        kind: PollyBackoffType,
        delay_ns: u64,
        use_jitter: bool,
        max_delay_ns: Option<u64>,
    },
    /// The AWS architecture blog "Exponential Backoff and Jitter": `expo(n) = min(cap, base 2^n)`.
    Aws {
        jitter: AwsJitter,
        base_ns: u64,
        cap_ns: u64,
    },
    /// gRPC A6: retry n waits `min(initial multiplier^(n-1), max) * U(0.8, 1.2)`.
    Grpc {
        initial_ns: u64,
        multiplier: f64,
        max_ns: u64,
    },
}

/// What decorrelated modes remember between retries of one call. Start a fresh one per call.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct BackoffState {
    prev: f64,
}

impl Backoff {
    /// Checks the parameters; call once when building the policy.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self {
            Backoff::Constant { .. } => Ok(()),
            Backoff::Resilience4j {
                initial_ms,
                multiplier,
                randomization_factor,
                ..
            } => {
                if *initial_ms < 1 {
                    return Err(config_error(
                        "initial",
                        "Resilience4j requires an initial interval of at least 1 ms",
                    ));
                }
                if !(*multiplier >= 1.0 && multiplier.is_finite()) {
                    return Err(config_error(
                        "multiplier",
                        format!("must be at least 1, got {multiplier}"),
                    ));
                }
                if let Some(f) = randomization_factor {
                    if !(0.0..=1.0).contains(f) {
                        return Err(config_error(
                            "randomization_factor",
                            format!("must be in [0, 1], got {f}"),
                        ));
                    }
                }
                Ok(())
            }
            Backoff::Polly { .. } => Ok(()),
            Backoff::Aws {
                base_ns, cap_ns, ..
            } => {
                if base_ns > cap_ns {
                    return Err(config_error("cap", "the cap must not be below the base"));
                }
                Ok(())
            }
            Backoff::Grpc {
                initial_ns,
                multiplier,
                max_ns,
            } => {
                if *initial_ns == 0 || *max_ns == 0 {
                    return Err(config_error(
                        "initial_backoff",
                        "gRPC requires initial and max backoff above zero",
                    ));
                }
                if !(*multiplier > 0.0 && multiplier.is_finite()) {
                    return Err(config_error(
                        "backoff_multiplier",
                        format!("must be above zero, got {multiplier}"),
                    ));
                }
                Ok(())
            }
        }
    }

    /// The delay before retry `n` (n >= 1), given a uniform draw `u` in [0, 1).
    pub fn delay_ns(&self, n: u32, state: &mut BackoffState, u: f64) -> u64 {
        debug_assert!(n >= 1);
        match self {
            Backoff::Constant { delay_ns } => *delay_ns,
            Backoff::Resilience4j {
                initial_ms,
                multiplier,
                max_ms,
                randomization_factor,
            } => {
                let mut x = *initial_ms as i64;
                for _ in 1..n {
                    x = ((x as f64) * multiplier) as i64; // Java's (long) cast truncates
                    if !(0..=i64::MAX / 4).contains(&x) {
                        x = i64::MAX / 4;
                    }
                }
                let mut v = x;
                if let Some(f) = randomization_factor {
                    let cur = x as f64;
                    let delta = f * cur;
                    let (lo, hi) = (cur - delta, cur + delta);
                    v = ((lo + u * (hi - lo + 1.0)) as i64).max(1);
                }
                if let Some(m) = max_ms {
                    v = v.min(*m as i64);
                }
                (v as f64 * NS_PER_MS) as u64
            }
            Backoff::Polly {
                kind,
                delay_ns,
                use_jitter,
                max_delay_ns,
            } => {
                let d = *delay_ns as f64;
                let k = (n - 1) as f64;
                let raw = if d == 0.0 {
                    0.0
                } else {
                    match (kind, use_jitter) {
                        (PollyBackoffType::Constant, false) => d,
                        (PollyBackoffType::Linear, false) => (k + 1.0) * d,
                        (PollyBackoffType::Exponential, false) => libm::pow(2.0, k) * d,
                        (PollyBackoffType::Constant, true) => jitter_polly(d, u),
                        (PollyBackoffType::Linear, true) => jitter_polly((k + 1.0) * d, u),
                        (PollyBackoffType::Exponential, true) => {
                            // Decorrelated jitter V2 (Polly.Core RetryHelper).
                            let t = k + u;
                            let next = libm::pow(2.0, t) * libm::tanh((4.0 * t).sqrt());
                            let v = (next - state.prev) * (1.0 / 1.4) * d;
                            state.prev = next;
                            // From about the 1,024th retry 2^t overflows: Polly then waits the
                            // longest delay it can express (TimeSpan.MaxValue, less than a
                            // u64 of nanoseconds can hold), capped by max_delay like any other,
                            // never the NaN (inf - inf) that would cast to an immediate retry.
                            if next.is_finite() {
                                v
                            } else {
                                f64::INFINITY
                            }
                        }
                    }
                };
                let capped = match max_delay_ns {
                    Some(m) => raw.min(*m as f64),
                    None => raw,
                };
                capped.max(0.0) as u64
            }
            Backoff::Aws {
                jitter,
                base_ns,
                cap_ns,
            } => {
                let base = *base_ns as f64;
                let cap = *cap_ns as f64;
                let expo = (base * libm::pow(2.0, n.min(62) as f64)).min(cap);
                let v = match jitter {
                    AwsJitter::None => expo,
                    AwsJitter::Full => u * expo,
                    AwsJitter::Equal => expo / 2.0 + u * (expo / 2.0),
                    AwsJitter::Decorrelated => {
                        let prev = if state.prev == 0.0 { base } else { state.prev };
                        let s = (base + u * (3.0 * prev - base)).min(cap);
                        state.prev = s;
                        s
                    }
                };
                v as u64
            }
            Backoff::Grpc {
                initial_ns,
                multiplier,
                max_ns,
            } => {
                let x = (*initial_ns as f64 * libm::pow(*multiplier, (n - 1).min(1000) as f64))
                    .min(*max_ns as f64);
                (x * (0.8 + 0.4 * u)) as u64
            }
        }
    }
}

/// Polly's jitter for constant and linear backoff: uniform in [0.75 x, 1.25 x).
fn jitter_polly(x: f64, u: f64) -> f64 {
    x + x * 0.5 * u - x / 4.0
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;
    const S: u64 = 1_000_000_000;

    /// Delays for retries 1..=expected.len() with the same draw `u`, against `expected` (ns).
    fn check(b: Backoff, u: f64, expected: &[u64]) {
        b.validate().unwrap();
        let mut st = BackoffState::default();
        let got: Vec<u64> = (1..=expected.len() as u32)
            .map(|n| b.delay_ns(n, &mut st, u))
            .collect();
        assert_eq!(got, expected, "{b:?} u={u}");
    }

    fn r4j(initial_ms: u64, multiplier: f64, max_ms: Option<u64>, f: Option<f64>) -> Backoff {
        Backoff::Resilience4j {
            initial_ms,
            multiplier,
            max_ms,
            randomization_factor: f,
        }
    }
    fn polly(
        kind: PollyBackoffType,
        delay_ns: u64,
        use_jitter: bool,
        max_delay_ns: Option<u64>,
    ) -> Backoff {
        Backoff::Polly {
            kind,
            delay_ns,
            use_jitter,
            max_delay_ns,
        }
    }
    fn aws(jitter: AwsJitter) -> Backoff {
        Backoff::Aws {
            jitter,
            base_ns: 100 * MS,
            cap_ns: S,
        }
    }

    #[test]
    fn resilience4j_interval_functions() {
        // Defaults 500 ms x 1.5, truncated to whole ms at every step: 1125 * 1.5 = 1687.5 -> 1687,
        // 1687 * 1.5 = 2530.5 -> 2530.
        check(
            r4j(500, 1.5, None, None),
            0.0,
            &[500 * MS, 750 * MS, 1125 * MS, 1687 * MS, 2530 * MS],
        );
        check(
            r4j(500, 1.5, Some(2000), None),
            0.0,
            &[500 * MS, 750 * MS, 1125 * MS, 1687 * MS, 2000 * MS],
        );
        // randomize(1000, 0.5): min 500, max 1500; u=0 -> 500; u=0.999 -> (long)(500 + 0.999*1001) = 1499.
        check(r4j(1000, 1.0, None, Some(0.5)), 0.0, &[500 * MS]);
        check(r4j(1000, 1.0, None, Some(0.5)), 0.999, &[1499 * MS]);
        // Randomize first, then cap.
        check(r4j(1000, 1.0, Some(1200), Some(0.5)), 0.999, &[1200 * MS]);
        // Never below 1 ms.
        check(r4j(1, 1.0, None, Some(1.0)), 0.0, &[MS]);
        check(
            Backoff::Constant { delay_ns: 500 * MS },
            0.3,
            &[500 * MS, 500 * MS],
        );
    }

    #[test]
    fn polly_delays_count_attempts_from_zero() {
        use PollyBackoffType::*;
        check(
            polly(Constant, 2 * S, false, None),
            0.0,
            &[2 * S, 2 * S, 2 * S],
        );
        check(
            polly(Linear, 2 * S, false, None),
            0.0,
            &[2 * S, 4 * S, 6 * S],
        );
        check(
            polly(Exponential, 2 * S, false, None),
            0.0,
            &[2 * S, 4 * S, 8 * S],
        );
        check(
            polly(Exponential, 2 * S, false, Some(5 * S)),
            0.0,
            &[2 * S, 4 * S, 5 * S],
        );
        // Jitter on constant: x + x/2 u - x/4, so [0.75 x, 1.25 x).
        check(polly(Constant, 2 * S, true, None), 0.0, &[1_500_000_000]);
        check(polly(Constant, 2 * S, true, None), 0.5, &[2 * S]);
        check(polly(Linear, 2 * S, true, None), 0.5, &[2 * S, 4 * S]);
        check(polly(Exponential, 0, true, None), 0.5, &[0, 0]);
    }

    #[test]
    fn polly_decorrelated_jitter_overflow_waits_the_longest_delay_not_zero() {
        // 2^t overflows f64 from t = 1024: attempts 1025 on wait the longest delay there is
        // (a run's end, in practice), or max_delay when one is set; the attempts before stay
        // finite and positive.
        let mut st = BackoffState::default();
        let b = polly(PollyBackoffType::Exponential, S, true, None);
        let delays: Vec<u64> = (1..=1030).map(|n| b.delay_ns(n, &mut st, 0.5)).collect();
        assert!(delays[..1023].iter().all(|&d| d > 0));
        assert!(
            delays[1024..].iter().all(|&d| d == u64::MAX),
            "{:?}",
            &delays[1020..]
        );
        let mut st = BackoffState::default();
        let capped = polly(PollyBackoffType::Exponential, S, true, Some(30 * S));
        let delays: Vec<u64> = (1..=1030)
            .map(|n| capped.delay_ns(n, &mut st, 0.5))
            .collect();
        assert!(delays[1024..].iter().all(|&d| d == 30 * S));
    }

    #[test]
    fn polly_decorrelated_jitter_v2_matches_an_independent_computation() {
        // Reference values from tests/data/polly_v2_reference.py (Python, from Polly's formula):
        // d = 1 s, u = 0.5 for every draw.
        check(
            polly(PollyBackoffType::Exponential, S, true, None),
            0.5,
            &[897_404_935, 1_093_003_547, 2_035_747_962],
        );
    }

    #[test]
    fn aws_blog_formulas() {
        // expo(n) = min(1 s, 100 ms * 2^n): 200, 400, 800, 1000 ms.
        check(
            aws(AwsJitter::None),
            0.0,
            &[200 * MS, 400 * MS, 800 * MS, 1000 * MS],
        );
        check(
            aws(AwsJitter::Full),
            0.5,
            &[100 * MS, 200 * MS, 400 * MS, 500 * MS],
        );
        check(
            aws(AwsJitter::Equal),
            0.5,
            &[150 * MS, 300 * MS, 600 * MS, 750 * MS],
        );
        // Decorrelated: s = min(cap, base + u (3 prev - base)), prev starts at base.
        // u = 0.5: 100 + 0.5*200 = 200; 100 + 0.5*500 = 350; 100 + 0.5*950 = 575; 100 + 0.5*1625 -> cap 1000.
        check(
            aws(AwsJitter::Decorrelated),
            0.5,
            &[200 * MS, 350 * MS, 575 * MS, 912_500_000, 1000 * MS],
        );
    }

    #[test]
    fn grpc_a6_backoff() {
        let b = Backoff::Grpc {
            initial_ns: S,
            multiplier: 2.0,
            max_ns: 10 * S,
        };
        check(b.clone(), 0.5, &[S, 2 * S, 4 * S, 8 * S, 10 * S]);
        check(b.clone(), 0.0, &[800 * MS, 1600 * MS]);
    }

    #[test]
    fn invalid_configurations_are_rejected() {
        assert!(r4j(0, 1.5, None, None).validate().is_err());
        assert!(r4j(500, 0.5, None, None).validate().is_err());
        assert!(r4j(500, 1.5, None, Some(1.5)).validate().is_err());
        assert!(Backoff::Aws {
            jitter: AwsJitter::Full,
            base_ns: 2 * S,
            cap_ns: S
        }
        .validate()
        .is_err());
        assert!(Backoff::Grpc {
            initial_ns: 0,
            multiplier: 2.0,
            max_ns: S
        }
        .validate()
        .is_err());
    }
}
