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

#[cfg(test)]
mod tests {
    use super::*;

    /// One run's trace hash, with the balancing indexes from `index_from` replicas (None:
    /// the usual threshold).
    fn hash(text: &str, index_from: Option<u32>) -> u64 {
        crate::model::set_index_from_for_tests(index_from);
        let sc = crate::scenario::from_str(text, "t.ron", &Default::default()).unwrap();
        let h = run(&sc).trace_hash;
        crate::model::set_index_from_for_tests(None);
        h
    }

    /// The indexes change how fast a pick is found, never which: every balancer under every
    /// kind of health check, with crashes, hangs, error faults (ejections, NGINX marking
    /// servers down), readiness lost and regained, scaling down (to one server too) and
    /// up, gives the trace hash it gives when every pick scans.
    #[test]
    fn balancing_indexes_pick_what_the_scans_pick() {
        let balancers = [
            "RoundRobin",
            "Random",
            "LeastOutstanding",
            "PowerOfTwoChoices",
            "LeastRequest(choice_count: 2)",
        ];
        let checks = [
            r#"(readiness: Kubernetes(period: "1s"))"#,
            r#"(passive: Envoy())"#,
            r#"(readiness: Kubernetes(period: "1s"), passive: Envoy())"#,
            r#"(passive: Nginx(max_fails: 1, fail_timeout: "2s"))"#,
            r#"(readiness: Kubernetes(period: "1s"), passive: Nginx(max_fails: 3, fail_timeout: "500ms"))"#,
        ];
        for b in balancers {
            for h in checks {
                let text = format!(
                    r#"(name: "eq", duration: "60s", seed: 5,
                    clients: [(name: "c", target: "api", load: Open(rate_per_s: 2000.0))],
                    services: [(name: "api", replicas: 40, workers: 4, balancer: {b},
                                service_time: Exponential(mean: "5ms"), health: {h})],
                    faults: [
                      (at: "3s", for: "10s", fault: Crash("api/3")),
                      (at: "4s", for: "20s", fault: Errors(target: "api/7", rate: 0.9)),
                      (at: "6s", for: "8s", fault: Hang("api/11")),
                      (at: "12s", for: "15s", fault: Scale(service: "api", replicas: 30)),
                      (at: "20s", for: "6s", fault: Crash("api/0")),
                      (at: "22s", for: "10s", fault: Errors(target: "api/20", rate: 1.0)),
                      (at: "35s", for: "4s", fault: Crash("api/39")),
                      (at: "45s", for: "4s", fault: Scale(service: "api", replicas: 1)),
                    ])"#
                );
                assert_eq!(hash(&text, None), hash(&text, Some(u32::MAX)), "{b}, {h}");
            }
        }
    }
}
