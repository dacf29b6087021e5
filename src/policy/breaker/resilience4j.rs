//! Resilience4j's `CircuitBreaker` (count- and time-based windows, slow calls, half-open permits,
//! automatic transition, exponential wait), as its documentation and source describe it.

use super::{BreakerCounts, BreakerState, Rejected};
use crate::policy::backoff::{Backoff, BackoffState};
use crate::policy::{config_error, ConfigError, Outcome, OutcomeSet};

/// Resilience4j's sliding window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlidingWindow {
    /// The last `size` calls.
    CountBased { size: u32 },
    /// Calls in the last `seconds` one-second buckets, aligned to whole seconds of time.
    TimeBased { seconds: u32 },
}

/// Resilience4j `CircuitBreakerConfig`, with its defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct Resilience4jConfig {
    /// Percent, in (0, 100]. Default 50.
    pub failure_rate_threshold: f32,
    /// Percent, in (0, 100]. Default 100.
    pub slow_call_rate_threshold: f32,
    /// A call taking strictly longer is slow. Default 60 s.
    pub slow_call_duration_threshold_ns: u64,
    /// Wait in the open state, by number of openings (1 for the first). Constant or
    /// Resilience4j exponential without randomization. Default constant 60 s.
    pub wait_in_open: Backoff,
    /// Default 10.
    pub permitted_calls_in_half_open: u32,
    /// Default count-based, 100.
    pub sliding_window: SlidingWindow,
    /// Default 100.
    pub minimum_number_of_calls: u32,
    /// 0 = off (the default); at least 1 ms otherwise.
    pub max_wait_in_half_open_ns: u64,
    /// Where the breaker goes when `max_wait_in_half_open` expires: `Open` (default) or `Closed`.
    pub after_max_wait_in_half_open: BreakerState,
    /// Move to half-open at exactly the wait, without waiting for a call. Default false.
    pub automatic_transition: bool,
    /// `Closed` (default), `Disabled`, `ForcedOpen` or `MetricsOnly`.
    pub initial_state: BreakerState,
    /// Outcomes recorded as failures. Default: every failure outcome.
    pub record: OutcomeSet,
    /// Outcomes ignored (checked first). Default none.
    pub ignore: OutcomeSet,
}

impl Default for Resilience4jConfig {
    fn default() -> Self {
        Resilience4jConfig {
            failure_rate_threshold: 50.0,
            slow_call_rate_threshold: 100.0,
            slow_call_duration_threshold_ns: 60_000_000_000,
            wait_in_open: Backoff::Constant {
                delay_ns: 60_000_000_000,
            },
            permitted_calls_in_half_open: 10,
            sliding_window: SlidingWindow::CountBased { size: 100 },
            minimum_number_of_calls: 100,
            max_wait_in_half_open_ns: 0,
            after_max_wait_in_half_open: BreakerState::Open,
            automatic_transition: false,
            initial_state: BreakerState::Closed,
            record: OutcomeSet::failures(),
            ignore: OutcomeSet::EMPTY,
        }
    }
}

const FAILED: u8 = 1;
const SLOW: u8 = 2;

#[derive(Clone, Debug)]
struct CountWindow {
    ring: Vec<u8>,
    head: usize,
    len: usize,
    failed: u32,
    slow: u32,
}

impl CountWindow {
    fn new(size: u32) -> Self {
        CountWindow {
            ring: vec![0; size.max(1) as usize],
            head: 0,
            len: 0,
            failed: 0,
            slow: 0,
        }
    }
    fn record(&mut self, flags: u8) {
        if self.len == self.ring.len() {
            let old = self.ring[self.head];
            self.failed -= (old & FAILED != 0) as u32;
            self.slow -= (old & SLOW != 0) as u32;
        } else {
            self.len += 1;
        }
        self.ring[self.head] = flags;
        self.failed += (flags & FAILED != 0) as u32;
        self.slow += (flags & SLOW != 0) as u32;
        self.head = (self.head + 1) % self.ring.len();
    }
    fn snapshot(&self) -> (u32, u32, u32) {
        (self.len as u32, self.failed, self.slow)
    }
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    second: u64,
    total: u32,
    failed: u32,
    slow: u32,
}

