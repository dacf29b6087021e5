//! Windowed time series: what each client, service and call edge saw in every window of the
//! run (counts by outcome, latency percentiles, time-averaged levels), from time zero.
//!
//! Memory is bounded by windows x series, never by requests: counts are one `u32` per window,
//! latency goes into one HDR histogram per series that is read (p50, p99, p99.9) and cleared
//! when its window closes, and levels are integrated per window. A run longer than
//! [`MAX_SERIES_WINDOWS`] windows gets wider windows, and so does a model whose series (its
//! clients, services and call edges) times its windows would pass [`MAX_SERIES_CELLS`]: what a
//! run keeps, and what the report builds from it (a row per window and entity), stays bounded
//! however many entities the model has.
//!
//! This module only records; it knows nothing of SLOs, faults or how the series are drawn.

use super::hist::LogHist;
use crate::engine::SimTime;
use crate::model::Outcome;

/// The most windows a run's time series keeps.
pub const MAX_SERIES_WINDOWS: u64 = 2_000;

/// The most windows x series (clients, services and call edges) a run keeps: a series costs
/// about 250 bytes per window here and as much again in the report's rows, so this bounds
/// both at a few hundred MB. A model of up to 250 series keeps its 2,000 windows; one of
/// 20,000 (a chain of 10,000 services) gets [`MIN_SERIES_WINDOWS`].
pub const MAX_SERIES_CELLS: u64 = 500_000;

/// The fewest windows the cell bound leaves a run (the analysis needs a baseline before a
/// fault and windows after it); a run shorter than that many windows of its own keeps them.
pub const MIN_SERIES_WINDOWS: u64 = 20;

/// Window histograms count microseconds to 2 significant figures (1%), which is plenty for a
/// plot and keeps the histogram small (at most 3,200 counters, fewer when the latencies span
/// fewer powers of two) so that reading and clearing it once per window costs little.
fn window_histogram() -> LogHist<2> {
    LogHist::new()
}

/// `N` levels of one entity (busy workers and queued requests, say) integrated over time; the
/// integrals are read at every window boundary and at the end of the warm-up, so a change costs
/// what a plain integral costs and one integral serves both the windows and the whole run.
/// Levels that change together share a track: one clock and one lookup for both.
#[derive(Clone, Debug)]
pub struct LevelTrack<const N: usize> {
    level: [u64; N],
    last_ns: u64,
    /// Level x nanoseconds from time zero to `last_ns`.
    acc: [u128; N],
    /// The integrals from time zero to the start of each window (filled as windows close).
    at_boundary: Vec<[u128; N]>,
    /// The integrals from time zero to the end of the warm-up (once the run has passed it).
    at_warmup: [u128; N],
}

/// The levels of a service's load track and of its room track.
pub const BUSY: usize = 0;
pub const QUEUED: usize = 1;
pub const CAPACITY: usize = 0;
pub const ACCEPTING: usize = 1;

impl<const N: usize> LevelTrack<N> {
    fn new(windows: usize) -> Self {
        let mut at_boundary = Vec::with_capacity(windows + 1);
        at_boundary.push([0; N]);
        LevelTrack {
            level: [0; N],
            last_ns: 0,
            acc: [0; N],
            at_boundary,
            at_warmup: [0; N],
        }
    }

    /// The current level `k`.
    #[inline]
    pub fn level(&self, k: usize) -> u64 {
        self.level[k]
    }

    /// Integral `k` from time zero to `t_ns`, which no change so far has passed.
    fn value_at(&self, k: usize, t_ns: u64) -> u128 {
        self.acc[k] + self.level[k] as u128 * t_ns.saturating_sub(self.last_ns) as u128
    }

    #[inline(always)]
    fn set(&mut self, level: [u64; N], now_ns: u64) {
        let dt = (now_ns - self.last_ns) as u128;
        for k in 0..N {
            self.acc[k] += self.level[k] as u128 * dt;
        }
        self.last_ns = now_ns;
        self.level = level;
    }

    /// Records the integrals at `boundary_ns`, which no change so far has passed.
    fn snapshot(&mut self, boundary_ns: u64) {
        let v = std::array::from_fn(|k| self.value_at(k, boundary_ns));
        self.at_boundary.push(v);
    }

