//! Clients: open-loop arrivals (Poisson or constant, with rate steps from load spikes) and
//! closed-loop users who think between requests. A client's request enters its policy stack
//! (`invoke.rs`) or goes straight to the network; over its in-flight cap it is `rejected` at
//! once.
//!
//! It owns each client's streams and in-flight count. It knows nothing of replicas or links;
//! what happens to a request after it leaves is the rest of the world's.

use super::event::Event;
use super::{Observer, World};
use crate::engine::{EventQueue, LimitHit, RngStream, SimDuration, SimTime};
use crate::model::request::CallerRef;
use crate::model::spec::*;
use crate::policy::Outcome;

pub(super) struct ClientState {
    pub arrivals: RngStream,
    pub think: RngStream,
    pub in_flight: u32,
    /// The spec's `max_in_flight`, beside the count it bounds.
    pub max_in_flight: u32,
    /// The mean gap in nanoseconds of a Poisson client with one rate for the whole run (most
    /// open-loop clients), 0.0 for any other: its next arrival needs nothing of the spec.
    plain_poisson_mean_ns: f64,
}

impl ClientState {
    /// A client with its streams (`client:NAME`, purposes `arrivals` and `think_time`).
    pub fn new(spec: &ClientSpec, seed: u64) -> Self {
        let entity = format!("client:{}", spec.name);
        ClientState {
            arrivals: RngStream::derive(seed, &entity, "arrivals"),
            think: RngStream::derive(seed, &entity, "think_time"),
            in_flight: 0,
            max_in_flight: spec.max_in_flight,
            plain_poisson_mean_ns: match &spec.load {
                Load::Open {
                    arrivals: Arrivals::Poisson,
                    rate_per_s,
                    steps,
                } if steps.is_empty() && *rate_per_s > 0.0 => 1e9 / rate_per_s,
                _ => 0.0,
            },
        }
    }
}

impl<O: Observer> World<O> {
    /// The next open-loop arrival after `now`, honouring rate steps. A Poisson gap that would
    /// cross a step is redrawn from the step at the new rate, which is exact for a piecewise-
    /// constant Poisson process because exponential gaps are memoryless.
    #[inline(always)]
    pub(super) fn next_arrival(&mut self, ci: usize, now: SimTime) -> Option<SimTime> {
        let st = &mut self.clients[ci];
        if st.plain_poisson_mean_ns > 0.0 {
            // As the general path below draws it for one Poisson rate.
            let ns = crate::model::dist::exponential(st.plain_poisson_mean_ns, &mut st.arrivals);
            return Some(now + SimDuration(crate::model::dist::to_ns(ns).max(1)));
        }
        let Load::Open {
            arrivals,
            rate_per_s,
            steps,
        } = &self.spec.client(ci).load
        else {
            return None;
        };
        let rng = &mut self.clients[ci].arrivals;
        // The gap to the next arrival at `rate`, rounded to whole nanoseconds (at least one).
        let gap = |rate: f64, rng: &mut RngStream| {
            let ns = match arrivals {
                Arrivals::Poisson => crate::model::dist::exponential(1e9 / rate, rng),
                Arrivals::Constant => 1e9 / rate,
            };
            SimDuration(crate::model::dist::to_ns(ns).max(1))
        };
        if steps.is_empty() && *rate_per_s > 0.0 {
            // One rate for the whole run (most clients): no step to look up.
            return Some(now + gap(*rate_per_s, rng));
        }
        let mut t = now;
        loop {
            let idx = steps.partition_point(|s| s.at <= t);
            let rate = if idx == 0 {
                *rate_per_s
            } else {
                steps[idx - 1].rate_per_s
            };
            let next_step = steps.get(idx).map(|s| s.at);
            if rate <= 0.0 {
                t = next_step?;
                continue;
            }
            let cand = t + gap(rate, rng);
            match next_step {
                Some(b) if cand > b => t = b,
                _ => return Some(cand),
            }
        }
    }

    #[inline(always)]
    pub(super) fn client_send(
        &mut self,
        ci: usize,
        user: u32,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<u64, LimitHit> {
        let st = &mut self.clients[ci];
        if st.in_flight >= st.max_in_flight {
            // Open loop only: validation keeps closed-loop users within max_in_flight.
            let in_flight = st.in_flight;
            self.obs.client_sent(ci, in_flight, now);
            self.obs
                .client_done(ci, Outcome::Rejected, now, in_flight, now);
            return Ok(0);
        }
        st.in_flight += 1;
        let in_flight = st.in_flight;
        self.obs.client_sent(ci, in_flight, now);
        let caller = CallerRef::Client {
            client: ci as u32,
            user,
        };
        let id = self.requests.next_id();
        if self.caches.any {
            self.caches.root += 1;
        }
        self.start_call(self.stacks.client_edge[ci], caller, now, q)?;
        Ok(id)
    }
}