#[derive(Clone, Debug)]
struct TimeWindow {
    buckets: Vec<Bucket>,
}

const EMPTY_BUCKET: Bucket = Bucket {
    second: u64::MAX,
    total: 0,
    failed: 0,
    slow: 0,
};

impl TimeWindow {
    fn new(seconds: u32) -> Self {
        TimeWindow {
            buckets: vec![EMPTY_BUCKET; seconds.max(1) as usize],
        }
    }
    fn record(&mut self, now_ns: u64, flags: u8) {
        let s = now_ns / 1_000_000_000;
        let n = self.buckets.len() as u64;
        let b = &mut self.buckets[(s % n) as usize];
        if b.second != s {
            *b = Bucket {
                second: s,
                ..EMPTY_BUCKET
            };
        }
        b.total += 1;
        b.failed += (flags & FAILED != 0) as u32;
        b.slow += (flags & SLOW != 0) as u32;
    }
    /// Calls made in second `x` count while the current second is below x + N.
    fn snapshot(&self, now_ns: u64) -> (u32, u32, u32) {
        let s = now_ns / 1_000_000_000;
        let n = self.buckets.len() as u64;
        self.buckets
            .iter()
            .filter(|b| b.second != u64::MAX && b.second <= s && s < b.second + n)
            .fold((0, 0, 0), |(t, f, sl), b| {
                (t + b.total, f + b.failed, sl + b.slow)
            })
    }
}

#[derive(Clone, Debug)]
enum ClosedWindow {
    Count(CountWindow),
    Time(TimeWindow),
}

/// A Resilience4j `CircuitBreaker`.
#[derive(Clone, Debug)]
pub struct Resilience4jBreaker {
    cfg: Resilience4jConfig,
    state: BreakerState,
    closed: ClosedWindow,
    half_open: CountWindow,
    half_open_permits: u32,
    half_open_since_ns: u64,
    opened_at_ns: u64,
    wait_ns: u64,
    attempts: u32,
    pub counts: BreakerCounts,
    /// Every state change since the caller last took them, each at the time it happened:
    /// `(at_ns, from, to)`. Time-driven transitions are due at times between calls, and one
    /// call may apply several (open -> half-open at the wait, then back to open at the
    /// half-open max wait), so comparing the state before and after a call would miss them.
    pub transitions: Vec<(u64, BreakerState, BreakerState)>,
    /// The due time the caller last scheduled a wake-up for (see [`Self::next_due_ns`]), so it
    /// schedules each due time once.
    pub scheduled_due_ns: u64,
}

