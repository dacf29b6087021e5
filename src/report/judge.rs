//! Judging windows: for the clients (end to end) and each service, in each window, which
//! signals are active (an SLO breach: errors, starvation, a latency SLO, no progress; a
//! degradation against the entity's own pre-fault baseline: latency, saturation, turned-away
//! and late work, unreachable replicas, pools, breakers, cache misses), and from them whether
//! the window breached and whether it degraded. The rules are docs/analysis.md's, one for one.
//!
//! It reads a [`Frame`] and knows the call graph only as names; it does not know triggers
//! beyond when the first one started (degradation is judged from then on), and it tells no
//! story: `cascade.rs` does.

use super::frame::{col, EntitySeries, Frame, Kind};
use std::collections::BTreeMap;

/// Fewer requests than this in a window is too few to judge its error rate or its p99.
pub const MIN_REQUESTS: f64 = 5.0;
/// Relative rules need at least this many baseline windows.
pub const MIN_BASELINE_WINDOWS: usize = 5;
/// Utilisation at or above this is saturated ...
pub const SATURATED: f64 = 0.95;
/// ... when the baseline's was below this.
pub const BASELINE_UNSATURATED: f64 = 0.8;

/// One reason a window is bad. The order is the order causes are named in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Signal {
    Unreachable,
    ReplicasDown,
    NoProgress,
    Errors,
    QueueFull,
    WorkersSaturated,
    PoolExhausted,
    BreakerOpen,
    CacheMisses,
    Shed,
    Starved,
    LatencySlo,
    Latency,
    LateAnswers,
}

impl Signal {
    pub const ALL: [Signal; 14] = [
        Signal::Unreachable,
        Signal::ReplicasDown,
        Signal::NoProgress,
        Signal::Errors,
        Signal::QueueFull,
        Signal::WorkersSaturated,
        Signal::PoolExhausted,
        Signal::BreakerOpen,
        Signal::CacheMisses,
        Signal::Shed,
        Signal::Starved,
        Signal::LatencySlo,
        Signal::Latency,
        Signal::LateAnswers,
    ];

    /// The name used in the narrative, `summary.json` and the docs.
    pub fn name(self) -> &'static str {
        match self {
            Signal::Unreachable => "unreachable",
            Signal::ReplicasDown => "replicas_down",
            Signal::NoProgress => "no_progress",
            Signal::Errors => "errors",
            Signal::QueueFull => "queue_full",
            Signal::WorkersSaturated => "workers_saturated",
            Signal::PoolExhausted => "pool_exhausted",
            Signal::BreakerOpen => "breaker_open",
            Signal::CacheMisses => "cache_misses",
            Signal::Shed => "shed",
            Signal::Starved => "starved",
            Signal::LatencySlo => "latency_slo",
            Signal::Latency => "latency",
            Signal::LateAnswers => "late_answers",
        }
    }

    /// Does this signal break the SLO (rather than only degrade)?
    pub fn breaches(self) -> bool {
        matches!(
            self,
            Signal::Errors | Signal::Starved | Signal::LatencySlo | Signal::NoProgress
        )
    }

    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// The signals active in one window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Signals(u16);

impl Signals {
    pub fn has(self, s: Signal) -> bool {
        self.0 & s.bit() != 0
    }
    pub fn set(&mut self, s: Signal) {
        self.0 |= s.bit();
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub fn union(self, o: Signals) -> Signals {
        Signals(self.0 | o.0)
    }
    pub fn breach(self) -> bool {
        Signal::ALL.iter().any(|&s| s.breaches() && self.has(s))
    }
    /// The active signals, in naming order.
    pub fn list(self) -> Vec<Signal> {
        Signal::ALL
            .iter()
            .copied()
            .filter(|&s| self.has(s))
            .collect()
    }
}

/// Is count (or level) `x` elevated over a baseline mean `m`? Above three standard deviations
/// of a Poisson count, at least double, and at least 2.
pub fn elevated(x: f64, m: f64) -> bool {
    let m = if m.is_finite() { m.max(0.0) } else { 0.0 };
    x > (2.0 * m).max(m + 3.0 * m.sqrt()) + 1.0
}

/// What an entity normally looks like: its judged windows before the first trigger.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Baseline {
    pub windows: usize,
    /// Median and largest window p99 (ms) over windows with enough `ok` requests; NaN: none.
    pub p99_median_ms: f64,
    pub p99_max_ms: f64,
    /// The largest of the baseline's median p99, Little's law's mean time in the system, and
    /// the median window p99 of the whole run, in seconds: how long requests normally take.
    pub typical_latency_s: f64,
    pub in_flight: f64,
    /// The largest `in_flight` of a baseline window: how high it goes in normal running.
    pub in_flight_max: f64,
    pub utilisation: f64,
    pub healthy: f64,
    pub queue_full: f64,
    pub shed: f64,
    pub late: f64,
    pub refused: f64,
    pub pool_waits: f64,
    pub breakers_open: f64,
    /// Offered (arriving) requests per second.
    pub offered_per_s: f64,
    /// Finished requests per second.
    pub finished_per_s: f64,
}

