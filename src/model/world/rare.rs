//! What splitting needs of a running world: its importance (how close it is to the rare event)
//! and a way to go on with fresh randomness from where it stands (every stream reseeded).
//! It knows nothing of levels, particles or estimates (`src/rare.rs`).

use super::World;
use crate::model::observer::Observer;
use crate::model::spec::Importance;

impl<O: Observer> World<O> {
    /// The value of `what` now.
    pub fn importance(&self, what: Importance) -> u64 {
        // `what` comes from outside the world: its index is checked (`Table` would not).
        let at = |svc: usize| {
            let s = &(*self.fleet.services)[svc];
            let first = s.first_replica as usize;
            let n = self.spec.service(svc).replicas as usize;
            &(*self.fleet.replicas)[first..first + n]
        };
        match what {
            Importance::Queued(svc) => at(svc).iter().map(|r| r.queue.len() as u64).sum(),
            Importance::InSystem(svc) => at(svc)
                .iter()
                .map(|r| r.queue.len() as u64 + r.busy as u64)
                .sum(),
            Importance::InFlight(c) => (*self.clients)[c].in_flight as u64,
            Importance::Live => self.requests.live() as u64,
        }
    }

    /// Reseeds every random stream of the world with `salt` (see
    /// [`crate::engine::RngStream::reseed`]): the run goes on from its present state, drawing
    /// differently than it would have. Events already scheduled stay (they are the state).
    pub fn reseed(&mut self, salt: u64) {
        for c in &mut self.clients {
            c.arrivals.reseed(salt);
            c.think.reseed(salt);
        }
        for s in &mut self.fleet.services {
            s.balancer_rng.reseed(salt);
            s.error_rng.reseed(salt);
            s.call_rng.reseed(salt);
            s.endpoint_rng.reseed(salt);
            if let Some(g) = &mut s.ap {
                g.reseed(salt);
            }
        }
        for r in &mut self.fleet.replicas {
            r.service_time_rng.reseed(salt);
            r.health.reseed_faults(salt);
            if let Some(d) = r.extras.disk_mut() {
                d.rng.reseed(salt);
            }
        }
        for l in &mut self.net.links {
            l.rng.reseed(salt);
            l.fault_rng.reseed(salt);
        }
        for e in &mut self.stacks.edges {
            e.rng.reseed(salt);
        }
        for c in self.caches.by_edge.iter_mut().flatten() {
            c.reseed(salt);
        }
    }
}
