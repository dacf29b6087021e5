//! The time-series table of a run: one row per window and entity (the whole system, each
//! client, each service, each call edge), with the same columns for all, empty where a column
//! does not apply. It is what `timeseries.csv` holds, what the plots and the cascade analysis
//! read, and what `faultline report DIR` reads back.
//!
//! It is built from the recorder's windowed series plus the summary's logs (health changes,
//! breaker transitions), so it knows nothing the run did not record.

use crate::metrics::{SeriesSet, Summary, Track, ACCEPTING, BUSY, CAPACITY, QUEUED};
use crate::model::{Load, SystemSpec, OUTCOMES};
use crate::policy::breaker::BreakerState;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The columns, in CSV order. What each one means is in docs/analysis.md.
pub const COLUMNS: [&str; 30] = [
    "offered",
    "attempts",
    "ok",
    "degraded",
    "timeout",
    "rejected",
    "refused",
    "overloaded",
    "dropped",
    "error",
    "goodput_per_s",
    "error_rate",
    "p50_ms",
    "p99_ms",
    "p999_ms",
    "in_flight",
    "queue",
    "utilisation",
    "healthy_replicas",
    "breakers_open",
    "retry_amplification",
    "calls",
    "capacity",
    "queue_fill",
    "queue_full",
    "shed",
    "late",
    "wasted_s",
    "pool_waits",
    "cache_hit_ratio",
];

/// Column indices, by name.
pub mod col {
    pub const OFFERED: usize = 0;
    pub const ATTEMPTS: usize = 1;
    /// The eight outcome counts start here, in [`crate::model::OUTCOMES`] order.
    pub const OUTCOMES: usize = 2;
    pub const OK: usize = 2;
    pub const DEGRADED: usize = 3;
    /// Answered `overloaded` (turned away: queue full, shed, dropped by CoDel).
    pub const OVERLOADED: usize = 7;
    pub const GOODPUT: usize = 10;
    pub const ERROR_RATE: usize = 11;
    pub const P50: usize = 12;
    pub const P99: usize = 13;
    pub const P999: usize = 14;
    pub const IN_FLIGHT: usize = 15;
    pub const QUEUE: usize = 16;
    pub const UTILISATION: usize = 17;
    pub const HEALTHY: usize = 18;
    pub const BREAKERS_OPEN: usize = 19;
    pub const AMPLIFICATION: usize = 20;
    /// Call edges: calls started (attempts per call = attempts / calls).
    pub const CALLS: usize = 21;
    /// Services: workers able to take a request (time-average over the window).
    pub const CAPACITY: usize = 22;
    /// Services: queued requests over the queue room of the replicas accepting requests.
    pub const QUEUE_FILL: usize = 23;
    /// Services: requests turned away with every worker busy and the queue full.
    pub const QUEUE_FULL: usize = 24;
    /// Services: requests shed by admission control or dropped past their deadline.
    pub const SHED: usize = 25;
    /// Services: answers that reached a caller who had stopped waiting, and the worker
    /// seconds they held.
    pub const LATE: usize = 26;
    pub const WASTED_S: usize = 27;
    /// Call edges: attempts that waited for a pooled connection.
    pub const POOL_WAITS: usize = 28;
    /// Call edges with a cache: hits over lookups.
    pub const CACHE_HIT_RATIO: usize = 29;
}

pub type Row = [f64; COLUMNS.len()];

/// What a row describes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    /// All clients together, end to end.
    System,
    Client,
    Service,
    Call,
}

impl Kind {
    pub fn name(self) -> &'static str {
        match self {
            Kind::System => "system",
            Kind::Client => "client",
            Kind::Service => "service",
            Kind::Call => "call",
        }
    }
    fn parse(s: &str) -> Option<Kind> {
        Some(match s {
            "system" => Kind::System,
            "client" => Kind::Client,
            "service" => Kind::Service,
            "call" => Kind::Call,
            _ => return None,
        })
    }
}

/// One entity's rows, one per window (NaN where a value does not apply or is unknown).
#[derive(Clone, Debug, PartialEq)]
pub struct EntitySeries {
    pub kind: Kind,
    pub name: String,
    pub rows: Vec<Row>,
}

impl EntitySeries {
    pub fn column(&self, c: usize) -> impl Iterator<Item = f64> + '_ {
        self.rows.iter().map(move |r| r[c])
    }
    /// Requests finished in window `i`.
    pub fn finished(&self, i: usize) -> f64 {
        self.rows[i][col::OUTCOMES..col::OUTCOMES + 8].iter().sum()
    }
}

