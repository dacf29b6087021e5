//! Health: a replica's life (crashes, pauses, restarts), the probes that watch it (Kubernetes
//! readiness and liveness), and passive checking of real traffic (NGINX `max_fails`, Envoy
//! outlier detection), which decide whether the balancer may send to it.
//!
//! It owns each replica's [`ReplicaHealth`] and the health log; it changes readiness, NGINX
//! and Envoy state and, through a liveness kill, crashes a replica (`faults.rs` does the
//! crash). It never picks replicas (`balance.rs` reads what it decided) and never serves.

use super::event::{probe, Event};
use super::{Observer, World};
use crate::engine::{EventQueue, LimitHit, RngStream, SimDuration, SimTime};
use crate::model::request::NO_SLOT;
use crate::model::spec::*;
use crate::policy::health::{NginxPassive, OutlierEvent, Probe};
use crate::policy::Outcome;

/// No fault to blame.
pub(super) const NO_FAULT: u32 = u32::MAX;

/// A replica's life and health: faults acting on it, its probes and what they decided.
pub(super) struct ReplicaHealth {
    /// Crash faults and liveness kills in progress; the process runs when 0.
    pub down: u32,
    /// Bumped by every crash, so a probe timeout sent to the old process is ignored.
    pub incarnation: u32,
    /// A stop-the-world pause lasts until here (ZERO: not paused).
    pub paused_until: SimTime,
    /// The seed state of its fault stream (`faults`), which is made at its first draw, in
    /// [`More::fault_rng`].
    fault_seed: u64,
    /// Workers taken by a stuck-workers fault.
    pub stuck: u32,
    /// The last restart in nanoseconds (`NEVER`: up since the run began), for probes'
    /// initial delay and the cold-start warm-up; see [`ReplicaHealth::up_since`].
    up_since_ns: u64,
    /// Restarted with a cold start still in progress (service times are stretched).
    pub warming: bool,
    /// Readiness passing (true without a readiness probe).
    pub ready: bool,
    /// What most replicas of a large model never have (faults acting on it, a leak, probes,
    /// NGINX state, counts), in one box: an idle replica carries one pointer for all of it.
    pub more: Option<Box<More>>,
}

/// `up_since_ns` of a replica never restarted.
const NEVER: u64 = u64::MAX;

/// The parts of a replica's health only some replicas have (see [`ReplicaHealth::more`]).
#[derive(Default)]
pub(super) struct More {
    /// What faults set: made at the first fault that acts on the replica.
    pub injected: Option<Box<Injected>>,
    /// Its fault stream, made from `fault_seed` at the first draw.
    pub fault_rng: Option<RngStream>,
    /// A memory leak in force, or what one leaked into this process (None: never leaked).
    pub leak: Option<Box<Leak>>,
    /// Its probes, when its service has any.
    pub probes: Option<Box<Probes>>,
    /// NGINX's passive state, when the service checks that way.
    pub nginx: Option<Box<NginxPassive>>,
    /// What happened to it, for the reports; made at the first count (see [`Tally`]).
    pub tally: Option<Box<Tally>>,
}

/// A memory leak: megabytes per finished request while the fault is in force (0 after), the
/// kill point, the fault, and what this process has leaked so far.
#[derive(Clone, Copy, Debug)]
pub(super) struct Leak {
    pub per_request_mb: f64,
    pub limit_mb: f64,
    pub cause: u32,
    pub leaked_mb: f64,
}

/// The faults acting on a replica, and which fault to blame for what it does.
#[derive(Clone, Debug)]
pub(super) struct Injected {
    pub down_cause: u32,
    pub pause_cause: u32,
    /// Active slowdowns (fault index, factor) and their product.
    pub slowdowns: Vec<(u32, f64)>,
    pub slow_factor: f64,
    pub error_rate: f64,
    pub error_cause: u32,
}

impl Default for Injected {
    fn default() -> Self {
        Injected {
            down_cause: NO_FAULT,
            pause_cause: NO_FAULT,
            slowdowns: Vec::new(),
            slow_factor: 1.0,
            error_rate: 0.0,
            error_cause: NO_FAULT,
        }
    }
}

/// A replica's Kubernetes probes.
pub(super) struct Probes {
    pub readiness: Option<Probe>,
    pub liveness: Option<Probe>,
    /// Where in its period each probe (readiness, liveness) first fires, as a share of it:
    /// the probers of a running deployment are in arbitrary phase.
    pub phase: [f64; 2],
}

