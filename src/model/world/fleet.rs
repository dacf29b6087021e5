//! The fleet: every service's balancing state and every replica's workers, queue, admission
//! control, disk and health, in one place so that serving, balancing, faults and health checks
//! act on the same records.
//!
//! It owns the state; what changes it lives with the concern that changes it (`balance.rs`
//! picks replicas, `serve.rs` queues and serves, `faults.rs` crashes and restarts, `health.rs`
//! probes). It knows nothing of requests in flight, links or policy stacks.

use super::autoscale::{Meter, Scaler};
use super::disk::DiskState;
use super::health::ReplicaHealth;
use crate::engine::{RngStream, SimTime, Table};
use crate::model::gc::Heap;
use crate::model::mintree::{MinTree, RankSet};
use crate::model::replication::Group;
use crate::model::ring::Ring;
use crate::model::sharing::Sharing;
use crate::model::spec::*;
use crate::policy::adaptive::{AimdLimit, Gradient2Limit};
use crate::policy::autoscale::Hpa;
use crate::policy::health::OutlierDetector;
use crate::policy::queue::CoDel;
use std::cmp::Reverse;
use std::collections::BinaryHeap;

pub(super) struct ServiceState {
    pub first_replica: u32,
    /// Replicas in service now (a `Scale` fault changes it); `ServiceSpec::replicas` is the
    /// most it can reach, and every one of those has its `ReplicaState`.
    pub replicas: u32,
    pub rr_next: u32,
    /// Some health check can take replicas out of balancing: the balancer filters.
    pub checked: bool,
    pub outlier: Option<OutlierDetector>,
    /// Active-passive replication state (None: active-active).
    pub ap: Option<Box<Group>>,
    pub balancer_rng: RngStream,
    pub error_rng: RngStream,
    pub call_rng: RngStream,
    /// Its autoscaler, if it has one.
    pub scaler: Option<Box<Scaler>>,
    /// The endpoints' cumulative shares (empty with fewer than two endpoints: nothing to
    /// draw), and the stream requests naming no endpoint draw theirs from.
    pub endpoint_cum: Vec<f64>,
    pub endpoint_rng: RngStream,
    /// Least outstanding over many replicas: their counts in a tree, so a pick is O(log n)
    /// (a replica health checking leaves out of balancing counts as `u32::MAX` there).
    pub least: Option<Box<MinTree>>,
    /// Many replicas under health checks: the routable ones (ready, not ejected, available
    /// to NGINX) as a set with rank and select, so a checked pick is O(log n).
    pub routable: Option<Box<RankSet>>,
    /// NGINX makes a failed server available again by time alone: when each does (its
    /// local index), earliest first, so a pick first returns those whose time has come.
    /// Entries may be stale (the server failed again meanwhile): each is looked at again.
    pub nginx_wake: BinaryHeap<Reverse<(u64, u32)>>,
}

/// Least outstanding keeps a [`MinTree`], and checked balancing a [`RankSet`], from this many
/// replicas; below, a scan is quicker.
const INDEX_FROM: u32 = 32;

#[cfg(test)]
thread_local! {
    /// Tests build the same model with and without the indexes (u32::MAX: never).
    static INDEX_FROM_IN_TESTS: std::cell::Cell<u32> = const { std::cell::Cell::new(INDEX_FROM) };
}

/// Sets, on this thread, from how many replicas the balancing indexes are kept (u32::MAX:
/// never), for the test that compares picks with and without them (`runner.rs`).
#[cfg(test)]
pub fn set_index_from_for_tests(n: Option<u32>) {
    INDEX_FROM_IN_TESTS.with(|c| c.set(n.unwrap_or(INDEX_FROM)));
}

fn index_from() -> u32 {
    #[cfg(test)]
    return INDEX_FROM_IN_TESTS.with(|c| c.get());
    #[cfg(not(test))]
    INDEX_FROM
}

pub(super) struct ReplicaState {
    pub service: u32,
    pub index: u32,
    pub busy: u32,
    pub queue: Ring,
    pub outstanding: u32,
    /// Its service keeps outstanding counts in a tree (`ServiceState::least`).
    pub tracked: bool,
    pub service_time_rng: RngStream,
    /// Something in `health` can change how a request is served here (down, paused, stuck
    /// workers, injected errors, a slowdown, a cold start): the hot paths look at `health` only
    /// when this is set. Kept true by [`ReplicaState::refresh_impaired`] after every change.
    pub impaired: bool,
    /// A replica of an active-passive service (keeps `impaired` set: replication is checked
    /// where faults are).
    pub active_passive: bool,
    /// Its endpoints have priorities: the highest waiting is served first, and may push a
    /// lower one out of a full queue.
    pub prioritised: bool,
    /// Oldest first, no drops, no priorities: the queue's fast path.
    pub plain_fifo: bool,
    /// What only the replicas of some services have (a limiter, a disk, shared processors, a
    /// heap, CoDel, a load meter), in one box: a replica with none of it pays a pointer.
    pub extras: Extras,
    pub health: ReplicaHealth,
}