/// A run's time series.
#[derive(Clone, Debug, PartialEq)]
pub struct Frame {
    pub window_s: f64,
    /// The end of the measured run (the last window may be partial).
    pub end_s: f64,
    pub entities: Vec<EntitySeries>,
    /// Where each (kind, name) sits in `entities`, made at the first lookup: analyses look
    /// entities up by name for every service and call, which a scan makes quadratic in a model
    /// of thousands of services.
    pub index: NameIndex,
}

/// A [`Frame`]'s lookup table: the entities' positions by (kind, name), and how many entities
/// there were when it was made (an entity added later is found by a scan). Not part of the
/// frame's value: frames compare equal and clone without it.
#[derive(Default)]
pub struct NameIndex(std::sync::OnceLock<(usize, Positions)>);

/// Entities' positions by name, one map per [`Kind`], so a lookup by `&str` allocates nothing.
#[derive(Default)]
struct Positions([BTreeMap<String, usize>; 4]);

impl Positions {
    /// Which map holds `kind` (a new kind fails to compile here until it has one).
    fn slot(kind: Kind) -> usize {
        match kind {
            Kind::System => 0,
            Kind::Client => 1,
            Kind::Service => 2,
            Kind::Call => 3,
        }
    }
    /// Notes entity `i` under its kind and name, unless an earlier one has them (the first of
    /// a repeated name wins, as a scan would find it).
    fn note(&mut self, kind: Kind, name: &str, i: usize) {
        self.0[Self::slot(kind)]
            .entry(name.to_string())
            .or_insert(i);
    }
    fn get(&self, kind: Kind, name: &str) -> Option<usize> {
        self.0[Self::slot(kind)].get(name).copied()
    }
}

impl Clone for NameIndex {
    fn clone(&self) -> Self {
        NameIndex::default()
    }
}
impl PartialEq for NameIndex {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}
impl std::fmt::Debug for NameIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("NameIndex")
    }
}

impl Frame {
    pub fn windows(&self) -> usize {
        self.entities.first().map_or(0, |e| e.rows.len())
    }
    pub fn get(&self, kind: Kind, name: &str) -> Option<&EntitySeries> {
        let (len, index) = self.index.0.get_or_init(|| {
            let mut m = Positions::default();
            for (i, e) in self.entities.iter().enumerate() {
                m.note(e.kind, &e.name, i);
            }
            (self.entities.len(), m)
        });
        if *len == self.entities.len() {
            return self.entities.get(index.get(kind, name)?);
        }
        self.entities
            .iter()
            .find(|e| e.kind == kind && e.name == name)
    }
    pub fn system(&self) -> &EntitySeries {
        self.get(Kind::System, "all")
            .expect("every frame has a system row")
    }
    /// Start of window `i`, in seconds.
    pub fn t(&self, i: usize) -> f64 {
        i as f64 * self.window_s
    }
    /// The length of window `i` in seconds (the last one may be cut by the end of the run).
    pub fn width(&self, i: usize) -> f64 {
        (self.end_s - self.t(i)).clamp(0.0, self.window_s)
    }