/// A replica's counts and health log: most replicas of a large model never crash, refuse,
/// shed or change state, so these live in a box made at the first entry, and an idle replica
/// carries one pointer for them.
#[derive(Clone, Debug, Default)]
pub(super) struct Tally {
    pub crashes: u64,
    pub liveness_kills: u64,
    pub oom_kills: u64,
    pub refused: u64,
    pub reset: u64,
    pub ejections: u64,
    /// Admission control: shed over the concurrency limit, over the queue-time bound, and
    /// dropped unserved past their deadline.
    pub shed_by_limit: u64,
    pub shed_by_queue_time: u64,
    pub shed_expired: u64,
    pub log: Vec<HealthChange>,
    pub log_dropped: u64,
}

impl ReplicaHealth {
    /// Its rarer parts, made at the first use.
    pub fn more(&mut self) -> &mut More {
        self.more.get_or_insert_with(Box::default)
    }

    /// The faults acting on it, made at the first.
    pub fn injected(&mut self) -> &mut Injected {
        self.more().injected.get_or_insert_with(Box::default)
    }

    /// The faults acting on it, if any ever did.
    pub fn injected_mut(&mut self) -> Option<&mut Injected> {
        self.more.as_mut().and_then(|m| m.injected.as_deref_mut())
    }

    fn read<T>(&self, f: impl FnOnce(&Injected) -> T, none: T) -> T {
        let injected = self.more.as_ref().and_then(|m| m.injected.as_deref());
        injected.map_or(none, f)
    }

    /// True with probability `p`, from its fault stream (made at the first draw).
    pub fn fault_chance(&mut self, p: f64) -> bool {
        let seed = self.fault_seed;
        let rng = self
            .more()
            .fault_rng
            .get_or_insert_with(|| RngStream::from_state(seed));
        rng.chance(p)
    }

    /// Reseeds its fault stream with `salt` (see [`RngStream::reseed`]), made or not.
    pub fn reseed_faults(&mut self, salt: u64) {
        match self.more.as_mut().and_then(|m| m.fault_rng.as_mut()) {
            Some(rng) => rng.reseed(salt),
            None => self.fault_seed = RngStream::reseeded_state(self.fault_seed, salt),
        }
    }

    /// The last restart (None: up since the run began).
    pub fn up_since(&self) -> Option<SimTime> {
        (self.up_since_ns != NEVER).then_some(SimTime(self.up_since_ns))
    }

    pub fn restarted_at(&mut self, now: SimTime) {
        self.up_since_ns = now.0;
    }

    /// Its memory leak, if one ever acted.
    pub fn leak_mut(&mut self) -> Option<&mut Leak> {
        self.more.as_mut().and_then(|m| m.leak.as_deref_mut())
    }

    pub fn leak(&self) -> Option<&Leak> {
        self.more.as_ref().and_then(|m| m.leak.as_deref())
    }

    pub fn probes(&self) -> Option<&Probes> {
        self.more.as_ref().and_then(|m| m.probes.as_deref())
    }

    pub fn nginx(&self) -> Option<&NginxPassive> {
        self.more.as_ref().and_then(|m| m.nginx.as_deref())
    }

    pub fn nginx_mut(&mut self) -> Option<&mut NginxPassive> {
        self.more.as_mut().and_then(|m| m.nginx.as_deref_mut())
    }

    pub fn down_cause(&self) -> u32 {
        self.read(|i| i.down_cause, NO_FAULT)
    }

    pub fn pause_cause(&self) -> u32 {
        self.read(|i| i.pause_cause, NO_FAULT)
    }

    pub fn slow_factor(&self) -> f64 {
        self.read(|i| i.slow_factor, 1.0)
    }

    pub fn error_rate(&self) -> f64 {
        self.read(|i| i.error_rate, 0.0)
    }

    pub fn error_cause(&self) -> u32 {
        self.read(|i| i.error_cause, NO_FAULT)
    }

    fn probes_mut(&mut self) -> Option<&mut Probes> {
        self.more.as_mut().and_then(|m| m.probes.as_deref_mut())
    }

    pub fn readiness(&mut self) -> Option<&mut Probe> {
        self.probes_mut().and_then(|p| p.readiness.as_mut())
    }

    pub fn liveness(&mut self) -> Option<&mut Probe> {
        self.probes_mut().and_then(|p| p.liveness.as_mut())
    }

    /// Its tally, made at the first count.
    pub fn tally(&mut self) -> &mut Tally {
        self.more().tally.get_or_insert_with(Box::default)
    }

