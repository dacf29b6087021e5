//! Serving: a request reaches its replica (`deliver`: admission, a worker or the queue),
//! is served (`service_done`: pauses, disk I/O, injected errors, replication, then its calls
//! out, one after another or all at once), answered (`respond`: release the worker, start the
//! next queued request, send the response back) and learned by its caller (`response`,
//! `root_learns`, `child_done`: a client's outcome, a parent request's next step, or a policy
//! layer's result).
//!
//! This is the hot path. It changes replicas' workers, queues and admission counts and the
//! requests' own fields; it hands calls to `invoke.rs`, messages to the network, crashes
//! (out of memory) to `faults.rs`, and outcomes to passive health checking. It decides no
//! policy, picks no replica and carries no message itself. The response chain may re-enter
//! itself within one event (a zero-latency response completes a parent that sends its next
//! call), so these functions keep their order of draws and events.

use super::event::Event;
use super::fleet::ReplicaState;
use super::health::NO_FAULT;
use super::network::{Carry, Dir};
use super::{Observer, World};
use crate::engine::{EventQueue, LimitHit, SimDuration, SimTime};
use crate::model::gc::Alloc;
use crate::model::observer::Shed;
use crate::model::request::{CallerRef, NO_USER};
use crate::model::spec::*;
use crate::policy::queue::Verdict;
use crate::policy::Outcome;

impl<O: Observer> World<O> {
    #[inline(always)]
    pub(super) fn emit_level(&mut self, replica: u32, now: SimTime) {
        let r = &mut self.fleet.replicas[replica as usize];
        let (mut busy, mut queued) = (r.busy, r.queue.len() as u32);
        if r.impaired {
            if r.extras.sharing().is_some() {
                let s = self.spec.service(r.service as usize);
                if s.discipline == Discipline::ProcessorSharing {
                    // Cores in use, and the requests held beyond them (sharing the cores).
                    busy = r.busy.min(s.workers);
                    queued += r.busy - busy;
                }
            }
            if let Some(m) = r.extras.meter_mut() {
                m.level(busy, busy + queued, now);
            }
        }
        self.obs
            .replica_level(r.service as usize, r.index, busy, queued, now);
    }

    /// Under processor sharing every request held is in service: the workers bound (cores)
    /// plus the queue's room, and no queue. Otherwise as given.
    #[inline(always)]
    pub(super) fn hold_limits(spec: &ServiceSpec, workers: u32, cap: usize) -> (u32, usize) {
        if spec.discipline == Discipline::ProcessorSharing {
            (workers.saturating_add(cap as u32), 0)
        } else {
            (workers, cap)
        }
    }

    /// The request in `slot` is lost (in the network, or in a crashed process's backlog):
    /// nobody answers; whoever waits finds out by its own timeout.
    #[cold]
    #[inline(never)]
    pub(super) fn lose(&mut self, slot: u32) {
        let r = self.requests[slot].replica;
        self.fleet.outstanding(r, false);
        self.release(slot);
    }

