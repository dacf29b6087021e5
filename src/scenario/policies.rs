//! Policy stacks in scenario files: RON to `model::PolicySpec`, with each configuration checked
//! by the policy's own constructor so that the rules live in one place (`policy/`), and every
//! problem reported with its field path.

use super::check::Checker;
use super::raw::*;
use crate::engine::SimDuration;
use crate::model::{
    AdmissionSpec, BreakerSpec, BudgetSpec, BulkheadSpec, ConcurrencyLimitSpec, HedgeDelay,
    LimiterSpec, PolicySpec, RetrySpec, Scope,
};
use crate::policy::adaptive::{AimdLimit, FeatureFlag, Gradient2Limit, SreThrottle};
use crate::policy::backoff::{AwsJitter, Backoff, PollyBackoffType};
use crate::policy::breaker::{
    BreakerState, PollyBreaker, PollyConfig, PyBreaker, PyBreakerConfig, Resilience4jBreaker,
    Resilience4jConfig, SlidingWindow,
};
use crate::policy::budget::{AwsTokenBucket, GrpcThrottle, TpsBudget};
use crate::policy::limit::{Bulkhead, RateLimiter};
use crate::policy::{ConfigError, Outcome, OutcomeSet};

/// Longest policy stack on one edge.
pub const MAX_LAYERS: usize = 16;
/// Most attempts a retry may make.
pub const MAX_ATTEMPTS: i64 = 100;

fn outcome(o: RawOutcome) -> Outcome {
    match o {
        RawOutcome::Ok => Outcome::Ok,
        RawOutcome::Degraded => Outcome::Degraded,
        RawOutcome::Timeout => Outcome::Timeout,
        RawOutcome::Rejected => Outcome::Rejected,
        RawOutcome::Refused => Outcome::Refused,
        RawOutcome::Overloaded => Outcome::Overloaded,
        RawOutcome::Dropped => Outcome::Dropped,
        RawOutcome::Error => Outcome::Error,
    }
}

fn set(list: &Option<Vec<RawOutcome>>, default: OutcomeSet) -> OutcomeSet {
    match list {
        None => default,
        Some(v) => v.iter().fold(OutcomeSet::EMPTY, |s, o| s.with(outcome(*o))),
    }
}

fn scope(s: Option<RawScope>) -> Scope {
    match s {
        Some(RawScope::Shared) => Scope::Shared,
        _ => Scope::PerReplica,
    }
}

fn state(s: RawBreakerState) -> BreakerState {
    match s {
        RawBreakerState::Closed => BreakerState::Closed,
        RawBreakerState::Open => BreakerState::Open,
        RawBreakerState::Disabled => BreakerState::Disabled,
        RawBreakerState::ForcedOpen => BreakerState::ForcedOpen,
        RawBreakerState::MetricsOnly => BreakerState::MetricsOnly,
    }
}

impl Checker {
    pub(super) fn config<T>(&mut self, path: &str, r: Result<T, ConfigError>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.err(format!("{path}.{}", e.field), e.message);
                None
            }
        }
    }

    pub(super) fn opt_duration(
        &mut self,
        path: &str,
        v: &Option<String>,
        default: SimDuration,
    ) -> SimDuration {
        match v {
            Some(t) => self.duration(path, t).unwrap_or(default),
            None => default,
        }
    }

    pub(super) fn small(
        &mut self,
        path: &str,
        v: Option<i64>,
        default: i64,
        min: i64,
        max: i64,
        what: &str,
    ) -> u32 {
        self.count(path, v, default, min, max, what) as u32
    }
}

