//! Health checking: deciding from probes and from live traffic whether a replica should get
//! requests. Three mechanisms, each following the system it is named after:
//!
//! - [`Probe`]: an active check run every `period` with consecutive-result thresholds. With
//!   [`ProbeConfig::kubernetes`] it is a Kubernetes readiness or liveness probe
//!   (initialDelaySeconds 0, periodSeconds 10, timeoutSeconds 1, successThreshold 1,
//!   failureThreshold 3; a liveness probe's successThreshold must be 1). With
//!   [`ProbeConfig::nginx`] it is NGINX Plus `health_check` (interval 5s, fails 1, passes 1).
//! - [`NginxPassive`]: open-source NGINX's `max_fails` / `fail_timeout` (1, 10s) for one upstream
//!   server, with the bookkeeping of `ngx_http_upstream_round_robin.c`: a failure sets
//!   `accessed = checked = now`; the server is skipped while `fails >= max_fails` and
//!   `now - checked <= fail_timeout`; when the balancer picks it and `now - checked >
//!   fail_timeout` it sets `checked = now`; a success resets `fails` only if
//!   `accessed < checked` (it began after the last failure's window was refreshed).
//! - [`OutlierDetector`]: Envoy's consecutive-5xx outlier detection for one cluster
//!   (consecutive_5xx 5, interval 10s, base_ejection_time 30s, max_ejection_time 300s,
//!   max_ejection_percent 10). Ejection is inline when a host reaches the count and the share
//!   of ejected hosts is below `max_ejection_percent`; it lasts
//!   `min(base * backoff, max_ejection_time)`, checked only at interval sweeps; each ejection
//!   raises the host's backoff (while `backoff * base < max + base`) and each sweep that finds
//!   the host not ejected lowers it by one. Unejection resets the host's consecutive count.
//!
//! What counts as a failure is the caller's business (the model passes `ok: bool`); so is
//! what "removed from load balancing" or "restart" means. Sans-IO: time is passed in, and the
//! caller runs the probes and the sweeps on its own clock.

use super::{config_error, ConfigError};

/// How an active probe runs and decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProbeConfig {
    /// Wait after the replica (re)starts before the first probe.
    pub initial_delay_ns: u64,
    pub period_ns: u64,
    /// A probe that has not answered after this long has failed.
    pub timeout_ns: u64,
    /// Consecutive successes that make a failing replica pass again.
    pub success_threshold: u32,
    /// Consecutive failures that make a passing replica fail.
    pub failure_threshold: u32,
}

impl Default for ProbeConfig {
    /// Kubernetes' defaults.
    fn default() -> Self {
        ProbeConfig {
            initial_delay_ns: 0,
            period_ns: 10_000_000_000,
            timeout_ns: 1_000_000_000,
            success_threshold: 1,
            failure_threshold: 3,
        }
    }
}

impl ProbeConfig {
    /// A Kubernetes probe. `liveness` applies Kubernetes' rule that a liveness (or startup)
    /// probe's success threshold must be 1.
    pub fn kubernetes(self, liveness: bool) -> Result<Self, ConfigError> {
        self.check()?;
        if liveness && self.success_threshold != 1 {
            return Err(config_error(
                "success_threshold",
                format!(
                    "Kubernetes requires a liveness probe's successThreshold to be 1, got {}; set it to 1 or leave it out",
                    self.success_threshold
                ),
            ));
        }
        Ok(self)
    }

    /// NGINX Plus `health_check interval=.. fails=.. passes=..`; `timeout_ns` stands for the
    /// proxy timeouts NGINX applies to the check (60s by default).
    pub fn nginx(
        interval_ns: u64,
        fails: u32,
        passes: u32,
        timeout_ns: u64,
    ) -> Result<Self, ConfigError> {
        ProbeConfig {
            initial_delay_ns: 0,
            period_ns: interval_ns,
            timeout_ns,
            success_threshold: passes,
            failure_threshold: fails,
        }
        .check()
    }

    fn check(self) -> Result<Self, ConfigError> {
        if self.period_ns == 0 {
            return Err(config_error("period", "must be longer than zero"));
        }
        if self.timeout_ns == 0 {
            return Err(config_error("timeout", "must be longer than zero"));
        }
        if self.success_threshold == 0 {
            return Err(config_error("success_threshold", "must be at least 1"));
        }
        if self.failure_threshold == 0 {
            return Err(config_error("failure_threshold", "must be at least 1"));
        }
        Ok(self)
    }
}

