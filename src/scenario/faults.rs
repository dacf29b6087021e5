//! Validation of the scenario's fault plan, its services' health checks, restart settings and
//! active-passive replication, and its SLO: raw text in, typed values out, every problem with
//! its field path.

use super::check::{unknown_name, Checker};
use super::raw::*;
use crate::engine::{SimDuration, SimTime};
use crate::faults::{FaultKind, FaultPlan, FaultRule, Timing};
use crate::model::{
    ActivePassiveSpec, Dist, Endpoint, Fencing, HealthSpec, PassiveHealth, Reads, Replication,
    RestartSpec, ServiceSpec,
};
use crate::policy::health::{NginxPassiveConfig, OutlierConfig, ProbeConfig};

/// What "back within the SLO" means for time-to-recover figures.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Slo {
    /// Share of client requests answered `ok` or `degraded` in a window.
    pub availability: f64,
    /// The window over which availability is measured, and the time series' resolution.
    pub window: SimDuration,
    /// A service breaches its SLO in a window where more than this share of its requests fail.
    pub error_rate: f64,
    /// ... or where the p99 latency of its ok requests is above this (if set).
    pub latency_p99: Option<SimDuration>,
    /// A breach that outlives every fault and load surge by this long is metastable
    /// (default: ten windows).
    pub metastable_after: SimDuration,
}

impl Default for Slo {
    fn default() -> Self {
        Slo {
            availability: 0.99,
            window: SimDuration(1_000_000_000),
            error_rate: 0.05,
            latency_p99: None,
            metastable_after: SimDuration(10_000_000_000),
        }
    }
}

pub(super) fn slo(c: &mut Checker, raw: &Option<RawSlo>) -> Slo {
    let mut s = Slo::default();
    if let Some(r) = raw {
        if let Some(a) = r.availability {
            if !(a > 0.0 && a <= 1.0) {
                c.err(
                    "slo.availability",
                    format!("a share of requests: above 0 and at most 1 (0.99 for 99%), got {a}"),
                );
            } else {
                s.availability = a;
            }
        }
        if let Some(w) = &r.window {
            if let Some(d) = c.positive_duration("slo.window", w) {
                s.window = d;
            }
        }
        if let Some(e) = r.error_rate {
            if !(0.0..1.0).contains(&e) {
                c.err(
                    "slo.error_rate",
                    format!("a share of a service's requests: at least 0 and below 1 (0.05 for 5%), got {e}"),
                );
            } else {
                s.error_rate = e;
            }
        }
        if let Some(l) = &r.latency_p99 {
            s.latency_p99 = c.positive_duration("slo.latency_p99", l);
        }
        s.metastable_after = SimDuration(s.window.0.saturating_mul(10));
        if let Some(m) = &r.metastable_after {
            if let Some(d) = c.positive_duration("slo.metastable_after", m) {
                s.metastable_after = d;
            }
        }
    }
    s
}

/// An optional duration in nanoseconds, with its default.
fn opt_ns(c: &mut Checker, path: &str, v: &Option<String>, default_ns: u64) -> u64 {
    c.opt_duration(path, v, SimDuration(default_ns)).0
}

fn probe(c: &mut Checker, p: &str, raw: &RawProbe, liveness: bool) -> Option<ProbeConfig> {
    let d = ProbeConfig::default();
    let cfg = match raw {
        RawProbe::Kubernetes {
            initial_delay,
            period,
            timeout,
            success_threshold,
            failure_threshold,
        } => ProbeConfig {
            initial_delay_ns: opt_ns(c, &format!("{p}.initial_delay"), initial_delay, 0),
            period_ns: opt_ns(c, &format!("{p}.period"), period, d.period_ns),
            timeout_ns: opt_ns(c, &format!("{p}.timeout"), timeout, d.timeout_ns),
            success_threshold: c.small(
                &format!("{p}.success_threshold"),
                *success_threshold,
                1,
                1,
                1_000_000,
                "success_threshold",
            ),
            failure_threshold: c.small(
                &format!("{p}.failure_threshold"),
                *failure_threshold,
                3,
                1,
                1_000_000,
                "failure_threshold",
            ),
        }
        .kubernetes(liveness),
        RawProbe::Nginx {
            interval,
            fails,
            passes,
            timeout,
        } => {
            if liveness {
                c.err(
                    p,
                    "NGINX health checks only take servers out of balancing; use Kubernetes(...) for a liveness probe",
                );
                return None;
            }
            ProbeConfig::nginx(
                opt_ns(c, &format!("{p}.interval"), interval, 5_000_000_000),
                c.small(&format!("{p}.fails"), *fails, 1, 1, 1_000_000, "fails"),
                c.small(&format!("{p}.passes"), *passes, 1, 1, 1_000_000, "passes"),
                opt_ns(c, &format!("{p}.timeout"), timeout, 60_000_000_000),
            )
        }
    };
    c.config(p, cfg)
}