    /// Its tally as it stands (all zero when nothing was counted).
    pub fn counts(&self) -> std::borrow::Cow<'_, Tally> {
        match self.more.as_ref().and_then(|m| m.tally.as_deref()) {
            Some(t) => std::borrow::Cow::Borrowed(t),
            None => std::borrow::Cow::Owned(Tally::default()),
        }
    }
}

/// One change of a replica's state, for the summary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
pub struct HealthChange {
    pub at_ns: u64,
    /// `down`, `up`, `unready`, `ready`, `ejected`, `returned`, `nginx_down`, `liveness_kill`,
    /// `paused`, `resumed`, `oom_kill`, `added`, `removed`.
    pub what: &'static str,
}

/// At most this many changes are kept per replica; later ones are only counted
/// (`changes_dropped`). The log feeds the report's health timelines, and the counts (crashes,
/// ejections, kills) stay exact beyond it. A replica that flaps at every 1 s probe period
/// fills it in about eight simulated minutes; 1,000 entries of 24 bytes bound it at 24 KB.
const HEALTH_LOG_MAX: usize = 1000;
const _: () = assert!(std::mem::size_of::<HealthChange>() == 24);

impl ReplicaHealth {
    /// A replica as the run starts: up, ready, passing its probes, with its fault and probe
    /// phase streams (`NAME` is `service:S/replica:N`).
    pub fn new(s: &ServiceSpec, seed: u64, name: &str) -> Self {
        let mut h = ReplicaHealth {
            down: 0,
            incarnation: 0,
            paused_until: SimTime::ZERO,
            fault_seed: RngStream::derive_state(seed, name, "faults"),
            stuck: 0,
            up_since_ns: NEVER,
            warming: false,
            ready: true,
            more: None,
        };
        // The run starts with every replica up and passing its probes.
        if s.health.readiness.is_some() || s.health.liveness.is_some() {
            let mut rng = RngStream::derive(seed, name, "probe_phase");
            h.more().probes = Some(Box::new(Probes {
                readiness: s.health.readiness.map(|c| Probe::new(c, true)),
                liveness: s.health.liveness.map(|c| Probe::new(c, true)),
                phase: [rng.uniform(), rng.uniform()],
            }));
        }
        if matches!(s.health.passive, Some(PassiveHealth::Nginx(_))) {
            h.more().nginx = Some(Box::default());
        }
        h
    }
}

impl<O: Observer> World<O> {
    /// Appends to a replica's health log (bounded).
    #[cold]
    #[inline(never)]
    pub(super) fn log_health(&mut self, replica: u32, what: &'static str, now: SimTime) {
        // Every logged change of a replica's state (readiness, ejection, a restart, replicas
        // added) may change whether the balancer can pick it.
        let svc = self.fleet.replicas[replica as usize].service as usize;
        self.fleet
            .refresh_routable(replica, self.spec.service(svc), now);
        let t = self.fleet.replicas[replica as usize].health.tally();
        if t.log.len() < HEALTH_LOG_MAX {
            t.log.push(HealthChange { at_ns: now.0, what });
        } else {
            t.log_dropped += 1;
        }
    }

    /// The replica just left load balancing: the first such moment during a fault aimed at it
    /// is that fault's detection time.
    #[cold]
    #[inline(never)]
    pub(super) fn left_balancing(&mut self, replica: u32, what: &'static str, now: SimTime) {
        self.log_health(replica, what, now);
        for (i, f) in self.spec.faults.iter().enumerate() {
            let Some(target) = f.effect.replica() else {
                continue;
            };
            let active = f.start <= now && f.end.is_none_or(|e| now <= e);
            if target == replica && active {
                self.faults.detect(i, now);
            }
        }
    }

