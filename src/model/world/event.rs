//! The closed set of events the world schedules, the trace kind codes that name them in the
//! trace hash, and the small codes carried inside them (policy timers, probes).
//!
//! The kind codes are part of the trace hash (v1): changing one changes every hash.

use crate::engine::{EventQueue, SimTime};

/// The closed set of events the model schedules.
///
/// Only the world makes events (each variant is `non_exhaustive`): their indices (slots,
/// replicas, clients) index its tables unchecked (`engine::Table`), so an event from outside
/// could name a slot that never was.
///
/// `repr(u32)`: a four-byte tag makes the event 16 bytes, which the event queue moves as one
/// block; with the default one-byte tag it moved it field by field (five loads and stores per
/// move, several moves per push and pop): -1.7% to -2.3% instructions (BENCHMARKS.md run 20).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Event {
    /// The next open-loop arrival of a client.
    #[non_exhaustive]
    ClientArrival { client: u32 },
    /// A closed-loop user finished thinking and sends a request.
    #[non_exhaustive]
    UserWake { client: u32, user: u32 },
    /// A request reaches its replica.
    #[non_exhaustive]
    Deliver { slot: u32 },
    /// A worker finished a request's service time (`gen`: the request's generation, so a
    /// completion for a request a crash already failed is recognised and ignored).
    #[non_exhaustive]
    ServiceDone { slot: u32, gen: u32 },
    /// A response reaches its caller.
    #[non_exhaustive]
    Response { slot: u32 },
    /// A policy's timer: a timeout, the end of a retry backoff, a bulkhead wait's deadline,
    /// or a rate limiter's delay.
    #[non_exhaustive]
    PolicyTimer { inv: u32, gen: u32, what: u8 },
    /// Fault window `index` of the schedule starts (`start`) or ends.
    #[non_exhaustive]
    Fault { index: u32, start: bool },
    /// A health probe of a replica (`what`: see `probe`); `incarnation` ties a probe's
    /// timeout to the process it was sent to.
    #[non_exhaustive]
    Probe {
        replica: u32,
        what: u8,
        incarnation: u32,
    },
    /// A replica killed by its liveness probe comes back.
    #[non_exhaustive]
    Restart { replica: u32 },
    /// The outlier detector of a service sweeps its hosts.
    #[non_exhaustive]
    OutlierSweep { service: u32 },
    /// A heartbeat round of an active-passive service.
    #[non_exhaustive]
    Heartbeat { service: u32 },
    /// The next request computing at a replica whose requests share its processors finishes
    /// (`token`: the replica's current one; the request counts change the time, so a
    /// completion scheduled before the last change carries an old token and is ignored).
    #[non_exhaustive]
    ShareDone { replica: u32, token: u32 },
    /// A replica's heap: a collection's pause ends (`oom` false), or live data filled it
    /// (`oom`); `incarnation` ties it to the process.
    #[non_exhaustive]
    Heap {
        replica: u32,
        incarnation: u32,
        oom: bool,
    },
    /// A service's autoscaler: a sync (`pods` false), or replicas it asked for start
    /// (`pods`).
    #[non_exhaustive]
    Autoscale { service: u32, pods: bool },
    /// A cached call's lookup reaches its cache tier (which has a latency); what it finds
    /// comes back with it.
    #[non_exhaustive]
    CacheLookup {
        parent: u32,
        parent_gen: u32,
        call: u16,
    },
    /// A breaker's time-driven transition is due (Resilience4j's automatic transition to
    /// half-open, or the end of its half-open max wait): it happens then, calls or none.
    #[non_exhaustive]
    BreakerWake { edge: u32, layer: u8, instance: u32 },
}

// The queue's entry is its 16-byte key and this: 32 bytes, moved as two blocks.
const _: () = assert!(std::mem::size_of::<Event>() == 16);

/// Trace kind codes: stable, part of the trace hash.
pub mod kind {
    pub const CLIENT_ARRIVAL: u8 = 1;
    pub const USER_WAKE: u8 = 2;
    pub const DELIVER: u8 = 3;
    pub const SERVICE_DONE: u8 = 4;
    pub const RESPONSE: u8 = 5;
    pub const POLICY_TIMER: u8 = 6;
    pub const FAULT: u8 = 7;
    pub const PROBE: u8 = 8;
    pub const RESTART: u8 = 9;
    pub const OUTLIER_SWEEP: u8 = 10;
    pub const HEARTBEAT: u8 = 11;
    pub const SHARE_DONE: u8 = 12;
    pub const HEAP: u8 = 13;
    pub const AUTOSCALE: u8 = 14;
    pub const CACHE_LOOKUP: u8 = 15;
    pub const BREAKER_WAKE: u8 = 16;
    pub const NAMES: [&str; 17] = [
        "",
        "client_arrival",
        "user_wake",
        "deliver",
        "service_done",
        "response",
        "policy_timer",
        "fault",
        "probe",
        "restart",
        "outlier_sweep",
        "heartbeat",
        "share_done",
        "heap",
        "autoscale",
        "cache_lookup",
        "breaker_wake",
    ];
}

/// What a probe event is: the probe kind in bit 0, and bit 1 set for "the probe sent earlier
/// timed out".
pub(super) mod probe {
    pub const READINESS: u8 = 0;
    pub const LIVENESS: u8 = 1;
    pub const TIMED_OUT: u8 = 2;
}

/// What a policy timer is for.
pub(super) mod timer {
    pub const TIMEOUT: u8 = 1;
    pub const RETRY: u8 = 2;
    pub const BULKHEAD_WAIT: u8 = 3;
    pub const DELAY: u8 = 4;
    pub const HEDGE: u8 = 5;
}

/// Schedules policy timer `what` (a backoff, a hedge, a wait's deadline: timers that usually
/// fire) for invocation `id` (generation `gen`) at `at`.
pub(super) fn push_timer(q: &mut EventQueue<Event>, at: SimTime, id: u32, gen: u32, what: u8) {
    debug_assert!(
        (timer::RETRY..=timer::HEDGE).contains(&what),
        "unknown policy timer {what}, or a timeout (see push_timeout)"
    );
    q.push(at, Event::PolicyTimer { inv: id, gen, what });
}

/// Schedules, at `now`, the timeout of invocation `id` (generation `gen`) at `at`. It waits in
/// the queue's wheel: most calls answer before their timeout, and a dead timer is dropped there.
pub(super) fn push_timeout(
    q: &mut EventQueue<Event>,
    now: SimTime,
    at: SimTime,
    id: u32,
    gen: u32,
) {
    let what = timer::TIMEOUT;
    q.push_timer(now, at, Event::PolicyTimer { inv: id, gen, what });
}

/// Schedules a wake-up of breaker `instance` of layer `layer` of edge `edge` at `at_ns`.
pub(super) fn push_breaker_wake(
    q: &mut EventQueue<Event>,
    at_ns: u64,
    edge: u32,
    layer: u8,
    instance: usize,
) {
    q.push(
        SimTime(at_ns),
        Event::BreakerWake {
            edge,
            layer,
            instance: instance as u32,
        },
    );
}