impl ReplicaState {
    /// Recomputes `impaired` from `health` (call after changing any field it summarises).
    pub fn refresh_impaired(&mut self) {
        let h = &self.health;
        let x = self.extras.0.as_deref();
        self.impaired = self.active_passive
            || x.is_some_and(|x| {
                x.disk.is_some() || x.sharing.is_some() || x.heap.is_some() || x.meter.is_some()
            })
            || h.down > 0
            || h.paused_until != SimTime::ZERO
            || h.stuck > 0
            || h.error_rate() > 0.0
            || h.slow_factor() != 1.0
            || h.warming
            || h.leak().is_some_and(|l| l.per_request_mb > 0.0);
    }
}

/// The state only some replicas have (see [`ReplicaState::extras`]); None: none of it.
#[derive(Default)]
pub(super) struct Extras(pub Option<Box<ExtraState>>);

/// Each part is there when the replica's service asks for it.
#[derive(Default)]
pub(super) struct ExtraState {
    /// Its adaptive concurrency limit (`admission.concurrency_limit`).
    pub limiter: Option<ConcurrencyLimiter>,
    /// Its disk, if the service has one (keeps `impaired` set).
    pub disk: Option<DiskState>,
    /// The requests computing together, when they share the processors or contend
    /// (`discipline: ProcessorSharing` or `contention`; keeps `impaired` set).
    pub sharing: Option<Sharing>,
    /// Its heap, when the service models garbage collection (keeps `impaired` set).
    pub heap: Option<Heap>,
    /// CoDel's state, when the service's queue discipline is `CoDel`.
    pub codel: Option<CoDel>,
    /// Its load meter, when the service is autoscaled (keeps `impaired` set).
    pub meter: Option<Meter>,
}

impl Extras {
    /// Boxes `x`, or keeps None when it holds nothing.
    fn of(x: ExtraState) -> Self {
        let empty = x.limiter.is_none()
            && x.disk.is_none()
            && x.sharing.is_none()
            && x.heap.is_none()
            && x.codel.is_none()
            && x.meter.is_none();
        Extras((!empty).then(|| Box::new(x)))
    }
    /// The state, made (empty) if the replica had none.
    pub fn make(&mut self) -> &mut ExtraState {
        self.0.get_or_insert_with(Box::default)
    }
    #[inline(always)]
    pub fn limiter(&self) -> Option<&ConcurrencyLimiter> {
        self.0.as_deref()?.limiter.as_ref()
    }
    #[inline(always)]
    pub fn limiter_mut(&mut self) -> Option<&mut ConcurrencyLimiter> {
        self.0.as_deref_mut()?.limiter.as_mut()
    }
    pub fn disk(&self) -> Option<&DiskState> {
        self.0.as_deref()?.disk.as_ref()
    }
    pub fn disk_mut(&mut self) -> Option<&mut DiskState> {
        self.0.as_deref_mut()?.disk.as_mut()
    }
    #[inline(always)]
    pub fn sharing(&self) -> Option<&Sharing> {
        self.0.as_deref()?.sharing.as_ref()
    }
    #[inline(always)]
    pub fn sharing_mut(&mut self) -> Option<&mut Sharing> {
        self.0.as_deref_mut()?.sharing.as_mut()
    }
    pub fn heap(&self) -> Option<&Heap> {
        self.0.as_deref()?.heap.as_ref()
    }
    pub fn heap_mut(&mut self) -> Option<&mut Heap> {
        self.0.as_deref_mut()?.heap.as_mut()
    }
    #[inline(always)]
    pub fn codel_mut(&mut self) -> Option<&mut CoDel> {
        self.0.as_deref_mut()?.codel.as_mut()
    }
    #[inline(always)]
    pub fn meter_mut(&mut self) -> Option<&mut Meter> {
        self.0.as_deref_mut()?.meter.as_mut()
    }
}

/// A replica's adaptive concurrency limit.
#[derive(Clone, Debug)]
pub(super) enum ConcurrencyLimiter {
    Aimd(AimdLimit),
    Gradient2(Gradient2Limit),
}

