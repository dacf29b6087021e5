//! What the world tells the summary at the end of a run: per replica (health, admission),
//! per fault window, per policy layer instance, per active-passive service, cache, connection
//! pool and bandwidth-limited link. Read-only; called once, after the run.
//!
//! These getters only read state the other concerns own, and name things the way the summary
//! and the report print them (`caller -> callee`, `client:NAME`).

use super::autoscale::ScaleDecision;
use super::health::HealthChange;
use super::{Observer, World};
use crate::engine::SimTime;
use crate::model::cache::CacheReport;
use crate::model::replication::ReplicationReport;
use crate::model::spec::*;
use crate::model::stack::{EdgeOwner, Instance, LayerCounters, Transition};

/// A replica's health figures, for the summary.
#[derive(Clone, Debug, PartialEq)]
pub struct HealthReport {
    pub service: String,
    pub replica: u32,
    pub crashes: u64,
    pub liveness_kills: u64,
    /// Kills by the kernel when a memory leak reached its limit.
    pub oom_kills: u64,
    /// Requests refused because the process was down.
    pub refused: u64,
    /// Requests in progress reset by a crash.
    pub reset: u64,
    pub ejections: u64,
    pub changes: Vec<HealthChange>,
    pub changes_dropped: u64,
    /// Garbage collections (a service with `gc`) and the time they stopped the process.
    pub gc_collections: u64,
    pub gc_paused_ns: u64,
}

/// What a service's autoscaler did, for the summary.
#[derive(Clone, Debug, PartialEq)]
pub struct AutoscaleReport {
    pub service: String,
    pub initial: u32,
    /// The count it had asked for at the end, and the replicas in service then.
    pub requested_at_end: u32,
    pub running_at_end: u32,
    /// The most and fewest replicas it asked for.
    pub most: u32,
    pub least: u32,
    pub decisions: Vec<ScaleDecision>,
    pub decisions_dropped: u64,
}

/// What one fault window did.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultReport {
    pub label: String,
    pub source: &'static str,
    pub start: SimTime,
    pub end: Option<SimTime>,
    /// Requests the fault itself failed: reset or refused by a crash, lost in a partition or
    /// to loss, errors it injected, probes aside.
    pub requests_failed: u64,
    /// When a health check first took the faulty replica out of balancing (replica faults).
    pub detected_at: Option<SimTime>,
    /// The services it acts on directly ([`FaultEffect::services`]).
    pub targets: Vec<String>,
    /// It acts at its start only ([`FaultEffect::instant`]).
    pub instant: bool,
}

/// What a replica's admission control did, for the summary.
#[derive(Clone, Debug, PartialEq)]
pub struct AdmissionReport {
    pub service: String,
    pub replica: u32,
    pub limit_at_end: Option<u32>,
    pub shed_by_limit: u64,
    pub shed_by_queue_time: u64,
    /// Requests dropped unserved because their propagated deadline had passed.
    pub shed_expired: u64,
}

/// One policy layer instance's figures, for the summary.
#[derive(Clone, Debug)]
pub struct PolicyReport {
    /// `client:NAME` or `SERVICE -> CALLEE` (with `#i` when a service calls the same callee twice).
    pub edge: String,
    /// Position in the stack, outermost 0.
    pub layer: usize,
    pub kind: &'static str,
    /// `shared`, or the caller replica index.
    pub instance: String,
    pub counters: LayerCounters,
    pub breaker_state: Option<crate::policy::breaker::BreakerState>,
    pub transitions: Vec<Transition>,
    pub transitions_dropped: u64,
}

/// One caller replica's connection pool for one call, for the summary.
#[derive(Clone, Debug, PartialEq)]
pub struct PoolReport {
    /// `caller -> callee`.
    pub call: String,
    /// The caller replica the pool belongs to.
    pub replica: u32,
    /// The pool's size.
    pub connections: u32,
    /// Attempts that found every connection busy and waited.
    pub waited: u64,
    pub max_waiting: u32,
    /// Waiting attempts dropped unsent because their caller gave up first.
    pub abandoned: u64,
}

/// A bandwidth-limited link's figures, per direction (requests, responses).
#[derive(Clone, Debug, PartialEq)]
pub struct LinkReport {
    pub link: String,
    pub sent: [u64; 2],
    pub dropped: [u64; 2],
    pub max_wait_ns: [u64; 2],
}

