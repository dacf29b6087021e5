//! The network: a link per (caller, callee service) pair with its latency, the link faults in
//! force (partitions, degradations), partitions that name single replicas (checked per
//! message), and bandwidth limits (a FIFO per direction with a bounded wait). And the world's
//! side of it: a request leaves its caller (`send`: pick a replica, take a slot and maybe a
//! connection) and crosses its link (`transmit`).
//!
//! [`Net`] owns every link and cut and decides what becomes of one message ([`Carry`]); it
//! knows trace entities only as numbers (clients first, then replicas) and nothing of
//! requests, replicas' state or faults' bookkeeping: a lost message names the fault that lost
//! it and the world counts it.

use super::event::Event;
use super::health::NO_FAULT;
use super::{Observer, World};
use crate::engine::{EventQueue, LimitHit, RngStream, SimDuration, SimTime, Table};
use crate::model::dist::Dist;
use crate::model::request::{CallerRef, Req};
use crate::model::spec::*;
use crate::model::stack::EdgeOwner;
use crate::policy::Outcome;

/// Which way a message crosses its link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Dir {
    /// Caller to service.
    Request = 0,
    /// Service back to its caller.
    Response = 1,
}

/// What becomes of one message on its link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Carry {
    /// A zero-latency link and nothing in the way: it arrives within this event.
    Now,
    /// It arrives after this many nanoseconds.
    After(u64),
    /// It is lost; the fault to blame (`NO_FAULT` for a bandwidth buffer that was full).
    Lost(u32),
}

pub(super) struct LinkState {
    pub latency: Dist,
    pub zero: bool,
    pub rng: RngStream,
    pub from: Endpoint,
    pub to: ServiceId,
    /// Partitions in force that drop requests / responses on this link.
    pub drop_requests: u16,
    pub drop_responses: u16,
    pub block_cause: u32,
    /// A degradation in force: extra latency, loss probability, fault index.
    pub degraded: Option<(Dist, f64, u32)>,
    pub fault_rng: RngStream,
    /// A bandwidth limit, and when each direction (requests, responses) is free to transmit.
    pub bandwidth: Option<Bandwidth>,
    pub busy_until_ns: [u64; 2],
    /// Bandwidth-limited links, per direction: messages sent, dropped at the buffer, and the
    /// longest wait to start transmitting (ns).
    pub sent: [u64; 2],
    pub dropped: [u64; 2],
    pub max_wait_ns: [u64; 2],
    /// No fault in force and no bandwidth limit: messages only take their latency. The hot
    /// paths look at the fields above only when this is false.
    pub plain: bool,
}

impl LinkState {
    fn refresh_plain(&mut self) {
        self.plain = self.drop_requests == 0
            && self.drop_responses == 0
            && self.degraded.is_none()
            && self.bandwidth.is_none();
    }
}

/// A partition in force between groups of trace entities (clients, replicas).
pub(super) struct Cut {
    pub cause: u32,
    pub from: Vec<Endpoint>,
    pub to: Vec<Endpoint>,
    pub one_way: bool,
}

pub(super) struct Net {
    pub links: Table<LinkState>,
    /// The links leaving endpoint `from` (clients first, then services) are
    /// `out[out_start[from]..out_start[from + 1]]`, as (callee service, index into `links`)
    /// sorted by callee: an endpoint has a few callees, so a model of thousands of services
    /// keeps one entry per edge instead of a table of every pair.
    out_start: Vec<u32>,
    out: Vec<(u32, u32)>,
    /// Partitions in force that name single replicas: checked per message while non-empty.
    pub cuts: Vec<Cut>,
    /// Trace entities of replicas start here (clients come first).
    clients: u32,
    /// Per service: its first replica and how many it can ever run (for partition groups
    /// that name a service).
    service_span: Vec<(u32, u32)>,
}

fn endpoint_name(spec: &SystemSpec, e: Endpoint) -> String {
    match e {
        Endpoint::Client(c) => format!("client:{}", spec.clients[c].name),
        Endpoint::Service(s) => format!("service:{}", spec.services[s].name),
        Endpoint::Replica(r) => format!("replica:{r}"),
    }
}