impl ConcurrencyLimiter {
    pub fn new(spec: &ConcurrencyLimitSpec) -> Self {
        // Validated when the scenario was loaded.
        match *spec {
            ConcurrencyLimitSpec::Aimd {
                initial,
                min,
                max,
                backoff_ratio,
                timeout,
            } => ConcurrencyLimiter::Aimd(
                AimdLimit::new(initial, min, max, backoff_ratio, timeout.0).expect("validated"),
            ),
            ConcurrencyLimitSpec::Gradient2 {
                initial,
                min,
                max,
                smoothing,
                long_window,
                rtt_tolerance,
                queue_size,
            } => ConcurrencyLimiter::Gradient2(
                Gradient2Limit::new(
                    initial,
                    min,
                    max,
                    smoothing,
                    long_window,
                    rtt_tolerance,
                    queue_size,
                )
                .expect("validated"),
            ),
        }
    }
    pub fn limit(&self) -> u32 {
        match self {
            ConcurrencyLimiter::Aimd(l) => l.limit(),
            ConcurrencyLimiter::Gradient2(l) => l.limit(),
        }
    }
    pub fn on_sample(&mut self, rtt_ns: u64, inflight: u32, dropped: bool) {
        match self {
            ConcurrencyLimiter::Aimd(l) => l.on_sample(rtt_ns, inflight, dropped),
            ConcurrencyLimiter::Gradient2(l) => l.on_sample(rtt_ns, inflight, dropped),
        }
    }
}

/// Services and their replicas, with scratch space for the outlier sweeps.
pub(super) struct Fleet {
    pub services: Table<ServiceState>,
    /// Every replica a service can ever run (its `replicas`), services in scenario order.
    pub replicas: Table<ReplicaState>,
    /// Scratch for outlier sweeps (hosts returned to balancing).
    pub unejected: Vec<usize>,
}

impl Fleet {
    /// Replica `r` holds one more request (`up`) or one fewer.
    #[inline(always)]
    pub fn outstanding(&mut self, r: u32, up: bool) {
        let rep = &mut self.replicas[r as usize];
        if up {
            rep.outstanding += 1;
        } else {
            rep.outstanding -= 1;
        }
        if rep.tracked {
            self.track(r);
        }
    }

    #[cold]
    #[inline(never)]
    fn track(&mut self, r: u32) {
        let rep = &self.replicas[r as usize];
        let s = &mut self.services[rep.service as usize];
        let routable = s
            .routable
            .as_ref()
            .is_none_or(|set| set.contains(rep.index as usize));
        if let Some(t) = &mut s.least {
            t.set(
                rep.index as usize,
                if routable { rep.outstanding } else { u32::MAX },
            );
        }
    }

    /// Replica `r`'s readiness, ejection or NGINX state may have changed (`spec`: its
    /// service's): brings the balancing indexes up to date at `now` (nothing to do for a
    /// service without them). NGINX availability is taken as for a group of several servers;
    /// a service scaled down to one is picked by a scan (see `balance.rs`).
    pub fn refresh_routable(&mut self, r: u32, spec: &ServiceSpec, now: SimTime) {
        let rep = &self.replicas[r as usize];
        let svc = rep.service as usize;
        if self.services[svc].routable.is_none() {
            return;
        }
        let member = self.passes_checks(spec, svc, r, now, true);
        let (rep, s) = (&self.replicas[r as usize], &mut self.services[svc]);
        let local = rep.index as usize;
        if let (Some(PassiveHealth::Nginx(cfg)), Some(n)) =
            (&spec.health.passive, rep.health.nginx())
        {
            if let Some(at) = n.available_from(cfg).filter(|_| !n.available(cfg, now.0)) {
                s.nginx_wake.push(Reverse((at, local as u32)));
            }
        }
        let changed = s
            .routable
            .as_mut()
            .is_some_and(|set| set.set(local, member));
        if changed && rep.tracked {
            self.track(r);
        }
    }

    /// NGINX servers of `svc` whose down time has passed by `now` become available again.
    pub fn wake_nginx(&mut self, svc: usize, spec: &ServiceSpec, now: SimTime) {
        let first = self.services[svc].first_replica;
        while let Some(&Reverse((at, local))) = self.services[svc].nginx_wake.peek() {
            if at > now.0 {
                break;
            }
            self.services[svc].nginx_wake.pop();
            self.refresh_routable(first + local, spec, now);
        }
    }

    /// The endpoint of service `svc` a call goes to: the one it names, else one drawn by the
    /// endpoints' shares (0 for a service with one endpoint or none).
    #[inline(always)]
    pub fn endpoint(&mut self, svc: usize, named: u8) -> u8 {
        if named != ANY_ENDPOINT {
            return named;
        }
        let s = &mut self.services[svc];
        if s.endpoint_cum.is_empty() {
            return 0;
        }
        Self::draw_endpoint(s)
    }

    #[cold]
    #[inline(never)]
    fn draw_endpoint(s: &mut ServiceState) -> u8 {
        let u = s.endpoint_rng.uniform();
        // The first whose cumulative share exceeds u; the last if rounding leaves u beyond.
        let i = s.endpoint_cum.partition_point(|&c| c <= u);
        i.min(s.endpoint_cum.len() - 1) as u8
    }