impl Baseline {
    /// Enough windows for the relative rules.
    pub fn usable(&self) -> bool {
        self.windows >= MIN_BASELINE_WINDOWS
    }

    /// Is a backlog of `in_flight` near the baseline: no higher than its worst baseline window,
    /// or not elevated over its mean?
    pub fn backlog_near(&self, in_flight: f64) -> bool {
        !in_flight.is_finite()
            || in_flight <= self.in_flight_max
            || !elevated(in_flight, self.in_flight)
    }
}

/// The clients together (`clients`) or one service, judged window by window.
#[derive(Clone, Debug, PartialEq)]
pub struct Judged {
    pub name: String,
    /// True for the clients' row (end to end).
    pub clients: bool,
    /// Distance from the clients in the call graph (clients 0, entry services 1, ...).
    pub depth: usize,
    pub baseline: Baseline,
    /// Per window: the active signals (empty for windows not judged).
    pub signals: Vec<Signals>,
    /// Per window, bridged over one-window gaps: the SLO does not hold; it degraded.
    pub breach: Vec<bool>,
    pub degraded: Vec<bool>,
}

/// What the judge needs to know of the system, by name.
#[derive(Clone, Debug, PartialEq)]
pub struct Graph {
    /// Services in scenario order.
    pub services: Vec<Node>,
    /// Every call edge.
    pub calls: Vec<CallEdge>,
    /// Each client and the entry service it sends to.
    pub clients: Vec<(String, String)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub name: String,
    /// The longest distance from the clients (entry services 1).
    pub depth: usize,
    /// Services it calls, without repeats.
    pub callees: Vec<String>,
    /// Its service times stretch with the requests computing beside it (`contention`).
    pub contended: bool,
    /// It models garbage collection (`gc`).
    pub collects_garbage: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct CallEdge {
    /// `caller -> callee`, the frame's name for its rows.
    pub name: String,
    pub caller: String,
    pub callee: String,
    pub cached: bool,
}

impl Graph {
    pub fn depth(&self, service: &str) -> usize {
        self.services
            .iter()
            .find(|s| s.name == service)
            .map_or(0, |s| s.depth)
    }
    pub fn callees(&self, service: &str) -> &[String] {
        self.services
            .iter()
            .find(|s| s.name == service)
            .map_or(&[], |s| &s.callees)
    }
}

/// The SLO's figures the judge applies.
#[derive(Clone, Debug, PartialEq)]
pub struct Slo {
    /// Clients end to end: the share of finished requests that must be `ok` or `degraded`.
    pub availability: f64,
    /// Services: the largest acceptable failed share.
    pub service_error_rate: f64,
    /// The largest acceptable p99 (ms), if the SLO sets one.
    pub latency_p99_ms: Option<f64>,
    /// Windows before this are not judged (the warm-up).
    pub from_s: f64,
}

/// Is window `i` judged? After the warm-up, and at least half a window long.
pub fn judged(frame: &Frame, slo: &Slo, i: usize) -> bool {
    frame.t(i) >= slo.from_s - 1e-9 && frame.width(i) >= frame.window_s / 2.0
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let (mut s, mut n) = (0.0, 0.0);
    for x in v.filter(|x| x.is_finite()) {
        s += x;
        n += 1.0;
    }
    if n > 0.0 {
        s / n
    } else {
        0.0
    }
}

/// A per-window series of an entity's call edges, summed (NaN cells count as 0).
fn calls_sum(frame: &Frame, edges: &[&CallEdge], c: usize, i: usize) -> f64 {
    edges
        .iter()
        .filter_map(|e| frame.get(Kind::Call, &e.name))
        .map(|e| e.rows[i][c])
        .filter(|v| v.is_finite())
        .sum()
}

/// A connection pool on a call into `service` had attempts waiting in at least 90% of the
/// windows `rows`: its callers, not its workers, bound how much it is given at once.
pub fn pool_bound(frame: &Frame, graph: &Graph, service: &str, rows: &[usize]) -> bool {
    graph
        .calls
        .iter()
        .filter(|c| c.callee == service)
        .filter_map(|c| frame.get(Kind::Call, &c.name))
        .any(|c| {
            let waiting = rows
                .iter()
                .filter(|&&i| c.rows[i][col::POOL_WAITS] > 0.0)
                .count();
            waiting as f64 >= 0.9 * rows.len() as f64
        })
}

/// The cache hit ratio of window `i` over cached calls `edges` (NaN: no lookups).
fn hit_ratio(frame: &Frame, edges: &[&CallEdge], i: usize) -> f64 {
    let (mut hits, mut lookups) = (0.0, 0.0);
    for e in edges.iter().filter(|e| e.cached) {
        if let Some(s) = frame.get(Kind::Call, &e.name) {
            let r = &s.rows[i];
            let calls = r[col::CALLS];
            if r[col::CACHE_HIT_RATIO].is_finite() && calls.is_finite() {
                hits += r[col::CACHE_HIT_RATIO] * calls;
                lookups += calls;
            }
        }
    }
    if lookups > 0.0 {
        hits / lookups
    } else {
        f64::NAN
    }
}

/// Judges every window of the clients and of every service. `first_trigger_s` is when the
/// first trigger started (None: no trigger; nothing is judged against a baseline then). The
/// baseline ends at the first trigger's window, or earlier at the first window in which
/// anything breached its SLO (a system that broke on its own before any trigger is not
/// "normal"); that window is returned with the judgement: degradation is judged from it on.
pub fn judge(
    frame: &Frame,
    graph: &Graph,
    slo: &Slo,
    first_trigger_s: Option<f64>,
) -> (Vec<Judged>, Option<usize>) {
    let w = frame.window_s;
    let trigger_window = first_trigger_s.map(|t| ((t / w) + 1e-9).floor().max(0.0) as usize);
    let edges = Edges::of(graph);
    let all = |from: Option<usize>| {
        let mut out = vec![judge_one(frame, &edges, slo, from, None)];
        for s in &graph.services {
            if frame.get(Kind::Service, &s.name).is_some() {
                out.push(judge_one(frame, &edges, slo, from, Some(s)));
            }
        }
        out
    };
    let judged = all(trigger_window);
    let Some(t) = trigger_window else {
        return (judged, None);
    };
    let first_breach = judged
        .iter()
        .filter_map(|j| j.signals.iter().position(|s| s.breach()))
        .min();
    match first_breach {
        Some(b) if b < t => (all(Some(b)), Some(b)),
        _ => (judged, Some(t)),
    }
}

/// Each entity's call edges by name, in the graph's order: its calls out, and the cached calls
/// into it (found once, not by a scan of every edge per service).
struct Edges<'a> {
    outgoing: BTreeMap<&'a str, Vec<&'a CallEdge>>,
    cached_in: BTreeMap<&'a str, Vec<&'a CallEdge>>,
}

