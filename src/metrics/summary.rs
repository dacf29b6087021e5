//! The end-of-run summary: plain data, serialised to `summary.json` and printed as tables.
//!
//! Everything here is a deterministic function of the run (no wall-clock time, no hash-map
//! order), so the same scenario and seed give byte-identical JSON.

use super::{Latency, Recorder, BUSY, CAPACITY, QUEUED};
use crate::engine::{LimitHit, SimTime};
use crate::model::{
    AdmissionReport, FaultReport, HealthReport, LayerCounters, Outcome, PolicyReport, SystemSpec,
    OUTCOMES,
};
use crate::policy::breaker::BreakerState;
use serde::{Deserialize, Serialize};

/// How many requests ended each way.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutcomeCounts {
    pub ok: u64,
    pub degraded: u64,
    pub timeout: u64,
    pub rejected: u64,
    pub refused: u64,
    pub overloaded: u64,
    pub dropped: u64,
    pub error: u64,
}

impl OutcomeCounts {
    pub fn from_array(a: &[u64; 8]) -> Self {
        OutcomeCounts {
            ok: a[Outcome::Ok.index()],
            degraded: a[Outcome::Degraded.index()],
            timeout: a[Outcome::Timeout.index()],
            rejected: a[Outcome::Rejected.index()],
            refused: a[Outcome::Refused.index()],
            overloaded: a[Outcome::Overloaded.index()],
            dropped: a[Outcome::Dropped.index()],
            error: a[Outcome::Error.index()],
        }
    }
    pub fn total(&self) -> u64 {
        self.ok
            + self.degraded
            + self.timeout
            + self.rejected
            + self.refused
            + self.overloaded
            + self.dropped
            + self.error
    }
    pub fn get(&self, o: Outcome) -> u64 {
        match o {
            Outcome::Ok => self.ok,
            Outcome::Degraded => self.degraded,
            Outcome::Timeout => self.timeout,
            Outcome::Rejected => self.rejected,
            Outcome::Refused => self.refused,
            Outcome::Overloaded => self.overloaded,
            Outcome::Dropped => self.dropped,
            Outcome::Error => self.error,
        }
    }
    /// The non-ok outcomes that occurred, as `name count` pairs.
    pub fn failures(&self) -> Vec<(&'static str, u64)> {
        OUTCOMES
            .iter()
            .filter(|&&o| o != Outcome::Ok && self.get(o) > 0)
            .map(|&o| (o.name(), self.get(o)))
            .collect()
    }
}

/// Latency of successful requests, in milliseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct LatencySummary {
    pub count: u64,
    pub mean_ms: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

/// The quantiles at which summaries give the latency CDF: every percent, then the tail.
pub const CDF_QUANTILES: [f64; 104] = {
    let mut q = [0.0; 104];
    let mut i = 0;
    while i < 99 {
        q[i] = (i + 1) as f64 / 100.0;
        i += 1;
    }
    q[99] = 0.995;
    q[100] = 0.999;
    q[101] = 0.9995;
    q[102] = 0.9999;
    q[103] = 1.0;
    q
};

fn cdf(l: &Latency) -> Vec<f64> {
    if l.count() == 0 {
        return Vec::new();
    }
    l.hist
        .values_at_quantiles(&CDF_QUANTILES)
        .into_iter()
        .map(|v| v as f64 / 1e6)
        .collect()
}

impl LatencySummary {
    fn from(l: &Latency) -> Self {
        if l.count() == 0 {
            return LatencySummary::default();
        }
        let q = l.hist.values_at(&[0.5, 0.9, 0.99, 0.999]);
        let ms = |k: usize| q[k] as f64 / 1e6;
        LatencySummary {
            count: l.count(),
            mean_ms: l.mean_ns() / 1e6,
            p50_ms: ms(0),
            p90_ms: ms(1),
            p99_ms: ms(2),
            p999_ms: ms(3),
            max_ms: l.hist.max() as f64 / 1e6,
        }
    }
}

