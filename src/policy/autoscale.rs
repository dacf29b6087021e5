//! The Kubernetes Horizontal Pod Autoscaler's decision, as its controller makes it
//! (`pkg/controller/podautoscaler`, `autoscaling/v2` with `behavior`): the replica calculator
//! that turns per-replica readings into a desired count, then the stabilization windows and the
//! scaling policies that bound how far and how fast it may move.
//!
//! Sans-IO: the caller measures each replica and passes the readings and `now_ns` in; this
//! module keeps only the controller's memory (recent recommendations and scale events) and
//! knows nothing of replicas, probes or how the new count is carried out.
//!
//! The rules, in the order the controller applies them at each sync:
//! 1. **Replica calculator.** Readings of replicas not yet running are ignored. With `r` the
//!    mean of the ready replicas' readings over the target, `desired = ceil(r x ready)`; within
//!    `tolerance` of 1 nothing changes. When replicas have no reading yet (*missing*), or, for a
//!    utilisation metric, some are unready while `r > 1`, the ratio is computed again with the
//!    missing ones at the target (scaling down; utilisation: at `max(100 %, target)`) or at 0
//!    (scaling up) and the unready ones at 0; if that ratio is within tolerance or points the
//!    other way, nothing changes, else `desired = ceil(r' x counted)`, never against `r'`'s
//!    direction. A utilisation is compared as a whole percent (truncated), as the controller
//!    does; other metrics in thousandths.
//! 2. **Bounds.** Fewer replicas than `min_replicas` or more than `max_replicas` are brought to
//!    the bound at once (no stabilization).
//! 3. **Stabilization.** Every raw recommendation is remembered with its time. The count kept
//!    is the current one, raised to the *lowest* recommendation of the scale-up window and
//!    lowered to the *highest* of the scale-down window (each window includes the new one). So
//!    with the default 300 s scale-down window a replica count only falls to the highest
//!    recommendation of the last five minutes. The first sync records the current count.
//! 4. **Rate.** Scaling up is limited to what each policy allows over its period:
//!    `Pods(value)`: the count at the period's start plus `value`; `Percent(value)`:
//!    `ceil(start x (1 + value/100))`, where the period's start is the current count minus what
//!    was added and plus what was removed within the period; `select: Max` takes the largest
//!    limit, `Min` the smallest, `Disabled` forbids scaling that way. Scaling down likewise
//!    (`start - value`, `trunc(start x (1 - value/100))`, `Max` takes the lowest), then
//!    `max_replicas` / `min_replicas` bound the result.

use super::{config_error, ConfigError};
use std::collections::VecDeque;

/// What a scaling policy limits: replicas, or a percentage of the count at the period's start.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyKind {
    Pods,
    Percent,
}

/// At most `value` replicas (or percent) of change per `period_ns`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScalingPolicy {
    pub kind: PolicyKind,
    pub value: u32,
    pub period_ns: u64,
}

/// Which policy's limit applies when several are given.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Select {
    /// The one allowing the largest change (Kubernetes' default).
    #[default]
    Max,
    /// The one allowing the smallest change.
    Min,
    /// No scaling in this direction.
    Disabled,
}

/// The rules for one direction (`behavior.scaleUp` or `behavior.scaleDown`).
#[derive(Clone, Debug, PartialEq)]
pub struct ScalingRules {
    pub stabilization_ns: u64,
    pub policies: Vec<ScalingPolicy>,
    pub select: Select,
}

const SECOND_NS: u64 = 1_000_000_000;

impl ScalingRules {
    /// Kubernetes' scale-up default: no stabilization; double, or add 4, every 15 s, whichever
    /// is more.
    pub fn default_up() -> Self {
        ScalingRules {
            stabilization_ns: 0,
            policies: vec![
                ScalingPolicy {
                    kind: PolicyKind::Percent,
                    value: 100,
                    period_ns: 15 * SECOND_NS,
                },
                ScalingPolicy {
                    kind: PolicyKind::Pods,
                    value: 4,
                    period_ns: 15 * SECOND_NS,
                },
            ],
            select: Select::Max,
        }
    }
    /// Kubernetes' scale-down default: a 300 s stabilization window; anything down to the
    /// minimum every 15 s.
    pub fn default_down() -> Self {
        ScalingRules {
            stabilization_ns: 300 * SECOND_NS,
            policies: vec![ScalingPolicy {
                kind: PolicyKind::Percent,
                value: 100,
                period_ns: 15 * SECOND_NS,
            }],
            select: Select::Max,
        }
    }
    fn longest_period_ns(&self) -> u64 {
        self.policies.iter().map(|p| p.period_ns).max().unwrap_or(0)
    }
}

