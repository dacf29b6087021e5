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

use super::backoff::{Backoff, BackoffState};
use super::{config_error, ConfigError, Outcome, OutcomeSet};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

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
    pub fn state(&self) -> BreakerState {
        match self {
            Breaker::Resilience4j(b) => b.state,
            Breaker::PyBreaker(b) => b.state,
            Breaker::Polly(b) => b.state,
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

// ---------------------------------------------------------------- Resilience4j

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

    /// Time-driven transitions (automatic open -> half-open, half-open max wait), applied at
    /// the first interaction at or after their time.
    fn tick(&mut self, now: u64) {
        if self.state == BreakerState::Open
            && self.cfg.automatic_transition
            && now >= self.opened_at_ns.saturating_add(self.wait_ns)
        {
            self.enter_half_open(now);
        }
        if self.state == BreakerState::HalfOpen
            && self.cfg.max_wait_in_half_open_ns > 0
            && now
                >= self
                    .half_open_since_ns
                    .saturating_add(self.cfg.max_wait_in_half_open_ns)
        {
            match self.cfg.after_max_wait_in_half_open {
                BreakerState::Closed => self.enter_closed(),
                _ => self.enter_open(now, self.attempts + 1),
            }
        }
    }

    fn enter_open(&mut self, now: u64, attempts: u32) {
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
        self.state = BreakerState::HalfOpen;
        self.half_open = CountWindow::new(self.cfg.permitted_calls_in_half_open);
        self.half_open_permits = self.cfg.permitted_calls_in_half_open;
        self.half_open_since_ns = now;
    }

    fn enter_closed(&mut self) {
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
                    Some(false) => self.enter_closed(),
                    None => {}
                }
            }
            BreakerState::Disabled | BreakerState::ForcedOpen => unreachable!(),
        }
    }
}

// ---------------------------------------------------------------- pybreaker

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

// ---------------------------------------------------------------- Polly

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

#[cfg(test)]
mod tests {
    use super::*;
    use BreakerState::*;
    use Outcome::{Error as E, Ok as K, Rejected as Rj, Timeout as T};

    const MS: u64 = 1_000_000;

    /// One step of a script: at `ms` milliseconds, ask for a permit (expecting `true` =
    /// permitted) or report a result (outcome, duration in ms), then expect a state.
    #[derive(Clone, Copy)]
    enum Step {
        Acquire(u64, bool, BreakerState),
        Result(u64, Outcome, u64, BreakerState),
    }
    use Step::{Acquire as A, Result as R};

    fn check(mut b: Breaker, script: &[Step]) {
        for (i, step) in script.iter().enumerate() {
            match *step {
                A(ms, want, state) => {
                    let got = b.try_acquire(ms * MS).is_ok();
                    assert_eq!(got, want, "step {i}: acquire at {ms} ms");
                    assert_eq!(b.state(), state, "step {i}: state after acquire at {ms} ms");
                }
                R(ms, o, dur_ms, state) => {
                    b.on_result(ms * MS, o, dur_ms * MS);
                    assert_eq!(b.state(), state, "step {i}: state after {o:?} at {ms} ms");
                }
            }
        }
    }

    fn r4j(f: impl FnOnce(&mut Resilience4jConfig)) -> Breaker {
        let mut c = Resilience4jConfig {
            sliding_window: SlidingWindow::CountBased { size: 4 },
            minimum_number_of_calls: 4,
            permitted_calls_in_half_open: 2,
            wait_in_open: Backoff::Constant {
                delay_ns: 1000 * MS,
            },
            ..Default::default()
        };
        f(&mut c);
        Breaker::Resilience4j(Resilience4jBreaker::new(c).unwrap())
    }

    #[test]
    fn r4j_trips_at_the_failure_rate_once_minimum_calls_are_in() {
        // 2 of 4 failed = 50% >= 50: opens on the 4th result, not before.
        check(
            r4j(|_| {}),
            &[
                R(0, E, 1, Closed),
                R(1, K, 1, Closed),
                R(2, E, 1, Closed),
                R(3, K, 1, Open),
            ],
        );
        // 1 of 4 = 25% stays closed; the window slides: [K K K E] is still 25%, [K K E E] is 50%.
        check(
            r4j(|_| {}),
            &[
                R(0, E, 1, Closed),
                R(1, K, 1, Closed),
                R(2, K, 1, Closed),
                R(3, K, 1, Closed),
                R(4, E, 1, Closed),
                R(5, E, 1, Open),
            ],
        );
        // minimum_number_of_calls is clamped to the window size for count-based windows.
        check(
            r4j(|c| c.minimum_number_of_calls = 100),
            &[
                R(0, E, 1, Closed),
                R(1, E, 1, Closed),
                R(2, K, 1, Closed),
                R(3, K, 1, Open),
            ],
        );
    }

