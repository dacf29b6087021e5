//! What a request is while it is alive, who waits for its answer, and the slab it lives in.
//!
//! Requests live in a slab reused through a free list, so steady-state running allocates
//! nothing per request. A slot is freed when its response reaches the caller; a caller that
//! timed out first marks the slot abandoned and the late response frees it. Slot generations
//! make stale timeouts and orphaned children harmless: anything that refers to a slot later
//! carries the generation it saw.
//!
//! This module sits below both the running world (`world/`) and the policy stacks
//! (`stack.rs`), which share [`CallerRef`]. It knows nothing of replicas, links or policies:
//! a request's fields are indices the world gives meaning to.

use crate::engine::{LimitHit, SimTime, Table};
use crate::policy::Outcome;

/// A closed-loop user index that means "an open-loop request" (nobody thinks after it).
pub(crate) const NO_USER: u32 = u32::MAX;
/// No connection pool.
pub(crate) const NO_POOL: u32 = u32::MAX;
/// No request (an invocation that has not sent one yet).
pub(crate) const NO_SLOT: u32 = u32::MAX;

/// Who waits for a request or an invocation: a client, a parent request's call, or the
/// policy layer above.
#[derive(Clone, Copy, Debug)]
pub enum CallerRef {
    Client {
        client: u32,
        user: u32,
    },
    Call {
        parent: u32,
        parent_gen: u32,
        call: u16,
    },
    /// `tag` tells a hedging layer which of its attempts answered (0 elsewhere).
    Inv {
        inv: u32,
        gen: u32,
        tag: u16,
    },
}

/// One request in flight, from the moment its caller sends it until the answer reaches the
/// caller (or, abandoned, until its late answer arrives).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Req {
    pub id: u64,
    pub gen: u32,
    pub service: u32,
    /// Global replica index.
    pub replica: u32,
    /// Endpoint index of the caller (clients first, then services).
    pub from: u32,
    /// The link from the caller to the service (found once, used both ways).
    pub link: u32,
    /// Trace entity of the caller (a client, or the replica serving the parent request).
    pub caller_entity: u32,
    pub caller: CallerRef,
    pub sent_at: SimTime,
    pub arrived_at: SimTime,
    pub started_at: SimTime,
    pub next_call: u16,
    pub pending: u16,
    pub status: Outcome,
    pub server_done: bool,
    /// A call returned `degraded`: the answer will be degraded too.
    pub degraded: bool,
    /// Counted by the replica's concurrency limit, with the in-flight count it saw.
    pub admitted: bool,
    pub inflight_at_admit: u32,
    /// The caller's deadline carried with the request (u64::MAX: none).
    pub deadline_ns: u64,
    /// The slot holds a request (not on the free list).
    pub live: bool,
    /// The request reached its replica (queued or in service) and has not been answered.
    pub at_server: bool,
    /// It failed at the connection level (reset by a crash), not with an HTTP-style error.
    pub conn_error: bool,
    /// The caller's per-attempt timeout already counted it as a failure for passive health
    /// checking; its late answer is not counted again.
    pub abandoned: bool,
    /// A synchronously replicated write waiting for its standbys: its log position (0: none).
    pub ack_pos: u64,
    /// Its disk I/O (replicas with a disk do one after the service time): 0 not started, 1
    /// done, 2 done and checked against disk faults.
    pub io: u8,
    /// Its endpoint at the service (0 at a service without endpoints).
    pub endpoint: u8,
    /// The connection pool it goes through (NO_POOL: none), and whether it holds a connection.
    pub pool: u32,
    pub pool_held: bool,
    /// How long it held a worker, from the worker taking it to its answer (0: it never held
    /// one, or was reset by a crash); what its answer cost if nobody wants it any more.
    pub worker_ns: u64,
    /// At a replica with a heap: its pauses' total when the request started computing (the
    /// pauses since then delay its finish).
    pub pause_mark: u64,
    /// While the slot is free: the next free slot ([`NO_SLOT`]: none). The free list threads
    /// through the slots themselves, so taking and giving back a slot touches only the slot.
    pub next_free: u32,
}