impl Net {
    /// Every edge that can carry a request gets its own link state and streams, named after
    /// its two ends (`link:client:A->service:B`, purposes `latency` and `faults`), whether or
    /// not the scenario lists it.
    pub fn new(spec: &SystemSpec, seed: u64) -> Self {
        let n_clients = spec.clients.len();
        let n_services = spec.services.len();
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
        let mut out_start = vec![0u32; n_clients + n_services + 1];
        let mut out = Vec::with_capacity(edges.len());
        let mut links = Vec::with_capacity(edges.len());
        for (from, to) in edges {
            let listed = spec.links.iter().find(|l| l.from == from && l.to == to);
            let latency = listed
                .map(|l| l.latency.clone())
                .unwrap_or_else(|| spec.default_link_latency.clone());
            let bandwidth = listed.and_then(|l| l.bandwidth);
            let name = format!(
                "link:{}->{}",
                endpoint_name(spec, from),
                endpoint_name(spec, Endpoint::Service(to))
            );
            let from_index = match from {
                Endpoint::Client(c) => c,
                Endpoint::Service(s) => n_clients + s,
                Endpoint::Replica(_) => unreachable!("links join clients and services"),
            };
            // Edges are sorted by (from, to), and from_index grows with `from`.
            out_start[from_index + 1] += 1;
            out.push((to as u32, links.len() as u32));
            links.push(LinkState {
                zero: latency.is_zero(),
                latency,
                rng: RngStream::derive(seed, &name, "latency"),
                from,
                to,
                drop_requests: 0,
                drop_responses: 0,
                block_cause: NO_FAULT,
                degraded: None,
                fault_rng: RngStream::derive(seed, &name, "faults"),
                plain: bandwidth.is_none(),
                bandwidth,
                busy_until_ns: [0; 2],
                sent: [0; 2],
                dropped: [0; 2],
                max_wait_ns: [0; 2],
            });
        }
        for i in 1..out_start.len() {
            out_start[i] += out_start[i - 1];
        }
        let mut service_span = Vec::with_capacity(n_services);
        let mut first = 0;
        for s in &spec.services {
            service_span.push((first, s.replicas));
            first += s.replicas;
        }
        Net {
            links: links.into(),
            out_start,
            out,
            cuts: Vec::new(),
            clients: n_clients as u32,
            service_span,
        }
    }

    /// The link from endpoint `from` (clients first, then services) to service `svc`.
    #[inline(always)]
    pub fn link(&self, from: u32, svc: usize) -> usize {
        let (a, b) = (
            self.out_start[from as usize] as usize,
            self.out_start[from as usize + 1] as usize,
        );
        let edges = &self.out[a..b];
        let k = if edges.len() <= 8 {
            edges.iter().position(|&(to, _)| to as usize == svc)
        } else {
            edges
                .binary_search_by_key(&(svc as u32), |&(to, _)| to)
                .ok()
        };
        match k {
            Some(k) => edges[k].1 as usize,
            None => unreachable!("no link from endpoint {from} to service {svc}"),
        }
    }

    /// One message between `caller` (a trace entity) and `replica` (a global replica index)
    /// crosses `link` in direction `dir` at `now`.
    #[inline(always)]
    pub fn carry(
        &mut self,
        link: usize,
        dir: Dir,
        caller: u32,
        replica: u32,
        now: SimTime,
    ) -> Carry {
        let mut extra = 0;
        if !self.links[link].plain || !self.cuts.is_empty() {
            let to = self.clients + replica;
            let (a, b) = match dir {
                Dir::Request => (caller, to),
                Dir::Response => (to, caller),
            };
            match self.extra(link, dir as usize, a, b, now) {
                Ok(e) => extra = e,
                Err(cause) => return Carry::Lost(cause),
            }
        }
        let l = &mut self.links[link];
        if l.zero && extra == 0 {
            Carry::Now
        } else {
            Carry::After(l.latency.sample(&mut l.rng) + extra)
        }
    }