impl Resilience4jBreaker {
    pub fn new(cfg: Resilience4jConfig) -> Result<Self, ConfigError> {
        let pct = |v: f32| v > 0.0 && v <= 100.0;
        if !pct(cfg.failure_rate_threshold) {
            return Err(config_error(
                "failure_rate_threshold",
                format!("must be in (0, 100], got {}", cfg.failure_rate_threshold),
            ));
        }
        if !pct(cfg.slow_call_rate_threshold) {
            return Err(config_error(
                "slow_call_rate_threshold",
                format!("must be in (0, 100], got {}", cfg.slow_call_rate_threshold),
            ));
        }
        if cfg.permitted_calls_in_half_open == 0 {
            return Err(config_error(
                "permitted_calls_in_half_open",
                "must be at least 1",
            ));
        }
        if cfg.minimum_number_of_calls == 0 {
            return Err(config_error(
                "minimum_number_of_calls",
                "must be at least 1",
            ));
        }
        match cfg.sliding_window {
            SlidingWindow::CountBased { size: 0 } | SlidingWindow::TimeBased { seconds: 0 } => {
                return Err(config_error(
                    "sliding_window",
                    "the window size must be at least 1",
                ))
            }
            _ => {}
        }
        if cfg.max_wait_in_half_open_ns != 0 && cfg.max_wait_in_half_open_ns < 1_000_000 {
            return Err(config_error(
                "max_wait_in_half_open",
                "must be 0 (off) or at least 1ms",
            ));
        }
        if !matches!(
            cfg.after_max_wait_in_half_open,
            BreakerState::Open | BreakerState::Closed
        ) {
            return Err(config_error(
                "after_max_wait_in_half_open",
                "must be Open or Closed",
            ));
        }
        if !matches!(
            cfg.initial_state,
            BreakerState::Closed
                | BreakerState::Disabled
                | BreakerState::ForcedOpen
                | BreakerState::MetricsOnly
        ) {
            return Err(config_error(
                "initial_state",
                "must be Closed, Disabled, ForcedOpen or MetricsOnly",
            ));
        }
        match &cfg.wait_in_open {
            Backoff::Constant { .. } => {}
            Backoff::Resilience4j {
                randomization_factor: None,
                ..
            } => cfg.wait_in_open.validate()?,
            _ => return Err(config_error(
                "wait_in_open",
                "must be a constant or a Resilience4j exponential interval without randomization",
            )),
        }
        let closed = Self::fresh_window(&cfg);
        Ok(Resilience4jBreaker {
            state: cfg.initial_state,
            half_open: CountWindow::new(cfg.permitted_calls_in_half_open),
            half_open_permits: 0,
            half_open_since_ns: 0,
            opened_at_ns: 0,
            wait_ns: 0,
            attempts: 0,
            counts: BreakerCounts::default(),
            transitions: Vec::new(),
            scheduled_due_ns: u64::MAX,
            closed,
            cfg,
        })
    }

    fn fresh_window(cfg: &Resilience4jConfig) -> ClosedWindow {
        match cfg.sliding_window {
            SlidingWindow::CountBased { size } => ClosedWindow::Count(CountWindow::new(size)),
            SlidingWindow::TimeBased { seconds } => ClosedWindow::Time(TimeWindow::new(seconds)),
        }
    }

    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// When the next time-driven transition is due, if one is: the automatic transition from
    /// open to half-open at exactly the wait (`automatic_transition`, a timer in Resilience4j),
    /// or the end of `max_wait_in_half_open`. A simulator wakes the breaker then and calls
    /// [`Self::tick`], so the transition happens at its time even with no calls.
    pub fn next_due_ns(&self) -> Option<u64> {
        match self.state {
            BreakerState::Open if self.cfg.automatic_transition => {
                Some(self.opened_at_ns.saturating_add(self.wait_ns))
            }
            BreakerState::HalfOpen if self.cfg.max_wait_in_half_open_ns > 0 => Some(
                self.half_open_since_ns
                    .saturating_add(self.cfg.max_wait_in_half_open_ns),
            ),
            _ => None,
        }
    }

    /// Applies every time-driven transition due at or before `now`, each at its due time (a
    /// breaker not woken at its due time still records it there).
    pub fn tick(&mut self, now: u64) {
        while let Some(due) = self.next_due_ns().filter(|&d| d <= now) {
            match self.state {
                BreakerState::Open => self.enter_half_open(due),
                _ => match self.cfg.after_max_wait_in_half_open {
                    BreakerState::Closed => self.enter_closed(due),
                    _ => self.enter_open(due, self.attempts + 1),
                },
            }
            if due == u64::MAX {
                break; // saturated: never due again
            }
        }
    }

    fn enter_open(&mut self, now: u64, attempts: u32) {
        self.transitions.push((now, self.state, BreakerState::Open));
        self.state = BreakerState::Open;
        self.attempts = attempts;
        self.opened_at_ns = now;
        self.wait_ns =
            self.cfg
                .wait_in_open
                .delay_ns(attempts.max(1), &mut BackoffState::default(), 0.0);
        self.counts.opened += 1;
    }

    fn enter_half_open(&mut self, now: u64) {
        self.transitions
            .push((now, self.state, BreakerState::HalfOpen));
        self.state = BreakerState::HalfOpen;
        self.half_open = CountWindow::new(self.cfg.permitted_calls_in_half_open);
        self.half_open_permits = self.cfg.permitted_calls_in_half_open;
        self.half_open_since_ns = now;
    }

