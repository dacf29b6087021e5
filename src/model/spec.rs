//! The typed description of a system the model runs: clients, services, calls and links, with
//! every reference resolved to an index and every value already validated.
//!
//! These are what the `scenario` layer produces from a RON file, and what a library user builds
//! in code. They know nothing of files, field paths or error messages.

use super::dist::Dist;
use crate::engine::{SimDuration, SimTime};
use crate::policy::backoff::Backoff;
use crate::policy::breaker::{PollyConfig, PyBreakerConfig, Resilience4jConfig};
use crate::policy::{Outcome, OutcomeSet};

/// Index of a service in [`SystemSpec::services`].
pub type ServiceId = usize;
/// Index of a client in [`SystemSpec::clients`].
pub type ClientId = usize;

/// A whole system: who sends load, who serves it, and the network between them.
#[derive(Clone, Debug)]
pub struct SystemSpec {
    pub clients: Vec<ClientSpec>,
    pub services: Vec<ServiceSpec>,
    /// Links with their own latency; every other edge uses `default_link_latency`.
    pub links: Vec<LinkSpec>,
    pub default_link_latency: Dist,
    /// The expanded fault schedule: every fault window of the run, in the order the plan
    /// listed them (the `faults` layer builds it from the scenario's plan and the seed).
    pub faults: Vec<FaultWindow>,
}

impl SystemSpec {
    /// Call `call` of service `service`, as `caller -> callee`; when the caller calls that
    /// callee more than once, `caller -> callee#n`, n counting its calls to it from 1 (the
    /// name a fault target uses too), so every edge's name is its own.
    pub fn call_name(&self, service: ServiceId, call: usize) -> String {
        let s = &self.services[service];
        let to = s.calls[call].to;
        let name = &self.services[to].name;
        if s.calls.iter().filter(|c| c.to == to).count() > 1 {
            let n = s.calls[..=call].iter().filter(|c| c.to == to).count();
            format!("{} -> {name}#{n}", s.name)
        } else {
            format!("{} -> {name}", s.name)
        }
    }

    /// Checks that every index the spec holds (client targets, calls, endpoint calls, links,
    /// fault targets) names something the spec has: the running world indexes its tables
    /// with them unchecked (`engine::Table`), so [`crate::model::World::new`] refuses a spec
    /// that fails this. The `scenario` layer only ever builds specs that pass.
    pub fn check_indices(&self) -> Result<(), String> {
        let (services, clients) = (self.services.len(), self.clients.len());
        let replicas: u64 = self.services.iter().map(|s| s.replicas as u64).sum();
        let service = |s: usize, what: &str| {
            (s < services)
                .then_some(())
                .ok_or(format!("{what} names service {s} of {services}"))
        };
        let client = |c: usize, what: &str| {
            (c < clients)
                .then_some(())
                .ok_or(format!("{what} names client {c} of {clients}"))
        };
        let replica = |r: u32, what: &str| {
            ((r as u64) < replicas)
                .then_some(())
                .ok_or(format!("{what} names replica {r} of {replicas}"))
        };
        let call = |s: usize, c: usize, what: &str| {
            service(s, what)?;
            (c < self.services[s].calls.len())
                .then_some(())
                .ok_or(format!("{what} names call {c} of service {s}"))
        };
        let endpoint = |e: &Endpoint, what: &str| match *e {
            Endpoint::Client(c) => client(c, what),
            Endpoint::Service(s) => service(s, what),
            Endpoint::Replica(r) => replica(r, what),
        };
        for c in &self.clients {
            service(c.target, &format!("client {}", c.name))?;
        }
        for (si, s) in self.services.iter().enumerate() {
            for c in &s.calls {
                service(c.to, &format!("a call of {}", s.name))?;
            }
            for e in &s.endpoints {
                for c in &e.calls {
                    call(
                        si,
                        c.call as usize,
                        &format!("endpoint {} of {}", e.name, s.name),
                    )?;
                }
            }
        }
        for l in &self.links {
            endpoint(&l.from, "a link")?;
            service(l.to, "a link")?;
        }
        for f in &self.faults {
            let what = format!("fault {}", f.label);
            match &f.effect {
                FaultEffect::Crash { replica: r }
                | FaultEffect::Hang { replica: r }
                | FaultEffect::Slowdown { replica: r, .. }
                | FaultEffect::Errors { replica: r, .. }
                | FaultEffect::StuckWorkers { replica: r, .. }
                | FaultEffect::MemoryLeak { replica: r, .. }
                | FaultEffect::Disk { replica: r, .. } => replica(*r, &what)?,
                FaultEffect::Partition { from, to, .. } => {
                    for e in from.iter().chain(to) {
                        endpoint(e, &what)?;
                    }
                }
                FaultEffect::Degrade { from, to, .. } => {
                    endpoint(from, &what)?;
                    service(*to, &what)?;
                }
                FaultEffect::Spike { client: c, .. } => client(*c, &what)?,
                FaultEffect::Config { target, .. } => match *target {
                    ConfigTarget::Client(c) => client(c, &what)?,
                    ConfigTarget::Call {
                        service: s,
                        call: c,
                    } => call(s, c, &what)?,
                    ConfigTarget::Service(s) => service(s, &what)?,
                },
                FaultEffect::FlushCache {
                    service: s,
                    call: c,
                }
                | FaultEffect::CacheDown {
                    service: s,
                    call: c,
                }
                | FaultEffect::SlowCache {
                    service: s,
                    call: c,
                    ..
                } => call(*s, *c, &what)?,
                FaultEffect::Scale { service: s, .. } => service(*s, &what)?,
            }
        }
        Ok(())
    }

