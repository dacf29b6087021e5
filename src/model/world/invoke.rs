//! Policy stacks at work: a call enters its stack's outermost layer as an invocation; each
//! layer asks its `policy/` instance what to do (a breaker may reject, a bulkhead may queue, a
//! limiter may delay), sets its timers, and starts what is inside it, down to the request
//! itself. Results come back up layer by layer: a retry may start another attempt, a breaker
//! records the outcome, a fallback turns a failure into `degraded`, a hedge launches another
//! attempt and takes the first success; a layer that already answered ignores late results.
//!
//! This is the mechanism; the decisions are the policies'. It changes invocations and the
//! layers' instances and counters (`model/stack.rs` holds them); it sends requests through the
//! network and hands outcomes to whoever waits (`root_learns`). It knows nothing of replicas,
//! queues or links beyond telling passive health checking which request timed out.

use super::event::{push_breaker_wake, push_timeout, push_timer, timer, Event};
use super::{Observer, World};
use crate::engine::{EventQueue, LimitHit, SimDuration, SimTime};
use crate::model::request::{CallerRef, NO_SLOT};
use crate::model::spec::*;
use crate::model::stack::{BudgetState, Instance, Inv};
use crate::policy::backoff::BackoffState;
use crate::policy::breaker::BreakerState;
use crate::policy::limit::Admission;
use crate::policy::{Outcome, OutcomeSet};

impl<O: Observer> World<O> {
    /// Starts a call on `edge` for `root`: its cache first, if it has one, then the callee.
    #[inline(always)]
    pub(super) fn start_call(
        &mut self,
        edge: u32,
        root: CallerRef,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        if let CallerRef::Call { parent, call, .. } = root {
            let svc = self.requests[parent].service as usize;
            self.obs.call_started(svc, call as usize, now);
        }
        if self.caches.on(edge as usize) && self.cache_first(edge, root, now, q)? {
            return Ok(());
        }
        self.call_through(edge, root, now, q)
    }

    /// A call past its cache (if it has one) goes to the endpoint of the callee its caller
    /// names (or one drawn by the callee's shares, kept by every attempt of the call):
    /// straight to the network when the edge has no policies, otherwise into the outermost
    /// layer.
    #[inline(always)]
    pub(super) fn call_through(
        &mut self,
        edge: u32,
        root: CallerRef,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        let e = &self.stacks.edges[edge as usize];
        let (from, to, link, plain) = (e.from, e.to, e.link, e.layers.is_empty());
        let endpoint = if self.endpoints {
            self.callee_endpoint(root, to)
        } else {
            0
        };
        if plain {
            self.send_here(root, from, to, link, endpoint, now, q)?;
            return Ok(());
        }
        let (caller_entity, caller_replica) = match root {
            CallerRef::Client { client, .. } => (self.client_entity(client), 0),
            CallerRef::Call { parent, .. } => {
                let r = self.requests[parent].replica;
                let first = self.fleet.services[self.fleet.replicas[r as usize].service as usize]
                    .first_replica;
                (self.replica_entity(r), r - first)
            }
            CallerRef::Inv { .. } => unreachable!("a root is a client or a call"),
        };
        self.invoke(
            edge,
            0,
            root,
            caller_entity,
            caller_replica,
            endpoint,
            now,
            q,
        )
    }