/// How a replica's reading is treated by the calculator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MetricKind {
    /// A resource utilisation (CPU): a fraction of the request, compared as a whole percent;
    /// unready replicas are set aside.
    Utilization,
    /// A per-replica value (requests in flight, requests per second): readiness does not
    /// matter, values in thousandths.
    AverageValue,
}

/// One replica's reading at a sync.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Reading {
    /// Running and ready, with its mean over the window.
    Ready(f64),
    /// Running, not (yet) ready, with its reading.
    Unready(f64),
    /// Running, no reading yet.
    Missing,
}

/// An autoscaler's fixed settings.
#[derive(Clone, Debug, PartialEq)]
pub struct HpaConfig {
    pub kind: MetricKind,
    /// The target per replica: a fraction (0.6 for 60 %) for `Utilization`, else the value.
    pub target: f64,
    pub min_replicas: u32,
    pub max_replicas: u32,
    pub tolerance: f64,
    pub scale_up: ScalingRules,
    pub scale_down: ScalingRules,
}

impl HpaConfig {
    /// Checks the settings Kubernetes' API validation would refuse.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(self.target.is_finite() && self.target > 0.0) {
            return Err(config_error("target", "must be above 0"));
        }
        if self.min_replicas == 0 || self.min_replicas > self.max_replicas {
            return Err(config_error(
                "min_replicas",
                format!(
                    "must be at least 1 and at most max_replicas ({}), got {}",
                    self.max_replicas, self.min_replicas
                ),
            ));
        }
        if !(self.tolerance.is_finite() && (0.0..1.0).contains(&self.tolerance)) {
            return Err(config_error("tolerance", "must be in [0, 1)"));
        }
        for (field, r) in [
            ("scale_up", &self.scale_up),
            ("scale_down", &self.scale_down),
        ] {
            if r.stabilization_ns > 3600 * SECOND_NS {
                return Err(config_error(field, "stabilization window: at most 3600 s"));
            }
            if r.select != Select::Disabled && r.policies.is_empty() {
                return Err(config_error(field, "needs at least one policy"));
            }
            for p in &r.policies {
                if p.value == 0 || p.period_ns == 0 || p.period_ns > 1800 * SECOND_NS {
                    return Err(config_error(
                        field,
                        "each policy needs a value above 0 and a period from 1 s to 1800 s",
                    ));
                }
            }
        }
        Ok(())
    }
}

/// The replica calculator (rule 1): the count the readings ask for, or None when no replica
/// has a usable reading (the controller then leaves the count alone).
pub fn desired_from_readings(cfg: &HpaConfig, current: u32, readings: &[Reading]) -> Option<u32> {
    let resource = cfg.kind == MetricKind::Utilization;
    // Utilisation in whole percent against an integer percent target, as the controller does;
    // other values in thousandths.
    let (scale, target) = if resource {
        (100.0, (cfg.target * 100.0).round())
    } else {
        (1000.0, (cfg.target * 1000.0).round().max(1.0))
    };
    let (mut ready, mut unready, mut missing) = (0u32, 0u32, 0u32);
    let mut sum = 0.0f64;
    for r in readings {
        match *r {
            Reading::Ready(v) => {
                ready += 1;
                sum += v;
            }
            Reading::Unready(v) if !resource => {
                ready += 1;
                sum += v;
            }
            // Set aside: the controller never averages an unready replica's reading in.
            Reading::Unready(_) => unready += 1,
            Reading::Missing => missing += 1,
        }
    }
    if ready == 0 {
        return None;
    }
    let ratio_of = |total: f64, n: u32| (total * scale / n as f64).floor() / target;
    let ratio = ratio_of(sum, ready);
    let up_with_unready = unready > 0 && ratio > 1.0;
    if !up_with_unready && missing == 0 {
        if (1.0 - ratio).abs() <= cfg.tolerance {
            return Some(current);
        }
        return Some((ratio * ready as f64).ceil() as u32);
    }
    let (mut total, mut n) = (sum, ready);
    if missing > 0 {
        if ratio < 1.0 {
            // Scaling down: a replica without a reading is taken to be at the target (a
            // utilisation at 100 % of its request, or the target if higher).
            let fallback = if resource {
                cfg.target.max(1.0)
            } else {
                cfg.target
            };
            total += fallback * missing as f64;
            n += missing;
        } else if ratio > 1.0 {
            n += missing; // at 0
        }
    }
    if up_with_unready {
        n += unready; // at 0
    }
    let new_ratio = ratio_of(total, n);
    if (1.0 - new_ratio).abs() <= cfg.tolerance
        || (ratio < 1.0 && new_ratio > 1.0)
        || (ratio > 1.0 && new_ratio < 1.0)
    {
        return Some(current);
    }
    let proposed = (new_ratio * n as f64).ceil() as u32;
    if (new_ratio < 1.0 && proposed > current) || (new_ratio > 1.0 && proposed < current) {
        return Some(current);
    }
    Some(proposed)
}