pub(super) fn health(c: &mut Checker, p: &str, raw: &Option<RawHealth>) -> HealthSpec {
    let Some(raw) = raw else {
        return HealthSpec::default();
    };
    let readiness = raw
        .readiness
        .as_ref()
        .and_then(|r| probe(c, &format!("{p}.health.readiness"), r, false));
    let liveness = raw
        .liveness
        .as_ref()
        .and_then(|r| probe(c, &format!("{p}.health.liveness"), r, true));
    let pp = format!("{p}.health.passive");
    let passive = match &raw.passive {
        None => None,
        Some(RawPassive::Nginx {
            max_fails,
            fail_timeout,
        }) => {
            let cfg = NginxPassiveConfig {
                max_fails: c.small(
                    &format!("{pp}.max_fails"),
                    *max_fails,
                    1,
                    0,
                    1_000_000,
                    "max_fails",
                ),
                fail_timeout_ns: opt_ns(
                    c,
                    &format!("{pp}.fail_timeout"),
                    fail_timeout,
                    10_000_000_000,
                ),
            };
            c.config(&pp, cfg.validated()).map(PassiveHealth::Nginx)
        }
        Some(RawPassive::Envoy {
            consecutive_5xx,
            interval,
            base_ejection_time,
            max_ejection_time,
            max_ejection_percent,
        }) => {
            let d = OutlierConfig::default();
            let cfg = OutlierConfig {
                consecutive_5xx: c.small(
                    &format!("{pp}.consecutive_5xx"),
                    *consecutive_5xx,
                    5,
                    1,
                    1_000_000,
                    "consecutive_5xx",
                ),
                interval_ns: opt_ns(c, &format!("{pp}.interval"), interval, d.interval_ns),
                base_ejection_ns: opt_ns(
                    c,
                    &format!("{pp}.base_ejection_time"),
                    base_ejection_time,
                    d.base_ejection_ns,
                ),
                max_ejection_ns: opt_ns(
                    c,
                    &format!("{pp}.max_ejection_time"),
                    max_ejection_time,
                    d.max_ejection_ns,
                ),
                max_ejection_percent: c.small(
                    &format!("{pp}.max_ejection_percent"),
                    *max_ejection_percent,
                    10,
                    0,
                    100,
                    "max_ejection_percent",
                ),
            };
            c.config(&pp, cfg.validated()).map(PassiveHealth::Envoy)
        }
    };
    HealthSpec {
        readiness,
        liveness,
        passive,
    }
}

pub(super) fn restart(c: &mut Checker, p: &str, raw: &Option<RawRestart>) -> RestartSpec {
    let mut r = RestartSpec::default();
    let Some(raw) = raw else {
        return r;
    };
    if let Some(d) = &raw.delay {
        if let Some(d) = c.positive_duration(&format!("{p}.restart.delay"), d) {
            r.delay = d;
        }
    }
    if let Some(w) = &raw.warmup {
        if let Some(w) = c.duration(&format!("{p}.restart.warmup"), w) {
            r.warmup = w;
        }
    }
    if let Some(f) = raw.cold_factor {
        if !(f.is_finite() && (1.0..=1000.0).contains(&f)) {
            c.err(
                format!("{p}.restart.cold_factor"),
                format!("how many times slower a cold replica serves: between 1 and 1000, got {f}"),
            );
        } else {
            r.cold_factor = f;
        }
    }
    r
}