/// The policies of one client or call (`path` is e.g. `services[1].calls[0]`), with its
/// `timeout` field as a last, innermost timeout layer.
pub(super) fn stack(
    c: &mut Checker,
    path: &str,
    raw: &[RawPolicy],
    timeout: Option<&str>,
) -> Vec<PolicySpec> {
    let mut out = Vec::new();
    if raw.len() > MAX_LAYERS {
        c.err(
            format!("{path}.policies"),
            format!("at most {MAX_LAYERS} policies per call, got {}", raw.len()),
        );
    }
    for (i, p) in raw.iter().enumerate() {
        if let Some(spec) = policy(c, &format!("{path}.policies[{i}]"), p) {
            out.push(spec);
        }
    }
    if let Some(t) = timeout {
        if let Some(d) = c.positive_duration(&format!("{path}.timeout"), t) {
            out.push(PolicySpec::Timeout { timeout: d });
        }
    }
    out
}

fn policy(c: &mut Checker, p: &str, raw: &RawPolicy) -> Option<PolicySpec> {
    match raw {
        RawPolicy::Timeout(t) => Some(PolicySpec::Timeout {
            timeout: c.positive_duration(p, t)?,
        }),
        RawPolicy::Fallback { on } => Some(PolicySpec::Fallback {
            on: set(on, OutcomeSet::failures()),
        }),
        RawPolicy::FeatureFlag {
            failure_rate_above,
            min_calls,
            window,
            off_for,
            scope: sc,
        } => {
            let min_calls = c.small(
                &format!("{p}.min_calls"),
                *min_calls,
                20,
                1,
                1_000_000_000,
                "min_calls",
            );
            let window = c.opt_duration(&format!("{p}.window"), window, SimDuration::from_secs(10));
            let off_for =
                c.opt_duration(&format!("{p}.off_for"), off_for, SimDuration::from_secs(30));
            c.config(
                p,
                FeatureFlag::new(*failure_rate_above, min_calls, window.0, off_for.0),
            )?;
            Some(PolicySpec::FeatureFlag {
                failure_rate_above: *failure_rate_above,
                min_calls,
                window,
                off_for,
                scope: scope(*sc),
            })
        }
        RawPolicy::AdaptiveThrottle {
            k,
            window,
            scope: sc,
        } => {
            let k = k.unwrap_or(2.0);
            let window =
                c.opt_duration(&format!("{p}.window"), window, SimDuration::from_secs(120));
            c.config(p, SreThrottle::new(k, window.0))?;
            Some(PolicySpec::AdaptiveThrottle {
                k,
                window,
                scope: scope(*sc),
            })
        }
        RawPolicy::Hedge {
            max_hedged_attempts,
            delay,
        } => {
            // Polly v8: MaxHedgedAttempts 1 (1 to 10), Delay 2 s.
            let max = c.small(
                &format!("{p}.max_hedged_attempts"),
                *max_hedged_attempts,
                1,
                1,
                10,
                "max_hedged_attempts",
            );
            let delay = match delay {
                None => HedgeDelay::Fixed(SimDuration::from_secs(2)),
                Some(RawHedgeDelay::Fixed(d)) => {
                    HedgeDelay::Fixed(c.positive_duration(&format!("{p}.delay"), d)?)
                }
                Some(RawHedgeDelay::Parallel) => HedgeDelay::Parallel,
                Some(RawHedgeDelay::Fallback) => HedgeDelay::Fallback,
                Some(RawHedgeDelay::Percentile {
                    quantile,
                    window,
                    initial,
                }) => {
                    if !(*quantile > 0.0 && *quantile < 1.0) {
                        c.err(
                            format!("{p}.delay.quantile"),
                            format!("must be between 0 and 1 (exclusive), got {quantile}"),
                        );
                        return None;
                    }
                    HedgeDelay::Percentile {
                        quantile: *quantile,
                        window: c.small(
                            &format!("{p}.delay.window"),
                            *window,
                            1000,
                            10,
                            1_000_000,
                            "window",
                        ),
                        initial: c.positive_duration(&format!("{p}.delay.initial"), initial)?,
                    }
                }
            };
            Some(PolicySpec::Hedge {
                max_hedged_attempts: max,
                delay,
            })
        }
        RawPolicy::Retry {
            max_attempts,
            max_retries,
            retry_on,
            backoff,
            budget,
            scope: sc,
        } => {
            let attempts = match (max_attempts, max_retries) {
                (Some(_), Some(_)) => {
                    c.err(format!("{p}.max_retries"), "give max_attempts (the first call included: Resilience4j, AWS, gRPC) or max_retries (Polly), not both");
                    return None;
                }
                (Some(a), None) => c.small(
                    &format!("{p}.max_attempts"),
                    Some(*a),
                    3,
                    1,
                    MAX_ATTEMPTS,
                    "max_attempts",
                ),
                (None, Some(r)) => {
                    c.small(
                        &format!("{p}.max_retries"),
                        Some(*r),
                        2,
                        0,
                        MAX_ATTEMPTS - 1,
                        "max_retries",
                    ) + 1
                }
                (None, None) => 3,
            };
            let backoff = match backoff {
                None => Backoff::Constant {
                    delay_ns: 500_000_000,
                },
                Some(b) => self::backoff(c, &format!("{p}.backoff"), b)?,
            };
            let budget = match budget {
                None => None,
                Some(b) => Some(self::budget(c, &format!("{p}.budget"), b)?),
            };
            Some(PolicySpec::Retry(RetrySpec {
                max_attempts: attempts,
                retry_on: set(retry_on, OutcomeSet::failures()),
                backoff,
                budget,
                budget_scope: scope(*sc),
            }))
        }
        RawPolicy::CircuitBreaker(b) => breaker(c, p, b),
        RawPolicy::Bulkhead(b) => {
            let (bulkhead, sc) = match b {
                RawBulkhead::Semaphore {
                    max_concurrent,
                    max_wait,
                    scope: sc,
                } => (
                    BulkheadSpec::Semaphore {
                        max_concurrent: c.small(
                            &format!("{p}.max_concurrent"),
                            *max_concurrent,
                            25,
                            0,
                            10_000_000,
                            "max_concurrent",
                        ),
                        max_wait: c.opt_duration(
                            &format!("{p}.max_wait"),
                            max_wait,
                            SimDuration::ZERO,
                        ),
                    },
                    *sc,
                ),
                RawBulkhead::ThreadPool {
                    core,
                    max,
                    queue_capacity,
                    keep_alive,
                    scope: sc,
                } => {
                    let core = c.small(&format!("{p}.core"), Some(*core), 1, 1, 10_000_000, "core");
                    let max = c.small(&format!("{p}.max"), Some(*max), 1, 1, 10_000_000, "max");
                    let queue_capacity = c.small(
                        &format!("{p}.queue_capacity"),
                        *queue_capacity,
                        100,
                        0,
                        100_000_000,
                        "queue_capacity",
                    );
                    // Resilience4j's keepAliveDuration default.
                    let keep_alive = c.opt_duration(
                        &format!("{p}.keep_alive"),
                        keep_alive,
                        SimDuration::from_millis(20),
                    );
                    c.config(
                        p,
                        Bulkhead::thread_pool(core, max, queue_capacity, keep_alive.0),
                    )?;
                    (
                        BulkheadSpec::ThreadPool {
                            core,
                            max,
                            queue_capacity,
                            keep_alive,
                        },
                        *sc,
                    )
                }
            };
            Some(PolicySpec::Bulkhead {
                bulkhead,
                scope: scope(sc),
            })
        }
        RawPolicy::RateLimiter(l) => {
            let (limiter, sc) = match l {
                RawLimiter::TokenBucket {
                    rate_per_s,
                    burst,
                    scope: sc,
                } => {
                    let burst =
                        c.small(&format!("{p}.burst"), *burst, 1, 1, 1_000_000_000, "burst");
                    c.config(p, RateLimiter::token_bucket(*rate_per_s, burst, 0))?;
                    (
                        LimiterSpec::TokenBucket {
                            rate_per_s: *rate_per_s,
                            burst,
                        },
                        *sc,
                    )
                }
                RawLimiter::Resilience4j {
                    limit_for_period,
                    refresh_period,
                    timeout,
                    scope: sc,
                } => {
                    let limit = c.small(
                        &format!("{p}.limit_for_period"),
                        *limit_for_period,
                        50,
                        1,
                        1_000_000_000,
                        "limit_for_period",
                    );
                    let period = c.opt_duration(
                        &format!("{p}.refresh_period"),
                        refresh_period,
                        SimDuration(500),
                    );
                    let t =
                        c.opt_duration(&format!("{p}.timeout"), timeout, SimDuration::from_secs(5));
                    c.config(p, RateLimiter::resilience4j(limit, period.0, t.0, 0))?;
                    (
                        LimiterSpec::Resilience4j {
                            limit_for_period: limit,
                            refresh_period: period,
                            timeout: t,
                        },
                        *sc,
                    )
                }
            };
            Some(PolicySpec::RateLimiter {
                limiter,
                scope: scope(sc),
            })
        }
    }
}