    /// The service global replica `replica` belongs to.
    pub fn service_of_replica(&self, replica: u32) -> ServiceId {
        let mut first = 0;
        for (i, s) in self.services.iter().enumerate() {
            if replica < first + s.replicas {
                return i;
            }
            first += s.replicas;
        }
        panic!("replica {replica} is beyond every service's replicas")
    }
}

/// A source of requests aimed at one entry service.
#[derive(Clone, Debug)]
pub struct ClientSpec {
    pub name: String,
    pub target: ServiceId,
    pub load: Load,
    /// Resilience policies around each request, outermost first (a `timeout` field in the
    /// scenario becomes a [`PolicySpec::Timeout`] at the end of this list).
    pub policies: Vec<PolicySpec>,
    /// Requests carry the deadline of their timeout to the service, which drops them unserved
    /// once it has passed.
    pub propagate_deadline: bool,
    /// Open loop: arrivals beyond this many outstanding requests are `rejected` at the client.
    pub max_in_flight: u32,
    /// The target's endpoint every request goes to ([`ANY_ENDPOINT`]: drawn by the endpoints'
    /// shares, once per request, kept by its retries and hedges).
    pub endpoint: u8,
}

/// How a client generates requests.
#[derive(Clone, Debug)]
pub enum Load {
    /// Requests arrive on their own schedule, whether or not earlier ones have finished.
    Open {
        arrivals: Arrivals,
        rate_per_s: f64,
        /// Rate changes at given instants, in increasing order.
        steps: Vec<RateStep>,
    },
    /// `users` each send one request, wait for its outcome, think, and send the next.
    Closed { users: u32, think_time: Dist },
}

/// The spacing of open-loop arrivals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arrivals {
    /// Exponential gaps (a Poisson process).
    Poisson,
    /// Evenly spaced, 1/rate apart.
    Constant,
}

/// From `at` on, the open-loop rate is `rate_per_s`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateStep {
    pub at: SimTime,
    pub rate_per_s: f64,
}

/// A service: identical replicas behind one load balancer.
#[derive(Clone, Debug)]
pub struct ServiceSpec {
    pub name: String,
    /// Replicas that exist at some point of the run (the most any `Scale` fault asks for).
    pub replicas: u32,
    /// Replicas in service at the start (the scenario's `replicas`); the others join when a
    /// `Scale` fault adds them.
    pub initial_replicas: u32,
    /// Requests one replica serves at once. A worker is held from the start of service until
    /// the response is sent, including the time spent waiting on downstream calls.
    pub workers: u32,
    /// Requests one replica holds waiting for a worker; beyond it they are `overloaded`.
    pub queue_capacity: u32,
    pub service_time: Dist,
    /// Probability that a request fails at this service with `error` after its service time.
    pub error_rate: f64,
    pub balancer: Balancer,
    pub fan_out: FanOut,
    pub calls: Vec<CallSpec>,
    /// Admission control at each replica.
    pub admission: AdmissionSpec,
    /// Active probes and passive checks that take replicas out of load balancing.
    pub health: HealthSpec,
    /// How a replica comes back after a crash or a liveness kill.
    pub restart: RestartSpec,
    /// Active-passive: one primary serves, standbys replicate and take over (None: the
    /// replicas are active-active behind the balancer).
    pub active_passive: Option<ActivePassiveSpec>,
    /// Each replica's own disk: every request does one I/O after its service time.
    pub disk: Option<DiskSpec>,
    /// How a replica's workers serve the requests computing (their service time).
    pub discipline: Discipline,
    /// Load-dependent service: service times stretch with the requests computing at the
    /// replica (see `model::sharing`).
    pub contention: Option<crate::model::sharing::Contention>,
    /// Which waiting request a free worker takes (and, under CoDel, which it drops).
    pub queue: QueueDiscipline,
    /// Each replica's heap and its garbage collections (see `model::gc`).
    pub gc: Option<crate::model::gc::GcSpec>,
    /// A horizontal autoscaler that sets the replicas in service (see `policy::autoscale`).
    pub autoscale: Option<AutoscaleSpec>,
    /// The load balancer retries a failed attempt on a replica it has not tried yet.
    pub balancer_retry: Option<BalancerRetry>,
    /// Request types, each with its share, service time, calls, kind and priority (empty: one
    /// kind of request, with `service_time` and every call in `calls`).
    pub endpoints: Vec<EndpointSpec>,
}