    fn note_warmup(&mut self, at_ns: u64) {
        self.at_warmup = std::array::from_fn(|k| self.value_at(k, at_ns));
    }

    /// Level `k` x nanoseconds from the end of the warm-up to `end` (0 when the run ended
    /// before the warm-up did); valid once [`SeriesSet::finish`] has run.
    pub fn measured_integral(&self, k: usize, end: SimTime) -> u128 {
        self.value_at(k, end.0).saturating_sub(self.at_warmup[k])
    }

    /// The time-average of level `k` over window `i` (0 for a window not closed).
    pub fn mean(&self, k: usize, i: usize, window_ns: u64) -> f64 {
        match (self.at_boundary.get(i), self.at_boundary.get(i + 1)) {
            (Some(a), Some(b)) => (b[k] - a[k]) as f64 / window_ns as f64,
            _ => 0.0,
        }
    }
}

/// A service's load: its busy workers ([`BUSY`]) and queued requests ([`QUEUED`]) over time,
/// all replicas together, with what a replica's report needs beside them (its last levels,
/// to move the sums by its change, and the longest queue): one lookup per report.
#[derive(Clone, Debug)]
pub struct ServiceLoad {
    pub levels: LevelTrack<2>,
    /// Each replica's last (busy, queued); empty for a service of one replica, whose levels
    /// are the service's.
    replicas: Vec<[u32; 2]>,
    /// The longest queue a replica reported since the end of the warm-up (reset there).
    max_queue: u32,
}

impl ServiceLoad {
    fn new(windows: usize) -> Self {
        ServiceLoad {
            levels: LevelTrack::new(windows),
            replicas: Vec::new(),
            max_queue: 0,
        }
    }

    /// The longest queue any one replica held from the end of the warm-up on.
    pub fn max_queue(&self) -> u32 {
        self.max_queue
    }
}

/// A client's series: its requests and, beside them (one lookup for both), how many it had
/// in flight.
#[derive(Clone, Debug)]
pub struct ClientSeries {
    pub track: Track,
    pub in_flight: LevelTrack<1>,
}

/// One entity's series. The count vectors hold the window being filled only once it closes,
/// so they are complete after [`SeriesSet::finish`] (which is when they are read).
#[derive(Clone, Debug)]
pub struct Track {
    /// Client requests sent, or requests arriving at a service (by start time).
    pub offered: Vec<u32>,
    /// Attempts sent over the network, retries and hedges included (clients and call edges).
    pub attempts: Vec<u32>,
    /// Finished requests by outcome (by finish time), indexed by [`Outcome::index`].
    pub outcomes: [Vec<u32>; 8],
    /// Latency percentiles of `ok` requests finished in each window; 0 when there were none.
    pub p50_ns: Vec<u64>,
    pub p99_ns: Vec<u64>,
    pub p999_ns: Vec<u64>,
    hist: LogHist<2>,
    /// The counts of window `hist_w` (see [`OFFERED`]), added to the vectors above when it
    /// closes: one add per count instead of a bounds-checked vector update.
    counts: [u64; 10],
    /// The window whose counts and histogram are being filled.
    hist_w: usize,
    /// Offered and attempts over the windows closed so far, exactly (a window's own count
    /// saturates at u32::MAX), and what they were at the end of the warm-up: the whole-run
    /// figures are the difference ([`Track::measured`]), so recording them costs nothing per
    /// request.
    totals: [u64; 2],
    at_warmup: [u64; 2],
}

/// Where a [`Track`]'s counts of the window being filled are kept: offered, attempts, then
/// the outcomes by [`Outcome::index`].
pub const OFFERED: usize = 0;
pub const ATTEMPTS: usize = 1;
const OUTCOMES: usize = 2;

impl Track {
    fn new(windows: usize) -> Self {
        Track {
            offered: vec![0; windows],
            attempts: vec![0; windows],
            outcomes: std::array::from_fn(|_| vec![0; windows]),
            p50_ns: vec![0; windows],
            p99_ns: vec![0; windows],
            p999_ns: vec![0; windows],
            hist: window_histogram(),
            counts: [0; 10],
            hist_w: 0,
            totals: [0; 2],
            at_warmup: [0; 2],
        }
    }

