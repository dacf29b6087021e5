//! The running system: the world a scenario describes, in motion, event by event.
//!
//! [`World`] is a set of rooms, each owning its state: `requests` (the slab of requests in
//! flight, `model/request.rs`), `clients`, the `fleet` (services and replicas: workers, queues,
//! admission, disks, health), the `net` (links, partitions, bandwidth), the policy `stacks`
//! (`model/stack.rs`), the `faults` book, `caches` and `pools`. The code that changes them is
//! split by concern, one file each:
//!
//! | file | what it does |
//! |---|---|
//! | `clients.rs` | open- and closed-loop arrivals; a client's request enters its stack |
//! | `invoke.rs` | policy stacks at work: invocations, timers, retries, hedges |
//! | `network.rs` | `send` (pick a replica, take a slot) and `transmit`; `Net` decides each message |
//! | `balance.rs` | which replica gets a request (methods of `Fleet`) |
//! | `serve.rs` | deliver, queue, serve, call out, respond, and the caller learning the answer |
//! | `faults.rs` | fault windows: crash, restart, hang, slowdown, scale, config, OOM; `FaultBook` |
//! | `health.rs` | probes, outlier sweeps, passive checks; `ReplicaHealth` |
//! | `replication.rs`, `cache.rs`, `disk.rs`, `pools.rs` | optional machinery, behind one flag each |
//! | `autoscale.rs` | autoscalers: per-replica meters, syncs, replicas that start later |
//! | `reports.rs` | the figures the summary reads after the run |
//! | `event.rs` | the events, their trace kind codes, policy timer and probe codes |
//!
//! This file keeps the struct, its construction (each room builds itself) and the dispatch of
//! each event to its concern. Handlers borrow the rooms they need side by side
//! (`self.fleet.pick(self.spec.service(svc), ..)`, `self.net.carry(..)`); what one room
//! decides that concerns another comes back as a value (`Carry::Lost(cause)`: the world counts
//! the fault and frees the slot). The chains that re-enter within one event (a zero-latency
//! response completes a parent that sends its next call) stay `World` methods, in the order
//! that fixes the draws and events of a run.
//!
//! The world knows the engine (time, queue, streams), the policies and the spec; it reports
//! through [`Observer`] and knows nothing of metrics, plans of faults or reports.

mod autoscale;
mod balance;
mod cache;
mod clients;
mod disk;
mod event;
mod faults;
mod fleet;
#[cfg(test)]
pub use fleet::set_index_from_for_tests;
mod health;
mod invoke;
mod network;
mod pools;
mod rare;
mod replication;
mod reports;
mod serve;

use super::observer::Observer;
pub use autoscale::ScaleDecision;
pub use event::{kind, Event};
pub use health::HealthChange;
pub use reports::{
    AdmissionReport, AutoscaleReport, FaultReport, HealthReport, LinkReport, PolicyReport,
    PoolReport,
};

use super::request::{Requests, NO_USER};
use super::spec::*;
use super::stack::{EdgeOwner, Instance, Stacks};
use crate::engine::{EventQueue, LimitHit, Model, SimTime, Table, TraceRecord, CHECKED};
use cache::Caches;
use clients::ClientState;
use event::{probe, push_breaker_wake};
use faults::FaultBook;
use fleet::Fleet;
use network::Net;
use pools::Pools;

/// The model's own bounds.
#[derive(Clone, Copy, Debug)]
pub struct WorldLimits {
    /// Requests alive at once (in flight anywhere, including abandoned ones still being served).
    pub max_live_requests: u32,
    /// Policy counters count events from this instant on (the end of the warm-up).
    pub count_from: SimTime,
}

/// The system in motion. Create it with [`World::new`], schedule its first events with
/// [`World::start`], then hand it to [`crate::engine::run`].
pub struct World<O: Observer> {
    /// The system as specified; a configuration change (a service's `workers`) is the only
    /// thing that alters it during a run.
    spec: Spec,
    obs: O,
    /// Policy counters count from here (the warm-up's end), like the observer's figures.
    count_from: SimTime,
    requests: Requests,
    clients: Table<ClientState>,
    fleet: Fleet,
    net: Net,
    stacks: Stacks,
    faults: FaultBook,
    caches: Caches,
    pools: Pools,
    /// Balancer retries, by slot: the request's generation, how many attempts the balancer
    /// made before it and the replicas (global indices) they went to. Kept beside the slab so
    /// that requests stay small; grown only when a balancer retries, and an entry counts only
    /// while its generation is the slot's.
    tried: Vec<(u32, u8, [u32; 3])>,
    /// Some service has endpoints: without any, requests skip every endpoint lookup.
    endpoints: bool,
}

