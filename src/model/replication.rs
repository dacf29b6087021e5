//! Active-passive replication: who is primary, what each replica's log holds, and what a
//! failover or a split brain costs in acknowledged writes.
//!
//! A [`Group`] is the replicas of one active-passive service, numbered locally 0..n. Replica 0
//! starts as primary of epoch 1. Every `heartbeat_interval` (a group tick) each running replica
//! sends a heartbeat to every other; the world says which messages get through (partitions,
//! crashes). A standby that has heard no primary for `missed_heartbeats` intervals is a
//! candidate; the lowest-numbered candidate takes over (with quorum fencing, only with votes
//! from a majority of replicas that have all lost the primary). Epochs only grow: a primary
//! that hears a primary of a higher epoch steps down and becomes its standby, discarding what
//! its log held beyond the point the new epoch started from.
//!
//! Logs are counted, not stored: a replica's log is its length on the lineage it follows, and
//! a write is a position in it. Shipping to a standby is a FIFO of (apply time, position).
//!
//! Accounting (the figures the issue asks for):
//! - a promotion loses the writes the old primary had acknowledged beyond what the new one had
//!   applied (`acked_len - log`): acknowledged, not replicated, gone;
//! - a write acknowledged by a primary whose epoch is older than the newest is *conflicting*:
//!   another primary exists; it is lost too, as the newest epoch wins when they meet;
//! - split brain is the time during which two or more primaries accept writes.
//!
//! It knows nothing of requests, events or the network; the world passes in `now`, whether
//! replica `i` can reach `j`, and random draws through the group's own streams. Heartbeats are
//! taken to arrive within the tick that sent them (their latency is far below the interval).

use super::spec::{ActivePassiveSpec, Fencing, Replication};
use crate::engine::{RngStream, SimTime};
use std::collections::VecDeque;

/// At most this many writes wait to be applied at one standby (rate x lag); beyond it the run
/// stops with a limit.
pub const MAX_PENDING: usize = 1_000_000;

/// At most this many failovers and split-brain intervals are listed per service (all are
/// counted).
const MAX_LISTED: usize = 1000;

#[derive(Clone, Debug)]
struct Node {
    up: bool,
    primary: bool,
    /// The epoch it leads (primary) or follows (standby).
    epoch: u32,
    /// Writes in its log (a primary's own; a standby's applied).
    log: u64,
    /// Primary: writes acknowledged to callers (a prefix of the log).
    acked_len: u64,
    /// When it last heard a primary of its epoch or newer.
    heard_primary: SimTime,
    /// Primary: the last tick each peer acknowledged its heartbeat.
    acked_at: Vec<SimTime>,
    /// Primary with quorum fencing: accepts writes until here.
    lease_until: SimTime,
    /// Standby: shipped writes not yet applied, (apply time ns, position, time written ns),
    /// in order.
    pending: VecDeque<(u64, u64, u64)>,
    last_apply_ns: u64,
    /// Standby: missed writes; it catches up in full the next time it hears its primary.
    stalled: bool,
    /// Stalled: when the oldest write it lacks was written (at the latest).
    missing_since_ns: u64,
}

/// One promotion.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Failover {
    pub at_ns: u64,
    /// Local replica indices.
    pub from: Option<u32>,
    pub to: u32,
    pub epoch: u32,
    /// Writes the old primary had acknowledged that the new one did not have.
    pub writes_lost: u64,
}

/// What a write at a replica does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Acknowledged now.
    Acked,
    /// Synchronous replication: acknowledged at this time (ns), when every reachable standby
    /// has it. The caller calls [`Group::ack`] then.
    AckAt(u64, u64),
    /// Refused: the replica is not primary, or its lease has run out.
    NotPrimary,
    /// Synchronous replication with no standby reachable.
    NoStandby,
}

/// The figures of one active-passive service.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct ReplicationReport {
    pub writes_acked: u64,
    pub acked_writes_lost: u64,
    pub conflicting_writes: u64,
    /// Requests refused because the replica was not (or no longer) an accepting primary.
    pub refused_not_primary: u64,
    /// Synchronous writes refused because no standby was reachable.
    pub refused_no_standby: u64,
    pub failovers: Vec<Failover>,
    pub failovers_total: u64,
    pub split_brain_ns: u64,
    /// (start ns, end ns) of each split brain (end: the end of the run if it lasted).
    pub split_brain_intervals: Vec<(u64, u64)>,
    /// Epoch of each replica at the end, and which were primary.
    pub primaries_at_end: Vec<u32>,
    /// Reads served by standbys (`reads: Standbys`), and how stale they were.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub standby_reads: Option<StandbyReads>,
}

