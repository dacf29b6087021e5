//! Faults at work: each fault window's effect applied at its start and taken off at its end
//! (crash and restart, hang, slowdown, injected errors, stuck workers, a memory leak and the
//! kill it ends in, link partitions and degradations, disk faults, cache flushes, configuration
//! changes and scaling), and the book of what each fault did.
//!
//! The schedule (when each window starts and ends) is `faults/`'s, computed before the run;
//! this file knows only what a window does. It changes replicas' life and capacity, links (via
//! `Net`), caches, the running configuration and the fault book; a crash answers everything
//! the process held through the normal response path.

use super::event::Event;
use super::fleet::ConcurrencyLimiter;
use super::health::{Leak, NO_FAULT};
use super::{Observer, World};
use crate::engine::{EventQueue, LimitHit, SimTime};
use crate::model::spec::*;
use crate::policy::health::NginxPassive;
use crate::policy::Outcome;

/// What each fault window of the schedule did and what it replaced.
pub(super) struct FaultBook {
    /// Requests each fault failed (reset or refused by a crash, lost to a partition or loss,
    /// failed by an injected error or a disk fault).
    pub failed: Vec<u64>,
    /// When a health check (or a failover) first noticed a fault aimed at a replica.
    pub detected: Vec<Option<SimTime>>,
    /// Workers a stuck-workers fault took (given back at its end).
    pub taken: Vec<u32>,
    /// Per config-change fault: the values it replaced, put back at its end.
    pub config_saved: Vec<ConfigChange>,
    /// Per scale fault: the replica count it replaced.
    pub scale_saved: Vec<u32>,
}

impl FaultBook {
    pub fn new(faults: usize) -> Self {
        FaultBook {
            failed: vec![0; faults],
            detected: vec![None; faults],
            taken: vec![0; faults],
            config_saved: vec![ConfigChange::default(); faults],
            scale_saved: vec![0; faults],
        }
    }

    /// A request failed because of fault `cause` (`NO_FAULT`: nobody to blame, not counted).
    #[inline]
    pub fn count(&mut self, cause: u32) {
        if let Some(c) = self.failed.get_mut(cause as usize) {
            *c += 1;
        }
    }

    /// Fault `i` was noticed at `now`, unless it was noticed before.
    pub fn detect(&mut self, i: usize, now: SimTime) {
        if self.detected[i].is_none() {
            self.detected[i] = Some(now);
        }
    }
}

