//! The system model: clients, services with replicas, load balancers, calls and links. It turns
//! events into state changes and new events.
//!
//! It knows the engine (time, queue, streams) and the policies, and nothing above them:
//! results go out through the [`Observer`] trait, which the `metrics` layer implements, so the
//! model never decides what is kept or how it is summarised.
//!
//! Below the running world (`world/`) sit the parts it is built from, none of which knows the
//! world: the typed spec (`spec.rs`), distributions (`dist.rs`), what a request is and the slab
//! it lives in (`request.rs`), the policy stacks' state (`stack.rs`), and the pure state
//! machines of the optional machinery (`replication.rs`, `cache.rs`, `sharing.rs`: processor
//! sharing and load-dependent service; `gc.rs`: a heap and its collections).

pub mod cache;
pub mod dist;
pub mod gc;
pub mod ln;
pub mod mintree;
mod observer;
pub mod replication;
mod request;
mod ring;
pub mod sharing;
pub mod spec;
mod stack;
mod world;
pub mod zig;

pub use crate::policy::{Outcome, OUTCOMES};
pub use dist::Dist;
pub use observer::{Observer, Quiet, Shed};
pub use spec::*;
pub use stack::{LayerCounters, Transition};
#[cfg(test)]
pub(crate) use world::set_index_from_for_tests;
pub use world::{
    entity_names, AdmissionReport, AutoscaleReport, Event, FaultReport, HealthChange, HealthReport,
    LinkReport, PolicyReport, PoolReport, ScaleDecision, World, WorldLimits,
};

/// The name of a trace event kind code (`deliver`, `response`, ...).
pub fn world_kind_name(kind: u8) -> &'static str {
    world::kind::NAMES
        .get(kind as usize)
        .copied()
        .unwrap_or("unknown")
}