    /// The endpoint of service `to` a call from `root` goes to: the one the client, the call or
    /// the calling endpoint's call names, else one drawn by `to`'s shares. A sequential calling
    /// request's `next_call` is one past the entry of its endpoint's calls being started.
    #[cold]
    #[inline(never)]
    fn callee_endpoint(&mut self, root: CallerRef, to: usize) -> u8 {
        let named = match root {
            CallerRef::Client { client, .. } => self.spec.client(client as usize).endpoint,
            CallerRef::Call { parent, call, .. } => {
                let p = &self.requests[parent];
                let spec = self.spec.service(p.service as usize);
                if spec.endpoints.is_empty() {
                    spec.calls[call as usize].endpoint
                } else {
                    let calls = &spec.endpoints[p.endpoint as usize].calls;
                    match spec.fan_out {
                        // The entry being started: the parent moves on only when it is done.
                        FanOut::Sequential => calls[p.next_call as usize - 1].endpoint,
                        // Validation lists each call once per endpoint under a parallel fan-out.
                        FanOut::Parallel => {
                            calls
                                .iter()
                                .find(|c| c.call == call)
                                .expect("an endpoint's call")
                                .endpoint
                        }
                    }
                }
            }
            CallerRef::Inv { .. } => unreachable!("a root is a client or a call"),
        };
        self.fleet.endpoint(to, named)
    }

