//! The fault plan: scripted faults (at, for / until) and stochastic ones (time to failure and
//! time to repair drawn from distributions, or a probability per interval), expanded from the
//! seed into the exact list of fault windows a run will see.
//!
//! Expansion happens once, before the run, so the schedule can be printed and stored in the
//! manifest: a user sees what the seed produced. Each random rule draws from its own stream,
//! named after what it hits (`fault:crash api/1#0`), so adding a rule or a client leaves every
//! other rule's windows where they were, and scripted windows never depend on the seed.
//!
//! This module knows the model's spec types (it produces [`FaultWindow`]s for it) and nothing of
//! files or field paths: the scenario layer validates names and values before calling it. It
//! does not know what a fault does; the model does.

use crate::engine::{RngStream, SimDuration, SimTime};
use crate::model::{
    ClientId, Dist, Endpoint, FaultEffect, FaultWindow, Load, RateStep, SystemSpec,
};

/// A run expands to at most this many fault windows.
pub const MAX_WINDOWS: usize = 100_000;

/// The plan, in the order the scenario lists it.
#[derive(Clone, Debug, Default)]
pub struct FaultPlan {
    pub rules: Vec<FaultRule>,
}

/// One line of the plan.
#[derive(Clone, Debug)]
pub struct FaultRule {
    pub timing: Timing,
    pub kind: FaultKind,
}

/// When a rule's windows happen.
#[derive(Clone, Debug)]
pub enum Timing {
    /// Once, from `at`; `end` None means the kind's default (a crash restarts after the
    /// service's restart delay; other faults last to the end of the run).
    Scripted { at: SimTime, end: Option<SimTime> },
    /// Up for a time to failure, down for a time to repair, again and again, from `from`;
    /// each target draws its own times.
    Random {
        from: SimTime,
        time_to_failure: Dist,
        time_to_repair: Dist,
    },
    /// At `from`, `from + every`, ...: the fault starts with `probability`, lasting `lasting`.
    Periodic {
        from: SimTime,
        every: SimDuration,
        probability: f64,
        lasting: SimDuration,
    },
}

/// What a rule does, with its targets resolved to indices.
#[derive(Clone, Debug)]
pub enum FaultKind {
    Crash {
        replicas: Vec<u32>,
    },
    Hang {
        replicas: Vec<u32>,
    },
    Slowdown {
        replicas: Vec<u32>,
        factor: f64,
    },
    Errors {
        replicas: Vec<u32>,
        rate: f64,
    },
    StuckWorkers {
        replicas: Vec<u32>,
        workers: u32,
    },
    MemoryLeak {
        replicas: Vec<u32>,
        per_request_mb: f64,
        limit_mb: f64,
    },
    Disk {
        replicas: Vec<u32>,
        fault: crate::model::DiskFault,
    },
    Scale {
        service: usize,
        replicas: u32,
    },
    Partition {
        from: Vec<Endpoint>,
        to: Vec<Endpoint>,
        one_way: bool,
    },
    Degrade {
        from: Endpoint,
        to: usize,
        added_latency: Dist,
        loss: f64,
    },
    Spike {
        client: ClientId,
        multiplier: f64,
    },
    Config {
        target: crate::model::ConfigTarget,
        change: crate::model::ConfigChange,
    },
    FlushCache {
        service: usize,
        call: usize,
    },
    CacheDown {
        service: usize,
        call: usize,
    },
    SlowCache {
        service: usize,
        call: usize,
        factor: f64,
    },
}

/// The expansion would exceed [`MAX_WINDOWS`].
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("fault rule {rule} expands to more than {MAX_WINDOWS} windows over the run; lengthen its time_to_failure or its `every`, or shorten the run")]
pub struct TooManyWindows {
    pub rule: usize,
}

/// The service a global replica index belongs to, and its index within it.
fn locate(system: &SystemSpec, global: u32) -> (usize, u32) {
    let mut first = 0;
    for (i, s) in system.services.iter().enumerate() {
        if global < first + s.replicas {
            return (i, global - first);
        }
        first += s.replicas;
    }
    unreachable!("replica indices are validated")
}

fn replica_name(system: &SystemSpec, global: u32) -> String {
    let (s, r) = locate(system, global);
    format!("{}/{r}", system.services[s].name)
}

fn endpoint_name(system: &SystemSpec, e: Endpoint) -> String {
    match e {
        Endpoint::Client(c) => system.clients[c].name.clone(),
        Endpoint::Service(s) => system.services[s].name.clone(),
        Endpoint::Replica(r) => replica_name(system, r),
    }
}

fn group_name(system: &SystemSpec, g: &[Endpoint]) -> String {
    let names: Vec<String> = g.iter().map(|&e| endpoint_name(system, e)).collect();
    format!("[{}]", names.join(", "))
}

fn percent(x: f64) -> String {
    format!("{}%", (x * 1000.0).round() / 10.0)
}