/// Drawn by the callee's endpoint shares (no endpoint named).
pub const ANY_ENDPOINT: u8 = u8::MAX;

/// One request type of a service.
#[derive(Clone, Debug, PartialEq)]
pub struct EndpointSpec {
    pub name: String,
    /// Its share of the requests that name no endpoint (a service's shares sum to 1).
    pub share: f64,
    pub service_time: Dist,
    /// The calls a request of this endpoint makes, in order (a sequential fan-out) or at once.
    pub calls: Vec<EndpointCall>,
    /// A write: served by an active-passive service's primary and replicated; reads may go to
    /// standbys (`ActivePassiveSpec::reads`).
    pub write: bool,
    /// Served before lower priorities from a replica's queue; may push a lower one out of a
    /// full queue (0 is the default and the lowest).
    pub priority: u8,
}

/// A call an endpoint makes: one of its service's `calls` (the edge, with its policies, pool
/// and cache), how likely, and which endpoint of the callee.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EndpointCall {
    /// Index into the service's `calls`.
    pub call: u16,
    pub probability: f64,
    /// The callee's endpoint ([`ANY_ENDPOINT`]: the call's own, or drawn by shares).
    pub endpoint: u8,
}

/// NGINX's `proxy_next_upstream` (Envoy's retry policy with the `previous_hosts` predicate):
/// the balancer in front of a service sends a failed attempt again, at once, to a replica not
/// yet tried for this request, up to `tries` attempts in all.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BalancerRetry {
    /// Attempts in all, the first included (2 to 4).
    pub tries: u8,
    /// Retry a refused or reset connection (NGINX `error`, Envoy `connect-failure`, `reset`).
    pub on_refused: bool,
    /// Retry an `error` answer (NGINX `http_500`, Envoy `5xx`).
    pub on_error: bool,
    /// Retry an `overloaded` answer (NGINX `http_503` / `http_429`).
    pub on_overloaded: bool,
}

impl BalancerRetry {
    /// Whether an attempt that ended with `status` (`conn_error`: at the connection level) is
    /// retried.
    pub fn retries(&self, status: Outcome, conn_error: bool) -> bool {
        match status {
            Outcome::Refused => self.on_refused,
            Outcome::Error if conn_error => self.on_refused,
            Outcome::Error => self.on_error,
            Outcome::Overloaded => self.on_overloaded,
            _ => false,
        }
    }
}

/// What an autoscaler measures at each replica, averaged over the time since its last sync.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScaleMetric {
    /// Busy workers over workers (a worker waiting for its calls counts as busy).
    Utilization,
    /// Requests held: in service, waiting for calls, queued.
    InFlight,
    /// Requests arriving per second.
    RatePerReplica,
}

/// A Kubernetes-style horizontal autoscaler on a service.
#[derive(Clone, Debug, PartialEq)]
pub struct AutoscaleSpec {
    pub metric: ScaleMetric,
    /// The controller's settings (target, bounds, tolerance, behaviour).
    pub hpa: crate::policy::autoscale::HpaConfig,
    pub sync_period: SimDuration,
    /// From the decision to add a replica to its process starting (scheduling, image pull,
    /// start-up); it then warms up and waits for readiness like a restarted replica.
    pub start_delay: SimDuration,
}

/// Which waiting request a free worker takes (see `policy::queue`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum QueueDiscipline {
    /// Oldest first.
    #[default]
    Fifo,
    /// Newest first.
    Lifo,
    /// Oldest first until the oldest has waited longer than `after`, then newest first.
    AdaptiveLifo { after: SimDuration },
    /// Oldest first, with RFC 8289's controlled-delay drops.
    CoDel {
        target: SimDuration,
        interval: SimDuration,
    },
}

