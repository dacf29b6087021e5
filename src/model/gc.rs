//! Garbage collection as a model of a replica's heap: requests allocate, live data grows with
//! the requests the replica holds, and a stop-the-world collection runs when the allocations
//! since the last one fill the heap's free space. So collections come more often the faster
//! requests allocate and the less room live data leaves, and last longer the more live data
//! they must trace; a backlog makes both worse, which is the loop of a GC death spiral:
//! more requests held -> more live data -> longer, more frequent pauses -> slower service ->
//! more requests held. Nothing here is scripted: the pauses follow from the load.
//!
//! The rules (docs/scenario.md, `gc`):
//! - each request allocates `allocation_per_request_mb` when it starts its service;
//! - live data is `live_base_mb + live_per_request_mb x held`, where `held` is the requests
//!   the replica holds (in service, waiting for calls, or queued);
//! - when the allocations since the last collection reach `heap_mb - live`, a collection
//!   starts: it pauses the whole process for `pause_base + pause_per_gb x live / 1024` and
//!   the allocation count starts again from zero;
//! - live data at or above the heap is an out-of-memory kill (the process restarts).
//!
//! Sans-IO: the world reports allocations and the count held, and applies the pause this
//! returns. It knows nothing of events, workers or requests.

use crate::engine::SimDuration;

/// A replica heap's settings (validated when the scenario is loaded).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GcSpec {
    pub heap_mb: f64,
    pub allocation_per_request_mb: f64,
    pub live_base_mb: f64,
    pub live_per_request_mb: f64,
    pub pause_base: SimDuration,
    pub pause_per_gb: SimDuration,
}

impl GcSpec {
    /// Live data while `held` requests are at the replica, in MB.
    pub fn live_mb(&self, held: u32) -> f64 {
        self.live_base_mb + self.live_per_request_mb * held as f64
    }

    /// How long a collection with `live_mb` of live data stops the process, in ns.
    pub fn pause_ns(&self, live_mb: f64) -> u64 {
        self.pause_base.0 + (self.pause_per_gb.0 as f64 * live_mb / 1024.0).round() as u64
    }
}

/// What an allocation leads to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Alloc {
    /// Room left: nothing happens.
    Fits,
    /// The free space is used up: a collection stops the process for this long.
    Collect { pause_ns: u64 },
    /// Live data fills the heap: the process is killed.
    OutOfMemory,
}

/// One replica's heap.
#[derive(Clone, Debug, Default)]
pub struct Heap {
    /// MB allocated since the last collection.
    allocated_mb: f64,
    /// Collections, and the time they stopped the process, counted from the warm-up's end.
    pub collections: u64,
    pub paused_ns: u64,
    /// Every pause since the start, summed: a request that started computing before this
    /// reached its current value was stopped by the difference.
    pub pause_total_ns: u64,
}

impl Heap {
    /// A request allocates while `held` requests are at the replica (itself included).
    pub fn allocate(&mut self, spec: &GcSpec, held: u32, counting: bool) -> Alloc {
        let live = spec.live_mb(held);
        if live >= spec.heap_mb {
            return Alloc::OutOfMemory;
        }
        self.allocated_mb += spec.allocation_per_request_mb;
        if self.allocated_mb < spec.heap_mb - live {
            return Alloc::Fits;
        }
        self.allocated_mb = 0.0;
        let pause_ns = spec.pause_ns(live);
        self.pause_total_ns += pause_ns;
        if counting {
            self.collections += 1;
            self.paused_ns += pause_ns;
        }
        Alloc::Collect { pause_ns }
    }

    /// A new process: an empty heap (the counts stay).
    pub fn restart(&mut self) {
        self.allocated_mb = 0.0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> GcSpec {
        GcSpec {
            heap_mb: 1000.0,
            allocation_per_request_mb: 10.0,
            live_base_mb: 200.0,
            live_per_request_mb: 5.0,
            pause_base: SimDuration::from_millis(10),
            pause_per_gb: SimDuration::from_millis(100),
        }
    }

    /// With 20 held: live 300 MB, free 700 MB, so every 70th allocation collects, for
    /// 10 ms + 100 ms x 300/1024 = 39.3 ms; with 100 held: live 700, every 30th, 78.4 ms.
    #[test]
    fn collections_follow_the_allocation_rate_and_the_live_data() {
        let cases = [(20, 70, 39_296_875), (100, 30, 78_359_375)];
        for (held, every, pause_ns) in cases {
            let mut h = Heap::default();
            let mut at = Vec::new();
            for i in 1..=every * 3 {
                if let Alloc::Collect { pause_ns: p } = h.allocate(&spec(), held, true) {
                    assert_eq!(p, pause_ns, "held {held}");
                    at.push(i);
                }
            }
            assert_eq!(at, [every, 2 * every, 3 * every], "held {held}");
            assert_eq!(h.paused_ns, 3 * pause_ns);
        }
    }

    #[test]
    fn live_data_filling_the_heap_is_out_of_memory() {
        let mut h = Heap::default();
        assert_eq!(h.allocate(&spec(), 160, true), Alloc::OutOfMemory);
        assert_eq!(h.collections, 0);
    }
}