/// An active-passive service: its heartbeats, replication and fencing.
pub(super) fn active_passive(
    c: &mut Checker,
    p: &str,
    s: &RawService,
    replicas: u32,
) -> Option<ActivePassiveSpec> {
    let raw = s.active_passive.as_ref()?;
    let ap = format!("{p}.active_passive");
    if replicas < 2 {
        c.err(
            format!("{p}.replicas"),
            "an active-passive service needs a standby to fail over to: set replicas: 2 or more",
        );
    }
    if let Some(h) = &s.health {
        if h.readiness.is_some() || h.passive.is_some() {
            c.err(
                format!("{p}.health"),
                "an active-passive service routes to its primary, found by heartbeats; remove readiness and passive checks (liveness may stay)",
            );
        }
    }
    let interval = match &raw.heartbeat_interval {
        Some(t) => c
            .positive_duration(&format!("{ap}.heartbeat_interval"), t)
            .unwrap_or(SimDuration::from_secs(1)),
        None => SimDuration::from_secs(1),
    };
    let missed = c.small(
        &format!("{ap}.missed_heartbeats"),
        raw.missed_heartbeats,
        3,
        1,
        1000,
        "heartbeats",
    );
    let window = interval.0.saturating_mul(missed as u64);
    let replication = match &raw.replication {
        RawReplication::Sync { lag } => c
            .dist(&format!("{ap}.replication.lag"), lag, 0)
            .map(|lag| Replication::Sync { lag }),
        RawReplication::Async { lag } => c
            .dist(&format!("{ap}.replication.lag"), lag, 0)
            .map(|lag| Replication::Async { lag }),
    };
    let fencing = match &raw.fencing {
        None => Fencing::None,
        Some(RawFencing::Quorum { lease }) => {
            let lp = format!("{ap}.fencing.lease");
            let default = SimDuration(window - window / missed.max(1) as u64 / 2);
            let lease = match lease {
                Some(t) => c.positive_duration(&lp, t).unwrap_or(default),
                None => default,
            };
            if lease.0 >= window {
                c.err(
                    lp,
                    format!(
                        "the old primary's lease must run out before a standby takes over, so it must be shorter than heartbeat_interval x missed_heartbeats = {}",
                        crate::engine::format_duration(window)
                    ),
                );
            }
            if replicas == 2 {
                c.err(
                    format!("{ap}.fencing"),
                    "quorum fencing needs 3 or more replicas: with 2, a standby can never win a majority once the primary is gone (add a third replica as a witness)",
                );
            }
            Fencing::Quorum { lease }
        }
    };
    let write_fraction = c.probability(
        &format!("{ap}.write_fraction"),
        raw.write_fraction.unwrap_or(1.0),
    );
    let reads = match &raw.reads {
        None | Some(RawReads::Primary) => Reads::Primary,
        Some(RawReads::Standbys { max_lag }) => Reads::Standbys {
            max_lag: max_lag
                .as_ref()
                .and_then(|t| c.positive_duration(&format!("{ap}.reads.max_lag"), t)),
        },
    };
    Some(ActivePassiveSpec {
        reads,
        heartbeat_interval: interval,
        missed_heartbeats: missed,
        replication: replication?,
        fencing,
        write_fraction,
    })
}

/// The call `target` (`caller -> callee`) a cache fault names, which must have a cache (with a
/// `latency`, when the fault slows it down); `what` is what the fault does to it.
fn cached_call(
    c: &mut Checker,
    kp: &str,
    names: &Names,
    target: &str,
    what: &str,
    needs_latency: bool,
) -> (usize, usize) {
    let edge = names.call(c, kp, target);
    if let Some((s, call)) = edge {
        match &names.services[s].calls[call].cache {
            None => c.err(
                kp,
                format!("\"{target}\" has no cache to {what}; give the call one (`cache: (keys: ..., ttl: ...)`)"),
            ),
            Some(k) if needs_latency && k.latency.is_none() => c.err(
                kp,
                format!("the cache of \"{target}\" answers at once, so there is nothing to slow; give it a `latency`"),
            ),
            _ => {}
        }
    }
    edge.unwrap_or((0, 0))
}

/// Names a fault rule may use.
pub(super) struct Names<'a> {
    pub services: &'a [ServiceSpec],
    pub clients: &'a [&'a str],
    /// Each client's policy stack (its `timeout` field as the last layer).
    pub client_policies: Vec<&'a [crate::model::PolicySpec]>,
    /// Replica index of each service's first replica.
    pub first_replica: Vec<u32>,
}