    /// A message crosses a link with a fault in force (`blocked`: a partition drops this
    /// direction): is it lost (and to which fault), and how much later does it arrive?
    #[cold]
    #[inline(never)]
    fn link_fault(l: &mut LinkState, blocked: bool) -> (bool, u32, u64) {
        if blocked {
            return (true, l.block_cause, 0);
        }
        match &l.degraded {
            Some((added, loss, cause)) => {
                if *loss > 0.0 && l.fault_rng.chance(*loss) {
                    (true, *cause, 0)
                } else {
                    (false, NO_FAULT, added.sample(&mut l.fault_rng))
                }
            }
            None => (false, NO_FAULT, 0),
        }
    }

    /// The extra delay of a message over `link` in direction `dir` (0: request, 1: response)
    /// from trace entity `a` to `b`, when a fault, a partition naming replicas or a bandwidth
    /// limit is in play; the fault that lost it when it is lost.
    #[cold]
    #[inline(never)]
    fn extra(&mut self, link: usize, dir: usize, a: u32, b: u32, now: SimTime) -> Result<u64, u32> {
        let l = &mut self.links[link];
        let blocked = if dir == 0 {
            l.drop_requests > 0
        } else {
            l.drop_responses > 0
        };
        let mut extra = 0;
        if blocked || l.degraded.is_some() {
            let (lost, cause, added) = Self::link_fault(l, blocked);
            if lost {
                return Err(cause);
            }
            extra = added;
        }
        if !self.cuts.is_empty() {
            if let Some(cause) = self.cut_between(a, b) {
                return Err(cause);
            }
        }
        let l = &mut self.links[link];
        if let Some(bw) = l.bandwidth {
            let tx = if dir == 0 {
                bw.request_ns
            } else {
                bw.response_ns
            };
            extra += Self::serialize(l, dir, tx, bw.buffer, now).ok_or(NO_FAULT)?;
        }
        Ok(extra)
    }

    /// A message of `tx_ns` transmission time queues on direction `dir` of a bandwidth-limited
    /// link: how long until it is fully sent (queueing plus transmission), or None when it
    /// would wait longer than `buffer` to start (dropped).
    #[cold]
    #[inline(never)]
    fn serialize(
        l: &mut LinkState,
        dir: usize,
        tx_ns: u64,
        buffer: SimDuration,
        now: SimTime,
    ) -> Option<u64> {
        let start = l.busy_until_ns[dir].max(now.0);
        if start - now.0 > buffer.0 {
            l.dropped[dir] += 1;
            return None;
        }
        l.sent[dir] += 1;
        l.max_wait_ns[dir] = l.max_wait_ns[dir].max(start - now.0);
        l.busy_until_ns[dir] = start + tx_ns;
        Some(start + tx_ns - now.0)
    }

    /// Is trace entity `e` (a client, or a replica) in `group`?
    fn in_group(&self, group: &[Endpoint], e: u32) -> bool {
        let clients = self.clients;
        group.iter().any(|&g| match g {
            Endpoint::Client(c) => e == c as u32,
            Endpoint::Replica(r) => e == clients + r,
            Endpoint::Service(s) => {
                let (first, n) = self.service_span[s];
                e >= clients && (first..first + n).contains(&(e - clients))
            }
        })
    }

    /// The partition naming single replicas (its fault index) that drops a message from
    /// entity `a` to entity `b`, if any.
    #[cold]
    #[inline(never)]
    pub fn cut_between(&self, a: u32, b: u32) -> Option<u32> {
        self.cuts.iter().find_map(|c| {
            let forward = self.in_group(&c.from, a) && self.in_group(&c.to, b);
            let back = !c.one_way && self.in_group(&c.to, a) && self.in_group(&c.from, b);
            (forward || back).then_some(c.cause)
        })
    }

    /// Can replica `a` send to replica `b` (global indices) now?
    pub fn replicas_open(&self, a: u32, b: u32) -> bool {
        self.cuts.is_empty()
            || self
                .cut_between(self.clients + a, self.clients + b)
                .is_none()
    }