/// One client, end to end.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClientSummary {
    pub name: String,
    /// Requests produced in the measured interval (including ones rejected at the client).
    pub offered: u64,
    /// Attempts sent over the network, retries included.
    pub attempts: u64,
    /// Attempts per offered request.
    pub amplification: f64,
    /// Requests whose outcome was known by the end of the run.
    pub completed: u64,
    pub outcomes: OutcomeCounts,
    /// ok / completed.
    pub ok_ratio: f64,
    /// ok or degraded requests per second of measured time (goodput: a degraded answer, a
    /// fallback, still reached the user; `outcomes` tells them apart). The report and
    /// timeseries.csv use the same definition.
    pub goodput_per_s: f64,
    pub latency: LatencySummary,
    /// Time-average of outstanding requests.
    pub mean_in_flight: f64,
    /// Latency of `ok` requests (ms) at each of [`CDF_QUANTILES`]: the latency CDF.
    #[serde(default)]
    pub latency_cdf_ms: Vec<f64>,
}

/// One call edge, as its caller saw it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CallSummary {
    pub to: String,
    /// Calls started (by requests that arrived after the warm-up).
    pub calls: u64,
    /// Calls whose outcome the caller learned by the end of the run.
    #[serde(default)]
    pub completed: u64,
    /// Attempts sent over the network, retries and hedges included.
    pub attempts: u64,
    /// Attempts per call started: 1.0 on an edge without retries or hedges, below 1 when a
    /// cache answers some calls.
    pub amplification: f64,
    pub outcomes: OutcomeCounts,
    pub latency: LatencySummary,
}

/// One endpoint of a service, as the service answered it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EndpointSummary {
    pub name: String,
    /// Its configured share of the requests that name no endpoint.
    pub share: f64,
    pub write: bool,
    pub priority: u8,
    /// Requests of this endpoint answered (arrived after the warm-up).
    pub requests: u64,
    pub outcomes: OutcomeCounts,
    pub ok_ratio: f64,
    /// ok answers per second of measured time.
    pub throughput_per_s: f64,
    /// Arrival at a replica to response, ok requests only.
    pub latency: LatencySummary,
}

/// One service, all replicas together, as the service saw its requests.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ServiceSummary {
    pub name: String,
    pub replicas: u32,
    pub workers_per_replica: u32,
    /// Requests that reached a replica in the measured interval.
    pub offered: u64,
    /// Of those, the ones answered by the end of the run.
    pub completed: u64,
    pub outcomes: OutcomeCounts,
    pub ok_ratio: f64,
    /// ok responses per second of measured time.
    pub throughput_per_s: f64,
    /// Arrival at a replica to response, ok requests only.
    pub latency: LatencySummary,
    /// Mean time from arrival to getting a worker, over requests that got one.
    pub mean_wait_ms: f64,
    /// Share of requests that got a worker only after waiting in the queue.
    pub waited_ratio: f64,
    /// Busy worker time over the time of workers able to work (down, paused, stuck and
    /// scaled-away workers are not available).
    pub utilisation: f64,
    /// Time-average of workers able to take a request, over all replicas.
    #[serde(default)]
    pub mean_capacity: f64,
    /// Requests turned away because every worker was busy and the queue was full.
    #[serde(default)]
    pub queue_full: u64,
    /// Requests shed by admission control or dropped unserved past their deadline.
    #[serde(default)]
    pub shed: u64,
    /// Wasted work: answers that reached a caller who had stopped waiting (its timeout had
    /// fired, a hedge had won, the parent request had already failed) ...
    #[serde(default)]
    pub late_answers: u64,
    /// ... and the worker time they held, in seconds.
    #[serde(default)]
    pub wasted_worker_s: f64,
    /// Time-average of requests at the service (queued plus being served).
    pub mean_in_system: f64,
    pub mean_queue: f64,
    /// The longest queue seen at any one replica.
    pub max_queue: u32,
    pub calls: Vec<CallSummary>,
    /// Latency of `ok` requests (ms) at each of [`CDF_QUANTILES`]: the latency CDF.
    #[serde(default)]
    pub latency_cdf_ms: Vec<f64>,
    /// Per endpoint, in the order the scenario lists them (absent without endpoints).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<EndpointSummary>,
}