impl<O: Observer> World<O> {
    /// Every replica's health figures (replicas no fault or check touched are included when
    /// their service has health checks).
    pub fn health_reports(&self) -> Vec<HealthReport> {
        self.fleet
            .replicas
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                let h = r.health.counts();
                self.fleet.services[r.service as usize].checked
                    || self
                        .spec
                        .service(r.service as usize)
                        .health
                        .liveness
                        .is_some()
                    || !h.log.is_empty()
                    || h.refused + h.reset > 0
                    || r.extras.heap().is_some()
            })
            .map(|(_, r)| {
                let h = r.health.counts();
                HealthReport {
                    service: self.spec.service(r.service as usize).name.clone(),
                    replica: r.index,
                    crashes: h.crashes,
                    liveness_kills: h.liveness_kills,
                    oom_kills: h.oom_kills,
                    refused: h.refused,
                    reset: h.reset,
                    ejections: h.ejections,
                    changes: h.log.clone(),
                    changes_dropped: h.log_dropped,
                    gc_collections: r.extras.heap().map_or(0, |g| g.collections),
                    gc_paused_ns: r.extras.heap().map_or(0, |g| g.paused_ns),
                }
            })
            .collect()
    }

    /// What each fault window of the schedule did.
    pub fn fault_reports(&self) -> Vec<FaultReport> {
        self.spec
            .faults
            .iter()
            .enumerate()
            .map(|(i, f)| FaultReport {
                label: f.label.clone(),
                source: f.source,
                start: f.start,
                end: f.end,
                requests_failed: self.faults.failed[i],
                detected_at: self.faults.detected[i],
                targets: f
                    .effect
                    .services(&self.spec)
                    .into_iter()
                    .map(|s| self.spec.service(s).name.clone())
                    .collect(),
                instant: f.effect.instant(f.end),
            })
            .collect()
    }

    /// Every replica's admission control figures (replicas without admission control omitted).
    pub fn admission_reports(&self) -> Vec<AdmissionReport> {
        self.fleet
            .replicas
            .iter()
            .filter(|r| {
                let a = &self.spec.service(r.service as usize).admission;
                a.max_queue_time.is_some()
                    || a.concurrency_limit.is_some()
                    || r.health.counts().shed_expired > 0
            })
            .map(|r| {
                let t = r.health.counts();
                AdmissionReport {
                    service: self.spec.service(r.service as usize).name.clone(),
                    replica: r.index,
                    limit_at_end: r.extras.limiter().map(|l| l.limit()),
                    shed_by_limit: t.shed_by_limit,
                    shed_by_queue_time: t.shed_by_queue_time,
                    shed_expired: t.shed_expired,
                }
            })
            .collect()
    }

    /// Every policy layer instance's figures, in edge, layer and instance order.
    pub fn policy_reports(&self) -> Vec<PolicyReport> {
        let mut out = Vec::new();
        for e in &self.stacks.edges {
            let edge = match e.owner {
                EdgeOwner::Client(c) => format!("client:{}", self.spec.client(c).name),
                EdgeOwner::Call { service, call } => self.spec.call_name(service, call),
            };
            for (li, l) in e.layers.iter().enumerate() {
                for (i, inst) in l.instances.iter().enumerate() {
                    out.push(PolicyReport {
                        edge: edge.clone(),
                        layer: li,
                        kind: l.spec.kind(),
                        instance: if l.instances.len() == 1 {
                            "shared".to_string()
                        } else {
                            i.to_string()
                        },
                        counters: l.counters[i],
                        breaker_state: match inst {
                            Instance::Breaker(b) => Some(b.state()),
                            _ => None,
                        },
                        transitions: l.transitions[i].clone(),
                        transitions_dropped: l.transitions_dropped[i],
                    });
                }
            }
        }
        out
    }

    /// The replication figures of each active-passive service, at `end`.
    pub fn replication_reports(&self, end: SimTime) -> Vec<(String, ReplicationReport)> {
        self.fleet
            .services
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                s.ap.as_ref()
                    .map(|g| (self.spec.service(i).name.clone(), g.report(end)))
            })
            .collect()
    }

    /// Each autoscaled service's autoscaler: what it decided and where it ended.
    pub fn autoscale_reports(&self) -> Vec<AutoscaleReport> {
        self.fleet
            .services
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                let sc = s.scaler.as_deref()?;
                Some(AutoscaleReport {
                    service: self.spec.service(i).name.clone(),
                    initial: self.spec.service(i).initial_replicas,
                    requested_at_end: sc.requested,
                    running_at_end: s.replicas,
                    most: sc.most,
                    least: sc.least,
                    decisions: sc.decisions.clone(),
                    decisions_dropped: sc.decisions_dropped,
                })
            })
            .collect()
    }

    /// Each cache's figures, labelled `caller -> callee`.
    pub fn cache_reports(&self) -> Vec<(String, CacheReport)> {
        let mut out = Vec::new();
        for (si, s) in self.spec.services.iter().enumerate() {
            for i in 0..s.calls.len() {
                if let Some(c) = &self.caches.by_edge[self.stacks.call_edge[si][i] as usize] {
                    out.push((self.spec.call_name(si, i), c.report));
                }
            }
        }
        out
    }

    /// Each pooled call's figures, per caller replica.
    pub fn pool_reports(&self) -> Vec<PoolReport> {
        let mut out = Vec::new();
        for (si, s) in self.spec.services.iter().enumerate() {
            for i in 0..s.calls.len() {
                let Some(base) = self.pools.of(self.stacks.call_edge[si][i], 0) else {
                    continue;
                };
                for r in 0..s.replicas {
                    let p = &self.pools.all[(base + r) as usize];
                    out.push(PoolReport {
                        call: self.spec.call_name(si, i),
                        replica: r,
                        connections: p.size,
                        waited: p.waited,
                        max_waiting: p.max_waiting,
                        abandoned: p.abandoned,
                    });
                }
            }
        }
        out
    }

    /// Each bandwidth-limited link: `from -> to`, then per direction (requests, responses):
    /// messages sent, dropped at the buffer, longest wait to start (ns). Counted over the run.
    pub fn link_reports(&self) -> Vec<LinkReport> {
        self.net
            .links
            .iter()
            .filter(|l| l.bandwidth.is_some())
            .map(|l| {
                let from = match l.from {
                    Endpoint::Client(c) => self.spec.client(c).name.clone(),
                    Endpoint::Service(s) => self.spec.service(s).name.clone(),
                    Endpoint::Replica(r) => format!("replica {r}"),
                };
                LinkReport {
                    link: format!("{from} -> {}", self.spec.service(l.to).name),
                    sent: l.sent,
                    dropped: l.dropped,
                    max_wait_ns: l.max_wait_ns,
                }
            })
            .collect()
    }
}