    /// Builds the frame of a finished run.
    pub fn build(series: &SeriesSet, spec: &SystemSpec, summary: &Summary) -> Frame {
        let window_ns = series.window_ns;
        let window_s = window_ns as f64 / 1e9;
        let end_s = summary.measured_to_s;
        let n = (((end_s * 1e9) as u64).div_ceil(window_ns) as usize).clamp(1, series.windows);
        let width = |i: usize| (end_s - i as f64 * window_s).clamp(0.0, window_s);
        let mut entities = Vec::new();

        let counts = |t: &Track, row: &mut Row, i: usize| {
            row[col::OFFERED] = t.offered[i] as f64;
            row[col::ATTEMPTS] = t.attempts[i] as f64;
            for o in OUTCOMES {
                row[col::OUTCOMES + o.index()] = t.outcomes[o.index()][i] as f64;
            }
            rates(row, width(i));
            for (c, v) in [
                (col::P50, t.p50_ns[i]),
                (col::P99, t.p99_ns[i]),
                (col::P999, t.p999_ns[i]),
            ] {
                row[c] = if v > 0 { v as f64 / 1e6 } else { f64::NAN };
            }
        };

        // Clients, and all of them together.
        let mut system = vec![[f64::NAN; COLUMNS.len()]; n];
        for r in system.iter_mut() {
            r[..col::OUTCOMES + 8].fill(0.0);
            r[col::IN_FLIGHT] = 0.0;
        }
        let mut client_offered = vec![0.0; n];
        for (ci, c) in spec.clients.iter().enumerate() {
            let t = &series.clients[ci].track;
            let edge = format!("client:{}", c.name);
            let open = breakers_open(summary, &edge, n, window_s, end_s);
            let rows: Vec<Row> = (0..n)
                .map(|i| {
                    let mut row = [f64::NAN; COLUMNS.len()];
                    counts(t, &mut row, i);
                    // A partial last window's mean is over its own length.
                    row[col::IN_FLIGHT] = series.clients[ci].in_flight.mean(0, i, window_ns)
                        * (window_s / width(i).max(1e-12));
                    row[col::AMPLIFICATION] = ratio(row[col::ATTEMPTS], row[col::OFFERED]);
                    row[col::BREAKERS_OPEN] = open[i];
                    client_offered[i] += row[col::OFFERED];
                    for k in 0..col::OUTCOMES + 8 {
                        system[i][k] += row[k];
                    }
                    system[i][col::IN_FLIGHT] += row[col::IN_FLIGHT];
                    row
                })
                .collect();
            entities.push(EntitySeries {
                kind: Kind::Client,
                name: c.name.clone(),
                rows,
            });
        }
        // The system row's percentiles are the worst client's: each client's window
        // histogram is read on its own, and merging percentiles is not meaningful.
        for (i, r) in system.iter_mut().enumerate() {
            rates(r, width(i));
            r[col::AMPLIFICATION] = ratio(r[col::ATTEMPTS], r[col::OFFERED]);
            for c in [col::P50, col::P99, col::P999] {
                r[c] = entities
                    .iter()
                    .map(|e| e.rows[i][c])
                    .filter(|v| !v.is_nan())
                    .fold(f64::NAN, f64::max);
            }
        }
        entities.insert(
            0,
            EntitySeries {
                kind: Kind::System,
                name: "all".into(),
                rows: system,
            },
        );

        // Services, then their call edges.
        for (si, s) in spec.services.iter().enumerate() {
            let t = &series.services[si];
            let health = healthy_replicas(summary, &s.name, s.initial_replicas, n, window_s, end_s);
            let extra = &series.service_windows[si];
            let rows: Vec<Row> = (0..n)
                .map(|i| {
                    let mut row = [f64::NAN; COLUMNS.len()];
                    counts(t, &mut row, i);
                    row[col::ATTEMPTS] = f64::NAN;
                    let busy = series.load[si].levels.mean(BUSY, i, window_ns);
                    let queued = series.load[si].levels.mean(QUEUED, i, window_ns);
                    // Levels are integrated over the whole window; a partial last window's
                    // means are over its own length.
                    let part = window_s / width(i).max(1e-12);
                    let capacity = series.room[si].mean(CAPACITY, i, window_ns) * part;
                    let accepting = series.room[si].mean(ACCEPTING, i, window_ns) * part;
                    let (busy, queued) = (busy * part, queued * part);
                    row[col::QUEUE] = queued;
                    row[col::IN_FLIGHT] = busy + queued;
                    row[col::CAPACITY] = capacity;
                    // No worker able to work (every replica down or paused): undefined, not 100%.
                    row[col::UTILISATION] = if capacity > 1e-9 {
                        (busy / capacity).min(1.0)
                    } else {
                        f64::NAN
                    };
                    row[col::QUEUE_FILL] = ratio(queued, accepting * s.queue_capacity as f64);
                    row[col::QUEUE_FULL] = extra.queue_full[i] as f64;
                    row[col::SHED] = extra.shed[i] as f64;
                    row[col::LATE] = extra.late[i] as f64;
                    row[col::WASTED_S] = extra.wasted_ns[i] as f64 / 1e9;
                    row[col::HEALTHY] = health[i];
                    row[col::AMPLIFICATION] = ratio(row[col::OFFERED], client_offered[i]);
                    row
                })
                .collect();
            entities.push(EntitySeries {
                kind: Kind::Service,
                name: s.name.clone(),
                rows,
            });
        }
        for (si, s) in spec.services.iter().enumerate() {
            for ki in 0..s.calls.len() {
                let t = &series.calls[si][ki];
                let extra = &series.call_windows[si][ki];
                let name = spec.call_name(si, ki);
                let open = breakers_open(summary, &name, n, window_s, end_s);
                let cached = s.calls[ki].cache.is_some();
                let rows: Vec<Row> = (0..n)
                    .map(|i| {
                        let mut row = [f64::NAN; COLUMNS.len()];
                        counts(t, &mut row, i);
                        row[col::OFFERED] = f64::NAN;
                        row[col::CALLS] = extra.started[i] as f64;
                        row[col::AMPLIFICATION] = ratio(row[col::ATTEMPTS], row[col::CALLS]);
                        row[col::BREAKERS_OPEN] = open[i];
                        row[col::POOL_WAITS] = extra.pool_waits[i] as f64;
                        if cached {
                            let (h, m) = (extra.cache_hits[i] as f64, extra.cache_misses[i] as f64);
                            row[col::CACHE_HIT_RATIO] = ratio(h, h + m);
                        }
                        row
                    })
                    .collect();
                entities.push(EntitySeries {
                    kind: Kind::Call,
                    name,
                    rows,
                });
            }
        }
        Frame {
            window_s,
            end_s,
            entities,
            index: NameIndex::default(),
        }
    }

