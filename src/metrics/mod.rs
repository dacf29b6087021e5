//! Measurements: what the model reports, kept as counters, time integrals and HDR histograms,
//! then summarised per client, per service and per call edge.
//!
//! Memory is bounded by the number of entities, never by the number of requests: latencies go
//! into histograms (3 significant figures, 1 ns to 1 h) that hold only the buckets values reach
//! ([`hist::LogHist`]) and queue lengths into
//! time-weighted integrals. Only requests that started at or after the warm-up are counted, and
//! integrals run from the warm-up to the end of the run.

pub mod hist;
mod series;
pub mod stats;
mod summary;

pub use series::{
    CallWindows, ClientSeries, LevelTrack, SeriesSet, ServiceLoad, ServiceWindows, Track,
    ACCEPTING, ATTEMPTS, BUSY, CAPACITY, MAX_SERIES_CELLS, MAX_SERIES_WINDOWS, OFFERED, QUEUED,
};

pub use summary::{
    AdmissionSummary, AvailabilitySeries, CacheSummary, CallSummary, ClientSummary,
    EndpointSummary, FailoverSummary, FaultSummary, HealthSummary, LatencySummary, LinkSummary,
    OutcomeCounts, PolicySummary, PoolSummary, ReplicationSummary, ServiceSummary, StoppedBy,
    Summary, SummaryContext, TransitionSummary, CDF_QUANTILES,
};

use crate::engine::SimTime;
use crate::model::{ClientId, Observer, Outcome, ServiceId, Shed, SystemSpec};
use hist::LogHist;

/// The largest latency the histograms resolve; longer ones are recorded as this.
pub const LATENCY_NS_MAX: u64 = 3_600_000_000_000;

/// A latency record: exact sum (for means) plus a histogram (for percentiles).
#[derive(Clone)]
pub struct Latency {
    /// Nanoseconds to 3 significant figures.
    pub hist: LogHist<3>,
    pub sum_ns: u128,
}

impl Latency {
    fn new() -> Self {
        Latency {
            hist: LogHist::new(),
            sum_ns: 0,
        }
    }
    #[inline(always)]
    fn record(&mut self, ns: u64) {
        self.hist.record_within(ns, LATENCY_NS_MAX);
        self.sum_ns += ns as u128;
    }
    /// Values recorded (the histogram counts each once).
    pub fn count(&self) -> u64 {
        self.hist.len()
    }
    pub fn mean_ns(&self) -> f64 {
        if self.count() == 0 {
            0.0
        } else {
            self.sum_ns as f64 / self.count() as f64
        }
    }
}

/// Per-client measurements. `offered` and `attempts` (and a service's `offered`, a call's
/// `attempts`) are filled by [`Recorder::finish`] from the series' tracks.
#[derive(Clone)]
pub struct ClientRecord {
    pub offered: u64,
    /// Attempts sent over the network (retries and hedges included).
    pub attempts: u64,
    pub outcomes: [u64; 8],
    /// End-to-end latency of `ok` requests.
    pub latency: Latency,
}

/// Per-call-edge measurements, as the caller saw them.
#[derive(Clone)]
pub struct CallRecord {
    /// Calls started (one per parent request that made the call, before any policy or cache).
    pub started: u64,
    /// Attempts sent over the network (retries and hedges included).
    pub attempts: u64,
    pub outcomes: [u64; 8],
    pub latency: Latency,
}

/// Per-service measurements (all replicas together).
#[derive(Clone)]
pub struct ServiceRecord {
    pub offered: u64,
    pub outcomes: [u64; 8],
    /// Arrival to response of `ok` requests.
    pub latency: Latency,
    /// Requests that got a worker, and of those, how many waited in the queue first.
    pub served: u64,
    pub waited: u64,
    pub wait_sum_ns: u128,
    /// The longest queue one replica held after the warm-up (read from the series by
    /// [`Recorder::finish`]).
    pub max_queue: u32,
    /// Requests turned away because every worker was busy and the queue was full.
    pub queue_full: u64,
    /// Requests shed by admission control (concurrency limit, queue time) or dropped unserved
    /// because their deadline had passed.
    pub shed: u64,
    /// Answers that reached a caller who had stopped waiting, and the worker time they held.
    pub late_answers: u64,
    pub wasted_worker_ns: u128,
    pub calls: Vec<CallRecord>,
    /// Per endpoint (empty for a service without endpoints): answers by outcome, and the
    /// latency (arrival to response) of the `ok` ones.
    pub endpoints: Vec<EndpointRecord>,
    levels: Vec<ReplicaRoom>,
}