impl<O: Observer> World<O> {
    /// Builds the system's state and its random streams from `seed`. The spec must be valid
    /// (the `scenario` layer checks it); indices out of range panic here
    /// ([`SystemSpec::check_indices`]), never mid-run.
    /// Every stream is named after its entity and purpose, so the order in which the parts
    /// are built does not matter.
    pub fn new(spec: SystemSpec, seed: u64, limits: WorldLimits, obs: O) -> Self {
        if let Err(e) = spec.check_indices() {
            panic!("World::new: an invalid spec: {e}");
        }
        let mut stacks = Stacks::new(&spec, seed, limits.max_live_requests);
        let edges = stacks.edges.len();
        let net = Net::new(&spec, seed);
        for e in &mut stacks.edges {
            e.link = net.link(e.from, e.to) as u32;
        }
        World {
            obs,
            count_from: limits.count_from,
            endpoints: spec.services.iter().any(|s| !s.endpoints.is_empty()),
            requests: Requests::new(limits.max_live_requests),
            clients: spec
                .clients
                .iter()
                .map(|c| ClientState::new(c, seed))
                .collect(),
            fleet: Fleet::new(&spec, seed),
            net,
            faults: FaultBook::new(spec.faults.len()),
            caches: Caches::new(&spec, &stacks.call_edge, edges, seed, limits.count_from),
            pools: Pools::new(&spec, &stacks.call_edge, edges),
            tried: Vec::new(),
            stacks,
            spec: Spec(spec),
        }
    }

    /// Schedules every client's first request, the fault windows, the first health probes
    /// and the outlier sweeps.
    pub fn start(&mut self, q: &mut EventQueue<Event>) {
        for (i, f) in self.spec.faults.iter().enumerate() {
            if matches!(f.effect, FaultEffect::Spike { .. }) {
                continue; // folded into the client's rate steps before the run
            }
            q.push(
                f.start,
                Event::Fault {
                    index: i as u32,
                    start: true,
                },
            );
            if let Some(end) = f.end {
                q.push(
                    end,
                    Event::Fault {
                        index: i as u32,
                        start: false,
                    },
                );
            }
        }
        for r in 0..self.fleet.replicas.len() {
            let svc = self.fleet.replicas[r].service as usize;
            let health = self.spec.service(svc).health;
            for (what, cfg) in [
                (probe::READINESS, health.readiness),
                (probe::LIVENESS, health.liveness),
            ] {
                if let Some(cfg) = cfg {
                    let u = self.fleet.replicas[r]
                        .health
                        .probes()
                        .map_or(0.0, |p| p.phase[what as usize]);
                    let at = SimTime((u * cfg.period_ns as f64) as u64);
                    q.push(
                        at,
                        Event::Probe {
                            replica: r as u32,
                            what,
                            incarnation: 0,
                        },
                    );
                }
            }
        }
        for (si, s) in self.fleet.services.iter().enumerate() {
            if let Some(o) = &s.outlier {
                q.push(
                    SimTime(o.config().interval_ns),
                    Event::OutlierSweep { service: si as u32 },
                );
            }
            if let Some(g) = &s.ap {
                q.push(
                    SimTime(g.spec().heartbeat_interval.0),
                    Event::Heartbeat { service: si as u32 },
                );
            }
            if let Some(a) = &self.spec.service(si).autoscale {
                q.push(
                    SimTime(a.sync_period.0),
                    Event::Autoscale {
                        service: si as u32,
                        pods: false,
                    },
                );
            }
        }
        for ci in 0..self.spec.clients.len() {
            match &self.spec.client(ci).load {
                Load::Open { .. } => {
                    if let Some(t) = self.next_arrival(ci, SimTime::ZERO) {
                        q.push(t, Event::ClientArrival { client: ci as u32 });
                    }
                }
                Load::Closed { users, think_time } => {
                    // Each user starts after one think time, so users do not all fire at t=0.
                    for u in 0..*users {
                        let d = think_time.sample(&mut self.clients[ci].think);
                        q.push(
                            SimTime(d),
                            Event::UserWake {
                                client: ci as u32,
                                user: u,
                            },
                        );
                    }
                }
            }
        }
    }

