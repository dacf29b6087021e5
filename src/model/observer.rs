//! Where the model reports what happened: the [`Observer`] trait. The `metrics` layer
//! implements it; the model calls it at each observation and never decides what is kept, how
//! it is windowed or summarised.

use super::spec::{ClientId, ServiceId};
use crate::engine::SimTime;
use crate::policy::Outcome;

/// Where the model reports what happened. The `metrics` layer implements it; every method has
/// the time of the observation, and the observer decides what to keep (warm-up, windows).
pub trait Observer {
    /// A client produced a request (open loop: an arrival, including ones it then rejects).
    fn client_sent(&mut self, client: ClientId, now: SimTime);
    /// A client learned the outcome of a request it sent at `sent_at`.
    fn client_done(&mut self, client: ClientId, outcome: Outcome, sent_at: SimTime, now: SimTime);
    /// A client's number of outstanding requests changed.
    fn client_in_flight(&mut self, client: ClientId, in_flight: u32, now: SimTime);
    /// A request reached a replica of `service`.
    fn service_arrival(&mut self, service: ServiceId, now: SimTime);
    /// A replica of `service` sent its response. `started_at` equals `now` for requests that
    /// never got a worker (overloaded).
    fn service_done(
        &mut self,
        service: ServiceId,
        outcome: Outcome,
        arrived_at: SimTime,
        started_at: SimTime,
        now: SimTime,
    );
    /// The busy workers or queue length of a replica changed.
    fn replica_level(
        &mut self,
        service: ServiceId,
        replica: u32,
        busy: u32,
        queued: u32,
        now: SimTime,
    );
    /// A client sent one attempt of a request over the network (retries included).
    fn client_attempt(&mut self, client: ClientId, now: SimTime);
    /// A replica of `service` sent one attempt of its call `call` (retries included).
    fn call_attempt(&mut self, service: ServiceId, call: usize, now: SimTime);
    /// The caller of call `call` of `service` learned its outcome.
    fn call_done(
        &mut self,
        service: ServiceId,
        call: usize,
        outcome: Outcome,
        sent_at: SimTime,
        now: SimTime,
    );
}