    #[test]
    fn r4j_slow_calls_trip_when_strictly_longer_than_the_threshold() {
        let slow = |c: &mut Resilience4jConfig| {
            c.slow_call_duration_threshold_ns = 100 * MS;
            c.slow_call_rate_threshold = 50.0;
        };
        // Exactly 100 ms is not slow.
        check(
            r4j(slow),
            &[
                R(0, K, 100, Closed),
                R(1, K, 100, Closed),
                R(2, K, 100, Closed),
                R(3, K, 100, Closed),
            ],
        );
        check(
            r4j(slow),
            &[
                R(0, K, 101, Closed),
                R(1, K, 1, Closed),
                R(2, K, 101, Closed),
                R(3, K, 1, Open),
            ],
        );
    }

    const TRIP: [Step; 4] = [
        R(0, E, 1, Closed),
        R(0, E, 1, Closed),
        R(0, E, 1, Closed),
        R(0, E, 1, Open),
    ];

    /// Tripped at 0 with a 1000 ms wait, then the trial call at 1001 ms.
    fn tripped_r4j() -> Vec<Step> {
        let mut s = TRIP.to_vec();
        s.push(A(1001, true, HalfOpen));
        s
    }

    #[test]
    fn r4j_open_to_half_open_is_strict() {
        // Opened at 0 with a 1000 ms wait: rejected at exactly 1000 ms, permitted after it.
        check(
            r4j(|_| {}),
            &[
                &TRIP[..],
                &[
                    A(999, false, Open),
                    A(1000, false, Open),
                    A(1001, true, HalfOpen),
                ],
            ]
            .concat(),
        );
        // With automatic transition the breaker is half-open at exactly the wait.
        check(
            r4j(|c| c.automatic_transition = true),
            &[&TRIP[..], &[A(1000, true, HalfOpen)]].concat(),
        );
    }

    #[test]
    fn r4j_half_open_permits_and_decides_after_min_of_minimum_and_permitted() {
        // permitted 2: the trial call took one permit; one more, then rejected.
        let mut s = tripped_r4j();
        s.extend([A(1002, true, HalfOpen), A(1003, false, HalfOpen)]);
        // Both succeed: decided after min(4, 2) = 2 results -> closed.
        s.extend([R(1004, K, 1, HalfOpen), R(1005, K, 1, Closed)]);
        check(r4j(|_| {}), &s);
        // One of two fails: 50% >= 50 -> open again.
        let mut s = tripped_r4j();
        s.extend([
            A(1002, true, HalfOpen),
            R(1004, K, 1, HalfOpen),
            R(1005, E, 1, Open),
            A(1006, false, Open),
        ]);
        check(r4j(|_| {}), &s);
        // An ignored outcome gives its permit back and is not recorded.
        let mut s = tripped_r4j();
        s.extend([
            A(1002, true, HalfOpen),
            A(1003, false, HalfOpen),
            R(1004, Rj, 1, HalfOpen),
            A(1005, true, HalfOpen),
        ]);
        check(r4j(|c| c.ignore = OutcomeSet::of(&[Outcome::Rejected])), &s);
    }

    #[test]
    fn r4j_exponential_wait_grows_with_each_reopening() {
        // Wait 1000 ms, then 2000 ms after failing in half-open.
        let b = r4j(|c| {
            c.wait_in_open = Backoff::Resilience4j {
                initial_ms: 1000,
                multiplier: 2.0,
                max_ms: None,
                randomization_factor: None,
            };
            c.permitted_calls_in_half_open = 1;
        });
        let mut s = tripped_r4j();
        s.extend([
            R(1002, E, 1, Open),
            A(3002, false, Open),
            A(3003, true, HalfOpen),
            R(3004, K, 1, Closed),
        ]);
        check(b, &s);
    }

    #[test]
    fn r4j_late_results_in_open_are_recorded_without_transition() {
        let mut s = tripped_r4j();
        s.truncate(4);
        s.extend([R(10, K, 1, Open), R(11, E, 1, Open), A(500, false, Open)]);
        check(r4j(|_| {}), &s);
    }

