//! The run loop: pop the earliest event, let the model handle it, fold it into the trace hash,
//! stop at the end of simulated time or at a limit.
//!
//! Limits exist so that a runaway scenario (an unbounded retry storm, a queue that never drains)
//! stops with a message naming the limit and how to raise it, instead of eating the machine.

use super::hash::TraceHasher;
use super::queue::EventQueue;
use super::time::{format_duration, SimTime};
use std::fmt;

/// What the model reports about each event it processed: the fields of the trace hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TraceRecord {
    /// A small code for the event kind, stable across versions of a model.
    pub kind: u8,
    /// The entity the event happened at (a model-defined index).
    pub entity: u32,
    /// The request the event belongs to (0 when none).
    pub request: u64,
}

/// A simulation model driven by the engine.
pub trait Model {
    /// Events are small plain values: the queue moves them by copying.
    type Event: Copy;
    /// Handles `event` at `now`, scheduling follow-up events on `queue`. An error stops the run
    /// (the model hit one of its own limits).
    fn handle(
        &mut self,
        now: SimTime,
        event: Self::Event,
        queue: &mut EventQueue<Self::Event>,
    ) -> Result<TraceRecord, LimitHit>;

    /// False for an event that would do nothing if handled: a timer whose request has already
    /// finished. Such an event is dropped unhandled, uncounted and unhashed, whether it is
    /// popped or removed earlier when the queue is compacted, so compaction never changes a
    /// run. Must be cheap (it runs on every pop) and must not change once false.
    #[inline]
    fn live(&self, _event: &Self::Event) -> bool {
        true
    }
}

/// The queue is compacted (dead events removed) when it reaches twice its size after the last
/// compaction, and never below this: pending events stay within about twice the live ones,
/// at an amortised O(1) per event.
const COMPACT_FROM: usize = 4096;

/// The queue length at which to compact next, given its length `len` after a compaction:
/// twice that (at least [`COMPACT_FROM`]), or sooner when that would pass the pending-events
/// limit (an eighth of the limit later, so a queue of live events near the limit is not
/// rebuilt on every event; the limit counts what the queue holds, since it bounds memory).
fn next_compaction(len: usize, max_pending: usize) -> usize {
    COMPACT_FROM
        .max(2 * len)
        .min(len + (max_pending / 8).max(1))
}

/// Receives every processed event, in order (for `--trace FILE.jsonl`).
pub trait TraceSink {
    fn event(&mut self, time: SimTime, seq: u64, record: &TraceRecord);
}

/// Bounds on one run.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Events after this instant are not processed: the run ends here.
    pub end: SimTime,
    /// At most this many events are processed.
    pub max_events: u64,
    /// At most this many events may be pending at once (a memory bound).
    pub max_pending_events: usize,
}

/// A limit that stopped a run before its end.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct LimitHit {
    /// The limit's name in the scenario's `limits` section, e.g. `max_events`.
    pub limit: &'static str,
    /// Its value.
    pub value: u64,
    /// When it was hit (simulated nanoseconds).
    pub at_ns: u64,
    /// How to raise it.
    pub how_to_raise: &'static str,
}

impl fmt::Display for LimitHit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the run stopped at t={} because it reached limits.{} = {}; {}",
            format_duration(self.at_ns),
            self.limit,
            self.value,
            self.how_to_raise
        )
    }
}

/// What a run did.
#[derive(Clone, Debug)]
pub struct RunOutcome {
    pub events: u64,
    pub trace_hash: u64,
    /// The time of the last processed event.
    pub last_event: SimTime,
    /// Set when a limit stopped the run early.
    pub stopped: Option<LimitHit>,
}

/// Runs `model` until no event remains at or before `limits.end`, or a limit is hit.
pub fn run<M: Model>(
    model: &mut M,
    queue: &mut EventQueue<M::Event>,
    limits: &Limits,
    sink: Option<&mut dyn TraceSink>,
) -> RunOutcome {
    run_while(model, queue, limits, sink, |_| true)
}