    /// Enters layer `layer` of `edge` on behalf of `parent`, for the callee's `endpoint`.
    #[allow(clippy::too_many_arguments)]
    fn invoke(
        &mut self,
        edge: u32,
        layer: u8,
        parent: CallerRef,
        caller_entity: u32,
        caller_replica: u32,
        endpoint: u8,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        let id = self.stacks.alloc(now)?;
        if self.caches.any {
            let root = self.caches.root_of(parent);
            super::cache::Caches::set_root(&mut self.caches.root_of_inv, id, root);
        }
        // The deadline inherited from outside: the enclosing layer's, or the calling request's
        // when this edge propagates deadlines.
        let inherited = match parent {
            CallerRef::Inv { inv, .. } => self.stacks.invs[inv as usize].deadline_ns,
            CallerRef::Call { parent: p, .. }
                if self.stacks.edges[edge as usize].propagate_deadline =>
            {
                self.requests[p].deadline_ns
            }
            _ => u64::MAX,
        };
        let l = &mut self.stacks.edges[edge as usize].layers[layer as usize];
        let instance = l.instance_index(caller_replica);
        l.count(instance, now >= self.count_from, |c| c.calls += 1);
        let deadline_ns = match l.spec {
            PolicySpec::Timeout { timeout } => inherited.min((now + timeout).0),
            _ => inherited,
        };
        let v = &mut self.stacks.invs[id as usize];
        let gen = v.gen;
        *v = Inv {
            gen,
            edge,
            layer,
            instance: instance as u32,
            done: false,
            parent,
            caller_entity,
            caller_replica,
            started_at_ns: now.0,
            child_started_at_ns: now.0,
            attempt: 1,
            backoff: BackoffState::default(),
            ticket: None,
            bulkhead_ticket: 0,
            pending: 0,
            deadline_ns,
            child_slot: NO_SLOT,
            child_gen: 0,
            endpoint,
        };
        let t = now.0;
        let e = &mut self.stacks.edges[edge as usize];
        let rng = &mut e.rng;
        let l = &mut e.layers[layer as usize];
        match (&l.spec, &mut l.instances[instance]) {
            (PolicySpec::Timeout { timeout }, _) => {
                let at = now + *timeout;
                push_timeout(q, now, at, id, gen);
                self.start_inner(id, now, q)
            }
            (PolicySpec::Deadline, _) => {
                if deadline_ns == u64::MAX {
                    self.start_inner(id, now, q)
                } else if deadline_ns <= t {
                    // Already past the caller's deadline: fail without sending (gRPC's
                    // DEADLINE_EXCEEDED before the call).
                    l.count(instance, now >= self.count_from, |c| c.timeouts += 1);
                    self.inv_complete(id, Outcome::Timeout, now, q)
                } else {
                    push_timeout(q, now, SimTime(deadline_ns), id, gen);
                    self.start_inner(id, now, q)
                }
            }
            (PolicySpec::Retry(_), inst) => {
                if let Instance::Budget(BudgetState::Tps(b)) = inst {
                    b.deposit(t); // an original request pays into the ratio budget
                }
                self.start_inner(id, now, q)
            }
            (PolicySpec::CircuitBreaker { .. }, Instance::Breaker(b)) => {
                let before = b.state();
                let permitted = b.try_acquire(t).is_ok();
                if let Some(due) = l.breaker_settled(instance, before, t) {
                    push_breaker_wake(q, due, edge, layer, instance);
                }
                if permitted {
                    self.start_inner(id, now, q)
                } else {
                    l.count(instance, now >= self.count_from, |c| c.rejected += 1);
                    self.inv_complete(id, Outcome::Rejected, now, q)
                }
            }
            (PolicySpec::Bulkhead { .. }, Instance::Bulkhead(b)) => match b.try_acquire(t) {
                Admission::Granted => self.start_inner(id, now, q),
                Admission::Queued {
                    ticket,
                    deadline_ns,
                } => {
                    l.count(instance, now >= self.count_from, |c| c.waited += 1);
                    l.waiting[instance].insert(ticket, (id, gen));
                    self.stacks.invs[id as usize].bulkhead_ticket = ticket;
                    if let Some(d) = deadline_ns {
                        push_timer(q, SimTime(d), id, gen, timer::BULKHEAD_WAIT);
                    }
                    Ok(())
                }
                _ => {
                    l.count(instance, now >= self.count_from, |c| c.rejected += 1);
                    self.inv_complete(id, Outcome::Rejected, now, q)
                }
            },
            (PolicySpec::RateLimiter { .. }, Instance::Limiter(r)) => match r.try_acquire(t) {
                Admission::Granted => self.start_inner(id, now, q),
                Admission::DelayedUntil { at_ns } => {
                    l.count(instance, now >= self.count_from, |c| c.waited += 1);
                    push_timer(q, SimTime(at_ns), id, gen, timer::DELAY);
                    Ok(())
                }
                _ => {
                    l.count(instance, now >= self.count_from, |c| c.rejected += 1);
                    self.inv_complete(id, Outcome::Rejected, now, q)
                }
            },
            (PolicySpec::Fallback { .. }, _) => self.start_inner(id, now, q),
            (PolicySpec::FeatureFlag { .. }, Instance::Flag(f)) => {
                let was = f.turned_off;
                if f.enabled(t) {
                    if was > 0
                        && l.transitions[instance]
                            .last()
                            .is_some_and(|x| x.to == BreakerState::Open)
                    {
                        l.record_transition(instance, t, BreakerState::Open, BreakerState::Closed);
                    }
                    self.start_inner(id, now, q)
                } else {
                    l.count(instance, now >= self.count_from, |c| c.degraded += 1);
                    self.inv_complete(id, Outcome::Degraded, now, q)
                }
            }
            (PolicySpec::AdaptiveThrottle { .. }, Instance::Throttle(th)) => {
                if th.admit(t, rng.uniform()) {
                    self.start_inner(id, now, q)
                } else {
                    l.count(instance, now >= self.count_from, |c| c.rejected += 1);
                    self.inv_complete(id, Outcome::Rejected, now, q)
                }
            }
            (
                PolicySpec::Hedge {
                    max_hedged_attempts,
                    delay,
                },
                inst,
            ) => {
                let (max, delay) = (*max_hedged_attempts, *delay);
                let wait = match (delay, inst) {
                    (HedgeDelay::Fixed(d), _) => Some(d.0),
                    (HedgeDelay::Percentile { .. }, Instance::Latencies(w)) => Some(w.delay_ns()),
                    _ => None,
                };
                if delay == HedgeDelay::Parallel {
                    // Every attempt at once; set the counts first, as an attempt can answer
                    // within this event.
                    if now >= self.count_from {
                        l.counters[instance].hedges += max as u64;
                    }
                    let v = &mut self.stacks.invs[id as usize];
                    v.attempt = 1 + max;
                    v.pending = (1 + max) as u16;
                    for tag in 0..=max {
                        let v = &self.stacks.invs[id as usize];
                        if v.gen != gen || v.done {
                            break;
                        }
                        self.start_inner_tagged(id, tag as u16, now, q)?;
                    }
                    return Ok(());
                }
                self.stacks.invs[id as usize].pending = 1;
                if let Some(w) = wait.filter(|_| max > 0) {
                    push_timer(q, now + SimDuration(w), id, gen, timer::HEDGE);
                }
                self.start_inner_tagged(id, 0, now, q)
            }
            _ => unreachable!("each policy kind has its instance kind"),
        }
    }