impl Names<'_> {
    fn service(&self, n: &str) -> Option<usize> {
        self.services.iter().position(|s| s.name == n)
    }
    fn service_names(&self) -> Vec<&str> {
        self.services.iter().map(|s| s.name.as_str()).collect()
    }

    /// `api` (every replica) or `api/2` (one).
    fn replicas(&self, c: &mut Checker, path: &str, target: &str) -> Vec<u32> {
        let (name, index) = match target.split_once('/') {
            Some((n, i)) => (n, Some(i)),
            None => (target, None),
        };
        let Some(s) = self.service(name) else {
            c.err(
                path,
                unknown_name("service", name, &self.service_names())
                    + " (a fault target is `service` for every replica or `service/N` for one)",
            );
            return Vec::new();
        };
        let n = self.services[s].replicas;
        let first = self.first_replica[s];
        match index {
            None => (first..first + n).collect(),
            Some(i) => match i.parse::<u32>() {
                Ok(i) if i < n => vec![first + i],
                _ => {
                    c.err(
                        path,
                        format!(
                            "\"{target}\": service \"{name}\" has replicas 0 to {}; write \"{name}/0\" ... or \"{name}\" for all",
                            n - 1
                        ),
                    );
                    Vec::new()
                }
            },
        }
    }

    /// The service a global replica index belongs to, and its index within it.
    fn locate(&self, r: u32) -> (usize, u32) {
        let s = self
            .first_replica
            .iter()
            .rposition(|&f| f <= r)
            .unwrap_or(0);
        (s, r - self.first_replica[s])
    }

    /// A call edge written `caller -> callee`: the caller's index and the call's.
    fn call(&self, c: &mut Checker, path: &str, target: &str) -> Option<(usize, usize)> {
        let Some((a, b)) = target.split_once("->") else {
            c.err(
                path,
                format!("\"{target}\": write a call as `caller -> callee`"),
            );
            return None;
        };
        let (a, b) = (a.trim(), b.trim());
        let callee = b.rsplit_once('#').map_or(b, |(n, _)| n.trim());
        let (Some(s), Some(_)) = (self.service(a), self.service(b).or(self.service(callee))) else {
            c.err(
                path,
                format!("\"{target}\": write `caller -> callee` with the names of two services"),
            );
            return None;
        };
        let callees: Vec<&str> = self.services[s]
            .calls
            .iter()
            .map(|k| self.services[k.to].name.as_str())
            .collect();
        match super::check::call_of(&callees, b, a, &format!("{a} -> ")) {
            Ok(call) => Some((s, call)),
            Err(why) => {
                c.err(
                    path,
                    why.unwrap_or_else(|| format!("\"{a}\" makes no call to \"{b}\" (a call is written `caller -> callee`, the caller making it)")),
                );
                None
            }
        }
    }

    /// Disk faults need a disk: complain about the first targeted service without one.
    fn need_disk(&self, c: &mut Checker, path: &str, replicas: &[u32]) {
        for &r in replicas {
            let (s, _) = self.locate(r);
            if self.services[s].disk.is_none() {
                c.err(
                    path,
                    format!(
                        "service \"{}\" has no disk; give it one (`disk: (latency: ..., iops: ...)`)",
                        self.services[s].name
                    ),
                );
                return;
            }
        }
    }

    fn endpoint_name(&self, e: Endpoint) -> String {
        match e {
            Endpoint::Service(s) => self.services[s].name.clone(),
            Endpoint::Client(ci) => self.clients[ci].to_string(),
            Endpoint::Replica(r) => {
                let (s, i) = self.locate(r);
                format!("{}/{i}", self.services[s].name)
            }
        }
    }

    /// A partition member: a client, a service (all its replicas) or one replica `svc/N`.
    fn member(&self, c: &mut Checker, path: &str, n: &str) -> Option<Endpoint> {
        if n.contains('/') && self.service(n).is_none() {
            return self
                .replicas(c, path, n)
                .first()
                .map(|&r| Endpoint::Replica(r));
        }
        self.endpoint(c, path, n)
    }

    fn endpoint(&self, c: &mut Checker, path: &str, n: &str) -> Option<Endpoint> {
        if let Some(s) = self.service(n) {
            return Some(Endpoint::Service(s));
        }
        if let Some(ci) = self.clients.iter().position(|x| *x == n) {
            return Some(Endpoint::Client(ci));
        }
        let mut all = self.service_names();
        all.extend(self.clients.iter().copied());
        c.err(path, unknown_name("client or service", n, &all));
        None
    }
}