/// Everything a run measured; written to `summary.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub scenario: String,
    pub seed: u64,
    /// The measured interval: from the warm-up to the end of the run, in seconds.
    pub measured_from_s: f64,
    pub measured_to_s: f64,
    pub events: u64,
    /// The trace hash as 16 hex digits.
    pub trace_hash: String,
    /// Set when a limit stopped the run early.
    pub stopped_by: Option<StoppedBy>,
    /// Requests still alive when the run ended.
    pub in_flight_at_end: u64,
    pub clients: Vec<ClientSummary>,
    pub services: Vec<ServiceSummary>,
    /// Every policy layer instance, by edge.
    pub policies: Vec<PolicySummary>,
    /// Server-side admission control, per replica that has any.
    pub admission: Vec<AdmissionSummary>,
    /// Every fault window of the schedule and what it did.
    pub faults: Vec<FaultSummary>,
    /// Replicas that faults or health checks touched: crashes, ejections, readiness.
    pub health: Vec<HealthSummary>,
    /// Active-passive services: failovers, acknowledged writes lost, split brain.
    #[serde(default)]
    pub replication: Vec<ReplicationSummary>,
    /// Cache tiers in front of calls (measured after the warm-up).
    #[serde(default)]
    pub caches: Vec<CacheSummary>,
    /// Bounded connection pools, per call and caller replica (measured after the warm-up).
    #[serde(default)]
    pub pools: Vec<PoolSummary>,
    /// Bandwidth-limited links (counted over the whole run).
    #[serde(default)]
    pub links: Vec<LinkSummary>,
    /// Autoscaled services: every change their autoscaler made (over the whole run).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub autoscalers: Vec<AutoscalerSummary>,
    /// End-to-end availability (`ok` or `degraded` among all client requests finished) per
    /// SLO window, from time zero; null for a window in which nothing finished.
    pub availability: AvailabilitySeries,
}

/// What a service's autoscaler did, over the whole run (warm-up included).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AutoscalerSummary {
    pub service: String,
    /// `utilization` (busy workers over workers), `in_flight` or `rate_per_replica`.
    pub metric: String,
    /// The target per replica (a fraction for `utilization`, requests per second for
    /// `rate_per_replica`).
    pub target: f64,
    pub min_replicas: u32,
    pub max_replicas: u32,
    pub initial_replicas: u32,
    /// The most and fewest replicas it asked for.
    pub most_requested: u32,
    pub fewest_requested: u32,
    /// What it had asked for at the end, and the replicas in service then (fewer while new
    /// ones are still starting).
    pub requested_at_end: u32,
    pub running_at_end: u32,
    /// Each change: when, from and to how many replicas, and the mean reading of the
    /// replicas that had one (null: none had).
    pub changes: Vec<ScaleChangeSummary>,
    pub changes_dropped: u64,
}

/// One change an autoscaler made.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ScaleChangeSummary {
    pub at_s: f64,
    pub from: u32,
    pub to: u32,
    pub metric: Option<f64>,
}

/// Availability over time.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AvailabilitySeries {
    pub window_s: f64,
    /// The SLO the recovery times are measured against.
    pub slo: f64,
    pub series: Vec<Option<f64>>,
}

/// One fault window and its effect.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FaultSummary {
    pub fault: String,
    /// `scripted` or `random`.
    pub source: String,
    pub start_s: f64,
    /// None: to the end of the run.
    pub end_s: Option<f64>,
    /// Requests the fault itself failed (reset or refused by a crash, lost to a partition or
    /// loss, errors it injected). Counted over the whole run, warm-up included.
    pub requests_failed: u64,
    /// From the fault's start to the first time a health check took its replica out of
    /// balancing; None if none did (or the fault hits no replica).
    pub detected_after_s: Option<f64>,
    /// The services it acts on directly.
    #[serde(default)]
    pub targets: Vec<String>,
    /// It acts at its start only (a cache flush; a configuration change or scaling that is
    /// not undone): its impact is measured from that instant.
    #[serde(default)]
    pub instant: bool,
}

/// What an active-passive service's failovers cost. Counted over the whole run, warm-up
/// included.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ReplicationSummary {
    pub service: String,
    /// Writes acknowledged to callers (by any primary).
    pub writes_acked: u64,
    /// Acknowledged writes that no longer exist: not replicated when a standby took over, or
    /// accepted by a deposed primary during a split brain.
    pub acked_writes_lost: u64,
    /// Writes acknowledged by a primary while a newer primary existed.
    pub conflicting_writes: u64,
    /// Requests refused because the replica was not an accepting primary (a standby, or a
    /// primary whose quorum lease had run out).
    pub refused_not_primary: u64,
    /// Synchronous writes refused because no standby was reachable.
    pub refused_no_standby: u64,
    pub failovers: Vec<FailoverSummary>,
    pub failovers_total: u64,
    /// Time during which two or more primaries accepted writes.
    pub split_brain_s: f64,
    pub split_brain_intervals: Vec<(f64, f64)>,
    pub primaries_at_end: Vec<String>,
    /// Reads served by standbys and how stale they were (absent unless reads go to standbys).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standby_reads: Option<crate::model::replication::StandbyReads>,
}