impl<O: Observer> World<O> {
    /// Fault window `index` starts (`start`) or ends: its effect is applied to, or taken off,
    /// the part of the system it names.
    #[cold]
    #[inline(never)]
    pub(super) fn fault_event(
        &mut self,
        index: usize,
        start: bool,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        let cause = index as u32;
        let fault = &self.spec.faults[index];
        let (end, target) = (fault.end, fault.effect.replica());
        match &fault.effect {
            &FaultEffect::Crash { replica } => {
                if start {
                    self.crash(replica, cause, now, q)?;
                } else {
                    self.restart(replica, now);
                }
            }
            &FaultEffect::Hang { replica } => {
                let h = &mut self.fleet.replicas[replica as usize].health;
                if start {
                    if h.down == 0 {
                        h.paused_until = end.unwrap_or(SimTime(u64::MAX));
                        h.injected().pause_cause = cause;
                        self.log_health(replica, "paused", now);
                    }
                } else if h.paused_until == now {
                    // Not cut short by a crash: resume and drain the backlog.
                    h.paused_until = SimTime::ZERO;
                    self.log_health(replica, "resumed", now);
                    self.drain(replica, now, q)?;
                }
            }
            &FaultEffect::Slowdown { replica, factor } => {
                let i = self.fleet.replicas[replica as usize].health.injected();
                if start {
                    i.slowdowns.push((cause, factor));
                } else {
                    i.slowdowns.retain(|&(c, _)| c != cause);
                }
                i.slow_factor = i.slowdowns.iter().map(|&(_, f)| f).product();
            }
            &FaultEffect::Errors { replica, rate } => {
                let i = self.fleet.replicas[replica as usize].health.injected();
                if start {
                    i.error_rate = rate;
                    i.error_cause = cause;
                } else if i.error_cause == cause {
                    i.error_rate = 0.0;
                    i.error_cause = NO_FAULT;
                }
            }
            &FaultEffect::StuckWorkers { replica, workers } => {
                let total = self.spec.services
                    [self.fleet.replicas[replica as usize].service as usize]
                    .workers;
                let h = &mut self.fleet.replicas[replica as usize].health;
                if start {
                    let take = workers.min(total - h.stuck.min(total));
                    h.stuck += take;
                    self.faults.taken[index] = take;
                } else {
                    h.stuck = h.stuck.saturating_sub(self.faults.taken[index]);
                    self.drain(replica, now, q)?;
                }
            }
            &FaultEffect::MemoryLeak {
                replica,
                per_request_mb,
                limit_mb,
            } => {
                let h = &mut self.fleet.replicas[replica as usize].health;
                if start {
                    // What this process leaked before stays.
                    let leaked_mb = h.leak().map_or(0.0, |l| l.leaked_mb);
                    h.more().leak = Some(Box::new(Leak {
                        per_request_mb,
                        limit_mb,
                        cause,
                        leaked_mb,
                    }));
                } else if let Some(l) = h.leak_mut().filter(|l| l.cause == cause) {
                    // Rolled back: no more leaking (what leaked stays until the next restart).
                    l.per_request_mb = 0.0;
                    l.cause = NO_FAULT;
                }
            }
            FaultEffect::Partition { from, to, one_way } => {
                self.net.partition(from, to, *one_way, cause, start);
            }
            FaultEffect::Degrade {
                from,
                to,
                added_latency,
                loss,
            } => {
                self.net
                    .degrade(*from, *to, added_latency, *loss, cause, start);
            }
            FaultEffect::Spike { .. } => {}
            &FaultEffect::Scale { service, replicas } => {
                let old = self.fleet.services[service].replicas;
                let to = if start {
                    self.faults.scale_saved[index] = old;
                    replicas
                } else {
                    self.faults.scale_saved[index]
                };
                self.scale(service, to, now);
            }
            &FaultEffect::Disk { replica, fault } => {
                if let Some(d) = self.fleet.replicas[replica as usize].extras.disk_mut() {
                    if start {
                        d.fault = Some((fault, cause));
                    } else if d.fault.is_some_and(|(_, c)| c == cause) {
                        d.fault = None;
                    }
                }
            }
            &FaultEffect::FlushCache { service, call } => {
                if start {
                    let edge = self.stacks.call_edge[service][call] as usize;
                    if let Some(c) = &mut self.caches.by_edge[edge] {
                        c.flush(now);
                    }
                }
            }
            &FaultEffect::CacheDown { service, call } => {
                let edge = self.stacks.call_edge[service][call] as usize;
                if let Some(c) = &mut self.caches.by_edge[edge] {
                    c.set_down(start);
                }
            }
            &FaultEffect::SlowCache {
                service,
                call,
                factor,
            } => {
                let edge = self.stacks.call_edge[service][call] as usize;
                if let Some(c) = &mut self.caches.by_edge[edge] {
                    c.slow_factor = if start { factor } else { 1.0 };
                }
            }
            &FaultEffect::Config { target, change } => {
                let set = if start {
                    change
                } else {
                    self.faults.config_saved[index]
                };
                let old = self.apply_config(target, set, now, q)?;
                if start {
                    self.faults.config_saved[index] = old;
                }
            }
        }
        if let Some(r) = target {
            self.fleet.replicas[r as usize].refresh_impaired();
            self.report_capacity(r, now);
        }
        Ok(())
    }

    /// Tells the observer how many workers of `replica` can take a request now: none while it
    /// is down, paused or scaled away, fewer while workers are stuck. (The observer ignores a
    /// report that changes nothing, so callers report after any change that might matter.)
    #[cold]
    #[inline(never)]
    pub(super) fn report_capacity(&mut self, replica: u32, now: SimTime) {
        let rep = &self.fleet.replicas[replica as usize];
        let svc = rep.service as usize;
        let s = &self.fleet.services[svc];
        let h = &rep.health;
        let accepts = replica - s.first_replica < s.replicas && h.down == 0;
        let usable = if !accepts || h.paused_until > now {
            0
        } else {
            self.spec.service(svc).workers.saturating_sub(h.stuck)
        };
        self.obs
            .replica_capacity(svc, rep.index, usable, accepts, now);
    }