/// One replica's probe state: passing or failing, and the current run of equal results.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Probe {
    config: ProbeConfig,
    passing: bool,
    successes: u32,
    failures: u32,
}

impl Probe {
    /// `passing` is where the replica starts: Kubernetes starts liveness as passing and
    /// readiness as failing until its first success threshold is met.
    pub fn new(config: ProbeConfig, passing: bool) -> Self {
        Probe {
            config,
            passing,
            successes: 0,
            failures: 0,
        }
    }
    pub fn config(&self) -> &ProbeConfig {
        &self.config
    }
    pub fn passing(&self) -> bool {
        self.passing
    }
    /// Starts over (the container restarted).
    pub fn reset(&mut self, passing: bool) {
        *self = Probe::new(self.config, passing);
    }
    /// Records one probe's result; returns the new state when it changed.
    pub fn on_result(&mut self, ok: bool) -> Option<bool> {
        if ok {
            self.failures = 0;
            self.successes = self.successes.saturating_add(1);
            if !self.passing && self.successes >= self.config.success_threshold {
                self.passing = true;
                return Some(true);
            }
        } else {
            self.successes = 0;
            self.failures = self.failures.saturating_add(1);
            if self.passing && self.failures >= self.config.failure_threshold {
                self.passing = false;
                return Some(false);
            }
        }
        None
    }
}

/// NGINX passive health checking settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NginxPassiveConfig {
    /// 0 turns the accounting off.
    pub max_fails: u32,
    pub fail_timeout_ns: u64,
}

impl Default for NginxPassiveConfig {
    fn default() -> Self {
        NginxPassiveConfig {
            max_fails: 1,
            fail_timeout_ns: 10_000_000_000,
        }
    }
}

impl NginxPassiveConfig {
    pub fn validated(self) -> Result<Self, ConfigError> {
        if self.max_fails > 0 && self.fail_timeout_ns == 0 {
            return Err(config_error("fail_timeout", "must be longer than zero"));
        }
        Ok(self)
    }
}

/// One upstream server's NGINX failure accounting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NginxPassive {
    pub fails: u32,
    accessed_ns: u64,
    checked_ns: u64,
}

impl NginxPassive {
    /// May the balancer pick this server now?
    pub fn available(&self, cfg: &NginxPassiveConfig, now_ns: u64) -> bool {
        !(cfg.max_fails > 0
            && self.fails >= cfg.max_fails
            && now_ns.saturating_sub(self.checked_ns) <= cfg.fail_timeout_ns)
    }
    /// When an unavailable server becomes available again by time alone (the first instant
    /// past its `fail_timeout`); None when it is available whatever the time.
    pub fn available_from(&self, cfg: &NginxPassiveConfig) -> Option<u64> {
        (cfg.max_fails > 0 && self.fails >= cfg.max_fails).then(|| {
            self.checked_ns
                .saturating_add(cfg.fail_timeout_ns)
                .saturating_add(1)
        })
    }
    /// The balancer picked this server.
    pub fn on_selected(&mut self, cfg: &NginxPassiveConfig, now_ns: u64) {
        if now_ns.saturating_sub(self.checked_ns) > cfg.fail_timeout_ns {
            self.checked_ns = now_ns;
        }
    }
    /// A request to this server finished. Returns true when this failure disabled it (again:
    /// a failed trial request after the down time disables it for another `fail_timeout`).
    pub fn on_result(&mut self, cfg: &NginxPassiveConfig, ok: bool, now_ns: u64) -> bool {
        if cfg.max_fails == 0 {
            return false;
        }
        if ok {
            if self.accessed_ns < self.checked_ns {
                self.fails = 0;
            }
            false
        } else {
            self.fails = self.fails.saturating_add(1);
            self.accessed_ns = now_ns;
            self.checked_ns = now_ns;
            self.fails >= cfg.max_fails
        }
    }
}

/// Envoy outlier detection settings (consecutive 5xx only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutlierConfig {
    pub consecutive_5xx: u32,
    pub interval_ns: u64,
    pub base_ejection_ns: u64,
    pub max_ejection_ns: u64,
    pub max_ejection_percent: u32,
}

impl Default for OutlierConfig {
    fn default() -> Self {
        OutlierConfig {
            consecutive_5xx: 5,
            interval_ns: 10_000_000_000,
            base_ejection_ns: 30_000_000_000,
            max_ejection_ns: 300_000_000_000,
            max_ejection_percent: 10,
        }
    }
}