impl<'a> Edges<'a> {
    fn of(graph: &'a Graph) -> Self {
        let mut e = Edges {
            outgoing: BTreeMap::new(),
            cached_in: BTreeMap::new(),
        };
        for c in &graph.calls {
            e.outgoing.entry(c.caller.as_str()).or_default().push(c);
            if c.cached {
                e.cached_in.entry(c.callee.as_str()).or_default().push(c);
            }
        }
        e
    }
}

fn judge_one(
    frame: &Frame,
    edges: &Edges,
    slo: &Slo,
    relative_from: Option<usize>,
    service: Option<&Node>,
) -> Judged {
    let n = frame.windows();
    let w = frame.window_s;
    let e: &EntitySeries = match service {
        Some(s) => frame
            .get(Kind::Service, &s.name)
            .expect("checked by the caller"),
        None => frame.system(),
    };
    let name = service.map_or("clients".to_string(), |s| s.name.clone());
    let outgoing: &[&CallEdge] = edges.outgoing.get(name.as_str()).map_or(&[], Vec::as_slice);
    let incoming: &[&CallEdge] = edges
        .cached_in
        .get(name.as_str())
        .map_or(&[], Vec::as_slice);
    let max_err = match service {
        Some(_) => slo.service_error_rate,
        None => 1.0 - slo.availability,
    };
    let is_judged = |i: usize| judged(frame, slo, i);

    // The baseline: judged windows before the first trigger's window.
    let base_end = relative_from.unwrap_or(n).min(n);
    let base: Vec<usize> = (0..base_end).filter(|&i| is_judged(i)).collect();
    let r = |i: usize| &e.rows[i];
    let p99s: Vec<f64> = base
        .iter()
        .filter(|&&i| r(i)[col::OK] >= MIN_REQUESTS && r(i)[col::P99].is_finite())
        .map(|&i| r(i)[col::P99])
        .collect();
    let finished_per_s = mean(base.iter().map(|&i| e.finished(i) / frame.width(i)));
    let in_flight = mean(base.iter().map(|&i| r(i)[col::IN_FLIGHT]));
    let p99_median_ms = median(p99s.clone());
    let little_s = if finished_per_s > 0.0 {
        in_flight / finished_per_s
    } else {
        0.0
    };
    // Over the whole run too: a service whose requests take long by design (a long poll) shows
    // it even when its baseline finished nothing.
    let run_p99_ms = median(
        (0..n)
            .filter(|&i| {
                is_judged(i) && r(i)[col::OK] >= MIN_REQUESTS && r(i)[col::P99].is_finite()
            })
            .map(|i| r(i)[col::P99])
            .collect(),
    );
    let baseline = Baseline {
        windows: base.len(),
        p99_max_ms: p99s.iter().copied().fold(f64::NAN, f64::max),
        typical_latency_s: [little_s, p99_median_ms / 1e3, run_p99_ms / 1e3]
            .into_iter()
            .filter(|v| v.is_finite())
            .fold(0.0, f64::max),
        p99_median_ms,
        in_flight,
        in_flight_max: base
            .iter()
            .map(|&i| r(i)[col::IN_FLIGHT])
            .filter(|v| v.is_finite())
            .fold(0.0, f64::max),
        utilisation: mean(base.iter().map(|&i| r(i)[col::UTILISATION])),
        healthy: mean(base.iter().map(|&i| r(i)[col::HEALTHY])),
        queue_full: mean(base.iter().map(|&i| r(i)[col::QUEUE_FULL])),
        shed: mean(base.iter().map(|&i| r(i)[col::SHED])),
        late: mean(base.iter().map(|&i| r(i)[col::LATE])),
        refused: mean(
            base.iter()
                .map(|&i| r(i)[col::OUTCOMES + crate::model::Outcome::Refused.index()]),
        ),
        pool_waits: mean(
            base.iter()
                .map(|&i| calls_sum(frame, outgoing, col::POOL_WAITS, i)),
        ),
        breakers_open: mean(
            base.iter()
                .map(|&i| calls_sum(frame, outgoing, col::BREAKERS_OPEN, i)),
        ),
        offered_per_s: mean(base.iter().map(|&i| r(i)[col::OFFERED] / frame.width(i))),
        finished_per_s,
    };
    let base_hit = mean(base.iter().map(|&i| hit_ratio(frame, incoming, i)));

    let short_requests = baseline.typical_latency_s < w;
    let mut signals = vec![Signals::default(); n];
    for (i, sig) in signals.iter_mut().enumerate() {
        if !is_judged(i) {
            continue;
        }
        let row = r(i);
        let finished = e.finished(i);
        let good = row[col::OK] + row[col::DEGRADED];
        if finished >= MIN_REQUESTS && 1.0 - good / finished > max_err + 1e-12 {
            sig.set(Signal::Errors);
        }
        // Too few finished for a share to mean much, but requests were offered and so many of
        // the few failed that an error rate within the SLO would make it a 1-in-100 event.
        if (1.0..MIN_REQUESTS).contains(&finished)
            && row[col::OFFERED] >= MIN_REQUESTS
            && binomial_tail(finished as u64, (finished - good).round() as u64, max_err) < 0.01
        {
            sig.set(Signal::Errors);
        }
        // Most of what was offered did not come back good: not the lag of a queue forming
        // (latency shows that), but work going unanswered.
        // Only where requests normally finish within a window: where they take longer by design
        // (long polls), a window's completions say nothing of its arrivals.
        let offered = row[col::OFFERED];
        if short_requests
            && offered >= MIN_REQUESTS
            && good < 0.5 * (1.0 - max_err) * offered - 3.0 * offered.sqrt()
        {
            sig.set(Signal::Starved);
        }
        if let Some(l) = slo.latency_p99_ms {
            if row[col::OK] >= MIN_REQUESTS && row[col::P99] > l {
                sig.set(Signal::LatencySlo);
            }
        }
        if relative_from.is_none_or(|f| i < f) || !baseline.usable() {
            continue;
        }
        let b = &baseline;
        if row[col::OK] >= MIN_REQUESTS
            && b.p99_median_ms.is_finite()
            && row[col::P99] > (3.0 * b.p99_median_ms).max(1.5 * b.p99_max_ms)
        {
            sig.set(Signal::Latency);
        }
        if service.is_none() {
            continue;
        }
        if row[col::UTILISATION] >= SATURATED && b.utilisation < BASELINE_UNSATURATED {
            sig.set(Signal::WorkersSaturated);
        }
        // Counts grow with the traffic that makes them: against a baseline mean of a few late
        // answers a window, a load surge alone doubles them with nothing wrong. So the mean is
        // taken at this window's load when that is above the baseline's (never below: less
        // traffic does not make fewer events suspicious).
        let load = row[col::OFFERED] / frame.width(i) / b.offered_per_s;
        let at_load = if load.is_finite() { load.max(1.0) } else { 1.0 };
        for (s, x, m) in [
            (Signal::QueueFull, row[col::QUEUE_FULL], b.queue_full),
            (Signal::Shed, row[col::SHED], b.shed),
            (Signal::LateAnswers, row[col::LATE], b.late),
            (
                Signal::Unreachable,
                row[col::OUTCOMES + crate::model::Outcome::Refused.index()],
                b.refused,
            ),
            (
                Signal::PoolExhausted,
                calls_sum(frame, outgoing, col::POOL_WAITS, i),
                b.pool_waits,
            ),
        ] {
            if x.is_finite() && elevated(x, m * at_load) {
                sig.set(s);
            }
        }
        if row[col::HEALTHY].is_finite() && row[col::HEALTHY] <= b.healthy - 1.0 + 1e-9 {
            sig.set(Signal::ReplicasDown);
        }
        if b.breakers_open == 0.0 && calls_sum(frame, outgoing, col::BREAKERS_OPEN, i) > 0.0 {
            sig.set(Signal::BreakerOpen);
        }
        let hit = hit_ratio(frame, incoming, i);
        if hit.is_finite() && base_hit.is_finite() && hit < base_hit - 0.1 {
            sig.set(Signal::CacheMisses);
        }
    }
    no_progress(frame, e, &baseline, slo, &mut signals);

    let breach = bridge(signals.iter().map(|s| s.breach()).collect());
    let degraded = bridge(signals.iter().map(|s| !s.is_empty()).collect());
    Judged {
        name,
        clients: service.is_none(),
        depth: service.map_or(0, |s| s.depth),
        baseline,
        signals,
        breach,
        degraded,
    }
}