/// How a replica's `workers` serve.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Discipline {
    /// Each worker serves one request at a time at full speed; the others wait in the queue.
    #[default]
    Dedicated,
    /// The workers are cores shared equally by every request computing at the replica (as an
    /// operating system schedules threads): no request waits for a worker, each computes at
    /// `min(1, workers / n)` of full speed while `n` compute. At most `workers +
    /// queue_capacity` requests are held at once; more are turned away (queue full).
    ProcessorSharing,
}

impl ServiceSpec {
    /// Some endpoints are served before others.
    pub fn has_priorities(&self) -> bool {
        self.endpoints
            .iter()
            .any(|e| e.priority != self.endpoints[0].priority)
    }

    /// Some request's service time depends on the others computing beside it.
    pub fn shares_work(&self) -> bool {
        self.discipline == Discipline::ProcessorSharing || self.contention.is_some()
    }

    /// A replica of this service is checked on the slow path from the start (`impaired`).
    pub fn always_impaired(&self) -> bool {
        self.active_passive.is_some()
            || self.disk.is_some()
            || self.shares_work()
            || self.gc.is_some()
            || self.autoscale.is_some()
    }
}

/// A replica's disk: operations start no closer together than 1 / `iops` (first come, first
/// served) and take `latency` each; the worker waits for its request's I/O.
#[derive(Clone, Debug, PartialEq)]
pub struct DiskSpec {
    pub latency: Dist,
    pub iops: f64,
    /// Share of requests whose I/O is a read (the rest write).
    pub read_fraction: f64,
}

/// What a disk fault does.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum DiskFault {
    /// Every I/O fails (`error`).
    Fail,
    /// I/O takes `factor` times longer.
    Slow(f64),
    /// Writes fail (`error`); reads succeed.
    Full,
    /// A read fails its checksum with this probability (`error`, never a wrong answer).
    Corrupt(f64),
}

/// A primary and standbys: heartbeats between every pair of replicas, promotion of a standby
/// after missed heartbeats, replication of writes, and optional fencing.
#[derive(Clone, Debug, PartialEq)]
pub struct ActivePassiveSpec {
    pub heartbeat_interval: SimDuration,
    /// A standby that has heard no primary for this many intervals tries to take over.
    pub missed_heartbeats: u32,
    pub replication: Replication,
    pub fencing: Fencing,
    /// Share of requests that are writes (the rest are reads); with endpoints, their kinds
    /// say instead.
    pub write_fraction: f64,
    /// Where reads are served.
    pub reads: Reads,
}

/// Where an active-passive service serves reads.
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub enum Reads {
    /// At the primary, as writes.
    #[default]
    Primary,
    /// At the standbys that follow the newest primary, in turn (round robin), each read seeing
    /// what that standby has applied so far: a read may be stale. A standby lagging more than
    /// `max_lag` behind the acknowledged writes is skipped (as ProxySQL shuns a lagging
    /// replica, with the lag known exactly rather than polled); with no standby left, reads go
    /// to the primary.
    Standbys { max_lag: Option<SimDuration> },
}

/// How a primary's writes reach its standbys.
#[derive(Clone, Debug, PartialEq)]
pub enum Replication {
    /// Acknowledged once every reachable standby has it (`lag` later); with no standby
    /// reachable the write fails rather than block.
    Sync { lag: Dist },
    /// Acknowledged at once, shipped `lag` later (in order); a crash loses what was not yet
    /// shipped.
    Async { lag: Dist },
}

/// What stops two primaries from accepting writes at once.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Fencing {
    /// Nothing: a primary cut off from its standbys keeps accepting writes.
    None,
    /// A majority of replicas: a standby is promoted only with votes from a majority that have
    /// all lost the primary, and a primary accepts writes only while a majority acknowledged
    /// its heartbeats within `lease` (shorter than the failover time).
    Quorum { lease: SimDuration },
}

/// Health checking of a service's replicas. Probes are answered by the replica's process
/// itself, outside its worker pool (an admin endpoint): a crashed replica fails them at once,
/// a hung one fails them by timeout, a busy one passes.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct HealthSpec {
    /// Failing it removes the replica from load balancing (Kubernetes readiness, or NGINX
    /// Plus active `health_check`).
    pub readiness: Option<crate::policy::health::ProbeConfig>,
    /// Failing it restarts the replica (Kubernetes liveness).
    pub liveness: Option<crate::policy::health::ProbeConfig>,
    /// Passive checking by the load balancer from live traffic.
    pub passive: Option<PassiveHealth>,
}

