//! The running system: per-replica queues and workers, load balancers, requests in flight,
//! calls, timeouts and links, driven event by event.
//!
//! Requests live in a slab (`slots`) reused through a free list, so steady-state running
//! allocates nothing per request or per event. A slot is freed when its response reaches the
//! caller; a caller that timed out first marks the slot abandoned and the late response frees it.
//! Slot generations make stale timeouts and orphaned children harmless.

use super::dist::Dist;
use super::spec::*;
use crate::engine::{EventQueue, LimitHit, Model, RngStream, SimDuration, SimTime, TraceRecord};
pub use crate::policy::{Outcome, OUTCOMES};
use std::collections::VecDeque;

/// Where the model reports what happened. The `metrics` layer implements it; every method has
/// the time of the observation, and the observer decides what to keep (warm-up, windows).
pub trait Observer {
    /// A client produced a request (open loop: an arrival, including ones it then rejects).
    fn client_sent(&mut self, client: ClientId, now: SimTime);
    /// A client learned the outcome of a request it sent at `sent_at`.
    fn client_done(&mut self, client: ClientId, outcome: Outcome, sent_at: SimTime, now: SimTime);
    /// A client's number of outstanding requests changed.
    fn client_in_flight(&mut self, client: ClientId, in_flight: u32, now: SimTime);
    /// A request reached a replica of `service`.
    fn service_arrival(&mut self, service: ServiceId, now: SimTime);
    /// A replica of `service` sent its response. `started_at` equals `now` for requests that
    /// never got a worker (overloaded).
    fn service_done(
        &mut self,
        service: ServiceId,
        outcome: Outcome,
        arrived_at: SimTime,
        started_at: SimTime,
        now: SimTime,
    );
    /// The busy workers or queue length of a replica changed.
    fn replica_level(
        &mut self,
        service: ServiceId,
        replica: u32,
        busy: u32,
        queued: u32,
        now: SimTime,
    );
    /// The caller of call `call` of `service` learned its outcome.
    fn call_done(
        &mut self,
        service: ServiceId,
        call: usize,
        outcome: Outcome,
        sent_at: SimTime,
        now: SimTime,
    );
}

/// The model's own bounds.
#[derive(Clone, Copy, Debug)]
pub struct WorldLimits {
    /// Requests alive at once (in flight anywhere, including abandoned ones still being served).
    pub max_live_requests: u32,
}

/// The closed set of events the model schedules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The next open-loop arrival of a client.
    ClientArrival { client: u32 },
    /// A closed-loop user finished thinking and sends a request.
    UserWake { client: u32, user: u32 },
    /// A request reaches its replica.
    Deliver { slot: u32 },
    /// A worker finished a request's service time.
    ServiceDone { slot: u32 },
    /// A response reaches its caller.
    Response { slot: u32 },
    /// A caller's deadline for a request.
    Timeout { slot: u32, gen: u32 },
}

/// Trace kind codes: stable, part of the trace hash.
pub mod kind {
    pub const CLIENT_ARRIVAL: u8 = 1;
    pub const USER_WAKE: u8 = 2;
    pub const DELIVER: u8 = 3;
    pub const SERVICE_DONE: u8 = 4;
    pub const RESPONSE: u8 = 5;
    pub const TIMEOUT: u8 = 6;
    pub const NAMES: [&str; 7] = [
        "",
        "client_arrival",
        "user_wake",
        "deliver",
        "service_done",
        "response",
        "timeout",
    ];
}

const NO_USER: u32 = u32::MAX;
const NO_LINK: u32 = u32::MAX;

#[derive(Clone, Copy, Debug)]
enum Caller {
    Client {
        client: u32,
        user: u32,
    },
    Call {
        parent: u32,
        parent_gen: u32,
        call: u16,
    },
}

#[derive(Clone, Copy, Debug)]
struct Req {
    id: u64,
    gen: u32,
    service: u32,
    /// Global replica index.
    replica: u32,
    /// Endpoint index of the caller (clients first, then services).
    from: u32,
    /// Trace entity of the caller (a client, or the replica serving the parent request).
    caller_entity: u32,
    caller: Caller,
    sent_at: SimTime,
    arrived_at: SimTime,
    started_at: SimTime,
    next_call: u16,
    pending: u16,
    status: Outcome,
    server_done: bool,
    caller_done: bool,
}