/// One target of a rule: the effect on it and its label.
fn targets(kind: &FaultKind, system: &SystemSpec) -> Vec<(FaultEffect, String)> {
    let each =
        |replicas: &[u32], label: &dyn Fn(&str) -> String, f: &dyn Fn(u32) -> FaultEffect| {
            replicas
                .iter()
                .map(|&r| (f(r), label(&replica_name(system, r))))
                .collect::<Vec<_>>()
        };
    match kind {
        FaultKind::Crash { replicas } => each(replicas, &|n| format!("crash {n}"), &|replica| {
            FaultEffect::Crash { replica }
        }),
        FaultKind::Hang { replicas } => each(replicas, &|n| format!("hang {n}"), &|replica| {
            FaultEffect::Hang { replica }
        }),
        FaultKind::Slowdown { replicas, factor } => each(
            replicas,
            &|n| format!("slowdown x{factor} {n}"),
            &|replica| FaultEffect::Slowdown {
                replica,
                factor: *factor,
            },
        ),
        FaultKind::Errors { replicas, rate } => each(
            replicas,
            &|n| format!("errors {} {n}", percent(*rate)),
            &|replica| FaultEffect::Errors {
                replica,
                rate: *rate,
            },
        ),
        FaultKind::StuckWorkers { replicas, workers } => each(
            replicas,
            &|n| format!("stuck {workers} workers {n}"),
            &|replica| FaultEffect::StuckWorkers {
                replica,
                workers: *workers,
            },
        ),
        FaultKind::Scale { service, replicas } => vec![(
            FaultEffect::Scale {
                service: *service,
                replicas: *replicas,
            },
            format!("scale {} to {replicas}", system.services[*service].name),
        )],
        FaultKind::Disk { replicas, fault } => {
            use crate::model::DiskFault;
            let what = match fault {
                DiskFault::Fail => "disk failure".to_string(),
                DiskFault::Slow(f) => format!("slow disk x{f}"),
                DiskFault::Full => "disk full".to_string(),
                DiskFault::Corrupt(p) => format!("disk corruption {}", percent(*p)),
            };
            each(replicas, &|n| format!("{what} {n}"), &|replica| {
                FaultEffect::Disk {
                    replica,
                    fault: *fault,
                }
            })
        }
        FaultKind::MemoryLeak {
            replicas,
            per_request_mb,
            limit_mb,
        } => each(
            replicas,
            &|n| format!("memory leak {n} ({per_request_mb} MB/request, OOM at {limit_mb} MB)"),
            &|replica| FaultEffect::MemoryLeak {
                replica,
                per_request_mb: *per_request_mb,
                limit_mb: *limit_mb,
            },
        ),
        FaultKind::Partition { from, to, one_way } => vec![(
            FaultEffect::Partition {
                from: from.clone(),
                to: to.clone(),
                one_way: *one_way,
            },
            format!(
                "partition {} {} {}",
                group_name(system, from),
                if *one_way { "-/->" } else { "<-/->" },
                group_name(system, to)
            ),
        )],
        FaultKind::Degrade {
            from,
            to,
            added_latency,
            loss,
        } => vec![(
            FaultEffect::Degrade {
                from: *from,
                to: *to,
                added_latency: added_latency.clone(),
                loss: *loss,
            },
            format!(
                "degrade {} <-> {} (+{}, loss {})",
                endpoint_name(system, *from),
                system.services[*to].name,
                added_latency.describe(),
                percent(*loss)
            ),
        )],
        FaultKind::Spike { client, multiplier } => vec![(
            FaultEffect::Spike {
                client: *client,
                multiplier: *multiplier,
            },
            format!("spike x{multiplier} {}", system.clients[*client].name),
        )],
        FaultKind::FlushCache { service, call } => vec![(
            FaultEffect::FlushCache {
                service: *service,
                call: *call,
            },
            format!("flush cache {}", system.call_name(*service, *call)),
        )],
        FaultKind::CacheDown { service, call } => vec![(
            FaultEffect::CacheDown {
                service: *service,
                call: *call,
            },
            format!("cache down {}", system.call_name(*service, *call)),
        )],
        FaultKind::SlowCache {
            service,
            call,
            factor,
        } => vec![(
            FaultEffect::SlowCache {
                service: *service,
                call: *call,
                factor: *factor,
            },
            format!("slow cache x{factor} {}", system.call_name(*service, *call)),
        )],
        FaultKind::Config { target, change } => {
            use crate::model::ConfigTarget;
            let what = match *target {
                ConfigTarget::Client(c) => system.clients[c].name.clone(),
                ConfigTarget::Call { service, call } => system.call_name(service, call),
                ConfigTarget::Service(s) => system.services[s].name.clone(),
            };
            let mut set = Vec::new();
            if let Some(t) = change.timeout {
                set.push(format!("timeout {}", crate::engine::format_duration(t.0)));
            }
            if let Some(a) = change.max_attempts {
                set.push(format!("max_attempts {a}"));
            }
            if let Some(w) = change.workers {
                set.push(format!("workers {w}"));
            }
            vec![(
                FaultEffect::Config {
                    target: *target,
                    change: *change,
                },
                format!("config {what}: {}", set.join(", ")),
            )]
        }
    }
}