impl Default for Req {
    fn default() -> Self {
        Req {
            id: 0,
            gen: 0,
            service: 0,
            replica: 0,
            from: 0,
            link: 0,
            caller_entity: 0,
            caller: CallerRef::Client {
                client: 0,
                user: NO_USER,
            },
            sent_at: SimTime::ZERO,
            arrived_at: SimTime::ZERO,
            started_at: SimTime::ZERO,
            next_call: 0,
            pending: 0,
            status: Outcome::Ok,
            server_done: false,
            degraded: false,
            admitted: false,
            inflight_at_admit: 0,
            deadline_ns: u64::MAX,
            live: false,
            at_server: false,
            conn_error: false,
            abandoned: false,
            ack_pos: 0,
            io: 0,
            endpoint: 0,
            pool: NO_POOL,
            pool_held: false,
            worker_ns: 0,
            pause_mark: 0,
            next_free: NO_SLOT,
        }
    }
}

/// The limit both live requests and live policy invocations count against.
pub(crate) fn live_limit_hit(max_live_requests: u32, now: SimTime) -> LimitHit {
    LimitHit {
        limit: "max_live_requests",
        value: max_live_requests as u64,
        at_ns: now.0,
        how_to_raise: "raise limits.max_live_requests in the scenario (each live request or policy invocation costs about 100 bytes), or bound the load: clients' max_in_flight, timeouts, queue capacities, retry budgets",
    }
}

/// The slab of live requests, indexed by slot.
pub(crate) struct Requests {
    slots: Table<Req>,
    /// The first free slot ([`NO_SLOT`]: none); the rest follow through `Req::next_free`.
    /// Last freed, first taken, as a stack.
    free_head: u32,
    free_len: usize,
    next_id: u64,
    max_live: u32,
}

impl Requests {
    pub fn new(max_live: u32) -> Self {
        Requests {
            slots: Table::with_capacity(1024),
            free_head: NO_SLOT,
            free_len: 0,
            next_id: 1,
            max_live,
        }
    }

    /// Requests alive now (allocated and not yet released).
    pub fn live(&self) -> usize {
        self.slots.len() - self.free_len
    }

    /// The id the next request will get (ids start at 1 and are never reused).
    pub fn next_id(&self) -> u64 {
        self.next_id
    }

    /// Takes a slot for a new request at `now` and writes `make(id, gen)` into it (the id is
    /// the slab's next, the generation the slot's own); returns the slot, or the limit it hit.
    #[inline(always)]
    pub fn alloc(
        &mut self,
        now: SimTime,
        make: impl FnOnce(u64, u32) -> Req,
    ) -> Result<u32, LimitHit> {
        let slot = if self.free_head != NO_SLOT {
            let s = self.free_head;
            self.free_head = self.slots[s as usize].next_free;
            self.free_len -= 1;
            s
        } else {
            if self.slots.len() as u64 >= self.max_live as u64 {
                return Err(live_limit_hit(self.max_live, now));
            }
            self.slots.push(Req::default()) as u32
        };
        let id = self.next_id;
        self.next_id += 1;
        let r = &mut self.slots[slot as usize];
        debug_assert!(!r.live, "a slot on the free list holds no request");
        *r = make(id, r.gen);
        debug_assert!(r.live && r.id == id, "a new request is live, with its id");
        Ok(slot)
    }

    /// Frees `slot`: its generation moves on, so anything still pointing at it is ignored.
    /// Returns the connection pool whose connection the request held, if any.
    #[inline]
    pub fn release(&mut self, slot: u32) -> Option<u32> {
        let r = &mut self.slots[slot as usize];
        debug_assert!(r.live, "released a slot that holds no request");
        r.gen = r.gen.wrapping_add(1);
        r.live = false;
        r.at_server = false;
        let held = r.pool_held.then_some(r.pool);
        r.pool_held = false;
        r.next_free = self.free_head;
        self.free_head = slot;
        self.free_len += 1;
        held
    }

    /// The live requests at `replica` that reached it and are not answered, in slot order.
    pub fn at_replica(&self, replica: u32) -> Vec<u32> {
        (0..self.slots.len() as u32)
            .filter(|&i| {
                let r = &self.slots[i as usize];
                r.live && r.at_server && r.replica == replica
            })
            .collect()
    }
}

impl std::ops::Index<u32> for Requests {
    type Output = Req;
    #[inline(always)]
    fn index(&self, slot: u32) -> &Req {
        &self.slots[slot as usize]
    }
}

impl std::ops::IndexMut<u32> for Requests {
    #[inline(always)]
    fn index_mut(&mut self, slot: u32) -> &mut Req {
        &mut self.slots[slot as usize]
    }
}
// Two cache lines; the free list's link sits in what was padding.
const _: () = assert!(std::mem::size_of::<Req>() == 128);