    /// The CSV text: `t_s,kind,name,<columns>`; empty cells where a value does not apply.
    /// `variant` (when given) becomes a leading column.
    pub fn to_csv(frames: &[(String, &Frame)]) -> String {
        let mut out = String::from("variant,t_s,window_s,kind,name");
        for c in COLUMNS {
            out.push(',');
            out.push_str(c);
        }
        out.push('\n');
        for (variant, f) in frames {
            for i in 0..f.windows() {
                for e in &f.entities {
                    let _ = write!(
                        out,
                        "{},{},{},{},{}",
                        csv_field(variant),
                        fmt_num(f.t(i)),
                        fmt_num(f.width(i)),
                        e.kind.name(),
                        csv_field(&e.name)
                    );
                    for v in e.rows[i] {
                        out.push(',');
                        if !v.is_nan() {
                            out.push_str(&fmt_num(v));
                        }
                    }
                    out.push('\n');
                }
            }
        }
        out
    }

    /// The frame as `timeseries.csv` gives it back (every value rounded as the file prints
    /// it): what `faultline report` reads, so analyses of the two agree to the last digit.
    pub fn canonical(frame: Frame) -> Frame {
        let text = Frame::to_csv(&[(String::new(), &frame)]);
        Frame::from_csv(&text)
            .ok()
            .and_then(|mut v| v.pop())
            .map(|(_, f)| f)
            .expect("a frame's own CSV reads back")
    }

    /// Reads what [`Frame::to_csv`] wrote: one frame per variant, in file order.
    pub fn from_csv(text: &str) -> Result<Vec<(String, Frame)>, String> {
        let mut lines = text.lines().enumerate();
        let header = lines.next().ok_or("the file is empty")?.1;
        let expected = Frame::to_csv(&[]);
        if header != expected.trim_end() {
            return Err(
                "line 1: the header is not the one faultline writes (was the file edited, or written by another version?)"
                    .into(),
            );
        }
        let mut frames: Vec<(String, Frame)> = Vec::new();
        // Per frame: where each (kind, name) went in its entities (then the frame's index).
        let mut at: Vec<Positions> = Vec::new();
        for (ln, line) in lines {
            let bad = |what: &str| format!("line {}: {what}", ln + 1);
            let cells = split_csv(line);
            if cells.len() != 5 + COLUMNS.len() {
                return Err(bad(&format!(
                    "expected {} cells, found {}",
                    5 + COLUMNS.len(),
                    cells.len()
                )));
            }
            let num = |s: &str| -> Result<f64, String> {
                if s.is_empty() {
                    Ok(f64::NAN)
                } else {
                    s.parse::<f64>()
                        .map_err(|_| bad(&format!("`{s}` is not a number")))
                }
            };
            let variant = cells[0].clone();
            let t = num(&cells[1])?;
            let width = num(&cells[2])?;
            let kind = Kind::parse(&cells[3]).ok_or_else(|| bad("unknown kind"))?;
            let mut row = [f64::NAN; COLUMNS.len()];
            for (k, c) in cells[5..].iter().enumerate() {
                row[k] = num(c)?;
            }
            if frames.last().is_none_or(|(v, _)| *v != variant) {
                frames.push((
                    variant.clone(),
                    Frame {
                        window_s: 0.0,
                        end_s: 0.0,
                        entities: Vec::new(),
                        index: NameIndex::default(),
                    },
                ));
                at.push(Positions::default());
            }
            let at = at.last_mut().expect("pushed with its frame");
            let f = &mut frames.last_mut().expect("pushed above").1;
            if t == 0.0 {
                f.window_s = width;
            }
            f.end_s = f.end_s.max(t + width);
            match at.get(kind, &cells[4]) {
                Some(i) => f.entities[i].rows.push(row),
                None => {
                    at.note(kind, &cells[4], f.entities.len());
                    f.entities.push(EntitySeries {
                        kind,
                        name: cells[4].clone(),
                        rows: vec![row],
                    })
                }
            }
        }
        // The maps made while reading are the frames' indexes.
        for ((_, f), m) in frames.iter_mut().zip(at) {
            f.index = NameIndex(std::sync::OnceLock::from((f.entities.len(), m)));
        }
        for (v, f) in &frames {
            let n = f.windows();
            if f.entities.iter().any(|e| e.rows.len() != n) || f.get(Kind::System, "all").is_none()
            {
                return Err(format!(
                    "variant `{v}`: the entities do not all have the same windows, or the system row is missing"
                ));
            }
        }
        Ok(frames)
    }
}