/// Expands `plan` over `[0, horizon)` for `seed`: every window, in plan order (within a rule,
/// target by target, in time order).
pub fn expand(
    plan: &FaultPlan,
    seed: u64,
    horizon: SimTime,
    system: &SystemSpec,
) -> Result<Vec<FaultWindow>, TooManyWindows> {
    let mut out: Vec<FaultWindow> = Vec::new();
    // Streams are named after the label, numbered among rules with the same label (a count
    // per label: scanning the labels seen made 100,000 faults take seconds).
    let mut seen: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for (ri, rule) in plan.rules.iter().enumerate() {
        for (effect, label) in targets(&rule.kind, system) {
            let count = seen.entry(label.clone()).or_insert(0);
            let k = *count;
            *count += 1;
            let mut push = |start: SimTime, end: Option<SimTime>, source: &'static str| {
                if out.len() >= MAX_WINDOWS {
                    return Err(TooManyWindows { rule: ri });
                }
                out.push(FaultWindow {
                    label: label.clone(),
                    rule: ri,
                    source,
                    effect: effect.clone(),
                    start,
                    end,
                });
                Ok(())
            };
            match &rule.timing {
                Timing::Scripted { at, end } => {
                    if *at >= horizon {
                        continue;
                    }
                    let end = end.or(match effect {
                        FaultEffect::Crash { replica } => {
                            let (svc, _) = locate(system, replica);
                            Some(*at + system.services[svc].restart.delay)
                        }
                        _ => None,
                    });
                    push(*at, end, "scripted")?;
                }
                Timing::Random {
                    from,
                    time_to_failure,
                    time_to_repair,
                } => {
                    let mut rng =
                        RngStream::derive(seed, &format!("fault:{label}#{k}"), "fault_times");
                    let mut t = *from;
                    loop {
                        // At least 1 ns up and down, so the loop always advances.
                        let up = time_to_failure.sample(&mut rng).max(1);
                        let down = time_to_repair.sample(&mut rng).max(1);
                        let start = t + SimDuration(up);
                        if start >= horizon {
                            break;
                        }
                        let end = start + SimDuration(down);
                        push(start, Some(end), "random")?;
                        t = end;
                    }
                }
                Timing::Periodic {
                    from,
                    every,
                    probability,
                    lasting,
                } => {
                    let mut rng =
                        RngStream::derive(seed, &format!("fault:{label}#{k}"), "fault_times");
                    let mut t = *from;
                    while t < horizon {
                        if rng.chance(*probability) {
                            push(t, Some(t + *lasting), "random")?;
                        }
                        t = t + *every;
                    }
                }
            }
        }
    }
    Ok(out)
}

/// Folds the spike windows of `system.faults` into their clients' rate steps: between a
/// spike's start and end, the client's rate (whatever its steps say) is multiplied.
pub fn apply_spikes(system: &mut SystemSpec) {
    for ci in 0..system.clients.len() {
        let spikes: Vec<(SimTime, Option<SimTime>, f64)> = system
            .faults
            .iter()
            .filter_map(|f| match f.effect {
                FaultEffect::Spike { client, multiplier } if client == ci => {
                    Some((f.start, f.end, multiplier))
                }
                _ => None,
            })
            .collect();
        if spikes.is_empty() {
            continue;
        }
        let Load::Open {
            rate_per_s, steps, ..
        } = &mut system.clients[ci].load
        else {
            continue; // validation allows spikes on open-loop clients only
        };
        let base_at = |t: SimTime| {
            let i = steps.partition_point(|s| s.at <= t);
            if i == 0 {
                *rate_per_s
            } else {
                steps[i - 1].rate_per_s
            }
        };
        let mut points: Vec<SimTime> = steps.iter().map(|s| s.at).collect();
        for &(start, end, _) in &spikes {
            points.push(start);
            points.extend(end);
        }
        points.sort();
        points.dedup();
        let new_steps: Vec<RateStep> = points
            .into_iter()
            .map(|t| {
                let m: f64 = spikes
                    .iter()
                    .filter(|(s, e, _)| *s <= t && e.is_none_or(|e| t < e))
                    .map(|&(_, _, m)| m)
                    .product();
                RateStep {
                    at: t,
                    rate_per_s: base_at(t) * m,
                }
            })
            .collect();
        *steps = new_steps;
    }
}

/// One line per window, for the terminal and the manifest: `crash api/1  30s -> 50s  scripted`.
pub fn describe(w: &FaultWindow) -> String {
    if w.effect.instant(w.end) {
        // A cache flush, or a change that is not undone, happens at one instant.
        return format!("{}  at {}  ({})", w.label, SimDuration(w.start.0), w.source);
    }
    let end = match w.end {
        Some(e) => format!("{}", SimDuration(e.0)),
        None => "end".to_string(),
    };
    format!(
        "{}  {} -> {}  ({})",
        w.label,
        SimDuration(w.start.0),
        end,
        w.source
    )
}
