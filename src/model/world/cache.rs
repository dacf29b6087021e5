//! The world's side of cache tiers (the cache itself, keys, TTLs and coalescing, is
//! `model/cache.rs`): a call on a cached edge looks its key up before any policy or network
//! sees it, and a fill's answer is stored and handed to the calls that waited for it.
//!
//! It owns the caches per call edge ([`Caches`]) and, of the rest, only reports call outcomes
//! and continues parent requests (`child_done`). Scenarios without caches pay one flag
//! (`Caches::any`) per call.

use super::event::Event;
use super::{Observer, World};
use crate::engine::{EventQueue, LimitHit, RngStream, SimDuration, SimTime};
use crate::model::cache::{CacheState, Lookup};
use crate::model::request::CallerRef;
use crate::model::spec::SystemSpec;
use crate::model::stack::EdgeOwner;
use crate::policy::Outcome;

pub(super) struct Caches {
    /// Per policy edge: the cache in front of it (call edges only).
    pub by_edge: Vec<Option<Box<CacheState>>>,
    /// Some call has a cache.
    pub any: bool,
    /// With a cache somewhere, the root request (numbered from 1 as clients send them) each
    /// live request and invocation belongs to, by slot: a lookup asks for its root's key, so
    /// a client's retries and hedges of one request ask for the same keys.
    pub root_of_slot: Vec<u64>,
    pub root_of_inv: Vec<u64>,
    /// The root request a client is sending now.
    pub root: u64,
}

impl Caches {
    /// A cache for every call with `cache`, with its key stream (`cache:service:A->service:B/
    /// call:I`, purpose `keys`); `call_edge[s][i]` is the policy edge of call `i` of `s`.
    pub fn new(
        spec: &SystemSpec,
        call_edge: &[Vec<u32>],
        edges: usize,
        seed: u64,
        count_from: SimTime,
    ) -> Self {
        let mut by_edge: Vec<Option<Box<CacheState>>> = (0..edges).map(|_| None).collect();
        for (si, s) in spec.services.iter().enumerate() {
            for (i, call) in s.calls.iter().enumerate() {
                if let Some(c) = &call.cache {
                    let name = format!(
                        "cache:service:{}->service:{}/call:{i}",
                        s.name, spec.services[call.to].name
                    );
                    by_edge[call_edge[si][i] as usize] = Some(Box::new(CacheState::new(
                        c.clone(),
                        RngStream::derive(seed, &name, "keys"),
                        RngStream::derive(seed, &name, "latency"),
                        count_from,
                    )));
                }
            }
        }
        Caches {
            any: by_edge.iter().any(Option::is_some),
            by_edge,
            root_of_slot: Vec::new(),
            root_of_inv: Vec::new(),
            root: 0,
        }
    }

    /// Records that request `slot` (or invocation, `inv`) belongs to root request `root`.
    #[cold]
    #[inline(never)]
    pub fn set_root(table: &mut Vec<u64>, index: u32, root: u64) {
        let i = index as usize;
        if table.len() <= i {
            table.resize(i + 1, 0);
        }
        table[i] = root;
    }

    /// The root request of whoever waits on `c`.
    pub fn root_of(&self, c: CallerRef) -> u64 {
        match c {
            CallerRef::Client { .. } => self.root,
            CallerRef::Call { parent, .. } => self.root_of_slot[parent as usize],
            CallerRef::Inv { inv, .. } => self.root_of_inv[inv as usize],
        }
    }

    /// Does policy edge `edge` have a cache?
    #[inline]
    pub fn on(&self, edge: usize) -> bool {
        self.any && self.by_edge[edge].is_some()
    }
}