pub(super) fn plan(
    c: &mut Checker,
    raw: &[RawFault],
    names: &Names,
    open_loop: &[bool],
    calls: &[(Endpoint, usize)],
) -> FaultPlan {
    let mut rules = Vec::new();
    for (i, f) in raw.iter().enumerate() {
        let p = format!("faults[{i}]");
        let kp = format!("{p}.fault");
        let kind = match &f.fault {
            RawFaultKind::Crash(t) => FaultKind::Crash {
                replicas: names.replicas(c, &kp, t),
            },
            RawFaultKind::Hang(t) => FaultKind::Hang {
                replicas: names.replicas(c, &kp, t),
            },
            RawFaultKind::Slowdown { target, factor } => {
                if !(factor.is_finite() && *factor > 0.0 && *factor <= 1e6) {
                    c.err(
                        format!("{kp}.factor"),
                        format!("service times are multiplied by it: above 0 and at most 1e6, got {factor}"),
                    );
                }
                FaultKind::Slowdown {
                    replicas: names.replicas(c, &format!("{kp}.target"), target),
                    factor: *factor,
                }
            }
            RawFaultKind::Errors { target, rate } => FaultKind::Errors {
                replicas: names.replicas(c, &format!("{kp}.target"), target),
                rate: c.probability(&format!("{kp}.rate"), *rate),
            },
            RawFaultKind::Scale { service, replicas } => {
                let s = names.service(service);
                if s.is_none() {
                    c.err(
                        format!("{kp}.service"),
                        unknown_name("service", service, &names.service_names()),
                    );
                }
                if s.is_some_and(|s| names.services[s].active_passive.is_some()) {
                    c.err(
                        format!("{kp}.service"),
                        format!("\"{service}\" is active-passive: its replicas are a fixed group; scale an active-active service"),
                    );
                }
                if s.is_some_and(|s| names.services[s].autoscale.is_some()) {
                    c.err(
                        format!("{kp}.service"),
                        format!("\"{service}\" has an autoscaler, which sets its replicas: remove this fault or the service's `autoscale`"),
                    );
                }
                let n = c.small(
                    &format!("{kp}.replicas"),
                    Some(*replicas),
                    1,
                    1,
                    10_000,
                    "replicas",
                );
                FaultKind::Scale {
                    service: s.unwrap_or(0),
                    replicas: n,
                }
            }
            RawFaultKind::DiskFail(t) | RawFaultKind::DiskFull(t) => {
                let replicas = names.replicas(c, &kp, t);
                names.need_disk(c, &kp, &replicas);
                FaultKind::Disk {
                    replicas,
                    fault: if matches!(f.fault, RawFaultKind::DiskFail(_)) {
                        crate::model::DiskFault::Fail
                    } else {
                        crate::model::DiskFault::Full
                    },
                }
            }
            RawFaultKind::DiskSlow { target, factor } => {
                if !(factor.is_finite() && *factor > 0.0 && *factor <= 1e6) {
                    c.err(
                        format!("{kp}.factor"),
                        format!(
                            "I/O times are multiplied by it: above 0 and at most 1e6, got {factor}"
                        ),
                    );
                }
                let replicas = names.replicas(c, &format!("{kp}.target"), target);
                names.need_disk(c, &format!("{kp}.target"), &replicas);
                FaultKind::Disk {
                    replicas,
                    fault: crate::model::DiskFault::Slow(*factor),
                }
            }
            RawFaultKind::DiskCorrupt {
                target,
                probability,
            } => {
                let p = c.probability(&format!("{kp}.probability"), *probability);
                let replicas = names.replicas(c, &format!("{kp}.target"), target);
                names.need_disk(c, &format!("{kp}.target"), &replicas);
                FaultKind::Disk {
                    replicas,
                    fault: crate::model::DiskFault::Corrupt(p),
                }
            }
            RawFaultKind::MemoryLeak {
                target,
                per_request_mb,
                limit_mb,
            } => {
                let mut positive = |field: &str, v: f64, what: &str| {
                    if !(v.is_finite() && v > 0.0 && v <= 1e12) {
                        c.err(
                            format!("{kp}.{field}"),
                            format!("{what}: above 0 and at most 1e12, got {v}"),
                        );
                    }
                };
                positive(
                    "per_request_mb",
                    *per_request_mb,
                    "megabytes each finished request leaks",
                );
                positive(
                    "limit_mb",
                    *limit_mb,
                    "megabytes leaked when the process is killed",
                );
                FaultKind::MemoryLeak {
                    replicas: names.replicas(c, &format!("{kp}.target"), target),
                    per_request_mb: *per_request_mb,
                    limit_mb: *limit_mb,
                }
            }
            RawFaultKind::StuckWorkers { target, workers } => FaultKind::StuckWorkers {
                replicas: names.replicas(c, &format!("{kp}.target"), target),
                workers: c.small(
                    &format!("{kp}.workers"),
                    Some(*workers),
                    1,
                    1,
                    1_000_000,
                    "workers",
                ),
            },
            RawFaultKind::Partition { from, to, one_way } => {
                let mut group = |field: &str, g: &Vec<String>| {
                    if g.is_empty() {
                        c.err(
                            format!("{kp}.{field}"),
                            "list at least one client or service",
                        );
                    }
                    g.iter()
                        .enumerate()
                        .filter_map(|(j, n)| names.member(c, &format!("{kp}.{field}[{j}]"), n))
                        .collect::<Vec<_>>()
                };
                let from = group("from", from);
                let to = group("to", to);
                // The same member on both sides, or a service on one and its replica on the other.
                let covers = |a: Endpoint, b: Endpoint| match (a, b) {
                    (Endpoint::Service(s), Endpoint::Replica(r))
                    | (Endpoint::Replica(r), Endpoint::Service(s)) => {
                        let f = names.first_replica[s];
                        (f..f + names.services[s].replicas).contains(&r)
                    }
                    _ => a == b,
                };
                if let Some(e) = from.iter().find(|&&a| to.iter().any(|&b| covers(a, b))) {
                    let n = names.endpoint_name(*e);
                    c.err(
                        format!("{kp}.to"),
                        format!("\"{n}\" is on both sides of the partition"),
                    );
                }
                FaultKind::Partition {
                    from,
                    to,
                    one_way: one_way.unwrap_or(false),
                }
            }
            RawFaultKind::Degrade {
                from,
                to,
                added_latency,
                loss,
            } => {
                let fe = names.endpoint(c, &format!("{kp}.from"), from);
                let te = names.service(to);
                if te.is_none() {
                    c.err(
                        format!("{kp}.to"),
                        unknown_name("service", to, &names.service_names()),
                    );
                }
                if let (Some(fe), Some(te)) = (fe, te) {
                    if !calls.contains(&(fe, te)) {
                        c.err(
                            kp.clone(),
                            format!("no requests go from \"{from}\" to \"{to}\", so degrading that link changes nothing; degrade a link a client or a call uses"),
                        );
                    }
                }
                let added = match added_latency {
                    Some(d) => c.dist(&format!("{kp}.added_latency"), d, 0),
                    None => Some(Dist::constant_ns(0)),
                };
                FaultKind::Degrade {
                    from: fe.unwrap_or(Endpoint::Service(0)),
                    to: te.unwrap_or(0),
                    added_latency: added.unwrap_or(Dist::constant_ns(0)),
                    loss: c.probability(&format!("{kp}.loss"), loss.unwrap_or(0.0)),
                }
            }
            RawFaultKind::Config {
                target,
                timeout,
                max_attempts,
                workers,
            } => config_change(c, &kp, names, target, timeout, *max_attempts, *workers),
            RawFaultKind::FlushCache(target) => {
                let (service, call) = cached_call(c, &kp, names, target, "flush", false);
                FaultKind::FlushCache { service, call }
            }
            RawFaultKind::CacheDown(target) => {
                let (service, call) = cached_call(c, &kp, names, target, "take down", false);
                FaultKind::CacheDown { service, call }
            }
            RawFaultKind::SlowCache { target, factor } => {
                let (service, call) =
                    cached_call(c, &format!("{kp}.target"), names, target, "slow", true);
                if !(factor.is_finite() && *factor >= 1.0 && *factor <= 1e6) {
                    c.err(
                        format!("{kp}.factor"),
                        format!(
                            "how many times longer a lookup takes: from 1 to 1000000, got {factor}"
                        ),
                    );
                }
                FaultKind::SlowCache {
                    service,
                    call,
                    factor: *factor,
                }
            }
            RawFaultKind::Spike { client, multiplier } => {
                let ci = names.clients.iter().position(|n| n == client);
                match ci {
                    None => c.err(
                        format!("{kp}.client"),
                        unknown_name("client", client, names.clients),
                    ),
                    Some(ci) if !open_loop[ci] => c.err(
                        format!("{kp}.client"),
                        format!("\"{client}\" is a closed-loop client; a spike multiplies an open-loop rate (give it load: Open(...))"),
                    ),
                    _ => {}
                }
                if !(multiplier.is_finite() && *multiplier >= 0.0 && *multiplier <= 1e6) {
                    c.err(
                        format!("{kp}.multiplier"),
                        format!(
                            "the rate is multiplied by it: between 0 and 1e6, got {multiplier}"
                        ),
                    );
                }
                FaultKind::Spike {
                    client: ci.unwrap_or(0),
                    multiplier: *multiplier,
                }
            }
        };
        if let Some(timing) = timing(c, &p, f) {
            rules.push(FaultRule { timing, kind });
        }
    }
    FaultPlan { rules }
}

