//! Validation of a service's `autoscale`: the metric and its target, the replica bounds, the
//! sync period and start delay, and each direction's stabilization window and scaling
//! policies, with Kubernetes' defaults where a field is left out.
//!
//! It knows the raw schema and the controller's settings (`policy::autoscale`); how the
//! autoscaler runs is the model's business.

use super::check::Checker;
use super::raw::{RawAutoscale, RawScaleMetric, RawScalingPolicy, RawScalingRules, RawSelect};
use crate::engine::SimDuration;
use crate::model::spec::{AutoscaleSpec, ScaleMetric};
use crate::policy::autoscale::{
    HpaConfig, MetricKind, PolicyKind, ScalingPolicy, ScalingRules, Select,
};

/// The autoscaler of service path `p` whose `replicas` (the count it starts with) must lie
/// within its bounds; None when it has none.
pub(super) fn autoscale(
    c: &mut Checker,
    p: &str,
    raw: &Option<RawAutoscale>,
    replicas: u32,
    active_passive: bool,
) -> Option<AutoscaleSpec> {
    let a = raw.as_ref()?;
    let ap = format!("{p}.autoscale");
    if active_passive {
        c.err(
            ap.clone(),
            "an active-passive service is a fixed group of replicas: remove `autoscale` or `active_passive`",
        );
    }
    let (metric, kind, target) = match a.metric {
        RawScaleMetric::Utilization { target_percent } => {
            let t = c.count(
                &format!("{ap}.metric.target_percent"),
                Some(target_percent),
                1,
                1,
                1_000,
                "percent of the workers busy",
            );
            (
                ScaleMetric::Utilization,
                MetricKind::Utilization,
                t as f64 / 100.0,
            )
        }
        RawScaleMetric::InFlight { target } => (
            ScaleMetric::InFlight,
            MetricKind::AverageValue,
            positive(c, &format!("{ap}.metric.target"), target, "requests held"),
        ),
        RawScaleMetric::RatePerReplica { target_per_s } => (
            ScaleMetric::RatePerReplica,
            MetricKind::AverageValue,
            positive(
                c,
                &format!("{ap}.metric.target_per_s"),
                target_per_s,
                "requests per second",
            ),
        ),
    };
    let max = c.count(
        &format!("{ap}.max_replicas"),
        Some(a.max_replicas),
        1,
        1,
        10_000,
        "replicas",
    ) as u32;
    let min = c.count(
        &format!("{ap}.min_replicas"),
        a.min_replicas,
        1,
        1,
        10_000,
        "replicas",
    ) as u32;
    if min > max {
        c.err(
            format!("{ap}.min_replicas"),
            format!("{min} is above max_replicas ({max})"),
        );
    } else if !(min..=max).contains(&replicas) {
        c.err(
            format!("{p}.replicas"),
            format!("the autoscaler starts from `replicas`, which must lie within min_replicas..max_replicas ({min}..{max}), got {replicas}"),
        );
    }
    let tolerance = a.tolerance.unwrap_or(0.1);
    if !(tolerance.is_finite() && (0.0..1.0).contains(&tolerance)) {
        c.err(
            format!("{ap}.tolerance"),
            format!("a fraction of the target, from 0 up to (not including) 1, got {tolerance}"),
        );
    }
    let sync_period = match &a.sync_period {
        Some(t) => c
            .positive_duration(&format!("{ap}.sync_period"), t)
            .unwrap_or(SimDuration::from_secs(15)),
        None => SimDuration::from_secs(15),
    };
    if sync_period < SimDuration::from_millis(100) {
        c.err(
            format!("{ap}.sync_period"),
            "at least 100ms (Kubernetes syncs every 15s by default)",
        );
    }
    let start_delay = match &a.start_delay {
        Some(t) => c
            .duration(&format!("{ap}.start_delay"), t)
            .unwrap_or(SimDuration::ZERO),
        None => SimDuration::ZERO,
    };
    let scale_up = rules(
        c,
        &format!("{ap}.scale_up"),
        &a.scale_up,
        ScalingRules::default_up(),
    );
    let scale_down = rules(
        c,
        &format!("{ap}.scale_down"),
        &a.scale_down,
        ScalingRules::default_down(),
    );
    let hpa = HpaConfig {
        kind,
        target,
        min_replicas: min.min(max),
        max_replicas: max,
        tolerance: if (0.0..1.0).contains(&tolerance) {
            tolerance
        } else {
            0.1
        },
        scale_up,
        scale_down,
    };
    Some(AutoscaleSpec {
        metric,
        hpa,
        sync_period,
        start_delay,
    })
}

fn positive(c: &mut Checker, path: &str, v: f64, what: &str) -> f64 {
    if !(v.is_finite() && v > 0.0 && v <= 1e9) {
        c.err(
            path,
            format!("the target per replica, in {what}: above 0 and at most 1e9, got {v}"),
        );
        return 1.0;
    }
    v
}

/// One direction's rules; a field left out keeps Kubernetes' default for that direction.
fn rules(
    c: &mut Checker,
    p: &str,
    raw: &Option<RawScalingRules>,
    default: ScalingRules,
) -> ScalingRules {
    let Some(r) = raw else {
        return default;
    };
    let mut out = default;
    if let Some(w) = &r.stabilization_window {
        if let Some(d) = c.duration(&format!("{p}.stabilization_window"), w) {
            if d > SimDuration::from_secs(3600) {
                c.err(
                    format!("{p}.stabilization_window"),
                    format!("at most 3600s (Kubernetes' bound), got \"{w}\""),
                );
            } else {
                out.stabilization_ns = d.0;
            }
        }
    }
    if let Some(s) = r.select {
        out.select = match s {
            RawSelect::Max => Select::Max,
            RawSelect::Min => Select::Min,
            RawSelect::Disabled => Select::Disabled,
        };
    }
    if let Some(ps) = &r.policies {
        if ps.is_empty() && out.select != Select::Disabled {
            c.err(
                format!("{p}.policies"),
                "at least one policy (or `select: Disabled` to forbid scaling this way)",
            );
        }
        out.policies = ps
            .iter()
            .enumerate()
            .map(|(i, pol)| {
                let pp = format!("{p}.policies[{i}]");
                let (kind, value, period, max) = match pol {
                    RawScalingPolicy::Pods { value, period } => {
                        (PolicyKind::Pods, *value, period, 10_000)
                    }
                    RawScalingPolicy::Percent { value, period } => {
                        (PolicyKind::Percent, *value, period, 100_000)
                    }
                };
                let value = c.count(&format!("{pp}.value"), Some(value), 1, 1, max, "a change");
                let period_ns = match c.positive_duration(&format!("{pp}.period"), period) {
                    Some(d) if d <= SimDuration::from_secs(1800) => d.0,
                    Some(_) => {
                        c.err(
                            format!("{pp}.period"),
                            format!("at most 1800s (Kubernetes' bound), got \"{period}\""),
                        );
                        1
                    }
                    None => 1,
                };
                ScalingPolicy {
                    kind,
                    value: value as u32,
                    period_ns,
                }
            })
            .collect();
    }
    out
}
