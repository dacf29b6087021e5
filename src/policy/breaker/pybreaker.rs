//! pybreaker's `CircuitBreaker`: consecutive failures, a reset timeout, success threshold.

use super::{BreakerCounts, BreakerState, Rejected};
use crate::policy::{config_error, ConfigError, Outcome, OutcomeSet};

/// pybreaker `CircuitBreaker(fail_max, reset_timeout, success_threshold, exclude)`.
#[derive(Clone, Debug, PartialEq)]
pub struct PyBreakerConfig {
    /// Default 5.
    pub fail_max: u32,
    /// Default 60 s.
    pub reset_timeout_ns: u64,
    /// Default 1.
    pub success_threshold: u32,
    /// Outcomes that count as failures. Default: every failure outcome.
    pub failures: OutcomeSet,
    /// Outcomes handled as successes even if listed in `failures` (pybreaker's `exclude`).
    pub exclude: OutcomeSet,
}

impl Default for PyBreakerConfig {
    fn default() -> Self {
        PyBreakerConfig {
            fail_max: 5,
            reset_timeout_ns: 60_000_000_000,
            success_threshold: 1,
            failures: OutcomeSet::failures(),
            exclude: OutcomeSet::EMPTY,
        }
    }
}

/// A pybreaker-compatible consecutive-failures breaker.
#[derive(Clone, Debug)]
pub struct PyBreaker {
    cfg: PyBreakerConfig,
    state: BreakerState,
    fail_counter: u32,
    success_counter: u32,
    opened_at_ns: u64,
    pub counts: BreakerCounts,
}

impl PyBreaker {
    pub fn new(cfg: PyBreakerConfig) -> Result<Self, ConfigError> {
        if cfg.fail_max == 0 {
            return Err(config_error("fail_max", "must be at least 1"));
        }
        if cfg.success_threshold == 0 {
            return Err(config_error("success_threshold", "must be at least 1"));
        }
        Ok(PyBreaker {
            cfg,
            state: BreakerState::Closed,
            fail_counter: 0,
            success_counter: 0,
            opened_at_ns: 0,
            counts: BreakerCounts::default(),
        })
    }

    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// Consecutive failures so far.
    pub fn fail_counter(&self) -> u32 {
        self.fail_counter
    }

    pub fn try_acquire(&mut self, now: u64) -> Result<(), Rejected> {
        if self.state == BreakerState::Open {
            let until = self.opened_at_ns.saturating_add(self.cfg.reset_timeout_ns);
            if now < until {
                self.counts.rejected += 1;
                return Err(Rejected {
                    retry_after_ns: Some(until - now),
                });
            }
            // The boundary is inclusive: at exactly opened + reset_timeout the trial goes through.
            self.state = BreakerState::HalfOpen;
        }
        self.counts.permitted += 1;
        Ok(())
    }

    fn open(&mut self, now: u64) {
        self.state = BreakerState::Open;
        self.opened_at_ns = now;
        self.counts.opened += 1;
    }

    pub fn on_result(&mut self, now: u64, outcome: Outcome) {
        let failure = self.cfg.failures.contains(outcome) && !self.cfg.exclude.contains(outcome);
        if self.cfg.exclude.contains(outcome) {
            self.counts.ignored += 1;
        }
        if !failure {
            // Any success (or excluded error) resets the consecutive count, in any state.
            self.counts.successes += 1;
            self.fail_counter = 0;
            if self.state == BreakerState::HalfOpen {
                self.success_counter += 1;
                if self.success_counter >= self.cfg.success_threshold {
                    self.state = BreakerState::Closed;
                    self.success_counter = 0;
                }
            }
            return;
        }
        self.counts.failures += 1;
        self.fail_counter += 1;
        match self.state {
            BreakerState::Closed if self.fail_counter >= self.cfg.fail_max => self.open(now),
            BreakerState::HalfOpen => {
                self.success_counter = 0;
                self.open(now);
            }
            _ => {}
        }
    }
}