    fn enter_closed(&mut self, now: u64) {
        self.transitions
            .push((now, self.state, BreakerState::Closed));
        self.state = BreakerState::Closed;
        self.closed = Self::fresh_window(&self.cfg);
        self.attempts = 0;
    }

    pub fn try_acquire(&mut self, now: u64) -> Result<(), Rejected> {
        self.tick(now);
        let ok = match self.state {
            BreakerState::Closed | BreakerState::Disabled | BreakerState::MetricsOnly => true,
            BreakerState::ForcedOpen => false,
            BreakerState::Open => {
                if now > self.opened_at_ns.saturating_add(self.wait_ns) {
                    self.enter_half_open(now);
                    self.half_open_permits -= 1;
                    true
                } else {
                    false
                }
            }
            BreakerState::HalfOpen => {
                if self.half_open_permits > 0 {
                    self.half_open_permits -= 1;
                    true
                } else {
                    false
                }
            }
        };
        if ok {
            self.counts.permitted += 1;
            Ok(())
        } else {
            self.counts.rejected += 1;
            let retry_after_ns = match self.state {
                BreakerState::Open => {
                    Some(self.opened_at_ns.saturating_add(self.wait_ns) + 1 - now)
                }
                _ => None,
            };
            Err(Rejected { retry_after_ns })
        }
    }

    fn exceeded(&self, (total, failed, slow): (u32, u32, u32), min_calls: u32) -> Option<bool> {
        if total == 0 || total < min_calls {
            return None;
        }
        let failure_rate = failed as f32 * 100.0 / total as f32;
        let slow_rate = slow as f32 * 100.0 / total as f32;
        Some(
            failure_rate >= self.cfg.failure_rate_threshold
                || slow_rate >= self.cfg.slow_call_rate_threshold,
        )
    }

    pub fn on_result(&mut self, now: u64, outcome: Outcome, duration_ns: u64) {
        self.tick(now);
        if matches!(
            self.state,
            BreakerState::Disabled | BreakerState::ForcedOpen
        ) {
            return;
        }
        if self.cfg.ignore.contains(outcome) {
            self.counts.ignored += 1;
            if self.state == BreakerState::HalfOpen {
                self.half_open_permits =
                    (self.half_open_permits + 1).min(self.cfg.permitted_calls_in_half_open);
            }
            return;
        }
        let failed = self.cfg.record.contains(outcome);
        let slow = duration_ns > self.cfg.slow_call_duration_threshold_ns;
        let flags = (failed as u8 * FAILED) | (slow as u8 * SLOW);
        if failed {
            self.counts.failures += 1;
        } else {
            self.counts.successes += 1;
        }
        self.counts.slow += slow as u64;
        match self.state {
            BreakerState::Closed | BreakerState::MetricsOnly | BreakerState::Open => {
                let (snap, min) = match &mut self.closed {
                    ClosedWindow::Count(w) => {
                        w.record(flags);
                        (
                            w.snapshot(),
                            self.cfg.minimum_number_of_calls.min(w.ring.len() as u32),
                        )
                    }
                    ClosedWindow::Time(w) => {
                        w.record(now, flags);
                        (w.snapshot(now), self.cfg.minimum_number_of_calls)
                    }
                };
                // Late results in the open state are recorded but change nothing.
                if self.state == BreakerState::Closed && self.exceeded(snap, min) == Some(true) {
                    self.enter_open(now, 1);
                }
            }
            BreakerState::HalfOpen => {
                self.half_open.record(flags);
                let min = self
                    .cfg
                    .minimum_number_of_calls
                    .min(self.cfg.permitted_calls_in_half_open);
                match self.exceeded(self.half_open.snapshot(), min) {
                    Some(true) => self.enter_open(now, self.attempts + 1),
                    Some(false) => self.enter_closed(now),
                    None => {}
                }
            }
            BreakerState::Disabled | BreakerState::ForcedOpen => unreachable!(),
        }
    }
}