/// Goodput (per second of the window's `width_s`) and error rate from a row's outcome counts.
fn rates(row: &mut Row, width_s: f64) {
    let done: f64 = row[col::OUTCOMES..col::OUTCOMES + 8].iter().sum();
    let good = row[col::OK] + row[col::DEGRADED];
    row[col::GOODPUT] = if width_s > 0.0 {
        good / width_s
    } else {
        f64::NAN
    };
    row[col::ERROR_RATE] = if done > 0.0 {
        1.0 - good / done
    } else {
        f64::NAN
    };
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        f64::NAN
    }
}

fn window_end_s(i: usize, window_s: f64, end_s: f64) -> f64 {
    ((i + 1) as f64 * window_s).min(end_s)
}

/// Per window, the breaker instances on `edge` open at the window's end (from their transition
/// logs; NaN where the edge has no breaker). One pass over each log: a cursor per instance moves
/// forward as the window ends do.
fn breakers_open(summary: &Summary, edge: &str, n: usize, window_s: f64, end_s: f64) -> Vec<f64> {
    let logs: Vec<&[crate::metrics::TransitionSummary]> = summary
        .policies
        .iter()
        .filter(|p| {
            p.kind == "circuit_breaker"
                && (p.edge == edge
                    || p.edge
                        .strip_prefix(edge)
                        .is_some_and(|r| r.starts_with(" #")))
        })
        .map(|p| &p.transitions[..])
        .collect();
    if logs.is_empty() {
        return vec![f64::NAN; n];
    }
    let mut cursor = vec![0usize; logs.len()];
    (0..n)
        .map(|i| {
            let t_s = window_end_s(i, window_s, end_s);
            let mut open = 0u32;
            for (log, c) in logs.iter().zip(cursor.iter_mut()) {
                while *c < log.len() && log[*c].at_s < t_s {
                    *c += 1;
                }
                let state = if *c == 0 {
                    BreakerState::Closed
                } else {
                    log[*c - 1].to
                };
                open += (state == BreakerState::Open) as u32;
            }
            open as f64
        })
        .collect()
}

/// Replicas of `service` up and in load balancing at the end of each window, from the health
/// log (replicas past `initial` start out of the service, waiting for a Scale fault).
fn healthy_replicas(
    summary: &Summary,
    service: &str,
    initial: u32,
    n: usize,
    window_s: f64,
    end_s: f64,
) -> Vec<f64> {
    // Replicas the health log never mentions stayed as they started: the first `initial` up.
    let mut out = vec![initial as f64; n];
    for h in summary.health.iter().filter(|h| h.service == service) {
        let assumed = (h.replica < initial) as u32 as f64;
        // Reasons a replica is not serving; it is healthy when none holds.
        let (mut down, mut paused, mut out_of_lb, mut removed) =
            (false, false, false, h.replica >= initial);
        let mut changes = h.changes.iter().peekable();
        for (i, o) in out.iter_mut().enumerate() {
            let t = window_end_s(i, window_s, end_s);
            while let Some((at, what)) = changes.peek() {
                if *at >= t {
                    break;
                }
                match what.as_str() {
                    "down" | "oom_kill" | "liveness_kill" => down = true,
                    "up" => down = false,
                    "paused" => paused = true,
                    "resumed" => paused = false,
                    "unready" | "ejected" | "nginx_down" => out_of_lb = true,
                    "ready" | "returned" => out_of_lb = false,
                    "removed" => removed = true,
                    "added" => removed = false,
                    _ => {}
                }
                changes.next();
            }
            *o += (!(down || paused || out_of_lb || removed)) as u32 as f64 - assumed;
        }
    }
    out
}

