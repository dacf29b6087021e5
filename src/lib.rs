//! faultline: a deterministic discrete-event simulator for distributed systems under failure.
//!
//! Layers, each knowing only the ones below it (see ARCHITECTURE.md):
//! [`cli`] > [`search`] > [`sweep`] and [`check`] > [`report`] > [`runner`] and [`rare`] >
//! [`scenario`] > [`metrics`] > [`model`] > [`engine`].
//!
//! Build a scenario from RON text (or a [`model::SystemSpec`] in code) and run it:
//!
//! ```
//! let text = r#"(
//!     name: "tiny",
//!     duration: "10s",
//!     clients: [(name: "c", target: "s", load: Open(rate_per_s: 50.0))],
//!     services: [(name: "s", service_time: Exponential(mean: "5ms"))],
//! )"#;
//! let scenario = faultline::scenario::from_str(text, "tiny.ron", &Default::default()).unwrap();
//! let result = faultline::runner::run(&scenario);
//! assert!(result.summary.services[0].completed > 300);
//! println!("trace hash {}", result.summary.trace_hash);
//! ```

pub mod check;
pub mod cli;
pub mod engine;
pub mod faults;
pub mod metrics;
pub mod model;
pub mod policy;
pub mod rare;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod search;
pub mod sweep;