/// Passive health checking at a service's load balancer (one shared balancer for all callers).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum PassiveHealth {
    Nginx(crate::policy::health::NginxPassiveConfig),
    Envoy(crate::policy::health::OutlierConfig),
}

/// What happens when a replica restarts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RestartSpec {
    /// Down time after a liveness kill or a crash fault without its own duration.
    pub delay: SimDuration,
    /// After a restart, service times start `cold_factor` times longer and return to normal
    /// linearly over `warmup` (cold caches, JIT).
    pub warmup: SimDuration,
    pub cold_factor: f64,
}

impl Default for RestartSpec {
    fn default() -> Self {
        RestartSpec {
            delay: SimDuration(5_000_000_000),
            warmup: SimDuration::ZERO,
            cold_factor: 1.0,
        }
    }
}

/// One fault in the expanded schedule: what it does, from `start` until `end` (None: to the
/// end of the run).
#[derive(Clone, Debug, PartialEq)]
pub struct FaultWindow {
    /// Human label, e.g. `crash api/1`.
    pub label: String,
    /// Index of the rule in the scenario's fault plan that produced it.
    pub rule: usize,
    /// `scripted` or `random`.
    pub source: &'static str,
    pub effect: FaultEffect,
    pub start: SimTime,
    pub end: Option<SimTime>,
}

/// What a fault does while it lasts. Replicas are global replica indices (services' replicas
/// numbered in service order).
#[derive(Clone, Debug, PartialEq)]
pub enum FaultEffect {
    /// The process dies: requests at the replica are reset (`error`), new ones are `refused`;
    /// at the end it restarts (cold if the service has a warm-up).
    Crash { replica: u32 },
    /// A stop-the-world pause: nothing is served or answered until the end (then the backlog
    /// drains); probes time out.
    Hang { replica: u32 },
    /// Service times multiplied by `factor`.
    Slowdown { replica: u32, factor: f64 },
    /// Requests finishing at the replica fail with `error` with this probability (a bad
    /// deploy, a broken dependency of its own).
    Errors { replica: u32, rate: f64 },
    /// `workers` of the replica's workers are stuck (thread-pool exhaustion by a leak of
    /// blocked threads).
    StuckWorkers { replica: u32, workers: u32 },
    /// Each request the replica finishes leaks `per_request_mb`; when the leak reaches
    /// `limit_mb` the process is killed (out of memory) and restarts after the service's
    /// restart delay with nothing leaked, leaking again while the fault lasts. The time to the
    /// kill depends on the load.
    MemoryLeak {
        replica: u32,
        per_request_mb: f64,
        limit_mb: f64,
    },
    /// Messages from any endpoint in `from` to any endpoint in `to` are lost; both ways unless
    /// `one_way`. Endpoints are clients and services.
    Partition {
        from: Vec<Endpoint>,
        to: Vec<Endpoint>,
        one_way: bool,
    },
    /// The link between `from` and `to` (both directions) gets extra latency and loss.
    Degrade {
        from: Endpoint,
        to: ServiceId,
        added_latency: Dist,
        loss: f64,
    },
    /// A client's open-loop rate is multiplied by `multiplier` (applied to its rate steps
    /// before the run; the world itself does nothing).
    Spike { client: ClientId, multiplier: f64 },
    /// A configuration change applied to the running system; the old values come back at the
    /// end (if it has one).
    Config {
        target: ConfigTarget,
        change: ConfigChange,
    },
    /// The cache in front of call `call` of `service` loses every key.
    FlushCache { service: ServiceId, call: usize },
    /// The cache tier in front of call `call` of `service` is down: lookups find nothing and
    /// nothing is stored; it comes back empty.
    CacheDown { service: ServiceId, call: usize },
    /// Lookups in the cache in front of call `call` of `service` take `factor` times longer.
    SlowCache {
        service: ServiceId,
        call: usize,
        factor: f64,
    },
    /// The replica's disk fails, slows, fills up or corrupts reads.
    Disk { replica: u32, fault: DiskFault },
    /// The service runs `replicas` replicas (a deploy scaling it, an autoscaler, a node pool
    /// shrinking): removed ones get no new requests and finish what they hold; added ones
    /// start cold and must pass their readiness probe.
    Scale { service: ServiceId, replicas: u32 },
}

/// What a configuration change applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigTarget {
    /// A client's policy stack.
    Client(ClientId),
    /// Call `call` of service `service`.
    Call { service: ServiceId, call: usize },
    /// A service's replicas.
    Service(ServiceId),
}