/// A configuration change: `target` is a client or `service -> service` (a call edge; timeout
/// and max_attempts) or a service (workers).
fn config_change(
    c: &mut Checker,
    kp: &str,
    names: &Names,
    target: &str,
    timeout: &Option<String>,
    max_attempts: Option<i64>,
    workers: Option<i64>,
) -> FaultKind {
    use crate::model::{ConfigChange, ConfigTarget, PolicySpec};
    let mut change = ConfigChange::default();
    let tp = format!("{kp}.target");
    let (resolved, policies): (Option<ConfigTarget>, Option<&[PolicySpec]>) =
        if target.contains("->") {
            match names.call(c, &tp, target) {
                Some((service, call)) => (
                    Some(ConfigTarget::Call { service, call }),
                    Some(&names.services[service].calls[call].policies[..]),
                ),
                None => (None, None),
            }
        } else if let Some(ci) = names.clients.iter().position(|n| *n == target) {
            (
                Some(ConfigTarget::Client(ci)),
                Some(names.client_policies[ci]),
            )
        } else if let Some(s) = names.service(target) {
            (Some(ConfigTarget::Service(s)), None)
        } else {
            let mut all = names.service_names();
            all.extend(names.clients.iter().copied());
            c.err(
                &tp,
                unknown_name("client or service", target, &all)
                    + " (a call edge is written `caller -> callee`)",
            );
            (None, None)
        };
    let edge = matches!(
        resolved,
        Some(ConfigTarget::Client(_) | ConfigTarget::Call { .. })
    );
    if let Some(t) = timeout {
        if let Some(d) = c.positive_duration(&format!("{kp}.timeout"), t) {
            change.timeout = Some(d);
        }
        if resolved.is_some() && !edge {
            c.err(
                format!("{kp}.timeout"),
                "a timeout belongs to a client or a call edge (`caller -> callee`), not a service",
            );
        } else if policies
            .is_some_and(|p| !p.iter().any(|l| matches!(l, PolicySpec::Timeout { .. })))
        {
            c.err(
                format!("{kp}.timeout"),
                format!("\"{target}\" has no timeout to change; give it one (`timeout: ...`) in the scenario"),
            );
        }
    }
    if let Some(a) = max_attempts {
        change.max_attempts = Some(c.small(
            &format!("{kp}.max_attempts"),
            Some(a),
            1,
            1,
            1000,
            "attempts",
        ));
        if resolved.is_some() && !edge {
            c.err(
                format!("{kp}.max_attempts"),
                "retries belong to a client or a call edge (`caller -> callee`), not a service",
            );
        } else if policies.is_some_and(|p| !p.iter().any(|l| matches!(l, PolicySpec::Retry(_)))) {
            c.err(
                format!("{kp}.max_attempts"),
                format!("\"{target}\" has no retry layer to change; give it one in its policies"),
            );
        }
    }
    if let Some(w) = workers {
        change.workers = Some(c.small(
            &format!("{kp}.workers"),
            Some(w),
            1,
            1,
            1_000_000,
            "workers",
        ));
        if resolved.is_some() && edge {
            c.err(
                format!("{kp}.workers"),
                "workers belong to a service, not to a client or a call edge",
            );
        }
    }
    if timeout.is_none() && max_attempts.is_none() && workers.is_none() {
        c.err(
            kp,
            "a config change needs something to change: timeout, max_attempts or workers",
        );
    }
    FaultKind::Config {
        target: resolved.unwrap_or(ConfigTarget::Service(0)),
        change,
    }
}