/// Periods in which a client's open-loop rate is above its starting rate (load surges), as
/// `(client, label, start_s, end_s)`; an unfinished surge ends at `end_s`.
pub fn load_surges(spec: &SystemSpec, end_s: f64) -> Vec<(usize, String, f64, f64)> {
    let mut out = Vec::new();
    for (ci, c) in spec.clients.iter().enumerate() {
        if let Load::Open {
            rate_per_s, steps, ..
        } = &c.load
        {
            let mut start: Option<f64> = None;
            for s in steps {
                let t = s.at.0 as f64 / 1e9;
                match (start, s.rate_per_s > *rate_per_s) {
                    (None, true) => start = Some(t),
                    (Some(a), false) => {
                        out.push((ci, format!("{} load surge", c.name), a, t));
                        start = None;
                    }
                    _ => {}
                }
            }
            if let Some(a) = start {
                out.push((ci, format!("{} load surge", c.name), a, end_s));
            }
        }
    }
    out
}

/// Numbers as short as they can be without losing what they say.
pub fn fmt_num(v: f64) -> String {
    if v == v.trunc() && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        let s = format!("{v:.6}");
        let s = s.trim_end_matches('0');
        s.trim_end_matches('.').to_string()
    }
}

pub(crate) fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

pub(crate) fn split_csv(line: &str) -> Vec<String> {
    let mut cells = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut chars = line.chars().peekable();
    while let Some(ch) = chars.next() {
        match (ch, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                cur.push('"');
                chars.next();
            }
            ('"', _) => quoted = !quoted,
            (',', false) => cells.push(std::mem::take(&mut cur)),
            _ => cur.push(ch),
        }
    }
    cells.push(cur);
    cells
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_by_name_find_what_a_scan_finds() {
        let e = |kind, name: &str| EntitySeries {
            kind,
            name: name.into(),
            rows: Vec::new(),
        };
        let mut f = Frame {
            window_s: 1.0,
            end_s: 1.0,
            entities: vec![
                e(Kind::System, "all"),
                e(Kind::Client, "api"),
                e(Kind::Service, "api"),
                e(Kind::Service, "db"),
                e(Kind::Service, "db"),
            ],
            index: NameIndex::default(),
        };
        let at = |f: &Frame, kind, name: &str| {
            f.get(kind, name)
                .map(|x| f.entities.iter().position(|y| std::ptr::eq(x, y)).unwrap())
        };
        assert_eq!(at(&f, Kind::Service, "api"), Some(2));
        assert_eq!(at(&f, Kind::Client, "api"), Some(1));
        assert_eq!(
            at(&f, Kind::Service, "db"),
            Some(3),
            "the first of a repeated name"
        );
        assert_eq!(at(&f, Kind::Call, "db"), None);
        // Added after the index was made: still found.
        f.entities.push(e(Kind::Call, "api->db"));
        assert_eq!(at(&f, Kind::Call, "api->db"), Some(5));
        // A clone starts without the index and compares equal.
        let g = f.clone();
        assert_eq!(g, f);
        assert_eq!(at(&g, Kind::Call, "api->db"), Some(5));
    }

    #[test]
    fn csv_cells_round_trip() {
        assert_eq!(
            split_csv("a,\"b,c\",,\"d\"\"e\""),
            vec!["a", "b,c", "", "d\"e"]
        );
        assert_eq!(csv_field("x,y"), "\"x,y\"");
        assert_eq!(fmt_num(3.0), "3");
        assert_eq!(fmt_num(0.25), "0.25");
        assert_eq!(fmt_num(1.0 / 3.0), "0.333333");
    }
}