/// One endpoint of a service, as the service answered it.
#[derive(Clone)]
pub struct EndpointRecord {
    pub outcomes: [u64; 8],
    pub latency: Latency,
}

/// One replica's last reported room; the service-wide room is the sum (its busy and queued
/// levels are summed in the series' [`series::ServiceLoad`]).
#[derive(Clone, Copy, Debug, Default)]
struct ReplicaRoom {
    capacity: u32,
    accepts: bool,
}

/// End-to-end request outcomes per fixed window, from time zero (warm-up included, so a
/// fault during the warm-up still has a recovery time). Bounded: at most [`MAX_WINDOWS`]
/// windows; a longer run uses wider ones.
#[derive(Clone, Debug)]
pub struct Windows {
    pub window_ns: u64,
    /// Requests finished ok or degraded, and all requests finished, per window: complete once
    /// [`Recorder::finish`] has run (the window being filled is counted aside until it closes).
    pub good: Vec<u32>,
    pub total: Vec<u32>,
    /// The window being filled and where it ends: time only moves forward, so the division
    /// happens once per window, not once per request.
    cur: usize,
    cur_end_ns: u64,
    /// The counts of window `cur`, written to `good` and `total` when it closes (a request
    /// then costs two additions, no index).
    cur_good: u32,
    cur_total: u32,
}

/// The most windows a run keeps.
pub const MAX_WINDOWS: u64 = 100_000;

impl Windows {
    pub fn new(window_ns: u64, end: SimTime) -> Self {
        let window_ns = window_ns.max(end.0.div_ceil(MAX_WINDOWS)).max(1);
        let n = end.0.div_ceil(window_ns) as usize;
        Windows {
            window_ns,
            good: vec![0; n],
            total: vec![0; n],
            cur: 0,
            cur_end_ns: window_ns,
            cur_good: 0,
            cur_total: 0,
        }
    }
    /// Moves to the window `now` falls in (once per event: see `Observer::advance`).
    #[inline(always)]
    fn advance(&mut self, now: SimTime) {
        if now.0 >= self.cur_end_ns {
            self.close();
            self.cur = (now.0 / self.window_ns) as usize;
            self.cur_end_ns = (self.cur as u64 + 1).saturating_mul(self.window_ns);
        }
    }

    /// Writes the counts of the window being filled to its place (a window past the last
    /// has none) and starts again from zero. Called when the window closes and when the run
    /// ends ([`Recorder::finish`]).
    fn close(&mut self) {
        let i = self.cur;
        if let (Some(g), Some(t)) = (self.good.get_mut(i), self.total.get_mut(i)) {
            *g += self.cur_good;
            *t += self.cur_total;
        }
        (self.cur_good, self.cur_total) = (0, 0);
    }

    /// Counts a request finished at `now`, which [`Windows::advance`] has reached.
    #[inline]
    fn record(&mut self, now: SimTime, good: bool) {
        if crate::engine::CHECKED {
            assert!(
                now.0 < self.cur_end_ns,
                "a request counted before its window"
            );
        }
        self.cur_good += good as u32;
        self.cur_total += 1;
    }
    /// The availability of each window that ended by `end`.
    pub fn series(&self, end: SimTime) -> Vec<Option<f64>> {
        let full = (end.0 / self.window_ns) as usize;
        (0..full.min(self.total.len()))
            .map(|i| (self.total[i] > 0).then(|| self.good[i] as f64 / self.total[i] as f64))
            .collect()
    }
    /// The start of the first whole window at or after `after` whose availability meets
    /// `objective` (a window with no finished request does not count).
    pub fn recovered_at(&self, after: SimTime, objective: f64, end: SimTime) -> Option<SimTime> {
        let first = after.0.div_ceil(self.window_ns) as usize;
        let full = (end.0 / self.window_ns) as usize;
        (first..full.min(self.total.len()))
            .find(|&i| self.total[i] > 0 && self.good[i] as f64 >= objective * self.total[i] as f64)
            .map(|i| SimTime(i as u64 * self.window_ns))
    }
}

/// Collects everything the model reports. Implements [`Observer`].
pub struct Recorder {
    pub warmup: SimTime,
    pub clients: Vec<ClientRecord>,
    pub services: Vec<ServiceRecord>,
    pub availability: Windows,
    /// Everything per window, from time zero.
    pub series: SeriesSet,
    /// The first instant at which the series or the availability windows must move on.
    next_mark_ns: u64,
}

