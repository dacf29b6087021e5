//! Retry budgets: whether one more retry may go out, given what happened recently. They cap how
//! much a retrying client can multiply load on a struggling dependency.
//!
//! - [`AwsTokenBucket`]: the AWS SDKs' standard retry mode. A bucket starts full (500); a retry
//!   costs 5, or 10 after a timeout; a retry that finds too few tokens is not made. A success on
//!   the first attempt adds 1 (up to the maximum); a success after a retry refunds that retry's
//!   cost.
//! - [`GrpcThrottle`]: gRPC retry throttling (proposal A6). Tokens start at `max_tokens`; each
//!   failed attempt takes 1, each success adds `token_ratio`; retries (and hedges) are allowed
//!   only while tokens > max_tokens / 2.
//!
//! - [`TpsBudget`]: tower's `TpsBudget` (Finagle's `RetryBudget`): each original request deposits,
//!   each retry withdraws; `retry_percent` of requests may be retried, plus `min_per_sec` retries
//!   a second from a reserve. Deposits count for `ttl`, kept in 10 slots that rotate on use.
//!
//! The first two do not depend on time and take no `now`.

use super::{config_error, ConfigError};

/// The AWS SDK standard-mode retry quota.
#[derive(Clone, Debug, PartialEq)]
pub struct AwsTokenBucket {
    capacity: u32,
    retry_cost: u32,
    timeout_retry_cost: u32,
    no_retry_increment: u32,
    balance: u32,
    /// Retries refused for lack of tokens.
    pub exhausted: u64,
}

/// What a granted retry cost, to be refunded if it succeeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryTicket {
    pub cost: u32,
}

impl Default for AwsTokenBucket {
    /// The SDK defaults: 500 tokens, retry cost 5, timeout retry cost 10, +1 on first-try success.
    fn default() -> Self {
        AwsTokenBucket::new(500, 5, 10, 1).expect("defaults are valid")
    }
}

impl AwsTokenBucket {
    pub fn new(
        capacity: u32,
        retry_cost: u32,
        timeout_retry_cost: u32,
        no_retry_increment: u32,
    ) -> Result<Self, ConfigError> {
        if capacity == 0 {
            return Err(config_error(
                "capacity",
                "a bucket of zero tokens allows no retry at all; use max_attempts 1 instead",
            ));
        }
        Ok(AwsTokenBucket {
            capacity,
            retry_cost,
            timeout_retry_cost,
            no_retry_increment,
            balance: capacity,
            exhausted: 0,
        })
    }

    pub fn balance(&self) -> u32 {
        self.balance
    }

    /// Asks for one retry after a failure (`after_timeout` selects the higher cost).
    pub fn try_retry(&mut self, after_timeout: bool) -> Option<RetryTicket> {
        let cost = if after_timeout {
            self.timeout_retry_cost
        } else {
            self.retry_cost
        };
        if self.balance < cost {
            self.exhausted += 1;
            return None;
        }
        self.balance -= cost;
        Some(RetryTicket { cost })
    }

    /// Reports a successful call; `ticket` is the last granted retry's, if the call was retried.
    pub fn on_success(&mut self, ticket: Option<RetryTicket>) {
        let add = match ticket {
            Some(t) => t.cost,
            None => self.no_retry_increment,
        };
        self.balance = (self.balance + add).min(self.capacity);
    }
}

/// gRPC retry throttling. Token counts are kept in thousandths, as A6 keeps three decimals.
#[derive(Clone, Debug, PartialEq)]
pub struct GrpcThrottle {
    max_milli: u64,
    ratio_milli: u64,
    tokens_milli: u64,
    /// Retries refused because tokens were at or below half.
    pub throttled: u64,
}

impl GrpcThrottle {
    /// `max_tokens` in (0, 1000], `token_ratio` > 0 (only three decimals are kept).
    pub fn new(max_tokens: u32, token_ratio: f64) -> Result<Self, ConfigError> {
        if max_tokens == 0 || max_tokens > 1000 {
            return Err(config_error(
                "max_tokens",
                format!("must be in 1..=1000, got {max_tokens}"),
            ));
        }
        let ratio_milli = (token_ratio * 1000.0) as u64;
        if token_ratio.is_nan() || token_ratio <= 0.0 || ratio_milli == 0 {
            return Err(config_error(
                "token_ratio",
                format!("must be above zero (three decimals are kept), got {token_ratio}"),
            ));
        }
        Ok(GrpcThrottle {
            max_milli: max_tokens as u64 * 1000,
            ratio_milli,
            tokens_milli: max_tokens as u64 * 1000,
            throttled: 0,
        })
    }