    /// Requests offered ([`OFFERED`]) or attempts sent ([`ATTEMPTS`]) from the end of the
    /// warm-up on: what the recorder reports for the whole run (valid once
    /// [`SeriesSet::finish`] has run).
    pub fn measured(&self, k: usize) -> u64 {
        self.totals[k] - self.at_warmup[k]
    }

    /// Notes the totals at the end of the warm-up: everything counted so far happened before
    /// it (the series rolls past the warm-up before counting what comes at or after it).
    fn note_warmup(&mut self) {
        self.at_warmup = std::array::from_fn(|k| self.totals[k] + self.counts[k]);
    }

    #[inline(always)]
    fn bump(v: &mut [u32], w: usize) {
        if let Some(x) = v.get_mut(w) {
            *x = x.saturating_add(1);
        }
    }

    /// The counts of window `w`, the one being filled: the series closes every track's
    /// window when it moves on ([`SeriesSet::roll`]), so a count costs no comparison (checked
    /// in debug builds and under `checked-tables`).
    #[inline(always)]
    fn counts(&mut self, w: usize) -> &mut [u64; 10] {
        if crate::engine::CHECKED {
            assert_eq!(
                w, self.hist_w,
                "a count for a window the track is not filling"
            );
        }
        &mut self.counts
    }

    #[inline(always)]
    fn offered(&mut self, w: usize) {
        self.counts(w)[OFFERED] += 1;
    }

    #[inline(always)]
    fn attempt(&mut self, w: usize) {
        self.counts(w)[ATTEMPTS] += 1;
    }

    #[inline(always)]
    fn done(&mut self, w: usize, outcome: Outcome, latency_ns: u64) {
        self.counts(w)[OUTCOMES + outcome.index()] += 1;
        if outcome == Outcome::Ok {
            self.hist
                .record_within(latency_ns / 1_000, super::LATENCY_NS_MAX / 1_000);
        }
    }

    /// Adds the counts of the window being filled to its windows, reads the histogram into
    /// its percentiles, and starts window `next`.
    #[cold]
    fn close(&mut self, next: usize) {
        if self.counts == [0; 10] && self.hist.is_empty() {
            // Nothing happened in the window: its zeros are there already.
            self.hist_w = next;
            return;
        }
        self.totals[OFFERED] += self.counts[OFFERED];
        self.totals[ATTEMPTS] += self.counts[ATTEMPTS];
        let w = self.hist_w;
        if w < self.offered.len() {
            let counts = std::mem::take(&mut self.counts);
            let vs = [&mut self.offered, &mut self.attempts]
                .into_iter()
                .chain(self.outcomes.iter_mut());
            for (v, n) in vs.zip(counts) {
                // Counts per window are u32 (memory): a window's count saturates.
                v[w] = v[w].saturating_add(n.min(u32::MAX as u64) as u32);
            }
        }
        self.counts = [0; 10];
        let h = &mut self.hist;
        if !h.is_empty() {
            if w < self.p50_ns.len() {
                // One pass for the three percentiles (HdrHistogram's value_at_quantile).
                let got = h.values_at(&[0.5, 0.99, 0.999]).map(|v| v * 1_000);
                self.p50_ns[w] = got[0];
                self.p99_ns[w] = got[1];
                self.p999_ns[w] = got[2];
            }
            h.reset();
        }
        self.hist_w = next;
    }
}

/// What a service turned away, answered in vain and could take, per window (beside its
/// [`Track`]).
#[derive(Clone, Debug)]
pub struct ServiceWindows {
    /// Requests turned away because every worker was busy and the queue was full.
    pub queue_full: Vec<u32>,
    /// Requests shed by admission control or dropped unserved past their deadline.
    pub shed: Vec<u32>,
    /// Answers that reached a caller who had stopped waiting (by arrival time), and the worker
    /// time they held, in nanoseconds.
    pub late: Vec<u32>,
    pub wasted_ns: Vec<u64>,
}

