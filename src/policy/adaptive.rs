//! Adaptive admission: limits that move with what the system does.
//!
//! - [`AimdLimit`] and [`Gradient2Limit`]: Netflix concurrency-limits' server-side limits. A
//!   request is admitted while fewer than `limit()` are in flight; each finished request is a
//!   sample `(rtt, inflight at admission, dropped)` that moves the limit.
//!   AIMD: on a drop or rtt > timeout the limit becomes min(L - 1, ⌊L x backoff_ratio⌋);
//!   otherwise, when inflight x 2 >= L, L + 1; clamped to [min, max].
//!   Gradient2: short rtt = the sample; long rtt = an exponential average over `long_window`
//!   samples (a plain mean for the first 10), cut by 10% whenever long/short > 2; no change while
//!   inflight < L/2 (app-limited); otherwise gradient = clamp(tolerance x long/short, 0.5, 1),
//!   new = L x gradient + queue_size, L = L(1 - smoothing) + new x smoothing, clamped.
//! - [`SreThrottle`]: client-side adaptive throttling from Google's SRE book: reject locally
//!   with probability max(0, (requests - K x accepts) / (requests + 1)) over a sliding window.
//! - [`FeatureFlag`]: a feature (a call) that a health signal turns off and back on: off when
//!   the call's failure rate over `window` exceeds the threshold (with at least `min_calls`
//!   calls), back on after `off_for`, with fresh history.

use super::{config_error, ConfigError};

/// Netflix `AIMDLimit` (with the min/max clamp of the reference: initial 20, min 20, max 200,
/// backoff 0.9, timeout 5 s).
#[derive(Clone, Debug, PartialEq)]
pub struct AimdLimit {
    limit: u32,
    min: u32,
    max: u32,
    backoff_ratio: f64,
    timeout_ns: u64,
}

impl AimdLimit {
    pub fn new(
        initial: u32,
        min: u32,
        max: u32,
        backoff_ratio: f64,
        timeout_ns: u64,
    ) -> Result<Self, ConfigError> {
        if min == 0 || min > max || !(min..=max).contains(&initial) {
            return Err(config_error(
                "initial_limit",
                format!("need 1 <= min ({min}) <= initial ({initial}) <= max ({max})"),
            ));
        }
        if !(0.5..1.0).contains(&backoff_ratio) {
            return Err(config_error(
                "backoff_ratio",
                format!("must be in [0.5, 1.0), got {backoff_ratio}"),
            ));
        }
        if timeout_ns == 0 {
            return Err(config_error("timeout", "must be above zero"));
        }
        Ok(AimdLimit {
            limit: initial,
            min,
            max,
            backoff_ratio,
            timeout_ns,
        })
    }

    pub fn limit(&self) -> u32 {
        self.limit
    }

    pub fn on_sample(&mut self, rtt_ns: u64, inflight: u32, dropped: bool) {
        let l = self.limit;
        let next = if dropped || rtt_ns > self.timeout_ns {
            (l.saturating_sub(1)).min((l as f64 * self.backoff_ratio) as u32)
        } else if inflight * 2 >= l {
            l + 1
        } else {
            return;
        };
        self.limit = next.clamp(self.min, self.max);
    }
}

/// Netflix `Gradient2Limit` (initial 20, min 20, max 200, smoothing 0.2, long window 600,
/// rtt tolerance 1.5, queue size 4).
#[derive(Clone, Debug, PartialEq)]
pub struct Gradient2Limit {
    estimate: f64,
    min: u32,
    max: u32,
    smoothing: f64,
    long_window: u32,
    tolerance: f64,
    queue_size: f64,
    long_rtt: f64,
    long_sum: f64,
    long_count: u32,
}