    /// Applies a configuration change to the running system; returns the values it replaced.
    /// New invocations of an edge see a new timeout or retry count (those in progress keep
    /// theirs); more workers start queued requests at once, fewer let the busy ones finish.
    #[cold]
    #[inline(never)]
    fn apply_config(
        &mut self,
        target: ConfigTarget,
        change: ConfigChange,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<ConfigChange, LimitHit> {
        let mut old = ConfigChange::default();
        let edge = match target {
            ConfigTarget::Client(c) => Some(self.stacks.client_edge[c] as usize),
            ConfigTarget::Call { service, call } => {
                Some(self.stacks.call_edge[service][call] as usize)
            }
            ConfigTarget::Service(_) => None,
        };
        if let Some(e) = edge {
            let layers = &mut self.stacks.edges[e].layers;
            if let Some(t) = change.timeout {
                // The innermost timeout: the edge's own `timeout` field when it has one.
                if let Some(PolicySpec::Timeout { timeout }) = layers
                    .iter_mut()
                    .rev()
                    .map(|l| &mut l.spec)
                    .find(|s| matches!(s, PolicySpec::Timeout { .. }))
                {
                    old.timeout = Some(std::mem::replace(timeout, t));
                }
            }
            if let Some(a) = change.max_attempts {
                if let Some(PolicySpec::Retry(r)) = layers
                    .iter_mut()
                    .map(|l| &mut l.spec)
                    .find(|s| matches!(s, PolicySpec::Retry(_)))
                {
                    old.max_attempts = Some(std::mem::replace(&mut r.max_attempts, a));
                }
            }
        }
        if let (ConfigTarget::Service(s), Some(w)) = (target, change.workers) {
            old.workers = Some(std::mem::replace(&mut self.spec.service_mut(s).workers, w));
            let first = self.fleet.services[s].first_replica;
            for r in first..first + self.spec.service(s).replicas {
                self.report_capacity(r, now);
                self.drain(r, now, q)?;
            }
        }
        Ok(old)
    }

    /// `svc` runs `n` replicas from now: the ones beyond `n` take no new requests (they finish
    /// what they hold); the ones added start like a restarted process (cold, readiness to earn).
    #[cold]
    #[inline(never)]
    pub(super) fn scale(&mut self, svc: usize, n: u32, now: SimTime) {
        let old = self.fleet.services[svc].replicas;
        let first = self.fleet.services[svc].first_replica;
        self.fleet.services[svc].replicas = n;
        self.fleet.services[svc].rr_next = 0;
        for local in old..n {
            let r = first + local;
            let spec = self.spec.service(svc);
            let (warmup, cold) = (spec.restart.warmup, spec.restart.cold_factor);
            let h = &mut self.fleet.replicas[r as usize].health;
            h.restarted_at(now);
            h.warming = warmup.0 > 0 && cold != 1.0;
            if let Some(p) = h.readiness() {
                p.reset(false);
                h.ready = false;
            }
            self.fleet.replicas[r as usize].refresh_impaired();
            self.log_health(r, "added", now);
            self.report_capacity(r, now);
        }
        for local in n..old {
            self.log_health(first + local, "removed", now);
            self.report_capacity(first + local, now);
        }
    }

    /// Starts queued requests on every free worker of `replica`.
    fn drain(
        &mut self,
        replica: u32,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        let svc = self.fleet.replicas[replica as usize].service as usize;
        let (workers, _) = Self::hold_limits(
            self.spec.service(svc),
            self.spec.service(svc).workers,
            self.spec.service(svc).queue_capacity as usize,
        );
        for _ in 0..workers {
            let r = &self.fleet.replicas[replica as usize];
            if r.queue.is_empty() || r.busy + r.health.stuck >= workers {
                break;
            }
            self.take_next_from_queue(replica, svc, now, q)?;
        }
        Ok(())
    }

    /// A replica's heap: a collection's pause ends (the backlog starts draining, unless a
    /// longer pause holds it), or its live data filled it (killed). Ignored for a process
    /// that has died since.
    #[cold]
    #[inline(never)]
    pub(super) fn heap_event(
        &mut self,
        replica: u32,
        incarnation: u32,
        oom: bool,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        let h = &mut self.fleet.replicas[replica as usize].health;
        if h.incarnation != incarnation || h.down > 0 {
            return Ok(());
        }
        if oom {
            return self.out_of_memory(replica, NO_FAULT, now, q);
        }
        if h.paused_until == now {
            h.paused_until = SimTime::ZERO;
            self.fleet.replicas[replica as usize].refresh_impaired();
            self.report_capacity(replica, now);
            self.drain(replica, now, q)?;
        }
        Ok(())
    }

    /// A leaking replica reached its memory limit: the kernel kills it (everything it holds is
    /// reset, the request that tipped it over included) and it restarts after the delay.
    #[cold]
    #[inline(never)]
    pub(super) fn out_of_memory(
        &mut self,
        replica: u32,
        cause: u32,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        let h = &mut self.fleet.replicas[replica as usize].health;
        if now >= self.count_from {
            h.tally().oom_kills += 1;
        }
        self.log_health(replica, "oom_kill", now);
        self.crash(replica, cause, now, q)?;
        let svc = self.fleet.replicas[replica as usize].service as usize;
        let delay = self.spec.service(svc).restart.delay;
        q.push(now + delay, Event::Restart { replica });
        Ok(())
    }

    /// The replica's process dies: everything it holds is reset.
    #[cold]
    #[inline(never)]
    pub(super) fn crash(
        &mut self,
        replica: u32,
        cause: u32,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        let counting = now >= self.count_from;
        let rep = &mut self.fleet.replicas[replica as usize];
        rep.health.down += 1;
        if rep.health.down > 1 {
            return Ok(()); // already down
        }
        let svc = rep.service as usize;
        let h = &mut rep.health;
        h.injected().down_cause = cause;
        h.incarnation = h.incarnation.wrapping_add(1);
        h.paused_until = SimTime::ZERO;
        h.stuck = 0;
        if counting {
            h.tally().crashes += 1;
        }
        rep.busy = 0;
        if let Some(s) = rep.extras.sharing_mut() {
            s.clear(now.0); // what computed is reset below with the rest
        }
        rep.refresh_impaired();
        // A new process starts its limiter afresh.
        if let Some(l) = &self.spec.service(svc).admission.concurrency_limit {
            rep.extras.make().limiter = Some(ConcurrencyLimiter::new(l));
        }
        self.log_health(replica, "down", now);
        let s = &mut self.fleet.services[svc];
        let local = replica - s.first_replica;
        if let Some(g) = &mut s.ap {
            g.crashed(local, now);
        }
        // Everything the process held: its backlog, then what was in service, in slot order.
        // Answering a queued request clears its `at_server`, so the scan finds only the ones in
        // service; nothing new lands here meanwhile, as the replica is down.
        let queued: Vec<u32> = self.fleet.replicas[replica as usize].queue.take_all();
        self.reset_all(replica, cause, counting, queued, now, q)?;
        let in_service = self.requests.at_replica(replica);
        self.reset_all(replica, cause, counting, in_service, now, q)?;
        self.emit_level(replica, now);
        self.report_capacity(replica, now);
        Ok(())
    }

    /// Answers each of `slots` (held by crashed `replica`) with a reset.
    fn reset_all(
        &mut self,
        replica: u32,
        cause: u32,
        counting: bool,
        slots: Vec<u32>,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        for slot in slots {
            let r = &self.requests[slot];
            if !r.live || r.server_done {
                continue; // answered by a reset sent earlier in this loop
            }
            if counting {
                self.fleet.replicas[replica as usize].health.tally().reset += 1;
            }
            self.faults.count(cause);
            self.requests[slot].conn_error = true;
            self.respond(slot, Outcome::Error, false, now, q)?;
        }
        Ok(())
    }

    /// A crash fault ends, or a liveness kill's restart delay is over.
    #[cold]
    #[inline(never)]
    pub(super) fn restart(&mut self, replica: u32, now: SimTime) {
        let svc = self.fleet.replicas[replica as usize].service as usize;
        let h = &mut self.fleet.replicas[replica as usize].health;
        h.down = h.down.saturating_sub(1);
        if h.down > 0 {
            return;
        }
        if let Some(i) = h.injected_mut() {
            i.down_cause = NO_FAULT;
        }
        h.restarted_at(now);
        if let Some(l) = h.leak_mut() {
            l.leaked_mb = 0.0; // a new process
        }
        if let Some(heap) = self.fleet.replicas[replica as usize].extras.heap_mut() {
            heap.restart();
        }
        let h = &mut self.fleet.replicas[replica as usize].health;
        let r = &self.spec.service(svc).restart;
        h.warming = r.warmup.0 > 0 && r.cold_factor != 1.0;
        // A new container: readiness must be earned again, liveness starts passing.
        if let Some(p) = h.readiness() {
            p.reset(false);
            h.ready = false;
        }
        if let Some(p) = h.liveness() {
            p.reset(true);
        }
        if let Some(n) = h.nginx_mut() {
            *n = NginxPassive::default();
        }
        let s = &mut self.fleet.services[svc];
        if let Some(o) = &mut s.outlier {
            o.reset_host((replica - s.first_replica) as usize);
        }
        let local = replica - s.first_replica;
        if let Some(g) = &mut s.ap {
            g.restarted(local, now);
        }
        self.fleet.replicas[replica as usize].refresh_impaired();
        self.log_health(replica, "up", now);
        self.report_capacity(replica, now);
    }
}