impl ServiceWindows {
    fn new(windows: usize) -> Self {
        ServiceWindows {
            queue_full: vec![0; windows],
            shed: vec![0; windows],
            late: vec![0; windows],
            wasted_ns: vec![0; windows],
        }
    }
}

/// A call edge's calls, pool waits and cache lookups, per window (beside its [`Track`]).
#[derive(Clone, Debug)]
pub struct CallWindows {
    /// Calls started (the denominator of attempts per call).
    pub started: Vec<u32>,
    /// Attempts that waited for a connection of their pool.
    pub pool_waits: Vec<u32>,
    pub cache_hits: Vec<u32>,
    pub cache_misses: Vec<u32>,
}

impl CallWindows {
    fn new(windows: usize) -> Self {
        CallWindows {
            started: vec![0; windows],
            pool_waits: vec![0; windows],
            cache_hits: vec![0; windows],
            cache_misses: vec![0; windows],
        }
    }
}

/// Every entity's series for one run.
#[derive(Clone, Debug)]
pub struct SeriesSet {
    pub window_ns: u64,
    /// Windows covering the run, the last one possibly partial.
    pub windows: usize,
    pub clients: Vec<ClientSeries>,
    pub services: Vec<Track>,
    /// Busy workers and queued requests per service (all replicas), and its longest queue.
    pub load: Vec<ServiceLoad>,
    /// Workers able to take a request ([`CAPACITY`]) and replicas accepting requests
    /// ([`ACCEPTING`]) per service.
    pub room: Vec<LevelTrack<2>>,
    pub service_windows: Vec<ServiceWindows>,
    /// Per service, per call edge (in the order of the service's calls).
    pub calls: Vec<Vec<Track>>,
    pub call_windows: Vec<Vec<CallWindows>>,
    cur: usize,
    cur_end_ns: u64,
    /// The end of the warm-up, where the level integrals are read for the whole-run means, until
    /// they have been (then `u64::MAX`).
    warmup_ns: u64,
    /// The next instant at which a level integral must be read: the end of the current window
    /// or of the warm-up, whichever comes first.
    next_mark_ns: u64,
}

impl SeriesSet {
    /// `calls_per_service[s]` is how many call edges service `s` has. Windows are
    /// `window_ns` wide, or wider when the run would otherwise pass [`MAX_SERIES_WINDOWS`]
    /// windows or [`MAX_SERIES_CELLS`] windows x series.
    pub fn new(
        window_ns: u64,
        end: SimTime,
        warmup: SimTime,
        clients: usize,
        calls_per_service: &[usize],
    ) -> Self {
        let series = (clients + calls_per_service.len() + calls_per_service.iter().sum::<usize>())
            .max(1) as u64;
        let most = (MAX_SERIES_CELLS / series).clamp(MIN_SERIES_WINDOWS, MAX_SERIES_WINDOWS);
        let window_ns = window_ns.max(end.0.div_ceil(most)).max(1);
        let windows = end.0.div_ceil(window_ns).max(1) as usize;
        let services = calls_per_service.len();
        SeriesSet {
            window_ns,
            windows,
            clients: (0..clients)
                .map(|_| ClientSeries {
                    track: Track::new(windows),
                    in_flight: LevelTrack::new(windows),
                })
                .collect(),
            services: (0..services).map(|_| Track::new(windows)).collect(),
            load: (0..services).map(|_| ServiceLoad::new(windows)).collect(),
            room: (0..services).map(|_| LevelTrack::new(windows)).collect(),
            service_windows: (0..services)
                .map(|_| ServiceWindows::new(windows))
                .collect(),
            calls: calls_per_service
                .iter()
                .map(|&n| (0..n).map(|_| Track::new(windows)).collect())
                .collect(),
            call_windows: calls_per_service
                .iter()
                .map(|&n| (0..n).map(|_| CallWindows::new(windows)).collect())
                .collect(),
            cur: 0,
            cur_end_ns: window_ns,
            warmup_ns: warmup.0,
            next_mark_ns: warmup.0.min(window_ns),
        }
    }

