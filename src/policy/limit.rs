//! Admission limits on the calling side: bulkheads (how many calls may be in flight) and rate
//! limiters (how many may start per unit of time).
//!
//! - [`Bulkhead::semaphore`]: Resilience4j's `SemaphoreBulkhead` (maxConcurrentCalls 25,
//!   maxWaitDuration 0, fair): a call beyond the limit waits up to `max_wait` in FIFO order, or
//!   is rejected at once when `max_wait` is zero.
//! - [`Bulkhead::thread_pool`]: Resilience4j's `ThreadPoolBulkhead` with `ThreadPoolExecutor`
//!   rules: a new thread while fewer than `core` run, else the queue (no timeout), which an
//!   idle thread takes at once, else a new thread up to `max`, else rejection. Threads above
//!   `core` stay alive `keep_alive` after they fall idle (the longest idle retire first), and
//!   a call arriving while one is idle runs at once.
//! - [`RateLimiter::token_bucket`]: a bucket of `burst` tokens refilled at `rate_per_s`; a call
//!   takes one token or is rejected.
//! - [`RateLimiter::resilience4j`]: `AtomicRateLimiter`: `limit_for_period` permits per
//!   `refresh_period`, cycles aligned to the limiter's creation; a call that would wait longer
//!   than `timeout` is rejected without reserving, otherwise it reserves and waits.
//!
//! Sans-IO: the caller holds waiting calls; these types only hand out tickets and decisions.

use super::{config_error, ConfigError};
use std::collections::VecDeque;

/// The answer to a request for admission.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Go ahead now.
    Granted,
    /// Wait: the ticket is granted by a later [`Bulkhead::release`], unless the caller gives up
    /// at `deadline_ns` (None: no deadline) and calls [`Bulkhead::cancel`].
    Queued {
        ticket: u64,
        deadline_ns: Option<u64>,
    },
    /// Go ahead at `at_ns` (the permit is reserved).
    DelayedUntil { at_ns: u64 },
    /// Refused.
    Rejected,
}

/// Counts for summaries.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct LimitCounts {
    pub granted: u64,
    pub queued: u64,
    pub delayed: u64,
    pub rejected: u64,
    /// Waiting calls that gave up at their deadline.
    pub wait_timeouts: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum BulkheadKind {
    Semaphore {
        max_wait_ns: u64,
    },
    ThreadPool {
        core: u32,
        queue_capacity: u32,
        keep_alive_ns: u64,
    },
}

/// A bulkhead.
#[derive(Clone, Debug)]
pub struct Bulkhead {
    kind: BulkheadKind,
    max: u32,
    in_use: u32,
    waiting: VecDeque<u64>,
    next_ticket: u64,
    /// Thread pool: threads alive (busy ones are `in_use`; the rest are idle).
    threads: u32,
    /// Thread pool: when each idle thread fell idle, oldest first (the longest idle takes the
    /// next call, as workers blocked on the queue are served in order, and retires first).
    idle_since: VecDeque<u64>,
    pub counts: LimitCounts,
}

impl Bulkhead {
    /// Resilience4j semaphore bulkhead. `max_concurrent` may be 0 (everything is rejected).
    pub fn semaphore(max_concurrent: u32, max_wait_ns: u64) -> Bulkhead {
        Bulkhead::with(BulkheadKind::Semaphore { max_wait_ns }, max_concurrent)
    }

    /// Resilience4j thread-pool bulkhead (`keepAliveDuration` defaults to 20 ms there).
    pub fn thread_pool(
        core: u32,
        max: u32,
        queue_capacity: u32,
        keep_alive_ns: u64,
    ) -> Result<Bulkhead, ConfigError> {
        if core == 0 || max < core {
            return Err(config_error(
                "max_thread_pool_size",
                format!("need 1 <= core ({core}) <= max ({max})"),
            ));
        }
        Ok(Bulkhead::with(
            BulkheadKind::ThreadPool {
                core,
                queue_capacity,
                keep_alive_ns,
            },
            max,
        ))
    }

    fn with(kind: BulkheadKind, max: u32) -> Bulkhead {
        Bulkhead {
            kind,
            max,
            in_use: 0,
            waiting: VecDeque::new(),
            next_ticket: 1,
            threads: 0,
            idle_since: VecDeque::new(),
            counts: LimitCounts::default(),
        }
    }

    pub fn in_use(&self) -> u32 {
        self.in_use
    }

    fn queue(&mut self, deadline_ns: Option<u64>) -> Admission {
        let ticket = self.next_ticket;
        self.next_ticket += 1;
        self.waiting.push_back(ticket);
        self.counts.queued += 1;
        Admission::Queued {
            ticket,
            deadline_ns,
        }
    }