/// The new values (None: unchanged).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct ConfigChange {
    /// The edge's innermost timeout (its `timeout` field, if it has one).
    pub timeout: Option<SimDuration>,
    /// The edge's outermost retry layer's attempts.
    pub max_attempts: Option<u32>,
    /// Workers per replica.
    pub workers: Option<u32>,
}

impl FaultEffect {
    /// The services a fault acts on directly, in service order: a replica fault's service; a
    /// partition's services (or the services of the replicas it names); a degraded link's
    /// callee (its answers arrive late or not at all); a load spike's or a client
    /// configuration's entry service; a configuration change's or a scaling's service (for a
    /// call, its caller); a cache flush's callee, which the misses reach.
    pub fn services(&self, spec: &SystemSpec) -> Vec<ServiceId> {
        let mut out = match self {
            FaultEffect::Partition { from, to, .. } => from
                .iter()
                .chain(to)
                .filter_map(|e| match *e {
                    Endpoint::Service(s) => Some(s),
                    Endpoint::Replica(r) => Some(spec.service_of_replica(r)),
                    Endpoint::Client(_) => None,
                })
                .collect(),
            FaultEffect::Degrade { to, .. } => vec![*to],
            FaultEffect::Spike { client, .. } => vec![spec.clients[*client].target],
            FaultEffect::Config { target, .. } => vec![match *target {
                ConfigTarget::Client(c) => spec.clients[c].target,
                ConfigTarget::Call { service, .. } | ConfigTarget::Service(service) => service,
            }],
            FaultEffect::FlushCache { service, call }
            | FaultEffect::CacheDown { service, call }
            | FaultEffect::SlowCache { service, call, .. } => {
                vec![spec.services[*service].calls[*call].to]
            }
            FaultEffect::Scale { service, .. } => vec![*service],
            e => e
                .replica()
                .map(|r| spec.service_of_replica(r))
                .into_iter()
                .collect(),
        };
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Does the fault act at one instant rather than over a window? A cache flush always does;
    /// a configuration change or a scaling without an end is a lasting change made at its
    /// start, not a fault in force until the run ends.
    pub fn instant(&self, end: Option<SimTime>) -> bool {
        match self {
            FaultEffect::FlushCache { .. } => true,
            FaultEffect::Config { .. } | FaultEffect::Scale { .. } => end.is_none(),
            _ => false,
        }
    }

    /// The replica a replica fault acts on (None for network and load faults).
    pub fn replica(&self) -> Option<u32> {
        match *self {
            FaultEffect::Crash { replica }
            | FaultEffect::Hang { replica }
            | FaultEffect::Slowdown { replica, .. }
            | FaultEffect::Errors { replica, .. }
            | FaultEffect::StuckWorkers { replica, .. }
            | FaultEffect::MemoryLeak { replica, .. }
            | FaultEffect::Disk { replica, .. } => Some(replica),
            _ => None,
        }
    }
}

/// Server-side admission control, per replica.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct AdmissionSpec {
    /// Shed (`overloaded`) a request that waited longer than this in the queue when a worker
    /// would take it.
    pub max_queue_time: Option<SimDuration>,
    /// An adaptive limit on requests at the replica (queued or in service).
    pub concurrency_limit: Option<ConcurrencyLimitSpec>,
}

/// Netflix concurrency-limits algorithms.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ConcurrencyLimitSpec {
    Aimd {
        initial: u32,
        min: u32,
        max: u32,
        backoff_ratio: f64,
        timeout: SimDuration,
    },
    Gradient2 {
        initial: u32,
        min: u32,
        max: u32,
        smoothing: f64,
        long_window: u32,
        rtt_tolerance: f64,
        queue_size: u32,
    },
}

/// How a service's load balancer picks a replica.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Balancer {
    RoundRobin,
    Random,
    /// The replica with the fewest outstanding requests: a scan that starts one replica
    /// later at each pick, the first least loaded in scan order wins (so ties rotate).
    LeastOutstanding,
    /// Two distinct replicas at random, the one with fewer outstanding requests (the first
    /// drawn on a tie).
    PowerOfTwoChoices,
    /// Envoy's least request with equal weights: `choice_count` replicas drawn at random with
    /// replacement, the one with the fewest outstanding requests (the earliest drawn on a tie);
    /// or, with `full_scan`, every replica, ties broken uniformly at random (reservoir
    /// sampling).
    LeastRequest {
        choice_count: u32,
        full_scan: bool,
    },
}