    #[cold]
    #[inline(never)]
    pub(super) fn probe(
        &mut self,
        replica: u32,
        what: u8,
        incarnation: u32,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<(), LimitHit> {
        let kind = what & 1;
        let svc = self.fleet.replicas[replica as usize].service as usize;
        let health = self.spec.service(svc).health;
        let cfg = if kind == probe::READINESS {
            health.readiness
        } else {
            health.liveness
        }
        .expect("probes are scheduled only when configured");
        let h = &self.fleet.replicas[replica as usize].health;
        let ok = if what & probe::TIMED_OUT != 0 {
            if incarnation != h.incarnation {
                return Ok(()); // sent to a process that has since died
            }
            false
        } else {
            q.push(
                now + SimDuration(cfg.period_ns),
                Event::Probe {
                    replica,
                    what,
                    incarnation: 0,
                },
            );
            if h.up_since()
                .is_some_and(|t| now.0 < t.0 + cfg.initial_delay_ns)
            {
                return Ok(()); // initialDelaySeconds after a (re)start
            }
            if h.down > 0 {
                false // connection refused
            } else if h.paused_until > now && h.paused_until.0 - now.0 >= cfg.timeout_ns {
                q.push(
                    now + SimDuration(cfg.timeout_ns),
                    Event::Probe {
                        replica,
                        what: what | probe::TIMED_OUT,
                        incarnation: h.incarnation,
                    },
                );
                return Ok(());
            } else {
                true
            }
        };
        let h = &mut self.fleet.replicas[replica as usize].health;
        if kind == probe::READINESS {
            match h.readiness().and_then(|p| p.on_result(ok)) {
                Some(false) => {
                    h.ready = false;
                    self.left_balancing(replica, "unready", now);
                }
                Some(true) => {
                    h.ready = true;
                    self.log_health(replica, "ready", now);
                }
                None => {}
            }
        } else if let Some(false) = h.liveness().and_then(|p| p.on_result(ok)) {
            if h.down == 0 {
                // The kubelet kills the container and starts a new one after the delay.
                if now >= self.count_from {
                    h.tally().liveness_kills += 1;
                }
                let cause = if h.paused_until > now {
                    h.pause_cause()
                } else {
                    NO_FAULT
                };
                self.left_balancing(replica, "liveness_kill", now);
                self.crash(replica, cause, now, q)?;
                let delay = self.spec.service(svc).restart.delay;
                q.push(now + delay, Event::Restart { replica });
            }
        }
        Ok(())
    }

    #[cold]
    #[inline(never)]
    pub(super) fn outlier_sweep(&mut self, svc: usize, now: SimTime, q: &mut EventQueue<Event>) {
        let first = self.fleet.services[svc].first_replica;
        let mut out = std::mem::take(&mut self.fleet.unejected);
        if let Some(o) = &mut self.fleet.services[svc].outlier {
            o.sweep(now.0, &mut out);
            q.push(
                now + SimDuration(o.config().interval_ns),
                Event::OutlierSweep {
                    service: svc as u32,
                },
            );
        }
        for &i in &out {
            self.log_health(first + i as u32, "returned", now);
        }
        self.fleet.unejected = out;
    }

    /// Passive health checking sees the outcome of a request to `replica`.
    #[cold]
    #[inline(never)]
    pub(super) fn passive_result(
        &mut self,
        svc: usize,
        replica: u32,
        status: Outcome,
        conn_error: bool,
        now: SimTime,
    ) {
        match self.spec.service(svc).health.passive {
            Some(PassiveHealth::Nginx(cfg)) => {
                // proxy_next_upstream's default `error timeout`: connection failures and
                // timeouts count, an HTTP error response does not.
                let failed = conn_error || matches!(status, Outcome::Refused | Outcome::Timeout);
                let h = &mut self.fleet.replicas[replica as usize].health;
                let nginx = h.nginx_mut().expect("nginx passive health has its state");
                let down = nginx.on_result(&cfg, !failed, now.0);
                // A failure may disable it, a success restore it (only the first is logged).
                self.fleet
                    .refresh_routable(replica, self.spec.service(svc), now);
                if down && self.fleet.services[svc].replicas > 1 {
                    self.left_balancing(replica, "nginx_down", now);
                }
            }
            Some(PassiveHealth::Envoy(_)) => {
                // 5xx and locally originated failures (reset, refused, timeout) alike.
                let failed = !matches!(status, Outcome::Ok | Outcome::Degraded);
                let s = &mut self.fleet.services[svc];
                let host = (replica - s.first_replica) as usize;
                let o = s
                    .outlier
                    .as_mut()
                    .expect("envoy passive health has a detector");
                if o.on_result(host, !failed, now.0) == OutlierEvent::Ejected {
                    self.fleet.replicas[replica as usize]
                        .health
                        .tally()
                        .ejections += 1;
                    self.left_balancing(replica, "ejected", now);
                }
            }
            None => {}
        }
    }

    /// A per-attempt timeout fired with request `slot` (generation `gen`) still out: passive
    /// health checking counts it against its replica now, not when its late answer comes.
    #[cold]
    #[inline(never)]
    pub(super) fn attempt_timed_out(&mut self, slot: u32, gen: u32, now: SimTime) {
        if slot == NO_SLOT {
            return;
        }
        let r = &mut self.requests[slot];
        if r.gen != gen || !r.live || r.abandoned {
            return;
        }
        r.abandoned = true;
        let (svc, replica) = (r.service as usize, r.replica);
        if self.fleet.services[svc].checked {
            self.passive_result(svc, replica, Outcome::Timeout, false, now);
        }
    }
}
