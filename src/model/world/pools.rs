//! Bounded connection pools on calls: one pool per caller replica and pooled call, whose
//! attempts take a connection before they cross the link, or wait for one in FIFO order (the
//! wait runs on the caller's own timeouts). A connection comes back when the request's slot is
//! freed; the waiters get the freed connections at the end of the event that freed them.
//!
//! [`Pools`] owns the pools and their counts and knows nothing of requests beyond the
//! (slot, generation) pairs it queues; the world decides who is still wanted and sends.
//! Scenarios without pools pay one flag (`Pools::any`) per event.

use super::event::Event;
use super::{Observer, World};
use crate::engine::{EventQueue, LimitHit, SimTime};
use crate::model::request::{CallerRef, NO_POOL};
use crate::model::spec::SystemSpec;
use crate::model::stack::EdgeOwner;
use std::collections::VecDeque;

/// A bounded connection pool of one caller replica for one call.
pub(super) struct Pool {
    pub size: u32,
    pub in_use: u32,
    /// Attempts waiting for a connection: (slot, generation).
    pub waiting: VecDeque<(u32, u32)>,
    pub waited: u64,
    pub max_waiting: u32,
    /// Waiting attempts dropped because their caller had given up (a timeout) meanwhile.
    pub abandoned: u64,
}

pub(super) struct Pools {
    /// Per policy edge: its first pool (one per caller replica), or NO_POOL.
    pub base: Vec<u32>,
    pub all: Vec<Pool>,
    /// Some call has a pool: the only thing scenarios without pools look at.
    pub any: bool,
    /// Pools that freed a connection during this event (their waiters go next).
    pub freed: Vec<u32>,
}

impl Pools {
    /// A pool per caller replica for every call with `connections`; `call_edge[s][i]` is the
    /// policy edge of call `i` of service `s`, and there are `edges` edges in all.
    pub fn new(spec: &SystemSpec, call_edge: &[Vec<u32>], edges: usize) -> Self {
        let mut base = vec![NO_POOL; edges];
        let mut all = Vec::new();
        for (si, s) in spec.services.iter().enumerate() {
            for (i, call) in s.calls.iter().enumerate() {
                if let Some(size) = call.connections {
                    base[call_edge[si][i] as usize] = all.len() as u32;
                    for _ in 0..s.replicas {
                        all.push(Pool {
                            size,
                            in_use: 0,
                            waiting: VecDeque::new(),
                            waited: 0,
                            max_waiting: 0,
                            abandoned: 0,
                        });
                    }
                }
            }
        }
        Pools {
            base,
            any: !all.is_empty(),
            all,
            freed: Vec::new(),
        }
    }

    /// The pool of caller replica `local` on policy edge `edge`, if that call has pools.
    #[inline]
    pub fn of(&self, edge: u32, local: u32) -> Option<u32> {
        let base = self.base[edge as usize];
        (base != NO_POOL).then_some(base + local)
    }

    /// A connection of pool `p` comes back (its request's slot was freed).
    #[inline]
    pub fn give_back(&mut self, p: u32) {
        let pool = &mut self.all[p as usize];
        debug_assert!(pool.in_use > 0, "a connection came back that was not taken");
        pool.in_use -= 1;
        self.freed.push(p);
    }

    /// The next attempt waiting on pool `p`, when it has a connection free.
    fn next_waiter(&mut self, p: u32) -> Option<(u32, u32)> {
        let pool = &mut self.all[p as usize];
        if pool.in_use >= pool.size {
            return None;
        }
        pool.waiting.pop_front()
    }
}

impl<O: Observer> World<O> {
    /// The pool an attempt from `caller` goes through, if its call has one.
    fn pool_of(&self, caller: CallerRef) -> Option<u32> {
        let (edge, local) = match caller {
            CallerRef::Client { .. } => return None,
            CallerRef::Call { parent, call, .. } => {
                let r = self.requests[parent].replica;
                let svc = self.fleet.replicas[r as usize].service as usize;
                (
                    self.stacks.call_edge[svc][call as usize],
                    r - self.fleet.services[svc].first_replica,
                )
            }
            CallerRef::Inv { inv, .. } => {
                let v = &self.stacks.invs[inv as usize];
                (v.edge, v.caller_replica)
            }
        };
        self.pools.of(edge, local)
    }

    /// Who owns the policy edge an attempt from `caller` goes through (pools are on calls).
    fn pool_owner(&self, caller: CallerRef) -> EdgeOwner {
        match caller {
            CallerRef::Client { client, .. } => EdgeOwner::Client(client as usize),
            CallerRef::Call { parent, call, .. } => EdgeOwner::Call {
                service: self.requests[parent].service as usize,
                call: call as usize,
            },
            CallerRef::Inv { inv, .. } => {
                self.stacks.edges[self.stacks.invs[inv as usize].edge as usize].owner
            }
        }
    }

    /// The attempt in `slot` takes a connection from its pool (true), or queues for one.
    #[cold]
    #[inline(never)]
    pub(super) fn take_connection(&mut self, slot: u32, caller: CallerRef, now: SimTime) -> bool {
        let Some(p) = self.pool_of(caller) else {
            return true;
        };
        let counting = now >= self.count_from;
        let gen = self.requests[slot].gen;
        self.requests[slot].pool = p;
        let pool = &mut self.pools.all[p as usize];
        if pool.in_use < pool.size {
            pool.in_use += 1;
            self.requests[slot].pool_held = true;
            return true;
        }
        pool.waiting.push_back((slot, gen));
        pool.waited += counting as u64;
        pool.max_waiting = pool.max_waiting.max(pool.waiting.len() as u32);
        if let EdgeOwner::Call { service, call } = self.pool_owner(caller) {
            self.obs.pool_wait(service, call, now);
        }
        false
    }

    /// Hands freed connections to the attempts waiting for them, skipping (and dropping) the
    /// ones whose caller has given up meanwhile.
    #[cold]
    #[inline(never)]
    pub(super) fn dispatch_pools(
        &mut self,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        while let Some(p) = self.pools.freed.pop() {
            while let Some((slot, gen)) = self.pools.next_waiter(p) {
                let r = &self.requests[slot];
                if r.gen != gen || !r.live {
                    continue;
                }
                if !self.still_wanted(r.caller) {
                    self.pools.all[p as usize].abandoned += (now >= self.count_from) as u64;
                    self.lose(slot);
                    continue;
                }
                self.pools.all[p as usize].in_use += 1;
                self.requests[slot].pool_held = true;
                self.transmit(slot, now, q)?;
            }
        }
        Ok(())
    }
}