/// How a service makes its downstream calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FanOut {
    /// One after another, in the order listed; the first failure fails the request.
    Sequential,
    /// All at once; the request completes when all have succeeded, or fails at the first failure.
    Parallel,
}

/// One downstream call a service makes while handling a request.
#[derive(Clone, Debug)]
pub struct CallSpec {
    pub to: ServiceId,
    /// Probability that a request makes this call.
    pub probability: f64,
    /// Resilience policies around the call, outermost first.
    pub policies: Vec<PolicySpec>,
    /// Requests on this call carry their deadline (the nearest enclosing timeout, and the
    /// calling request's own deadline), and the call gives up when the calling request's
    /// deadline passes (gRPC-style deadline propagation).
    pub propagate_deadline: bool,
    /// A cache tier in front of the call (None: every call goes to the callee).
    pub cache: Option<CacheSpec>,
    /// A bounded connection pool per caller replica for this call (None: unbounded): an
    /// attempt waits (first come, first served) for a free connection, and the wait counts
    /// against the call's timeouts. A connection is held until the response has come back.
    pub connections: Option<u32>,
    /// The callee's endpoint this call goes to ([`ANY_ENDPOINT`]: drawn by its shares).
    pub endpoint: u8,
}

/// A cache in front of a call, shared by the caller's replicas: `keys` keys drawn by
/// `popularity`, each kept `ttl` after a successful fill, at most `capacity` of them (least
/// recently used evicted first).
#[derive(Clone, Debug, PartialEq)]
pub struct CacheSpec {
    pub keys: u32,
    /// Entries the cache holds at most (None: every key fits).
    pub capacity: Option<u32>,
    pub popularity: Popularity,
    pub ttl: SimDuration,
    /// One fill per key in flight; other misses for it wait for that fill.
    pub coalesce: bool,
    /// Starts full, every key loaded at time zero (so all expire at `ttl`).
    pub warm: bool,
    /// A lookup's round trip to the cache tier (None: answered at once).
    pub latency: Option<Dist>,
}

/// How often each key is asked for.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Popularity {
    /// Every key equally.
    Uniform,
    /// The k-th most popular key (k from 1) in proportion to 1 / k^s.
    Zipf { s: f64 },
}

/// Whether a stateful policy (breaker, budget, bulkhead, limiter) is one instance per caller
/// replica (each process has its own, the usual case) or one shared by all of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Scope {
    #[default]
    PerReplica,
    Shared,
}

/// One layer of a policy stack.
#[derive(Clone, Debug, PartialEq)]
pub enum PolicySpec {
    /// Give up on what is inside after this long (outcome `timeout`); the work inside goes on,
    /// but a retry loop inside makes no further attempts.
    Timeout {
        timeout: SimDuration,
    },
    Retry(RetrySpec),
    CircuitBreaker {
        breaker: BreakerSpec,
        scope: Scope,
    },
    Bulkhead {
        bulkhead: BulkheadSpec,
        scope: Scope,
    },
    RateLimiter {
        limiter: LimiterSpec,
        scope: Scope,
    },
    /// The calling request's propagated deadline: give up (`timeout`) when it passes, or at
    /// once if it already has. Added outermost on call edges with `propagate_deadline`.
    Deadline,
    /// Turn the listed failures into a `degraded` answer.
    Fallback {
        on: OutcomeSet,
    },
    /// Skip the call (answer `degraded`) while a health signal has turned the feature off: off
    /// when the failure rate over `window` exceeds `failure_rate_above` (with at least
    /// `min_calls`), back on after `off_for`.
    FeatureFlag {
        failure_rate_above: f64,
        min_calls: u32,
        window: SimDuration,
        off_for: SimDuration,
        scope: Scope,
    },
    /// Google SRE client-side adaptive throttling: reject locally with probability
    /// max(0, (requests - k accepts) / (requests + 1)) over `window`.
    AdaptiveThrottle {
        k: f64,
        window: SimDuration,
        scope: Scope,
    },
    /// Polly v8 hedging: up to `max_hedged_attempts` more attempts besides the first; the first
    /// success wins and the others are ignored (their work is not cancelled).
    Hedge {
        max_hedged_attempts: u32,
        delay: HedgeDelay,
    },
}

/// When a hedging layer launches its next attempt.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum HedgeDelay {
    /// Latency mode: `delay` after the last launch, or at once when an attempt fails.
    Fixed(SimDuration),
    /// Every attempt at once (Polly's delay 0).
    Parallel,
    /// The next attempt only after the previous one failed (Polly's delay -1 ms).
    Fallback,
    /// Latency mode with the delay set to the `quantile` of the last `window` successful call
    /// latencies (`initial` until ten are known), recomputed every 64 results.
    Percentile {
        quantile: f64,
        window: u32,
        initial: SimDuration,
    },
}