impl Gradient2Limit {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        initial: u32,
        min: u32,
        max: u32,
        smoothing: f64,
        long_window: u32,
        rtt_tolerance: f64,
        queue_size: u32,
    ) -> Result<Self, ConfigError> {
        if min == 0 || min > max || !(min..=max).contains(&initial) {
            return Err(config_error(
                "initial_limit",
                format!("need 1 <= min ({min}) <= initial ({initial}) <= max ({max})"),
            ));
        }
        if !(smoothing > 0.0 && smoothing <= 1.0) {
            return Err(config_error(
                "smoothing",
                format!("must be in (0, 1], got {smoothing}"),
            ));
        }
        if long_window == 0 {
            return Err(config_error("long_window", "must be at least 1"));
        }
        if rtt_tolerance < 1.0 {
            return Err(config_error(
                "rtt_tolerance",
                format!("must be at least 1, got {rtt_tolerance}"),
            ));
        }
        Ok(Gradient2Limit {
            estimate: initial as f64,
            min,
            max,
            smoothing,
            long_window,
            tolerance: rtt_tolerance,
            queue_size: queue_size as f64,
            long_rtt: 0.0,
            long_sum: 0.0,
            long_count: 0,
        })
    }

    pub fn limit(&self) -> u32 {
        self.estimate as u32
    }

    pub fn on_sample(&mut self, rtt_ns: u64, inflight: u32, _dropped: bool) {
        let short = rtt_ns.max(1) as f64;
        if self.long_count < 10 {
            self.long_count += 1;
            self.long_sum += short;
            self.long_rtt = self.long_sum / self.long_count as f64;
        } else {
            let f = 2.0 / (self.long_window as f64 + 1.0);
            self.long_rtt = self.long_rtt * (1.0 - f) + short * f;
        }
        let long = self.long_rtt;
        if long / short > 2.0 {
            self.long_rtt *= 0.9;
        }
        if (inflight as f64) < self.estimate / 2.0 {
            return;
        }
        let gradient = (self.tolerance * long / short).clamp(0.5, 1.0);
        let new = self.estimate * gradient + self.queue_size;
        let new = self.estimate * (1.0 - self.smoothing) + new * self.smoothing;
        self.estimate = new.clamp(self.min as f64, self.max as f64);
    }
}

/// Google SRE client-side adaptive throttling over a sliding window of `buckets` slices.
#[derive(Clone, Debug, PartialEq)]
pub struct SreThrottle {
    k: f64,
    slice_ns: u64,
    /// (slice index, requests, accepts)
    ring: Vec<(u64, u64, u64)>,
    /// Requests rejected locally.
    pub throttled: u64,
}

impl SreThrottle {
    /// `k` > 1 (2 recommended), `window_ns` > 0, split into 20 slices.
    pub fn new(k: f64, window_ns: u64) -> Result<Self, ConfigError> {
        if !(k >= 1.0 && k.is_finite()) {
            return Err(config_error(
                "k",
                format!("must be at least 1 (2 is recommended), got {k}"),
            ));
        }
        if window_ns < 20 {
            return Err(config_error("window", "must be at least 20ns"));
        }
        Ok(SreThrottle {
            k,
            slice_ns: window_ns / 20,
            ring: vec![(u64::MAX, 0, 0); 20],
            throttled: 0,
        })
    }

    fn totals(&self, now_ns: u64) -> (u64, u64) {
        let s = now_ns / self.slice_ns;
        let n = self.ring.len() as u64;
        self.ring
            .iter()
            .filter(|b| b.0 != u64::MAX && b.0 <= s && s < b.0 + n)
            .fold((0, 0), |(r, a), b| (r + b.1, a + b.2))
    }

    fn slot(&mut self, now_ns: u64) -> &mut (u64, u64, u64) {
        let s = now_ns / self.slice_ns;
        let n = self.ring.len() as u64;
        let b = &mut self.ring[(s % n) as usize];
        if b.0 != s {
            *b = (s, 0, 0);
        }
        b
    }

    /// The probability of rejecting a request now.
    pub fn reject_probability(&self, now_ns: u64) -> f64 {
        let (requests, accepts) = self.totals(now_ns);
        ((requests as f64 - self.k * accepts as f64) / (requests as f64 + 1.0)).max(0.0)
    }

    /// Decides for one request with a uniform draw `u`; every request counts, rejected or not.
    pub fn admit(&mut self, now_ns: u64, u: f64) -> bool {
        let p = self.reject_probability(now_ns);
        self.slot(now_ns).1 += 1;
        if u < p {
            self.throttled += 1;
            false
        } else {
            true
        }
    }