fn timing(c: &mut Checker, p: &str, f: &RawFault) -> Option<Timing> {
    let at = match &f.at {
        Some(a) => SimTime(c.duration(&format!("{p}.at"), a)?.0),
        None => SimTime::ZERO,
    };
    let random = f.time_to_failure.is_some() || f.time_to_repair.is_some();
    let periodic = f.every.is_some() || f.probability.is_some();
    if random && periodic {
        c.err(
            p,
            "give either time_to_failure and time_to_repair, or every and probability, not both",
        );
        return None;
    }
    if f.for_.is_some() && f.until.is_some() {
        c.err(format!("{p}.until"), "give `for` or `until`, not both");
        return None;
    }
    if random {
        if f.for_.is_some() || f.until.is_some() {
            c.err(
                p,
                "a random fault lasts its time_to_repair; remove `for` / `until`",
            );
            return None;
        }
        let (Some(ttf), Some(ttr)) = (&f.time_to_failure, &f.time_to_repair) else {
            c.err(
                p,
                "a random fault needs both time_to_failure and time_to_repair, e.g. time_to_failure: Exponential(mean: \"10m\"), time_to_repair: Constant(\"30s\")",
            );
            return None;
        };
        let ttf = c.dist(&format!("{p}.time_to_failure"), ttf, 0)?;
        let ttr = c.dist(&format!("{p}.time_to_repair"), ttr, 0)?;
        return Some(Timing::Random {
            from: at,
            time_to_failure: ttf,
            time_to_repair: ttr,
        });
    }
    if periodic {
        let (Some(every), Some(prob), Some(lasting)) = (&f.every, f.probability, &f.for_) else {
            c.err(
                p,
                "a periodic random fault needs every, probability and for, e.g. every: \"1m\", probability: 0.1, for: \"10s\"",
            );
            return None;
        };
        let every = c.positive_duration(&format!("{p}.every"), every)?;
        let lasting = c.positive_duration(&format!("{p}.for"), lasting)?;
        let probability = c.probability(&format!("{p}.probability"), prob);
        return Some(Timing::Periodic {
            from: at,
            every,
            probability,
            lasting,
        });
    }
    if f.at.is_none() {
        c.err(
            format!("{p}.at"),
            "a scripted fault needs `at` (when it starts), e.g. at: \"30s\"",
        );
        return None;
    }
    let end = if let Some(d) = &f.for_ {
        Some(at + c.positive_duration(&format!("{p}.for"), d)?)
    } else if let Some(u) = &f.until {
        let u = SimTime(c.duration(&format!("{p}.until"), u)?.0);
        if u <= at {
            c.err(
                format!("{p}.until"),
                format!("must be after `at` ({})", SimDuration(at.0)),
            );
            return None;
        }
        Some(u)
    } else {
        None
    };
    Some(Timing::Scripted { at, end })
}

