//! Load balancing: which replica of a service gets the next request. Round robin, random,
//! least outstanding and power of two choices, over the replicas health checking leaves in
//! balancing (readiness, NGINX passive state, Envoy ejection) when the service has checks.
//!
//! These are methods of the [`Fleet`]: they read replicas' health and outstanding counts and
//! change only the balancer's own state (its round-robin position, its stream, NGINX's pick
//! bookkeeping). They know nothing of requests, links or policies; an active-passive service is
//! routed by `replication.rs` instead.

use super::fleet::Fleet;
use crate::engine::{RngStream, SimTime};
use crate::model::spec::*;

impl Fleet {
    /// May the balancer of `svc` send to replica `r` (global index) now?
    #[inline]
    fn routable(&self, spec: &ServiceSpec, svc: usize, r: u32, now: SimTime) -> bool {
        // NGINX ignores max_fails for a group of one server.
        self.passes_checks(spec, svc, r, now, self.services[svc].replicas > 1)
    }

    /// Readiness, Envoy ejection and, when `nginx` is set, NGINX's availability let replica
    /// `r` of `svc` be picked now. The routable set (`refresh_routable`) keeps this with
    /// `nginx` set.
    #[inline]
    pub(super) fn passes_checks(
        &self,
        spec: &ServiceSpec,
        svc: usize,
        r: u32,
        now: SimTime,
        nginx: bool,
    ) -> bool {
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
            let available = h.nginx().is_none_or(|n| n.available(cfg, now.0));
            if nginx && !available {
                return false;
            }
        }
        true
    }

    /// The `j`-th routable replica of `svc` (local index), counting from local index `from`.
    /// `indexed`: through the routable set (see `pick_checked`), else by a scan.
    fn nth_routable(
        &self,
        spec: &ServiceSpec,
        svc: usize,
        from: u32,
        mut j: u32,
        now: SimTime,
        indexed: bool,
    ) -> Option<u32> {
        let s = &self.services[svc];
        if let Some(set) = s.routable.as_ref().filter(|_| indexed) {
            return set
                .nth_from(from as usize, j, s.replicas as usize)
                .map(|i| i as u32);
        }
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
        let nginx = matches!(spec.health.passive, Some(PassiveHealth::Nginx(_)));
        // NGINX ignores max_fails for a group of one server: the index, which does not, is
        // left aside then (it stays up to date) and the replicas are scanned.
        let indexed = self.services[svc].routable.is_some() && !(nginx && n <= 1);
        if nginx && indexed {
            self.wake_nginx(svc, spec, now);
        }
        let count = match &self.services[svc].routable {
            Some(set) if indexed => set.count_below(n as usize),
            _ => (0..n)
                .filter(|&i| self.routable(spec, svc, first + i, now))
                .count() as u32,
        };
        if count == 0 {
            return None;
        }
        let local = match spec.balancer {
            Balancer::RoundRobin => {
                let start = self.services[svc].rr_next;
                let i = self.nth_routable(spec, svc, start, 0, now, indexed)?;
                self.services[svc].rr_next = (i + 1) % n;
                i
            }
            Balancer::Random => {
                let j = self.services[svc].balancer_rng.below(count as u64) as u32;
                self.nth_routable(spec, svc, 0, j, now, indexed)?
            }
            Balancer::LeastOutstanding => {
                let s = &mut self.services[svc];
                let start = s.rr_next;
                s.rr_next = (start + 1) % n;
                if let (Some(t), true) = (&s.least, indexed) {
                    // Unroutable replicas hold u32::MAX in the tree: the scan's answer.
                    let i = t.least_from(start as usize, n as usize) as u32;
                    return self.picked(spec, first + i, now);
                }
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
            Balancer::LeastRequest {
                choice_count,
                full_scan,
            } => {
                // The stream is copied out and back: the loads are read through `self`.
                let mut rng = self.services[svc].balancer_rng.clone();
                let load = |j: u32| {
                    let i = self
                        .nth_routable(spec, svc, 0, j, now, indexed)
                        .unwrap_or(0);
                    self.replicas[(first + i) as usize].outstanding
                };
                let j = least_request(&mut rng, count, choice_count, full_scan, load);
                self.services[svc].balancer_rng = rng;
                self.nth_routable(spec, svc, 0, j, now, indexed)?
            }
            Balancer::PowerOfTwoChoices => {
                if count == 1 {
                    self.nth_routable(spec, svc, 0, 0, now, indexed)?
                } else {
                    let rng = &mut self.services[svc].balancer_rng;
                    let a = rng.below(count as u64) as u32;
                    let mut b = rng.below(count as u64 - 1) as u32;
                    if b >= a {
                        b += 1;
                    }
                    let a = self.nth_routable(spec, svc, 0, a, now, indexed)?;
                    let b = self.nth_routable(spec, svc, 0, b, now, indexed)?;
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
        self.picked(spec, first + local, now)
    }

    /// Replica `r` was picked: NGINX counts the selection (a trial request after the down
    /// time starts another down time, unless it succeeds).
    fn picked(&mut self, spec: &ServiceSpec, r: u32, now: SimTime) -> Option<u32> {
        if let Some(PassiveHealth::Nginx(cfg)) = &spec.health.passive {
            if let Some(n) = self.replicas[r as usize].health.nginx_mut() {
                n.on_selected(cfg, now.0);
            }
            self.refresh_routable(r, spec, now);
        }
        Some(r)
    }

    /// A replica not in `tried` (global indices), for a balancer retry, or None when there is
    /// none in balancing. `Random` draws uniformly among the replicas not tried; the other
    /// balancers pick as usual, again, until they name one not tried (at most twice the replica
    /// count: round robin and the rotating scans move on at each pick).
    #[cold]
    #[inline(never)]
    pub fn pick_other(
        &mut self,
        spec: &ServiceSpec,
        svc: usize,
        now: SimTime,
        tried: &[u32],
    ) -> Option<u32> {
        let (first, n) = (
            self.services[svc].first_replica,
            self.services[svc].replicas,
        );
        if spec.balancer == Balancer::Random && !self.services[svc].checked {
            let untried = (first..first + n).filter(|r| !tried.contains(r));
            let k = untried.clone().count() as u64;
            if k == 0 {
                return None;
            }
            let j = self.services[svc].balancer_rng.below(k) as usize;
            return untried.into_iter().nth(j);
        }
        for _ in 0..2 * n.max(1) {
            let r = self.pick(spec, svc, now)?;
            if !tried.contains(&r) {
                return Some(r);
            }
        }
        None
    }

    /// The replica (global index) of `svc` that gets the next request, or None when health
    /// checking leaves none in balancing. `spec` is the service's spec.
    #[inline(always)]
    pub fn pick(&mut self, spec: &ServiceSpec, svc: usize, now: SimTime) -> Option<u32> {
        if self.services[svc].checked {
            return self.pick_checked(spec, svc, now);
        }
        Some(self.pick_unchecked(spec, svc))
    }

    #[inline(always)]
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
                if let Some(t) = &s.least {
                    // The same answer as the scan below, in O(log n).
                    return first + t.least_from(start as usize, n as usize) as u32;
                }
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
            Balancer::LeastRequest {
                choice_count,
                full_scan,
            } => {
                let replicas = &self.replicas;
                let load = |i: u32| replicas[(first + i) as usize].outstanding;
                least_request(&mut s.balancer_rng, n, choice_count, full_scan, load)
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

/// Envoy's least request over `n` candidates with equal weights (`load(i)`: outstanding
/// requests of candidate `i`): `choices` draws with replacement, the least loaded kept (the
/// earliest drawn on a tie); or, with `full_scan`, every candidate, a tie replacing the one kept
/// with probability 1 / (candidates tied so far), so each tied candidate is equally likely.
fn least_request(
    rng: &mut RngStream,
    n: u32,
    choices: u32,
    full_scan: bool,
    load: impl Fn(u32) -> u32,
) -> u32 {
    if full_scan {
        let (mut best, mut best_load, mut tied) = (0, load(0), 1u64);
        for i in 1..n {
            let l = load(i);
            if l < best_load {
                (best, best_load, tied) = (i, l, 1);
            } else if l == best_load {
                tied += 1;
                if rng.below(tied) == 0 {
                    best = i;
                }
            }
        }
        return best;
    }
    let mut best = rng.below(n as u64) as u32;
    let mut best_load = load(best);
    for _ in 1..choices {
        let i = rng.below(n as u64) as u32;
        let l = load(i);
        if l < best_load {
            (best, best_load) = (i, l);
        }
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With distinct loads, N draws with replacement pick the k-th least loaded of n (k from
    /// 0) with probability ((n-k)/n)^N - ((n-k-1)/n)^N: the least of the draws has rank k.
    #[test]
    fn n_choices_pick_ranks_as_order_statistics_say() {
        let (n, draws) = (5u32, 200_000);
        for choices in [2u32, 3] {
            let mut rng = RngStream::derive(3, "lr-test", "balancer");
            let mut hits = [0u32; 5];
            // Replica i has load 10 + i: rank = index.
            for _ in 0..draws {
                hits[least_request(&mut rng, n, choices, false, |i| 10 + i) as usize] += 1;
            }
            for (k, &h) in hits.iter().enumerate() {
                let p = |m: f64| libm::pow(m / n as f64, choices as f64);
                let want = p((n - k as u32) as f64) - p((n - k as u32 - 1) as f64);
                let got = h as f64 / draws as f64;
                // Five binomial standard errors.
                let se = (want * (1.0 - want) / draws as f64).sqrt();
                assert!(
                    (got - want).abs() < 5.0 * se + 1e-9,
                    "N={choices} rank {k}: {got} vs {want}"
                );
            }
        }
    }

    #[test]
    fn a_full_scan_takes_the_least_loaded_and_spreads_ties_evenly() {
        let mut rng = RngStream::derive(4, "lr-test", "balancer");
        assert_eq!(
            least_request(&mut rng, 4, 2, true, |i| [5, 3, 7, 4][i as usize]),
            1
        );
        let draws = 120_000;
        let mut hits = [0u32; 4];
        for _ in 0..draws {
            hits[least_request(&mut rng, 4, 2, true, |i| [2, 1, 1, 1][i as usize]) as usize] += 1;
        }
        assert_eq!(hits[0], 0);
        for &h in &hits[1..] {
            let got = h as f64 / draws as f64;
            assert!((got - 1.0 / 3.0).abs() < 0.007, "{hits:?}");
        }
    }

    /// Ties among the drawn keep the earliest drawn: with equal loads every draw is kept as
    /// first drawn, so the pick is as uniform as one draw.
    #[test]
    fn n_choices_with_equal_loads_are_uniform() {
        let mut rng = RngStream::derive(5, "lr-test", "balancer");
        let draws = 100_000;
        let mut hits = [0u32; 4];
        for _ in 0..draws {
            hits[least_request(&mut rng, 4, 3, false, |_| 7) as usize] += 1;
        }
        for &h in &hits {
            assert!((h as f64 / draws as f64 - 0.25).abs() < 0.007, "{hits:?}");
        }
    }
}