fn backoff(c: &mut Checker, p: &str, b: &RawBackoff) -> Option<Backoff> {
    let ms = |d: SimDuration| d.0 / 1_000_000;
    let out = match b {
        RawBackoff::Constant(d) => Backoff::Constant {
            delay_ns: c.duration(p, d)?.0,
        },
        RawBackoff::Resilience4j {
            initial,
            multiplier,
            max,
            randomization_factor,
        } => {
            let initial = c.duration(&format!("{p}.initial"), initial)?;
            let max = match max {
                Some(m) => Some(ms(c.duration(&format!("{p}.max"), m)?)),
                None => None,
            };
            Backoff::Resilience4j {
                initial_ms: ms(initial),
                multiplier: multiplier.unwrap_or(1.5),
                max_ms: max,
                randomization_factor: *randomization_factor,
            }
        }
        RawBackoff::Polly {
            kind,
            delay,
            jitter,
            max_delay,
        } => Backoff::Polly {
            kind: match kind.unwrap_or(RawPollyKind::Constant) {
                RawPollyKind::Constant => PollyBackoffType::Constant,
                RawPollyKind::Linear => PollyBackoffType::Linear,
                RawPollyKind::Exponential => PollyBackoffType::Exponential,
            },
            delay_ns: c.duration(&format!("{p}.delay"), delay)?.0,
            use_jitter: jitter.unwrap_or(false),
            max_delay_ns: match max_delay {
                Some(m) => Some(c.duration(&format!("{p}.max_delay"), m)?.0),
                None => None,
            },
        },
        RawBackoff::Aws { jitter, base, cap } => Backoff::Aws {
            jitter: match jitter {
                RawAwsJitter::None => AwsJitter::None,
                RawAwsJitter::Full => AwsJitter::Full,
                RawAwsJitter::Equal => AwsJitter::Equal,
                RawAwsJitter::Decorrelated => AwsJitter::Decorrelated,
            },
            base_ns: c.duration(&format!("{p}.base"), base)?.0,
            cap_ns: c.duration(&format!("{p}.cap"), cap)?.0,
        },
        RawBackoff::Grpc {
            initial,
            multiplier,
            max,
        } => Backoff::Grpc {
            initial_ns: c.duration(&format!("{p}.initial"), initial)?.0,
            multiplier: *multiplier,
            max_ns: c.duration(&format!("{p}.max"), max)?.0,
        },
    };
    c.config(p, out.validate())?;
    Some(out)
}