/// The controller's memory for one scaled target: recent recommendations and scale events.
#[derive(Clone, Debug)]
pub struct Hpa {
    cfg: HpaConfig,
    recommendations: VecDeque<(u64, u32)>,
    ups: VecDeque<(u64, u32)>,
    downs: VecDeque<(u64, u32)>,
    started: bool,
}

impl Hpa {
    pub fn new(cfg: HpaConfig) -> Result<Self, ConfigError> {
        cfg.validate()?;
        Ok(Hpa {
            cfg,
            recommendations: VecDeque::new(),
            ups: VecDeque::new(),
            downs: VecDeque::new(),
            started: false,
        })
    }
    pub fn config(&self) -> &HpaConfig {
        &self.cfg
    }

    /// One sync at `now_ns` with the target at `current` replicas (as requested, started or
    /// not) and the calculator's answer (`None`: no metrics). Returns the count to set.
    pub fn reconcile(&mut self, now_ns: u64, current: u32, from_metrics: Option<u32>) -> u32 {
        if !self.started {
            self.started = true;
            self.recommendations.push_back((now_ns, current));
        }
        let desired = if current > self.cfg.max_replicas {
            self.cfg.max_replicas
        } else if current < self.cfg.min_replicas {
            self.cfg.min_replicas
        } else {
            match from_metrics {
                None => current,
                Some(d) => {
                    let stable = self.stabilize(now_ns, current, d);
                    self.limit_rate(now_ns, current, stable)
                }
            }
        };
        if desired > current {
            self.ups.push_back((now_ns, desired - current));
        } else if desired < current {
            self.downs.push_back((now_ns, current - desired));
        }
        desired
    }

    /// Rule 3: clamps the current count between the lowest recent recommendation (scale-up
    /// window) and the highest (scale-down window), then remembers `desired`.
    fn stabilize(&mut self, now_ns: u64, current: u32, desired: u32) -> u32 {
        let (up_w, down_w) = (
            self.cfg.scale_up.stabilization_ns,
            self.cfg.scale_down.stabilization_ns,
        );
        // A recommendation counts while it is younger than the window (strictly after its
        // start); one older than both windows never counts again.
        let longest = up_w.max(down_w);
        while self
            .recommendations
            .front()
            .is_some_and(|&(t, _)| t + longest <= now_ns)
        {
            self.recommendations.pop_front();
        }
        let (mut up, mut down) = (desired, desired);
        for &(t, rec) in &self.recommendations {
            if t + up_w > now_ns {
                up = up.min(rec);
            }
            if t + down_w > now_ns {
                down = down.max(rec);
            }
        }
        self.recommendations.push_back((now_ns, desired));
        current.max(up).min(down)
    }

