//! Resilience policies as sans-IO state machines: every decision takes the current time (`now_ns`)
//! and, where the policy is random, a uniform draw in [0, 1) passed in by the caller. Nothing here
//! reads a clock, owns a random generator, or knows the engine or the model, so the same code can
//! drive a real service (with `std::time::Instant` and any RNG) or the simulator.
//!
//! Each mode is named after the library whose documented behaviour it follows
//! (see docs/policies.md); where libraries disagree, each
//! behaviour is its own mode and the scenario chooses.
//!
//! The rules of every policy, with their sources, are in docs/policies.md.
//!
//! Used outside the simulator, with a real clock:
//!
//! ```
//! use faultline::policy::breaker::{Breaker, PyBreaker, PyBreakerConfig};
//! use faultline::policy::Outcome;
//! use std::time::Instant;
//!
//! let start = Instant::now();
//! let now_ns = || start.elapsed().as_nanos() as u64;
//! let mut breaker = Breaker::PyBreaker(
//!     PyBreaker::new(PyBreakerConfig { fail_max: 2, ..Default::default() }).unwrap(),
//! );
//! for _ in 0..2 {
//!     if breaker.try_acquire(now_ns()).is_ok() {
//!         let t0 = now_ns();
//!         let result: Result<(), std::io::Error> = Err(std::io::ErrorKind::TimedOut.into()); // the real call
//!         let outcome = if result.is_ok() { Outcome::Ok } else { Outcome::Error };
//!         breaker.on_result(now_ns(), outcome, now_ns() - t0);
//!     }
//! }
//! // Two consecutive failures: the breaker is open and refuses the next call at once.
//! assert!(breaker.try_acquire(now_ns()).is_err());
//! ```

pub mod adaptive;
pub mod autoscale;
pub mod backoff;
pub mod breaker;
pub mod budget;
pub mod health;
pub mod limit;
mod outcome;
pub mod queue;

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