impl Recorder {
    /// `window_ns` is the availability window; `end` bounds the run.
    pub fn new(spec: &SystemSpec, warmup: SimTime, window_ns: u64, end: SimTime) -> Self {
        let calls: Vec<usize> = spec.services.iter().map(|s| s.calls.len()).collect();
        let mut r = Recorder {
            warmup,
            availability: Windows::new(window_ns, end),
            series: SeriesSet::new(window_ns, end, warmup, spec.clients.len(), &calls),
            // Both kinds of window start at zero; the first event moves them.
            next_mark_ns: 0,
            clients: spec
                .clients
                .iter()
                .map(|_| ClientRecord {
                    offered: 0,
                    attempts: 0,
                    outcomes: [0; 8],
                    latency: Latency::new(),
                })
                .collect(),
            services: spec
                .services
                .iter()
                .map(|s| ServiceRecord {
                    offered: 0,
                    outcomes: [0; 8],
                    latency: Latency::new(),
                    served: 0,
                    waited: 0,
                    wait_sum_ns: 0,
                    max_queue: 0,
                    queue_full: 0,
                    shed: 0,
                    late_answers: 0,
                    wasted_worker_ns: 0,
                    endpoints: s
                        .endpoints
                        .iter()
                        .map(|_| EndpointRecord {
                            outcomes: [0; 8],
                            latency: Latency::new(),
                        })
                        .collect(),
                    calls: s
                        .calls
                        .iter()
                        .map(|_| CallRecord {
                            started: 0,
                            attempts: 0,
                            outcomes: [0; 8],
                            latency: Latency::new(),
                        })
                        .collect(),
                    levels: (0..s.replicas)
                        .map(|r| ReplicaRoom {
                            capacity: if r < s.initial_replicas { s.workers } else { 0 },
                            accepts: r < s.initial_replicas,
                        })
                        .collect(),
                })
                .collect(),
        };
        // The initial replicas start with every worker able to work.
        for (si, s) in spec.services.iter().enumerate() {
            r.series.set_replicas(si, s.replicas);
            let cap = s.workers as u64 * s.initial_replicas as u64;
            r.series
                .service_capacity(si, cap, s.initial_replicas as u64, SimTime::ZERO);
        }
        r
    }

    /// Closes the time integrals at the end of the measured interval.
    /// The whole-run level means are read from the series' level tracks from here on
    /// ([`LevelTrack::measured_integral`]).
    ///
    /// The whole-run counts of requests offered and attempts sent are read from the series'
    /// tracks here too ([`Track::measured`]): per request they cost nothing beyond the window's
    /// count.
    pub fn finish(&mut self, end: SimTime) {
        self.series.finish(end);
        self.availability.close();
        let s = &self.series;
        for (c, t) in self.clients.iter_mut().zip(s.clients.iter()) {
            c.offered = t.track.measured(OFFERED);
            c.attempts = t.track.measured(ATTEMPTS);
        }
        for (i, v) in self.services.iter_mut().enumerate() {
            v.offered = s.services[i].measured(OFFERED);
            v.max_queue = s.load[i].max_queue();
            for (c, t) in v.calls.iter_mut().zip(s.calls[i].iter()) {
                c.attempts = t.measured(ATTEMPTS);
            }
        }
    }

    /// Moves the series and the availability windows to the ones `now` falls in.
    #[cold]
    #[inline(never)]
    fn roll(&mut self, now: SimTime) {
        self.series.advance(now);
        self.availability.advance(now);
        self.next_mark_ns = self.series.next_mark_ns().min(self.availability.cur_end_ns);
    }

    #[inline]
    fn measured(&self, t: SimTime) -> bool {
        t >= self.warmup
    }
}

impl Observer for Recorder {
    #[inline(always)]
    fn advance(&mut self, now: SimTime) {
        // One comparison per event for both kinds of window.
        if now.0 >= self.next_mark_ns {
            self.roll(now);
        }
    }

    #[inline(always)]
    fn client_sent(&mut self, client: ClientId, in_flight: u32, now: SimTime) {
        self.series.client_sent(client, in_flight as u64, now);
    }

    #[inline(always)]
    fn client_done(
        &mut self,
        client: ClientId,
        outcome: Outcome,
        sent_at: SimTime,
        in_flight: u32,
        now: SimTime,
    ) {
        self.availability
            .record(now, matches!(outcome, Outcome::Ok | Outcome::Degraded));
        self.series
            .client_done(client, outcome, now.0 - sent_at.0, in_flight as u64, now);
        if self.measured(sent_at) {
            let c = &mut self.clients[client];
            c.outcomes[outcome.index()] += 1;
            if outcome == Outcome::Ok {
                c.latency.record(now.0 - sent_at.0);
            }
        }
    }