    /// The window `now` falls in. Time only moves forward, so the work of moving to a new
    /// window (a division, reading the level integrals) happens once per window.
    #[inline(always)]
    fn window(&mut self, now: SimTime) -> usize {
        if now.0 >= self.next_mark_ns {
            self.roll(now.0);
        }
        self.cur
    }

    /// Moves to the window `now` falls in (see [`crate::model::Observer::advance`]): the
    /// reports of the hot path that follow at `now` take the current window unchecked.
    #[inline(always)]
    pub(super) fn advance(&mut self, now: SimTime) {
        self.window(now);
    }

    /// The next instant at which the series must move on ([`SeriesSet::advance`]).
    pub(super) fn next_mark_ns(&self) -> u64 {
        self.next_mark_ns
    }

    /// The current window, which `now` falls in: [`SeriesSet::advance`] was called at `now`
    /// (checked in debug builds and under `checked-tables`).
    #[inline(always)]
    fn current(&self, now: SimTime) -> usize {
        if crate::engine::CHECKED {
            assert!(
                now.0 < self.next_mark_ns,
                "a report at {} ns before the series advanced to it",
                now.0
            );
        }
        self.cur
    }

    #[cold]
    fn roll(&mut self, now_ns: u64) {
        // No level changed after the marks passed since the last call: each integral read
        // there is the one the level had since its last change.
        if self.warmup_ns <= now_ns {
            self.note_warmup(self.warmup_ns);
        }
        let was = self.cur;
        while self.cur_end_ns <= now_ns && self.cur < self.windows {
            self.snapshot_levels(self.cur_end_ns);
            self.cur += 1;
            self.cur_end_ns = self.cur_end_ns.saturating_add(self.window_ns);
        }
        if self.cur != was {
            // Every track closes the window it was filling, touched or not (an untouched
            // one in a comparison): then a count never asks which window it is in.
            let cur = self.cur;
            self.tracks_mut().for_each(|t| t.close(cur));
        }
        if self.cur >= self.windows {
            self.cur_end_ns = u64::MAX;
        }
        self.next_mark_ns = self.cur_end_ns.min(self.warmup_ns);
    }

    /// Notes every level's integral at `at_ns` (the end of the warm-up, or the run's end when
    /// that came first), which no change has passed, as where the whole-run means start.
    fn note_warmup(&mut self, at_ns: u64) {
        self.tracks_mut().for_each(Track::note_warmup);
        self.clients
            .iter_mut()
            .for_each(|c| c.in_flight.note_warmup(at_ns));
        for l in &mut self.load {
            // The longest queue counts from here on.
            l.max_queue = 0;
        }
        let loads = self.load.iter_mut().map(|l| &mut l.levels);
        loads
            .chain(self.room.iter_mut())
            .for_each(|l| l.note_warmup(at_ns));
        self.warmup_ns = u64::MAX;
    }

    /// Every level's integral at the window boundary `at_ns`.
    fn snapshot_levels(&mut self, at_ns: u64) {
        self.clients
            .iter_mut()
            .for_each(|c| c.in_flight.snapshot(at_ns));
        let loads = self.load.iter_mut().map(|l| &mut l.levels);
        loads
            .chain(self.room.iter_mut())
            .for_each(|l| l.snapshot(at_ns));
    }

    #[inline(always)]
    pub(super) fn client_sent(&mut self, client: usize, in_flight: u64, now: SimTime) {
        let w = self.current(now);
        let c = &mut self.clients[client];
        c.track.offered(w);
        c.in_flight.set([in_flight], now.0);
    }

    #[inline(always)]
    pub(super) fn client_attempt(&mut self, client: usize, now: SimTime) {
        let w = self.current(now);
        self.clients[client].track.attempt(w);
    }

    #[inline(always)]
    pub(super) fn client_done(
        &mut self,
        client: usize,
        outcome: Outcome,
        latency_ns: u64,
        in_flight: u64,
        now: SimTime,
    ) {
        let w = self.current(now);
        let c = &mut self.clients[client];
        c.track.done(w, outcome, latency_ns);
        c.in_flight.set([in_flight], now.0);
    }