/// Reads served at standbys: how many saw less than their primary had acknowledged. Counted
/// over the whole run, warm-up included, like the other replication figures.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StandbyReads {
    /// Reads served by a standby (the rest of the reads went to the primary).
    pub at_standbys: u64,
    /// Reads sent to the primary because no standby qualified (none reachable and following
    /// the newest primary, or every one lagging beyond `max_lag`).
    pub to_primary: u64,
    /// Of the reads at standbys, those that missed a write the primary had acknowledged.
    pub stale: u64,
    /// Over the stale reads: the age of the oldest write each missed (mean and largest) and
    /// the most writes one missed.
    pub mean_staleness_ms: f64,
    pub max_staleness_ms: f64,
    /// When the stalest read was served (seconds into the run).
    pub stalest_at_s: f64,
    pub max_writes_behind: u64,
    #[serde(skip)]
    staleness_sum_ns: u128,
}

/// What a read at a replica saw.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReadOutcome {
    /// Everything its primary had acknowledged.
    Fresh,
    /// It missed `writes` acknowledged writes, the oldest written `age_ns` before the read.
    Stale { writes: u64, age_ns: u64 },
    /// The replica serves no reads (not up, or a standby of an older epoch).
    NotServing,
}

/// The replicas of one active-passive service.
pub struct Group {
    spec: ActivePassiveSpec,
    nodes: Vec<Node>,
    max_epoch: u32,
    /// The replica that led each epoch (index epoch - 1) and the log length it started from.
    leaders: Vec<(u32, u64)>,
    lag_rng: RngStream,
    write_rng: RngStream,
    report: ReplicationReport,
    split_since: Option<SimTime>,
    /// Scratch: who voted this tick.
    voted: Vec<bool>,
    /// The next standby to try for a read (round robin).
    read_next: u32,
}

impl Group {
    /// Reseeds its streams (see [`RngStream::reseed`]).
    pub fn reseed(&mut self, salt: u64) {
        self.lag_rng.reseed(salt);
        self.write_rng.reseed(salt);
    }

    /// `n` replicas, replica 0 primary; streams derived from the service's name.
    pub fn new(spec: ActivePassiveSpec, n: u32, seed: u64, service: &str) -> Self {
        let standby_reads = matches!(spec.reads, super::spec::Reads::Standbys { .. });
        let n = n as usize;
        let nodes = (0..n)
            .map(|i| Node {
                up: true,
                primary: i == 0,
                epoch: 1,
                log: 0,
                acked_len: 0,
                heard_primary: SimTime::ZERO,
                acked_at: vec![SimTime::ZERO; n],
                lease_until: match spec.fencing {
                    Fencing::None => SimTime(u64::MAX),
                    // The starting primary holds a lease as if its standbys had just answered.
                    Fencing::Quorum { lease } => SimTime(lease.0),
                },
                pending: VecDeque::new(),
                last_apply_ns: 0,
                stalled: false,
                missing_since_ns: 0,
            })
            .collect();
        Group {
            spec,
            nodes,
            max_epoch: 1,
            leaders: vec![(0, 0)],
            lag_rng: RngStream::derive(seed, &format!("service:{service}"), "replication_lag"),
            write_rng: RngStream::derive(seed, &format!("service:{service}"), "writes"),
            report: ReplicationReport {
                writes_acked: 0,
                acked_writes_lost: 0,
                conflicting_writes: 0,
                refused_not_primary: 0,
                refused_no_standby: 0,
                failovers: Vec::new(),
                failovers_total: 0,
                split_brain_ns: 0,
                split_brain_intervals: Vec::new(),
                primaries_at_end: Vec::new(),
                standby_reads: standby_reads.then(StandbyReads::default),
            },
            split_since: None,
            voted: vec![false; n],
            read_next: 0,
        }
    }

    pub fn spec(&self) -> &ActivePassiveSpec {
        &self.spec
    }