    pub fn spec(&self) -> &SystemSpec {
        &self.spec.0
    }
    pub fn observer(&self) -> &O {
        &self.obs
    }
    pub fn into_observer(self) -> O {
        self.obs
    }
    /// Requests alive now (for end-of-run accounting).
    pub fn live_requests(&self) -> usize {
        self.requests.live()
    }

    /// Trace entities: clients first, then every replica in scenario order, then the fault
    /// windows (see [`entity_names`]).
    #[inline(always)]
    fn client_entity(&self, c: u32) -> u32 {
        c
    }
    #[inline(always)]
    fn replica_entity(&self, r: u32) -> u32 {
        self.spec.clients.len() as u32 + r
    }
    fn fault_entity(&self, index: u32) -> u32 {
        (self.spec.clients.len() + self.fleet.replicas.len()) as u32 + index
    }
}

impl<O: Observer> Model for World<O> {
    type Event = Event;

    /// A policy timer (a timeout, a backoff, a hedge, a wait's deadline) is dead once its
    /// invocation has answered: the slot is free or holds a later invocation. Dropping it
    /// then keeps a run's pending events bounded by its live work, whatever its timeouts.
    #[inline]
    fn live(&self, event: &Event) -> bool {
        match *event {
            Event::PolicyTimer { inv, gen, .. } => {
                let v = &self.stacks.invs[inv as usize];
                v.gen == gen && !v.done
            }
            _ => true,
        }
    }

    /// Routes each event to its concern and names it for the trace (kind, entity, request).
    /// The record is taken before the handler runs, as the handler may free the slot.
    #[inline(always)]
    fn handle(
        &mut self,
        now: SimTime,
        event: Event,
        q: &mut EventQueue<Event>,
    ) -> Result<TraceRecord, LimitHit> {
        self.obs.advance(now);
        let rec = |kind, entity, request| TraceRecord {
            kind,
            entity,
            request,
        };
        let r = match event {
            Event::ClientArrival { client } => {
                if let Some(t) = self.next_arrival(client as usize, now) {
                    q.push(t, Event::ClientArrival { client });
                }
                let id = self.client_send(client as usize, NO_USER, now, q)?;
                rec(kind::CLIENT_ARRIVAL, self.client_entity(client), id)
            }
            Event::UserWake { client, user } => {
                let id = self.client_send(client as usize, user, now, q)?;
                rec(kind::USER_WAKE, self.client_entity(client), id)
            }
            Event::Deliver { slot } => {
                let req = &self.requests[slot];
                let r = rec(kind::DELIVER, self.replica_entity(req.replica), req.id);
                self.deliver(slot, now, q)?;
                r
            }
            Event::ServiceDone { slot, gen } => {
                let req = &self.requests[slot];
                let r = rec(kind::SERVICE_DONE, self.replica_entity(req.replica), req.id);
                self.service_done(slot, gen, now, q)?;
                r
            }
            Event::Response { slot } => {
                let req = &self.requests[slot];
                let r = rec(kind::RESPONSE, req.caller_entity, req.id);
                self.response(slot, now, q)?;
                r
            }
            Event::PolicyTimer { inv, gen, what } => {
                let entity = self.stacks.invs[inv as usize].caller_entity;
                self.policy_timer(inv, gen, what, now, q)?;
                rec(kind::POLICY_TIMER, entity, inv as u64)
            }
            Event::Fault { index, start } => {
                self.fault_event(index as usize, start, now, q)?;
                rec(kind::FAULT, self.fault_entity(index), start as u64)
            }
            Event::Probe {
                replica,
                what,
                incarnation,
            } => {
                self.probe(replica, what, incarnation, now, q)?;
                rec(kind::PROBE, self.replica_entity(replica), what as u64)
            }
            Event::Restart { replica } => {
                self.restart(replica, now);
                rec(kind::RESTART, self.replica_entity(replica), 0)
            }
            Event::OutlierSweep { service } => {
                self.outlier_sweep(service as usize, now, q);
                let first = self.fleet.services[service as usize].first_replica;
                rec(kind::OUTLIER_SWEEP, self.replica_entity(first), 0)
            }
            Event::Heartbeat { service } => {
                self.heartbeat(service as usize, now, q);
                let first = self.fleet.services[service as usize].first_replica;
                rec(kind::HEARTBEAT, self.replica_entity(first), 0)
            }
            Event::Heap {
                replica,
                incarnation,
                oom,
            } => {
                self.heap_event(replica, incarnation, oom, now, q)?;
                rec(kind::HEAP, self.replica_entity(replica), oom as u64)
            }
            Event::ShareDone { replica, token } => {
                let id = self.share_done(replica, token, now, q)?;
                rec(kind::SHARE_DONE, self.replica_entity(replica), id)
            }
            Event::Autoscale { service, pods } => {
                if pods {
                    self.pods_start(service as usize, now);
                } else {
                    self.autoscale_sync(service as usize, now, q);
                }
                let first = self.fleet.services[service as usize].first_replica;
                rec(kind::AUTOSCALE, self.replica_entity(first), pods as u64)
            }
            Event::CacheLookup {
                parent,
                parent_gen,
                call,
            } => {
                let replica = self.requests[parent].replica;
                self.cache_answer(parent, parent_gen, call, now, q)?;
                rec(
                    kind::CACHE_LOOKUP,
                    self.replica_entity(replica),
                    call as u64,
                )
            }
            Event::BreakerWake {
                edge,
                layer,
                instance,
            } => {
                let e = &mut self.stacks.edges[edge as usize];
                let owner = e.owner;
                let l = &mut e.layers[layer as usize];
                if let Instance::Breaker(b) = &mut l.instances[instance as usize] {
                    let before = b.state();
                    b.tick(now.0);
                    if let Some(due) = l.breaker_settled(instance as usize, before, now.0) {
                        push_breaker_wake(q, due, edge, layer, instance as usize);
                    }
                }
                let entity = match owner {
                    EdgeOwner::Client(c) => c as u32,
                    EdgeOwner::Call { service, .. } => {
                        self.replica_entity(self.fleet.services[service].first_replica)
                    }
                };
                rec(
                    kind::BREAKER_WAKE,
                    entity,
                    ((edge as u64) << 32) | instance as u64,
                )
            }
        };
        if self.pools.any && !self.pools.freed.is_empty() {
            self.dispatch_pools(now, q)?;
        }
        Ok(r)
    }
}