    /// Sets a client's in-flight level alone (the model reports it with sends and answers).
    #[cfg(test)]
    fn client_in_flight(&mut self, client: usize, level: u64, now: SimTime) {
        self.window(now);
        self.clients[client].in_flight.set([level], now.0);
    }

    #[inline(always)]
    pub(super) fn service_arrival(&mut self, service: usize, now: SimTime) {
        let w = self.current(now);
        self.services[service].offered(w);
    }

    #[inline(always)]
    pub(super) fn service_done(
        &mut self,
        service: usize,
        outcome: Outcome,
        latency_ns: u64,
        now: SimTime,
    ) {
        let w = self.current(now);
        self.services[service].done(w, outcome, latency_ns);
    }

    /// Gives `service` one level entry per replica (a service of one replica needs none).
    pub(super) fn set_replicas(&mut self, service: usize, replicas: u32) {
        let l = &mut self.load[service];
        l.replicas = if replicas > 1 {
            vec![[0; 2]; replicas as usize]
        } else {
            Vec::new()
        };
    }

    /// A replica's busy workers and queued requests changed: the service's sums move by its
    /// change, and its queue may be the longest yet.
    #[inline(always)]
    pub(super) fn replica_levels(
        &mut self,
        service: usize,
        replica: u32,
        busy: u32,
        queued: u32,
        now: SimTime,
    ) {
        self.current(now);
        let l = &mut self.load[service];
        let total = if l.replicas.is_empty() {
            [busy as u64, queued as u64]
        } else {
            let r = &mut l.replicas[replica as usize];
            let old = std::mem::replace(r, [busy, queued]);
            [
                l.levels.level(BUSY) + busy as u64 - old[0] as u64,
                l.levels.level(QUEUED) + queued as u64 - old[1] as u64,
            ]
        };
        l.levels.set(total, now.0);
        if queued > l.max_queue {
            l.max_queue = queued;
        }
    }

    #[inline(always)]
    pub(super) fn call_attempt(&mut self, service: usize, call: usize, now: SimTime) {
        let w = self.current(now);
        self.calls[service][call].attempt(w);
    }

    #[inline(always)]
    pub(super) fn call_done(
        &mut self,
        service: usize,
        call: usize,
        outcome: Outcome,
        latency_ns: u64,
        now: SimTime,
    ) {
        let w = self.current(now);
        self.calls[service][call].done(w, outcome, latency_ns);
    }

    pub(super) fn service_capacity(
        &mut self,
        service: usize,
        workers: u64,
        accepting: u64,
        now: SimTime,
    ) {
        self.window(now);
        self.room[service].set([workers, accepting], now.0);
    }

    pub(super) fn shed(&mut self, service: usize, queue_full: bool, now: SimTime) {
        let w = self.window(now);
        let s = &mut self.service_windows[service];
        Track::bump(
            if queue_full {
                &mut s.queue_full
            } else {
                &mut s.shed
            },
            w,
        );
    }

    pub(super) fn late_answer(&mut self, service: usize, worker_ns: u64, now: SimTime) {
        let w = self.window(now);
        let s = &mut self.service_windows[service];
        Track::bump(&mut s.late, w);
        if let Some(x) = s.wasted_ns.get_mut(w) {
            *x = x.saturating_add(worker_ns);
        }
    }

    #[inline(always)]
    pub(super) fn call_started(&mut self, service: usize, call: usize, now: SimTime) {
        let w = self.current(now);
        Track::bump(&mut self.call_windows[service][call].started, w);
    }

    pub(super) fn pool_wait(&mut self, service: usize, call: usize, now: SimTime) {
        let w = self.window(now);
        Track::bump(&mut self.call_windows[service][call].pool_waits, w);
    }

    pub(super) fn cache_lookup(&mut self, service: usize, call: usize, hit: bool, now: SimTime) {
        let w = self.window(now);
        let c = &mut self.call_windows[service][call];
        Track::bump(
            if hit {
                &mut c.cache_hits
            } else {
                &mut c.cache_misses
            },
            w,
        );
    }