/// Marks `no_progress` on stretches of judged windows in which nothing finished while work
/// was outstanding, lasting at least three windows and three times the typical latency.
fn no_progress(frame: &Frame, e: &EntitySeries, b: &Baseline, slo: &Slo, sig: &mut [Signals]) {
    let n = sig.len();
    let need_s = (3.0 * frame.window_s).max(3.0 * b.typical_latency_s);
    let stalled = |i: usize| {
        judged(frame, slo, i) && e.finished(i) == 0.0 && e.rows[i][col::IN_FLIGHT] >= 1.0
    };
    let mut i = 0;
    while i < n {
        if !stalled(i) {
            i += 1;
            continue;
        }
        let start = i;
        while i < n && stalled(i) {
            i += 1;
        }
        let span_s: f64 = (start..i).map(|k| frame.width(k)).sum();
        if i - start >= 3 && span_s >= need_s - 1e-9 {
            for s in &mut sig[start..i] {
                s.set(Signal::NoProgress);
            }
        }
    }
}

/// P(X >= k) for X ~ Binomial(n, p): how surprising `k` failures of `n` are at failure rate
/// `p`.
pub fn binomial_tail(n: u64, k: u64, p: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    let p = p.clamp(0.0, 1.0);
    let mut total = 0.0;
    let mut choose = 1.0; // C(n, x), built up from C(n, 0)
    for x in 0..=n {
        if x > 0 {
            choose *= (n - x + 1) as f64 / x as f64;
        }
        if x >= k {
            total += choose * libm::pow(p, x as f64) * libm::pow(1.0 - p, (n - x) as f64);
        }
    }
    total.min(1.0)
}

/// Bridges one-window gaps: a breach that flickers is one breach.
pub fn bridge(mut f: Vec<bool>) -> Vec<bool> {
    for i in 1..f.len().saturating_sub(1) {
        if !f[i] && f[i - 1] && f[i + 1] {
            f[i] = true;
        }
    }
    f
}