impl OutlierConfig {
    pub fn validated(self) -> Result<Self, ConfigError> {
        if self.consecutive_5xx == 0 {
            return Err(config_error("consecutive_5xx", "must be at least 1"));
        }
        if self.interval_ns == 0 {
            return Err(config_error("interval", "must be longer than zero"));
        }
        if self.base_ejection_ns == 0 {
            return Err(config_error(
                "base_ejection_time",
                "must be longer than zero",
            ));
        }
        if self.max_ejection_percent > 100 {
            return Err(config_error(
                "max_ejection_percent",
                format!(
                    "is a percentage: between 0 and 100, got {}",
                    self.max_ejection_percent
                ),
            ));
        }
        Ok(self)
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Host {
    consecutive: u32,
    ejected: bool,
    ejected_at_ns: u64,
    backoff: u32,
}

/// What the detector did with a result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutlierEvent {
    None,
    /// The host reached the consecutive count and was ejected.
    Ejected,
    /// It reached the count but too many hosts are already ejected.
    Overflow,
}

/// Envoy's outlier detector for one cluster of `hosts` hosts.
#[derive(Clone, Debug)]
pub struct OutlierDetector {
    config: OutlierConfig,
    hosts: Vec<Host>,
    ejected: u32,
    pub ejections: u64,
    pub overflows: u64,
}

impl OutlierDetector {
    pub fn new(config: OutlierConfig, hosts: usize) -> Result<Self, ConfigError> {
        Ok(OutlierDetector {
            config: config.validated()?,
            hosts: vec![Host::default(); hosts],
            ejected: 0,
            ejections: 0,
            overflows: 0,
        })
    }
    pub fn config(&self) -> &OutlierConfig {
        &self.config
    }
    pub fn is_ejected(&self, host: usize) -> bool {
        self.hosts[host].ejected
    }
    /// The host's current ejection multiplier.
    pub fn backoff(&self, host: usize) -> u32 {
        self.hosts[host].backoff
    }
    pub fn ejected_count(&self) -> u32 {
        self.ejected
    }

    /// A response from `host`: `ok` false for a 5xx or a locally originated failure (reset,
    /// refused, timeout), which Envoy maps to 5xx unless external and local errors are split.
    pub fn on_result(&mut self, host: usize, ok: bool, now_ns: u64) -> OutlierEvent {
        let h = &mut self.hosts[host];
        if ok {
            h.consecutive = 0;
            return OutlierEvent::None;
        }
        h.consecutive = h.consecutive.saturating_add(1);
        if h.consecutive < self.config.consecutive_5xx || h.ejected {
            return OutlierEvent::None;
        }
        // The count is reset whether or not the ejection happens, so a host over the cap
        // needs a fresh run of failures to be considered again.
        h.consecutive = 0;
        let ejected_percent = 100.0 * self.ejected as f64 / self.hosts.len() as f64;
        if ejected_percent >= self.config.max_ejection_percent as f64 {
            self.overflows += 1;
            return OutlierEvent::Overflow;
        }
        let h = &mut self.hosts[host];
        h.ejected = true;
        h.ejected_at_ns = now_ns;
        let base = self.config.base_ejection_ns as u128;
        if (h.backoff as u128) * base < self.config.max_ejection_ns as u128 + base {
            h.backoff += 1;
        }
        self.ejected += 1;
        self.ejections += 1;
        OutlierEvent::Ejected
    }

    /// The interval sweep at `now_ns`: returns the hosts returned to service, in index order.
    pub fn sweep(&mut self, now_ns: u64, unejected: &mut Vec<usize>) {
        unejected.clear();
        let base = self.config.base_ejection_ns as u128;
        let max = self.config.max_ejection_ns as u128;
        for (i, h) in self.hosts.iter_mut().enumerate() {
            if !h.ejected {
                h.backoff = h.backoff.saturating_sub(1);
                continue;
            }
            let eject_for = (base * h.backoff as u128).min(max);
            if eject_for <= (now_ns - h.ejected_at_ns) as u128 {
                h.ejected = false;
                h.consecutive = 0;
                self.ejected -= 1;
                unejected.push(i);
            }
        }
    }