impl PolicySpec {
    pub fn kind(&self) -> &'static str {
        match self {
            PolicySpec::Timeout { .. } => "timeout",
            PolicySpec::Deadline => "deadline",
            PolicySpec::Retry(_) => "retry",
            PolicySpec::CircuitBreaker { .. } => "circuit_breaker",
            PolicySpec::Bulkhead { .. } => "bulkhead",
            PolicySpec::RateLimiter { .. } => "rate_limiter",
            PolicySpec::Fallback { .. } => "fallback",
            PolicySpec::Hedge { .. } => "hedge",
            PolicySpec::AdaptiveThrottle { .. } => "adaptive_throttle",
            PolicySpec::FeatureFlag { .. } => "feature_flag",
        }
    }
    pub fn scope(&self) -> Scope {
        match self {
            PolicySpec::Retry(r) => r.budget_scope,
            PolicySpec::CircuitBreaker { scope, .. }
            | PolicySpec::Bulkhead { scope, .. }
            | PolicySpec::RateLimiter { scope, .. }
            | PolicySpec::AdaptiveThrottle { scope, .. }
            | PolicySpec::FeatureFlag { scope, .. } => *scope,
            PolicySpec::Hedge {
                delay: HedgeDelay::Percentile { .. },
                ..
            } => Scope::PerReplica,
            _ => Scope::Shared,
        }
    }
}

/// A retry layer.
#[derive(Clone, Debug, PartialEq)]
pub struct RetrySpec {
    /// Attempts in all, the first included (`max_retries + 1` in Polly's terms).
    pub max_attempts: u32,
    pub retry_on: OutcomeSet,
    pub backoff: Backoff,
    pub budget: Option<BudgetSpec>,
    pub budget_scope: Scope,
}

/// A retry budget.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BudgetSpec {
    /// AWS SDK standard retry quota.
    AwsTokenBucket {
        capacity: u32,
        retry_cost: u32,
        timeout_retry_cost: u32,
        no_retry_increment: u32,
    },
    /// tower / Finagle ratio budget.
    Tps {
        ttl: SimDuration,
        min_per_sec: u32,
        retry_percent: f32,
    },
    /// gRPC retry throttling.
    GrpcThrottle { max_tokens: u32, token_ratio: f64 },
}

/// Which breaker.
#[derive(Clone, Debug, PartialEq)]
pub enum BreakerSpec {
    Resilience4j(Resilience4jConfig),
    PyBreaker(PyBreakerConfig),
    Polly(PollyConfig),
}

/// Which bulkhead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BulkheadSpec {
    Semaphore {
        max_concurrent: u32,
        max_wait: SimDuration,
    },
    ThreadPool {
        core: u32,
        max: u32,
        queue_capacity: u32,
        /// How long a thread above `core` lives idle.
        keep_alive: SimDuration,
    },
}

/// Which rate limiter.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LimiterSpec {
    TokenBucket {
        rate_per_s: f64,
        burst: u32,
    },
    Resilience4j {
        limit_for_period: u32,
        refresh_period: SimDuration,
        timeout: SimDuration,
    },
}

/// One end of a link, or a member of a partition's group.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Endpoint {
    Client(ClientId),
    Service(ServiceId),
    /// One replica (global index); only in partition groups.
    Replica(u32),
}

/// The network between a caller and a service; the latency applies to each direction.
#[derive(Clone, Debug)]
pub struct LinkSpec {
    pub from: Endpoint,
    pub to: ServiceId,
    pub latency: Dist,
    /// A bandwidth limit: messages queue to be transmitted one at a time, each way.
    pub bandwidth: Option<Bandwidth>,
}

/// A bandwidth-limited link: each direction transmits one message at a time (FIFO), a request
/// taking `request_ns` and a response `response_ns` of transmission (size / bandwidth) before
/// its latency. A message that would wait more than `buffer` to start is dropped (tail drop).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bandwidth {
    pub request_ns: u64,
    pub response_ns: u64,
    pub buffer: SimDuration,
}

/// A measure of how close a run is to a rare event, read from the running system after each
/// event (the importance function of multilevel splitting).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Importance {
    /// Requests waiting in the queues of a service's replicas.
    Queued(ServiceId),
    /// Requests at a service's replicas: waiting or being served.
    InSystem(ServiceId),
    /// A client's requests in flight.
    InFlight(ClientId),
    /// Requests alive anywhere in the system.
    Live,
}