    #[inline(always)]
    pub(super) fn deliver(
        &mut self,
        slot: u32,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        let req = &mut self.requests[slot];
        req.arrived_at = now;
        let (svc, replica) = (req.service as usize, req.replica);
        self.obs.service_arrival(svc, now);
        let mut cap = self.spec.service(svc).queue_capacity as usize;
        let counting = now >= self.count_from;
        let rep = &mut self.fleet.replicas[replica as usize];
        let mut workers = self.spec.service(svc).workers;
        if rep.impaired {
            if let Some(m) = rep.extras.meter_mut() {
                m.arrivals += 1;
            }
            if rep.health.down > 0 || rep.health.paused_until > now {
                return self.deliver_to_stopped(slot, replica, cap, now, q);
            }
            workers = workers.saturating_sub(rep.health.stuck);
            if rep.extras.sharing().is_some() {
                (workers, cap) = Self::hold_limits(self.spec.service(svc), workers, cap);
            }
        }
        self.requests[slot].at_server = true;
        let rep = &mut self.fleet.replicas[replica as usize];
        if let Some(lim) = rep.extras.limiter() {
            let inflight = rep.busy + rep.queue.len() as u32;
            if inflight >= lim.limit() {
                // Over the adaptive limit: shed before queueing.
                if counting {
                    rep.health.tally().shed_by_limit += 1;
                }
                self.obs.shed(svc, Shed::ConcurrencyLimit, now);
                self.requests[slot].started_at = now;
                return self.respond(slot, Outcome::Overloaded, false, now, q);
            }
            let req = &mut self.requests[slot];
            req.admitted = true;
            req.inflight_at_admit = inflight;
        }
        let rep = &mut self.fleet.replicas[replica as usize];
        if rep.busy < workers {
            rep.busy += 1;
            self.emit_level(replica, now);
            self.start_service(slot, now, q);
        } else if rep.queue.len() < cap {
            rep.queue.push_back(slot);
            self.emit_level(replica, now);
        } else if rep.prioritised && cap > 0 && self.displace(slot, replica, svc, now, q)? {
            // A lower priority made room.
        } else {
            // Turned away at admission: no worker was held, the answer goes straight back.
            self.obs.shed(svc, Shed::QueueFull, now);
            self.requests[slot].started_at = now;
            return self.respond(slot, Outcome::Overloaded, false, now, q);
        }
        Ok(())
    }