    #[test]
    fn r4j_special_states() {
        check(
            r4j(|c| c.initial_state = Disabled),
            &[
                R(0, E, 1, Disabled),
                R(0, E, 1, Disabled),
                R(0, E, 1, Disabled),
                R(0, E, 1, Disabled),
                A(1, true, Disabled),
            ],
        );
        check(
            r4j(|c| c.initial_state = ForcedOpen),
            &[A(0, false, ForcedOpen), A(1_000_000, false, ForcedOpen)],
        );
        check(
            r4j(|c| c.initial_state = MetricsOnly),
            &[
                R(0, E, 1, MetricsOnly),
                R(0, E, 1, MetricsOnly),
                R(0, E, 1, MetricsOnly),
                R(0, E, 1, MetricsOnly),
                A(1, true, MetricsOnly),
            ],
        );
    }

    #[test]
    fn r4j_max_wait_in_half_open_moves_on() {
        let mut s = tripped_r4j();
        // Half-open since 1001 ms; after 500 ms without a decision it goes to the target state.
        s.extend([A(1500, true, HalfOpen), A(1501, false, Open)]);
        check(r4j(|c| c.max_wait_in_half_open_ns = 500 * MS), &s);
        let mut s = tripped_r4j();
        s.extend([A(1501, true, Closed)]);
        check(
            r4j(|c| {
                c.max_wait_in_half_open_ns = 500 * MS;
                c.after_max_wait_in_half_open = Closed;
            }),
            &s,
        );
    }

    #[test]
    fn r4j_time_window_uses_whole_second_buckets() {
        // 3-second window, 2 minimum calls. A failure at 0.9 s counts until t reaches 3.0 s.
        let b = r4j(|c| {
            c.sliding_window = SlidingWindow::TimeBased { seconds: 3 };
            c.minimum_number_of_calls = 2;
        });
        check(b, &[R(900, E, 1, Closed), R(2999, E, 1, Open)]);
        let b = r4j(|c| {
            c.sliding_window = SlidingWindow::TimeBased { seconds: 3 };
            c.minimum_number_of_calls = 2;
        });
        // At 3.0 s the 0.9 s failure has left the window: 1 call, below the minimum; the next
        // call makes 2 with 1 failed.
        check(
            b,
            &[
                R(900, E, 1, Closed),
                R(3000, E, 1, Closed),
                R(3100, K, 1, Open),
            ],
        );
    }

    fn py(f: impl FnOnce(&mut PyBreakerConfig)) -> Breaker {
        let mut c = PyBreakerConfig {
            fail_max: 3,
            reset_timeout_ns: 1000 * MS,
            ..Default::default()
        };
        f(&mut c);
        Breaker::PyBreaker(PyBreaker::new(c).unwrap())
    }

    #[test]
    fn pybreaker_counts_consecutive_failures() {
        check(
            py(|_| {}),
            &[
                R(0, E, 1, Closed),
                R(1, E, 1, Closed),
                R(2, K, 1, Closed),
                R(3, E, 1, Closed),
                R(4, E, 1, Closed),
                R(5, T, 1, Open),
            ],
        );
        // Excluded outcomes reset the count like a success.
        check(
            py(|c| c.exclude = OutcomeSet::of(&[Outcome::Timeout])),
            &[
                R(0, E, 1, Closed),
                R(1, E, 1, Closed),
                R(2, T, 1, Closed),
                R(3, E, 1, Closed),
                R(4, E, 1, Closed),
                R(5, E, 1, Open),
            ],
        );
    }

    #[test]
    fn pybreaker_reset_timeout_is_inclusive_and_half_open_has_no_probe_limit() {
        let trip = [R(0, E, 1, Closed), R(0, E, 1, Closed), R(0, E, 1, Open)];
        let mut s: Vec<Step> = trip.into_iter().collect();
        s.extend([
            A(999, false, Open),
            A(1000, true, HalfOpen),
            A(1000, true, HalfOpen),
            A(1001, true, HalfOpen),
            R(1002, K, 1, Closed),
        ]);
        check(py(|_| {}), &s);
        // A failure in half-open reopens from that moment.
        let mut s: Vec<Step> = trip.into_iter().collect();
        s.extend([
            A(1000, true, HalfOpen),
            R(1500, E, 1, Open),
            A(2499, false, Open),
            A(2500, true, HalfOpen),
        ]);
        check(py(|_| {}), &s);
        // success_threshold 2: two successes in half-open to close.
        let mut s: Vec<Step> = trip.into_iter().collect();
        s.extend([
            A(1000, true, HalfOpen),
            R(1001, K, 1, HalfOpen),
            R(1002, K, 1, Closed),
        ]);
        check(py(|c| c.success_threshold = 2), &s);
    }

