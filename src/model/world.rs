//! The running system: per-replica queues and workers, load balancers, requests in flight,
//! calls, timeouts and links, driven event by event.
//!
//! Requests live in a slab (`slots`) reused through a free list, so steady-state running
//! allocates nothing per request or per event. A slot is freed when its response reaches the
//! caller; a caller that timed out first marks the slot abandoned and the late response frees it.
//! Slot generations make stale timeouts and orphaned children harmless.

use super::cache::{CacheReport, CacheState, Lookup};
use super::dist::Dist;
use super::replication::{Group, ReplicationReport, WriteOutcome};
use super::spec::*;
use super::stack::{BudgetState, EdgeOwner, EdgeState, Instance, Inv, LayerCounters, Transition};
use crate::engine::{EventQueue, LimitHit, Model, RngStream, SimDuration, SimTime, TraceRecord};
use crate::policy::adaptive::{AimdLimit, Gradient2Limit};
use crate::policy::backoff::BackoffState;
use crate::policy::breaker::BreakerState;
use crate::policy::health::{NginxPassive, OutlierDetector, OutlierEvent, Probe};
use crate::policy::limit::Admission;
use crate::policy::OutcomeSet;
pub use crate::policy::{Outcome, OUTCOMES};
use std::collections::VecDeque;

/// Where the model reports what happened. The `metrics` layer implements it; every method has
/// the time of the observation, and the observer decides what to keep (warm-up, windows).
pub trait Observer {
    /// A client produced a request (open loop: an arrival, including ones it then rejects).
    fn client_sent(&mut self, client: ClientId, now: SimTime);
    /// A client learned the outcome of a request it sent at `sent_at`.
    fn client_done(&mut self, client: ClientId, outcome: Outcome, sent_at: SimTime, now: SimTime);
    /// A client's number of outstanding requests changed.
    fn client_in_flight(&mut self, client: ClientId, in_flight: u32, now: SimTime);
    /// A request reached a replica of `service`.
    fn service_arrival(&mut self, service: ServiceId, now: SimTime);
    /// A replica of `service` sent its response. `started_at` equals `now` for requests that
    /// never got a worker (overloaded).
    fn service_done(
        &mut self,
        service: ServiceId,
        outcome: Outcome,
        arrived_at: SimTime,
        started_at: SimTime,
        now: SimTime,
    );
    /// The busy workers or queue length of a replica changed.
    fn replica_level(
        &mut self,
        service: ServiceId,
        replica: u32,
        busy: u32,
        queued: u32,
        now: SimTime,
    );
    /// A client sent one attempt of a request over the network (retries included).
    fn client_attempt(&mut self, client: ClientId, now: SimTime);
    /// A replica of `service` sent one attempt of its call `call` (retries included).
    fn call_attempt(&mut self, service: ServiceId, call: usize, now: SimTime);
    /// The caller of call `call` of `service` learned its outcome.
    fn call_done(
        &mut self,
        service: ServiceId,
        call: usize,
        outcome: Outcome,
        sent_at: SimTime,
        now: SimTime,
    );
}

/// The model's own bounds.
#[derive(Clone, Copy, Debug)]
pub struct WorldLimits {
    /// Requests alive at once (in flight anywhere, including abandoned ones still being served).
    pub max_live_requests: u32,
    /// Policy counters count events from this instant on (the end of the warm-up).
    pub count_from: SimTime,
}

/// The closed set of events the model schedules.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// The next open-loop arrival of a client.
    ClientArrival { client: u32 },
    /// A closed-loop user finished thinking and sends a request.
    UserWake { client: u32, user: u32 },
    /// A request reaches its replica.
    Deliver { slot: u32 },
    /// A worker finished a request's service time (`gen`: the request's generation, so a
    /// completion for a request a crash already failed is recognised and ignored).
    ServiceDone { slot: u32, gen: u32 },
    /// A response reaches its caller.
    Response { slot: u32 },
    /// A policy's timer: a timeout, the end of a retry backoff, a bulkhead wait's deadline,
    /// or a rate limiter's delay.
    PolicyTimer { inv: u32, gen: u32, what: u8 },
    /// Fault window `index` of the schedule starts (`start`) or ends.
    Fault { index: u32, start: bool },
    /// A health probe of a replica (`what`: see `probe`); `incarnation` ties a probe's
    /// timeout to the process it was sent to.
    Probe {
        replica: u32,
        what: u8,
        incarnation: u32,
    },
    /// A replica killed by its liveness probe comes back.
    Restart { replica: u32 },
    /// The outlier detector of a service sweeps its hosts.
    OutlierSweep { service: u32 },
    /// A heartbeat round of an active-passive service.
    Heartbeat { service: u32 },
}

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
    pub const NAMES: [&str; 12] = [
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
    ];
}

const NO_USER: u32 = u32::MAX;
const NO_POOL: u32 = u32::MAX;

/// A bounded connection pool of one caller replica for one call.
struct Pool {
    size: u32,
    in_use: u32,
    /// Attempts waiting for a connection: (slot, generation).
    waiting: VecDeque<(u32, u32)>,
    waited: u64,
    max_waiting: u32,
    /// Waiting attempts dropped because their caller had given up (a timeout) meanwhile.
    abandoned: u64,
}
const NO_LINK: u32 = u32::MAX;
/// No fault to blame.
const NO_FAULT: u32 = u32::MAX;
pub(super) const NO_SLOT: u32 = u32::MAX;

/// What a probe event is: the probe kind in bit 0, and bit 1 set for "the probe sent earlier
/// timed out".
mod probe {
    pub const READINESS: u8 = 0;
    pub const LIVENESS: u8 = 1;
    pub const TIMED_OUT: u8 = 2;
}

/// Who waits for a request or an invocation: a client, a parent request's call, or the
/// policy layer above.
#[derive(Clone, Copy, Debug)]
pub enum CallerRef {
    Client {
        client: u32,
        user: u32,
    },
    Call {
        parent: u32,
        parent_gen: u32,
        call: u16,
    },
    /// `tag` tells a hedging layer which of its attempts answered (0 elsewhere).
    Inv {
        inv: u32,
        gen: u32,
        tag: u16,
    },
}

#[derive(Clone, Copy, Debug)]
struct Req {
    id: u64,
    gen: u32,
    service: u32,
    /// Global replica index.
    replica: u32,
    /// Endpoint index of the caller (clients first, then services).
    from: u32,
    /// Trace entity of the caller (a client, or the replica serving the parent request).
    caller_entity: u32,
    caller: CallerRef,
    sent_at: SimTime,
    arrived_at: SimTime,
    started_at: SimTime,
    next_call: u16,
    pending: u16,
    status: Outcome,
    server_done: bool,
    /// A call returned `degraded`: the answer will be degraded too.
    degraded: bool,
    /// Counted by the replica's concurrency limit, with the in-flight count it saw.
    admitted: bool,
    inflight_at_admit: u32,
    /// The caller's deadline carried with the request (u64::MAX: none).
    deadline_ns: u64,
    /// The slot holds a request (not on the free list).
    live: bool,
    /// The request reached its replica (queued or in service) and has not been answered.
    at_server: bool,
    /// It failed at the connection level (reset by a crash), not with an HTTP-style error.
    conn_error: bool,
    /// The caller's per-attempt timeout already counted it as a failure for passive health
    /// checking; its late answer is not counted again.
    abandoned: bool,
    /// A synchronously replicated write waiting for its standbys: its log position (0: none).
    ack_pos: u64,
    /// Its disk I/O (replicas with a disk do one after the service time): 0 not started, 1
    /// done, 2 done and checked against disk faults.
    io: u8,
    /// The connection pool it goes through (NO_POOL: none), and whether it holds a connection.
    pool: u32,
    pool_held: bool,
}

impl Default for Req {
    fn default() -> Self {
        Req {
            id: 0,
            gen: 0,
            service: 0,
            replica: 0,
            from: 0,
            caller_entity: 0,
            caller: CallerRef::Client {
                client: 0,
                user: NO_USER,
            },
            sent_at: SimTime::ZERO,
            arrived_at: SimTime::ZERO,
            started_at: SimTime::ZERO,
            next_call: 0,
            pending: 0,
            status: Outcome::Ok,
            server_done: false,
            degraded: false,
            admitted: false,
            inflight_at_admit: 0,
            deadline_ns: u64::MAX,
            live: false,
            at_server: false,
            conn_error: false,
            abandoned: false,
            ack_pos: 0,
            io: 0,
            pool: NO_POOL,
            pool_held: false,
        }
    }
}

struct ClientState {
    arrivals: RngStream,
    think: RngStream,
    in_flight: u32,
}

struct ServiceState {
    first_replica: u32,
    replicas: u32,
    rr_next: u32,
    /// Some health check can take replicas out of balancing: the balancer filters.
    checked: bool,
    outlier: Option<OutlierDetector>,
    /// Active-passive replication state (None: active-active).
    ap: Option<Box<Group>>,
    balancer_rng: RngStream,
    error_rng: RngStream,
    call_rng: RngStream,
}

struct ReplicaState {
    service: u32,
    index: u32,
    busy: u32,
    queue: VecDeque<u32>,
    outstanding: u32,
    service_time_rng: RngStream,
    limiter: Option<ConcurrencyLimiter>,
    shed_by_limit: u64,
    shed_by_queue_time: u64,
    shed_expired: u64,
    /// Something in `health` can change how a request is served here (down, paused, stuck
    /// workers, injected errors, a slowdown, a cold start): the hot paths look at `health` only
    /// when this is set. Kept true by [`ReplicaState::refresh_impaired`] after every change.
    impaired: bool,
    /// A replica of an active-passive service (keeps `impaired` set: replication is checked
    /// where faults are).
    active_passive: bool,
    /// Its disk, if the service has one (also keeps `impaired` set).
    disk: Option<Box<DiskState>>,
    health: ReplicaHealth,
}

/// A replica's disk: the FIFO of operations and the fault in force.
struct DiskState {
    spacing_ns: u64,
    next_free_ns: u64,
    /// The disk fault in force and its fault index.
    fault: Option<(DiskFault, u32)>,
    rng: RngStream,
    /// Requests failed by I/O errors, a full disk, and checksum errors.
    io_errors: u64,
    full_errors: u64,
    checksum_errors: u64,
}

impl ReplicaState {
    /// Recomputes `impaired` from `health` (call after changing any field it summarises).
    fn refresh_impaired(&mut self) {
        let h = &self.health;
        self.impaired = self.active_passive
            || self.disk.is_some()
            || h.down > 0
            || h.paused_until != SimTime::ZERO
            || h.stuck > 0
            || h.fault_error_rate > 0.0
            || h.slow_factor != 1.0
            || h.warming
            || h.leak_per_request_mb > 0.0;
    }
}

/// A replica's life and health: faults acting on it, its probes and what they decided.
struct ReplicaHealth {
    /// Crash faults and liveness kills in progress; the process runs when 0.
    down: u32,
    down_cause: u32,
    /// Bumped by every crash, so a probe timeout sent to the old process is ignored.
    incarnation: u32,
    /// A stop-the-world pause lasts until here (ZERO: not paused).
    paused_until: SimTime,
    pause_cause: u32,
    /// Active slowdowns (fault index, factor) and their product.
    slowdowns: Vec<(u32, f64)>,
    slow_factor: f64,
    fault_error_rate: f64,
    error_cause: u32,
    fault_rng: RngStream,
    /// Workers taken by a stuck-workers fault.
    stuck: u32,
    /// A memory leak in force: megabytes per finished request, the kill point, the fault,
    /// and what this process has leaked so far.
    leak_per_request_mb: f64,
    leak_limit_mb: f64,
    leak_cause: u32,
    leaked_mb: f64,
    oom_kills: u64,
    /// The last restart (None: up since the run began), for probes' initial delay and the
    /// cold-start warm-up.
    up_since: Option<SimTime>,
    /// Restarted with a cold start still in progress (service times are stretched).
    warming: bool,
    /// Where in its period each probe (readiness, liveness) first fires, as a share of it:
    /// the probers of a running deployment are in arbitrary phase.
    probe_phase: [f64; 2],
    /// Readiness passing (true without a readiness probe).
    ready: bool,
    readiness: Option<Probe>,
    liveness: Option<Probe>,
    nginx: NginxPassive,
    crashes: u64,
    liveness_kills: u64,
    refused: u64,
    reset: u64,
    ejections: u64,
    log: Vec<HealthChange>,
    log_dropped: u64,
}

/// One change of a replica's state, for the summary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct HealthChange {
    pub at_ns: u64,
    /// `down`, `up`, `unready`, `ready`, `ejected`, `returned`, `nginx_down`, `liveness_kill`,
    /// `paused`, `resumed`, `oom_kill`.
    pub what: &'static str,
}

/// At most this many changes are kept per replica (the rest are counted).
const HEALTH_LOG_MAX: usize = 1000;

/// A replica's health figures, for the summary.
#[derive(Clone, Debug, PartialEq)]
pub struct HealthReport {
    pub service: String,
    pub replica: u32,
    pub crashes: u64,
    pub liveness_kills: u64,
    /// Kills by the kernel when a memory leak reached its limit.
    pub oom_kills: u64,
    /// Requests refused because the process was down.
    pub refused: u64,
    /// Requests in progress reset by a crash.
    pub reset: u64,
    pub ejections: u64,
    pub changes: Vec<HealthChange>,
    pub changes_dropped: u64,
}