    /// Launches the next attempt of hedging invocation `id`.
    fn hedge_launch(
        &mut self,
        id: u32,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        let v = &mut self.stacks.invs[id as usize];
        let tag = v.attempt as u16;
        v.attempt += 1;
        v.pending += 1;
        let (edge, layer, instance) = (v.edge, v.layer, v.instance);
        if now >= self.count_from {
            self.stacks.edges[edge as usize].layers[layer as usize].counters[instance as usize]
                .hedges += 1;
        }
        self.start_inner_tagged(id, tag, now, q)
    }

    /// Starts what is inside invocation `id`: the next layer, or the request itself.
    pub(super) fn start_inner(
        &mut self,
        id: u32,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        self.start_inner_tagged(id, 0, now, q)
    }

    fn start_inner_tagged(
        &mut self,
        id: u32,
        tag: u16,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        let v = &mut self.stacks.invs[id as usize];
        v.child_started_at_ns = now.0;
        let v = *v;
        let e = &self.stacks.edges[v.edge as usize];
        let me = CallerRef::Inv {
            inv: id,
            gen: v.gen,
            tag,
        };
        if (v.layer as usize) + 1 < e.layers.len() {
            self.invoke(
                v.edge,
                v.layer + 1,
                me,
                v.caller_entity,
                v.caller_replica,
                v.endpoint,
                now,
                q,
            )
        } else {
            let (from, to, link) = (e.from, e.to, e.link);
            self.send(me, from, to, link, v.endpoint, now, q)?;
            Ok(())
        }
    }

    /// Is whoever waits on `c` still waiting? (Cooperative cancellation for retry loops.)
    pub(super) fn still_wanted(&self, c: CallerRef) -> bool {
        match c {
            CallerRef::Client { .. } => true,
            CallerRef::Call {
                parent, parent_gen, ..
            } => {
                let p = &self.requests[parent];
                p.gen == parent_gen && !p.server_done
            }
            CallerRef::Inv { inv, gen, .. } => {
                let v = &self.stacks.invs[inv as usize];
                v.gen == gen && !v.done
            }
        }
    }

