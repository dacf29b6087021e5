//! A cache tier in front of a call: keys with a time to live, filled from the callee on a miss,
//! optionally with request coalescing (one fill per key in flight; the other misses for that
//! key wait for it, as with a singleflight group or memcache leases).
//!
//! One cache per call edge, shared by every replica of the calling service (a memcached or
//! Redis tier). A lookup draws its key from `keys` by the cache's popularity (uniform, or Zipf:
//! the k-th most popular in proportion to 1 / k^s, drawn by inverting a cumulative table). A hit
//! answers at once (the cache's own latency is not modelled); a miss becomes a call to the
//! callee, and a successful answer stores the key for `ttl`. Failures store nothing. With a
//! `capacity`, the cache holds at most that many entries: storing into a full cache evicts the
//! least recently used entry (a hit or a store makes an entry the most recent; an expired entry
//! keeps its place until it is evicted or stored again, as memcached frees lazily).
//!
//! It knows nothing of requests or events: the world asks `lookup`, reports `filled`, and
//! keeps who waits.

use super::spec::{CacheSpec, Popularity};
use crate::engine::{RngStream, SimTime};
use std::collections::BTreeMap;

/// Who waits on a call: (parent slot, parent generation, call index, when it started).
pub type Waiter = (u32, u32, u16, SimTime);

/// What a lookup found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    Hit,
    /// The cache tier is down: go to the callee, and store nothing.
    Down,
    /// Fill this key from the callee.
    Miss(u32),
    /// Coalesced: a fill of this key is in flight; wait for it.
    Wait(u32),
}

/// SplitMix64's finalizer: a bijection of 64-bit words whose outputs for consecutive inputs
/// pass as independent uniform draws (Steele, Lea and Flood 2014).
fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
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
    /// Entries evicted to make room (a cache with a `capacity`).
    pub evictions: u64,
    /// Lookups that found the cache tier down (they went to the callee).
    pub unreachable: u64,
}

/// No key (the end of the recency list).
const NONE: u32 = u32::MAX;

/// Keys in recency order, as a doubly linked list over key indices: O(1) to touch, insert and
/// evict, no allocation after construction.
struct Lru {
    prev: Vec<u32>,
    next: Vec<u32>,
    listed: Vec<bool>,
    /// Most and least recently used.
    head: u32,
    tail: u32,
    len: u32,
    capacity: u32,
}

impl Lru {
    fn new(keys: usize, capacity: u32) -> Self {
        Lru {
            prev: vec![NONE; keys],
            next: vec![NONE; keys],
            listed: vec![false; keys],
            head: NONE,
            tail: NONE,
            len: 0,
            capacity,
        }
    }

    fn unlink(&mut self, k: u32) {
        let (p, n) = (self.prev[k as usize], self.next[k as usize]);
        if p == NONE {
            self.head = n;
        } else {
            self.next[p as usize] = n;
        }
        if n == NONE {
            self.tail = p;
        } else {
            self.prev[n as usize] = p;
        }
        self.listed[k as usize] = false;
        self.len -= 1;
    }

    fn push_front(&mut self, k: u32) {
        self.prev[k as usize] = NONE;
        self.next[k as usize] = self.head;
        if self.head != NONE {
            self.prev[self.head as usize] = k;
        } else {
            self.tail = k;
        }
        self.head = k;
        self.listed[k as usize] = true;
        self.len += 1;
    }

    /// `k` was used: it becomes the most recent.
    fn touch(&mut self, k: u32) {
        if self.listed[k as usize] && self.head != k {
            self.unlink(k);
            self.push_front(k);
        }
    }

    /// `k` is stored: returns the key evicted to make room, if any.
    fn store(&mut self, k: u32) -> Option<u32> {
        if self.listed[k as usize] {
            self.touch(k);
            return None;
        }
        let evicted = (self.len >= self.capacity).then_some(self.tail);
        if let Some(e) = evicted {
            self.unlink(e);
        }
        self.push_front(k);
        evicted
    }
}

