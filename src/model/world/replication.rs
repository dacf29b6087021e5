//! The world's side of active-passive services (the group itself, heartbeats, takeover,
//! epochs and counted logs, is `model/replication.rs`'s `Group`): callers are routed to the
//! primary they can reach, heartbeat rounds run through the partitions in force, and a request
//! served at a replica is refused unless it is an accepting primary, and replicated if a write.
//!
//! The group lives in its service's state (`ServiceState::ap`); what it needs of the network
//! (may replica a reach replica b now?) it gets as a closure over [`Net`](super::network::Net),
//! borrowed beside it. It changes the group, the request's wait for its standbys, and the fault
//! book (a takeover detects the faults that caused it).

use super::event::Event;
use super::{Observer, World};
use crate::engine::{EventQueue, LimitHit, SimTime};
use crate::model::replication::{ReadOutcome, WriteOutcome, MAX_PENDING};
use crate::model::spec::*;
use crate::policy::Outcome;

impl<O: Observer> World<O> {
    /// The replica of active-passive `svc` a caller (trace entity) sends a request of
    /// `endpoint` to: a standby for a read when the service reads at standbys and one
    /// qualifies, else the primary it can reach.
    #[cold]
    #[inline(never)]
    pub(super) fn ap_route(&mut self, svc: usize, caller: u32, endpoint: u8, now: SimTime) -> u32 {
        let spec = self.spec.service(svc);
        let s = &mut self.fleet.services[svc];
        let first = s.first_replica;
        let g = s.ap.as_mut().expect("active-passive");
        // Replicas' trace entities follow the clients' (`replica_entity`, which would borrow
        // all of `self` beside the group).
        let (net, replica_entities) = (&self.net, self.spec.clients.len() as u32);
        let reachable = |i: u32| {
            net.cuts.is_empty()
                || net
                    .cut_between(caller, replica_entities + first + i)
                    .is_none()
        };
        if let Reads::Standbys { max_lag } = g.spec().reads {
            if !spec.endpoints[endpoint as usize].write {
                if let Some(i) = g.route_read(now, max_lag.map(|d| d.0), reachable) {
                    return first + i;
                }
            }
        }
        first + g.route(reachable)
    }

    /// One heartbeat round of active-passive `svc`; schedules the next.
    #[cold]
    #[inline(never)]
    pub(super) fn heartbeat(&mut self, svc: usize, now: SimTime, q: &mut EventQueue<Event>) {
        let s = &mut self.fleet.services[svc];
        let first = s.first_replica;
        let Some(g) = &mut s.ap else {
            return;
        };
        let net = &self.net;
        let before = g.failovers();
        g.tick(now, |a, b| net.replicas_open(first + a, first + b));
        let (failed_over, interval) = (g.failovers() > before, g.spec().heartbeat_interval);
        if failed_over {
            self.failover_detects(svc, now);
        }
        q.push(
            now + interval,
            Event::Heartbeat {
                service: svc as u32,
            },
        );
    }

    /// A synchronously replicated write in `slot` has reached its standbys: acknowledge it.
    /// Returns whether this was such a write.
    #[cold]
    #[inline(never)]
    pub(super) fn ap_acked(&mut self, slot: u32) -> bool {
        let req = &mut self.requests[slot];
        if req.ack_pos == 0 {
            return false;
        }
        let pos = std::mem::take(&mut req.ack_pos);
        let (svc, replica) = (req.service as usize, req.replica);
        let s = &mut self.fleet.services[svc];
        let local = replica - s.first_replica;
        if let Some(g) = &mut s.ap {
            g.ack(local, pos);
        }
        true
    }

    /// The request in `slot` finished its service at an active-passive replica: refuse it if
    /// the replica is not an accepting primary, and replicate a write. Returns whether the
    /// request was answered or put to wait here.
    #[cold]
    #[inline(never)]
    pub(super) fn ap_write(
        &mut self,
        slot: u32,
        gen: u32,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<bool, LimitHit> {
        let (svc, replica) = {
            let r = &self.requests[slot];
            (r.service as usize, r.replica)
        };
        let s = &mut self.fleet.services[svc];
        let first = s.first_replica;
        let g = s.ap.as_mut().expect("active-passive");
        let net = &self.net;
        let eps = &self.spec.service(svc).endpoints;
        let write = if eps.is_empty() {
            g.is_write()
        } else {
            eps[self.requests[slot].endpoint as usize].write
        };
        if !write && g.spec().reads != Reads::Primary {
            // A read where reads may be served at standbys: it sees what this replica has.
            return match g.read(replica - first, now) {
                ReadOutcome::NotServing => {
                    self.respond(slot, Outcome::Error, true, now, q)?;
                    Ok(true)
                }
                _ => Ok(false),
            };
        }
        let out = g.write(replica - first, write, now, |a, b| {
            net.replicas_open(first + a, first + b)
        });
        match out {
            Err(_) => Err(LimitHit {
                limit: "replication_backlog",
                value: MAX_PENDING as u64,
                at_ns: now.0,
                how_to_raise: "a standby fell more than a million writes behind its primary (a fixed bound); lower the write rate or the replication lag",
            }),
            Ok(WriteOutcome::Acked) => Ok(false),
            Ok(WriteOutcome::AckAt(t, pos)) => {
                self.requests[slot].ack_pos = pos;
                q.push(SimTime(t), Event::ServiceDone { slot, gen });
                Ok(true)
            }
            Ok(WriteOutcome::NotPrimary | WriteOutcome::NoStandby) => {
                self.respond(slot, Outcome::Error, true, now, q)?;
                Ok(true)
            }
        }
    }

    /// A standby of `svc` took over at `now`: that detects the faults in force on its replicas
    /// (a crash, a hang, a partition that names them).
    fn failover_detects(&mut self, svc: usize, now: SimTime) {
        let first = self.fleet.services[svc].first_replica;
        let mine = |r: u32| (first..first + self.fleet.services[svc].replicas).contains(&r);
        for (i, f) in self.spec.faults.iter().enumerate() {
            let active = f.start <= now && f.end.is_none_or(|e| now < e);
            let touches = match &f.effect {
                FaultEffect::Partition { from, to, .. } => {
                    from.iter().chain(to).any(|e| match *e {
                        Endpoint::Replica(r) => mine(r),
                        Endpoint::Service(s) => s == svc,
                        Endpoint::Client(_) => false,
                    })
                }
                e => e.replica().is_some_and(mine),
            };
            if active && touches {
                self.faults.detect(i, now);
            }
        }
    }
}