    /// The backend accepted a request (answered anything but an overload signal).
    pub fn on_accept(&mut self, now_ns: u64) {
        self.slot(now_ns).2 += 1;
    }
}

/// A feature flag driven by the failure rate of the call it guards.
#[derive(Clone, Debug, PartialEq)]
pub struct FeatureFlag {
    threshold: f64,
    min_calls: u64,
    off_for_ns: u64,
    slice_ns: u64,
    /// (slice index, calls, failures)
    ring: Vec<(u64, u64, u64)>,
    off_until_ns: Option<u64>,
    /// Times the flag turned the feature off.
    pub turned_off: u64,
}

impl FeatureFlag {
    pub fn new(
        failure_rate_above: f64,
        min_calls: u32,
        window_ns: u64,
        off_for_ns: u64,
    ) -> Result<Self, ConfigError> {
        if !(0.0..1.0).contains(&failure_rate_above) {
            return Err(config_error(
                "failure_rate_above",
                format!("must be in [0, 1), got {failure_rate_above}"),
            ));
        }
        if window_ns < 20 {
            return Err(config_error("window", "must be at least 20ns"));
        }
        if off_for_ns == 0 {
            return Err(config_error("off_for", "must be above zero"));
        }
        Ok(FeatureFlag {
            threshold: failure_rate_above,
            min_calls: min_calls.max(1) as u64,
            off_for_ns,
            slice_ns: window_ns / 20,
            ring: vec![(u64::MAX, 0, 0); 20],
            off_until_ns: None,
            turned_off: 0,
        })
    }

    /// Is the feature on now? Turning back on forgets the old history.
    pub fn enabled(&mut self, now_ns: u64) -> bool {
        match self.off_until_ns {
            Some(until) if now_ns < until => false,
            Some(_) => {
                self.off_until_ns = None;
                self.ring.iter_mut().for_each(|b| *b = (u64::MAX, 0, 0));
                true
            }
            None => true,
        }
    }

