//! Circuit breakers, three families, each following its library's documented behaviour:
//!
//! | rule | [`Resilience4jBreaker`] | [`PyBreaker`] | [`PollyBreaker`] |
//! |---|---|---|---|
//! | trips on | failure rate or slow-call rate >= threshold over a count- or time-based window, once `minimum_number_of_calls` are in it | `fail_max` consecutive failures | failure ratio >= `failure_ratio` over `sampling_duration`, once `minimum_throughput` calls are in it; checked only on a failure |
//! | open -> half-open | first call with now **>** opened + wait (strict); at exactly the wait with `automatic_transition` | first call with now **>=** opened + reset_timeout | first call with now **>=** blocked_until |
//! | half-open probes | `permitted_calls_in_half_open` | unlimited | exactly one (Polly v8); optionally a new one every break duration (Polly v7) |
//! | half-open decides | after min(minimum calls, permitted) results: rates >= thresholds reopen, else close | a failure reopens; `success_threshold` successes close | the probe's result: failure reopens, success closes |
//! | wait when open | constant or Resilience4j exponential, by number of openings | `reset_timeout` | `break_duration` |
//! | ignored outcomes | give the permit back, not recorded | count as successes (pybreaker's `exclude`) | — |
//!
//! Every method takes `now_ns`; nothing reads a clock. Results of calls made before a transition
//! are recorded in the current state (as the libraries do), never dropped.

//! Each family is its own file (`resilience4j.rs`, `pybreaker.rs`, `polly.rs`); the script
//! tests that hold each to its library's documented behaviour are `tests.rs`.

mod polly;
mod pybreaker;
mod resilience4j;
#[cfg(test)]
mod tests;

pub use polly::{PollyBreaker, PollyConfig};
pub use pybreaker::{PyBreaker, PyBreakerConfig};
pub use resilience4j::{Resilience4jBreaker, Resilience4jConfig, SlidingWindow};

use super::Outcome;
use serde::{Deserialize, Serialize};

/// A breaker's state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
    /// Resilience4j: every call permitted, nothing recorded.
    Disabled,
    /// Resilience4j: every call rejected.
    ForcedOpen,
    /// Resilience4j: every call permitted and recorded; never opens.
    MetricsOnly,
}

/// What a breaker did, for summaries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct BreakerCounts {
    pub permitted: u64,
    pub rejected: u64,
    pub successes: u64,
    pub failures: u64,
    pub slow: u64,
    pub ignored: u64,
    /// Transitions into the open state.
    pub opened: u64,
}

/// A call the breaker refused, and when it may permit one again (if it knows).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rejected {
    pub retry_after_ns: Option<u64>,
}

/// Any of the breaker families.
#[derive(Clone, Debug)]
pub enum Breaker {
    Resilience4j(Resilience4jBreaker),
    PyBreaker(PyBreaker),
    Polly(PollyBreaker),
}

impl Breaker {
    /// Asks to make a call now. `Ok` consumes a permit where the mode has permits.
    pub fn try_acquire(&mut self, now_ns: u64) -> Result<(), Rejected> {
        match self {
            Breaker::Resilience4j(b) => b.try_acquire(now_ns),
            Breaker::PyBreaker(b) => b.try_acquire(now_ns),
            Breaker::Polly(b) => b.try_acquire(now_ns),
        }
    }
    /// Reports how a permitted call ended and how long it took.
    pub fn on_result(&mut self, now_ns: u64, outcome: Outcome, duration_ns: u64) {
        match self {
            Breaker::Resilience4j(b) => b.on_result(now_ns, outcome, duration_ns),
            Breaker::PyBreaker(b) => b.on_result(now_ns, outcome),
            Breaker::Polly(b) => b.on_result(now_ns, outcome),
        }
    }
    /// Applies the time-driven transitions due by `now_ns` (Resilience4j's automatic
    /// transition and half-open max wait; the other families change only in calls).
    pub fn tick(&mut self, now_ns: u64) {
        if let Breaker::Resilience4j(b) = self {
            b.tick(now_ns);
        }
    }
    /// The state changes since the last time they were taken, `(at_ns, from, to)`, each at its
    /// own time. `before` is the state before the call just made, at `now_ns`: the families
    /// without time-driven transitions change at most once in a call, then.
    pub fn take_transitions(
        &mut self,
        before: BreakerState,
        now_ns: u64,
    ) -> Vec<(u64, BreakerState, BreakerState)> {
        match self {
            Breaker::Resilience4j(b) => std::mem::take(&mut b.transitions),
            _ => {
                let after = self.state();
                if before == after {
                    Vec::new()
                } else {
                    vec![(now_ns, before, after)]
                }
            }
        }
    }
    /// When the breaker must be woken (given [`Breaker::tick`]) for a transition due with no
    /// call in between, if that time is not already scheduled: each due time is returned once.
    pub fn wake_at(&mut self) -> Option<u64> {
        match self {
            Breaker::Resilience4j(b) => {
                let due = b.next_due_ns()?;
                (due != b.scheduled_due_ns && due != u64::MAX).then(|| {
                    b.scheduled_due_ns = due;
                    due
                })
            }
            _ => None,
        }
    }
    pub fn state(&self) -> BreakerState {
        match self {
            Breaker::Resilience4j(b) => b.state(),
            Breaker::PyBreaker(b) => b.state(),
            Breaker::Polly(b) => b.state(),
        }
    }
    pub fn counts(&self) -> &BreakerCounts {
        match self {
            Breaker::Resilience4j(b) => &b.counts,
            Breaker::PyBreaker(b) => &b.counts,
            Breaker::Polly(b) => &b.counts,
        }
    }
}