    /// Closes the last windows' histograms and levels at `end`.
    pub fn finish(&mut self, end: SimTime) {
        if end.0 > 0 {
            self.window(SimTime(end.0 - 1));
        }
        if self.warmup_ns != u64::MAX {
            // The warm-up ended at `end` or later: nothing after it is measured.
            self.note_warmup(self.warmup_ns.min(end.0));
        }
        // The last window (possibly partial) closes at `end`.
        if self.cur < self.windows {
            self.snapshot_levels(end.0.min(self.cur_end_ns));
        }
        self.tracks_mut().for_each(|t| t.close(usize::MAX));
    }

    /// Every client's, service's and call edge's track.
    fn tracks_mut(&mut self) -> impl Iterator<Item = &mut Track> {
        let clients = self.clients.iter_mut().map(|c| &mut c.track);
        clients
            .chain(self.services.iter_mut())
            .chain(self.calls.iter_mut().flatten())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Level x time over [warmup, end], summed change by change: what the whole-run means
    /// divide by the measured span.
    fn integral_by_hand(changes: &[(u64, u64)], warmup: u64, end: u64) -> u128 {
        let mut total = 0u128;
        for (i, &(t, level)) in changes.iter().enumerate() {
            let until = changes.get(i + 1).map_or(end, |c| c.0).min(end);
            let from = t.max(warmup);
            if until > from {
                total += level as u128 * (until - from) as u128;
            }
        }
        total
    }

    proptest::proptest! {
        /// The whole-run integral read from the windowed track matches one summed by hand from
        /// the warm-up to the end, wherever the warm-up, the changes and the end fall (on a
        /// window boundary, between changes, after the end).
        #[test]
        fn measured_integral_runs_from_the_warmup(
            steps in proptest::collection::vec((0u64..30, 0u64..5), 0..40),
            warmup in 0u64..200,
            end in 1u64..200,
        ) {
            let mut s = SeriesSet::new(10, SimTime(200), SimTime(warmup), 1, &[]);
            let mut changes = vec![(0, 0)];
            let mut t = 0;
            for (gap, level) in steps {
                t += gap;
                if t >= end {
                    break;
                }
                s.client_in_flight(0, level, SimTime(t));
                changes.push((t, level));
            }
            s.finish(SimTime(end));
            proptest::prop_assert_eq!(
                s.clients[0].in_flight.measured_integral(0, SimTime(end)),
                integral_by_hand(&changes, warmup, end)
            );
        }
    }

    proptest::proptest! {
        /// The whole-run counts read from the tracks are the requests offered and attempts
        /// sent at or after the warm-up, wherever the warm-up, the sends and the end fall.
        #[test]
        fn measured_counts_start_at_the_warmup(
            sends in proptest::collection::vec((0u64..30, 0u64..3), 0..60),
            warmup in 0u64..250,
        ) {
            let mut s = SeriesSet::new(10, SimTime(200), SimTime(warmup), 1, &[1]);
            let (mut t, mut offered, mut attempts) = (0, 0, 0);
            for (gap, retries) in sends {
                t += gap;
                if t >= 200 {
                    break;
                }
                s.advance(SimTime(t));
                s.client_sent(0, 1, SimTime(t));
                s.service_arrival(0, SimTime(t));
                for _ in 0..=retries {
                    s.client_attempt(0, SimTime(t));
                    s.call_attempt(0, 0, SimTime(t));
                }
                if t >= warmup {
                    offered += 1;
                    attempts += 1 + retries;
                }
            }
            s.finish(SimTime(200));
            proptest::prop_assert_eq!(s.clients[0].track.measured(OFFERED), offered);
            proptest::prop_assert_eq!(s.clients[0].track.measured(ATTEMPTS), attempts);
            proptest::prop_assert_eq!(s.services[0].measured(OFFERED), offered);
            proptest::prop_assert_eq!(s.calls[0][0].measured(ATTEMPTS), attempts);
        }
    }

    #[test]
    fn levels_split_across_windows() {
        // Window 10 ns: level 2 from 5 to 25, then 0; the run ends at 40.
        let mut s = SeriesSet::new(10, SimTime(40), SimTime::ZERO, 1, &[]);
        s.client_in_flight(0, 2, SimTime(5));
        s.client_in_flight(0, 0, SimTime(25));
        s.finish(SimTime(40));
        let l = &s.clients[0].in_flight;
        let means: Vec<f64> = (0..4).map(|i| l.mean(0, i, 10)).collect();
        assert_eq!(means, vec![1.0, 2.0, 1.0, 0.0]);
    }

    #[test]
    fn window_percentiles_are_per_window() {
        let mut s = SeriesSet::new(1_000, SimTime(3_000), SimTime::ZERO, 1, &[]);
        s.advance(SimTime(500));
        for i in 1..=100u64 {
            s.client_done(0, Outcome::Ok, i * 10_000, 0, SimTime(500));
        }
        s.advance(SimTime(2_500));
        s.client_done(0, Outcome::Ok, 7_000, 0, SimTime(2_500));
        s.advance(SimTime(2_600));
        s.client_done(0, Outcome::Timeout, 0, 0, SimTime(2_600));
        s.finish(SimTime(3_000));
        let c = &s.clients[0].track;
        // 2 significant figures: within 1%.
        let near = |got: u64, want: f64| (got as f64 - want).abs() <= want / 100.0;
        assert!(near(c.p50_ns[0], 500_000.0), "{}", c.p50_ns[0]);
        assert!(near(c.p99_ns[0], 990_000.0), "{}", c.p99_ns[0]);
        assert!(near(c.p999_ns[0], 1_000_000.0), "{}", c.p999_ns[0]);
        assert_eq!(c.p50_ns[1], 0, "no request finished in window 1");
        assert_eq!(c.p50_ns[2], 7_000);
        assert_eq!(c.outcomes[Outcome::Ok.index()], vec![100, 0, 1]);
        assert_eq!(c.outcomes[Outcome::Timeout.index()], vec![0, 0, 1]);
    }

    #[test]
    fn long_runs_get_wider_windows() {
        let s = SeriesSet::new(
            1_000_000_000,
            SimTime(1_000_000 * 1_000_000_000),
            SimTime::ZERO,
            1,
            &[0],
        );
        assert!(s.windows as u64 <= MAX_SERIES_WINDOWS);
        assert_eq!(s.window_ns, 500 * 1_000_000_000);
    }

    /// Windows for (clients, services each with one call edge, run length in seconds), with
    /// 1 s windows asked for: (windows kept, window width in milliseconds).
    fn windows_for(clients: usize, services: usize, run_s: u64) -> (usize, u64) {
        let s = SeriesSet::new(
            1_000_000_000,
            SimTime(run_s * 1_000_000_000),
            SimTime::ZERO,
            clients,
            &vec![1; services],
        );
        (s.windows, s.window_ns / 1_000_000)
    }

    #[test]
    fn many_series_get_wider_windows() {
        // Expected by hand: series = clients + 2 x services; windows at most
        // 500,000 / series (at least 20, at most 2,000), as wide as the run needs for that.
        let cases = [
            // 21 series: the 2,000-window bound, 1.8 s windows for an hour.
            ((1, 10, 3_600), (2_000, 1_800)),
            // 500 series: 1,000 windows of 4 s.
            ((0, 250, 4_000), (1_000, 4_000)),
            // 2,001 series: 249 windows (249.9 fit) of 2,000 s / 249 = 8.032 s.
            ((1, 1_000, 2_000), (249, 8_032)),
            // 20,001 series (a chain of 10,000): 24 windows of 150 s.
            ((1, 10_000, 3_600), (24, 150_000)),
            // 40,001 series: 12 fit, the floor keeps 20, of 180 s.
            ((1, 20_000, 3_600), (20, 180_000)),
            // A run of 10 s keeps its 1 s windows whatever the model.
            ((1, 10_000, 10), (10, 1_000)),
        ];
        for ((clients, services, run_s), want) in cases {
            let got = windows_for(clients, services, run_s);
            assert_eq!(
                got, want,
                "{clients} clients, {services} services, {run_s} s"
            );
            let series = (clients + 2 * services) as u64;
            assert!(
                got.0 as u64 * series <= MAX_SERIES_CELLS.max(MIN_SERIES_WINDOWS * series),
                "{got:?}"
            );
        }
    }
}