    fn polly(f: impl FnOnce(&mut PollyConfig)) -> Breaker {
        let mut c = PollyConfig {
            failure_ratio: 0.5,
            minimum_throughput: 4,
            sampling_duration_ns: 10_000 * MS,
            break_duration_ns: 1000 * MS,
            ..Default::default()
        };
        f(&mut c);
        Breaker::Polly(PollyBreaker::new(c).unwrap())
    }

    #[test]
    fn polly_breaks_only_on_a_failure_with_enough_throughput() {
        // Ratio 2/4 reached by a failure: break.
        check(
            polly(|_| {}),
            &[
                R(0, E, 1, Closed),
                R(1, K, 1, Closed),
                R(2, K, 1, Closed),
                R(3, E, 1, Open),
            ],
        );
        // The threshold is reached with a success as the 4th call: no evaluation, stays closed.
        check(
            polly(|_| {}),
            &[
                R(0, E, 1, Closed),
                R(1, E, 1, Closed),
                R(2, K, 1, Closed),
                R(3, K, 1, Closed),
            ],
        );
    }

    #[test]
    fn polly_one_probe_inclusive_boundary() {
        let trip = [
            R(0, E, 1, Closed),
            R(1, K, 1, Closed),
            R(2, K, 1, Closed),
            R(3, E, 1, Open),
        ];
        let mut s: Vec<Step> = trip.into_iter().collect();
        // Open until 1003 ms inclusive: the probe at exactly 1003, then everything else rejected.
        s.extend([
            A(1002, false, Open),
            A(1003, true, HalfOpen),
            A(1004, false, HalfOpen),
            A(2100, false, HalfOpen),
            R(2200, K, 1, Closed),
            A(2201, true, Closed),
        ]);
        check(polly(|_| {}), &s);
        // A failed probe opens for another break duration.
        let mut s: Vec<Step> = trip.into_iter().collect();
        s.extend([
            A(1003, true, HalfOpen),
            R(1100, E, 1, Open),
            A(2099, false, Open),
            A(2100, true, HalfOpen),
        ]);
        check(polly(|_| {}), &s);
        // Polly v7 mode: a hung probe is followed by another after one break duration.
        let mut s: Vec<Step> = trip.into_iter().collect();
        s.extend([
            A(1003, true, HalfOpen),
            A(2002, false, HalfOpen),
            A(2003, true, HalfOpen),
        ]);
        check(polly(|c| c.reprobe_in_half_open = true), &s);
    }

    #[test]
    fn polly_sub_windows_expire_after_the_sampling_duration() {
        // Sampling 10 s in 1 s sub-windows. Two failures at t=0 are gone by t=10 s.
        check(
            polly(|_| {}),
            &[
                R(0, E, 1, Closed),
                R(0, E, 1, Closed),
                R(10_000, K, 1, Closed),
                R(10_001, K, 1, Closed),
                R(10_002, E, 1, Closed),
            ],
        );
        // ...but still count at t = 9.999 s.
        check(
            polly(|_| {}),
            &[
                R(0, E, 1, Closed),
                R(0, E, 1, Closed),
                R(9_000, K, 1, Closed),
                R(9_999, E, 1, Open),
            ],
        );
    }

    #[test]
    fn configurations_are_validated() {
        assert!(Resilience4jBreaker::new(Resilience4jConfig {
            failure_rate_threshold: 0.0,
            ..Default::default()
        })
        .is_err());
        assert!(Resilience4jBreaker::new(Resilience4jConfig {
            max_wait_in_half_open_ns: 5,
            ..Default::default()
        })
        .is_err());
        assert!(PyBreaker::new(PyBreakerConfig {
            fail_max: 0,
            ..Default::default()
        })
        .is_err());
        assert!(PollyBreaker::new(PollyConfig {
            minimum_throughput: 1,
            ..Default::default()
        })
        .is_err());
        assert!(PollyBreaker::new(PollyConfig {
            break_duration_ns: 100 * MS,
            ..Default::default()
        })
        .is_err());
    }
}
