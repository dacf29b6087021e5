//! The system model: clients, services with replicas, load balancers, calls and links. It turns
//! events into state changes and new events.
//!
//! It knows the engine (time, queue, streams) and nothing above it: results go out through the
//! [`Observer`] trait, which the `metrics` layer implements, so the model never decides what is
//! kept or how it is summarised.

pub mod cache;
pub mod dist;
pub mod replication;
pub mod spec;
mod stack;
mod world;

pub use dist::Dist;
pub use spec::*;
pub use stack::{LayerCounters, Transition};
pub use world::{
    entity_names, AdmissionReport, Event, FaultReport, HealthChange, HealthReport, LinkReport,
    Observer, Outcome, PolicyReport, World, WorldLimits, OUTCOMES,
};

/// The name of a trace event kind code (`deliver`, `response`, ...).
pub fn world_kind_name(kind: u8) -> &'static str {
    world::kind::NAMES
        .get(kind as usize)
        .copied()
        .unwrap_or("unknown")
}