    pub fn try_acquire(&mut self, now_ns: u64) -> Admission {
        let a = match self.kind {
            BulkheadKind::Semaphore { max_wait_ns } => {
                // Fair: nobody overtakes a waiting call.
                if self.in_use < self.max && self.waiting.is_empty() {
                    self.in_use += 1;
                    Admission::Granted
                } else if max_wait_ns > 0 {
                    return self.queue(Some(now_ns.saturating_add(max_wait_ns)));
                } else {
                    Admission::Rejected
                }
            }
            BulkheadKind::ThreadPool {
                core,
                queue_capacity,
                keep_alive_ns,
            } => {
                self.retire_idle(core, keep_alive_ns, now_ns);
                if self.threads < core {
                    // ThreadPoolExecutor starts a core thread even when others are idle.
                    self.threads += 1;
                    self.in_use += 1;
                    Admission::Granted
                } else if self.idle_since.pop_front().is_some() {
                    // Offered to the queue, taken at once by a waiting idle thread (with a
                    // zero capacity, Resilience4j's SynchronousQueue hands it over the same way).
                    self.in_use += 1;
                    Admission::Granted
                } else if (self.waiting.len() as u32) < queue_capacity {
                    return self.queue(None);
                } else if self.threads < self.max {
                    self.threads += 1;
                    self.in_use += 1;
                    Admission::Granted
                } else {
                    Admission::Rejected
                }
            }
        };
        match a {
            Admission::Granted => self.counts.granted += 1,
            _ => self.counts.rejected += 1,
        }
        a
    }

    /// Thread pool: threads above `core` idle for `keep_alive_ns` by `now_ns` have exited
    /// (at their own times; nothing observes the pool in between, so retiring them now is
    /// the same).
    fn retire_idle(&mut self, core: u32, keep_alive_ns: u64, now_ns: u64) {
        while self.threads > core
            && self
                .idle_since
                .front()
                .is_some_and(|&t| t.saturating_add(keep_alive_ns) <= now_ns)
        {
            self.idle_since.pop_front();
            self.threads -= 1;
        }
    }

    /// Threads alive (a semaphore bulkhead: the calls in flight).
    pub fn threads(&self) -> u32 {
        match self.kind {
            BulkheadKind::ThreadPool { .. } => self.threads,
            BulkheadKind::Semaphore { .. } => self.in_use,
        }
    }

    /// A call finished at `now_ns`. Returns the ticket of the waiting call that now goes
    /// ahead, if any.
    pub fn release(&mut self, now_ns: u64) -> Option<u64> {
        debug_assert!(self.in_use > 0);
        match self.waiting.pop_front() {
            // The slot (the thread) passes straight to the first waiter.
            Some(t) => {
                self.counts.granted += 1;
                Some(t)
            }
            None => {
                self.in_use -= 1;
                if let BulkheadKind::ThreadPool {
                    core,
                    keep_alive_ns,
                    ..
                } = self.kind
                {
                    self.retire_idle(core, keep_alive_ns, now_ns);
                    self.idle_since.push_back(now_ns);
                }
                None
            }
        }
    }

    /// A waiting call gave up. Returns false if the ticket was not waiting (already granted).
    pub fn cancel(&mut self, ticket: u64) -> bool {
        match self.waiting.iter().position(|&t| t == ticket) {
            Some(i) => {
                self.waiting.remove(i);
                self.counts.wait_timeouts += 1;
                true
            }
            None => false,
        }
    }
}

#[derive(Clone, Debug)]
enum LimiterKind {
    TokenBucket {
        rate_per_ns: f64,
        burst: f64,
        tokens: f64,
        last_ns: u64,
    },
    Resilience4j {
        limit: i64,
        period_ns: u64,
        timeout_ns: u64,
        start_ns: u64,
        cycle: u64,
        permits: i64,
    },
}

/// A rate limiter.
#[derive(Clone, Debug)]
pub struct RateLimiter {
    kind: LimiterKind,
    pub counts: LimitCounts,
}

impl RateLimiter {
    /// A full bucket of `burst` tokens, refilled at `rate_per_s`.
    pub fn token_bucket(
        rate_per_s: f64,
        burst: u32,
        created_at_ns: u64,
    ) -> Result<RateLimiter, ConfigError> {
        if !(rate_per_s > 0.0 && rate_per_s.is_finite()) {
            return Err(config_error(
                "rate_per_s",
                format!("must be above zero, got {rate_per_s}"),
            ));
        }
        if burst == 0 {
            return Err(config_error("burst", "must be at least 1"));
        }
        Ok(RateLimiter {
            kind: LimiterKind::TokenBucket {
                rate_per_ns: rate_per_s / 1e9,
                burst: burst as f64,
                tokens: burst as f64,
                last_ns: created_at_ns,
            },
            counts: LimitCounts::default(),
        })
    }