    /// Partition fault `cause` starts (`start`) or ends between `from` and `to`. One that
    /// names single replicas is checked per message; one between clients and services blocks
    /// the links between them, per direction.
    pub fn partition(
        &mut self,
        from: &[Endpoint],
        to: &[Endpoint],
        one_way: bool,
        cause: u32,
        start: bool,
    ) {
        let names_replicas = from
            .iter()
            .chain(to.iter())
            .any(|e| matches!(e, Endpoint::Replica(_)));
        if names_replicas {
            if start {
                self.cuts.push(Cut {
                    cause,
                    from: from.to_vec(),
                    to: to.to_vec(),
                    one_way,
                });
            } else {
                self.cuts.retain(|c| c.cause != cause);
            }
            return;
        }
        for l in self.links.iter_mut() {
            let a_in = |g: &[Endpoint]| g.contains(&l.from);
            let s_in = |g: &[Endpoint]| g.contains(&Endpoint::Service(l.to));
            // Requests go caller -> service, responses service -> caller.
            let mut req = a_in(from) && s_in(to);
            let mut resp = a_in(to) && s_in(from);
            if !one_way {
                req |= a_in(to) && s_in(from);
                resp |= a_in(from) && s_in(to);
            }
            if start {
                l.drop_requests += req as u16;
                l.drop_responses += resp as u16;
                if req || resp {
                    l.block_cause = cause;
                }
            } else {
                l.drop_requests -= req as u16;
                l.drop_responses -= resp as u16;
            }
            l.refresh_plain();
        }
    }

    /// Degradation fault `cause` starts (`start`) or ends on the link `from -> to`.
    pub fn degrade(
        &mut self,
        from: Endpoint,
        to: ServiceId,
        added_latency: &Dist,
        loss: f64,
        cause: u32,
        start: bool,
    ) {
        for l in self.links.iter_mut() {
            if l.from == from && l.to == to {
                if start {
                    l.degraded = Some((added_latency.clone(), loss, cause));
                } else if l.degraded.as_ref().is_some_and(|d| d.2 == cause) {
                    l.degraded = None;
                }
                l.refresh_plain();
            }
        }
    }
}

