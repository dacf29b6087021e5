//! The world's side of cache tiers (the cache itself, keys, TTLs and coalescing, is
//! `model/cache.rs`): a call on a cached edge looks its key up before any policy or network
//! sees it, and a fill's answer is stored and handed to the calls that waited for it.
//!
//! It owns the caches per call edge ([`Caches`]) and, of the rest, only reports call outcomes
//! and continues parent requests (`child_done`). Scenarios without caches pay one flag
//! (`Caches::any`) per call.

use super::event::Event;
use super::{Observer, World};
use crate::engine::{EventQueue, LimitHit, RngStream, SimTime};
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
                if let Some(c) = call.cache {
                    let name = format!(
                        "cache:service:{}->service:{}/call:{i}",
                        s.name, spec.services[call.to].name
                    );
                    by_edge[call_edge[si][i] as usize] = Some(Box::new(CacheState::new(
                        c,
                        RngStream::derive(seed, &name, "keys"),
                        count_from,
                    )));
                }
            }
        }
        Caches {
            any: by_edge.iter().any(Option::is_some),
            by_edge,
        }
    }

    /// Does policy edge `edge` have a cache?
    #[inline]
    pub fn on(&self, edge: usize) -> bool {
        self.any && self.by_edge[edge].is_some()
    }
}

impl<O: Observer> World<O> {
    /// A call on a cached edge looks its key up: a hit is recorded as an `ok` call (the
    /// caller continues), a coalesced miss waits for the fill in flight, a miss is recorded as
    /// a fill and goes on to the callee.
    #[cold]
    #[inline(never)]
    pub(super) fn cached_call(
        &mut self,
        edge: u32,
        root: CallerRef,
        now: SimTime,
    ) -> Option<Lookup> {
        let CallerRef::Call {
            parent,
            parent_gen,
            call,
        } = root
        else {
            return None;
        };
        let cache = self.caches.by_edge[edge as usize]
            .as_mut()
            .expect("cached edge");
        let found = cache.lookup(now);
        let svc = self.requests[parent].service as usize;
        self.obs
            .cache_lookup(svc, call as usize, found == Lookup::Hit, now);
        match found {
            Lookup::Hit => {
                self.obs
                    .call_done(svc, call as usize, Outcome::Ok, now, now);
            }
            Lookup::Wait(key) => cache.wait(key, (parent, parent_gen, call, now)),
            Lookup::Miss(key) => cache.start_fill(parent, parent_gen, call, key),
        }
        Some(found)
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