    #[inline(always)]
    fn service_arrival(&mut self, service: ServiceId, now: SimTime) {
        self.series.service_arrival(service, now);
    }

    #[inline(always)]
    fn service_done(
        &mut self,
        service: ServiceId,
        outcome: Outcome,
        arrived_at: SimTime,
        started_at: SimTime,
        now: SimTime,
    ) {
        self.series
            .service_done(service, outcome, now.0 - arrived_at.0, now);
        if !self.measured(arrived_at) {
            return;
        }
        let s = &mut self.services[service];
        s.outcomes[outcome.index()] += 1;
        if outcome != Outcome::Overloaded {
            s.served += 1;
            let wait = started_at.0 - arrived_at.0;
            if wait > 0 {
                s.waited += 1;
                s.wait_sum_ns += wait as u128;
            }
        }
        if outcome == Outcome::Ok {
            s.latency.record(now.0 - arrived_at.0);
        }
    }

    #[inline(always)]
    fn replica_level(
        &mut self,
        service: ServiceId,
        replica: u32,
        busy: u32,
        queued: u32,
        now: SimTime,
    ) {
        self.series
            .replica_levels(service, replica, busy, queued, now);
    }

    #[inline(always)]
    fn client_attempt(&mut self, client: ClientId, now: SimTime) {
        self.series.client_attempt(client, now);
    }

    #[inline]
    fn call_attempt(&mut self, service: ServiceId, call: usize, now: SimTime) {
        self.series.call_attempt(service, call, now);
    }

    #[inline]
    fn call_done(
        &mut self,
        service: ServiceId,
        call: usize,
        outcome: Outcome,
        sent_at: SimTime,
        now: SimTime,
    ) {
        self.series
            .call_done(service, call, outcome, now.0 - sent_at.0, now);
        if self.measured(sent_at) {
            let c = &mut self.services[service].calls[call];
            c.outcomes[outcome.index()] += 1;
            if outcome == Outcome::Ok {
                c.latency.record(now.0 - sent_at.0);
            }
        }
    }

    fn replica_capacity(
        &mut self,
        service: ServiceId,
        replica: u32,
        workers: u32,
        accepts: bool,
        now: SimTime,
    ) {
        let s = &mut self.services[service];
        let l = &mut s.levels[replica as usize];
        if (l.capacity, l.accepts) == (workers, accepts) {
            return;
        }
        let old = std::mem::replace(&mut l.capacity, workers);
        l.accepts = accepts;
        let total = self.series.room[service].level(CAPACITY) + workers as u64 - old as u64;
        // Capacity changes are rare (faults, restarts, scaling): a count over replicas is cheap.
        let accepting = s.levels.iter().filter(|l| l.accepts).count() as u64;
        self.series.service_capacity(service, total, accepting, now);
    }

    fn shed(&mut self, service: ServiceId, why: Shed, now: SimTime) {
        let full = why == Shed::QueueFull;
        self.series.shed(service, full, now);
        if self.measured(now) {
            let s = &mut self.services[service];
            if full {
                s.queue_full += 1;
            } else {
                s.shed += 1;
            }
        }
    }

    fn endpoint_done(
        &mut self,
        service: ServiceId,
        endpoint: u8,
        outcome: Outcome,
        arrived_at: SimTime,
        now: SimTime,
    ) {
        if !self.measured(arrived_at) {
            return;
        }
        let e = &mut self.services[service].endpoints[endpoint as usize];
        e.outcomes[outcome.index()] += 1;
        if outcome == Outcome::Ok {
            e.latency.record(now.0 - arrived_at.0);
        }
    }

    fn late_answer(&mut self, service: ServiceId, worker_ns: u64, now: SimTime) {
        self.series.late_answer(service, worker_ns, now);
        if self.measured(now) {
            let s = &mut self.services[service];
            s.late_answers += 1;
            s.wasted_worker_ns += worker_ns as u128;
        }
    }

    #[inline]
    fn call_started(&mut self, service: ServiceId, call: usize, now: SimTime) {
        self.series.call_started(service, call, now);
        if self.measured(now) {
            self.services[service].calls[call].started += 1;
        }
    }

    fn pool_wait(&mut self, service: ServiceId, call: usize, now: SimTime) {
        self.series.pool_wait(service, call, now);
    }

    fn cache_lookup(&mut self, service: ServiceId, call: usize, hit: bool, now: SimTime) {
        self.series.cache_lookup(service, call, hit, now);
    }
}