fn budget(c: &mut Checker, p: &str, b: &RawBudget) -> Option<BudgetSpec> {
    match b {
        RawBudget::AwsTokenBucket {
            capacity,
            retry_cost,
            timeout_retry_cost,
            no_retry_increment,
        } => {
            let capacity = c.small(
                &format!("{p}.capacity"),
                *capacity,
                500,
                1,
                1_000_000_000,
                "capacity",
            );
            let retry_cost = c.small(
                &format!("{p}.retry_cost"),
                *retry_cost,
                5,
                0,
                1_000_000_000,
                "retry_cost",
            );
            let timeout_retry_cost = c.small(
                &format!("{p}.timeout_retry_cost"),
                *timeout_retry_cost,
                10,
                0,
                1_000_000_000,
                "timeout_retry_cost",
            );
            let no_retry_increment = c.small(
                &format!("{p}.no_retry_increment"),
                *no_retry_increment,
                1,
                0,
                1_000_000_000,
                "no_retry_increment",
            );
            c.config(
                p,
                AwsTokenBucket::new(capacity, retry_cost, timeout_retry_cost, no_retry_increment),
            )?;
            Some(BudgetSpec::AwsTokenBucket {
                capacity,
                retry_cost,
                timeout_retry_cost,
                no_retry_increment,
            })
        }
        RawBudget::Tps {
            ttl,
            min_per_sec,
            retry_percent,
        } => {
            let ttl = c.opt_duration(&format!("{p}.ttl"), ttl, SimDuration::from_secs(10));
            let min_per_sec = c.small(
                &format!("{p}.min_per_sec"),
                *min_per_sec,
                10,
                0,
                i32::MAX as i64 - 1,
                "min_per_sec",
            );
            let retry_percent = retry_percent.unwrap_or(0.2) as f32;
            c.config(p, TpsBudget::new(ttl.0, min_per_sec, retry_percent, 0))?;
            Some(BudgetSpec::Tps {
                ttl,
                min_per_sec,
                retry_percent,
            })
        }
        RawBudget::GrpcThrottle {
            max_tokens,
            token_ratio,
        } => {
            let max_tokens = c.small(
                &format!("{p}.max_tokens"),
                Some(*max_tokens),
                10,
                1,
                1000,
                "max_tokens",
            );
            c.config(p, GrpcThrottle::new(max_tokens, *token_ratio))?;
            Some(BudgetSpec::GrpcThrottle {
                max_tokens,
                token_ratio: *token_ratio,
            })
        }
    }
}