    /// Records how a guarded call ended; may turn the feature off.
    pub fn record(&mut self, now_ns: u64, failed: bool) {
        let s = now_ns / self.slice_ns;
        let n = self.ring.len() as u64;
        let b = &mut self.ring[(s % n) as usize];
        if b.0 != s {
            *b = (s, 0, 0);
        }
        b.1 += 1;
        b.2 += failed as u64;
        if self.off_until_ns.is_some() {
            return;
        }
        let (calls, failures) = self
            .ring
            .iter()
            .filter(|b| b.0 != u64::MAX && b.0 <= s && s < b.0 + n)
            .fold((0, 0), |(c, f), b| (c + b.1, f + b.2));
        if calls >= self.min_calls && failures as f64 / calls as f64 > self.threshold {
            self.off_until_ns = Some(now_ns.saturating_add(self.off_for_ns));
            self.turned_off += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    #[test]
    fn aimd_adds_one_and_multiplies_down() {
        let mut l = AimdLimit::new(20, 10, 200, 0.9, 5_000 * MS).unwrap();
        // (rtt ms, inflight, dropped, expected limit)
        let cases = [
            (10, 10, false, 21),  // inflight x 2 >= 20: grow
            (10, 5, false, 21),   // app-limited: unchanged
            (10, 11, true, 18),   // drop: min(20, floor(21 x 0.9) = 18)
            (6000, 9, false, 16), // rtt over the timeout counts as a drop: floor(18 x 0.9) = 16
            (10, 8, false, 17),
        ];
        for (rtt, inflight, drop, want) in cases {
            l.on_sample(rtt * MS, inflight, drop);
            assert_eq!(
                l.limit(),
                want,
                "after rtt {rtt} ms, inflight {inflight}, drop {drop}"
            );
        }
        // Never below min.
        for _ in 0..50 {
            l.on_sample(MS, 0, true);
        }
        assert_eq!(l.limit(), 10);
        // min(L - 1, ...) matters for small limits: 2 x 0.9 = 1.8 -> 1, and L - 1 = 1.
        let mut small = AimdLimit::new(2, 1, 10, 0.9, MS).unwrap();
        small.on_sample(1, 0, true);
        assert_eq!(small.limit(), 1);
    }

    #[test]
    fn gradient2_shrinks_when_latency_rises_and_grows_when_it_falls() {
        let mut g = Gradient2Limit::new(50, 20, 200, 0.2, 600, 1.0, 4).unwrap();
        // Ten samples at 10 ms warm the long average up; steady latency: gradient 1, +4 x 0.2.
        for _ in 0..10 {
            g.on_sample(10 * MS, 50, false);
        }
        // After the warm-up samples: each one adds queue_size x smoothing = 0.8.
        assert!(
            (g.estimate - (50.0 + 10.0 * 0.8)).abs() < 1e-9,
            "{}",
            g.estimate
        );
        // Latency triples: gradient 0.5 (clamped): new = L/2 + 4; L = 0.8 L + 0.2 new.
        let before = g.estimate;
        g.on_sample(30 * MS, 60, false);
        let long = g.long_rtt;
        let gradient = (long / (30.0 * MS as f64)).clamp(0.5, 1.0);
        let expected = before * 0.8 + (before * gradient + 4.0) * 0.2;
        assert!((g.estimate - expected).abs() < 1e-9);
        assert!(g.estimate < before);
        // App-limited (inflight below L/2): no change.
        let l = g.estimate;
        g.on_sample(100 * MS, 1, false);
        assert_eq!(g.estimate, l);
    }

    #[test]
    fn gradient2_tolerance_ignores_small_latency_rises() {
        // With tolerance 1.5, a 40% slower sample still counts as no queueing (gradient 1).
        let mut g = Gradient2Limit::new(50, 20, 200, 0.2, 600, 1.5, 4).unwrap();
        for _ in 0..10 {
            g.on_sample(10 * MS, 50, false);
        }
        let before = g.estimate;
        g.on_sample(14 * MS, 50, false);
        assert!((g.estimate - (before + 0.8)).abs() < 1e-9);
    }

    #[test]
    fn sre_throttle_follows_the_formula() {
        let mut t = SreThrottle::new(2.0, 120_000 * MS).unwrap();
        // No history: never rejects.
        assert_eq!(t.reject_probability(0), 0.0);
        // 100 requests, 10 accepted: p = (100 - 20) / 101.
        for _ in 0..100 {
            assert!(t.admit(0, 0.999_999));
        }
        for _ in 0..10 {
            t.on_accept(0);
        }
        assert!((t.reject_probability(0) - 80.0 / 101.0).abs() < 1e-12);
        // All accepted: requests <= K x accepts, p = 0.
        let mut ok = SreThrottle::new(2.0, 120_000 * MS).unwrap();
        for _ in 0..100 {
            ok.admit(0, 0.5);
            ok.on_accept(0);
        }
        assert_eq!(ok.reject_probability(0), 0.0);
        // History slides out after the window.
        assert_eq!(t.reject_probability(120_000 * MS), 0.0);
        assert!(SreThrottle::new(0.5, MS).is_err());
    }

    #[test]
    fn feature_flag_turns_off_above_the_threshold_and_back_on_after_off_for() {
        // Off above 50% failures over 10 s, with at least 4 calls; back on after 30 s.
        let mut f = FeatureFlag::new(0.5, 4, 10_000 * MS, 30_000 * MS).unwrap();
        for (t, failed) in [(0, true), (1, true), (2, false)] {
            assert!(f.enabled(t * MS));
            f.record(t * MS, failed);
        }
        // 3 calls: below min_calls, still on; the 4th makes 3/4 > 50%.
        assert!(f.enabled(3 * MS));
        f.record(3 * MS, true);
        assert!(!f.enabled(4 * MS));
        assert!(!f.enabled(30_002 * MS));
        assert!(f.enabled(30_003 * MS));
        assert_eq!(f.turned_off, 1);
        // Fresh history after coming back: one failure alone does not turn it off.
        f.record(30_004 * MS, true);
        assert!(f.enabled(30_005 * MS));
        // Exactly 50% is not above the threshold.
        let mut g = FeatureFlag::new(0.5, 2, 10_000 * MS, MS).unwrap();
        g.record(0, true);
        g.record(0, false);
        assert!(g.enabled(0));
        assert!(FeatureFlag::new(1.0, 1, MS, MS).is_err());
    }
}
