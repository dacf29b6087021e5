//! Replicas' disks: a FIFO of I/O operations per replica, paced by the disk's IOPS, with the
//! disk fault in force (slow, failed, full, corrupt). A request at a replica with a disk does
//! one I/O after its service time.
//!
//! It owns each replica's [`DiskState`] and answers a request only with `error` (a disk fault
//! failed it); everything else about serving is `serve.rs`'s. Nothing here runs for replicas
//! without a disk: a disk keeps its replica `impaired`, the flag the hot path already checks.

use super::event::Event;
use super::{Observer, World};
use crate::engine::{EventQueue, LimitHit, RngStream, SimTime};
use crate::model::spec::*;
use crate::policy::Outcome;

/// A replica's disk: the FIFO of operations and the fault in force.
pub(super) struct DiskState {
    pub spacing_ns: u64,
    pub next_free_ns: u64,
    /// The disk fault in force and its fault index.
    pub fault: Option<(DiskFault, u32)>,
    pub rng: RngStream,
    /// Requests failed by I/O errors, a full disk, and checksum errors.
    pub io_errors: u64,
    pub full_errors: u64,
    pub checksum_errors: u64,
}

impl DiskState {
    /// An idle, healthy disk with its own stream (`NAME` is `service:S/replica:N`, purpose
    /// `disk`).
    pub fn new(spec: &DiskSpec, seed: u64, name: &str) -> Self {
        DiskState {
            spacing_ns: (1e9 / spec.iops).round() as u64,
            next_free_ns: 0,
            fault: None,
            rng: RngStream::derive(seed, name, "disk"),
            io_errors: 0,
            full_errors: 0,
            checksum_errors: 0,
        }
    }
}

impl<O: Observer> World<O> {
    /// The request in `slot` finished its service time at a replica with a disk. Its I/O is
    /// queued (returns true: the `ServiceDone` comes again when the I/O is done), or it was done
    /// and a disk fault may fail it (returns true: answered with `error`); false: carry on.
    #[cold]
    #[inline(never)]
    pub(super) fn disk_io(
        &mut self,
        slot: u32,
        gen: u32,
        now: SimTime,
        q: &mut EventQueue<Event>,
    ) -> Result<bool, LimitHit> {
        let replica = self.requests[slot].replica as usize;
        let svc = self.fleet.replicas[replica].service as usize;
        let spec = self.spec.service(svc).disk.as_ref().expect("a disk");
        let counting = now >= self.count_from;
        let d = self.fleet.replicas[replica]
            .extras
            .disk_mut()
            .expect("a disk");
        match self.requests[slot].io {
            2 => return Ok(false),
            1 => self.requests[slot].io = 2,
            _ => {}
        }
        if self.requests[slot].io == 0 {
            if let Some((DiskFault::Fail, cause)) = d.fault {
                // A failed device answers every operation with an I/O error at once.
                d.io_errors += counting as u64;
                self.faults.count(cause);
                self.respond(slot, Outcome::Error, true, now, q)?;
                return Ok(true);
            }
            let start = d.next_free_ns.max(now.0);
            d.next_free_ns = start + d.spacing_ns;
            let mut took = spec.latency.sample(&mut d.rng);
            if let Some((DiskFault::Slow(f), _)) = d.fault {
                took = (took as f64 * f).round().min(u64::MAX as f64 / 4.0) as u64;
            }
            self.requests[slot].io = 1;
            q.push(SimTime(start + took), Event::ServiceDone { slot, gen });
            return Ok(true);
        }
        let read = spec.read_fraction >= 1.0
            || (spec.read_fraction > 0.0 && d.rng.chance(spec.read_fraction));
        let failed = match d.fault {
            Some((DiskFault::Full, cause)) if !read => {
                d.full_errors += counting as u64;
                Some(cause)
            }
            Some((DiskFault::Corrupt(p), cause)) if read && d.rng.chance(p) => {
                // The checksum catches it: an error, never a wrong answer.
                d.checksum_errors += counting as u64;
                Some(cause)
            }
            _ => None,
        };
        if let Some(cause) = failed {
            self.faults.count(cause);
            self.respond(slot, Outcome::Error, true, now, q)?;
            return Ok(true);
        }
        Ok(false)
    }
}