impl Default for Req {
    fn default() -> Self {
        Req {
            id: 0,
            gen: 0,
            service: 0,
            replica: 0,
            from: 0,
            caller_entity: 0,
            caller: Caller::Client {
                client: 0,
                user: NO_USER,
            },
            sent_at: SimTime::ZERO,
            arrived_at: SimTime::ZERO,
            started_at: SimTime::ZERO,
            next_call: 0,
            pending: 0,
            status: Outcome::Ok,
            server_done: false,
            caller_done: false,
        }
    }
}

struct ClientState {
    arrivals: RngStream,
    think: RngStream,
    in_flight: u32,
}

struct ServiceState {
    first_replica: u32,
    replicas: u32,
    rr_next: u32,
    balancer_rng: RngStream,
    error_rng: RngStream,
    call_rng: RngStream,
}

struct ReplicaState {
    service: u32,
    index: u32,
    busy: u32,
    queue: VecDeque<u32>,
    outstanding: u32,
    service_time_rng: RngStream,
}

struct LinkState {
    latency: Dist,
    zero: bool,
    rng: RngStream,
}

/// The system in motion. Create it with [`World::new`], schedule its first events with
/// [`World::start`], then hand it to [`crate::engine::run`].
pub struct World<O: Observer> {
    spec: SystemSpec,
    obs: O,
    clients: Vec<ClientState>,
    services: Vec<ServiceState>,
    replicas: Vec<ReplicaState>,
    links: Vec<LinkState>,
    /// `link_of[from_endpoint * services + to]`: index into `links`.
    link_of: Vec<u32>,
    slots: Vec<Req>,
    free: Vec<u32>,
    limits: WorldLimits,
    next_request_id: u64,
}

fn endpoint_name(spec: &SystemSpec, e: Endpoint) -> String {
    match e {
        Endpoint::Client(c) => format!("client:{}", spec.clients[c].name),
        Endpoint::Service(s) => format!("service:{}", spec.services[s].name),
    }
}

impl<O: Observer> World<O> {
    /// Builds the system's state and its random streams from `seed`. The spec must be valid
    /// (the `scenario` layer checks it); indices out of range panic here, never mid-run.
    pub fn new(spec: SystemSpec, seed: u64, limits: WorldLimits, obs: O) -> Self {
        let n_clients = spec.clients.len();
        let n_services = spec.services.len();
        let clients = spec
            .clients
            .iter()
            .map(|c| {
                let entity = format!("client:{}", c.name);
                ClientState {
                    arrivals: RngStream::derive(seed, &entity, "arrivals"),
                    think: RngStream::derive(seed, &entity, "think_time"),
                    in_flight: 0,
                }
            })
            .collect();
        let mut services = Vec::with_capacity(n_services);
        let mut replicas = Vec::new();
        for (si, s) in spec.services.iter().enumerate() {
            let entity = format!("service:{}", s.name);
            services.push(ServiceState {
                first_replica: replicas.len() as u32,
                replicas: s.replicas,
                rr_next: 0,
                balancer_rng: RngStream::derive(seed, &entity, "balancer"),
                error_rng: RngStream::derive(seed, &entity, "errors"),
                call_rng: RngStream::derive(seed, &entity, "calls"),
            });
            for r in 0..s.replicas {
                replicas.push(ReplicaState {
                    service: si as u32,
                    index: r,
                    busy: 0,
                    queue: VecDeque::with_capacity((s.queue_capacity as usize).min(4096)),
                    outstanding: 0,
                    service_time_rng: RngStream::derive(
                        seed,
                        &format!("{entity}/replica:{r}"),
                        "service_time",
                    ),
                });
            }
        }
        // Every edge that can carry a request gets its own link state and stream, named after
        // its two ends, whether or not the scenario lists it.
        let mut edges: Vec<(Endpoint, ServiceId)> = Vec::new();
        for (ci, c) in spec.clients.iter().enumerate() {
            edges.push((Endpoint::Client(ci), c.target));
        }
        for (si, s) in spec.services.iter().enumerate() {
            for call in &s.calls {
                edges.push((Endpoint::Service(si), call.to));
            }
        }
        edges.sort();
        edges.dedup();
        let mut link_of = vec![NO_LINK; (n_clients + n_services) * n_services];
        let mut links = Vec::with_capacity(edges.len());
        for (from, to) in edges {
            let latency = spec
                .links
                .iter()
                .find(|l| l.from == from && l.to == to)
                .map(|l| l.latency.clone())
                .unwrap_or_else(|| spec.default_link_latency.clone());
            let name = format!(
                "link:{}->{}",
                endpoint_name(&spec, from),
                endpoint_name(&spec, Endpoint::Service(to))
            );
            let from_index = match from {
                Endpoint::Client(c) => c,
                Endpoint::Service(s) => n_clients + s,
            };
            link_of[from_index * n_services + to] = links.len() as u32;
            links.push(LinkState {
                zero: latency.is_zero(),
                latency,
                rng: RngStream::derive(seed, &name, "latency"),
            });
        }
        World {
            spec,
            obs,
            clients,
            services,
            replicas,
            links,
            link_of,
            slots: Vec::with_capacity(1024),
            free: Vec::with_capacity(1024),
            limits,
            next_request_id: 1,
        }
    }

