//! Load balancing: which replica of a service gets the next request. Round robin, random,
//! least outstanding and power of two choices, over the replicas health checking leaves in
//! balancing (readiness, NGINX passive state, Envoy ejection) when the service has checks.
//!
//! These are methods of the [`Fleet`]: they read replicas' health and outstanding counts and
//! change only the balancer's own state (its round-robin position, its stream, NGINX's pick
//! bookkeeping). They know nothing of requests, links or policies; an active-passive service is
//! routed by `replication.rs` instead.

use super::fleet::Fleet;
use crate::engine::SimTime;
use crate::model::spec::*;

impl Fleet {
    /// May the balancer of `svc` send to replica `r` (global index) now?
    #[inline]
    fn routable(&self, spec: &ServiceSpec, svc: usize, r: u32, now: SimTime) -> bool {
        let h = &self.replicas[r as usize].health;
        if !h.ready {
            return false;
        }
        let s = &self.services[svc];
        if let Some(o) = &s.outlier {
            if o.is_ejected((r - s.first_replica) as usize) {
                return false;
            }
        }
        if let Some(PassiveHealth::Nginx(cfg)) = &spec.health.passive {
            // NGINX ignores max_fails for a group of one server.
            if s.replicas > 1 && !h.nginx.available(cfg, now.0) {
                return false;
            }
        }
        true
    }

    /// The `j`-th routable replica of `svc` (local index), counting from local index `from`.
    fn nth_routable(
        &self,
        spec: &ServiceSpec,
        svc: usize,
        from: u32,
        mut j: u32,
        now: SimTime,
    ) -> Option<u32> {
        let s = &self.services[svc];
        for k in 0..s.replicas {
            let i = (from + k) % s.replicas;
            if self.routable(spec, svc, s.first_replica + i, now) {
                if j == 0 {
                    return Some(i);
                }
                j -= 1;
            }
        }
        None
    }

    /// Picks a replica among those health checking leaves in balancing; None when there is
    /// none (the caller gets `refused`, like Kubernetes without endpoints or NGINX's "no live
    /// upstreams").
    #[cold]
    #[inline(never)]
    fn pick_checked(&mut self, spec: &ServiceSpec, svc: usize, now: SimTime) -> Option<u32> {
        let (n, first) = (
            self.services[svc].replicas,
            self.services[svc].first_replica,
        );
        let count = (0..n)
            .filter(|&i| self.routable(spec, svc, first + i, now))
            .count() as u32;
        if count == 0 {
            return None;
        }
        let local = match spec.balancer {
            Balancer::RoundRobin => {
                let start = self.services[svc].rr_next;
                let i = self.nth_routable(spec, svc, start, 0, now)?;
                self.services[svc].rr_next = (i + 1) % n;
                i
            }
            Balancer::Random => {
                let j = self.services[svc].balancer_rng.below(count as u64) as u32;
                self.nth_routable(spec, svc, 0, j, now)?
            }
            Balancer::LeastOutstanding => {
                let s = &mut self.services[svc];
                let start = s.rr_next;
                s.rr_next = (start + 1) % n;
                let mut best = None;
                let mut best_load = u32::MAX;
                for k in 0..n {
                    let i = (start + k) % n;
                    if !self.routable(spec, svc, first + i, now) {
                        continue;
                    }
                    let load = self.replicas[(first + i) as usize].outstanding;
                    if load < best_load {
                        best = Some(i);
                        best_load = load;
                    }
                }
                best?
            }
            Balancer::PowerOfTwoChoices => {
                if count == 1 {
                    self.nth_routable(spec, svc, 0, 0, now)?
                } else {
                    let rng = &mut self.services[svc].balancer_rng;
                    let a = rng.below(count as u64) as u32;
                    let mut b = rng.below(count as u64 - 1) as u32;
                    if b >= a {
                        b += 1;
                    }
                    let a = self.nth_routable(spec, svc, 0, a, now)?;
                    let b = self.nth_routable(spec, svc, 0, b, now)?;
                    let la = self.replicas[(first + a) as usize].outstanding;
                    let lb = self.replicas[(first + b) as usize].outstanding;
                    if lb < la {
                        b
                    } else {
                        a
                    }
                }
            }
        };
        let r = first + local;
        if let Some(PassiveHealth::Nginx(cfg)) = &spec.health.passive {
            self.replicas[r as usize]
                .health
                .nginx
                .on_selected(cfg, now.0);
        }
        Some(r)
    }

    /// The replica (global index) of `svc` that gets the next request, or None when health
    /// checking leaves none in balancing. `spec` is the service's spec.
    #[inline]
    pub fn pick(&mut self, spec: &ServiceSpec, svc: usize, now: SimTime) -> Option<u32> {
        if self.services[svc].checked {
            return self.pick_checked(spec, svc, now);
        }
        Some(self.pick_unchecked(spec, svc))
    }

    #[inline]
    fn pick_unchecked(&mut self, spec: &ServiceSpec, svc: usize) -> u32 {
        let s = &mut self.services[svc];
        let n = s.replicas;
        let first = s.first_replica;
        if n == 1 {
            return first;
        }
        let local = match spec.balancer {
            Balancer::RoundRobin => {
                let i = s.rr_next;
                s.rr_next = (i + 1) % n;
                i
            }
            Balancer::Random => s.balancer_rng.below(n as u64) as u32,
            Balancer::LeastOutstanding => {
                // Scan from a rotating start so ties spread instead of piling on replica 0.
                let start = s.rr_next;
                s.rr_next = (start + 1) % n;
                let mut best = start;
                let mut best_load = u32::MAX;
                for k in 0..n {
                    let i = (start + k) % n;
                    let load = self.replicas[(first + i) as usize].outstanding;
                    if load < best_load {
                        best = i;
                        best_load = load;
                    }
                }
                best
            }
            Balancer::PowerOfTwoChoices => {
                let a = s.balancer_rng.below(n as u64) as u32;
                let mut b = s.balancer_rng.below(n as u64 - 1) as u32;
                if b >= a {
                    b += 1;
                }
                let la = self.replicas[(first + a) as usize].outstanding;
                let lb = self.replicas[(first + b) as usize].outstanding;
                if lb < la {
                    b
                } else {
                    a
                }
            }
        };
        first + local
    }
}