/// The `fault_space` a search draws from: its bounds checked, the defaults filled in (starts
/// from the warm-up to the end, lengths 1 s to 30 s, at most 2 faults). Its kinds are checked by
/// [`fault_space_kinds`], once the system's names are known.
pub(super) fn fault_space(
    c: &mut Checker,
    fs: &RawFaultSpace,
    duration: Option<SimDuration>,
    warmup: Option<SimDuration>,
) -> Option<super::FaultSpace> {
    let p = "fault_space";
    if fs.faults.is_empty() {
        c.err(
            format!("{p}.faults"),
            "name at least one fault a search may draw, e.g. faults: [Crash(\"db/0\")]",
        );
    }
    let max_faults = c.count(
        &format!("{p}.max_faults"),
        fs.max_faults,
        2,
        1,
        super::MAX_SEARCH_FAULTS,
        "max_faults",
    ) as u32;
    let end = duration.unwrap_or(SimDuration(u64::MAX));
    let pair = |c: &mut Checker,
                path: String,
                v: &Option<(String, String)>,
                default: (SimDuration, SimDuration)| {
        let Some((a, b)) = v else {
            return Some(default);
        };
        let a = c.duration(&format!("{path}.0"), a)?;
        let b = c.duration(&format!("{path}.1"), b)?;
        if b < a {
            c.err(
                path,
                format!("the second value ({b}) must not be before the first ({a})"),
            );
            return None;
        }
        Some((a, b))
    };
    let window = pair(
        c,
        format!("{p}.window"),
        &fs.window,
        (warmup.unwrap_or(SimDuration::ZERO), end),
    );
    let durations = pair(
        c,
        format!("{p}.durations"),
        &fs.durations,
        (SimDuration(1_000_000_000), SimDuration(30_000_000_000)),
    );
    if let Some((_, last)) = window {
        if last >= end && fs.window.is_some() {
            c.err(
                format!("{p}.window"),
                format!("the latest start ({last}) must be before the end of the run ({end})"),
            );
        }
    }
    if let Some((lo, _)) = durations {
        if lo.0 == 0 {
            c.err(format!("{p}.durations"), "a fault lasts longer than zero");
        }
    }
    Some(super::FaultSpace {
        kinds: fs.faults.len(),
        max_faults,
        window: window.map(|(a, b)| (a, b.min(SimDuration(end.0.saturating_sub(1)))))?,
        durations: durations?,
    })
}

/// Each of a `fault_space`'s kinds checked as the scripted fault a search would write, its
/// problems named `fault_space.faults[k]`.
pub(super) fn fault_space_kinds(
    c: &mut Checker,
    fs: &RawFaultSpace,
    names: &Names,
    open_loop: &[bool],
    flows: &[(Endpoint, usize)],
) {
    let trial: Vec<RawFault> = fs
        .faults
        .iter()
        .map(|k| RawFault {
            at: Some("0s".into()),
            for_: Some("1s".into()),
            until: None,
            time_to_failure: None,
            time_to_repair: None,
            every: None,
            probability: None,
            fault: k.clone(),
        })
        .collect();
    let mut fc = Checker {
        problems: Vec::new(),
    };
    plan(&mut fc, &trial, names, open_loop, flows);
    for mut p in fc.problems {
        p.path = p.path.replacen("faults[", "fault_space.faults[", 1);
        p.path = p.path.replace("].fault", "]");
        c.problems.push(p);
    }
}