    /// Schedules every client's first request.
    pub fn start(&mut self, q: &mut EventQueue<Event>) {
        for ci in 0..self.spec.clients.len() {
            match &self.spec.clients[ci].load {
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
        &self.spec
    }
    pub fn observer(&self) -> &O {
        &self.obs
    }
    pub fn into_observer(self) -> O {
        self.obs
    }
    /// Requests alive now (for end-of-run accounting).
    pub fn live_requests(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    fn client_entity(&self, c: u32) -> u32 {
        c
    }
    fn replica_entity(&self, r: u32) -> u32 {
        self.spec.clients.len() as u32 + r
    }

    /// The next open-loop arrival after `now`, honouring rate steps. A Poisson gap that would
    /// cross a step is redrawn from the step at the new rate, which is exact for a piecewise-
    /// constant Poisson process because exponential gaps are memoryless.
    fn next_arrival(&mut self, ci: usize, now: SimTime) -> Option<SimTime> {
        let Load::Open {
            arrivals,
            rate_per_s,
            steps,
        } = &self.spec.clients[ci].load
        else {
            return None;
        };
        let rng = &mut self.clients[ci].arrivals;
        let mut t = now;
        loop {
            let idx = steps.partition_point(|s| s.at <= t);
            let rate = if idx == 0 {
                *rate_per_s
            } else {
                steps[idx - 1].rate_per_s
            };
            let next_step = steps.get(idx).map(|s| s.at);
            if rate <= 0.0 {
                t = next_step?;
                continue;
            }
            let gap_ns = match arrivals {
                Arrivals::Poisson => -(1e9 / rate) * rng.uniform_open0().ln(),
                Arrivals::Constant => 1e9 / rate,
            };
            let cand = t + SimDuration((gap_ns + 0.5).max(1.0) as u64);
            match next_step {
                Some(b) if cand > b => t = b,
                _ => return Some(cand),
            }
        }
    }

    fn alloc(&mut self, now: SimTime) -> Result<u32, LimitHit> {
        if let Some(s) = self.free.pop() {
            return Ok(s);
        }
        if self.slots.len() as u64 >= self.limits.max_live_requests as u64 {
            return Err(LimitHit {
                limit: "max_live_requests",
                value: self.limits.max_live_requests as u64,
                at_ns: now.0,
                how_to_raise: "raise limits.max_live_requests in the scenario (each costs about 80 bytes), or bound the load: clients' max_in_flight, timeouts, queue capacities",
            });
        }
        self.slots.push(Req::default());
        Ok((self.slots.len() - 1) as u32)
    }

    fn release(&mut self, slot: u32) {
        let r = &mut self.slots[slot as usize];
        r.gen = r.gen.wrapping_add(1);
        self.free.push(slot);
    }

    fn pick_replica(&mut self, svc: usize) -> u32 {
        let s = &mut self.services[svc];
        let n = s.replicas;
        let first = s.first_replica;
        if n == 1 {
            return first;
        }
        let local = match self.spec.services[svc].balancer {
            Balancer::RoundRobin => {
                let i = s.rr_next;
                s.rr_next = (i + 1) % n;
                i
            }
            Balancer::Random => s.balancer_rng.below(n as u64) as u32,
            Balancer::LeastOutstanding => {
                // Scan from a rotating start so ties spread instead of piling on replica 0.
                let start = s.rr_next;
                s.rr_next = (start + 1) % n;
                let mut best = start;
                let mut best_load = u32::MAX;
                for k in 0..n {
                    let i = (start + k) % n;
                    let load = self.replicas[(first + i) as usize].outstanding;
                    if load < best_load {
                        best = i;
                        best_load = load;
                    }
                }
                best
            }
            Balancer::PowerOfTwoChoices => {
                let a = s.balancer_rng.below(n as u64) as u32;
                let mut b = s.balancer_rng.below(n as u64 - 1) as u32;
                if b >= a {
                    b += 1;
                }
                let la = self.replicas[(first + a) as usize].outstanding;
                let lb = self.replicas[(first + b) as usize].outstanding;
                if lb < la {
                    b
                } else {
                    a
                }
            }
        };
        first + local
    }

    /// Sends a request from endpoint `from` to service `svc`.
    #[allow(clippy::too_many_arguments)]
    fn send(
        &mut self,
        caller: Caller,
        from: u32,
        svc: usize,
        timeout: Option<SimDuration>,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<u32, LimitHit> {
        let caller_entity = match caller {
            Caller::Client { client, .. } => self.client_entity(client),
            Caller::Call { parent, .. } => self.replica_entity(self.slots[parent as usize].replica),
        };
        let replica = self.pick_replica(svc);
        self.replicas[replica as usize].outstanding += 1;
        let slot = self.alloc(now)?;
        let id = self.next_request_id;
        self.next_request_id += 1;
        let r = &mut self.slots[slot as usize];
        let gen = r.gen;
        *r = Req {
            id,
            gen,
            service: svc as u32,
            replica,
            from,
            caller_entity,
            caller,
            sent_at: now,
            ..Req::default()
        };
        if let Some(t) = timeout {
            q.push(now + t, Event::Timeout { slot, gen });
        }
        let link = self.link_of[from as usize * self.spec.services.len() + svc] as usize;
        let l = &mut self.links[link];
        if l.zero {
            self.deliver(slot, now, q)?;
        } else {
            let d = l.latency.sample(&mut l.rng);
            q.push(now + SimDuration(d), Event::Deliver { slot });
        }
        Ok(slot)
    }

    fn emit_level(&mut self, replica: u32, now: SimTime) {
        let r = &self.replicas[replica as usize];
        self.obs.replica_level(
            r.service as usize,
            r.index,
            r.busy,
            r.queue.len() as u32,
            now,
        );
    }

    fn deliver(
        &mut self,
        slot: u32,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        let req = &mut self.slots[slot as usize];
        req.arrived_at = now;
        let (svc, replica) = (req.service as usize, req.replica);
        self.obs.service_arrival(svc, now);
        let workers = self.spec.services[svc].workers;
        let cap = self.spec.services[svc].queue_capacity as usize;
        let rep = &mut self.replicas[replica as usize];
        if rep.busy < workers {
            rep.busy += 1;
            self.emit_level(replica, now);
            self.start_service(slot, now, q);
        } else if rep.queue.len() < cap {
            rep.queue.push_back(slot);
            self.emit_level(replica, now);
        } else {
            // Turned away at admission: no worker was held, the answer goes straight back.
            self.slots[slot as usize].started_at = now;
            return self.respond(slot, Outcome::Overloaded, false, now, q);
        }
        Ok(())
    }

    fn start_service(&mut self, slot: u32, now: SimTime, q: &mut EventQueue<Event>) {
        let req = &mut self.slots[slot as usize];
        req.started_at = now;
        let svc = req.service as usize;
        let rep = &mut self.replicas[req.replica as usize];
        let d = self.spec.services[svc]
            .service_time
            .sample(&mut rep.service_time_rng);
        q.push(now + SimDuration(d), Event::ServiceDone { slot });
    }

    fn service_done(
        &mut self,
        slot: u32,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        let svc = self.slots[slot as usize].service as usize;
        let spec = &self.spec.services[svc];
        let st = &mut self.services[svc];
        if spec.error_rate > 0.0 && st.error_rng.chance(spec.error_rate) {
            return self.respond(slot, Outcome::Error, true, now, q);
        }
        match spec.fan_out {
            FanOut::Sequential => {
                self.slots[slot as usize].next_call = 0;
                self.next_sequential(slot, now, q)
            }
            FanOut::Parallel => {
                // Decide every call first and set the pending count before sending, because a
                // call over a zero-latency link can complete inside `send`.
                let n = spec.calls.len();
                let mut taken: u64 = 0;
                for (i, c) in spec.calls.iter().enumerate() {
                    if st.call_rng.chance(c.probability) {
                        taken |= 1 << i;
                    }
                }
                let count = taken.count_ones() as u16;
                if count == 0 {
                    return self.respond(slot, Outcome::Ok, true, now, q);
                }
                let gen = self.slots[slot as usize].gen;
                self.slots[slot as usize].pending = count;
                for i in 0..n {
                    if taken & (1 << i) == 0 {
                        continue;
                    }
                    let p = &self.slots[slot as usize];
                    if p.gen != gen || p.server_done {
                        break; // failed fast on an earlier call
                    }
                    let c = &self.spec.services[svc].calls[i];
                    let (to, timeout) = (c.to, c.timeout);
                    let caller = Caller::Call {
                        parent: slot,
                        parent_gen: gen,
                        call: i as u16,
                    };
                    let from = (self.spec.clients.len() + svc) as u32;
                    self.send(caller, from, to, timeout, now, q)?;
                }
                Ok(())
            }
        }
    }

    fn next_sequential(
        &mut self,
        slot: u32,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        let svc = self.slots[slot as usize].service as usize;
        loop {
            let i = self.slots[slot as usize].next_call as usize;
            let calls = &self.spec.services[svc].calls;
            if i >= calls.len() {
                return self.respond(slot, Outcome::Ok, true, now, q);
            }
            self.slots[slot as usize].next_call += 1;
            let c = &calls[i];
            let (to, timeout, p) = (c.to, c.timeout, c.probability);
            if self.services[svc].call_rng.chance(p) {
                let caller = Caller::Call {
                    parent: slot,
                    parent_gen: self.slots[slot as usize].gen,
                    call: i as u16,
                };
                let from = (self.spec.clients.len() + svc) as u32;
                self.send(caller, from, to, timeout, now, q)?;
                return Ok(());
            }
        }
    }

    /// The replica finishes a request with `status` and sends the response back.
    fn respond(
        &mut self,
        slot: u32,
        status: Outcome,
        held_worker: bool,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        let req = &mut self.slots[slot as usize];
        req.server_done = true;
        req.status = status;
        let (svc, replica, from) = (req.service as usize, req.replica, req.from);
        let (arrived_at, started_at) = (req.arrived_at, req.started_at);
        self.obs
            .service_done(svc, status, arrived_at, started_at, now);
        if held_worker {
            let rep = &mut self.replicas[replica as usize];
            rep.busy -= 1;
            let next = rep.queue.pop_front();
            if let Some(next) = next {
                rep.busy += 1;
                self.emit_level(replica, now);
                self.start_service(next, now, q);
            } else {
                self.emit_level(replica, now);
            }
        }
        let link = self.link_of[from as usize * self.spec.services.len() + svc] as usize;
        let l = &mut self.links[link];
        if l.zero {
            // A zero-latency link answers within this event; the caller may send its next
            // call from here, which can hit a limit.
            self.response(slot, now, q)
        } else {
            let d = l.latency.sample(&mut l.rng);
            q.push(now + SimDuration(d), Event::Response { slot });
            Ok(())
        }
    }

    /// The response to `slot` reaches its caller.
    fn response(
        &mut self,
        slot: u32,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        let req = self.slots[slot as usize];
        self.replicas[req.replica as usize].outstanding -= 1;
        self.release(slot);
        if req.caller_done {
            return Ok(()); // the caller timed out earlier; this answer is wasted work
        }
        self.caller_learns(req, req.status, now, q)
    }

    fn timeout(
        &mut self,
        slot: u32,
        gen: u32,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        let req = &mut self.slots[slot as usize];
        if req.gen != gen || req.caller_done {
            return Ok(()); // answered in time, or the slot was reused
        }
        req.caller_done = true;
        let req = *req;
        // The slot stays until the server's late response arrives and frees it.
        self.caller_learns(req, Outcome::Timeout, now, q)
    }

    fn caller_learns(
        &mut self,
        req: Req,
        outcome: Outcome,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        match req.caller {
            Caller::Client { client, user } => {
                let c = client as usize;
                self.obs.client_done(c, outcome, req.sent_at, now);
                let st = &mut self.clients[c];
                st.in_flight -= 1;
                self.obs.client_in_flight(c, st.in_flight, now);
                if user != NO_USER {
                    if let Load::Closed { think_time, .. } = &self.spec.clients[c].load {
                        let d = think_time.sample(&mut self.clients[c].think);
                        q.push(now + SimDuration(d), Event::UserWake { client, user });
                    }
                }
                Ok(())
            }
            Caller::Call {
                parent,
                parent_gen,
                call,
            } => {
                let parent_svc = req.from as usize - self.spec.clients.len();
                self.obs
                    .call_done(parent_svc, call as usize, outcome, req.sent_at, now);
                self.child_done(parent, parent_gen, outcome, now, q)
            }
        }
    }

    fn child_done(
        &mut self,
        parent: u32,
        gen: u32,
        outcome: Outcome,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        let p = &mut self.slots[parent as usize];
        if p.gen != gen || p.server_done {
            return Ok(()); // the parent already answered (it failed fast on another call)
        }
        if outcome != Outcome::Ok {
            return self.respond(parent, Outcome::Error, true, now, q);
        }
        match self.spec.services[p.service as usize].fan_out {
            FanOut::Sequential => self.next_sequential(parent, now, q),
            FanOut::Parallel => {
                p.pending -= 1;
                if p.pending == 0 {
                    return self.respond(parent, Outcome::Ok, true, now, q);
                }
                Ok(())
            }
        }
    }

    fn client_send(
        &mut self,
        ci: usize,
        user: u32,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<u64, LimitHit> {
        self.obs.client_sent(ci, now);
        let spec = &self.spec.clients[ci];
        if self.clients[ci].in_flight >= spec.max_in_flight {
            // Open loop only: validation keeps closed-loop users within max_in_flight.
            self.obs.client_done(ci, Outcome::Rejected, now, now);
            return Ok(0);
        }
        let (target, timeout) = (spec.target, spec.timeout);
        self.clients[ci].in_flight += 1;
        self.obs
            .client_in_flight(ci, self.clients[ci].in_flight, now);
        let caller = Caller::Client {
            client: ci as u32,
            user,
        };
        let id = self.next_request_id;
        self.send(caller, ci as u32, target, timeout, now, q)?;
        Ok(id)
    }
}

impl<O: Observer> Model for World<O> {
    type Event = Event;

    #[inline]
    fn handle(
        &mut self,
        now: SimTime,
        event: Event,
        q: &mut EventQueue<Event>,
    ) -> Result<TraceRecord, LimitHit> {
        let rec = match event {
            Event::ClientArrival { client } => {
                if let Some(t) = self.next_arrival(client as usize, now) {
                    q.push(t, Event::ClientArrival { client });
                }
                let id = self.client_send(client as usize, NO_USER, now, q)?;
                TraceRecord {
                    kind: kind::CLIENT_ARRIVAL,
                    entity: self.client_entity(client),
                    request: id,
                }
            }
            Event::UserWake { client, user } => {
                let id = self.client_send(client as usize, user, now, q)?;
                TraceRecord {
                    kind: kind::USER_WAKE,
                    entity: self.client_entity(client),
                    request: id,
                }
            }
            Event::Deliver { slot } => {
                let r = &self.slots[slot as usize];
                let rec = TraceRecord {
                    kind: kind::DELIVER,
                    entity: self.replica_entity(r.replica),
                    request: r.id,
                };
                self.deliver(slot, now, q)?;
                rec
            }
            Event::ServiceDone { slot } => {
                let r = &self.slots[slot as usize];
                let rec = TraceRecord {
                    kind: kind::SERVICE_DONE,
                    entity: self.replica_entity(r.replica),
                    request: r.id,
                };
                self.service_done(slot, now, q)?;
                rec
            }
            Event::Response { slot } => {
                let r = &self.slots[slot as usize];
                let rec = TraceRecord {
                    kind: kind::RESPONSE,
                    entity: r.caller_entity,
                    request: r.id,
                };
                self.response(slot, now, q)?;
                rec
            }
            Event::Timeout { slot, gen } => {
                let r = &self.slots[slot as usize];
                let rec = TraceRecord {
                    kind: kind::TIMEOUT,
                    entity: r.caller_entity,
                    request: if r.gen == gen { r.id } else { 0 },
                };
                self.timeout(slot, gen, now, q)?;
                rec
            }
        };
        Ok(rec)
    }
}

/// Trace entity names in entity-id order: clients first, then every replica as `service/index`.
pub fn entity_names(spec: &SystemSpec) -> Vec<String> {
    let mut v: Vec<String> = spec.clients.iter().map(|c| c.name.clone()).collect();
    for s in &spec.services {
        for r in 0..s.replicas {
            v.push(format!("{}/{}", s.name, r));
        }
    }
    v
}