    pub fn tokens(&self) -> f64 {
        self.tokens_milli as f64 / 1000.0
    }

    /// May a retry or hedge go out now?
    pub fn allows_retry(&mut self) -> bool {
        let ok = self.tokens_milli * 2 > self.max_milli;
        if !ok {
            self.throttled += 1;
        }
        ok
    }

    /// A failed attempt (a retryable or non-fatal status, or server pushback).
    pub fn on_failure(&mut self) {
        self.tokens_milli = self.tokens_milli.saturating_sub(1000);
    }

    pub fn on_success(&mut self) {
        self.tokens_milli = (self.tokens_milli + self.ratio_milli).min(self.max_milli);
    }
}

/// tower's `TpsBudget`, sans-IO: `now_ns` is passed to every call.
#[derive(Clone, Debug, PartialEq)]
pub struct TpsBudget {
    deposit_amount: i64,
    withdraw_amount: i64,
    reserve: i64,
    slots: [i64; 10],
    window_ns: u64,
    writer: i64,
    index: usize,
    generation_at_ns: u64,
    /// Retries refused for lack of balance.
    pub exhausted: u64,
}

impl Default for TpsBudget {
    /// tower's default: ttl 10 s, 10 retries a second, 20% of requests.
    fn default() -> Self {
        TpsBudget::new(10_000_000_000, 10, 0.2, 0).expect("defaults are valid")
    }
}

impl TpsBudget {
    /// `ttl_ns` in [1 s, 60 s]; `retry_percent` in [0, 1000] (a fraction: 0.2 = 20%);
    /// `created_at_ns` starts the first slot.
    pub fn new(
        ttl_ns: u64,
        min_per_sec: u32,
        retry_percent: f32,
        created_at_ns: u64,
    ) -> Result<Self, ConfigError> {
        if !(1_000_000_000..=60_000_000_000).contains(&ttl_ns) {
            return Err(config_error("ttl", "must be between 1s and 60s"));
        }
        if !(0.0..=1000.0).contains(&retry_percent) {
            return Err(config_error(
                "retry_percent",
                format!("must be between 0 and 1000, got {retry_percent}"),
            ));
        }
        if min_per_sec >= i32::MAX as u32 {
            return Err(config_error("min_per_sec", "is too large"));
        }
        let (deposit_amount, withdraw_amount) = if retry_percent == 0.0 {
            (0, 1)
        } else if retry_percent <= 1.0 {
            (1, (1.0 / retry_percent) as i64)
        } else {
            (1000, (1000.0 / retry_percent) as i64)
        };
        // ttl counts in whole seconds here, as in tower.
        let reserve = (min_per_sec as i64) * (ttl_ns / 1_000_000_000) as i64 * withdraw_amount;
        Ok(TpsBudget {
            deposit_amount,
            withdraw_amount,
            reserve,
            slots: [0; 10],
            window_ns: ttl_ns / 10,
            writer: 0,
            index: 0,
            generation_at_ns: created_at_ns,
            exhausted: 0,
        })
    }

    /// Rotates slots as tower does: at the first use a window or more after the last rotation,
    /// the current writer is committed to its slot and every further whole window elapsed
    /// clears one more slot. The next generation starts at `now`, not on a fixed grid.
    fn expire(&mut self, now: u64) {
        let mut diff = now.saturating_sub(self.generation_at_ns);
        if diff < self.window_ns {
            return;
        }
        self.slots[self.index] = std::mem::take(&mut self.writer);
        let mut idx = (self.index + 1) % self.slots.len();
        while diff > self.window_ns {
            self.slots[idx] = 0;
            diff -= self.window_ns;
            idx = (idx + 1) % self.slots.len();
        }
        self.index = idx;
        self.generation_at_ns = now;
    }

    fn sum(&self) -> i64 {
        self.writer + self.slots.iter().sum::<i64>() + self.reserve
    }

    /// An original request (not a retry) was made.
    pub fn deposit(&mut self, now_ns: u64) {
        self.expire(now_ns);
        self.writer += self.deposit_amount;
    }

