//! Resilience policies as sans-IO state machines: every decision takes the current time (`now_ns`)
//! and, where the policy is random, a uniform draw in [0, 1) passed in by the caller. Nothing here
//! reads a clock, owns a random generator, or knows the engine or the model, so the same code can
//! drive a real service (with `std::time::Instant` and any RNG) or the simulator.
//!
//! Each mode is named after the library whose documented behaviour it follows
//! (see `../shared/reference/policies.md`); where libraries disagree, each
//! behaviour is its own mode and the scenario chooses.
//!
//! Landed so far: retry backoff (Resilience4j, Polly, AWS architecture blog, gRPC A6) and retry
//! budgets (AWS SDK standard token bucket, gRPC retry throttling). Breakers, bulkheads, rate
//! limiters, hedging, shedding and health checks follow (issue "Resilience policies").

pub mod backoff;
pub mod breaker;
pub mod budget;
pub mod limit;
mod outcome;

pub use outcome::{Outcome, OutcomeSet, OUTCOMES};

/// A policy configuration that cannot work, rejected when the policy is built.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ConfigError {
    pub field: &'static str,
    pub message: String,
}

pub(crate) fn config_error(field: &'static str, message: impl Into<String>) -> ConfigError {
    ConfigError {
        field,
        message: message.into(),
    }
}
