//! One run of one scenario: build the world and its recorder, drive the engine to the end or to
//! a limit, and summarise. Also the JSON-lines trace writer.
//!
//! This is the library's front door (`faultline::runner::run`); the CLI and the tests go through
//! it. It keeps no global state, so runs can go on separate threads (sweeps) without affecting
//! one another.

use crate::engine::{self, EventQueue, LimitHit, SimTime, TraceRecord, TraceSink};
use crate::metrics::{Recorder, Summary, SummaryContext};
use crate::model::{entity_names, world_kind_name, SystemSpec, World, WorldLimits};
use crate::scenario::Scenario;
use std::io::Write;

/// What a run produced.
#[derive(Clone, Debug)]
pub struct RunResult {
    pub summary: Summary,
    pub events: u64,
    pub trace_hash: u64,
    /// Set when a limit stopped the run before its end.
    pub stopped: Option<LimitHit>,
    /// The end of the measured interval (the run's end, or when a limit stopped it).
    pub measured_end: SimTime,
}

/// Runs `scenario` to its end (or a limit).
pub fn run(scenario: &Scenario) -> RunResult {
    run_traced(scenario, None).0
}

/// Runs `scenario`, handing every processed event to `sink`; also returns the recorder.
pub fn run_traced(scenario: &Scenario, sink: Option<&mut dyn TraceSink>) -> (RunResult, Recorder) {
    let end = SimTime(scenario.duration.0);
    let warmup = SimTime(scenario.warmup.0);
    let recorder = Recorder::new(&scenario.system, warmup, scenario.slo.window.0, end);
    let mut world = World::new(
        scenario.system.clone(),
        scenario.seed,
        WorldLimits {
            max_live_requests: scenario.limits.max_live_requests,
            count_from: warmup,
        },
        recorder,
    );
    let mut queue = EventQueue::new();
    world.start(&mut queue);
    let limits = engine::Limits {
        end,
        max_events: scenario.limits.max_events,
        max_pending_events: scenario.limits.max_pending_events.min(usize::MAX as u64) as usize,
    };
    let outcome = engine::run(&mut world, &mut queue, &limits, sink);
    // A run stopped by a limit is measured up to the moment it stopped.
    let measured_end = match &outcome.stopped {
        Some(hit) => SimTime(hit.at_ns.min(end.0)),
        None => end,
    };
    let in_flight = world.live_requests() as u64;
    let policies = world.policy_reports();
    let admission = world.admission_reports();
    let faults = world.fault_reports();
    let health = world.health_reports();
    let replication = world.replication_reports(measured_end);
    let caches = world.cache_reports();
    let pools = world.pool_reports();
    let links = world.link_reports();
    let autoscalers = world.autoscale_reports();
    let mut recorder = world.into_observer();
    recorder.finish(measured_end);
    let summary = Summary::build(
        &recorder,
        &scenario.system,
        SummaryContext {
            scenario: &scenario.name,
            seed: scenario.seed,
            end: measured_end,
            events: outcome.events,
            trace_hash: outcome.trace_hash,
            stopped: outcome.stopped.as_ref(),
            in_flight_at_end: in_flight,
            policies,
            admission,
            faults,
            health,
            replication,
            caches,
            pools,
            links,
            autoscalers,
            slo_availability: scenario.slo.availability,
        },
    );
    (
        RunResult {
            summary,
            events: outcome.events,
            trace_hash: outcome.trace_hash,
            stopped: outcome.stopped,
            measured_end,
        },
        recorder,
    )
}

/// Writes every event as one JSON object per line:
/// `{"t_ns":1500000,"seq":12,"kind":"deliver","entity":"api/0","request":7}`.
pub struct JsonlTrace<W: Write> {
    out: W,
    entities: Vec<String>,
    error: Option<std::io::Error>,
}

impl<W: Write> JsonlTrace<W> {
    pub fn new(out: W, system: &SystemSpec) -> Self {
        JsonlTrace {
            out,
            entities: entity_names(system),
            error: None,
        }
    }

    /// Flushes and reports the first write error, if any.
    pub fn finish(mut self) -> std::io::Result<()> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.out.flush()
    }
}

impl<W: Write> TraceSink for JsonlTrace<W> {
    fn event(&mut self, time: SimTime, seq: u64, r: &TraceRecord) {
        if self.error.is_some() {
            return;
        }
        let entity = self
            .entities
            .get(r.entity as usize)
            .map(String::as_str)
            .unwrap_or("?");
        let res = writeln!(
            self.out,
            "{{\"t_ns\":{},\"seq\":{},\"kind\":\"{}\",\"entity\":{},\"request\":{}}}",
            time.0,
            seq,
            world_kind_name(r.kind),
            serde_json::to_string(entity).unwrap_or_default(),
            r.request
        );
        if let Err(e) = res {
            self.error = Some(e);
        }
    }
}