    /// May a retry go out now? Withdraws if so.
    pub fn withdraw(&mut self, now_ns: u64) -> bool {
        self.expire(now_ns);
        if self.sum() >= self.withdraw_amount {
            self.writer -= self.withdraw_amount;
            true
        } else {
            self.exhausted += 1;
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aws_bucket_charges_refunds_and_runs_dry() {
        let mut b = AwsTokenBucket::default();
        assert_eq!(b.balance(), 500);
        // Successes on the first try cannot overfill it.
        b.on_success(None);
        assert_eq!(b.balance(), 500);
        let t = b.try_retry(false).unwrap();
        assert_eq!((t.cost, b.balance()), (5, 495));
        let t2 = b.try_retry(true).unwrap();
        assert_eq!((t2.cost, b.balance()), (10, 485));
        // A success after a retry refunds that retry's cost.
        b.on_success(Some(t2));
        assert_eq!(b.balance(), 495);
        b.on_success(None);
        assert_eq!(b.balance(), 496);
        // 496 / 5 = 99 more retries, then none.
        for _ in 0..99 {
            assert!(b.try_retry(false).is_some());
        }
        assert_eq!(b.balance(), 1);
        assert!(b.try_retry(false).is_none());
        assert_eq!(b.exhausted, 1);
        assert_eq!(b.balance(), 1, "a refused retry takes nothing");
    }

    #[test]
    fn grpc_throttle_allows_retries_only_above_half() {
        // max 10, ratio 0.1: 5 failures bring tokens to 5 = max/2, which is not above half.
        let mut t = GrpcThrottle::new(10, 0.1).unwrap();
        for _ in 0..4 {
            t.on_failure();
        }
        assert_eq!(t.tokens(), 6.0);
        assert!(t.allows_retry());
        t.on_failure();
        assert_eq!(t.tokens(), 5.0);
        assert!(!t.allows_retry());
        assert_eq!(t.throttled, 1);
        // One success (+0.1) lifts it above half again.
        t.on_success();
        assert!((t.tokens() - 5.1).abs() < 1e-12);
        assert!(t.allows_retry());
        // Never below zero, never above max.
        for _ in 0..20 {
            t.on_failure();
        }
        assert_eq!(t.tokens(), 0.0);
        for _ in 0..200 {
            t.on_success();
        }
        assert_eq!(t.tokens(), 10.0);
    }

    #[test]
    fn grpc_keeps_three_decimals_and_rejects_bad_config() {
        let t = GrpcThrottle::new(10, 0.1239).unwrap();
        assert_eq!(t.ratio_milli, 123);
        assert!(GrpcThrottle::new(0, 0.1).is_err());
        assert!(GrpcThrottle::new(1001, 0.1).is_err());
        assert!(GrpcThrottle::new(10, 0.0).is_err());
        assert!(GrpcThrottle::new(10, 0.0004).is_err());
        assert!(AwsTokenBucket::new(0, 5, 10, 1).is_err());
    }

    const MS: u64 = 1_000_000;
    const S: u64 = 1_000_000_000;

    // The cases of tower's own TpsBudget tests, driven with explicit time.
    #[test]
    fn tps_empty_budget_allows_nothing() {
        let mut b = TpsBudget::new(S, 0, 1.0, 0).unwrap();
        assert!(!b.withdraw(0));
    }

    #[test]
    fn tps_deposits_leak_away_after_the_ttl() {
        let mut b = TpsBudget::new(S, 0, 1.0, 0).unwrap();
        b.deposit(0);
        assert!(!b.withdraw(3 * S));
    }

    #[test]
    fn tps_slots_keep_deposits_for_the_ttl() {
        // 50%: two deposits pay for one retry.
        let mut b = TpsBudget::new(S, 0, 0.5, 0).unwrap();
        b.deposit(0);
        b.deposit(0);
        let mut t = 901 * MS;
        assert!(b.withdraw(t));
        t += 2001 * MS;
        b.deposit(t);
        t += 301 * MS;
        b.deposit(t);
        t += 801 * MS;
        b.deposit(t);
        // The first of these three has expired; the second and third pay for one retry.
        assert!(b.withdraw(t));
    }

    #[test]
    fn tps_reserve_allows_min_per_sec_times_ttl() {
        let mut b = TpsBudget::new(S, 5, 1.0, 0).unwrap();
        for _ in 0..5 {
            assert!(b.withdraw(0));
        }
        assert!(!b.withdraw(0));
        assert_eq!(b.exhausted, 1);
    }

    #[test]
    fn tps_percent_above_one_and_validation() {
        // retry_percent 2.0: each deposit allows two retries (deposit 1000, withdraw 500).
        let mut b = TpsBudget::new(S, 0, 2.0, 0).unwrap();
        b.deposit(0);
        assert!(b.withdraw(0));
        assert!(b.withdraw(0));
        assert!(!b.withdraw(0));
        assert!(TpsBudget::new(500 * MS, 1, 0.2, 0).is_err());
        assert!(TpsBudget::new(S, 1, 1001.0, 0).is_err());
    }
}
