//! Autoscalers at work: each replica's meter (time-weighted busy workers and requests held,
//! arrivals), the sync that turns the meters into readings for the controller
//! (`policy::autoscale`), and the replicas it asks for, which start `start_delay` later and
//! then warm up and wait for readiness like a restarted replica.
//!
//! The controller sees the target's requested count (started or not), as Kubernetes' does;
//! replicas not yet started are ignored by the calculator, ones that started (or restarted)
//! within the last sync period have no reading yet (metrics need a full window), and a
//! crashed one has none. Scaling down first cancels replicas not yet started, then removes
//! the highest-numbered ones (the newest), which finish what they hold.
//!
//! It knows nothing of how requests are served; it reads the levels `serve.rs` reports.

use super::{Event, Observer, World};
use crate::engine::{EventQueue, SimTime};
use crate::model::spec::ScaleMetric;
use crate::policy::autoscale::{desired_from_readings, Hpa, Reading};
use std::collections::VecDeque;

/// A replica's load since the last sync: integrals of busy workers and requests held over
/// time (count x ns), and arrivals.
#[derive(Clone, Debug, Default)]
pub(crate) struct Meter {
    since: SimTime,
    last: SimTime,
    busy: u32,
    held: u32,
    busy_area: u128,
    held_area: u128,
    pub arrivals: u64,
}

impl Meter {
    /// The levels changed at `now` (called with every level the replica reports).
    #[inline]
    pub fn level(&mut self, busy: u32, held: u32, now: SimTime) {
        let dt = (now.0 - self.last.0) as u128;
        self.busy_area += self.busy as u128 * dt;
        self.held_area += self.held as u128 * dt;
        self.last = now;
        self.busy = busy;
        self.held = held;
    }
    /// The mean of `metric` since the window began (None: an empty window).
    fn read(&mut self, metric: ScaleMetric, workers: u32, now: SimTime) -> Option<f64> {
        let (busy, held) = (self.busy, self.held);
        self.level(busy, held, now);
        let span = now.0.checked_sub(self.since.0).filter(|&s| s > 0)? as f64;
        Some(match metric {
            ScaleMetric::Utilization => self.busy_area as f64 / span / workers.max(1) as f64,
            ScaleMetric::InFlight => self.held_area as f64 / span,
            ScaleMetric::RatePerReplica => self.arrivals as f64 / (span / 1e9),
        })
    }
    /// A new window from `now`, the levels kept.
    fn restart(&mut self, now: SimTime) {
        self.last = now;
        self.since = now;
        self.busy_area = 0;
        self.held_area = 0;
        self.arrivals = 0;
    }
}

/// One change the autoscaler made, for the summary.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct ScaleDecision {
    pub at_ns: u64,
    pub from: u32,
    pub to: u32,
    /// The mean reading of the replicas that had one (None: none had).
    pub metric: Option<f64>,
}

/// At most this many decisions are kept per service (later ones are only counted).
const DECISIONS_MAX: usize = 1000;

/// A service's autoscaler: the controller, the count it asked for, and the replicas it asked
/// for that have not started yet (start time, count to reach), in time order.
pub(crate) struct Scaler {
    pub hpa: Hpa,
    pub requested: u32,
    pending: VecDeque<(SimTime, u32)>,
    readings: Vec<Reading>,
    pub decisions: Vec<ScaleDecision>,
    pub decisions_dropped: u64,
    pub most: u32,
    pub least: u32,
}

impl Scaler {
    pub fn new(hpa: Hpa, initial: u32) -> Self {
        Scaler {
            hpa,
            requested: initial,
            pending: VecDeque::new(),
            readings: Vec::new(),
            decisions: Vec::new(),
            decisions_dropped: 0,
            most: initial,
            least: initial,
        }
    }
}

