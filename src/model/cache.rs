//! A cache tier in front of a call: keys with a time to live, filled from the callee on a miss,
//! optionally with request coalescing (one fill per key in flight; the other misses for that
//! key wait for it, as with a singleflight group or memcache leases).
//!
//! One cache per call edge, shared by every replica of the calling service (a memcached or
//! Redis tier). A lookup draws its key uniformly from `keys`. A hit answers at once (the
//! cache's own latency is not modelled); a miss becomes a call to the callee, and a successful
//! answer stores the key for `ttl`. Failures store nothing.
//!
//! It knows nothing of requests or events: the world asks `lookup`, reports `filled`, and
//! keeps who waits.

use super::spec::CacheSpec;
use crate::engine::{RngStream, SimTime};
use std::collections::BTreeMap;

/// Who waits on a call: (parent slot, parent generation, call index, when it started).
pub type Waiter = (u32, u32, u16, SimTime);

/// What a lookup found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    Hit,
    /// Fill this key from the callee.
    Miss(u32),
    /// Coalesced: a fill of this key is in flight; wait for it.
    Wait(u32),
}

/// A cache's figures, for the summary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct CacheReport {
    pub hits: u64,
    pub misses: u64,
    /// Misses that waited for a fill already in flight instead of calling.
    pub coalesced: u64,
    pub fills: u64,
    pub flushes: u64,
}

pub struct CacheState {
    spec: CacheSpec,
    /// Per key: valid until (ns); 0 = absent.
    expiry: Vec<u64>,
    /// Per key: a fill is in flight (coalescing only).
    filling: Vec<bool>,
    /// Calls waiting on a key's fill (coalescing only).
    waiters: BTreeMap<u32, Vec<Waiter>>,
    /// Fills in flight: (parent slot, generation, call) -> key.
    fills: BTreeMap<(u32, u32, u16), u32>,
    rng: RngStream,
    counting_from: SimTime,
    pub report: CacheReport,
}

impl CacheState {
    pub fn new(spec: CacheSpec, rng: RngStream, counting_from: SimTime) -> Self {
        let n = spec.keys as usize;
        // A warm cache starts full, every key loaded at time zero: they all expire together.
        let start = if spec.warm { spec.ttl.0 } else { 0 };
        CacheState {
            expiry: vec![start; n],
            filling: vec![false; if spec.coalesce { n } else { 0 }],
            waiters: BTreeMap::new(),
            fills: BTreeMap::new(),
            rng,
            counting_from,
            report: CacheReport::default(),
            spec,
        }
    }

    /// A call looks its key up at `now`.
    pub fn lookup(&mut self, now: SimTime) -> Lookup {
        let key = self.rng.below(self.spec.keys as u64) as u32;
        let counting = now >= self.counting_from;
        if self.expiry[key as usize] > now.0 {
            self.report.hits += counting as u64;
            return Lookup::Hit;
        }
        self.report.misses += counting as u64;
        if self.spec.coalesce {
            if self.filling[key as usize] {
                self.report.coalesced += counting as u64;
                return Lookup::Wait(key);
            }
            self.filling[key as usize] = true;
        }
        Lookup::Miss(key)
    }

    /// Call (`parent`, `gen`, `call`) will fill `key`.
    pub fn start_fill(&mut self, parent: u32, gen: u32, call: u16, key: u32) {
        self.fills.insert((parent, gen, call), key);
    }

    /// `w` waits for the fill of `key`.
    pub fn wait(&mut self, key: u32, w: Waiter) {
        self.waiters.entry(key).or_default().push(w);
    }

    /// The call (`parent`, `gen`, `call`) finished: if it was a fill, store the key on success
    /// and hand back whoever waited for it.
    pub fn finished(
        &mut self,
        parent: u32,
        gen: u32,
        call: u16,
        ok: bool,
        now: SimTime,
    ) -> Option<Vec<Waiter>> {
        let key = self.fills.remove(&(parent, gen, call))?;
        if ok {
            self.expiry[key as usize] = now.0 + self.spec.ttl.0;
            self.report.fills += (now >= self.counting_from) as u64;
        }
        if self.spec.coalesce {
            self.filling[key as usize] = false;
            return self.waiters.remove(&key);
        }
        None
    }

    /// Every key is dropped (a flush, a restart of the cache tier).
    pub fn flush(&mut self, now: SimTime) {
        self.expiry.iter_mut().for_each(|e| *e = 0);
        self.report.flushes += (now >= self.counting_from) as u64;
    }
}