fn breaker(c: &mut Checker, p: &str, b: &RawBreaker) -> Option<PolicySpec> {
    let (breaker, sc) = match b {
        RawBreaker::Resilience4j {
            failure_rate_threshold,
            slow_call_rate_threshold,
            slow_call_duration_threshold,
            wait_in_open,
            wait_multiplier,
            max_wait_in_open,
            permitted_calls_in_half_open,
            sliding_window,
            minimum_number_of_calls,
            max_wait_in_half_open,
            after_max_wait_in_half_open,
            automatic_transition,
            initial_state,
            record,
            ignore,
            scope: sc,
        } => {
            let d = Resilience4jConfig::default();
            let wait = c.opt_duration(
                &format!("{p}.wait_in_open"),
                wait_in_open,
                SimDuration::from_secs(60),
            );
            let wait_in_open = match (wait_multiplier, max_wait_in_open) {
                (None, None) => Backoff::Constant { delay_ns: wait.0 },
                _ => Backoff::Resilience4j {
                    initial_ms: wait.0 / 1_000_000,
                    multiplier: wait_multiplier.unwrap_or(1.5),
                    max_ms: max_wait_in_open
                        .as_ref()
                        .and_then(|m| c.duration(&format!("{p}.max_wait_in_open"), m))
                        .map(|m| m.0 / 1_000_000),
                    randomization_factor: None,
                },
            };
            let sliding_window = match sliding_window {
                None => d.sliding_window,
                Some(RawWindow::CountBased(n)) => SlidingWindow::CountBased {
                    size: c.small(
                        &format!("{p}.sliding_window"),
                        Some(*n),
                        100,
                        1,
                        1_000_000,
                        "a count-based window",
                    ),
                },
                Some(RawWindow::TimeBased(n)) => SlidingWindow::TimeBased {
                    seconds: c.small(
                        &format!("{p}.sliding_window"),
                        Some(*n),
                        100,
                        1,
                        3600,
                        "a time-based window (seconds)",
                    ),
                },
            };
            let cfg = Resilience4jConfig {
                failure_rate_threshold: failure_rate_threshold
                    .map(|v| v as f32)
                    .unwrap_or(d.failure_rate_threshold),
                slow_call_rate_threshold: slow_call_rate_threshold
                    .map(|v| v as f32)
                    .unwrap_or(d.slow_call_rate_threshold),
                slow_call_duration_threshold_ns: c
                    .opt_duration(
                        &format!("{p}.slow_call_duration_threshold"),
                        slow_call_duration_threshold,
                        SimDuration(d.slow_call_duration_threshold_ns),
                    )
                    .0,
                wait_in_open,
                permitted_calls_in_half_open: c.small(
                    &format!("{p}.permitted_calls_in_half_open"),
                    *permitted_calls_in_half_open,
                    10,
                    1,
                    1_000_000,
                    "permitted_calls_in_half_open",
                ),
                sliding_window,
                minimum_number_of_calls: c.small(
                    &format!("{p}.minimum_number_of_calls"),
                    *minimum_number_of_calls,
                    100,
                    1,
                    1_000_000,
                    "minimum_number_of_calls",
                ),
                max_wait_in_half_open_ns: c
                    .opt_duration(
                        &format!("{p}.max_wait_in_half_open"),
                        max_wait_in_half_open,
                        SimDuration::ZERO,
                    )
                    .0,
                after_max_wait_in_half_open: after_max_wait_in_half_open
                    .map(state)
                    .unwrap_or(BreakerState::Open),
                automatic_transition: automatic_transition.unwrap_or(false),
                initial_state: initial_state.map(state).unwrap_or(BreakerState::Closed),
                record: set(record, OutcomeSet::failures()),
                ignore: set(ignore, OutcomeSet::EMPTY),
            };
            c.config(p, Resilience4jBreaker::new(cfg.clone()))?;
            (BreakerSpec::Resilience4j(cfg), *sc)
        }
        RawBreaker::PyBreaker {
            fail_max,
            reset_timeout,
            success_threshold,
            failures,
            exclude,
            scope: sc,
        } => {
            let cfg = PyBreakerConfig {
                fail_max: c.small(
                    &format!("{p}.fail_max"),
                    *fail_max,
                    5,
                    1,
                    1_000_000,
                    "fail_max",
                ),
                reset_timeout_ns: c
                    .opt_duration(
                        &format!("{p}.reset_timeout"),
                        reset_timeout,
                        SimDuration::from_secs(60),
                    )
                    .0,
                success_threshold: c.small(
                    &format!("{p}.success_threshold"),
                    *success_threshold,
                    1,
                    1,
                    1_000_000,
                    "success_threshold",
                ),
                failures: set(failures, OutcomeSet::failures()),
                exclude: set(exclude, OutcomeSet::EMPTY),
            };
            c.config(p, PyBreaker::new(cfg.clone()))?;
            (BreakerSpec::PyBreaker(cfg), *sc)
        }
        RawBreaker::Polly {
            failure_ratio,
            minimum_throughput,
            sampling_duration,
            break_duration,
            handled,
            reprobe_in_half_open,
            scope: sc,
        } => {
            let d = PollyConfig::default();
            let cfg = PollyConfig {
                failure_ratio: failure_ratio.unwrap_or(d.failure_ratio),
                minimum_throughput: c.small(
                    &format!("{p}.minimum_throughput"),
                    *minimum_throughput,
                    100,
                    0,
                    1_000_000,
                    "minimum_throughput",
                ),
                sampling_duration_ns: c
                    .opt_duration(
                        &format!("{p}.sampling_duration"),
                        sampling_duration,
                        SimDuration(d.sampling_duration_ns),
                    )
                    .0,
                break_duration_ns: c
                    .opt_duration(
                        &format!("{p}.break_duration"),
                        break_duration,
                        SimDuration(d.break_duration_ns),
                    )
                    .0,
                handled: set(handled, OutcomeSet::failures()),
                reprobe_in_half_open: reprobe_in_half_open.unwrap_or(false),
            };
            c.config(p, PollyBreaker::new(cfg.clone()))?;
            (BreakerSpec::Polly(cfg), *sc)
        }
    };
    Some(PolicySpec::CircuitBreaker {
        breaker,
        scope: scope(sc),
    })
}