    /// Promotions so far.
    pub fn failovers(&self) -> u64 {
        self.report.failovers_total
    }

    fn majority(&self) -> usize {
        self.nodes.len() / 2 + 1
    }

    fn window_ns(&self) -> u64 {
        self.spec.heartbeat_interval.0 * self.spec.missed_heartbeats as u64
    }

    /// Does replica `i` accept writes at `now`?
    fn accepting(&self, i: usize, now: SimTime) -> bool {
        let n = &self.nodes[i];
        n.up && n.primary && now < n.lease_until
    }

    /// Is this request a write? (One draw per request from the group's stream.)
    pub fn is_write(&mut self) -> bool {
        let f = self.spec.write_fraction;
        f >= 1.0 || (f > 0.0 && self.write_rng.chance(f))
    }

    /// The replica a caller sends to: the primary of the highest epoch it can reach and that
    /// runs; failing that, the highest-epoch primary (the caller finds out by a refusal or a
    /// timeout); failing that, replica 0 (which answers that it is not primary).
    pub fn route(&self, reachable: impl Fn(u32) -> bool) -> u32 {
        let mut best: Option<(bool, u32, u32)> = None;
        for (i, n) in self.nodes.iter().enumerate() {
            if !n.primary {
                continue;
            }
            let key = (n.up && reachable(i as u32), n.epoch, i as u32);
            if best.is_none_or(|b| (key.0, key.1) > (b.0, b.1)) {
                best = Some(key);
            }
        }
        best.map_or(0, |b| b.2)
    }

    /// How far standby `i` is behind what the primary it follows has acknowledged, at `now`.
    fn staleness(&mut self, i: usize, now: SimTime) -> ReadOutcome {
        self.settle(i, now);
        let n = &self.nodes[i];
        let leader = self.leaders[n.epoch as usize - 1].0 as usize;
        let acked = self.nodes[leader].acked_len;
        if n.log >= acked {
            return ReadOutcome::Fresh;
        }
        let since = if n.stalled {
            n.missing_since_ns
        } else {
            n.pending.front().map_or(now.0, |p| p.2)
        };
        ReadOutcome::Stale {
            writes: acked - n.log,
            age_ns: now.0.saturating_sub(since),
        }
    }

    /// The standby a read goes to, in turn: up, following the newest primary, reachable, and
    /// lagging no more than `max_lag_ns`; None (the caller sends it to the primary) when none
    /// qualifies.
    pub fn route_read(
        &mut self,
        now: SimTime,
        max_lag_ns: Option<u64>,
        reachable: impl Fn(u32) -> bool,
    ) -> Option<u32> {
        let n = self.nodes.len() as u32;
        for k in 0..n {
            let i = (self.read_next + k) % n;
            let x = &self.nodes[i as usize];
            if !x.up || x.primary || x.epoch != self.max_epoch || !reachable(i) {
                continue;
            }
            if let Some(max) = max_lag_ns {
                if let ReadOutcome::Stale { age_ns, .. } = self.staleness(i as usize, now) {
                    if age_ns > max {
                        continue;
                    }
                }
            }
            self.read_next = (i + 1) % n;
            return Some(i);
        }
        self.standby_reads().to_primary += 1;
        None
    }

    /// A read served at replica `i` at `now`: a primary's is fresh; a standby's sees what it
    /// has applied (counted in the figures).
    pub fn read(&mut self, i: u32, now: SimTime) -> ReadOutcome {
        let i = i as usize;
        let n = &self.nodes[i];
        if !n.up {
            return ReadOutcome::NotServing;
        }
        if n.primary {
            return if self.accepting(i, now) {
                ReadOutcome::Fresh
            } else {
                ReadOutcome::NotServing
            };
        }
        let out = self.staleness(i, now);
        let r = self.standby_reads();
        r.at_standbys += 1;
        if let ReadOutcome::Stale { writes, age_ns } = out {
            r.stale += 1;
            r.staleness_sum_ns += age_ns as u128;
            if age_ns as f64 / 1e6 > r.max_staleness_ms {
                r.max_staleness_ms = age_ns as f64 / 1e6;
                r.stalest_at_s = now.0 as f64 / 1e9;
            }
            r.max_writes_behind = r.max_writes_behind.max(writes);
        }
        out
    }