pub struct CacheState {
    spec: CacheSpec,
    /// Bounded capacity's recency order (None: every key fits).
    lru: Option<Lru>,
    /// Zipf popularity's cumulative probabilities by key (empty: uniform).
    cumulative: Vec<f64>,
    /// Per key: valid until (ns); 0 = absent.
    expiry: Vec<u64>,
    /// Per key: a fill is in flight (coalescing only).
    filling: Vec<bool>,
    /// Calls waiting on a key's fill (coalescing only).
    waiters: BTreeMap<u32, Vec<Waiter>>,
    /// Fills in flight: (parent slot, generation, call) -> key.
    fills: BTreeMap<(u32, u32, u16), u32>,
    /// Mixed into every root's number: the keys depend on the seed and the cache.
    salt: u64,
    /// The lookups' own latencies (a stream apart, so adding a latency moves no key draw).
    latency_rng: RngStream,
    /// Lookups on their way to the cache tier: (parent slot, generation, call) -> when the
    /// call started.
    pub travelling: BTreeMap<(u32, u32, u16), u64>,
    /// The tier is down (a `CacheDown` fault): lookups find nothing, fills store nothing.
    down: bool,
    /// Lookups take this many times their latency (a `SlowCache` fault).
    pub slow_factor: f64,
    counting_from: SimTime,
    pub report: CacheReport,
}

impl CacheState {
    /// Reseeds the lookups' latency stream (see [`RngStream::reseed`]); which key a request
    /// asks for follows from its number and stays.
    pub fn reseed(&mut self, salt: u64) {
        self.latency_rng.reseed(salt);
    }

    pub fn new(
        spec: CacheSpec,
        mut rng: RngStream,
        latency_rng: RngStream,
        counting_from: SimTime,
    ) -> Self {
        let n = spec.keys as usize;
        // A warm cache starts full, every key loaded at time zero: they all expire together.
        let start = if spec.warm { spec.ttl.0 } else { 0 };
        let cumulative = match spec.popularity {
            Popularity::Uniform => Vec::new(),
            Popularity::Zipf { s } => {
                let mut acc = 0.0;
                let mut c: Vec<f64> = (1..=n)
                    .map(|k| {
                        acc += libm::pow(k as f64, -s);
                        acc
                    })
                    .collect();
                c.iter_mut().for_each(|x| *x /= acc);
                if let Some(last) = c.last_mut() {
                    *last = 1.0;
                }
                c
            }
        };
        let mut lru = spec.capacity.map(|cap| Lru::new(n, cap));
        if let (Some(l), true) = (&mut lru, spec.warm) {
            // Warm and bounded: the most popular keys fill it (key 0 the most recent).
            for k in (0..(l.capacity as usize).min(n)).rev() {
                l.store(k as u32);
            }
        }
        let expiry = match &lru {
            Some(l) if spec.warm => (0..n)
                .map(|k| if l.listed[k] { start } else { 0 })
                .collect(),
            _ => vec![start; n],
        };
        CacheState {
            lru,
            cumulative,
            expiry,
            filling: vec![false; if spec.coalesce { n } else { 0 }],
            waiters: BTreeMap::new(),
            fills: BTreeMap::new(),
            salt: rng.next_u64(),
            latency_rng,
            travelling: BTreeMap::new(),
            down: false,
            slow_factor: 1.0,
            counting_from,
            report: CacheReport::default(),
            spec,
        }
    }

    /// The key a lookup made for root request `root` asks for: a uniform number made from
    /// the root's number and this cache's salt (drawn from its stream), mapped through the
    /// popularity. Every lookup of one root request (its retries and hedges included, which
    /// keep the root's number) asks for the same key; different roots are independent draws.
    fn key_of(&self, root: u64) -> u32 {
        let x = mix64(root ^ self.salt);
        if self.cumulative.is_empty() {
            // Lemire's multiply-shift: uniform over the keys from the top bits.
            return ((x as u128 * self.spec.keys as u128) >> 64) as u32;
        }
        let u = (x >> 11) as f64 * (1.0 / (1u64 << 53) as f64);
        self.cumulative.partition_point(|&c| c <= u) as u32
    }

    /// How long the next lookup takes to come back (None: the cache answers at once).
    pub fn latency_ns(&mut self) -> Option<u64> {
        let d = self.spec.latency.as_ref()?.sample(&mut self.latency_rng);
        Some((d as f64 * self.slow_factor).round() as u64)
    }