/// A service's admission control (`path` is e.g. `services[2]`).
pub(super) fn admission(c: &mut Checker, path: &str, raw: &Option<RawAdmission>) -> AdmissionSpec {
    let Some(a) = raw else {
        return AdmissionSpec::default();
    };
    let p = format!("{path}.admission");
    let max_queue_time = a
        .max_queue_time
        .as_ref()
        .and_then(|t| c.duration(&format!("{p}.max_queue_time"), t));
    let concurrency_limit = a.concurrency_limit.as_ref().and_then(|l| {
        let lp = format!("{p}.concurrency_limit");
        match l {
            RawConcurrencyLimit::Aimd {
                initial,
                min,
                max,
                backoff_ratio,
                timeout,
            } => {
                let initial = c.small(
                    &format!("{lp}.initial"),
                    *initial,
                    20,
                    1,
                    1_000_000,
                    "initial",
                );
                let min = c.small(&format!("{lp}.min"), *min, 20, 1, 1_000_000, "min");
                let max = c.small(&format!("{lp}.max"), *max, 200, 1, 1_000_000, "max");
                let backoff_ratio = backoff_ratio.unwrap_or(0.9);
                let timeout =
                    c.opt_duration(&format!("{lp}.timeout"), timeout, SimDuration::from_secs(5));
                c.config(
                    &lp,
                    AimdLimit::new(initial, min, max, backoff_ratio, timeout.0),
                )?;
                Some(ConcurrencyLimitSpec::Aimd {
                    initial,
                    min,
                    max,
                    backoff_ratio,
                    timeout,
                })
            }
            RawConcurrencyLimit::Gradient2 {
                initial,
                min,
                max,
                smoothing,
                long_window,
                rtt_tolerance,
                queue_size,
            } => {
                let initial = c.small(
                    &format!("{lp}.initial"),
                    *initial,
                    20,
                    1,
                    1_000_000,
                    "initial",
                );
                let min = c.small(&format!("{lp}.min"), *min, 20, 1, 1_000_000, "min");
                let max = c.small(&format!("{lp}.max"), *max, 200, 1, 1_000_000, "max");
                let smoothing = smoothing.unwrap_or(0.2);
                let long_window = c.small(
                    &format!("{lp}.long_window"),
                    *long_window,
                    600,
                    1,
                    1_000_000,
                    "long_window",
                );
                let rtt_tolerance = rtt_tolerance.unwrap_or(1.5);
                let queue_size = c.small(
                    &format!("{lp}.queue_size"),
                    *queue_size,
                    4,
                    0,
                    1_000_000,
                    "queue_size",
                );
                c.config(
                    &lp,
                    Gradient2Limit::new(
                        initial,
                        min,
                        max,
                        smoothing,
                        long_window,
                        rtt_tolerance,
                        queue_size,
                    ),
                )?;
                Some(ConcurrencyLimitSpec::Gradient2 {
                    initial,
                    min,
                    max,
                    smoothing,
                    long_window,
                    rtt_tolerance,
                    queue_size,
                })
            }
        }
    });
    AdmissionSpec {
        max_queue_time,
        concurrency_limit,
    }
}