    fn standby_reads(&mut self) -> &mut StandbyReads {
        self.report
            .standby_reads
            .get_or_insert_with(Default::default)
    }

    /// Applies what has reached standby `i` by `now`.
    fn settle(&mut self, i: usize, now: SimTime) {
        let n = &mut self.nodes[i];
        while let Some(&(t, pos, _)) = n.pending.front() {
            if t > now.0 {
                break;
            }
            n.log = n.log.max(pos);
            n.pending.pop_front();
        }
    }

    /// A request reaches the end of its service at replica `i`: is it accepted, and when is a
    /// write acknowledged? `open(i, j)`: can `i` send to `j` now.
    pub fn write(
        &mut self,
        i: u32,
        write: bool,
        now: SimTime,
        open: impl Fn(u32, u32) -> bool,
    ) -> Result<WriteOutcome, &'static str> {
        let i = i as usize;
        if !self.accepting(i, now) {
            self.report.refused_not_primary += 1;
            return Ok(WriteOutcome::NotPrimary);
        }
        if !write {
            return Ok(WriteOutcome::Acked);
        }
        let (epoch, pos) = {
            let p = &mut self.nodes[i];
            (p.epoch, p.log + 1)
        };
        let sync = matches!(self.spec.replication, Replication::Sync { .. });
        let (Replication::Sync { lag } | Replication::Async { lag }) = &self.spec.replication;
        let mut ack_ns = now.0;
        let mut shipped = 0;
        for j in 0..self.nodes.len() {
            let s = &self.nodes[j];
            if j == i || !s.up || s.primary || s.epoch != epoch {
                continue;
            }
            if s.stalled || !open(i as u32, j as u32) {
                // Missed this write: it catches up in full the next time it hears the primary
                // (and a synchronous write does not wait for it).
                let s = &mut self.nodes[j];
                if !s.stalled {
                    s.missing_since_ns = s.pending.front().map_or(now.0, |p| p.2);
                }
                s.stalled = true;
                s.pending.clear();
                continue;
            }
            let d = lag.sample(&mut self.lag_rng);
            let s = &mut self.nodes[j];
            let t = s.last_apply_ns.max(now.0 + d);
            if s.pending.len() >= MAX_PENDING {
                return Err("replication backlog");
            }
            s.pending.push_back((t, pos, now.0));
            s.last_apply_ns = t;
            ack_ns = ack_ns.max(t);
            shipped += 1;
        }
        if sync && shipped == 0 {
            self.report.refused_no_standby += 1;
            return Ok(WriteOutcome::NoStandby);
        }
        self.nodes[i].log = pos;
        if sync {
            Ok(WriteOutcome::AckAt(ack_ns, pos))
        } else {
            self.ack(i as u32, pos);
            Ok(WriteOutcome::Acked)
        }
    }

    /// Write `pos` of replica `i` is acknowledged to its caller.
    pub fn ack(&mut self, i: u32, pos: u64) {
        let n = &mut self.nodes[i as usize];
        n.acked_len = n.acked_len.max(pos);
        self.report.writes_acked += 1;
        if n.epoch < self.max_epoch {
            // A newer primary exists: this write is on a branch that loses.
            self.report.conflicting_writes += 1;
            self.report.acked_writes_lost += 1;
        }
    }

    /// Replica `i`'s process dies: what it had not shipped is gone, and a standby's unapplied
    /// writes with it.
    pub fn crashed(&mut self, i: u32, now: SimTime) {
        let i = i as usize;
        self.nodes[i].up = false;
        if self.nodes[i].primary {
            let epoch = self.nodes[i].epoch;
            for j in 0..self.nodes.len() {
                let s = &mut self.nodes[j];
                if j != i && !s.primary && s.epoch == epoch {
                    let first_lost = s.pending.iter().find(|p| p.0 > now.0).map(|p| p.2);
                    s.pending.retain(|&(t, _, _)| t <= now.0);
                    if let Some(w) = first_lost {
                        // Behind the primary's log, if it comes back.
                        if !s.stalled {
                            s.missing_since_ns = w;
                        }
                        s.stalled = true;
                    }
                }
            }
        } else {
            self.settle(i, now);
            let s = &mut self.nodes[i];
            if !s.stalled {
                s.missing_since_ns = s.pending.front().map_or(now.0, |p| p.2);
            }
            s.pending.clear();
            s.stalled = true;
        }
        self.track_split(now);
    }

    /// Replica `i` runs again with the log it had (durable), as a standby of the epoch it
    /// knew, even if it was the primary: it takes the role back only by the usual takeover
    /// after a full window without hearing a primary (as HA managers demote a restarted
    /// primary until it confirms it still leads), so a restart never makes a second primary.
    pub fn restarted(&mut self, i: u32, now: SimTime) {
        let n = &mut self.nodes[i as usize];
        n.up = true;
        n.primary = false;
        n.heard_primary = now;
        n.last_apply_ns = now.0;
        if !n.stalled {
            n.missing_since_ns = now.0;
        }
        n.stalled = true;
        self.track_split(now);
    }

    /// One heartbeat round at `now`.
    pub fn tick(&mut self, now: SimTime, open: impl Fn(u32, u32) -> bool) {
        let n = self.nodes.len();
        for i in 0..n {
            if self.nodes[i].up && !self.nodes[i].primary {
                self.settle(i, now);
            }
        }
        // Heartbeats, from a snapshot of who is primary of what.
        let snapshot: Vec<(bool, bool, u32, u64)> = self
            .nodes
            .iter()
            .map(|x| (x.up, x.primary, x.epoch, x.log))
            .collect();
        for (i, &(up_i, prim_i, epoch_i, log_i)) in snapshot.iter().enumerate() {
            if !up_i {
                continue;
            }
            for j in 0..n {
                if j == i || !self.nodes[j].up || !open(i as u32, j as u32) {
                    continue;
                }
                if prim_i {
                    if open(j as u32, i as u32) {
                        self.nodes[i].acked_at[j] = now;
                    }
                    self.hear_primary(j, epoch_i, log_i, now);
                }
            }
        }
        self.promote(now, &open);
        // Leases: a majority (the primary counts itself) answered within `lease`.
        if let Fencing::Quorum { lease } = self.spec.fencing {
            let need = self.majority() - 1;
            for i in 0..n {
                if !(self.nodes[i].up && self.nodes[i].primary) {
                    continue;
                }
                let mut times: Vec<u64> = (0..n)
                    .filter(|&j| j != i)
                    .map(|j| self.nodes[i].acked_at[j].0)
                    .collect();
                times.sort_unstable_by(|a, b| b.cmp(a));
                let granted = if need == 0 {
                    now.0
                } else {
                    times.get(need - 1).copied().unwrap_or(0)
                };
                // Only a majority heard at or after the promotion counts (acked_at is reset).
                self.nodes[i].lease_until = SimTime(granted.saturating_add(lease.0));
            }
        }
        self.track_split(now);
    }

    /// Standby or primary `j` hears a primary of epoch `epoch` with log length `log`.
    fn hear_primary(&mut self, j: usize, epoch: u32, log: u64, now: SimTime) {
        let start = self.leaders[epoch as usize - 1].1;
        let s = &mut self.nodes[j];
        if epoch < s.epoch {
            return; // an older primary: j knows better (i will step down when it hears j's side)
        }
        if epoch > s.epoch {
            // A newer epoch: follow it, dropping anything beyond where it started.
            s.primary = false;
            s.epoch = epoch;
            s.log = s.log.min(start);
            s.pending.clear();
            s.last_apply_ns = now.0;
            s.missing_since_ns = now.0;
            s.stalled = true;
        }
        if s.primary {
            return; // two primaries of one epoch cannot happen: epochs are unique
        }
        s.heard_primary = now;
        if s.stalled {
            // Catch up in full from the primary's log.
            s.log = log;
            s.stalled = false;
        }
    }

    /// Standbys that lost the primary take over, lowest-numbered first.
    fn promote(&mut self, now: SimTime, open: &impl Fn(u32, u32) -> bool) {
        let n = self.nodes.len();
        let window = self.window_ns();
        // Who has lost the primary, as of the start of this decision (a promotion earlier in
        // the loop is not heard until the next round).
        let lost: Vec<bool> = self
            .nodes
            .iter()
            .map(|x| x.up && !x.primary && now.0.saturating_sub(x.heard_primary.0) >= window)
            .collect();
        let standby: Vec<bool> = self.nodes.iter().map(|x| x.up && !x.primary).collect();
        self.voted.iter_mut().for_each(|v| *v = false);
        for c in 0..n {
            if !lost[c] || self.voted[c] {
                continue;
            }
            let both = |a: usize, b: usize| open(a as u32, b as u32) && open(b as u32, a as u32);
            let log = self.nodes[c].log;
            let ok = match self.spec.fencing {
                Fencing::None => {
                    // Defer to a running standby it can talk to that has more of the log, or
                    // as much and a lower number.
                    !(0..n).any(|k| {
                        let x = &self.nodes[k];
                        k != c
                            && standby[k]
                            && both(c, k)
                            && (x.log > log || (x.log == log && k < c && lost[k]))
                    })
                }
                Fencing::Quorum { .. } => {
                    // Voters have lost the primary too and have no more of the log (Raft's
                    // up-to-date rule).
                    let voters: Vec<usize> = (0..n)
                        .filter(|&k| {
                            k != c
                                && !self.voted[k]
                                && lost[k]
                                && self.nodes[k].log <= log
                                && both(c, k)
                        })
                        .collect();
                    if voters.len() + 1 >= self.majority() {
                        for &k in &voters {
                            self.voted[k] = true;
                        }
                        true
                    } else {
                        false
                    }
                }
            };
            if !ok {
                continue;
            }
            self.voted[c] = true;
            let old_epoch = self.nodes[c].epoch;
            let (old_leader, _) = self.leaders[old_epoch as usize - 1];
            let lost_writes = self.nodes[old_leader as usize]
                .acked_len
                .saturating_sub(self.nodes[c].log);
            self.max_epoch += 1;
            let epoch = self.max_epoch;
            self.leaders.push((c as u32, self.nodes[c].log));
            let node = &mut self.nodes[c];
            node.primary = true;
            node.epoch = epoch;
            node.acked_len = node.log;
            node.pending.clear();
            node.acked_at.iter_mut().for_each(|t| *t = SimTime::ZERO);
            node.acked_at[c] = now;
            // Voters answered this round, and follow the new epoch at once (they granted it).
            let start = node.log;
            for k in 0..n {
                if self.voted[k] && k != c {
                    self.nodes[c].acked_at[k] = now;
                    let v = &mut self.nodes[k];
                    v.epoch = epoch;
                    v.heard_primary = now;
                    v.pending.clear();
                    v.last_apply_ns = now.0;
                    v.missing_since_ns = now.0;
                    v.stalled = v.log < start;
                }
            }
            self.report.acked_writes_lost += lost_writes;
            self.report.failovers_total += 1;
            if self.report.failovers.len() < MAX_LISTED {
                self.report.failovers.push(Failover {
                    at_ns: now.0,
                    from: Some(old_leader),
                    to: c as u32,
                    epoch,
                    writes_lost: lost_writes,
                });
            }
        }
    }

    /// Opens or closes a split-brain interval after a change at `now`.
    fn track_split(&mut self, now: SimTime) {
        let accepting = (0..self.nodes.len())
            .filter(|&i| self.accepting(i, now))
            .count();
        match (accepting >= 2, self.split_since) {
            (true, None) => self.split_since = Some(now),
            (false, Some(t0)) => {
                self.split_since = None;
                self.close_split(t0, now);
            }
            _ => {}
        }
    }

    fn close_split(&mut self, t0: SimTime, t1: SimTime) {
        self.report.split_brain_ns += t1.0 - t0.0;
        if self.report.split_brain_intervals.len() < MAX_LISTED {
            self.report.split_brain_intervals.push((t0.0, t1.0));
        }
    }

    /// The figures at the end of the run (`end`: closes a split brain still going on).
    pub fn report(&self, end: SimTime) -> ReplicationReport {
        let mut r = self.report.clone();
        if let Some(s) = &mut r.standby_reads {
            if s.stale > 0 {
                s.mean_staleness_ms = s.staleness_sum_ns as f64 / s.stale as f64 / 1e6;
            }
        }
        if let Some(t0) = self.split_since {
            r.split_brain_ns += end.0.saturating_sub(t0.0);
            if r.split_brain_intervals.len() < MAX_LISTED {
                r.split_brain_intervals.push((t0.0, end.0));
            }
        }
        r.primaries_at_end = self
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.up && n.primary)
            .map(|(i, _)| i as u32)
            .collect();
        r
    }
}