    /// Resilience4j `AtomicRateLimiter` (defaults: 50 per 500 ns, timeout 5 s).
    pub fn resilience4j(
        limit_for_period: u32,
        refresh_period_ns: u64,
        timeout_ns: u64,
        created_at_ns: u64,
    ) -> Result<RateLimiter, ConfigError> {
        if limit_for_period == 0 {
            return Err(config_error("limit_for_period", "must be at least 1"));
        }
        if refresh_period_ns == 0 {
            return Err(config_error("limit_refresh_period", "must be above zero"));
        }
        Ok(RateLimiter {
            kind: LimiterKind::Resilience4j {
                limit: limit_for_period as i64,
                period_ns: refresh_period_ns,
                timeout_ns,
                start_ns: created_at_ns,
                cycle: 0,
                permits: limit_for_period as i64,
            },
            counts: LimitCounts::default(),
        })
    }

    pub fn try_acquire(&mut self, now_ns: u64) -> Admission {
        let a = match &mut self.kind {
            LimiterKind::TokenBucket {
                rate_per_ns,
                burst,
                tokens,
                last_ns,
            } => {
                let dt = now_ns.saturating_sub(*last_ns) as f64;
                *tokens = (*tokens + dt * *rate_per_ns).min(*burst);
                *last_ns = now_ns.max(*last_ns);
                if *tokens >= 1.0 {
                    *tokens -= 1.0;
                    Admission::Granted
                } else {
                    Admission::Rejected
                }
            }
            LimiterKind::Resilience4j {
                limit,
                period_ns,
                timeout_ns,
                start_ns,
                cycle,
                permits,
            } => {
                let now_cycle = now_ns.saturating_sub(*start_ns) / *period_ns;
                if now_cycle > *cycle {
                    let elapsed = (now_cycle - *cycle).min(i64::MAX as u64 / 2) as i64;
                    *permits = (*permits)
                        .saturating_add(elapsed.saturating_mul(*limit))
                        .min(*limit);
                    *cycle = now_cycle;
                }
                if *permits >= 1 {
                    *permits -= 1;
                    Admission::Granted
                } else {
                    let next_cycle_at = *start_ns + (now_cycle + 1) * *period_ns;
                    let to_next = next_cycle_at - now_ns;
                    // Cycles beyond the next needed to cover the deficit.
                    let deficit = 1 - *permits - *limit;
                    let extra = if deficit > 0 {
                        ((deficit + *limit - 1) / *limit) as u64
                    } else {
                        0
                    };
                    let wait = to_next + extra * *period_ns;
                    if wait <= *timeout_ns {
                        *permits -= 1;
                        Admission::DelayedUntil {
                            at_ns: now_ns + wait,
                        }
                    } else {
                        Admission::Rejected
                    }
                }
            }
        };
        match a {
            Admission::Granted => self.counts.granted += 1,
            Admission::DelayedUntil { .. } => self.counts.delayed += 1,
            _ => self.counts.rejected += 1,
        }
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Admission::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn semaphore_rejects_or_queues_fairly() {
        let mut b = Bulkhead::semaphore(2, 0);
        assert_eq!(
            [b.try_acquire(0), b.try_acquire(0), b.try_acquire(0)],
            [Granted, Granted, Rejected]
        );
        assert_eq!(b.release(0), None);
        assert_eq!(b.try_acquire(1), Granted);

        let mut b = Bulkhead::semaphore(1, 100 * MS);
        assert_eq!(b.try_acquire(0), Granted);
        assert_eq!(
            b.try_acquire(10 * MS),
            Queued {
                ticket: 1,
                deadline_ns: Some(110 * MS)
            }
        );
        assert_eq!(
            b.try_acquire(20 * MS),
            Queued {
                ticket: 2,
                deadline_ns: Some(120 * MS)
            }
        );
        // The slot passes to the first waiter; the second gives up at its deadline.
        assert_eq!(b.release(0), Some(1));
        assert!(b.cancel(2));
        assert!(!b.cancel(1));
        assert_eq!(b.counts.wait_timeouts, 1);
        assert_eq!(b.release(0), None);
        assert_eq!(b.in_use(), 0);
    }

    #[test]
    fn thread_pool_keeps_idle_threads_above_core_alive_for_keep_alive() {
        // core 1, max 3, queue 1, keep-alive 20 ms (Resilience4j's default).
        let mut b = Bulkhead::thread_pool(1, 3, 1, 20 * MS).unwrap();
        assert_eq!(b.try_acquire(0), Granted); // the core thread
        assert!(matches!(b.try_acquire(0), Queued { ticket: 1, .. })); // the queue
        assert_eq!(b.try_acquire(0), Granted); // queue full: a second thread
        assert_eq!(b.threads(), 2);
        assert_eq!(b.release(MS), Some(1)); // the queued call takes the freed thread
        assert_eq!(b.release(2 * MS), None); // one thread idle since 2 ms
                                             // Idle within keep-alive: a new call runs at once, not queued behind nothing.
        assert_eq!(b.try_acquire(21 * MS), Granted);
        assert_eq!((b.threads(), b.in_use()), (2, 2));
        assert_eq!(b.release(30 * MS), None);
        // Idle 20 ms by 50 ms: the thread above core has exited; the call queues.
        assert!(matches!(b.try_acquire(50 * MS), Queued { ticket: 2, .. }));
        assert_eq!(b.threads(), 1);
        // Never below core: the core thread, idle, takes the next call.
        assert_eq!(b.release(60 * MS), Some(2));
        assert_eq!(b.release(61 * MS), None);
        assert_eq!(b.try_acquire(10_000 * MS), Granted);
        assert_eq!(b.threads(), 1);
        // A zero queue (Resilience4j's SynchronousQueue): an idle thread takes the call, else a
        // new thread up to max, else rejection.
        let mut b = Bulkhead::thread_pool(1, 2, 0, 20 * MS).unwrap();
        assert_eq!(
            [b.try_acquire(0), b.try_acquire(0), b.try_acquire(0)],
            [Granted, Granted, Rejected]
        );
        assert_eq!(b.release(MS), None);
        assert_eq!(b.try_acquire(MS), Granted);
    }

    #[test]
    fn thread_pool_fills_core_then_queue_then_max() {
        let mut b = Bulkhead::thread_pool(1, 2, 1, 20 * MS).unwrap();
        assert_eq!(b.try_acquire(0), Granted); // core thread
        assert!(matches!(
            b.try_acquire(0),
            Queued {
                ticket: 1,
                deadline_ns: None
            }
        )); // queue
        assert_eq!(b.try_acquire(0), Granted); // queue full: a second thread up to max
        assert_eq!(b.try_acquire(0), Rejected);
        assert_eq!(b.release(0), Some(1));
        assert!(Bulkhead::thread_pool(2, 1, 0, 0).is_err());
    }

    #[test]
    fn token_bucket_refills_continuously_up_to_burst() {
        let mut r = RateLimiter::token_bucket(10.0, 2, 0).unwrap();
        assert_eq!(
            [r.try_acquire(0), r.try_acquire(0), r.try_acquire(0)],
            [Granted, Granted, Rejected]
        );
        // 10/s: one token per 100 ms.
        assert_eq!(r.try_acquire(99 * MS), Rejected);
        assert_eq!(r.try_acquire(100 * MS), Granted);
        // Idle for a long time: never more than the burst.
        assert_eq!(
            [
                r.try_acquire(10_000 * MS),
                r.try_acquire(10_000 * MS),
                r.try_acquire(10_000 * MS)
            ],
            [Granted, Granted, Rejected]
        );
    }

    #[test]
    fn resilience4j_limiter_cycles_reserve_and_time_out() {
        // 2 per 100 ms cycle from t=0, timeout 150 ms.
        let mut r = RateLimiter::resilience4j(2, 100 * MS, 150 * MS, 0).unwrap();
        assert_eq!(
            [r.try_acquire(10 * MS), r.try_acquire(20 * MS)],
            [Granted, Granted]
        );
        // Third at 30 ms: next cycle starts at 100 ms, a 70 ms wait, reserved.
        assert_eq!(r.try_acquire(30 * MS), DelayedUntil { at_ns: 100 * MS });
        assert_eq!(r.try_acquire(30 * MS), DelayedUntil { at_ns: 100 * MS });
        // Permits are now -2: the next needs the cycle after (200 ms), 170 ms away > 150 ms.
        assert_eq!(r.try_acquire(30 * MS), Rejected);
        // A rejected call reserved nothing: at 100 ms the new cycle refills to 0 (2 - 2).
        assert_eq!(r.try_acquire(100 * MS), DelayedUntil { at_ns: 200 * MS });
        // Many idle cycles refill to the limit, not beyond.
        assert_eq!(
            [r.try_acquire(1000 * MS), r.try_acquire(1000 * MS)],
            [Granted, Granted]
        );
    }
}