    /// Rule 4: bounds a change by the scaling policies and by min/max replicas.
    fn limit_rate(&mut self, now_ns: u64, current: u32, desired: u32) -> u32 {
        let longest = self
            .cfg
            .scale_up
            .longest_period_ns()
            .max(self.cfg.scale_down.longest_period_ns());
        for events in [&mut self.ups, &mut self.downs] {
            while events.front().is_some_and(|&(t, _)| t + longest <= now_ns) {
                events.pop_front();
            }
        }
        let changed = |events: &VecDeque<(u64, u32)>, period: u64| -> i64 {
            events
                .iter()
                .filter(|&&(t, _)| t + period > now_ns)
                .map(|&(_, n)| n as i64)
                .sum()
        };
        let start_of = |period: u64| -> i64 {
            current as i64 - changed(&self.ups, period) + changed(&self.downs, period)
        };
        let cur = current as i64;
        if desired == current {
            return desired;
        }
        let up = desired > current;
        let rules = if up {
            &self.cfg.scale_up
        } else {
            &self.cfg.scale_down
        };
        let limit = match rules.select {
            Select::Disabled => cur,
            select => {
                let proposals = rules.policies.iter().map(|p| {
                    let (start, v) = (start_of(p.period_ns), p.value as i64);
                    match (p.kind, up) {
                        (PolicyKind::Pods, true) => start + v,
                        (PolicyKind::Pods, false) => start - v,
                        (PolicyKind::Percent, true) => {
                            (start as f64 * (1.0 + v as f64 / 100.0)).ceil() as i64
                        }
                        (PolicyKind::Percent, false) => {
                            (start as f64 * (1.0 - v as f64 / 100.0)) as i64
                        }
                    }
                });
                // `Max` is the largest change: the highest count going up, the lowest down.
                if (select == Select::Max) == up {
                    proposals.max()
                } else {
                    proposals.min()
                }
                .unwrap_or(cur)
            }
        };
        if up {
            let allowed = (self.cfg.max_replicas as i64).min(limit.max(cur));
            (desired as i64).min(allowed) as u32
        } else {
            let allowed = (self.cfg.min_replicas as i64).max(limit.min(cur));
            (desired as i64).max(allowed) as u32
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = SECOND_NS;

    fn cfg(kind: MetricKind, target: f64) -> HpaConfig {
        HpaConfig {
            kind,
            target,
            min_replicas: 1,
            max_replicas: 100,
            tolerance: 0.1,
            scale_up: ScalingRules::default_up(),
            scale_down: ScalingRules::default_down(),
        }
    }

    /// The calculator: (readings, current) -> desired, each case worked by hand from
    /// `desired = ceil(current x metric / target)` and the documented missing/unready rules.
    #[test]
    fn replica_calculator_follows_the_documented_rule() {
        use Reading::*;
        let util = cfg(MetricKind::Utilization, 0.5);
        let value = cfg(MetricKind::AverageValue, 10.0);
        let cases: &[(&HpaConfig, &[Reading], u32, Option<u32>)] = &[
            // Kubernetes' own example: 200m used against a 100m target doubles.
            (&util, &[Ready(1.0), Ready(1.0)], 2, Some(4)),
            // 3 at 75 % against 50 %: ratio 1.5, ceil(4.5) = 5.
            (&util, &[Ready(0.75), Ready(0.75), Ready(0.75)], 3, Some(5)),
            // Within tolerance (52 / 50 = 1.04): no change.
            (&util, &[Ready(0.52), Ready(0.52)], 2, Some(2)),
            // Whole percent, truncated: 0.549 is 54 %, ratio 1.08, inside the tolerance...
            (&util, &[Ready(0.549)], 1, Some(1)),
            // ...while 55 % is 1.1, whose float distance from 1 exceeds 0.1 (as in the
            // controller, which compares the same doubles): ceil(1.1) = 2.
            (&util, &[Ready(0.55)], 1, Some(2)),
            // Scaling down: 4 at 10 % -> ceil(0.2 x 4) = 1.
            (&util, &[Ready(0.1); 4], 4, Some(1)),
            // Unready replicas are set aside... then counted at 0 when scaling up:
            // ready ratio 2.0 (100 % vs 50 %), with the unready one at 0: 200/3 = 66 % ->
            // 1.32 x 3 = 3.96 -> 4.
            (&util, &[Ready(1.0), Ready(1.0), Unready(0.9)], 3, Some(4)),
            // ...and ignored when scaling down: ratio 0.4 over the 2 ready -> 1.
            (&util, &[Ready(0.2), Ready(0.2), Unready(0.9)], 3, Some(1)),
            // Missing readings, scaling up: at 0. 2 ready at 150 % of the target and 2 missing:
            // (75 + 75 + 0 + 0) / 4 = 37 % -> 0.74 points the other way: no change.
            (
                &util,
                &[Ready(0.75), Ready(0.75), Missing, Missing],
                4,
                Some(4),
            ),
            // Missing, scaling down: at 100 % (above the 50 % target), ratio (20+20+100)/3 =
            // 46 % -> 0.92: within tolerance, no change.
            (&util, &[Ready(0.2), Ready(0.2), Missing], 3, Some(3)),
            // No reading at all: nothing to decide.
            (&util, &[Unready(0.5), Missing], 2, None),
            // Average values ignore readiness: (30 + 0) / 2 = 15 vs 10 -> ceil(1.5 x 2) = 3.
            (&value, &[Ready(30.0), Unready(0.0)], 2, Some(3)),
            // Missing while scaling down: at the target. (2 + 2 + 10) / 3 = 4.666 -> 0.466 x 3
            // = 1.4 -> 2.
            (&value, &[Ready(2.0), Ready(2.0), Missing], 3, Some(2)),
        ];
        for (i, &(c, readings, current, want)) in cases.iter().enumerate() {
            assert_eq!(
                desired_from_readings(c, current, readings),
                want,
                "case {i}: {readings:?} at {current}"
            );
        }
    }

    /// Runs syncs `(t_s, current, metric_desired)` and returns what each sets.
    fn run(c: HpaConfig, syncs: &[(u64, u32, u32)]) -> Vec<u32> {
        let mut h = Hpa::new(c).unwrap();
        syncs
            .iter()
            .map(|&(t, cur, d)| h.reconcile(t * S, cur, Some(d)))
            .collect()
    }

    #[test]
    fn scale_down_waits_for_the_highest_recommendation_of_the_window() {
        // 300 s window: recommendations 10 at 0 s (the initial count), then 4, 6, 3. The count
        // stays at 10 until the first sync more than 300 s after the initial record, then
        // falls to the highest of the last 300 s.
        let c = cfg(MetricKind::Utilization, 0.5);
        let got = run(
            c,
            &[
                (0, 10, 4),
                (100, 10, 6),
                (200, 10, 3),
                (300, 10, 3), // the 0 s records (10 and 4) are now older than 300 s
                (401, 6, 3),  // the 6 of 100 s has aged out: the 200 s and 300 s say 3
            ],
        );
        assert_eq!(got, vec![10, 10, 10, 6, 3]);
    }

    #[test]
    fn scale_up_is_bounded_by_the_larger_policy_per_period() {
        // Defaults: +100 % or +4 per 15 s, the larger. From 2: max(4, 6) = 6. From 6 within
        // the same 15 s: the period started at 2, so still 6. 15 s later from 6: max(12, 10).
        let c = cfg(MetricKind::Utilization, 0.5);
        let got = run(c, &[(0, 2, 50), (5, 6, 50), (15, 6, 50), (30, 12, 50)]);
        assert_eq!(got, vec![6, 6, 12, 24]);
    }

    #[test]
    fn select_min_and_disabled_and_the_bounds() {
        let mut c = cfg(MetricKind::Utilization, 0.5);
        c.scale_up.select = Select::Min; // min(+100 %, +4) from 10: 14
        c.max_replicas = 30;
        assert_eq!(run(c.clone(), &[(0, 10, 50)]), vec![14]);
        c.scale_up.select = Select::Disabled;
        assert_eq!(run(c.clone(), &[(0, 10, 50)]), vec![10]);
        // Outside the bounds the count is brought back at once, whatever the metric.
        assert_eq!(run(c.clone(), &[(0, 40, 40)]), vec![30]);
        c.min_replicas = 3;
        assert_eq!(run(c, &[(0, 1, 1)]), vec![3]);
    }

    #[test]
    fn scale_down_policies_count_from_the_period_start() {
        // Down by at most 1 pod per 60 s, no stabilization: 10 -> 9, then 9 stays within the
        // same minute, then 8 a minute after the first step.
        let mut c = cfg(MetricKind::Utilization, 0.5);
        c.scale_down = ScalingRules {
            stabilization_ns: 0,
            policies: vec![ScalingPolicy {
                kind: PolicyKind::Pods,
                value: 1,
                period_ns: 60 * S,
            }],
            select: Select::Max,
        };
        let got = run(c.clone(), &[(0, 10, 2), (30, 9, 2), (60, 9, 2), (75, 8, 2)]);
        assert_eq!(got, vec![9, 9, 8, 8]);
        // Percent truncates: 50 % of 5 -> trunc(2.5) = 2.
        c.scale_down.policies[0] = ScalingPolicy {
            kind: PolicyKind::Percent,
            value: 50,
            period_ns: 60 * S,
        };
        assert_eq!(run(c, &[(0, 5, 1)]), vec![2]);
    }

    #[test]
    fn refuses_impossible_settings() {
        let mut c = cfg(MetricKind::AverageValue, 5.0);
        c.min_replicas = 0;
        assert_eq!(Hpa::new(c.clone()).unwrap_err().field, "min_replicas");
        c.min_replicas = 200;
        assert_eq!(Hpa::new(c.clone()).unwrap_err().field, "min_replicas");
        c.min_replicas = 1;
        c.tolerance = 1.5;
        assert_eq!(Hpa::new(c).unwrap_err().field, "tolerance");
    }
}