    /// A call of root request `root` looks its key up at `now`.
    pub fn lookup(&mut self, root: u64, now: SimTime) -> Lookup {
        let key = self.key_of(root);
        let counting = now >= self.counting_from;
        if self.down {
            self.report.unreachable += counting as u64;
            return Lookup::Down;
        }
        if self.expiry[key as usize] > now.0 {
            self.report.hits += counting as u64;
            if let Some(l) = &mut self.lru {
                l.touch(key);
            }
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
        if ok && !self.down {
            self.expiry[key as usize] = now.0 + self.spec.ttl.0;
            if let Some(e) = self.lru.as_mut().and_then(|l| l.store(key)) {
                self.expiry[e as usize] = 0;
                self.report.evictions += (now >= self.counting_from) as u64;
            }
            self.report.fills += (now >= self.counting_from) as u64;
        }
        if self.spec.coalesce {
            self.filling[key as usize] = false;
            return self.waiters.remove(&key);
        }
        None
    }

    /// The tier goes down (its process gone: every key lost) or comes back, empty.
    pub fn set_down(&mut self, down: bool) {
        if down {
            self.expiry.iter_mut().for_each(|e| *e = 0);
        }
        self.down = down;
    }

    /// Every key is dropped (a flush, a restart of the cache tier).
    pub fn flush(&mut self, now: SimTime) {
        self.expiry.iter_mut().for_each(|e| *e = 0);
        self.report.flushes += (now >= self.counting_from) as u64;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::SimDuration;

    /// Runs `lookups` through a cache whose misses are filled at once (no coalescing, a TTL
    /// longer than the run) and returns the hit ratio after the first `warm` lookups.
    fn hit_ratio(keys: u32, capacity: u32, s: f64, warm: u64, lookups: u64) -> f64 {
        let spec = CacheSpec {
            keys,
            capacity: Some(capacity),
            popularity: Popularity::Zipf { s },
            ttl: SimDuration::from_secs(1_000_000),
            coalesce: false,
            warm: false,
            latency: None,
        };
        let mut c = CacheState::new(
            spec,
            RngStream::derive(9, "che", "cache"),
            RngStream::derive(9, "che", "latency"),
            SimTime(warm),
        );
        for i in 0..warm + lookups {
            let now = SimTime(i);
            if let Lookup::Miss(k) = c.lookup(i, now) {
                c.start_fill(0, 0, 0, k);
                c.finished(0, 0, 0, true, now);
            }
        }
        c.report.hits as f64 / (c.report.hits + c.report.misses) as f64
    }

    /// Che's approximation for LRU under independent requests with popularity p_i: the
    /// characteristic time T solves sum_i (1 - exp(-p_i T)) = C, and the hit ratio is
    /// sum_i p_i (1 - exp(-p_i T)). Computed here by bisection, independently of the cache;
    /// it is known to be accurate to about a percent at these sizes.
    fn che(keys: u32, capacity: u32, s: f64) -> f64 {
        let w: Vec<f64> = (1..=keys).map(|k| libm::pow(k as f64, -s)).collect();
        let total: f64 = w.iter().sum();
        let p: Vec<f64> = w.iter().map(|x| x / total).collect();
        let filled = |t: f64| p.iter().map(|&q| 1.0 - libm::exp(-q * t)).sum::<f64>();
        let (mut lo, mut hi) = (0.0, 1e12);
        for _ in 0..200 {
            let mid = (lo + hi) / 2.0;
            if filled(mid) < capacity as f64 {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        p.iter().map(|&q| q * (1.0 - libm::exp(-q * lo))).sum()
    }

    #[test]
    fn lru_hit_ratios_under_zipf_follow_ches_approximation() {
        for (keys, capacity, s) in [
            (10_000, 1_000, 0.8),
            (10_000, 500, 1.0),
            (5_000, 2_000, 0.6),
        ] {
            let sim = hit_ratio(keys, capacity, s, 200_000, 1_000_000);
            let want = che(keys, capacity, s);
            println!("keys {keys} capacity {capacity} s {s}: simulated {sim:.4}, Che {want:.4}");
            assert!(
                (sim - want).abs() < 0.01,
                "keys {keys}, capacity {capacity}, s {s}: simulated {sim:.4}, Che {want:.4}"
            );
        }
    }

    #[test]
    fn the_least_recently_used_entry_is_evicted() {
        let mut l = Lru::new(4, 2);
        assert_eq!(l.store(0), None);
        assert_eq!(l.store(1), None);
        l.touch(0); // 1 is now the least recent
        assert_eq!(l.store(2), Some(1));
        assert_eq!(l.store(3), Some(0));
        assert_eq!(l.store(3), None); // already held: only touched
        assert_eq!(l.len, 2);
    }
}