impl<O: Observer> World<O> {
    /// A sync: read every running replica's meter, let the controller decide, carry it out,
    /// and schedule the next sync.
    #[cold]
    #[inline(never)]
    pub(super) fn autoscale_sync(&mut self, svc: usize, now: SimTime, q: &mut EventQueue<Event>) {
        let spec = self.spec.service(svc);
        let a = spec.autoscale.as_ref().expect("an autoscaled service");
        let (metric, period, delay) = (a.metric, a.sync_period, a.start_delay);
        q.push(
            SimTime(now.0 + period.0),
            Event::Autoscale {
                service: svc as u32,
                pods: false,
            },
        );
        let (first, running) = (
            self.fleet.services[svc].first_replica,
            self.fleet.services[svc].replicas,
        );
        let workers = spec.workers;
        let Some(scaler) = self.fleet.services[svc].scaler.as_deref_mut() else {
            return;
        };
        scaler.readings.clear();
        let (mut sum, mut n) = (0.0, 0u32);
        for r in first..first + running {
            let rep = &mut self.fleet.replicas[r as usize];
            let h = &rep.health;
            let fresh = h
                .up_since()
                .is_some_and(|t| now.0.saturating_sub(t.0) < period.0);
            let meter = rep.extras.meter_mut().expect("a metered replica");
            let value = meter.read(metric, workers, now);
            meter.restart(now);
            let reading = match value {
                Some(v) if h.down == 0 && !fresh => {
                    sum += v;
                    n += 1;
                    if h.ready {
                        Reading::Ready(v)
                    } else {
                        Reading::Unready(v)
                    }
                }
                _ => Reading::Missing,
            };
            scaler.readings.push(reading);
        }
        let current = scaler.requested;
        let proposal = desired_from_readings(scaler.hpa.config(), current, &scaler.readings);
        let desired = scaler.hpa.reconcile(now.0, current, proposal);
        if desired == current {
            return;
        }
        if scaler.decisions.len() < DECISIONS_MAX {
            scaler.decisions.push(ScaleDecision {
                at_ns: now.0,
                from: current,
                to: desired,
                metric: (n > 0).then(|| sum / n as f64),
            });
        } else {
            scaler.decisions_dropped += 1;
        }
        scaler.requested = desired;
        scaler.most = scaler.most.max(desired);
        scaler.least = scaler.least.min(desired);
        if desired > current {
            if delay.0 == 0 {
                self.scale_to(svc, desired, now);
            } else {
                scaler
                    .pending
                    .push_back((SimTime(now.0 + delay.0), desired));
                q.push(
                    SimTime(now.0 + delay.0),
                    Event::Autoscale {
                        service: svc as u32,
                        pods: true,
                    },
                );
            }
        } else {
            // Replicas not started yet go first, then the newest running ones.
            for p in scaler.pending.iter_mut() {
                p.1 = p.1.min(desired);
            }
            scaler.pending.retain(|&(_, to)| to > running);
            if desired < running {
                self.scale_to(svc, desired, now);
            }
        }
    }

    /// Replicas asked for earlier start now.
    #[cold]
    #[inline(never)]
    pub(super) fn pods_start(&mut self, svc: usize, now: SimTime) {
        let running = self.fleet.services[svc].replicas;
        let Some(scaler) = self.fleet.services[svc].scaler.as_deref_mut() else {
            return;
        };
        let mut to = running;
        while scaler.pending.front().is_some_and(|&(at, _)| at <= now) {
            let (_, n) = scaler.pending.pop_front().expect("checked");
            to = to.max(n);
        }
        if to > running {
            self.scale_to(svc, to, now);
        }
    }

    /// Sets the replicas in service; the ones added start a fresh meter window.
    fn scale_to(&mut self, svc: usize, n: u32, now: SimTime) {
        let (first, old) = (
            self.fleet.services[svc].first_replica,
            self.fleet.services[svc].replicas,
        );
        self.scale(svc, n, now);
        for r in first + old..first + n {
            if let Some(m) = self.fleet.replicas[r as usize].extras.meter_mut() {
                m.restart(now);
            }
        }
    }
}