/// [`run`], and after each event `go_on` looks at the model: the run stops after the first
/// event at which it says false (the event is counted and hashed; the rest stay queued, so a
/// later call goes on where this one stopped). Splitting steps runs this way.
pub fn run_while<M: Model>(
    model: &mut M,
    queue: &mut EventQueue<M::Event>,
    limits: &Limits,
    mut sink: Option<&mut dyn TraceSink>,
    mut go_on: impl FnMut(&M) -> bool,
) -> RunOutcome {
    let mut hasher = TraceHasher::default();
    let mut events: u64 = 0;
    let mut last_event = SimTime::ZERO;
    let mut stopped = None;
    let mut compact_at = next_compaction(queue.len(), limits.max_pending_events);
    // The queue length at which either compaction or the pending-events limit needs a look;
    // the queue watches for it (a flag per event for both).
    let mut look_at = compact_at.min(limits.max_pending_events);
    queue.watch_len(look_at);
    while let Some((time, seq, event)) = queue.pop_live(|e| model.live(e)) {
        if time > limits.end {
            break;
        }
        if !model.live(&event) {
            continue;
        }
        if events >= limits.max_events {
            stopped = Some(LimitHit {
                limit: "max_events",
                value: limits.max_events,
                at_ns: time.0,
                how_to_raise: "raise limits.max_events in the scenario or pass --max-events N",
            });
            break;
        }
        // The queue tells when a push may have brought it to `look_at` (no look per event).
        if super::table::CHECKED {
            assert!(
                queue.len_reached() || queue.len() < look_at,
                "the queue reached {look_at} events unnoticed"
            );
        }
        if queue.len_reached() {
            if queue.len() >= compact_at {
                queue.retain(|e| model.live(e));
                compact_at = next_compaction(queue.len(), limits.max_pending_events);
                look_at = compact_at.min(limits.max_pending_events);
            }
            if queue.len() >= limits.max_pending_events {
                stopped = Some(LimitHit {
                    limit: "max_pending_events",
                    value: limits.max_pending_events as u64,
                    at_ns: time.0,
                    how_to_raise: "raise limits.max_pending_events in the scenario (each pending event costs about 32 bytes)",
                });
                break;
            }
            queue.watch_len(look_at);
        }
        debug_assert!(time >= last_event, "time went backwards");
        last_event = time;
        match model.handle(time, event, queue) {
            Ok(rec) => {
                hasher.record(time.0, rec.kind, rec.entity, rec.request);
                if let Some(s) = sink.as_deref_mut() {
                    s.event(time, seq, &rec);
                }
                events += 1;
                if !go_on(model) {
                    break;
                }
            }
            Err(hit) => {
                stopped = Some(hit);
                break;
            }
        }
    }
    RunOutcome {
        events,
        trace_hash: hasher.value(),
        last_event,
        stopped,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::SimDuration;

    /// A model that reschedules itself every second forever: only limits stop it.
    struct Ticker;
    impl Model for Ticker {
        type Event = ();
        fn handle(
            &mut self,
            now: SimTime,
            _: (),
            q: &mut EventQueue<()>,
        ) -> Result<TraceRecord, LimitHit> {
            q.push(now + SimDuration::from_secs(1), ());
            Ok(TraceRecord {
                kind: 1,
                entity: 0,
                request: 0,
            })
        }
    }

    fn run_ticker(end_s: u64, max_events: u64) -> RunOutcome {
        let mut q = EventQueue::new();
        q.push(SimTime::ZERO, ());
        let limits = Limits {
            end: SimTime(end_s * 1_000_000_000),
            max_events,
            max_pending_events: 1000,
        };
        run(&mut Ticker, &mut q, &limits, None)
    }

    #[test]
    fn stops_at_end_time() {
        let out = run_ticker(10, 1000);
        assert_eq!(out.events, 11); // t = 0, 1, ..., 10
        assert!(out.stopped.is_none());
    }

    #[test]
    fn stops_at_event_limit_and_says_how_to_raise_it() {
        let out = run_ticker(10, 5);
        assert_eq!(out.events, 5);
        let hit = out.stopped.expect("limit");
        assert_eq!(hit.limit, "max_events");
        assert!(hit.to_string().contains("--max-events"));
    }
}
