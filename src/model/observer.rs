//! Where the model reports what happened: the [`Observer`] trait. The `metrics` layer
//! implements it; the model calls it at each observation and never decides what is kept, how
//! it is windowed or summarised.

use super::spec::{ClientId, ServiceId};
use crate::engine::SimTime;
use crate::policy::Outcome;

/// Where the model reports what happened. The `metrics` layer implements it; every method has
/// the time of the observation, and the observer decides what to keep (warm-up, windows).
pub trait Observer {
    /// Time has reached `now`: called at the start of every event, before anything is
    /// reported at `now`, so that an observer keeping windows moves to the one `now` falls in
    /// here, once per event, rather than at every report.
    #[inline(always)]
    fn advance(&mut self, now: SimTime) {
        let _ = now;
    }
    /// A client produced a request (open loop: an arrival, including ones it then rejects);
    /// `in_flight` is its number of outstanding requests now (one more than before, or the
    /// same when it rejects the request).
    fn client_sent(&mut self, client: ClientId, in_flight: u32, now: SimTime);
    /// A client learned the outcome of a request it sent at `sent_at`; `in_flight` is its
    /// number of outstanding requests now.
    fn client_done(
        &mut self,
        client: ClientId,
        outcome: Outcome,
        sent_at: SimTime,
        in_flight: u32,
        now: SimTime,
    );
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
    /// A replica of `service` (which has endpoints) answered a request of endpoint
    /// `endpoint` (also reported to [`Observer::service_done`]).
    fn endpoint_done(
        &mut self,
        service: ServiceId,
        endpoint: u8,
        outcome: Outcome,
        arrived_at: SimTime,
        now: SimTime,
    ) {
        let _ = (service, endpoint, outcome, arrived_at, now);
    }
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

    /// What a replica can take changed: `workers` that can start a request (0 while it is
    /// down, paused or scaled away; fewer while workers are stuck; a new count after a
    /// configuration change), and whether it `accepts` requests into its queue at all (up and
    /// in service; a paused replica accepts but serves nothing). Every replica starts with its
    /// service's `workers`, accepting, if it is among the initial replicas, else with 0, not.
    fn replica_capacity(
        &mut self,
        service: ServiceId,
        replica: u32,
        workers: u32,
        accepts: bool,
        now: SimTime,
    ) {
        let _ = (service, replica, workers, accepts, now);
    }
    /// A replica of `service` turned a request away (it is also reported to
    /// [`Observer::service_done`] with its outcome, or lost when a paused replica's backlog is
    /// full) and why.
    fn shed(&mut self, service: ServiceId, why: Shed, now: SimTime) {
        let _ = (service, why, now);
    }
    /// An answer of `service` reached a caller that had stopped waiting for it (a timeout
    /// fired, a hedge had already won, the parent request had already failed): wasted work,
    /// which held a worker for `worker_ns`.
    fn late_answer(&mut self, service: ServiceId, worker_ns: u64, now: SimTime) {
        let _ = (service, worker_ns, now);
    }
    /// A request of `service` started its call `call` (before any policy, cache or retry).
    fn call_started(&mut self, service: ServiceId, call: usize, now: SimTime) {
        let _ = (service, call, now);
    }
    /// An attempt of call `call` of `service` found its connection pool exhausted and waits.
    fn pool_wait(&mut self, service: ServiceId, call: usize, now: SimTime) {
        let _ = (service, call, now);
    }
    /// Call `call` of `service` looked its key up in its cache.
    fn cache_lookup(&mut self, service: ServiceId, call: usize, hit: bool, now: SimTime) {
        let _ = (service, call, hit, now);
    }
}

/// Why a replica turned a request away.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shed {
    /// Every worker busy and the queue full (`overloaded`; lost at a paused replica).
    QueueFull,
    /// The adaptive concurrency limit was reached (`overloaded`).
    ConcurrencyLimit,
    /// It waited in the queue longer than `max_queue_time` (`overloaded`).
    QueueTime,
    /// Its propagated deadline had passed when a worker would take it (`timeout`).
    Expired,
}

/// An observer that keeps nothing: for runs whose figures are read from the world itself
/// (splitting reads its importance after each event).
pub struct Quiet;

impl Observer for Quiet {
    fn client_sent(&mut self, _: ClientId, _: u32, _: SimTime) {}
    fn client_done(&mut self, _: ClientId, _: Outcome, _: SimTime, _: u32, _: SimTime) {}
    fn service_arrival(&mut self, _: ServiceId, _: SimTime) {}
    fn service_done(&mut self, _: ServiceId, _: Outcome, _: SimTime, _: SimTime, _: SimTime) {}
    fn replica_level(&mut self, _: ServiceId, _: u32, _: u32, _: u32, _: SimTime) {}
    fn client_attempt(&mut self, _: ClientId, _: SimTime) {}
    fn call_attempt(&mut self, _: ServiceId, _: usize, _: SimTime) {}
    fn call_done(&mut self, _: ServiceId, _: usize, _: Outcome, _: SimTime, _: SimTime) {}
}
