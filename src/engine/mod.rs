//! The discrete-event core: virtual time, the event queue, named random streams, the run loop
//! with its limits, and the trace hash.
//!
//! It deliberately knows nothing of clients, servers, links or policies. A model plugs in through
//! [`Model`]: the engine pops the earliest event, hands it to the model, and folds the
//! [`TraceRecord`] the model returns into the run's trace hash. Everything that reaches the event
//! order is integer nanoseconds and insertion sequence numbers, never wall-clock time, addresses
//! or hash-map iteration.

mod hash;
mod queue;
mod rng;
mod run;
mod table;
mod time;

pub use hash::{stable_hash_bytes, TraceHasher};
pub use queue::EventQueue;
pub use rng::RngStream;
pub use run::{run, run_while, LimitHit, Limits, Model, RunOutcome, TraceRecord, TraceSink};
pub(crate) use table::{Table, CHECKED};
pub use time::{format_duration, parse_duration, DurationParseError, SimDuration, SimTime};