/// Trace entity names in entity-id order: clients first, then every replica as `service/index`,
/// then the fault windows.
/// The system as specified, as the world reads it. Its clients and services never change in
/// number once [`World::new`] has checked the spec's indices (`SystemSpec::check_indices`): no
/// `DerefMut`, and one service at a time is all that can be changed ([`Spec::service_mut`],
/// a configuration change). So the world reads them at the indices its own tables hold
/// without a bounds check, under the rules of its tables (`engine::Table`): [`Spec::service`]
/// and [`Spec::client`]. Everything else reads through `Deref`.
pub(super) struct Spec(SystemSpec);

impl std::ops::Deref for Spec {
    type Target = SystemSpec;
    #[inline(always)]
    fn deref(&self) -> &SystemSpec {
        &self.0
    }
}

impl Spec {
    /// Service `i`, which the world's tables name (below the count: unchecked in release).
    #[inline(always)]
    pub fn service(&self, i: usize) -> &ServiceSpec {
        if CHECKED {
            assert!(i < self.0.services.len(), "service {i} out of range");
        }
        // SAFETY: `i` comes from the world's own tables or the checked spec, and the number
        // of services never changes (see the type's comment).
        unsafe { self.0.services.get_unchecked(i) }
    }

    /// Client `i`, as [`Spec::service`].
    #[inline(always)]
    pub fn client(&self, i: usize) -> &ClientSpec {
        if CHECKED {
            assert!(i < self.0.clients.len(), "client {i} out of range");
        }
        // SAFETY: as in `service`.
        unsafe { self.0.clients.get_unchecked(i) }
    }

    /// Service `i`, to change its configuration (checked: rare).
    pub fn service_mut(&mut self, i: usize) -> &mut ServiceSpec {
        &mut self.0.services[i]
    }
}

pub fn entity_names(spec: &SystemSpec) -> Vec<String> {
    let mut v: Vec<String> = spec.clients.iter().map(|c| c.name.clone()).collect();
    for s in &spec.services {
        for r in 0..s.replicas {
            v.push(format!("{}/{}", s.name, r));
        }
    }
    for (i, f) in spec.faults.iter().enumerate() {
        v.push(format!("fault#{i}:{}", f.label));
    }
    v
}