/// What one fault window did.
#[derive(Clone, Debug, PartialEq)]
pub struct FaultReport {
    pub label: String,
    pub source: &'static str,
    pub start: SimTime,
    pub end: Option<SimTime>,
    /// Requests the fault itself failed: reset or refused by a crash, lost in a partition or
    /// to loss, errors it injected, probes aside.
    pub requests_failed: u64,
    /// When a health check first took the faulty replica out of balancing (replica faults).
    pub detected_at: Option<SimTime>,
}

/// A replica's adaptive concurrency limit.
#[derive(Clone, Debug)]
enum ConcurrencyLimiter {
    Aimd(AimdLimit),
    Gradient2(Gradient2Limit),
}

impl ConcurrencyLimiter {
    fn new(spec: &ConcurrencyLimitSpec) -> Self {
        // Validated when the scenario was loaded.
        match *spec {
            ConcurrencyLimitSpec::Aimd {
                initial,
                min,
                max,
                backoff_ratio,
                timeout,
            } => ConcurrencyLimiter::Aimd(
                AimdLimit::new(initial, min, max, backoff_ratio, timeout.0).expect("validated"),
            ),
            ConcurrencyLimitSpec::Gradient2 {
                initial,
                min,
                max,
                smoothing,
                long_window,
                rtt_tolerance,
                queue_size,
            } => ConcurrencyLimiter::Gradient2(
                Gradient2Limit::new(
                    initial,
                    min,
                    max,
                    smoothing,
                    long_window,
                    rtt_tolerance,
                    queue_size,
                )
                .expect("validated"),
            ),
        }
    }
    fn limit(&self) -> u32 {
        match self {
            ConcurrencyLimiter::Aimd(l) => l.limit(),
            ConcurrencyLimiter::Gradient2(l) => l.limit(),
        }
    }
    fn on_sample(&mut self, rtt_ns: u64, inflight: u32, dropped: bool) {
        match self {
            ConcurrencyLimiter::Aimd(l) => l.on_sample(rtt_ns, inflight, dropped),
            ConcurrencyLimiter::Gradient2(l) => l.on_sample(rtt_ns, inflight, dropped),
        }
    }
}

/// What a replica's admission control did, for the summary.
#[derive(Clone, Debug, PartialEq)]
pub struct AdmissionReport {
    pub service: String,
    pub replica: u32,
    pub limit_at_end: Option<u32>,
    pub shed_by_limit: u64,
    pub shed_by_queue_time: u64,
    /// Requests dropped unserved because their propagated deadline had passed.
    pub shed_expired: u64,
}

struct LinkState {
    latency: Dist,
    zero: bool,
    rng: RngStream,
    from: Endpoint,
    to: ServiceId,
    /// Partitions in force that drop requests / responses on this link.
    drop_requests: u16,
    drop_responses: u16,
    block_cause: u32,
    /// A degradation in force: extra latency, loss probability, fault index.
    degraded: Option<(Dist, f64, u32)>,
    fault_rng: RngStream,
    /// A bandwidth limit, and when each direction (requests, responses) is free to transmit.
    bandwidth: Option<Bandwidth>,
    busy_until_ns: [u64; 2],
    /// Bandwidth-limited links, per direction: messages sent, dropped at the buffer, and the
    /// longest wait to start transmitting (ns).
    sent: [u64; 2],
    dropped: [u64; 2],
    max_wait_ns: [u64; 2],
    /// No fault in force and no bandwidth limit: messages only take their latency. The hot
    /// paths look at the fields above only when this is false.
    plain: bool,
}

impl LinkState {
    fn refresh_plain(&mut self) {
        self.plain = self.drop_requests == 0
            && self.drop_responses == 0
            && self.degraded.is_none()
            && self.bandwidth.is_none();
    }
}

/// The system in motion. Create it with [`World::new`], schedule its first events with
/// [`World::start`], then hand it to [`crate::engine::run`].
pub struct World<O: Observer> {
    spec: SystemSpec,
    obs: O,
    clients: Vec<ClientState>,
    services: Vec<ServiceState>,
    replicas: Vec<ReplicaState>,
    links: Vec<LinkState>,
    /// `link_of[from_endpoint * services + to]`: index into `links`.
    link_of: Vec<u32>,
    slots: Vec<Req>,
    free: Vec<u32>,
    limits: WorldLimits,
    next_request_id: u64,
    /// Policy stacks: one edge per client, then one per call of each service.
    edges: Vec<EdgeState>,
    client_edge: Vec<u32>,
    call_edge: Vec<Vec<u32>>,
    invs: Vec<Inv>,
    inv_free: Vec<u32>,
    /// Policy counters count from here (the warm-up's end), like the observer's figures.
    count_from: SimTime,
    /// Per fault window: requests it failed, when it was detected, workers it took.
    fault_failed: Vec<u64>,
    fault_detected: Vec<Option<SimTime>>,
    fault_taken: Vec<u32>,
    /// Scratch for outlier sweeps.
    unejected: Vec<usize>,
    /// Partitions in force that name single replicas: checked per message while non-empty.
    cuts: Vec<Cut>,
    /// Per config-change fault: the values it replaced, put back at its end.
    config_saved: Vec<ConfigChange>,
    /// Per scale fault: the replica count it replaced.
    scale_saved: Vec<u32>,
    /// Per edge: the cache in front of it (call edges only).
    caches: Vec<Option<Box<CacheState>>>,
    any_cache: bool,
    /// Per edge: its first pool (one per caller replica), or NO_POOL.
    pool_base: Vec<u32>,
    pools: Vec<Pool>,
    any_pool: bool,
    /// Pools that freed a connection during this event (their waiters go next).
    pool_freed: Vec<u32>,
}

/// A partition in force between groups of trace entities (clients, replicas).
struct Cut {
    cause: u32,
    from: Vec<Endpoint>,
    to: Vec<Endpoint>,
    one_way: bool,
}

/// Schedules policy timer `what` for invocation `id` (generation `gen`) at `at`.
fn push_timer(q: &mut EventQueue<Event>, at: SimTime, id: u32, gen: u32, what: u8) {
    q.push(at, Event::PolicyTimer { inv: id, gen, what });
}

/// What a policy timer is for.
mod timer {
    pub const TIMEOUT: u8 = 1;
    pub const RETRY: u8 = 2;
    pub const BULKHEAD_WAIT: u8 = 3;
    pub const DELAY: u8 = 4;
    pub const HEDGE: u8 = 5;
}

/// One policy layer instance's figures, for the summary.
#[derive(Clone, Debug)]
pub struct PolicyReport {
    /// `client:NAME` or `SERVICE -> CALLEE` (with `#i` when a service calls the same callee twice).
    pub edge: String,
    /// Position in the stack, outermost 0.
    pub layer: usize,
    pub kind: &'static str,
    /// `shared`, or the caller replica index.
    pub instance: String,
    pub counters: LayerCounters,
    pub breaker_state: Option<crate::policy::breaker::BreakerState>,
    pub transitions: Vec<Transition>,
    pub transitions_dropped: u64,
}

fn endpoint_name(spec: &SystemSpec, e: Endpoint) -> String {
    match e {
        Endpoint::Client(c) => format!("client:{}", spec.clients[c].name),
        Endpoint::Service(s) => format!("service:{}", spec.services[s].name),
        Endpoint::Replica(r) => format!("replica:{r}"),
    }
}