    /// What is inside invocation `id` finished with `outcome`.
    pub(super) fn inv_child_result(
        &mut self,
        id: u32,
        gen: u32,
        tag: u16,
        outcome: Outcome,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        let v = self.stacks.invs[id as usize];
        if v.gen != gen || v.done {
            return Ok(()); // this layer already answered (a timeout fired): the result is wasted
        }
        let t = now.0;
        let instance = v.instance as usize;
        let e = &mut self.stacks.edges[v.edge as usize];
        let rng = &mut e.rng;
        let l = &mut e.layers[v.layer as usize];
        match (&l.spec, &mut l.instances[instance]) {
            (PolicySpec::FeatureFlag { .. }, Instance::Flag(f)) => {
                let before = f.turned_off;
                f.record(t, OutcomeSet::failures().contains(outcome));
                if f.turned_off > before {
                    l.record_transition(instance, t, BreakerState::Closed, BreakerState::Open);
                }
                self.inv_complete(id, outcome, now, q)
            }
            (PolicySpec::AdaptiveThrottle { .. }, Instance::Throttle(th)) => {
                // The backend accepted unless it answered with an overload signal.
                if !matches!(outcome, Outcome::Overloaded | Outcome::Rejected) {
                    th.on_accept(t);
                }
                self.inv_complete(id, outcome, now, q)
            }
            (PolicySpec::Timeout { .. }, _)
            | (PolicySpec::Deadline, _)
            | (PolicySpec::RateLimiter { .. }, _) => self.inv_complete(id, outcome, now, q),
            (PolicySpec::CircuitBreaker { .. }, Instance::Breaker(b)) => {
                let before = b.state();
                b.on_result(t, outcome, t - v.child_started_at_ns);
                if let Some(due) = l.breaker_settled(instance, before, t) {
                    push_breaker_wake(q, due, v.edge, v.layer, instance);
                }
                self.inv_complete(id, outcome, now, q)
            }
            (PolicySpec::Bulkhead { .. }, Instance::Bulkhead(b)) => {
                let next = b.release(t);
                let waiter = next.and_then(|ticket| l.waiting[instance].remove(&ticket));
                if let Some((w, wgen)) = waiter {
                    if self.stacks.invs[w as usize].gen == wgen
                        && !self.stacks.invs[w as usize].done
                    {
                        self.start_inner(w, now, q)?;
                    }
                }
                self.inv_complete(id, outcome, now, q)
            }
            (PolicySpec::Fallback { on }, _) => {
                if on.contains(outcome) {
                    l.count(instance, now >= self.count_from, |c| c.degraded += 1);
                    self.inv_complete(id, Outcome::Degraded, now, q)
                } else {
                    self.inv_complete(id, outcome, now, q)
                }
            }
            (
                PolicySpec::Hedge {
                    max_hedged_attempts,
                    delay,
                },
                inst,
            ) => {
                let (max, delay) = (*max_hedged_attempts, *delay);
                let failed = OutcomeSet::failures().contains(outcome);
                if !failed {
                    if tag > 0 && now >= self.count_from {
                        l.counters[instance].hedges_won += 1;
                    }
                    if let Instance::Latencies(w) = inst {
                        w.record(t - v.started_at_ns);
                    }
                    return self.inv_complete(id, outcome, now, q);
                }
                let inv = &mut self.stacks.invs[id as usize];
                inv.pending -= 1;
                if inv.attempt < 1 + max && delay != HedgeDelay::Parallel {
                    // An attempt failed: the next one goes out at once.
                    return self.hedge_launch(id, now, q);
                }
                if inv.pending == 0 {
                    return self.inv_complete(id, outcome, now, q);
                }
                Ok(())
            }
            (PolicySpec::Retry(r), inst) => {
                let ok = !OutcomeSet::failures().contains(outcome);
                if let Instance::Budget(b) = inst {
                    match b {
                        BudgetState::Aws(a) if ok => a.on_success(v.ticket),
                        BudgetState::Grpc(g) => {
                            if ok {
                                g.on_success()
                            } else {
                                g.on_failure()
                            }
                        }
                        _ => {}
                    }
                }
                if !r.retry_on.contains(outcome) {
                    return self.inv_complete(id, outcome, now, q);
                }
                if v.attempt >= r.max_attempts {
                    l.count(instance, now >= self.count_from, |c| {
                        c.attempts_exhausted += 1
                    });
                    return self.inv_complete(id, outcome, now, q);
                }
                // Ask the budget for one more attempt.
                let mut ticket = v.ticket;
                let allowed = match inst {
                    Instance::Budget(BudgetState::Aws(a)) => {
                        match a.try_retry(outcome == Outcome::Timeout) {
                            Some(tk) => {
                                ticket = Some(tk);
                                true
                            }
                            None => false,
                        }
                    }
                    Instance::Budget(BudgetState::Tps(b)) => b.withdraw(t),
                    Instance::Budget(BudgetState::Grpc(g)) => g.allows_retry(),
                    _ => true,
                };
                if !allowed {
                    l.count(instance, now >= self.count_from, |c| {
                        c.budget_exhausted += 1
                    });
                    return self.inv_complete(id, outcome, now, q);
                }
                // `r` still borrows the layer's spec: touch the counters field directly.
                if now >= self.count_from {
                    l.counters[instance].retries += 1;
                }
                let u = rng.uniform();
                let inv = &mut self.stacks.invs[id as usize];
                let delay = r.backoff.delay_ns(inv.attempt, &mut inv.backoff, u);
                inv.attempt += 1;
                inv.ticket = ticket;
                if delay == 0 {
                    self.start_inner(id, now, q)
                } else {
                    push_timer(q, now + SimDuration(delay), id, gen, timer::RETRY);
                    Ok(())
                }
            }
            _ => unreachable!("each policy kind has its instance kind"),
        }
    }