    /// The request in `slot` finds the queue of `replica` full: the newest waiting request of
    /// the lowest priority below its own is turned away (overloaded) to make room for it.
    /// Returns whether it did.
    #[cold]
    #[inline(never)]
    fn displace(
        &mut self,
        slot: u32,
        replica: u32,
        svc: usize,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<bool, LimitHit> {
        let eps = &self.spec.service(svc).endpoints;
        let priority = |s: u32| eps[self.requests[s].endpoint as usize].priority;
        let mine = priority(slot);
        let rep = &self.fleet.replicas[replica as usize];
        let mut victim: Option<(usize, u8)> = None;
        for (i, &s) in rep.queue.iter().enumerate() {
            let p = priority(s);
            if p < mine && victim.is_none_or(|(_, vp)| p <= vp) {
                victim = Some((i, p));
            }
        }
        let Some((i, _)) = victim else {
            return Ok(false);
        };
        let rep = &mut self.fleet.replicas[replica as usize];
        let out = rep.queue.remove(i).expect("a waiting request");
        rep.queue.push_back(slot);
        self.obs.shed(svc, Shed::QueueFull, now);
        self.requests[out].started_at = now;
        self.respond(out, Outcome::Overloaded, false, now, q)?;
        self.emit_level(replica, now);
        Ok(true)
    }

    /// A request reaches a replica whose process is down (refused) or paused (queued in its
    /// backlog, or lost when the backlog is full).
    #[cold]
    #[inline(never)]
    fn deliver_to_stopped(
        &mut self,
        slot: u32,
        replica: u32,
        cap: usize,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        let counting = now >= self.count_from;
        let rep = &mut self.fleet.replicas[replica as usize];
        if rep.health.down > 0 {
            // The process is gone: connection refused.
            if counting {
                rep.health.tally().refused += 1;
            }
            let cause = rep.health.down_cause();
            self.faults.count(cause);
            self.requests[slot].started_at = now;
            self.requests[slot].conn_error = true;
            return self.respond(slot, Outcome::Refused, false, now, q);
        }
        // A paused process accepts connections into its backlog but answers nothing.
        if rep.queue.len() < cap {
            rep.queue.push_back(slot);
            self.requests[slot].at_server = true;
            self.emit_level(replica, now);
        } else {
            let (cause, svc) = (rep.health.pause_cause(), rep.service as usize);
            self.faults.count(cause);
            self.obs.shed(svc, Shed::QueueFull, now);
            self.lose(slot);
        }
        Ok(())
    }

    /// A worker of `replica` is free: start the next queued request (the oldest, or as the
    /// service's queue discipline says), shedding the ones that waited longer than the
    /// service's `max_queue_time`, dropping those past their caller's deadline, and those
    /// CoDel drops.
    #[inline(always)]
    pub(super) fn take_next_from_queue(
        &mut self,
        replica: u32,
        svc: usize,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        // FIFO without CoDel or priorities is the fast path, compiled without their branches.
        if self.fleet.replicas[replica as usize].plain_fifo {
            self.take_next::<false>(replica, svc, now, q)
        } else {
            self.take_next::<true>(replica, svc, now, q)
        }
    }

    #[inline(always)]
    fn take_next<const DISCIPLINE: bool>(
        &mut self,
        replica: u32,
        svc: usize,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        let max_wait = self.spec.service(svc).admission.max_queue_time;
        let rep = &mut self.fleet.replicas[replica as usize];
        let discipline = self.spec.service(svc).queue;
        if DISCIPLINE {
            if let Some(c) = rep.extras.codel_mut() {
                c.begin();
            }
        }
        loop {
            let rep = &mut self.fleet.replicas[replica as usize];
            let mut workers = self.spec.service(svc).workers;
            if rep.impaired {
                if rep.health.down > 0 || rep.health.paused_until > now {
                    break; // nothing starts in a dead or paused process
                }
                workers = workers.saturating_sub(rep.health.stuck);
                if rep.extras.sharing().is_some() {
                    (workers, _) = Self::hold_limits(self.spec.service(svc), workers, 0);
                }
            }
            // A response sent below can bring a new request that takes the worker first.
            if rep.busy >= workers {
                break;
            }
            let popped = match discipline {
                _ if !DISCIPLINE => rep.queue.pop_front(),
                // Validation keeps priorities to FIFO queues.
                QueueDiscipline::Fifo if rep.prioritised => {
                    let eps = &self.spec.service(svc).endpoints;
                    let requests = &self.requests;
                    let priority = |s: u32| eps[requests[s].endpoint as usize].priority;
                    // The oldest of the highest priority waiting.
                    let best = rep.queue.iter().enumerate().fold(
                        None,
                        |b: Option<(usize, u8)>, (i, &s)| {
                            let p = priority(s);
                            if b.is_none_or(|(_, bp)| p > bp) {
                                Some((i, p))
                            } else {
                                b
                            }
                        },
                    );
                    best.and_then(|(i, _)| rep.queue.remove(i))
                }
                QueueDiscipline::Fifo | QueueDiscipline::CoDel { .. } => rep.queue.pop_front(),
                QueueDiscipline::Lifo => rep.queue.pop_back(),
                QueueDiscipline::AdaptiveLifo { after } => {
                    // A standing queue: its oldest has waited past `after`; newest first.
                    let standing = rep
                        .queue
                        .front()
                        .is_some_and(|&s| now.0 - self.requests[s].arrived_at.0 > after.0);
                    if standing {
                        rep.queue.pop_back()
                    } else {
                        rep.queue.pop_front()
                    }
                }
            };
            let Some(next) = popped else {
                if DISCIPLINE {
                    if let Some(c) = rep.extras.codel_mut() {
                        c.empty(now.0);
                    }
                }
                break;
            };
            let waited = now.0 - self.requests[next].arrived_at.0;
            if self.requests[next].deadline_ns <= now.0 {
                // Its caller's deadline has passed: nobody will read the answer.
                if now >= self.count_from {
                    rep.health.tally().shed_expired += 1;
                }
                self.obs.shed(svc, Shed::Expired, now);
                self.emit_level(replica, now);
                self.requests[next].started_at = now;
                self.respond(next, Outcome::Timeout, false, now, q)?;
                continue;
            }
            // Waited past max_queue_time, or dropped by CoDel (counted with the sheds for
            // queue time: CoDel judges the wait). CoDel sees only what max_queue_time left.
            let rep = &mut self.fleet.replicas[replica as usize];
            let waiting = rep.queue.len();
            if max_wait.is_some_and(|m| waited > m.0)
                || (DISCIPLINE
                    && rep
                        .extras
                        .codel_mut()
                        .is_some_and(|c| c.next(now.0, waited, waiting) == Verdict::Drop))
            {
                if now >= self.count_from {
                    rep.health.tally().shed_by_queue_time += 1;
                }
                self.obs.shed(svc, Shed::QueueTime, now);
                self.emit_level(replica, now);
                self.requests[next].started_at = now;
                self.respond(next, Outcome::Overloaded, false, now, q)?;
                continue;
            }
            rep.busy += 1;
            self.emit_level(replica, now);
            self.start_service(next, now, q);
            return Ok(());
        }
        self.emit_level(replica, now);
        Ok(())
    }

    #[inline(always)]
    fn start_service(&mut self, slot: u32, now: SimTime, q: &mut EventQueue<Event>) {
        let req = &mut self.requests[slot];
        req.started_at = now;
        let gen = req.gen;
        let svc = req.service as usize;
        let replica = req.replica;
        let endpoint = req.endpoint as usize;
        let rep = &mut self.fleet.replicas[replica as usize];
        let spec = self.spec.service(svc);
        let dist = if !self.endpoints || spec.endpoints.is_empty() {
            &spec.service_time
        } else {
            &spec.endpoints[endpoint].service_time
        };
        let mut d = dist.sample(&mut rep.service_time_rng);
        if rep.impaired {
            d = Self::stretched(rep, spec, d, now);
            if rep.extras.heap().is_some() {
                self.allocate(slot, replica, now, q);
            }
            if let Some(s) = self.fleet.replicas[replica as usize].extras.sharing_mut() {
                s.start(now.0, d, slot, gen);
                return self.schedule_share_done(replica, q);
            }
        }
        q.push(now + SimDuration(d), Event::ServiceDone { slot, gen });
    }

    /// The request in `slot` starts computing at a replica with a heap: it allocates, which
    /// may start a collection (the world stops: nothing starts until the pause ends, and what
    /// computes finishes that much later, see `service_done`) or kill the process.
    #[cold]
    #[inline(never)]
    fn allocate(&mut self, slot: u32, replica: u32, now: SimTime, q: &mut EventQueue<Event>) {
        let counting = now >= self.count_from;
        let rep = &mut self.fleet.replicas[replica as usize];
        let gc = self
            .spec
            .service(rep.service as usize)
            .gc
            .as_ref()
            .expect("a heap comes from a gc spec");
        let heap = rep.extras.heap_mut().expect("a replica with a heap");
        self.requests[slot].pause_mark = heap.pause_total_ns;
        let held = rep.busy + rep.queue.len() as u32;
        let h = &mut rep.health;
        let incarnation = h.incarnation;
        match heap.allocate(gc, held, counting) {
            Alloc::Fits => {}
            Alloc::Collect { pause_ns } => {
                let end = now + SimDuration(pause_ns);
                if h.paused_until < end {
                    h.paused_until = end;
                    if let Some(i) = h.injected_mut() {
                        i.pause_cause = NO_FAULT;
                    }
                }
                let oom = false;
                q.push(
                    end,
                    Event::Heap {
                        replica,
                        incarnation,
                        oom,
                    },
                );
                self.report_capacity(replica, now);
            }
            Alloc::OutOfMemory => {
                // Killed at once, in an event of its own (a crash answers what it held).
                let oom = true;
                q.push(
                    now,
                    Event::Heap {
                        replica,
                        incarnation,
                        oom,
                    },
                );
            }
        }
    }

    /// Schedules the next completion at a replica whose requests share its processors; the
    /// one scheduled before (if any) becomes stale.
    fn schedule_share_done(&mut self, replica: u32, q: &mut EventQueue<Event>) {
        let s = self.fleet.replicas[replica as usize]
            .extras
            .sharing_mut()
            .expect("a replica that shares work");
        s.token = s.token.wrapping_add(1);
        if let Some(t) = s.next_done_ns() {
            let token = s.token;
            q.push(SimTime(t), Event::ShareDone { replica, token });
        }
    }

    /// A request computing at a sharing replica finishes its service time (returns its id for
    /// the trace, 0 for a stale completion) and goes on as any other (`service_done`).
    #[cold]
    #[inline(never)]
    pub(super) fn share_done(
        &mut self,
        replica: u32,
        token: u32,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<u64, LimitHit> {
        let Some(s) = self.fleet.replicas[replica as usize].extras.sharing_mut() else {
            return Ok(0);
        };
        if s.token != token {
            return Ok(0); // the counts changed since it was scheduled
        }
        let Some((slot, gen)) = s.finish_next(now.0) else {
            return Ok(0);
        };
        self.schedule_share_done(replica, q);
        let id = self.requests[slot].id;
        self.service_done(slot, gen, now, q)?;
        Ok(id)
    }

    /// A service time `d` at an impaired replica: times its slowdowns, and its cold-start
    /// factor while warming up after a restart (which ends the warm-up once it is over).
    #[cold]
    #[inline(never)]
    fn stretched(rep: &mut ReplicaState, spec: &ServiceSpec, d: u64, now: SimTime) -> u64 {
        let h = &mut rep.health;
        let mut f = h.slow_factor();
        if h.warming {
            // Cold after a restart: cold_factor at first, back to 1 linearly over warmup.
            let w = spec.restart.warmup.0;
            let since = now.0 - h.up_since().map_or(0, |t| t.0);
            if since < w {
                let left = 1.0 - since as f64 / w as f64;
                f *= 1.0 + (spec.restart.cold_factor - 1.0) * left;
            } else {
                h.warming = false;
                rep.refresh_impaired();
            }
        }
        if f == 1.0 {
            return d;
        }
        (d as f64 * f).round().min(u64::MAX as f64 / 2.0) as u64
    }

    #[inline(always)]
    pub(super) fn service_done(
        &mut self,
        slot: u32,
        gen: u32,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        let req = &self.requests[slot];
        if req.gen != gen || req.server_done {
            return Ok(()); // a crash already failed it
        }
        let (svc, replica) = (req.service as usize, req.replica as usize);
        // Active-passive replicas are always `impaired`, so healthy active-active ones skip
        // the replication checks with the fault checks.
        let (mut ap, mut replicated) = (false, false);
        if self.fleet.replicas[replica].impaired {
            if let Some(heap) = self.fleet.replicas[replica].extras.heap() {
                // Stopped by collections while it computed: it finishes that much later.
                let debt = heap.pause_total_ns - self.requests[slot].pause_mark;
                if debt > 0 {
                    self.requests[slot].pause_mark = heap.pause_total_ns;
                    q.push(now + SimDuration(debt), Event::ServiceDone { slot, gen });
                    return Ok(());
                }
            }
            let h = &mut self.fleet.replicas[replica].health;
            if h.paused_until > now {
                // Finished inside a pause: the answer goes out when the pause ends.
                q.push(h.paused_until, Event::ServiceDone { slot, gen });
                return Ok(());
            }
            if self.fleet.replicas[replica].extras.disk().is_some()
                && self.disk_io(slot, gen, now, q)?
            {
                return Ok(());
            }
            let h = &mut self.fleet.replicas[replica].health;
            let rate = h.error_rate();
            if rate > 0.0 && h.fault_chance(rate) {
                let cause = h.error_cause();
                self.faults.count(cause);
                return self.respond(slot, Outcome::Error, true, now, q);
            }
            if let Some(l) = h.leak_mut().filter(|l| l.per_request_mb > 0.0) {
                l.leaked_mb += l.per_request_mb;
                if l.leaked_mb >= l.limit_mb {
                    let cause = l.cause;
                    return self.out_of_memory(replica as u32, cause, now, q);
                }
            }
            if self.fleet.services[svc].ap.is_some() {
                ap = true;
                replicated = self.ap_acked(slot);
            }
        }
        let spec = self.spec.service(svc);
        let st = &mut self.fleet.services[svc];
        if !replicated {
            if spec.error_rate > 0.0 && st.error_rng.chance(spec.error_rate) {
                return self.respond(slot, Outcome::Error, true, now, q);
            }
            if ap && self.ap_write(slot, gen, now, q)? {
                return Ok(());
            }
        }
        let spec = self.spec.service(svc);
        if spec.calls.is_empty() {
            // A leaf (an endpoint's calls are some of its service's): the answer goes back.
            return self.respond_here(slot, Outcome::Ok, true, now, q);
        }
        match spec.fan_out {
            FanOut::Sequential => {
                self.requests[slot].next_call = 0;
                self.next_sequential(slot, now, q)
            }
            FanOut::Parallel => {
                // Decide every call first and set the pending count before sending, because a
                // call over a zero-latency link can complete inside `send`.
                let endpoint = self.endpoint_of(slot, svc);
                let spec = self.spec.service(svc);
                let st = &mut self.fleet.services[svc];
                let n = Self::calls_of(spec, endpoint);
                let mut taken: u64 = 0;
                for i in 0..n {
                    let (_, p) = Self::call_of(spec, endpoint, i);
                    if st.call_rng.chance(p) {
                        taken |= 1 << i;
                    }
                }
                let count = taken.count_ones() as u16;
                if count == 0 {
                    return self.respond(slot, Outcome::Ok, true, now, q);
                }
                let gen = self.requests[slot].gen;
                self.requests[slot].pending = count;
                for i in 0..n {
                    if taken & (1 << i) == 0 {
                        continue;
                    }
                    let p = &self.requests[slot];
                    if p.gen != gen || p.server_done {
                        break; // failed fast on an earlier call
                    }
                    let (call, _) = Self::call_of(self.spec.service(svc), endpoint, i);
                    let caller = CallerRef::Call {
                        parent: slot,
                        parent_gen: gen,
                        call,
                    };
                    let edge = self.stacks.call_edge[svc][call as usize];
                    self.start_call(edge, caller, now, q)?;
                }
                Ok(())
            }
        }
    }

    /// The endpoint of the request in `slot` at `svc`, None when the service has none.
    #[inline(always)]
    fn endpoint_of(&self, slot: u32, svc: usize) -> Option<usize> {
        if self.endpoints && !self.spec.service(svc).endpoints.is_empty() {
            Some(self.requests[slot].endpoint as usize)
        } else {
            None
        }
    }

    /// How many calls a request of `endpoint` makes (every call of a service without
    /// endpoints).
    #[inline(always)]
    fn calls_of(spec: &ServiceSpec, endpoint: Option<usize>) -> usize {
        match endpoint {
            None => spec.calls.len(),
            Some(e) => spec.endpoints[e].calls.len(),
        }
    }

    /// The `i`th call a request of `endpoint` makes: its index in the service's calls and its
    /// probability.
    #[inline(always)]
    fn call_of(spec: &ServiceSpec, endpoint: Option<usize>, i: usize) -> (u16, f64) {
        match endpoint {
            None => (i as u16, spec.calls[i].probability),
            Some(e) => {
                let c = &spec.endpoints[e].calls[i];
                (c.call, c.probability)
            }
        }
    }

    #[inline(always)]
    fn next_sequential(
        &mut self,
        slot: u32,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        let svc = self.requests[slot].service as usize;
        let endpoint = self.endpoint_of(slot, svc);
        loop {
            let i = self.requests[slot].next_call as usize;
            let spec = self.spec.service(svc);
            if i >= Self::calls_of(spec, endpoint) {
                return self.respond(slot, Outcome::Ok, true, now, q);
            }
            self.requests[slot].next_call += 1;
            let (call, p) = Self::call_of(spec, endpoint, i);
            if self.fleet.services[svc].call_rng.chance(p) {
                let caller = CallerRef::Call {
                    parent: slot,
                    parent_gen: self.requests[slot].gen,
                    call,
                };
                let edge = self.stacks.call_edge[svc][call as usize];
                return self.start_call(edge, caller, now, q);
            }
        }
    }

    /// The replica finishes a request with `status` and sends the response back.
    #[inline]
    pub(super) fn respond(
        &mut self,
        slot: u32,
        status: Outcome,
        held_worker: bool,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        self.respond_here(slot, status, held_worker, now, q)
    }

    /// [`World::respond`], compiled into its caller: the answer of a leaf that served its
    /// request, the one on every request's path.
    #[inline(always)]
    fn respond_here(
        &mut self,
        slot: u32,
        status: Outcome,
        held_worker: bool,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        let req = &mut self.requests[slot];
        req.server_done = true;
        req.at_server = false;
        let status = if status == Outcome::Ok && req.degraded {
            Outcome::Degraded
        } else {
            status
        };
        req.status = status;
        if held_worker {
            req.worker_ns = now.0 - req.started_at.0;
        }
        let (svc, replica) = (req.service as usize, req.replica);
        let (arrived_at, started_at, endpoint) = (req.arrived_at, req.started_at, req.endpoint);
        self.obs
            .service_done(svc, status, arrived_at, started_at, now);
        if self.endpoints && !self.spec.service(svc).endpoints.is_empty() {
            self.obs
                .endpoint_done(svc, endpoint, status, arrived_at, now);
        }
        let (admitted, inflight_at_admit) = (req.admitted, req.inflight_at_admit);
        if admitted {
            if let Some(lim) = self.fleet.replicas[replica as usize].extras.limiter_mut() {
                let dropped = matches!(status, Outcome::Error | Outcome::Overloaded);
                lim.on_sample(now.0 - arrived_at.0, inflight_at_admit, dropped);
            }
        }
        if held_worker {
            self.fleet.replicas[replica as usize].busy -= 1;
            self.take_next_from_queue(replica, svc, now, q)?;
        }
        let (link, caller) = (
            self.requests[slot].link as usize,
            self.requests[slot].caller_entity,
        );
        match self.net.carry(link, Dir::Response, caller, replica, now) {
            // A zero-latency link answers within this event; the caller may send its next
            // call from here, which can hit a limit.
            Carry::Now => self.response(slot, now, q),
            Carry::After(d) => {
                q.push(now + SimDuration(d), Event::Response { slot });
                Ok(())
            }
            Carry::Lost(cause) => {
                self.faults.count(cause);
                self.lose(slot);
                Ok(())
            }
        }
    }

    /// The response to `slot` reaches its caller.
    #[inline(always)]
    pub(super) fn response(
        &mut self,
        slot: u32,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        let req = &self.requests[slot];
        let (service, replica, status, caller) = (req.service, req.replica, req.status, req.caller);
        let (from, sent_at, worker_ns) = (req.from, req.sent_at, req.worker_ns);
        if !req.abandoned && self.fleet.services[service as usize].checked {
            let conn_error = req.conn_error;
            self.passive_result(service as usize, replica, status, conn_error, now);
        }
        // Clients wait until they learn; a layer or a parent request may have stopped waiting.
        if !matches!(caller, CallerRef::Client { .. }) && !self.still_wanted(caller) {
            self.obs.late_answer(service as usize, worker_ns, now);
        } else if status != Outcome::Ok {
            if let Some(br) = self.spec.service(service as usize).balancer_retry {
                if self.retry_elsewhere(slot, br, now, q)? {
                    return Ok(());
                }
            }
        }
        self.fleet.outstanding(replica, false);
        self.release(slot);
        match caller {
            CallerRef::Inv { inv, gen, tag } => {
                self.inv_child_result(inv, gen, tag, status, now, q)
            }
            root => self.root_learns(root, from, status, sent_at, now, q),
        }
    }

    /// The balancer in front of the service sends a failed attempt again to a replica it has
    /// not tried for this request, when its retry rule says so and one is left: the caller
    /// sees one attempt (its timeouts run on), the service one more arrival. Returns whether
    /// it did.
    #[cold]
    #[inline(never)]
    fn retry_elsewhere(
        &mut self,
        slot: u32,
        br: BalancerRetry,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<bool, LimitHit> {
        let req = &self.requests[slot];
        let (n, mut tried) = match self.tried.get(slot as usize) {
            Some(&(gen, n, t)) if gen == req.gen => (n as usize, t),
            _ => (0, [0; 3]),
        };
        if !br.retries(req.status, req.conn_error) || n + 1 >= br.tries as usize {
            return Ok(false);
        }
        let (svc, replica, caller, from, link, endpoint) = (
            req.service as usize,
            req.replica,
            req.caller,
            req.from,
            req.link,
            req.endpoint,
        );
        tried[n] = replica;
        let Some(to) = self
            .fleet
            .pick_other(self.spec.service(svc), svc, now, &tried[..=n])
        else {
            return Ok(false);
        };
        // A client's request without policies has no invocation to hold its root: keep it.
        let root = self
            .caches
            .any
            .then(|| self.caches.root_of_slot[slot as usize]);
        self.fleet.outstanding(replica, false);
        self.release(slot);
        let next = self.send_to(caller, from, svc, to, link, endpoint, now, q)? as usize;
        if let Some(r) = root {
            self.caches.root_of_slot[next] = r;
        }
        if self.tried.len() <= next {
            self.tried.resize(next + 1, (0, 0, [0; 3]));
        }
        self.tried[next] = (self.requests[next as u32].gen, n as u8 + 1, tried);
        Ok(true)
    }

    /// The waiting end of a call (a client, or a parent request) learns its outcome.
    #[inline(always)]
    pub(super) fn root_learns(
        &mut self,
        root: CallerRef,
        from: u32,
        outcome: Outcome,
        started_at: SimTime,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        match root {
            CallerRef::Client { client, user } => {
                let c = client as usize;
                let st = &mut self.clients[c];
                st.in_flight -= 1;
                let in_flight = st.in_flight;
                self.obs.client_done(c, outcome, started_at, in_flight, now);
                if user != NO_USER {
                    if let Load::Closed { think_time, .. } = &self.spec.client(c).load {
                        let d = think_time.sample(&mut self.clients[c].think);
                        q.push(now + SimDuration(d), Event::UserWake { client, user });
                    }
                }
                Ok(())
            }
            CallerRef::Call {
                parent,
                parent_gen,
                call,
            } => {
                let parent_svc = from as usize - self.spec.clients.len();
                self.obs
                    .call_done(parent_svc, call as usize, outcome, started_at, now);
                if self.caches.any {
                    let edge = self.stacks.call_edge[parent_svc][call as usize] as usize;
                    if self.caches.by_edge[edge].is_some() {
                        return self.cache_filled(edge, parent, parent_gen, call, outcome, now, q);
                    }
                }
                self.child_done(parent, parent_gen, outcome, now, q)
            }
            CallerRef::Inv { inv, gen, tag } => {
                self.inv_child_result(inv, gen, tag, outcome, now, q)
            }
        }
    }

    #[inline]
    pub(super) fn child_done(
        &mut self,
        parent: u32,
        gen: u32,
        outcome: Outcome,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        let p = &mut self.requests[parent];
        if p.gen != gen || p.server_done {
            return Ok(()); // the parent already answered (it failed fast on another call)
        }
        match outcome {
            Outcome::Ok => {}
            // A degraded answer lets the request go on, and makes its own answer degraded.
            Outcome::Degraded => p.degraded = true,
            _ => return self.respond(parent, Outcome::Error, true, now, q),
        }
        match self.spec.service(p.service as usize).fan_out {
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

    /// Frees `slot` (its connection, if it held one, goes back to its pool).
    #[inline(always)]
    pub(super) fn release(&mut self, slot: u32) {
        if let Some(p) = self.requests.release(slot) {
            self.pools.give_back(p);
        }
    }
}