impl<O: Observer> World<O> {
    /// Builds the system's state and its random streams from `seed`. The spec must be valid
    /// (the `scenario` layer checks it); indices out of range panic here, never mid-run.
    pub fn new(spec: SystemSpec, seed: u64, limits: WorldLimits, obs: O) -> Self {
        let n_clients = spec.clients.len();
        let n_services = spec.services.len();
        let n_faults = spec.faults.len();
        let clients = spec
            .clients
            .iter()
            .map(|c| {
                let entity = format!("client:{}", c.name);
                ClientState {
                    arrivals: RngStream::derive(seed, &entity, "arrivals"),
                    think: RngStream::derive(seed, &entity, "think_time"),
                    in_flight: 0,
                }
            })
            .collect();
        let mut services = Vec::with_capacity(n_services);
        let mut replicas = Vec::new();
        for (si, s) in spec.services.iter().enumerate() {
            let entity = format!("service:{}", s.name);
            let outlier = match s.health.passive {
                Some(PassiveHealth::Envoy(cfg)) => {
                    Some(OutlierDetector::new(cfg, s.replicas as usize).expect("validated"))
                }
                _ => None,
            };
            services.push(ServiceState {
                first_replica: replicas.len() as u32,
                replicas: s.initial_replicas,
                rr_next: 0,
                checked: s.health.readiness.is_some() || s.health.passive.is_some(),
                outlier,
                ap: s
                    .active_passive
                    .clone()
                    .map(|a| Box::new(Group::new(a, s.replicas, seed, &s.name))),
                balancer_rng: RngStream::derive(seed, &entity, "balancer"),
                error_rng: RngStream::derive(seed, &entity, "errors"),
                call_rng: RngStream::derive(seed, &entity, "calls"),
            });
            for r in 0..s.replicas {
                replicas.push(ReplicaState {
                    service: si as u32,
                    index: r,
                    busy: 0,
                    queue: VecDeque::with_capacity((s.queue_capacity as usize).min(4096)),
                    outstanding: 0,
                    service_time_rng: RngStream::derive(
                        seed,
                        &format!("{entity}/replica:{r}"),
                        "service_time",
                    ),
                    limiter: s
                        .admission
                        .concurrency_limit
                        .as_ref()
                        .map(ConcurrencyLimiter::new),
                    shed_by_limit: 0,
                    shed_by_queue_time: 0,
                    shed_expired: 0,
                    impaired: s.active_passive.is_some() || s.disk.is_some(),
                    active_passive: s.active_passive.is_some(),
                    disk: s.disk.as_ref().map(|d| {
                        Box::new(DiskState {
                            spacing_ns: (1e9 / d.iops).round() as u64,
                            next_free_ns: 0,
                            fault: None,
                            rng: RngStream::derive(seed, &format!("{entity}/replica:{r}"), "disk"),
                            io_errors: 0,
                            full_errors: 0,
                            checksum_errors: 0,
                        })
                    }),
                    health: ReplicaHealth {
                        down: 0,
                        down_cause: NO_FAULT,
                        incarnation: 0,
                        paused_until: SimTime::ZERO,
                        pause_cause: NO_FAULT,
                        slowdowns: Vec::new(),
                        slow_factor: 1.0,
                        fault_error_rate: 0.0,
                        error_cause: NO_FAULT,
                        fault_rng: RngStream::derive(
                            seed,
                            &format!("{entity}/replica:{r}"),
                            "faults",
                        ),
                        stuck: 0,
                        leak_per_request_mb: 0.0,
                        leak_limit_mb: 0.0,
                        leak_cause: NO_FAULT,
                        leaked_mb: 0.0,
                        oom_kills: 0,
                        up_since: None,
                        warming: false,
                        probe_phase: {
                            let mut rng = RngStream::derive(
                                seed,
                                &format!("{entity}/replica:{r}"),
                                "probe_phase",
                            );
                            [rng.uniform(), rng.uniform()]
                        },
                        ready: true,
                        // The run starts with every replica up and passing its probes.
                        readiness: s.health.readiness.map(|c| Probe::new(c, true)),
                        liveness: s.health.liveness.map(|c| Probe::new(c, true)),
                        nginx: NginxPassive::default(),
                        crashes: 0,
                        liveness_kills: 0,
                        refused: 0,
                        reset: 0,
                        ejections: 0,
                        log: Vec::new(),
                        log_dropped: 0,
                    },
                });
            }
        }
        // Every edge that can carry a request gets its own link state and stream, named after
        // its two ends, whether or not the scenario lists it.
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
        let mut link_of = vec![NO_LINK; (n_clients + n_services) * n_services];
        let mut links = Vec::with_capacity(edges.len());
        for (from, to) in edges {
            let listed = spec.links.iter().find(|l| l.from == from && l.to == to);
            let latency = listed
                .map(|l| l.latency.clone())
                .unwrap_or_else(|| spec.default_link_latency.clone());
            let bandwidth = listed.and_then(|l| l.bandwidth);
            let name = format!(
                "link:{}->{}",
                endpoint_name(&spec, from),
                endpoint_name(&spec, Endpoint::Service(to))
            );
            let from_index = match from {
                Endpoint::Client(c) => c,
                Endpoint::Service(s) => n_clients + s,
                Endpoint::Replica(_) => unreachable!("links join clients and services"),
            };
            link_of[from_index * n_services + to] = links.len() as u32;
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
        let mut edges = Vec::new();
        let mut client_edge = Vec::new();
        for (ci, c) in spec.clients.iter().enumerate() {
            client_edge.push(edges.len() as u32);
            let name = format!(
                "policy:client:{}->service:{}",
                c.name, spec.services[c.target].name
            );
            edges.push(EdgeState::new(
                EdgeOwner::Client(ci),
                ci as u32,
                c.target,
                &c.policies,
                1,
                c.propagate_deadline,
                RngStream::derive(seed, &name, "retry"),
            ));
        }
        let mut call_edge = Vec::new();
        for (si, s) in spec.services.iter().enumerate() {
            let mut v = Vec::new();
            for (i, call) in s.calls.iter().enumerate() {
                v.push(edges.len() as u32);
                let name = format!(
                    "policy:service:{}->service:{}/call:{i}",
                    s.name, spec.services[call.to].name
                );
                edges.push(EdgeState::new(
                    EdgeOwner::Call {
                        service: si,
                        call: i,
                    },
                    (n_clients + si) as u32,
                    call.to,
                    &call.policies,
                    s.replicas,
                    call.propagate_deadline,
                    RngStream::derive(seed, &name, "retry"),
                ));
            }
            call_edge.push(v);
        }
        let mut pool_base = vec![NO_POOL; edges.len()];
        let mut pools = Vec::new();
        for (si, s) in spec.services.iter().enumerate() {
            for (i, call) in s.calls.iter().enumerate() {
                if let Some(size) = call.connections {
                    pool_base[call_edge[si][i] as usize] = pools.len() as u32;
                    for _ in 0..s.replicas {
                        pools.push(Pool {
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
        let mut caches: Vec<Option<Box<CacheState>>> = (0..edges.len()).map(|_| None).collect();
        for (si, s) in spec.services.iter().enumerate() {
            for (i, call) in s.calls.iter().enumerate() {
                if let Some(c) = call.cache {
                    let name = format!(
                        "cache:service:{}->service:{}/call:{i}",
                        s.name, spec.services[call.to].name
                    );
                    caches[call_edge[si][i] as usize] = Some(Box::new(CacheState::new(
                        c,
                        RngStream::derive(seed, &name, "keys"),
                        limits.count_from,
                    )));
                }
            }
        }
        World {
            spec,
            obs,
            clients,
            services,
            replicas,
            links,
            link_of,
            slots: Vec::with_capacity(1024),
            free: Vec::with_capacity(1024),
            limits,
            next_request_id: 1,
            edges,
            client_edge,
            call_edge,
            invs: Vec::new(),
            inv_free: Vec::new(),
            count_from: limits.count_from,
            fault_failed: vec![0; n_faults],
            fault_detected: vec![None; n_faults],
            fault_taken: vec![0; n_faults],
            unejected: Vec::new(),
            cuts: Vec::new(),
            config_saved: vec![ConfigChange::default(); n_faults],
            scale_saved: vec![0; n_faults],
            any_cache: caches.iter().any(Option::is_some),
            caches,
            any_pool: !pools.is_empty(),
            pool_base,
            pools,
            pool_freed: Vec::new(),
        }
    }

    /// Schedules every client's first request, the fault windows, the first health probes
    /// and the outlier sweeps.
    pub fn start(&mut self, q: &mut EventQueue<Event>) {
        for (i, f) in self.spec.faults.iter().enumerate() {
            if matches!(f.effect, FaultEffect::Spike { .. }) {
                continue; // folded into the client's rate steps before the run
            }
            q.push(
                f.start,
                Event::Fault {
                    index: i as u32,
                    start: true,
                },
            );
            if let Some(end) = f.end {
                q.push(
                    end,
                    Event::Fault {
                        index: i as u32,
                        start: false,
                    },
                );
            }
        }
        for r in 0..self.replicas.len() {
            let svc = self.replicas[r].service as usize;
            let health = self.spec.services[svc].health;
            for (what, cfg) in [
                (probe::READINESS, health.readiness),
                (probe::LIVENESS, health.liveness),
            ] {
                if let Some(cfg) = cfg {
                    let u = self.replicas[r].health.probe_phase[what as usize];
                    let at = SimTime((u * cfg.period_ns as f64) as u64);
                    q.push(
                        at,
                        Event::Probe {
                            replica: r as u32,
                            what,
                            incarnation: 0,
                        },
                    );
                }
            }
        }
        for (si, s) in self.services.iter().enumerate() {
            if let Some(o) = &s.outlier {
                q.push(
                    SimTime(o.config().interval_ns),
                    Event::OutlierSweep { service: si as u32 },
                );
            }
            if let Some(g) = &s.ap {
                q.push(
                    SimTime(g.spec().heartbeat_interval.0),
                    Event::Heartbeat { service: si as u32 },
                );
            }
        }
        for ci in 0..self.spec.clients.len() {
            match &self.spec.clients[ci].load {
                Load::Open { .. } => {
                    if let Some(t) = self.next_arrival(ci, SimTime::ZERO) {
                        q.push(t, Event::ClientArrival { client: ci as u32 });
                    }
                }
                Load::Closed { users, think_time } => {
                    // Each user starts after one think time, so users do not all fire at t=0.
                    for u in 0..*users {
                        let d = think_time.sample(&mut self.clients[ci].think);
                        q.push(
                            SimTime(d),
                            Event::UserWake {
                                client: ci as u32,
                                user: u,
                            },
                        );
                    }
                }
            }
        }
    }

    pub fn spec(&self) -> &SystemSpec {
        &self.spec
    }
    pub fn observer(&self) -> &O {
        &self.obs
    }
    pub fn into_observer(self) -> O {
        self.obs
    }
    /// Requests alive now (for end-of-run accounting).
    pub fn live_requests(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    fn client_entity(&self, c: u32) -> u32 {
        c
    }
    fn replica_entity(&self, r: u32) -> u32 {
        self.spec.clients.len() as u32 + r
    }

    /// The next open-loop arrival after `now`, honouring rate steps. A Poisson gap that would
    /// cross a step is redrawn from the step at the new rate, which is exact for a piecewise-
    /// constant Poisson process because exponential gaps are memoryless.
    #[inline]
    fn next_arrival(&mut self, ci: usize, now: SimTime) -> Option<SimTime> {
        let Load::Open {
            arrivals,
            rate_per_s,
            steps,
        } = &self.spec.clients[ci].load
        else {
            return None;
        };
        let rng = &mut self.clients[ci].arrivals;
        let mut t = now;
        loop {
            let idx = steps.partition_point(|s| s.at <= t);
            let rate = if idx == 0 {
                *rate_per_s
            } else {
                steps[idx - 1].rate_per_s
            };
            let next_step = steps.get(idx).map(|s| s.at);
            if rate <= 0.0 {
                t = next_step?;
                continue;
            }
            let gap_ns = match arrivals {
                Arrivals::Poisson => -(1e9 / rate) * rng.uniform_open0().ln(),
                Arrivals::Constant => 1e9 / rate,
            };
            let cand = t + SimDuration((gap_ns + 0.5).max(1.0) as u64);
            match next_step {
                Some(b) if cand > b => t = b,
                _ => return Some(cand),
            }
        }
    }

    /// Requests alive, and policy invocations alive, are each bounded by `max_live_requests`.
    fn live_limit_hit(&self, now: SimTime) -> LimitHit {
        LimitHit {
            limit: "max_live_requests",
            value: self.limits.max_live_requests as u64,
            at_ns: now.0,
            how_to_raise: "raise limits.max_live_requests in the scenario (each live request or policy invocation costs about 100 bytes), or bound the load: clients' max_in_flight, timeouts, queue capacities, retry budgets",
        }
    }

    #[inline]
    fn alloc(&mut self, now: SimTime) -> Result<u32, LimitHit> {
        if let Some(s) = self.free.pop() {
            return Ok(s);
        }
        if self.slots.len() as u64 >= self.limits.max_live_requests as u64 {
            return Err(self.live_limit_hit(now));
        }
        self.slots.push(Req::default());
        Ok((self.slots.len() - 1) as u32)
    }

    #[inline]
    fn release(&mut self, slot: u32) {
        let r = &mut self.slots[slot as usize];
        r.gen = r.gen.wrapping_add(1);
        r.live = false;
        r.at_server = false;
        if r.pool_held {
            r.pool_held = false;
            let p = r.pool;
            self.pools[p as usize].in_use -= 1;
            self.pool_freed.push(p);
        }
        self.free.push(slot);
    }

    /// May the balancer of `svc` send to replica `r` (global index) now?
    #[inline]
    fn routable(&self, svc: usize, r: u32, now: SimTime) -> bool {
        let h = &self.replicas[r as usize].health;
        if !h.ready {
            return false;
        }
        let s = &self.services[svc];
        if let Some(o) = &s.outlier {
            if o.is_ejected((r - s.first_replica) as usize) {
                return false;
            }
        }
        if let Some(PassiveHealth::Nginx(cfg)) = &self.spec.services[svc].health.passive {
            // NGINX ignores max_fails for a group of one server.
            if s.replicas > 1 && !h.nginx.available(cfg, now.0) {
                return false;
            }
        }
        true
    }

    /// The `j`-th routable replica of `svc` (local index), counting from local index `from`.
    fn nth_routable(&self, svc: usize, from: u32, mut j: u32, now: SimTime) -> Option<u32> {
        let s = &self.services[svc];
        for k in 0..s.replicas {
            let i = (from + k) % s.replicas;
            if self.routable(svc, s.first_replica + i, now) {
                if j == 0 {
                    return Some(i);
                }
                j -= 1;
            }
        }
        None
    }

    /// Picks a replica among those health checking leaves in balancing; None when there is
    /// none (the caller gets `refused`, like Kubernetes without endpoints or NGINX's "no live
    /// upstreams").
    #[cold]
    #[inline(never)]
    fn pick_checked(&mut self, svc: usize, now: SimTime) -> Option<u32> {
        let (n, first) = (
            self.services[svc].replicas,
            self.services[svc].first_replica,
        );
        let count = (0..n)
            .filter(|&i| self.routable(svc, first + i, now))
            .count() as u32;
        if count == 0 {
            return None;
        }
        let local = match self.spec.services[svc].balancer {
            Balancer::RoundRobin => {
                let start = self.services[svc].rr_next;
                let i = self.nth_routable(svc, start, 0, now)?;
                self.services[svc].rr_next = (i + 1) % n;
                i
            }
            Balancer::Random => {
                let j = self.services[svc].balancer_rng.below(count as u64) as u32;
                self.nth_routable(svc, 0, j, now)?
            }
            Balancer::LeastOutstanding => {
                let s = &mut self.services[svc];
                let start = s.rr_next;
                s.rr_next = (start + 1) % n;
                let mut best = None;
                let mut best_load = u32::MAX;
                for k in 0..n {
                    let i = (start + k) % n;
                    if !self.routable(svc, first + i, now) {
                        continue;
                    }
                    let load = self.replicas[(first + i) as usize].outstanding;
                    if load < best_load {
                        best = Some(i);
                        best_load = load;
                    }
                }
                best?
            }
            Balancer::PowerOfTwoChoices => {
                if count == 1 {
                    self.nth_routable(svc, 0, 0, now)?
                } else {
                    let rng = &mut self.services[svc].balancer_rng;
                    let a = rng.below(count as u64) as u32;
                    let mut b = rng.below(count as u64 - 1) as u32;
                    if b >= a {
                        b += 1;
                    }
                    let a = self.nth_routable(svc, 0, a, now)?;
                    let b = self.nth_routable(svc, 0, b, now)?;
                    let la = self.replicas[(first + a) as usize].outstanding;
                    let lb = self.replicas[(first + b) as usize].outstanding;
                    if lb < la {
                        b
                    } else {
                        a
                    }
                }
            }
        };
        let r = first + local;
        if let Some(PassiveHealth::Nginx(cfg)) = &self.spec.services[svc].health.passive {
            self.replicas[r as usize]
                .health
                .nginx
                .on_selected(cfg, now.0);
        }
        Some(r)
    }

    #[inline]
    fn pick_replica(&mut self, svc: usize, now: SimTime) -> Option<u32> {
        if self.services[svc].checked {
            return self.pick_checked(svc, now);
        }
        Some(self.pick_unchecked(svc))
    }

    #[inline]
    fn pick_unchecked(&mut self, svc: usize) -> u32 {
        let s = &mut self.services[svc];
        let n = s.replicas;
        let first = s.first_replica;
        if n == 1 {
            return first;
        }
        let local = match self.spec.services[svc].balancer {
            Balancer::RoundRobin => {
                let i = s.rr_next;
                s.rr_next = (i + 1) % n;
                i
            }
            Balancer::Random => s.balancer_rng.below(n as u64) as u32,
            Balancer::LeastOutstanding => {
                // Scan from a rotating start so ties spread instead of piling on replica 0.
                let start = s.rr_next;
                s.rr_next = (start + 1) % n;
                let mut best = start;
                let mut best_load = u32::MAX;
                for k in 0..n {
                    let i = (start + k) % n;
                    let load = self.replicas[(first + i) as usize].outstanding;
                    if load < best_load {
                        best = i;
                        best_load = load;
                    }
                }
                best
            }
            Balancer::PowerOfTwoChoices => {
                let a = s.balancer_rng.below(n as u64) as u32;
                let mut b = s.balancer_rng.below(n as u64 - 1) as u32;
                if b >= a {
                    b += 1;
                }
                let la = self.replicas[(first + a) as usize].outstanding;
                let lb = self.replicas[(first + b) as usize].outstanding;
                if lb < la {
                    b
                } else {
                    a
                }
            }
        };
        first + local
    }

    /// Sends a request from endpoint `from` to service `svc`.
    #[allow(clippy::too_many_arguments)]
    #[inline]
    fn send(
        &mut self,
        caller: CallerRef,
        from: u32,
        svc: usize,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<u32, LimitHit> {
        let caller_entity = match caller {
            CallerRef::Client { client, .. } => {
                self.obs.client_attempt(client as usize, now);
                self.client_entity(client)
            }
            CallerRef::Call { parent, call, .. } => {
                self.obs
                    .call_attempt(from as usize - self.spec.clients.len(), call as usize, now);
                self.replica_entity(self.slots[parent as usize].replica)
            }
            CallerRef::Inv { inv, .. } => {
                let v = self.invs[inv as usize];
                match self.edges[v.edge as usize].owner {
                    EdgeOwner::Client(c) => self.obs.client_attempt(c, now),
                    EdgeOwner::Call { service, call } => self.obs.call_attempt(service, call, now),
                }
                v.caller_entity
            }
        };
        let deadline_ns = match caller {
            CallerRef::Inv { inv, .. } => {
                let v = &self.invs[inv as usize];
                if self.edges[v.edge as usize].propagate_deadline {
                    v.deadline_ns
                } else {
                    u64::MAX
                }
            }
            _ => u64::MAX,
        };
        let picked = if self.services[svc].ap.is_some() {
            Some(self.ap_route(svc, caller_entity))
        } else {
            self.pick_replica(svc, now)
        };
        let replica = picked.unwrap_or(self.services[svc].first_replica);
        self.replicas[replica as usize].outstanding += 1;
        let slot = self.alloc(now)?;
        let id = self.next_request_id;
        self.next_request_id += 1;
        let r = &mut self.slots[slot as usize];
        let gen = r.gen;
        *r = Req {
            id,
            gen,
            service: svc as u32,
            replica,
            from,
            caller_entity,
            caller,
            sent_at: now,
            deadline_ns,
            live: true,
            ..Req::default()
        };
        if let CallerRef::Inv { inv, .. } = caller {
            let v = &mut self.invs[inv as usize];
            v.child_slot = slot;
            v.child_gen = gen;
        }
        if picked.is_none() {
            // No replica is in balancing: the balancer answers at once.
            let r = &mut self.slots[slot as usize];
            r.status = Outcome::Refused;
            r.server_done = true;
            r.abandoned = true; // no replica to blame
            self.obs.service_arrival(svc, now);
            self.obs.service_done(svc, Outcome::Refused, now, now, now);
            self.response(slot, now, q)?;
            return Ok(slot);
        }
        if self.any_pool && !self.take_connection(slot, caller, now) {
            return Ok(slot); // waits for a connection
        }
        self.transmit(slot, now, q)?;
        Ok(slot)
    }

    /// The request in `slot` leaves its caller over the link to its replica.
    #[inline(always)]
    fn transmit(
        &mut self,
        slot: u32,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        let r = &self.slots[slot as usize];
        let (from, svc, caller_entity, replica) =
            (r.from, r.service as usize, r.caller_entity, r.replica);
        let link = self.link_of[from as usize * self.spec.services.len() + svc] as usize;
        let mut extra = 0;
        if !self.links[link].plain || !self.cuts.is_empty() {
            let to = self.replica_entity(replica);
            match self.link_extra(link, 0, caller_entity, to, now) {
                Some(e) => extra = e,
                None => {
                    self.lose(slot);
                    return Ok(());
                }
            }
        }
        let l = &mut self.links[link];
        if l.zero && extra == 0 {
            self.deliver(slot, now, q)?;
        } else {
            let d = l.latency.sample(&mut l.rng) + extra;
            q.push(now + SimDuration(d), Event::Deliver { slot });
        }
        Ok(())
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
    /// limit is in play; None when it is lost (counted against the fault that lost it).
    #[cold]
    #[inline(never)]
    fn link_extra(&mut self, link: usize, dir: usize, a: u32, b: u32, now: SimTime) -> Option<u64> {
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
                self.count_fault(cause);
                return None;
            }
            extra = added;
        }
        if !self.cuts.is_empty() {
            if let Some(cause) = self.cut_between(a, b) {
                self.count_fault(cause);
                return None;
            }
        }
        let l = &mut self.links[link];
        if let Some(bw) = l.bandwidth {
            let tx = if dir == 0 {
                bw.request_ns
            } else {
                bw.response_ns
            };
            extra += Self::serialize(l, dir, tx, bw.buffer, now)?;
        }
        Some(extra)
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

    #[inline]
    fn count_fault(&mut self, cause: u32) {
        if let Some(c) = self.fault_failed.get_mut(cause as usize) {
            *c += 1;
        }
    }

    /// The request in `slot` is lost (in the network, or in a crashed process's backlog):
    /// nobody answers; whoever waits finds out by its own timeout.
    #[cold]
    #[inline(never)]
    fn lose(&mut self, slot: u32) {
        let r = self.slots[slot as usize].replica;
        self.replicas[r as usize].outstanding -= 1;
        self.release(slot);
    }

    #[inline(always)]
    fn emit_level(&mut self, replica: u32, now: SimTime) {
        let r = &self.replicas[replica as usize];
        self.obs.replica_level(
            r.service as usize,
            r.index,
            r.busy,
            r.queue.len() as u32,
            now,
        );
    }

    #[inline]
    fn deliver(
        &mut self,
        slot: u32,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        let req = &mut self.slots[slot as usize];
        req.arrived_at = now;
        let (svc, replica) = (req.service as usize, req.replica);
        self.obs.service_arrival(svc, now);
        let cap = self.spec.services[svc].queue_capacity as usize;
        let counting = now >= self.count_from;
        let rep = &mut self.replicas[replica as usize];
        let mut workers = self.spec.services[svc].workers;
        if rep.impaired {
            if rep.health.down > 0 || rep.health.paused_until > now {
                return self.deliver_to_stopped(slot, replica, cap, now, q);
            }
            workers = workers.saturating_sub(rep.health.stuck);
        }
        self.slots[slot as usize].at_server = true;
        let rep = &mut self.replicas[replica as usize];
        if let Some(lim) = &rep.limiter {
            let inflight = rep.busy + rep.queue.len() as u32;
            if inflight >= lim.limit() {
                // Over the adaptive limit: shed before queueing.
                rep.shed_by_limit += counting as u64;
                self.slots[slot as usize].started_at = now;
                return self.respond(slot, Outcome::Overloaded, false, now, q);
            }
            let req = &mut self.slots[slot as usize];
            req.admitted = true;
            req.inflight_at_admit = inflight;
        }
        let rep = &mut self.replicas[replica as usize];
        if rep.busy < workers {
            rep.busy += 1;
            self.emit_level(replica, now);
            self.start_service(slot, now, q);
        } else if rep.queue.len() < cap {
            rep.queue.push_back(slot);
            self.emit_level(replica, now);
        } else {
            // Turned away at admission: no worker was held, the answer goes straight back.
            self.slots[slot as usize].started_at = now;
            return self.respond(slot, Outcome::Overloaded, false, now, q);
        }
        Ok(())
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
        let rep = &mut self.replicas[replica as usize];
        if rep.health.down > 0 {
            // The process is gone: connection refused.
            rep.health.refused += counting as u64;
            let cause = rep.health.down_cause;
            self.count_fault(cause);
            self.slots[slot as usize].started_at = now;
            self.slots[slot as usize].conn_error = true;
            return self.respond(slot, Outcome::Refused, false, now, q);
        }
        // A paused process accepts connections into its backlog but answers nothing.
        if rep.queue.len() < cap {
            rep.queue.push_back(slot);
            self.slots[slot as usize].at_server = true;
            self.emit_level(replica, now);
        } else {
            let cause = rep.health.pause_cause;
            self.count_fault(cause);
            self.lose(slot);
        }
        Ok(())
    }

    /// A worker of `replica` is free: start the oldest queued request, shedding the ones that
    /// waited longer than the service's `max_queue_time`.
    #[inline]
    fn take_next_from_queue(
        &mut self,
        replica: u32,
        svc: usize,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        let max_wait = self.spec.services[svc].admission.max_queue_time;
        loop {
            let rep = &mut self.replicas[replica as usize];
            let mut workers = self.spec.services[svc].workers;
            if rep.impaired {
                if rep.health.down > 0 || rep.health.paused_until > now {
                    break; // nothing starts in a dead or paused process
                }
                workers = workers.saturating_sub(rep.health.stuck);
            }
            // A response sent below can bring a new request that takes the worker first.
            if rep.busy >= workers {
                break;
            }
            let Some(next) = rep.queue.pop_front() else {
                break;
            };
            let waited = now.0 - self.slots[next as usize].arrived_at.0;
            if self.slots[next as usize].deadline_ns <= now.0 {
                // Its caller's deadline has passed: nobody will read the answer.
                rep.shed_expired += (now >= self.count_from) as u64;
                self.emit_level(replica, now);
                self.slots[next as usize].started_at = now;
                self.respond(next, Outcome::Timeout, false, now, q)?;
                continue;
            }
            if max_wait.is_some_and(|m| waited > m.0) {
                rep.shed_by_queue_time += (now >= self.count_from) as u64;
                self.emit_level(replica, now);
                self.slots[next as usize].started_at = now;
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

    #[inline]
    fn start_service(&mut self, slot: u32, now: SimTime, q: &mut EventQueue<Event>) {
        let req = &mut self.slots[slot as usize];
        req.started_at = now;
        let gen = req.gen;
        let svc = req.service as usize;
        let rep = &mut self.replicas[req.replica as usize];
        let spec = &self.spec.services[svc];
        let mut d = spec.service_time.sample(&mut rep.service_time_rng);
        if rep.impaired {
            d = Self::stretched(rep, spec, d, now);
        }
        q.push(now + SimDuration(d), Event::ServiceDone { slot, gen });
    }

    /// A service time `d` at an impaired replica: times its slowdowns, and its cold-start
    /// factor while warming up after a restart (which ends the warm-up once it is over).
    #[cold]
    #[inline(never)]
    fn stretched(rep: &mut ReplicaState, spec: &ServiceSpec, d: u64, now: SimTime) -> u64 {
        let h = &mut rep.health;
        let mut f = h.slow_factor;
        if h.warming {
            // Cold after a restart: cold_factor at first, back to 1 linearly over warmup.
            let w = spec.restart.warmup.0;
            let since = now.0 - h.up_since.map_or(0, |t| t.0);
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

    fn service_done(
        &mut self,
        slot: u32,
        gen: u32,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        let req = &self.slots[slot as usize];
        if req.gen != gen || req.server_done {
            return Ok(()); // a crash already failed it
        }
        let (svc, replica) = (req.service as usize, req.replica as usize);
        // Active-passive replicas are always `impaired`, so healthy active-active ones skip
        // the replication checks with the fault checks.
        let (mut ap, mut replicated) = (false, false);
        if self.replicas[replica].impaired {
            let h = &mut self.replicas[replica].health;
            if h.paused_until > now {
                // Finished inside a pause: the answer goes out when the pause ends.
                q.push(h.paused_until, Event::ServiceDone { slot, gen });
                return Ok(());
            }
            if self.replicas[replica].disk.is_some() && self.disk_io(slot, gen, now, q)? {
                return Ok(());
            }
            let h = &mut self.replicas[replica].health;
            if h.fault_error_rate > 0.0 && h.fault_rng.chance(h.fault_error_rate) {
                let cause = h.error_cause;
                self.count_fault(cause);
                return self.respond(slot, Outcome::Error, true, now, q);
            }
            if h.leak_per_request_mb > 0.0 {
                h.leaked_mb += h.leak_per_request_mb;
                if h.leaked_mb >= h.leak_limit_mb {
                    return self.out_of_memory(replica as u32, now, q);
                }
            }
            if self.services[svc].ap.is_some() {
                ap = true;
                replicated = self.ap_acked(slot);
            }
        }
        let spec = &self.spec.services[svc];
        let st = &mut self.services[svc];
        if !replicated {
            if spec.error_rate > 0.0 && st.error_rng.chance(spec.error_rate) {
                return self.respond(slot, Outcome::Error, true, now, q);
            }
            if ap && self.ap_write(slot, gen, now, q)? {
                return Ok(());
            }
        }
        let spec = &self.spec.services[svc];
        let st = &mut self.services[svc];
        match spec.fan_out {
            FanOut::Sequential => {
                self.slots[slot as usize].next_call = 0;
                self.next_sequential(slot, now, q)
            }
            FanOut::Parallel => {
                // Decide every call first and set the pending count before sending, because a
                // call over a zero-latency link can complete inside `send`.
                let n = spec.calls.len();
                let mut taken: u64 = 0;
                for (i, c) in spec.calls.iter().enumerate() {
                    if st.call_rng.chance(c.probability) {
                        taken |= 1 << i;
                    }
                }
                let count = taken.count_ones() as u16;
                if count == 0 {
                    return self.respond(slot, Outcome::Ok, true, now, q);
                }
                let gen = self.slots[slot as usize].gen;
                self.slots[slot as usize].pending = count;
                for i in 0..n {
                    if taken & (1 << i) == 0 {
                        continue;
                    }
                    let p = &self.slots[slot as usize];
                    if p.gen != gen || p.server_done {
                        break; // failed fast on an earlier call
                    }
                    let caller = CallerRef::Call {
                        parent: slot,
                        parent_gen: gen,
                        call: i as u16,
                    };
                    self.start_call(self.call_edge[svc][i], caller, now, q)?;
                }
                Ok(())
            }
        }
    }

    #[inline]
    fn next_sequential(
        &mut self,
        slot: u32,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        let svc = self.slots[slot as usize].service as usize;
        loop {
            let i = self.slots[slot as usize].next_call as usize;
            let calls = &self.spec.services[svc].calls;
            if i >= calls.len() {
                return self.respond(slot, Outcome::Ok, true, now, q);
            }
            self.slots[slot as usize].next_call += 1;
            let p = calls[i].probability;
            if self.services[svc].call_rng.chance(p) {
                let caller = CallerRef::Call {
                    parent: slot,
                    parent_gen: self.slots[slot as usize].gen,
                    call: i as u16,
                };
                return self.start_call(self.call_edge[svc][i], caller, now, q);
            }
        }
    }

    /// The replica finishes a request with `status` and sends the response back.
    #[inline]
    fn respond(
        &mut self,
        slot: u32,
        status: Outcome,
        held_worker: bool,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        let req = &mut self.slots[slot as usize];
        req.server_done = true;
        req.at_server = false;
        let status = if status == Outcome::Ok && req.degraded {
            Outcome::Degraded
        } else {
            status
        };
        req.status = status;
        let (svc, replica, from) = (req.service as usize, req.replica, req.from);
        let (arrived_at, started_at) = (req.arrived_at, req.started_at);
        self.obs
            .service_done(svc, status, arrived_at, started_at, now);
        let (admitted, inflight_at_admit) = (req.admitted, req.inflight_at_admit);
        if admitted {
            if let Some(lim) = &mut self.replicas[replica as usize].limiter {
                let dropped = matches!(status, Outcome::Error | Outcome::Overloaded);
                lim.on_sample(now.0 - arrived_at.0, inflight_at_admit, dropped);
            }
        }
        if held_worker {
            self.replicas[replica as usize].busy -= 1;
            self.take_next_from_queue(replica, svc, now, q)?;
        }
        let link = self.link_of[from as usize * self.spec.services.len() + svc] as usize;
        let mut extra = 0;
        if !self.links[link].plain || !self.cuts.is_empty() {
            let (a, b) = (
                self.replica_entity(replica),
                self.slots[slot as usize].caller_entity,
            );
            match self.link_extra(link, 1, a, b, now) {
                Some(e) => extra = e,
                None => {
                    self.lose(slot);
                    return Ok(());
                }
            }
        }
        let l = &mut self.links[link];
        if l.zero && extra == 0 {
            // A zero-latency link answers within this event; the caller may send its next
            // call from here, which can hit a limit.
            self.response(slot, now, q)
        } else {
            let d = l.latency.sample(&mut l.rng) + extra;
            q.push(now + SimDuration(d), Event::Response { slot });
            Ok(())
        }
    }

    /// The response to `slot` reaches its caller.
    #[inline]
    fn response(
        &mut self,
        slot: u32,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        let req = &self.slots[slot as usize];
        let (service, replica, status, caller) = (req.service, req.replica, req.status, req.caller);
        let (from, sent_at) = (req.from, req.sent_at);
        if !req.abandoned && self.services[service as usize].checked {
            let conn_error = req.conn_error;
            self.passive_result(service as usize, replica, status, conn_error, now);
        }
        self.replicas[replica as usize].outstanding -= 1;
        self.release(slot);
        match caller {
            CallerRef::Inv { inv, gen, tag } => {
                self.inv_child_result(inv, gen, tag, status, now, q)
            }
            root => self.root_learns(root, from, status, sent_at, now, q),
        }
    }

    /// The waiting end of a call (a client, or a parent request) learns its outcome.
    #[inline]
    fn root_learns(
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
                self.obs.client_done(c, outcome, started_at, now);
                let st = &mut self.clients[c];
                st.in_flight -= 1;
                self.obs.client_in_flight(c, st.in_flight, now);
                if user != NO_USER {
                    if let Load::Closed { think_time, .. } = &self.spec.clients[c].load {
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
                if self.any_cache {
                    let edge = self.call_edge[parent_svc][call as usize] as usize;
                    if self.caches[edge].is_some() {
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
    fn child_done(
        &mut self,
        parent: u32,
        gen: u32,
        outcome: Outcome,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        let p = &mut self.slots[parent as usize];
        if p.gen != gen || p.server_done {
            return Ok(()); // the parent already answered (it failed fast on another call)
        }
        match outcome {
            Outcome::Ok => {}
            // A degraded answer lets the request go on, and makes its own answer degraded.
            Outcome::Degraded => p.degraded = true,
            _ => return self.respond(parent, Outcome::Error, true, now, q),
        }
        match self.spec.services[p.service as usize].fan_out {
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

    #[inline]
    fn client_send(
        &mut self,
        ci: usize,
        user: u32,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<u64, LimitHit> {
        self.obs.client_sent(ci, now);
        let spec = &self.spec.clients[ci];
        if self.clients[ci].in_flight >= spec.max_in_flight {
            // Open loop only: validation keeps closed-loop users within max_in_flight.
            self.obs.client_done(ci, Outcome::Rejected, now, now);
            return Ok(0);
        }
        self.clients[ci].in_flight += 1;
        self.obs
            .client_in_flight(ci, self.clients[ci].in_flight, now);
        let caller = CallerRef::Client {
            client: ci as u32,
            user,
        };
        let id = self.next_request_id;
        self.start_call(self.client_edge[ci], caller, now, q)?;
        Ok(id)
    }
}

impl<O: Observer> Model for World<O> {
    type Event = Event;

    #[inline]
    fn handle(
        &mut self,
        now: SimTime,
        event: Event,
        q: &mut EventQueue<Event>,
    ) -> Result<TraceRecord, LimitHit> {
        let rec = match event {
            Event::ClientArrival { client } => {
                if let Some(t) = self.next_arrival(client as usize, now) {
                    q.push(t, Event::ClientArrival { client });
                }
                let id = self.client_send(client as usize, NO_USER, now, q)?;
                TraceRecord {
                    kind: kind::CLIENT_ARRIVAL,
                    entity: self.client_entity(client),
                    request: id,
                }
            }
            Event::UserWake { client, user } => {
                let id = self.client_send(client as usize, user, now, q)?;
                TraceRecord {
                    kind: kind::USER_WAKE,
                    entity: self.client_entity(client),
                    request: id,
                }
            }
            Event::Deliver { slot } => {
                let r = &self.slots[slot as usize];
                let rec = TraceRecord {
                    kind: kind::DELIVER,
                    entity: self.replica_entity(r.replica),
                    request: r.id,
                };
                self.deliver(slot, now, q)?;
                rec
            }
            Event::ServiceDone { slot, gen } => {
                let r = &self.slots[slot as usize];
                let rec = TraceRecord {
                    kind: kind::SERVICE_DONE,
                    entity: self.replica_entity(r.replica),
                    request: r.id,
                };
                self.service_done(slot, gen, now, q)?;
                rec
            }
            Event::Response { slot } => {
                let r = &self.slots[slot as usize];
                let rec = TraceRecord {
                    kind: kind::RESPONSE,
                    entity: r.caller_entity,
                    request: r.id,
                };
                self.response(slot, now, q)?;
                rec
            }
            Event::PolicyTimer { inv, gen, what } => {
                let v = &self.invs[inv as usize];
                let rec = TraceRecord {
                    kind: kind::POLICY_TIMER,
                    entity: v.caller_entity,
                    request: inv as u64,
                };
                self.policy_timer(inv, gen, what, now, q)?;
                rec
            }
            Event::Fault { index, start } => {
                let rec = TraceRecord {
                    kind: kind::FAULT,
                    entity: self.fault_entity(index),
                    request: start as u64,
                };
                self.fault_event(index as usize, start, now, q)?;
                rec
            }
            Event::Probe {
                replica,
                what,
                incarnation,
            } => {
                let rec = TraceRecord {
                    kind: kind::PROBE,
                    entity: self.replica_entity(replica),
                    request: what as u64,
                };
                self.probe(replica, what, incarnation, now, q)?;
                rec
            }
            Event::Restart { replica } => {
                let rec = TraceRecord {
                    kind: kind::RESTART,
                    entity: self.replica_entity(replica),
                    request: 0,
                };
                self.restart(replica, now);
                rec
            }
            Event::OutlierSweep { service } => {
                let rec = TraceRecord {
                    kind: kind::OUTLIER_SWEEP,
                    entity: self.replica_entity(self.services[service as usize].first_replica),
                    request: 0,
                };
                self.outlier_sweep(service as usize, now, q);
                rec
            }
            Event::Heartbeat { service } => {
                let rec = TraceRecord {
                    kind: kind::HEARTBEAT,
                    entity: self.replica_entity(self.services[service as usize].first_replica),
                    request: 0,
                };
                self.heartbeat(service as usize, now, q);
                rec
            }
        };
        if self.any_pool && !self.pool_freed.is_empty() {
            self.dispatch_pools(now, q)?;
        }
        Ok(rec)
    }
}

/// Trace entity names in entity-id order: clients first, then every replica as `service/index`,
/// then the fault windows.
pub fn entity_names(spec: &SystemSpec) -> Vec<String> {
    let mut v: Vec<String> = spec.clients.iter().map(|c| c.name.clone()).collect();
    for s in &spec.services {
        for r in 0..s.replicas {
            v.push(format!("{}/{}", s.name, r));
        }
    }
    for (i, f) in spec.faults.iter().enumerate() {
        v.push(format!("fault#{i}:{}", f.label));
    }
    v
}

// ------------------------------------------------------------------ policy stacks

impl<O: Observer> World<O> {
    /// Starts a call on `edge` for `root`: straight to the network when the edge has no
    /// policies, otherwise into the outermost layer.
    #[inline]
    fn start_call(
        &mut self,
        edge: u32,
        root: CallerRef,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        if self.any_cache && self.caches[edge as usize].is_some() {
            match self.cached_call(edge, root, now) {
                Some(Lookup::Hit) => {
                    if let CallerRef::Call {
                        parent, parent_gen, ..
                    } = root
                    {
                        return self.child_done(parent, parent_gen, Outcome::Ok, now, q);
                    }
                }
                Some(Lookup::Wait(_)) => return Ok(()),
                _ => {}
            }
        }
        let e = &self.edges[edge as usize];
        if e.layers.is_empty() {
            let (from, to) = (e.from, e.to);
            self.send(root, from, to, now, q)?;
            return Ok(());
        }
        let (caller_entity, caller_replica) = match root {
            CallerRef::Client { client, .. } => (self.client_entity(client), 0),
            CallerRef::Call { parent, .. } => {
                let r = self.slots[parent as usize].replica;
                let first = self.services[self.replicas[r as usize].service as usize].first_replica;
                (self.replica_entity(r), r - first)
            }
            CallerRef::Inv { .. } => unreachable!("a root is a client or a call"),
        };
        self.invoke(edge, 0, root, caller_entity, caller_replica, now, q)
    }

    fn alloc_inv(&mut self, now: SimTime) -> Result<u32, LimitHit> {
        if let Some(i) = self.inv_free.pop() {
            return Ok(i);
        }
        if self.invs.len() as u64 >= self.limits.max_live_requests as u64 {
            return Err(self.live_limit_hit(now));
        }
        self.invs.push(Inv {
            gen: 0,
            edge: 0,
            layer: 0,
            instance: 0,
            done: true,
            parent: CallerRef::Inv {
                inv: 0,
                gen: 0,
                tag: 0,
            },
            caller_entity: 0,
            caller_replica: 0,
            started_at_ns: 0,
            child_started_at_ns: 0,
            attempt: 0,
            backoff: BackoffState::default(),
            ticket: None,
            bulkhead_ticket: 0,
            pending: 0,
            deadline_ns: u64::MAX,
            child_slot: NO_SLOT,
            child_gen: 0,
        });
        Ok((self.invs.len() - 1) as u32)
    }

    /// Enters layer `layer` of `edge` on behalf of `parent`.
    #[allow(clippy::too_many_arguments)]
    fn invoke(
        &mut self,
        edge: u32,
        layer: u8,
        parent: CallerRef,
        caller_entity: u32,
        caller_replica: u32,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        let id = self.alloc_inv(now)?;
        // The deadline inherited from outside: the enclosing layer's, or the calling request's
        // when this edge propagates deadlines.
        let inherited = match parent {
            CallerRef::Inv { inv, .. } => self.invs[inv as usize].deadline_ns,
            CallerRef::Call { parent: p, .. } if self.edges[edge as usize].propagate_deadline => {
                self.slots[p as usize].deadline_ns
            }
            _ => u64::MAX,
        };
        let l = &mut self.edges[edge as usize].layers[layer as usize];
        let instance = l.instance_index(caller_replica);
        l.count(instance, now >= self.count_from, |c| c.calls += 1);
        let deadline_ns = match l.spec {
            PolicySpec::Timeout { timeout } => inherited.min((now + timeout).0),
            _ => inherited,
        };
        let v = &mut self.invs[id as usize];
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
        };
        let t = now.0;
        let e = &mut self.edges[edge as usize];
        let rng = &mut e.rng;
        let l = &mut e.layers[layer as usize];
        match (&l.spec, &mut l.instances[instance]) {
            (PolicySpec::Timeout { timeout }, _) => {
                let at = now + *timeout;
                push_timer(q, at, id, gen, timer::TIMEOUT);
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
                    push_timer(q, SimTime(deadline_ns), id, gen, timer::TIMEOUT);
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
                let after = b.state();
                if before != after {
                    l.record_transition(instance, t, before, after);
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
                    self.invs[id as usize].bulkhead_ticket = ticket;
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
                    let v = &mut self.invs[id as usize];
                    v.attempt = 1 + max;
                    v.pending = (1 + max) as u16;
                    for tag in 0..=max {
                        let v = &self.invs[id as usize];
                        if v.gen != gen || v.done {
                            break;
                        }
                        self.start_inner_tagged(id, tag as u16, now, q)?;
                    }
                    return Ok(());
                }
                self.invs[id as usize].pending = 1;
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
        let v = &mut self.invs[id as usize];
        let tag = v.attempt as u16;
        v.attempt += 1;
        v.pending += 1;
        let (edge, layer, instance) = (v.edge, v.layer, v.instance);
        if now >= self.count_from {
            self.edges[edge as usize].layers[layer as usize].counters[instance as usize].hedges +=
                1;
        }
        self.start_inner_tagged(id, tag, now, q)
    }

    /// Starts what is inside invocation `id`: the next layer, or the request itself.
    fn start_inner(
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
        let v = &mut self.invs[id as usize];
        v.child_started_at_ns = now.0;
        let v = *v;
        let e = &self.edges[v.edge as usize];
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
                now,
                q,
            )
        } else {
            let (from, to) = (e.from, e.to);
            self.send(me, from, to, now, q)?;
            Ok(())
        }
    }

    /// Is whoever waits on `c` still waiting? (Cooperative cancellation for retry loops.)
    fn still_wanted(&self, c: CallerRef) -> bool {
        match c {
            CallerRef::Client { .. } => true,
            CallerRef::Call {
                parent, parent_gen, ..
            } => {
                let p = &self.slots[parent as usize];
                p.gen == parent_gen && !p.server_done
            }
            CallerRef::Inv { inv, gen, .. } => {
                let v = &self.invs[inv as usize];
                v.gen == gen && !v.done
            }
        }
    }

    /// What is inside invocation `id` finished with `outcome`.
    fn inv_child_result(
        &mut self,
        id: u32,
        gen: u32,
        tag: u16,
        outcome: Outcome,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        let v = self.invs[id as usize];
        if v.gen != gen || v.done {
            return Ok(()); // this layer already answered (a timeout fired): the result is wasted
        }
        let t = now.0;
        let instance = v.instance as usize;
        let e = &mut self.edges[v.edge as usize];
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
                let after = b.state();
                if before != after {
                    l.record_transition(instance, t, before, after);
                }
                self.inv_complete(id, outcome, now, q)
            }
            (PolicySpec::Bulkhead { .. }, Instance::Bulkhead(b)) => {
                let next = b.release();
                let waiter = next.and_then(|ticket| l.waiting[instance].remove(&ticket));
                if let Some((w, wgen)) = waiter {
                    if self.invs[w as usize].gen == wgen && !self.invs[w as usize].done {
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
                let inv = &mut self.invs[id as usize];
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
                let inv = &mut self.invs[id as usize];
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
    fn inv_complete(
        &mut self,
        id: u32,
        outcome: Outcome,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        let v = &mut self.invs[id as usize];
        debug_assert!(!v.done);
        v.done = true;
        let v = *v;
        // The generation moves on when freed, so timers and late results for it are ignored.
        self.invs[id as usize].gen = v.gen.wrapping_add(1);
        self.inv_free.push(id);
        let from = self.edges[v.edge as usize].from;
        self.root_learns(v.parent, from, outcome, SimTime(v.started_at_ns), now, q)
    }

    fn policy_timer(
        &mut self,
        id: u32,
        gen: u32,
        what: u8,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        let v = self.invs[id as usize];
        if v.gen != gen || v.done {
            return Ok(()); // the invocation already answered
        }
        let instance = v.instance as usize;
        match what {
            timer::TIMEOUT => {
                if now >= self.count_from {
                    self.edges[v.edge as usize].layers[v.layer as usize].counters[instance]
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
                let l = &mut self.edges[v.edge as usize].layers[v.layer as usize];
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
                let l = &self.edges[v.edge as usize].layers[v.layer as usize];
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
                let v = self.invs[id as usize];
                if v.gen == gen && !v.done && v.attempt < 1 + max_hedged_attempts {
                    push_timer(q, now + SimDuration(wait), id, gen, timer::HEDGE);
                }
                Ok(())
            }
            _ => unreachable!("unknown policy timer"),
        }
    }

    // ------------------------------------------------------------------ faults and health

    fn fault_entity(&self, index: u32) -> u32 {
        (self.spec.clients.len() + self.replicas.len()) as u32 + index
    }

    /// Appends to a replica's health log (bounded).
    #[cold]
    #[inline(never)]
    fn log_health(&mut self, replica: u32, what: &'static str, now: SimTime) {
        let h = &mut self.replicas[replica as usize].health;
        if h.log.len() < HEALTH_LOG_MAX {
            h.log.push(HealthChange { at_ns: now.0, what });
        } else {
            h.log_dropped += 1;
        }
    }

    /// The replica just left load balancing: the first such moment during a fault aimed at it
    /// is that fault's detection time.
    #[cold]
    #[inline(never)]
    fn left_balancing(&mut self, replica: u32, what: &'static str, now: SimTime) {
        self.log_health(replica, what, now);
        for (i, f) in self.spec.faults.iter().enumerate() {
            let Some(target) = f.effect.replica() else {
                continue;
            };
            let active = f.start <= now && f.end.is_none_or(|e| now <= e);
            if target == replica && active && self.fault_detected[i].is_none() {
                self.fault_detected[i] = Some(now);
            }
        }
    }

    #[cold]
    #[inline(never)]
    fn fault_event(
        &mut self,
        index: usize,
        start: bool,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        let f = self.spec.faults[index].clone();
        let cause = index as u32;
        match f.effect {
            FaultEffect::Crash { replica } => {
                if start {
                    self.crash(replica, cause, now, q)?;
                } else {
                    self.restart(replica, now);
                }
            }
            FaultEffect::Hang { replica } => {
                let h = &mut self.replicas[replica as usize].health;
                if start {
                    if h.down == 0 {
                        h.paused_until = f.end.unwrap_or(SimTime(u64::MAX));
                        h.pause_cause = cause;
                        self.log_health(replica, "paused", now);
                    }
                } else if h.paused_until == now {
                    // Not cut short by a crash: resume and drain the backlog.
                    h.paused_until = SimTime::ZERO;
                    self.log_health(replica, "resumed", now);
                    self.drain(replica, now, q)?;
                }
            }
            FaultEffect::Slowdown { replica, factor } => {
                let h = &mut self.replicas[replica as usize].health;
                if start {
                    h.slowdowns.push((cause, factor));
                } else {
                    h.slowdowns.retain(|&(c, _)| c != cause);
                }
                h.slow_factor = h.slowdowns.iter().map(|&(_, f)| f).product();
            }
            FaultEffect::Errors { replica, rate } => {
                let h = &mut self.replicas[replica as usize].health;
                if start {
                    h.fault_error_rate = rate;
                    h.error_cause = cause;
                } else if h.error_cause == cause {
                    h.fault_error_rate = 0.0;
                    h.error_cause = NO_FAULT;
                }
            }
            FaultEffect::StuckWorkers { replica, workers } => {
                let total =
                    self.spec.services[self.replicas[replica as usize].service as usize].workers;
                let h = &mut self.replicas[replica as usize].health;
                if start {
                    let take = workers.min(total - h.stuck.min(total));
                    h.stuck += take;
                    self.fault_taken[index] = take;
                } else {
                    h.stuck = h.stuck.saturating_sub(self.fault_taken[index]);
                    self.drain(replica, now, q)?;
                }
            }
            FaultEffect::MemoryLeak {
                replica,
                per_request_mb,
                limit_mb,
            } => {
                let h = &mut self.replicas[replica as usize].health;
                if start {
                    h.leak_per_request_mb = per_request_mb;
                    h.leak_limit_mb = limit_mb;
                    h.leak_cause = cause;
                } else if h.leak_cause == cause {
                    // Rolled back: no more leaking (what leaked stays until the next restart).
                    h.leak_per_request_mb = 0.0;
                    h.leak_cause = NO_FAULT;
                }
            }
            FaultEffect::Partition {
                ref from,
                ref to,
                one_way,
            } if from
                .iter()
                .chain(to.iter())
                .any(|e| matches!(e, Endpoint::Replica(_))) =>
            {
                // Names single replicas: checked per message rather than per link.
                if start {
                    self.cuts.push(Cut {
                        cause,
                        from: from.clone(),
                        to: to.clone(),
                        one_way,
                    });
                } else {
                    self.cuts.retain(|c| c.cause != cause);
                }
            }
            FaultEffect::Partition {
                ref from,
                ref to,
                one_way,
            } => {
                for l in self.links.iter_mut() {
                    let a_in = |g: &Vec<Endpoint>| g.contains(&l.from);
                    let s_in = |g: &Vec<Endpoint>| g.contains(&Endpoint::Service(l.to));
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
            FaultEffect::Degrade {
                from,
                to,
                ref added_latency,
                loss,
            } => {
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
            FaultEffect::Spike { .. } => {}
            FaultEffect::Scale { service, replicas } => {
                let old = self.services[service].replicas;
                let to = if start {
                    self.scale_saved[index] = old;
                    replicas
                } else {
                    self.scale_saved[index]
                };
                self.scale(service, to, now);
            }
            FaultEffect::Disk { replica, fault } => {
                if let Some(d) = &mut self.replicas[replica as usize].disk {
                    if start {
                        d.fault = Some((fault, cause));
                    } else if d.fault.is_some_and(|(_, c)| c == cause) {
                        d.fault = None;
                    }
                }
            }
            FaultEffect::FlushCache { service, call } => {
                if start {
                    let edge = self.call_edge[service][call] as usize;
                    if let Some(c) = &mut self.caches[edge] {
                        c.flush(now);
                    }
                }
            }
            FaultEffect::Config { target, change } => {
                let set = if start {
                    change
                } else {
                    self.config_saved[index]
                };
                let old = self.apply_config(target, set, now, q)?;
                if start {
                    self.config_saved[index] = old;
                }
            }
        }
        if let Some(r) = f.effect.replica() {
            self.replicas[r as usize].refresh_impaired();
        }
        Ok(())
    }

    /// Applies a configuration change to the running system; returns the values it replaced.
    /// New invocations of an edge see a new timeout or retry count (those in progress keep
    /// theirs); more workers start queued requests at once, fewer let the busy ones finish.
    #[cold]
    #[inline(never)]
    fn apply_config(
        &mut self,
        target: ConfigTarget,
        change: ConfigChange,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<ConfigChange, LimitHit> {
        let mut old = ConfigChange::default();
        let edge = match target {
            ConfigTarget::Client(c) => Some(self.client_edge[c] as usize),
            ConfigTarget::Call { service, call } => Some(self.call_edge[service][call] as usize),
            ConfigTarget::Service(_) => None,
        };
        if let Some(e) = edge {
            let layers = &mut self.edges[e].layers;
            if let Some(t) = change.timeout {
                // The innermost timeout: the edge's own `timeout` field when it has one.
                if let Some(PolicySpec::Timeout { timeout }) = layers
                    .iter_mut()
                    .rev()
                    .map(|l| &mut l.spec)
                    .find(|s| matches!(s, PolicySpec::Timeout { .. }))
                {
                    old.timeout = Some(std::mem::replace(timeout, t));
                }
            }
            if let Some(a) = change.max_attempts {
                if let Some(PolicySpec::Retry(r)) = layers
                    .iter_mut()
                    .map(|l| &mut l.spec)
                    .find(|s| matches!(s, PolicySpec::Retry(_)))
                {
                    old.max_attempts = Some(std::mem::replace(&mut r.max_attempts, a));
                }
            }
        }
        if let (ConfigTarget::Service(s), Some(w)) = (target, change.workers) {
            old.workers = Some(std::mem::replace(&mut self.spec.services[s].workers, w));
            let first = self.services[s].first_replica;
            for r in first..first + self.spec.services[s].replicas {
                self.drain(r, now, q)?;
            }
        }
        Ok(old)
    }

    /// `svc` runs `n` replicas from now: the ones beyond `n` take no new requests (they finish
    /// what they hold); the ones added start like a restarted process (cold, readiness to earn).
    #[cold]
    #[inline(never)]
    fn scale(&mut self, svc: usize, n: u32, now: SimTime) {
        let old = self.services[svc].replicas;
        let first = self.services[svc].first_replica;
        self.services[svc].replicas = n;
        self.services[svc].rr_next = 0;
        for local in old..n {
            let r = first + local;
            let spec = &self.spec.services[svc];
            let (warmup, cold) = (spec.restart.warmup, spec.restart.cold_factor);
            let h = &mut self.replicas[r as usize].health;
            h.up_since = Some(now);
            h.warming = warmup.0 > 0 && cold != 1.0;
            if let Some(p) = &mut h.readiness {
                p.reset(false);
                h.ready = false;
            }
            self.replicas[r as usize].refresh_impaired();
            self.log_health(r, "added", now);
        }
        for local in n..old {
            self.log_health(first + local, "removed", now);
        }
    }

    /// Starts queued requests on every free worker of `replica`.
    fn drain(
        &mut self,
        replica: u32,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        let svc = self.replicas[replica as usize].service as usize;
        let workers = self.spec.services[svc].workers;
        for _ in 0..workers {
            let r = &self.replicas[replica as usize];
            if r.queue.is_empty() || r.busy + r.health.stuck >= workers {
                break;
            }
            self.take_next_from_queue(replica, svc, now, q)?;
        }
        Ok(())
    }

    /// A leaking replica reached its memory limit: the kernel kills it (everything it holds is
    /// reset, the request that tipped it over included) and it restarts after the delay.
    #[cold]
    #[inline(never)]
    fn out_of_memory(
        &mut self,
        replica: u32,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        let h = &mut self.replicas[replica as usize].health;
        let cause = h.leak_cause;
        h.oom_kills += (now >= self.count_from) as u64;
        self.log_health(replica, "oom_kill", now);
        self.crash(replica, cause, now, q)?;
        let svc = self.replicas[replica as usize].service as usize;
        let delay = self.spec.services[svc].restart.delay;
        q.push(now + delay, Event::Restart { replica });
        Ok(())
    }

    /// The replica's process dies: everything it holds is reset.
    #[cold]
    #[inline(never)]
    fn crash(
        &mut self,
        replica: u32,
        cause: u32,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        let counting = now >= self.count_from;
        let rep = &mut self.replicas[replica as usize];
        rep.health.down += 1;
        if rep.health.down > 1 {
            return Ok(()); // already down
        }
        let svc = rep.service as usize;
        let h = &mut rep.health;
        h.down_cause = cause;
        h.incarnation = h.incarnation.wrapping_add(1);
        h.paused_until = SimTime::ZERO;
        h.stuck = 0;
        h.crashes += counting as u64;
        rep.busy = 0;
        rep.refresh_impaired();
        rep.limiter = self.spec.services[svc]
            .admission
            .concurrency_limit
            .as_ref()
            .map(ConcurrencyLimiter::new);
        self.log_health(replica, "down", now);
        let s = &mut self.services[svc];
        let local = replica - s.first_replica;
        if let Some(g) = &mut s.ap {
            g.crashed(local, now);
        }
        // Everything the process held: its backlog, then what was in service, in slot order.
        // Answering a queued request clears its `at_server`, so the scan finds only the ones in
        // service; nothing new lands here meanwhile, as the replica is down.
        let queued: Vec<u32> = self.replicas[replica as usize].queue.drain(..).collect();
        self.reset_all(replica, cause, counting, queued, now, q)?;
        let in_service: Vec<u32> = (0..self.slots.len() as u32)
            .filter(|&i| {
                let r = &self.slots[i as usize];
                r.live && r.at_server && r.replica == replica
            })
            .collect();
        self.reset_all(replica, cause, counting, in_service, now, q)?;
        self.emit_level(replica, now);
        Ok(())
    }

    /// Answers each of `slots` (held by crashed `replica`) with a reset.
    fn reset_all(
        &mut self,
        replica: u32,
        cause: u32,
        counting: bool,
        slots: Vec<u32>,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        for slot in slots {
            let r = &self.slots[slot as usize];
            if !r.live || r.server_done {
                continue; // answered by a reset sent earlier in this loop
            }
            self.replicas[replica as usize].health.reset += counting as u64;
            self.count_fault(cause);
            self.slots[slot as usize].conn_error = true;
            self.respond(slot, Outcome::Error, false, now, q)?;
        }
        Ok(())
    }

    /// A crash fault ends, or a liveness kill's restart delay is over.
    #[cold]
    #[inline(never)]
    fn restart(&mut self, replica: u32, now: SimTime) {
        let svc = self.replicas[replica as usize].service as usize;
        let h = &mut self.replicas[replica as usize].health;
        h.down = h.down.saturating_sub(1);
        if h.down > 0 {
            return;
        }
        h.down_cause = NO_FAULT;
        h.up_since = Some(now);
        h.leaked_mb = 0.0; // a new process
        let r = &self.spec.services[svc].restart;
        h.warming = r.warmup.0 > 0 && r.cold_factor != 1.0;
        // A new container: readiness must be earned again, liveness starts passing.
        if let Some(p) = &mut h.readiness {
            p.reset(false);
            h.ready = false;
        }
        if let Some(p) = &mut h.liveness {
            p.reset(true);
        }
        h.nginx = NginxPassive::default();
        let s = &mut self.services[svc];
        if let Some(o) = &mut s.outlier {
            o.reset_host((replica - s.first_replica) as usize);
        }
        let local = replica - s.first_replica;
        if let Some(g) = &mut s.ap {
            g.restarted(local, now);
        }
        self.replicas[replica as usize].refresh_impaired();
        self.log_health(replica, "up", now);
    }

    #[cold]
    #[inline(never)]
    fn probe(
        &mut self,
        replica: u32,
        what: u8,
        incarnation: u32,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        let kind = what & 1;
        let svc = self.replicas[replica as usize].service as usize;
        let health = self.spec.services[svc].health;
        let cfg = if kind == probe::READINESS {
            health.readiness
        } else {
            health.liveness
        }
        .expect("probes are scheduled only when configured");
        let h = &self.replicas[replica as usize].health;
        let ok = if what & probe::TIMED_OUT != 0 {
            if incarnation != h.incarnation {
                return Ok(()); // sent to a process that has since died
            }
            false
        } else {
            q.push(
                now + SimDuration(cfg.period_ns),
                Event::Probe {
                    replica,
                    what,
                    incarnation: 0,
                },
            );
            if h.up_since
                .is_some_and(|t| now.0 < t.0 + cfg.initial_delay_ns)
            {
                return Ok(()); // initialDelaySeconds after a (re)start
            }
            if h.down > 0 {
                false // connection refused
            } else if h.paused_until > now && h.paused_until.0 - now.0 >= cfg.timeout_ns {
                q.push(
                    now + SimDuration(cfg.timeout_ns),
                    Event::Probe {
                        replica,
                        what: what | probe::TIMED_OUT,
                        incarnation: h.incarnation,
                    },
                );
                return Ok(());
            } else {
                true
            }
        };
        let h = &mut self.replicas[replica as usize].health;
        if kind == probe::READINESS {
            match h.readiness.as_mut().and_then(|p| p.on_result(ok)) {
                Some(false) => {
                    h.ready = false;
                    self.left_balancing(replica, "unready", now);
                }
                Some(true) => {
                    h.ready = true;
                    self.log_health(replica, "ready", now);
                }
                None => {}
            }
        } else if let Some(false) = h.liveness.as_mut().and_then(|p| p.on_result(ok)) {
            if h.down == 0 {
                // The kubelet kills the container and starts a new one after the delay.
                h.liveness_kills += (now >= self.count_from) as u64;
                let cause = if h.paused_until > now {
                    h.pause_cause
                } else {
                    NO_FAULT
                };
                self.left_balancing(replica, "liveness_kill", now);
                self.crash(replica, cause, now, q)?;
                let delay = self.spec.services[svc].restart.delay;
                q.push(now + delay, Event::Restart { replica });
            }
        }
        Ok(())
    }

    #[cold]
    #[inline(never)]
    fn outlier_sweep(&mut self, svc: usize, now: SimTime, q: &mut EventQueue<Event>) {
        let first = self.services[svc].first_replica;
        let mut out = std::mem::take(&mut self.unejected);
        if let Some(o) = &mut self.services[svc].outlier {
            o.sweep(now.0, &mut out);
            q.push(
                now + SimDuration(o.config().interval_ns),
                Event::OutlierSweep {
                    service: svc as u32,
                },
            );
        }
        for &i in &out {
            self.log_health(first + i as u32, "returned", now);
        }
        self.unejected = out;
    }

    /// Passive health checking sees the outcome of a request to `replica`.
    #[cold]
    #[inline(never)]
    fn passive_result(
        &mut self,
        svc: usize,
        replica: u32,
        status: Outcome,
        conn_error: bool,
        now: SimTime,
    ) {
        match self.spec.services[svc].health.passive {
            Some(PassiveHealth::Nginx(cfg)) => {
                // proxy_next_upstream's default `error timeout`: connection failures and
                // timeouts count, an HTTP error response does not.
                let failed = conn_error || matches!(status, Outcome::Refused | Outcome::Timeout);
                let h = &mut self.replicas[replica as usize].health;
                if h.nginx.on_result(&cfg, !failed, now.0) && self.services[svc].replicas > 1 {
                    self.left_balancing(replica, "nginx_down", now);
                }
            }
            Some(PassiveHealth::Envoy(_)) => {
                // 5xx and locally originated failures (reset, refused, timeout) alike.
                let failed = !matches!(status, Outcome::Ok | Outcome::Degraded);
                let s = &mut self.services[svc];
                let host = (replica - s.first_replica) as usize;
                let o = s
                    .outlier
                    .as_mut()
                    .expect("envoy passive health has a detector");
                if o.on_result(host, !failed, now.0) == OutlierEvent::Ejected {
                    self.replicas[replica as usize].health.ejections += 1;
                    self.left_balancing(replica, "ejected", now);
                }
            }
            None => {}
        }
    }

    /// A per-attempt timeout fired with request `slot` (generation `gen`) still out: passive
    /// health checking counts it against its replica now, not when its late answer comes.
    #[cold]
    #[inline(never)]
    fn attempt_timed_out(&mut self, slot: u32, gen: u32, now: SimTime) {
        if slot == NO_SLOT {
            return;
        }
        let r = &mut self.slots[slot as usize];
        if r.gen != gen || !r.live || r.abandoned {
            return;
        }
        r.abandoned = true;
        let (svc, replica) = (r.service as usize, r.replica);
        if self.services[svc].checked {
            self.passive_result(svc, replica, Outcome::Timeout, false, now);
        }
    }

    /// Every replica's health figures (replicas no fault or check touched are included when
    /// their service has health checks).
    pub fn health_reports(&self) -> Vec<HealthReport> {
        self.replicas
            .iter()
            .enumerate()
            .filter(|(_, r)| {
                let h = &r.health;
                self.services[r.service as usize].checked
                    || self.spec.services[r.service as usize]
                        .health
                        .liveness
                        .is_some()
                    || !h.log.is_empty()
                    || h.refused + h.reset > 0
            })
            .map(|(_, r)| {
                let h = &r.health;
                HealthReport {
                    service: self.spec.services[r.service as usize].name.clone(),
                    replica: r.index,
                    crashes: h.crashes,
                    liveness_kills: h.liveness_kills,
                    oom_kills: h.oom_kills,
                    refused: h.refused,
                    reset: h.reset,
                    ejections: h.ejections,
                    changes: h.log.clone(),
                    changes_dropped: h.log_dropped,
                }
            })
            .collect()
    }

    /// What each fault window of the schedule did.
    pub fn fault_reports(&self) -> Vec<FaultReport> {
        self.spec
            .faults
            .iter()
            .enumerate()
            .map(|(i, f)| FaultReport {
                label: f.label.clone(),
                source: f.source,
                start: f.start,
                end: f.end,
                requests_failed: self.fault_failed[i],
                detected_at: self.fault_detected[i],
            })
            .collect()
    }

    /// Every replica's admission control figures (replicas without admission control omitted).
    pub fn admission_reports(&self) -> Vec<AdmissionReport> {
        self.replicas
            .iter()
            .filter(|r| {
                let a = &self.spec.services[r.service as usize].admission;
                a.max_queue_time.is_some() || a.concurrency_limit.is_some() || r.shed_expired > 0
            })
            .map(|r| AdmissionReport {
                service: self.spec.services[r.service as usize].name.clone(),
                replica: r.index,
                limit_at_end: r.limiter.as_ref().map(|l| l.limit()),
                shed_by_limit: r.shed_by_limit,
                shed_by_queue_time: r.shed_by_queue_time,
                shed_expired: r.shed_expired,
            })
            .collect()
    }

    /// Every policy layer instance's figures, in edge, layer and instance order.
    pub fn policy_reports(&self) -> Vec<PolicyReport> {
        let mut out = Vec::new();
        for e in &self.edges {
            let edge = match e.owner {
                EdgeOwner::Client(c) => format!("client:{}", self.spec.clients[c].name),
                EdgeOwner::Call { service, call } => {
                    let s = &self.spec.services[service];
                    let to = &self.spec.services[s.calls[call].to].name;
                    let dup = s.calls.iter().filter(|c| c.to == s.calls[call].to).count() > 1;
                    if dup {
                        format!("{} -> {}#{}", s.name, to, call)
                    } else {
                        format!("{} -> {}", s.name, to)
                    }
                }
            };
            for (li, l) in e.layers.iter().enumerate() {
                for (i, inst) in l.instances.iter().enumerate() {
                    out.push(PolicyReport {
                        edge: edge.clone(),
                        layer: li,
                        kind: l.spec.kind(),
                        instance: if l.instances.len() == 1 {
                            "shared".to_string()
                        } else {
                            i.to_string()
                        },
                        counters: l.counters[i],
                        breaker_state: match inst {
                            Instance::Breaker(b) => Some(b.state()),
                            _ => None,
                        },
                        transitions: l.transitions[i].clone(),
                        transitions_dropped: l.transitions_dropped[i],
                    });
                }
            }
        }
        out
    }
}

/// A bandwidth-limited link's figures, per direction (requests, responses).
#[derive(Clone, Debug, PartialEq)]
pub struct LinkReport {
    pub link: String,
    pub sent: [u64; 2],
    pub dropped: [u64; 2],
    pub max_wait_ns: [u64; 2],
}

/// Active-passive services and partitions that name single replicas.
impl<O: Observer> World<O> {
    /// Is trace entity `e` (a client, or a replica) in `group`?
    fn in_group(&self, group: &[Endpoint], e: u32) -> bool {
        let clients = self.spec.clients.len() as u32;
        group.iter().any(|&g| match g {
            Endpoint::Client(c) => e == c as u32,
            Endpoint::Replica(r) => e == clients + r,
            Endpoint::Service(s) => {
                e >= clients && self.replicas[(e - clients) as usize].service == s as u32
            }
        })
    }

    /// The partition (fault index) that drops a message from entity `a` to entity `b`.
    #[cold]
    #[inline(never)]
    fn cut_between(&self, a: u32, b: u32) -> Option<u32> {
        self.cuts.iter().find_map(|c| {
            let forward = self.in_group(&c.from, a) && self.in_group(&c.to, b);
            let back = !c.one_way && self.in_group(&c.to, a) && self.in_group(&c.from, b);
            (forward || back).then_some(c.cause)
        })
    }

    /// Can replica `a` of service `svc` (local index) send to replica `b` now?
    fn replica_open(&self, svc: usize, a: u32, b: u32) -> bool {
        if self.cuts.is_empty() {
            return true;
        }
        let first = self.services[svc].first_replica;
        let (ea, eb) = (
            self.replica_entity(first + a),
            self.replica_entity(first + b),
        );
        self.cut_between(ea, eb).is_none()
    }

    /// The replica of active-passive `svc` a caller (trace entity) sends to.
    #[cold]
    #[inline(never)]
    fn ap_route(&self, svc: usize, caller: u32) -> u32 {
        let s = &self.services[svc];
        let first = s.first_replica;
        let g = s.ap.as_ref().expect("active-passive");
        let local = g.route(|i| {
            self.cuts.is_empty()
                || self
                    .cut_between(caller, self.replica_entity(first + i))
                    .is_none()
        });
        first + local
    }

    /// One heartbeat round of active-passive `svc`; schedules the next.
    #[cold]
    #[inline(never)]
    fn heartbeat(&mut self, svc: usize, now: SimTime, q: &mut EventQueue<Event>) {
        let Some(mut g) = self.services[svc].ap.take() else {
            return;
        };
        let before = g.failovers();
        g.tick(now, |a, b| self.replica_open(svc, a, b));
        if g.failovers() > before {
            self.failover_detects(svc, now);
        }
        q.push(
            now + g.spec().heartbeat_interval,
            Event::Heartbeat {
                service: svc as u32,
            },
        );
        self.services[svc].ap = Some(g);
    }

    /// A synchronously replicated write in `slot` has reached its standbys: acknowledge it.
    /// Returns whether this was such a write.
    #[cold]
    #[inline(never)]
    fn ap_acked(&mut self, slot: u32) -> bool {
        let req = &mut self.slots[slot as usize];
        if req.ack_pos == 0 {
            return false;
        }
        let pos = std::mem::take(&mut req.ack_pos);
        let (svc, replica) = (req.service as usize, req.replica);
        let s = &mut self.services[svc];
        let local = replica - s.first_replica;
        if let Some(g) = &mut s.ap {
            g.ack(local, pos);
        }
        true
    }

    /// The request in `slot` finished its service at an active-passive replica: refuse it if
    /// the replica is not an accepting primary, and replicate a write. Returns whether the
    /// request was answered or put to wait here.
    #[cold]
    #[inline(never)]
    fn ap_write(
        &mut self,
        slot: u32,
        gen: u32,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<bool, LimitHit> {
        let (svc, replica) = {
            let r = &self.slots[slot as usize];
            (r.service as usize, r.replica)
        };
        let local = replica - self.services[svc].first_replica;
        let mut g = self.services[svc].ap.take().expect("active-passive");
        let write = g.is_write();
        let out = g.write(local, write, now, |a, b| self.replica_open(svc, a, b));
        self.services[svc].ap = Some(g);
        match out {
            Err(_) => Err(LimitHit {
                limit: "replication_backlog",
                value: super::replication::MAX_PENDING as u64,
                at_ns: now.0,
                how_to_raise: "a standby fell more than a million writes behind its primary (a fixed bound); lower the write rate or the replication lag",
            }),
            Ok(WriteOutcome::Acked) => Ok(false),
            Ok(WriteOutcome::AckAt(t, pos)) => {
                self.slots[slot as usize].ack_pos = pos;
                q.push(SimTime(t), Event::ServiceDone { slot, gen });
                Ok(true)
            }
            Ok(WriteOutcome::NotPrimary | WriteOutcome::NoStandby) => {
                self.respond(slot, Outcome::Error, true, now, q)?;
                Ok(true)
            }
        }
    }

    /// A standby of `svc` took over at `now`: that detects the faults in force on its replicas
    /// (a crash, a hang, a partition that names them).
    fn failover_detects(&mut self, svc: usize, now: SimTime) {
        let first = self.services[svc].first_replica;
        let mine = |r: u32| (first..first + self.services[svc].replicas).contains(&r);
        for (i, f) in self.spec.faults.iter().enumerate() {
            let active = f.start <= now && f.end.is_none_or(|e| now < e);
            let touches = match &f.effect {
                FaultEffect::Partition { from, to, .. } => {
                    from.iter().chain(to).any(|e| match *e {
                        Endpoint::Replica(r) => mine(r),
                        Endpoint::Service(s) => s == svc,
                        Endpoint::Client(_) => false,
                    })
                }
                e => e.replica().is_some_and(mine),
            };
            if active && touches && self.fault_detected[i].is_none() {
                self.fault_detected[i] = Some(now);
            }
        }
    }

    /// The replication figures of each active-passive service, at `end`.
    pub fn replication_reports(&self, end: SimTime) -> Vec<(String, ReplicationReport)> {
        self.services
            .iter()
            .enumerate()
            .filter_map(|(i, s)| {
                s.ap.as_ref()
                    .map(|g| (self.spec.services[i].name.clone(), g.report(end)))
            })
            .collect()
    }
}

/// Cache tiers in front of calls.
impl<O: Observer> World<O> {
    /// A call on a cached edge looks its key up: a hit is recorded as an `ok` call (the
    /// caller continues), a coalesced miss waits for the fill in flight, a miss is recorded as
    /// a fill and goes on to the callee.
    #[cold]
    #[inline(never)]
    fn cached_call(&mut self, edge: u32, root: CallerRef, now: SimTime) -> Option<Lookup> {
        let CallerRef::Call {
            parent,
            parent_gen,
            call,
        } = root
        else {
            return None;
        };
        let cache = self.caches[edge as usize].as_mut().expect("cached edge");
        let found = cache.lookup(now);
        match found {
            Lookup::Hit => {
                let svc = self.slots[parent as usize].service as usize;
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
    fn cache_filled(
        &mut self,
        edge: usize,
        parent: u32,
        parent_gen: u32,
        call: u16,
        outcome: Outcome,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        let waiters = self.caches[edge].as_mut().expect("cached edge").finished(
            parent,
            parent_gen,
            call,
            outcome == Outcome::Ok,
            now,
        );
        self.child_done(parent, parent_gen, outcome, now, q)?;
        // Every waiter called through this edge, so from the same service.
        let svc = match self.edges[edge].owner {
            EdgeOwner::Call { service, .. } => service,
            EdgeOwner::Client(_) => unreachable!("caches are on call edges"),
        };
        for (p, gen, c, started) in waiters.unwrap_or_default() {
            self.obs.call_done(svc, c as usize, outcome, started, now);
            self.child_done(p, gen, outcome, now, q)?;
        }
        Ok(())
    }

    /// Each cache's figures, labelled `caller -> callee`.
    pub fn cache_reports(&self) -> Vec<(String, CacheReport)> {
        let mut out = Vec::new();
        for (si, s) in self.spec.services.iter().enumerate() {
            for i in 0..s.calls.len() {
                if let Some(c) = &self.caches[self.call_edge[si][i] as usize] {
                    out.push((self.spec.call_name(si, i), c.report));
                }
            }
        }
        out
    }
}

/// Replicas' disks.
impl<O: Observer> World<O> {
    /// The request in `slot` finished its service time at a replica with a disk. Its I/O is
    /// queued (returns true: the `ServiceDone` comes again when the I/O is done), or it was done
    /// and a disk fault may fail it (returns true: answered with `error`); false: carry on.
    #[cold]
    #[inline(never)]
    fn disk_io(
        &mut self,
        slot: u32,
        gen: u32,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<bool, LimitHit> {
        let replica = self.slots[slot as usize].replica as usize;
        let svc = self.replicas[replica].service as usize;
        let spec = self.spec.services[svc].disk.as_ref().expect("a disk");
        let counting = now >= self.count_from;
        let d = self.replicas[replica].disk.as_mut().expect("a disk");
        match self.slots[slot as usize].io {
            2 => return Ok(false),
            1 => self.slots[slot as usize].io = 2,
            _ => {}
        }
        if self.slots[slot as usize].io == 0 {
            if let Some((DiskFault::Fail, cause)) = d.fault {
                // A failed device answers every operation with an I/O error at once.
                d.io_errors += counting as u64;
                self.count_fault(cause);
                self.respond(slot, Outcome::Error, true, now, q)?;
                return Ok(true);
            }
            let start = d.next_free_ns.max(now.0);
            d.next_free_ns = start + d.spacing_ns;
            let mut took = spec.latency.sample(&mut d.rng);
            if let Some((DiskFault::Slow(f), _)) = d.fault {
                took = (took as f64 * f).round().min(u64::MAX as f64 / 4.0) as u64;
            }
            self.slots[slot as usize].io = 1;
            q.push(SimTime(start + took), Event::ServiceDone { slot, gen });
            return Ok(true);
        }
        let read = spec.read_fraction >= 1.0
            || (spec.read_fraction > 0.0 && d.rng.chance(spec.read_fraction));
        let failed = match d.fault {
            Some((DiskFault::Full, cause)) if !read => {
                d.full_errors += counting as u64;
                Some(cause)
            }
            Some((DiskFault::Corrupt(p), cause)) if read && d.rng.chance(p) => {
                // The checksum catches it: an error, never a wrong answer.
                d.checksum_errors += counting as u64;
                Some(cause)
            }
            _ => None,
        };
        if let Some(cause) = failed {
            self.count_fault(cause);
            self.respond(slot, Outcome::Error, true, now, q)?;
            return Ok(true);
        }
        Ok(false)
    }
}

/// Bounded connection pools on calls.
impl<O: Observer> World<O> {
    /// The pool an attempt from `caller` goes through, if its call has one.
    fn pool_of(&self, caller: CallerRef) -> Option<u32> {
        let (edge, local) = match caller {
            CallerRef::Client { .. } => return None,
            CallerRef::Call { parent, call, .. } => {
                let r = self.slots[parent as usize].replica;
                let svc = self.replicas[r as usize].service as usize;
                (
                    self.call_edge[svc][call as usize],
                    r - self.services[svc].first_replica,
                )
            }
            CallerRef::Inv { inv, .. } => {
                let v = &self.invs[inv as usize];
                (v.edge, v.caller_replica)
            }
        };
        let base = self.pool_base[edge as usize];
        (base != NO_POOL).then_some(base + local)
    }

    /// The attempt in `slot` takes a connection from its pool (true), or queues for one.
    #[cold]
    #[inline(never)]
    fn take_connection(&mut self, slot: u32, caller: CallerRef, now: SimTime) -> bool {
        let Some(p) = self.pool_of(caller) else {
            return true;
        };
        let counting = now >= self.count_from;
        let gen = self.slots[slot as usize].gen;
        self.slots[slot as usize].pool = p;
        let pool = &mut self.pools[p as usize];
        if pool.in_use < pool.size {
            pool.in_use += 1;
            self.slots[slot as usize].pool_held = true;
            return true;
        }
        pool.waiting.push_back((slot, gen));
        pool.waited += counting as u64;
        pool.max_waiting = pool.max_waiting.max(pool.waiting.len() as u32);
        false
    }

    /// Hands freed connections to the attempts waiting for them, skipping (and dropping) the
    /// ones whose caller has given up meanwhile.
    #[cold]
    #[inline(never)]
    fn dispatch_pools(&mut self, now: SimTime, q: &mut EventQueue<Event>) -> Result<(), LimitHit> {
        while let Some(p) = self.pool_freed.pop() {
            loop {
                let pool = &mut self.pools[p as usize];
                if pool.in_use >= pool.size {
                    break;
                }
                let Some((slot, gen)) = pool.waiting.pop_front() else {
                    break;
                };
                let r = &self.slots[slot as usize];
                if r.gen != gen || !r.live {
                    continue;
                }
                if !self.still_wanted(r.caller) {
                    self.pools[p as usize].abandoned += (now >= self.count_from) as u64;
                    self.lose(slot);
                    continue;
                }
                self.pools[p as usize].in_use += 1;
                self.slots[slot as usize].pool_held = true;
                self.transmit(slot, now, q)?;
            }
        }
        Ok(())
    }

    /// Each pooled call's figures: `caller -> callee`, caller replica, size, attempts that
    /// waited, the longest queue, waiters dropped because their caller gave up.
    pub fn pool_reports(&self) -> Vec<(String, u32, u32, u64, u32, u64)> {
        let mut out = Vec::new();
        for (si, s) in self.spec.services.iter().enumerate() {
            for i in 0..s.calls.len() {
                let base = self.pool_base[self.call_edge[si][i] as usize];
                if base == NO_POOL {
                    continue;
                }
                for r in 0..s.replicas {
                    let p = &self.pools[(base + r) as usize];
                    out.push((
                        self.spec.call_name(si, i),
                        r,
                        p.size,
                        p.waited,
                        p.max_waiting,
                        p.abandoned,
                    ));
                }
            }
        }
        out
    }
}

impl<O: Observer> World<O> {
    /// Each bandwidth-limited link: `from -> to`, then per direction (requests, responses):
    /// messages sent, dropped at the buffer, longest wait to start (ns). Counted over the run.
    pub fn link_reports(&self) -> Vec<LinkReport> {
        self.links
            .iter()
            .filter(|l| l.bandwidth.is_some())
            .map(|l| {
                let from = match l.from {
                    Endpoint::Client(c) => self.spec.clients[c].name.clone(),
                    Endpoint::Service(s) => self.spec.services[s].name.clone(),
                    Endpoint::Replica(r) => format!("replica {r}"),
                };
                LinkReport {
                    link: format!("{from} -> {}", self.spec.services[l.to].name),
                    sent: l.sent,
                    dropped: l.dropped,
                    max_wait_ns: l.max_wait_ns,
                }
            })
            .collect()
    }
}