impl<O: Observer> World<O> {
    /// A call on a cached edge: its lookup sets out for a cache tier with a latency (and comes
    /// back as a `CacheLookup` event), or is answered at once. Returns whether the call was
    /// handled here (a hit, a wait for a fill, a lookup on its way).
    #[cold]
    #[inline(never)]
    pub(super) fn cache_first(
        &mut self,
        edge: u32,
        root: CallerRef,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<bool, LimitHit> {
        let CallerRef::Call {
            parent,
            parent_gen,
            call,
        } = root
        else {
            return Ok(false);
        };
        let cache = self.caches.by_edge[edge as usize]
            .as_mut()
            .expect("cached edge");
        if let Some(d) = cache.latency_ns() {
            cache.travelling.insert((parent, parent_gen, call), now.0);
            q.push(
                now + SimDuration(d),
                Event::CacheLookup {
                    parent,
                    parent_gen,
                    call,
                },
            );
            return Ok(true);
        }
        match self.cached_call(edge, (parent, parent_gen, call), now, now) {
            Lookup::Hit => self.child_done(parent, parent_gen, Outcome::Ok, now, q)?,
            Lookup::Wait(_) => {}
            Lookup::Miss(_) | Lookup::Down => return Ok(false),
        }
        Ok(true)
    }

    /// A lookup comes back from its cache tier: a hit or a wait as at once, a miss (or a tier
    /// that is down) goes on to the callee through the call's policies. A lookup whose
    /// request has already answered (failed fast on another call) is dropped.
    #[cold]
    #[inline(never)]
    pub(super) fn cache_answer(
        &mut self,
        parent: u32,
        parent_gen: u32,
        call: u16,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        let svc = self.requests[parent].service as usize;
        let edge = self.stacks.call_edge[svc][call as usize];
        let started = self.caches.by_edge[edge as usize]
            .as_mut()
            .expect("cached edge")
            .travelling
            .remove(&(parent, parent_gen, call))
            .expect("a lookup on its way");
        let root = CallerRef::Call {
            parent,
            parent_gen,
            call,
        };
        if !self.still_wanted(root) {
            return Ok(());
        }
        match self.cached_call(edge, (parent, parent_gen, call), SimTime(started), now) {
            Lookup::Hit => self.child_done(parent, parent_gen, Outcome::Ok, now, q),
            Lookup::Wait(_) => Ok(()),
            Lookup::Miss(_) | Lookup::Down => self.call_through(edge, root, now, q),
        }
    }

    /// Call `call` of request `parent` (generation `parent_gen`) looks its key up: a hit is
    /// recorded as an `ok` call started at `started` (the caller continues), a coalesced miss
    /// waits for the fill in flight, a miss is recorded as a fill and goes on to the callee, as
    /// does a lookup in a tier that is down (which fills nothing).
    fn cached_call(
        &mut self,
        edge: u32,
        (parent, parent_gen, call): (u32, u32, u16),
        started: SimTime,
        now: SimTime,
    ) -> Lookup {
        let root_id = self.caches.root_of_slot[parent as usize];
        let cache = self.caches.by_edge[edge as usize]
            .as_mut()
            .expect("cached edge");
        let found = cache.lookup(root_id, now);
        let svc = self.requests[parent].service as usize;
        self.obs
            .cache_lookup(svc, call as usize, found == Lookup::Hit, now);
        match found {
            Lookup::Hit => {
                self.obs
                    .call_done(svc, call as usize, Outcome::Ok, started, now);
            }
            Lookup::Wait(key) => cache.wait(key, (parent, parent_gen, call, started)),
            Lookup::Miss(key) => cache.start_fill(parent, parent_gen, call, key),
            Lookup::Down => {}
        }
        found
    }

    /// A call on a cached edge finished: its own caller learns, then (a fill) the key is
    /// stored and the calls that waited for it learn the same outcome.
    #[allow(clippy::too_many_arguments)]
    #[cold]
    #[inline(never)]
    pub(super) fn cache_filled(
        &mut self,
        edge: usize,
        parent: u32,
        parent_gen: u32,
        call: u16,
        outcome: Outcome,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        let waiters = self.caches.by_edge[edge]
            .as_mut()
            .expect("cached edge")
            .finished(parent, parent_gen, call, outcome == Outcome::Ok, now);
        self.child_done(parent, parent_gen, outcome, now, q)?;
        // Every waiter called through this edge, so from the same service.
        let svc = match self.stacks.edges[edge].owner {
            EdgeOwner::Call { service, .. } => service,
            EdgeOwner::Client(_) => unreachable!("caches are on call edges"),
        };
        for (p, gen, c, started) in waiters.unwrap_or_default() {
            self.obs.call_done(svc, c as usize, outcome, started, now);
            self.child_done(p, gen, outcome, now, q)?;
        }
        Ok(())
    }
}