impl<O: Observer> World<O> {
    /// Sends a request from endpoint `from` to `endpoint` of service `svc` over `link` (the
    /// link between the two, which the caller's edge knows).
    #[allow(clippy::too_many_arguments)]
    #[inline]
    pub(super) fn send(
        &mut self,
        caller: CallerRef,
        from: u32,
        svc: usize,
        link: u32,
        endpoint: u8,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<u32, LimitHit> {
        self.send_here(caller, from, svc, link, endpoint, now, q)
    }

    /// [`World::send`], compiled into its caller: a call without policies, the path of every
    /// plain request.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub(super) fn send_here(
        &mut self,
        caller: CallerRef,
        from: u32,
        svc: usize,
        link: u32,
        endpoint: u8,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<u32, LimitHit> {
        let (caller_entity, deadline_ns) = self.attempt(caller, from, now);
        let picked = if self.fleet.services[svc].ap.is_some() {
            Some(self.ap_route(svc, caller_entity, endpoint, now))
        } else {
            self.fleet.pick(self.spec.service(svc), svc, now)
        };
        self.dispatch(
            caller,
            from,
            svc,
            link,
            caller_entity,
            deadline_ns,
            picked,
            endpoint,
            now,
            q,
        )
    }

    /// Sends a request from endpoint `from` to replica `to` of service `svc` over `link` (a
    /// balancer retry: the balancer chose the replica already, and the failed attempt knew
    /// the link).
    #[cold]
    #[inline(never)]
    #[allow(clippy::too_many_arguments)]
    pub(super) fn send_to(
        &mut self,
        caller: CallerRef,
        from: u32,
        svc: usize,
        to: u32,
        link: u32,
        endpoint: u8,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<u32, LimitHit> {
        let (caller_entity, deadline_ns) = self.attempt(caller, from, now);
        self.dispatch(
            caller,
            from,
            svc,
            link,
            caller_entity,
            deadline_ns,
            Some(to),
            endpoint,
            now,
            q,
        )
    }

    /// An attempt leaves its caller: counted, and named (the caller's trace entity, and the
    /// deadline it carries).
    #[inline(always)]
    fn attempt(&mut self, caller: CallerRef, from: u32, now: SimTime) -> (u32, u64) {
        let caller_entity = match caller {
            CallerRef::Client { client, .. } => {
                self.obs.client_attempt(client as usize, now);
                self.client_entity(client)
            }
            CallerRef::Call { parent, call, .. } => {
                self.obs
                    .call_attempt(from as usize - self.spec.clients.len(), call as usize, now);
                self.replica_entity(self.requests[parent].replica)
            }
            CallerRef::Inv { inv, .. } => {
                let v = self.stacks.invs[inv as usize];
                match self.stacks.edges[v.edge as usize].owner {
                    EdgeOwner::Client(c) => self.obs.client_attempt(c, now),
                    EdgeOwner::Call { service, call } => self.obs.call_attempt(service, call, now),
                }
                v.caller_entity
            }
        };
        let deadline_ns = match caller {
            CallerRef::Inv { inv, .. } => {
                let v = &self.stacks.invs[inv as usize];
                if self.stacks.edges[v.edge as usize].propagate_deadline {
                    v.deadline_ns
                } else {
                    u64::MAX
                }
            }
            _ => u64::MAX,
        };
        (caller_entity, deadline_ns)
    }

    /// The request to `picked` (None: no replica in balancing, refused at once) takes a slot,
    /// a connection if its call is pooled, and the link.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    fn dispatch(
        &mut self,
        caller: CallerRef,
        from: u32,
        svc: usize,
        link: u32,
        caller_entity: u32,
        deadline_ns: u64,
        picked: Option<u32>,
        endpoint: u8,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<u32, LimitHit> {
        let replica = picked.unwrap_or(self.fleet.services[svc].first_replica);
        self.fleet.outstanding(replica, true);
        let slot = self.requests.alloc(now, |id, gen| Req {
            id,
            gen,
            service: svc as u32,
            replica,
            from,
            link,
            caller_entity,
            caller,
            sent_at: now,
            deadline_ns,
            endpoint,
            live: true,
            ..Req::default()
        })?;
        let gen = self.requests[slot].gen;
        if self.caches.any {
            let root = self.caches.root_of(caller);
            super::cache::Caches::set_root(&mut self.caches.root_of_slot, slot, root);
        }
        if let CallerRef::Inv { inv, .. } = caller {
            let v = &mut self.stacks.invs[inv as usize];
            v.child_slot = slot;
            v.child_gen = gen;
        }
        if picked.is_none() {
            // No replica is in balancing: the balancer answers at once.
            let r = &mut self.requests[slot];
            r.status = Outcome::Refused;
            r.server_done = true;
            r.abandoned = true; // no replica to blame
            self.obs.service_arrival(svc, now);
            self.obs.service_done(svc, Outcome::Refused, now, now, now);
            if !self.spec.service(svc).endpoints.is_empty() {
                self.obs
                    .endpoint_done(svc, endpoint, Outcome::Refused, now, now);
            }
            self.response(slot, now, q)?;
            return Ok(slot);
        }
        if self.pools.any && !self.take_connection(slot, caller, now) {
            return Ok(slot); // waits for a connection
        }
        self.transmit(slot, now, q)?;
        Ok(slot)
    }

    /// The request in `slot` leaves its caller over the link to its replica.
    #[inline(always)]
    pub(super) fn transmit(
        &mut self,
        slot: u32,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        let r = &self.requests[slot];
        match self.net.carry(
            r.link as usize,
            Dir::Request,
            r.caller_entity,
            r.replica,
            now,
        ) {
            Carry::Now => self.deliver(slot, now, q)?,
            Carry::After(d) => {
                q.push(now + SimDuration(d), Event::Deliver { slot });
            }
            Carry::Lost(cause) => {
                self.faults.count(cause);
                self.lose(slot);
            }
        }
        Ok(())
    }
}