    /// Builds every service and replica with its named streams (`service:NAME` for the
    /// balancer, errors and calls; `service:NAME/replica:N` for service times, faults, probe
    /// phases and the disk).
    pub fn new(spec: &SystemSpec, seed: u64) -> Self {
        let index_from = index_from();
        let mut services = Vec::with_capacity(spec.services.len());
        let all: usize = spec.services.iter().map(|s| s.replicas as usize).sum();
        let mut replicas = Vec::with_capacity(all);
        for (si, s) in spec.services.iter().enumerate() {
            let entity = format!("service:{}", s.name);
            // Least outstanding over many replicas keeps their counts in a tree.
            let least_tree = s.balancer == Balancer::LeastOutstanding && s.replicas >= index_from;
            let outlier = match s.health.passive {
                Some(PassiveHealth::Envoy(cfg)) => {
                    Some(OutlierDetector::new(cfg, s.replicas as usize).expect("validated"))
                }
                _ => None,
            };
            services.push(ServiceState {
                first_replica: replicas.len() as u32,
                replicas: s.initial_replicas,
                rr_next: 0,
                checked: s.health.readiness.is_some() || s.health.passive.is_some(),
                outlier,
                ap: s
                    .active_passive
                    .clone()
                    .map(|a| Box::new(Group::new(a, s.replicas, seed, &s.name))),
                balancer_rng: RngStream::derive(seed, &entity, "balancer"),
                error_rng: RngStream::derive(seed, &entity, "errors"),
                call_rng: RngStream::derive(seed, &entity, "calls"),
                endpoint_cum: if s.endpoints.len() < 2 {
                    Vec::new()
                } else {
                    s.endpoints
                        .iter()
                        .scan(0.0, |acc, e| {
                            *acc += e.share;
                            Some(*acc)
                        })
                        .collect()
                },
                endpoint_rng: RngStream::derive(seed, &entity, "endpoints"),
                least: least_tree.then(|| Box::new(MinTree::new(s.replicas as usize))),
                routable: ((s.health.readiness.is_some() || s.health.passive.is_some())
                    && s.replicas >= index_from)
                    .then(|| Box::new(RankSet::full(s.replicas as usize))),
                nginx_wake: BinaryHeap::new(),
                scaler: s.autoscale.as_ref().map(|a| {
                    let hpa = Hpa::new(a.hpa.clone()).expect("validated");
                    Box::new(Scaler::new(hpa, s.initial_replicas))
                }),
            });
            for r in 0..s.replicas {
                let name = format!("{entity}/replica:{r}");
                replicas.push(ReplicaState {
                    service: si as u32,
                    index: r,
                    busy: 0,
                    // Grown as it fills (to the longest it gets, then kept): an idle replica's
                    // queue holds nothing.
                    queue: Ring::new(),
                    outstanding: 0,
                    tracked: least_tree,
                    service_time_rng: RngStream::derive(seed, &name, "service_time"),
                    impaired: s.always_impaired(),
                    active_passive: s.active_passive.is_some(),
                    prioritised: s.has_priorities(),
                    plain_fifo: s.queue == QueueDiscipline::Fifo && !s.has_priorities(),
                    extras: Extras::of(ExtraState {
                        limiter: s
                            .admission
                            .concurrency_limit
                            .as_ref()
                            .map(ConcurrencyLimiter::new),
                        disk: s.disk.as_ref().map(|d| DiskState::new(d, seed, &name)),
                        sharing: s.shares_work().then(|| {
                            let ps = s.discipline == Discipline::ProcessorSharing;
                            Sharing::new(ps.then_some(s.workers), s.contention)
                        }),
                        heap: s.gc.map(|_| Heap::default()),
                        codel: match s.queue {
                            QueueDiscipline::CoDel { target, interval } => {
                                Some(CoDel::new(target.0, interval.0))
                            }
                            _ => None,
                        },
                        meter: s.autoscale.as_ref().map(|_| Meter::default()),
                    }),
                    health: ReplicaHealth::new(s, seed, &name),
                });
            }
        }
        Fleet {
            services: services.into(),
            replicas: replicas.into(),
            unejected: Vec::new(),
        }
    }
}
#[cfg(test)]
mod tests {
    use super::*;

    /// What a replica costs before it does anything is what a model of a million replicas
    /// costs (BENCHMARKS.md, "Scale"): keep what only some replicas need in boxes.
    #[test]
    #[cfg(target_pointer_width = "64")]
    fn an_idle_replica_stays_small() {
        assert_eq!(std::mem::size_of::<RngStream>(), 16, "an unmade stream");
        let size = std::mem::size_of::<ReplicaState>();
        assert!(size <= 128, "ReplicaState grew to {size} bytes");
    }
}