/// A bandwidth-limited link, each direction.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LinkSummary {
    /// `from -> to`.
    pub link: String,
    pub requests_sent: u64,
    /// Dropped because they would have waited longer than the buffer to start.
    pub requests_dropped: u64,
    pub requests_max_wait_ms: f64,
    pub responses_sent: u64,
    pub responses_dropped: u64,
    pub responses_max_wait_ms: f64,
}

/// One caller replica's connection pool for one call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PoolSummary {
    /// `caller -> callee`.
    pub call: String,
    pub replica: u32,
    pub connections: u32,
    /// Attempts that found every connection busy and waited.
    pub waited: u64,
    pub max_waiting: u32,
    /// Waiting attempts dropped unsent because their caller gave up (a timeout) first.
    pub abandoned: u64,
}

/// A cache in front of a call.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CacheSummary {
    /// `caller -> callee`.
    pub edge: String,
    pub hits: u64,
    pub misses: u64,
    /// Misses that waited for a fill in flight (request coalescing) instead of calling.
    pub coalesced: u64,
    /// Successful fills (keys stored).
    pub fills: u64,
    pub flushes: u64,
    /// Entries evicted to make room (a cache with a `capacity`; absent otherwise).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub evictions: u64,
    /// Lookups that found the cache tier down (a `CacheDown` fault) and went to the callee
    /// (absent when none did).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unreachable: u64,
    /// hits / (hits + misses).
    pub hit_ratio: f64,
}

/// One promotion of a standby.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FailoverSummary {
    pub at_s: f64,
    pub from: Option<String>,
    pub to: String,
    pub epoch: u32,
    /// Writes the old primary had acknowledged that the new one did not have.
    pub writes_lost: u64,
}

/// A replica's life under faults and health checks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct HealthSummary {
    pub service: String,
    pub replica: u32,
    pub crashes: u64,
    pub liveness_kills: u64,
    #[serde(default)]
    pub oom_kills: u64,
    pub refused: u64,
    pub reset: u64,
    pub ejections: u64,
    /// (time in seconds, what happened), in time order.
    pub changes: Vec<(f64, String)>,
    pub changes_dropped: u64,
    /// Garbage collections after the warm-up (a service with `gc`) and the seconds they
    /// stopped the process (absent without `gc`).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub gc_collections: u64,
    #[serde(default, skip_serializing_if = "is_zero_f64")]
    pub gc_pause_s: f64,
}

fn is_zero(v: &u64) -> bool {
    *v == 0
}

fn is_zero_f64(v: &f64) -> bool {
    *v == 0.0
}

/// What one replica's admission control did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AdmissionSummary {
    pub service: String,
    pub replica: u32,
    /// The adaptive concurrency limit at the end of the run.
    pub limit_at_end: Option<u32>,
    /// Requests turned away (`overloaded`) because the concurrency limit was reached.
    pub shed_by_limit: u64,
    /// Requests turned away because they had waited longer than `max_queue_time`.
    pub shed_by_queue_time: u64,
    /// Requests dropped unserved (`timeout`) because their propagated deadline had passed.
    pub shed_expired: u64,
}

/// One policy layer instance.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PolicySummary {
    /// `client:NAME` or `SERVICE -> CALLEE`.
    pub edge: String,
    /// Position in the stack, outermost 0.
    pub layer: usize,
    pub kind: String,
    /// `shared` or the caller replica index.
    pub instance: String,
    pub counters: LayerCounters,
    /// A breaker's state at the end of the run.
    pub breaker_state: Option<BreakerState>,
    /// A breaker's state changes (the first 1000).
    pub transitions: Vec<TransitionSummary>,
    pub transitions_dropped: u64,
}