    /// Forgets a host's ejection (it was replaced: a new pod behind the same endpoint).
    pub fn reset_host(&mut self, host: usize) {
        if self.hosts[host].ejected {
            self.ejected -= 1;
        }
        self.hosts[host] = Host::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    /// Feeds probe results; checks the state and the reported change after each.
    fn check_probe(config: ProbeConfig, start: bool, steps: &[(bool, bool, Option<bool>)]) {
        let mut p = Probe::new(config, start);
        for (i, &(ok, passing, change)) in steps.iter().enumerate() {
            let got = p.on_result(ok);
            assert_eq!(got, change, "step {i}: change after result {ok}");
            assert_eq!(p.passing(), passing, "step {i}: state after result {ok}");
        }
    }

    #[test]
    fn kubernetes_probe_thresholds() {
        let k8s = ProbeConfig::default();
        // Liveness starts passing; three consecutive failures fail it (failureThreshold 3).
        check_probe(
            k8s,
            true,
            &[
                (false, true, None),
                (false, true, None),
                (false, false, Some(false)),
                (false, false, None),
                (true, true, Some(true)), // successThreshold 1
            ],
        );
        // A success in between resets the failure run.
        check_probe(
            k8s,
            true,
            &[
                (false, true, None),
                (false, true, None),
                (true, true, None),
                (false, true, None),
                (false, true, None),
                (false, false, Some(false)),
            ],
        );
        // Readiness with successThreshold 2 starts failing and needs two in a row.
        let ready = ProbeConfig {
            success_threshold: 2,
            ..k8s
        };
        check_probe(
            ready,
            false,
            &[
                (true, false, None),
                (false, false, None),
                (true, false, None),
                (true, true, Some(true)),
            ],
        );
    }

    #[test]
    fn kubernetes_liveness_needs_success_threshold_one() {
        let c = ProbeConfig {
            success_threshold: 2,
            ..Default::default()
        };
        assert!(c.kubernetes(false).is_ok());
        assert_eq!(c.kubernetes(true).unwrap_err().field, "success_threshold");
        let zero = ProbeConfig {
            period_ns: 0,
            ..Default::default()
        };
        assert_eq!(zero.kubernetes(false).unwrap_err().field, "period");
    }

    #[test]
    fn nginx_active_fails_and_passes() {
        let c = ProbeConfig::nginx(5 * S, 2, 3, 60 * S).unwrap();
        check_probe(
            c,
            true,
            &[
                (false, true, None),
                (false, false, Some(false)),
                (true, false, None),
                (true, false, None),
                (true, true, Some(true)),
            ],
        );
        assert!(ProbeConfig::nginx(5 * S, 0, 1, S).is_err());
    }

    /// (time in seconds, what happens, expected availability right after).
    enum N {
        Check,
        Pick,
        Ok,
        Fail,
    }

    fn check_nginx(max_fails: u32, steps: &[(u64, N, bool)]) {
        let cfg = NginxPassiveConfig {
            max_fails,
            fail_timeout_ns: 10 * S,
        };
        let mut p = NginxPassive::default();
        for (i, (t, what, available)) in steps.iter().enumerate() {
            let now = t * S;
            match what {
                N::Check => {}
                N::Pick => {
                    assert!(p.available(&cfg, now), "step {i}: picked while unavailable");
                    p.on_selected(&cfg, now);
                }
                N::Ok => {
                    p.on_result(&cfg, true, now);
                }
                N::Fail => {
                    p.on_result(&cfg, false, now);
                }
            }
            assert_eq!(p.available(&cfg, now), *available, "step {i} at {t}s");
        }
    }

    #[test]
    fn nginx_passive_rules() {
        // Defaults (1, 10s): one failure takes the server out for fail_timeout; at 11s it is
        // picked again, a success resets it.
        check_nginx(
            1,
            &[
                (100, N::Pick, true),
                (100, N::Fail, false),
                (105, N::Fail, false),
                (110, N::Fail, false), // each failure restarts the window
                (120, N::Fail, false),
                (130, N::Check, false), // exactly fail_timeout later: still out (<=)
                // Picked for one trial request: checked = now, so others skip it until it answers.
                (131, N::Pick, false),
                (131, N::Ok, true),
            ],
        );
        // max_fails 3: failures count within the window even with successes in between,
        // because a success resets only after the window was refreshed by a pick.
        check_nginx(
            3,
            &[
                (100, N::Pick, true),
                (100, N::Fail, true),
                (101, N::Pick, true),
                (101, N::Ok, true), // accessed == checked: no reset
                (102, N::Fail, true),
                (103, N::Fail, false),
                (114, N::Pick, false), // window passed: a trial request, checked refreshed
                (114, N::Fail, false),
            ],
        );
        // After the window, a pick and a success reset the count.
        check_nginx(
            2,
            &[
                (100, N::Fail, true),
                (111, N::Pick, true),
                (111, N::Ok, true),
                (112, N::Fail, true), // count restarted at 0 -> 1
                (113, N::Fail, false),
            ],
        );
        // max_fails 0 turns it off.
        check_nginx(0, &[(1, N::Fail, true), (2, N::Fail, true)]);
    }

    #[test]
    fn envoy_ejection_and_backoff() {
        let cfg = OutlierConfig {
            consecutive_5xx: 3,
            interval_ns: 10 * S,
            base_ejection_ns: 30 * S,
            max_ejection_ns: 60 * S,
            max_ejection_percent: 50,
        };
        let mut d = OutlierDetector::new(cfg, 4).unwrap();
        let mut out = Vec::new();
        assert_eq!(d.on_result(0, false, S), OutlierEvent::None);
        assert_eq!(d.on_result(0, true, S), OutlierEvent::None); // a success resets the run
        assert_eq!(d.on_result(0, false, 2 * S), OutlierEvent::None);
        assert_eq!(d.on_result(0, false, 2 * S), OutlierEvent::None);
        assert_eq!(d.on_result(0, false, 2 * S), OutlierEvent::Ejected);
        assert!(d.is_ejected(0));
        assert_eq!(d.backoff(0), 1);
        // 30s ejection checked at sweeps: 10s, 20s, 30s not yet (28s elapsed), 40s yes.
        for t in [10, 20, 30] {
            d.sweep(t * S, &mut out);
            assert!(out.is_empty(), "unejected too early at {t}s");
        }
        d.sweep(40 * S, &mut out);
        assert_eq!(out, vec![0]);
        // Ejected again at once: backoff 2 -> 60s.
        for _ in 0..3 {
            d.on_result(0, false, 41 * S);
        }
        assert_eq!(d.backoff(0), 2);
        d.sweep(100 * S, &mut out);
        assert!(out.is_empty(), "59s < 60s");
        d.sweep(101 * S, &mut out);
        assert_eq!(out, vec![0]);
        // Third ejection: backoff 3 (2*30 < 60+30), but capped at max_ejection 60s.
        for _ in 0..3 {
            d.on_result(0, false, 102 * S);
        }
        assert_eq!(d.backoff(0), 3);
        d.sweep(162 * S, &mut out);
        assert_eq!(out, vec![0]);
        // Fourth: 3*30 = 90 is not < 90, so backoff stays 3.
        for _ in 0..3 {
            d.on_result(0, false, 163 * S);
        }
        assert_eq!(d.backoff(0), 3);
        d.sweep(223 * S, &mut out);
        assert_eq!(out, vec![0]);
        // Healthy sweeps lower the backoff one per sweep.
        d.sweep(233 * S, &mut out);
        d.sweep(243 * S, &mut out);
        assert_eq!(d.backoff(0), 1);
    }

    #[test]
    fn envoy_max_ejection_percent() {
        let cfg = OutlierConfig {
            consecutive_5xx: 1,
            max_ejection_percent: 50,
            ..Default::default()
        };
        let mut d = OutlierDetector::new(cfg, 4).unwrap();
        assert_eq!(d.on_result(0, false, 0), OutlierEvent::Ejected); // 0% < 50%
        assert_eq!(d.on_result(1, false, 0), OutlierEvent::Ejected); // 25% < 50%
        assert_eq!(d.on_result(2, false, 0), OutlierEvent::Overflow); // 50% is not < 50%
        assert_eq!(d.ejected_count(), 2);
        assert_eq!(d.overflows, 1);
        // Envoy's default 10% with 3 hosts: the first ejection is allowed (0% < 10%), the
        // second is not (33% >= 10%).
        let mut d = OutlierDetector::new(
            OutlierConfig {
                consecutive_5xx: 1,
                ..Default::default()
            },
            3,
        )
        .unwrap();
        assert_eq!(d.on_result(0, false, 0), OutlierEvent::Ejected);
        assert_eq!(d.on_result(1, false, 0), OutlierEvent::Overflow);
        // Zero percent never ejects.
        let mut d = OutlierDetector::new(
            OutlierConfig {
                consecutive_5xx: 1,
                max_ejection_percent: 0,
                ..Default::default()
            },
            3,
        )
        .unwrap();
        assert_eq!(d.on_result(0, false, 0), OutlierEvent::Overflow);
        assert!(OutlierDetector::new(
            OutlierConfig {
                max_ejection_percent: 101,
                ..Default::default()
            },
            3
        )
        .is_err());
    }
}
