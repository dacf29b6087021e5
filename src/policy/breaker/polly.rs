//! Polly's advanced circuit breaker (v8, and v7's repeated half-open probe): a failure ratio
//! over a sampling duration split into sub-windows.

use super::{BreakerCounts, BreakerState, Rejected};
use crate::policy::{config_error, ConfigError, Outcome, OutcomeSet};
use std::collections::VecDeque;

/// Polly v8 `CircuitBreakerStrategyOptions`.
#[derive(Clone, Debug, PartialEq)]
pub struct PollyConfig {
    /// In [0, 1]. Default 0.1.
    pub failure_ratio: f64,
    /// At least 2. Default 100.
    pub minimum_throughput: u32,
    /// In [0.5 s, 1 day]. Default 30 s.
    pub sampling_duration_ns: u64,
    /// In [0.5 s, 1 day]. Default 5 s.
    pub break_duration_ns: u64,
    /// Outcomes handled as failures. Default: every failure outcome.
    pub handled: OutcomeSet,
    /// Polly v7 behaviour: while half-open, allow a new probe every break duration if the
    /// previous one has not answered. Polly v8 (the default, false) allows exactly one.
    pub reprobe_in_half_open: bool,
}

impl Default for PollyConfig {
    fn default() -> Self {
        PollyConfig {
            failure_ratio: 0.1,
            minimum_throughput: 100,
            sampling_duration_ns: 30_000_000_000,
            break_duration_ns: 5_000_000_000,
            handled: OutcomeSet::failures(),
            reprobe_in_half_open: false,
        }
    }
}

/// Polly's health metrics: ten sub-windows of sampling/10, each started when first touched and
/// dropped once it began a whole sampling duration ago (one window below 200 ms of sampling).
#[derive(Clone, Debug)]
struct HealthMetrics {
    sampling_ns: u64,
    window_ns: u64,
    windows: VecDeque<(u64, u32, u32)>,
    successes: u32,
    failures: u32,
}

impl HealthMetrics {
    fn new(sampling_ns: u64) -> Self {
        let single = sampling_ns < 200_000_000;
        HealthMetrics {
            sampling_ns,
            window_ns: if single {
                sampling_ns
            } else {
                sampling_ns / 10
            },
            windows: VecDeque::with_capacity(11),
            successes: 0,
            failures: 0,
        }
    }
    fn current(&mut self, now: u64) -> &mut (u64, u32, u32) {
        let start_new = match self.windows.back() {
            None => true,
            Some(w) => now - w.0 >= self.window_ns,
        };
        if start_new {
            self.windows.push_back((now, 0, 0));
        }
        while let Some(front) = self.windows.front() {
            if now - front.0 >= self.sampling_ns {
                self.successes -= front.1;
                self.failures -= front.2;
                self.windows.pop_front();
            } else {
                break;
            }
        }
        self.windows
            .back_mut()
            .expect("the current window was just kept")
    }
    fn success(&mut self, now: u64) {
        self.successes += 1;
        self.current(now).1 += 1;
    }
    fn failure(&mut self, now: u64) {
        self.failures += 1;
        self.current(now).2 += 1;
    }
    fn reset(&mut self) {
        self.windows.clear();
        self.successes = 0;
        self.failures = 0;
    }
}

/// A Polly v8 (advanced) circuit breaker.
#[derive(Clone, Debug)]
pub struct PollyBreaker {
    cfg: PollyConfig,
    state: BreakerState,
    metrics: HealthMetrics,
    blocked_until_ns: u64,
    pub counts: BreakerCounts,
}

impl PollyBreaker {
    pub fn new(cfg: PollyConfig) -> Result<Self, ConfigError> {
        const HALF_S: u64 = 500_000_000;
        const DAY: u64 = 86_400_000_000_000;
        if !(0.0..=1.0).contains(&cfg.failure_ratio) {
            return Err(config_error(
                "failure_ratio",
                format!("must be in [0, 1], got {}", cfg.failure_ratio),
            ));
        }
        if cfg.minimum_throughput < 2 {
            return Err(config_error("minimum_throughput", "must be at least 2"));
        }
        if !(HALF_S..=DAY).contains(&cfg.sampling_duration_ns) {
            return Err(config_error(
                "sampling_duration",
                "must be between 500ms and 1d",
            ));
        }
        if !(HALF_S..=DAY).contains(&cfg.break_duration_ns) {
            return Err(config_error(
                "break_duration",
                "must be between 500ms and 1d",
            ));
        }
        Ok(PollyBreaker {
            metrics: HealthMetrics::new(cfg.sampling_duration_ns),
            cfg,
            state: BreakerState::Closed,
            blocked_until_ns: 0,
            counts: BreakerCounts::default(),
        })
    }

    pub fn state(&self) -> BreakerState {
        self.state
    }

    pub fn try_acquire(&mut self, now: u64) -> Result<(), Rejected> {
        let probe = match self.state {
            BreakerState::Open => now >= self.blocked_until_ns,
            BreakerState::HalfOpen => self.cfg.reprobe_in_half_open && now >= self.blocked_until_ns,
            _ => {
                self.counts.permitted += 1;
                return Ok(());
            }
        };
        if probe {
            // The probe pushes blocked_until out by one break duration.
            self.state = BreakerState::HalfOpen;
            self.blocked_until_ns = now.saturating_add(self.cfg.break_duration_ns);
            self.counts.permitted += 1;
            Ok(())
        } else {
            self.counts.rejected += 1;
            Err(Rejected {
                retry_after_ns: Some(self.blocked_until_ns.saturating_sub(now)),
            })
        }
    }

    fn open(&mut self, now: u64) {
        self.state = BreakerState::Open;
        self.blocked_until_ns = now.saturating_add(self.cfg.break_duration_ns);
        self.counts.opened += 1;
    }

    pub fn on_result(&mut self, now: u64, outcome: Outcome) {
        if self.cfg.handled.contains(outcome) {
            self.counts.failures += 1;
            self.metrics.failure(now);
            match self.state {
                BreakerState::HalfOpen => self.open(now),
                BreakerState::Closed => {
                    let total = self.metrics.successes + self.metrics.failures;
                    let ratio = self.metrics.failures as f64 / total as f64;
                    if total >= self.cfg.minimum_throughput && ratio >= self.cfg.failure_ratio {
                        self.open(now);
                    }
                }
                // Failures arriving while open are counted and change nothing.
                _ => {}
            }
        } else {
            self.counts.successes += 1;
            self.metrics.success(now);
            if self.state == BreakerState::HalfOpen {
                self.state = BreakerState::Closed;
                self.blocked_until_ns = 0;
                self.metrics.reset();
            }
        }
    }
}