    /// Invocation `id` answers its parent with `outcome` and is freed.
    pub(super) fn inv_complete(
        &mut self,
        id: u32,
        outcome: Outcome,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        let v = &mut self.stacks.invs[id as usize];
        debug_assert!(!v.done, "an invocation answers once");
        v.done = true;
        let v = *v;
        self.stacks.free(id);
        let from = self.stacks.edges[v.edge as usize].from;
        self.root_learns(v.parent, from, outcome, SimTime(v.started_at_ns), now, q)
    }

    pub(super) fn policy_timer(
        &mut self,
        id: u32,
        gen: u32,
        what: u8,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        let v = self.stacks.invs[id as usize];
        if v.gen != gen || v.done {
            return Ok(()); // the invocation already answered
        }
        let instance = v.instance as usize;
        match what {
            timer::TIMEOUT => {
                if now >= self.count_from {
                    self.stacks.edges[v.edge as usize].layers[v.layer as usize].counters
                        [instance]
                        .timeouts += 1;
                }
                self.attempt_timed_out(v.child_slot, v.child_gen, now);
                self.inv_complete(id, Outcome::Timeout, now, q)
            }
            timer::RETRY => {
                if self.still_wanted(v.parent) {
                    self.start_inner(id, now, q)
                } else {
                    // Nobody waits any more (an outer timeout fired): stop retrying.
                    self.inv_complete(id, Outcome::Timeout, now, q)
                }
            }
            timer::BULKHEAD_WAIT => {
                let l = &mut self.stacks.edges[v.edge as usize].layers[v.layer as usize];
                if let Instance::Bulkhead(b) = &mut l.instances[instance] {
                    if b.cancel(v.bulkhead_ticket) {
                        l.waiting[instance].remove(&v.bulkhead_ticket);
                        l.count(instance, now >= self.count_from, |c| c.rejected += 1);
                        return self.inv_complete(id, Outcome::Rejected, now, q);
                    }
                }
                Ok(())
            }
            timer::DELAY => self.start_inner(id, now, q),
            timer::HEDGE => {
                let l = &self.stacks.edges[v.edge as usize].layers[v.layer as usize];
                let PolicySpec::Hedge {
                    max_hedged_attempts,
                    delay,
                } = l.spec
                else {
                    unreachable!("a hedge timer belongs to a hedge layer")
                };
                if v.attempt > max_hedged_attempts {
                    return Ok(());
                }
                let wait = match (delay, &l.instances[instance]) {
                    (HedgeDelay::Percentile { .. }, Instance::Latencies(w)) => w.delay_ns(),
                    (HedgeDelay::Fixed(d), _) => d.0,
                    _ => return Ok(()),
                };
                // Polly waits the delay since the last launch; a failure may have launched since.
                let due = v.child_started_at_ns + wait;
                if now.0 < due {
                    push_timer(q, SimTime(due), id, gen, timer::HEDGE);
                    return Ok(());
                }
                self.hedge_launch(id, now, q)?;
                let v = self.stacks.invs[id as usize];
                if v.gen == gen && !v.done && v.attempt < 1 + max_hedged_attempts {
                    push_timer(q, now + SimDuration(wait), id, gen, timer::HEDGE);
                }
                Ok(())
            }
            _ => unreachable!("unknown policy timer"),
        }
    }
}