impl PolicySummary {
    /// Times a breaker went open (counted from its transitions, including dropped ones).
    pub fn counters_opened(&self) -> u64 {
        self.transitions
            .iter()
            .filter(|t| t.to == BreakerState::Open)
            .count() as u64
            + self.transitions_dropped
    }
}

/// A breaker state change.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TransitionSummary {
    pub at_s: f64,
    pub from: BreakerState,
    pub to: BreakerState,
}

/// A limit that ended the run early (see [`LimitHit`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StoppedBy {
    pub limit: String,
    pub value: u64,
    pub at_s: f64,
    pub message: String,
}

impl From<&LimitHit> for StoppedBy {
    fn from(h: &LimitHit) -> Self {
        StoppedBy {
            limit: h.limit.to_string(),
            value: h.value,
            at_s: h.at_ns as f64 / 1e9,
            message: h.to_string(),
        }
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// Inputs that are not in the recorder.
pub struct SummaryContext<'a> {
    pub scenario: &'a str,
    pub seed: u64,
    pub end: SimTime,
    pub events: u64,
    pub trace_hash: u64,
    pub stopped: Option<&'a LimitHit>,
    pub in_flight_at_end: u64,
    pub policies: Vec<PolicyReport>,
    pub admission: Vec<AdmissionReport>,
    pub faults: Vec<FaultReport>,
    pub health: Vec<HealthReport>,
    pub replication: Vec<(String, crate::model::replication::ReplicationReport)>,
    pub caches: Vec<(String, crate::model::cache::CacheReport)>,
    pub pools: Vec<crate::model::PoolReport>,
    pub links: Vec<crate::model::LinkReport>,
    pub autoscalers: Vec<crate::model::AutoscaleReport>,
    /// The availability objective for recovery times.
    pub slo_availability: f64,
}

impl Summary {
    /// Summarises a finished recorder (after [`Recorder::finish`]).
    pub fn build(rec: &Recorder, spec: &SystemSpec, ctx: SummaryContext<'_>) -> Summary {
        let from = rec.warmup.0.min(ctx.end.0);
        let span_ns = (ctx.end.0 - from) as f64;
        let span_s = span_ns / 1e9;
        let per_s = |n: u64| if span_s > 0.0 { n as f64 / span_s } else { 0.0 };
        let time_avg = |area: u128| {
            if span_ns > 0.0 {
                area as f64 / span_ns
            } else {
                0.0
            }
        };
        // Level x nanoseconds over the measured interval (the recorder has finished).
        let end = ctx.end;
        let clients = spec
            .clients
            .iter()
            .zip(&rec.clients)
            .zip(&rec.series.clients)
            .map(|((c, r), series)| {
                let outcomes = OutcomeCounts::from_array(&r.outcomes);
                ClientSummary {
                    name: c.name.clone(),
                    offered: r.offered,
                    attempts: r.attempts,
                    amplification: ratio(r.attempts, r.offered),
                    completed: outcomes.total(),
                    ok_ratio: ratio(outcomes.ok, outcomes.total()),
                    goodput_per_s: per_s(outcomes.ok + outcomes.degraded),
                    latency: LatencySummary::from(&r.latency),
                    mean_in_flight: time_avg(series.in_flight.measured_integral(0, end)),
                    latency_cdf_ms: cdf(&r.latency),
                    outcomes,
                }
            })
            .collect();
        let services = spec
            .services
            .iter()
            .zip(&rec.services)
            .enumerate()
            .map(|(i, (s, r))| {
                let outcomes = OutcomeCounts::from_array(&r.outcomes);
                let load = &rec.series.load[i].levels;
                let busy = load.measured_integral(BUSY, end);
                let queued = load.measured_integral(QUEUED, end);
                let capacity = rec.series.room[i].measured_integral(CAPACITY, end);
                ServiceSummary {
                    name: s.name.clone(),
                    replicas: s.replicas,
                    workers_per_replica: s.workers,
                    offered: r.offered,
                    completed: outcomes.total(),
                    ok_ratio: ratio(outcomes.ok, outcomes.total()),
                    throughput_per_s: per_s(outcomes.ok),
                    latency: LatencySummary::from(&r.latency),
                    mean_wait_ms: if r.served == 0 {
                        0.0
                    } else {
                        r.wait_sum_ns as f64 / r.served as f64 / 1e6
                    },
                    waited_ratio: ratio(r.waited, r.served),
                    utilisation: if capacity > 0 {
                        busy as f64 / capacity as f64
                    } else {
                        0.0
                    },
                    mean_capacity: time_avg(capacity),
                    queue_full: r.queue_full,
                    shed: r.shed,
                    late_answers: r.late_answers,
                    wasted_worker_s: r.wasted_worker_ns as f64 / 1e9,
                    mean_in_system: time_avg(busy + queued),
                    mean_queue: time_avg(queued),
                    max_queue: r.max_queue,
                    latency_cdf_ms: cdf(&r.latency),
                    endpoints: s
                        .endpoints
                        .iter()
                        .zip(&r.endpoints)
                        .map(|(e, er)| {
                            let outcomes = OutcomeCounts::from_array(&er.outcomes);
                            EndpointSummary {
                                name: e.name.clone(),
                                share: e.share,
                                write: e.write,
                                priority: e.priority,
                                requests: outcomes.total(),
                                ok_ratio: ratio(outcomes.ok, outcomes.total()),
                                throughput_per_s: per_s(outcomes.ok),
                                latency: LatencySummary::from(&er.latency),
                                outcomes,
                            }
                        })
                        .collect(),
                    calls: s
                        .calls
                        .iter()
                        .zip(&r.calls)
                        .map(|(c, cr)| CallSummary {
                            to: spec.services[c.to].name.clone(),
                            calls: cr.started,
                            completed: cr.outcomes.iter().sum(),
                            attempts: cr.attempts,
                            amplification: ratio(cr.attempts, cr.started),
                            outcomes: OutcomeCounts::from_array(&cr.outcomes),
                            latency: LatencySummary::from(&cr.latency),
                        })
                        .collect(),
                    outcomes,
                }
            })
            .collect();
        Summary {
            scenario: ctx.scenario.to_string(),
            seed: ctx.seed,
            measured_from_s: from as f64 / 1e9,
            measured_to_s: ctx.end.0 as f64 / 1e9,
            events: ctx.events,
            trace_hash: format!("{:016x}", ctx.trace_hash),
            stopped_by: ctx.stopped.map(StoppedBy::from),
            in_flight_at_end: ctx.in_flight_at_end,
            clients,
            services,
            policies: ctx
                .policies
                .into_iter()
                .map(|p| PolicySummary {
                    edge: p.edge,
                    layer: p.layer,
                    kind: p.kind.to_string(),
                    instance: p.instance,
                    counters: p.counters,
                    breaker_state: p.breaker_state,
                    transitions: p
                        .transitions
                        .iter()
                        .map(|t| TransitionSummary {
                            at_s: t.at_ns as f64 / 1e9,
                            from: t.from,
                            to: t.to,
                        })
                        .collect(),
                    transitions_dropped: p.transitions_dropped,
                })
                .collect(),
            admission: ctx
                .admission
                .into_iter()
                .map(|a| AdmissionSummary {
                    service: a.service,
                    replica: a.replica,
                    limit_at_end: a.limit_at_end,
                    shed_by_limit: a.shed_by_limit,
                    shed_by_queue_time: a.shed_by_queue_time,
                    shed_expired: a.shed_expired,
                })
                .collect(),
            faults: ctx
                .faults
                .iter()
                .map(|f| FaultSummary {
                    fault: f.label.clone(),
                    source: f.source.to_string(),
                    start_s: f.start.as_secs_f64(),
                    end_s: f.end.map(|e| e.as_secs_f64()),
                    requests_failed: f.requests_failed,
                    detected_after_s: f.detected_at.map(|d| (d.0 - f.start.0) as f64 / 1e9),
                    targets: f.targets.clone(),
                    instant: f.instant,
                })
                .collect(),
            health: ctx
                .health
                .into_iter()
                .map(|h| HealthSummary {
                    service: h.service,
                    replica: h.replica,
                    crashes: h.crashes,
                    liveness_kills: h.liveness_kills,
                    oom_kills: h.oom_kills,
                    refused: h.refused,
                    reset: h.reset,
                    ejections: h.ejections,
                    changes: h
                        .changes
                        .iter()
                        .map(|c| (c.at_ns as f64 / 1e9, c.what.to_string()))
                        .collect(),
                    changes_dropped: h.changes_dropped,
                    gc_collections: h.gc_collections,
                    gc_pause_s: h.gc_paused_ns as f64 / 1e9,
                })
                .collect(),
            replication: ctx
                .replication
                .into_iter()
                .map(|(service, r)| {
                    let name = |i: u32| format!("{service}/{i}");
                    ReplicationSummary {
                        writes_acked: r.writes_acked,
                        acked_writes_lost: r.acked_writes_lost,
                        conflicting_writes: r.conflicting_writes,
                        refused_not_primary: r.refused_not_primary,
                        refused_no_standby: r.refused_no_standby,
                        failovers: r
                            .failovers
                            .iter()
                            .map(|f| FailoverSummary {
                                at_s: f.at_ns as f64 / 1e9,
                                from: f.from.map(name),
                                to: name(f.to),
                                epoch: f.epoch,
                                writes_lost: f.writes_lost,
                            })
                            .collect(),
                        failovers_total: r.failovers_total,
                        split_brain_s: r.split_brain_ns as f64 / 1e9,
                        split_brain_intervals: r
                            .split_brain_intervals
                            .iter()
                            .map(|&(a, b)| (a as f64 / 1e9, b as f64 / 1e9))
                            .collect(),
                        primaries_at_end: r.primaries_at_end.iter().map(|&i| name(i)).collect(),
                        standby_reads: r.standby_reads,
                        service,
                    }
                })
                .collect(),
            links: ctx
                .links
                .into_iter()
                .map(|l| LinkSummary {
                    link: l.link,
                    requests_sent: l.sent[0],
                    requests_dropped: l.dropped[0],
                    requests_max_wait_ms: l.max_wait_ns[0] as f64 / 1e6,
                    responses_sent: l.sent[1],
                    responses_dropped: l.dropped[1],
                    responses_max_wait_ms: l.max_wait_ns[1] as f64 / 1e6,
                })
                .collect(),
            pools: ctx
                .pools
                .into_iter()
                .map(|p| PoolSummary {
                    call: p.call,
                    replica: p.replica,
                    connections: p.connections,
                    waited: p.waited,
                    max_waiting: p.max_waiting,
                    abandoned: p.abandoned,
                })
                .collect(),
            caches: ctx
                .caches
                .into_iter()
                .map(|(edge, c)| CacheSummary {
                    edge,
                    hits: c.hits,
                    misses: c.misses,
                    coalesced: c.coalesced,
                    fills: c.fills,
                    flushes: c.flushes,
                    evictions: c.evictions,
                    unreachable: c.unreachable,
                    hit_ratio: if c.hits + c.misses == 0 {
                        0.0
                    } else {
                        c.hits as f64 / (c.hits + c.misses) as f64
                    },
                })
                .collect(),
            autoscalers: ctx
                .autoscalers
                .into_iter()
                .map(|a| {
                    let spec = spec
                        .services
                        .iter()
                        .find(|s| s.name == a.service)
                        .and_then(|s| s.autoscale.as_ref())
                        .expect("an autoscaled service");
                    AutoscalerSummary {
                        metric: match spec.metric {
                            crate::model::ScaleMetric::Utilization => "utilization",
                            crate::model::ScaleMetric::InFlight => "in_flight",
                            crate::model::ScaleMetric::RatePerReplica => "rate_per_replica",
                        }
                        .to_string(),
                        target: spec.hpa.target,
                        min_replicas: spec.hpa.min_replicas,
                        max_replicas: spec.hpa.max_replicas,
                        initial_replicas: a.initial,
                        most_requested: a.most,
                        fewest_requested: a.least,
                        requested_at_end: a.requested_at_end,
                        running_at_end: a.running_at_end,
                        changes: a
                            .decisions
                            .iter()
                            .map(|d| ScaleChangeSummary {
                                at_s: d.at_ns as f64 / 1e9,
                                from: d.from,
                                to: d.to,
                                metric: d.metric,
                            })
                            .collect(),
                        changes_dropped: a.decisions_dropped,
                        service: a.service,
                    }
                })
                .collect(),
            availability: AvailabilitySeries {
                window_s: rec.availability.window_ns as f64 / 1e9,
                slo: ctx.slo_availability,
                series: rec.availability.series(ctx.end),
            },
        }
    }
}
