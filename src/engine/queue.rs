//! The event queue: a binary min-heap keyed by (time, insertion sequence), and beside it a
//! timer wheel for timers that are usually dead before they are due.
//!
//! The key is the documented contract of the engine: events fire in time order, and events at the
//! same nanosecond fire in the order they were scheduled. Nothing else (payload contents,
//! addresses) takes part in the ordering, so a run is reproducible bit for bit. The wheel does
//! not change that order: a timer keeps the sequence number it got when it was scheduled, and
//! it enters the heap before anything at or after its time can be popped.
//!
//! Why a wheel: a run with timeouts keeps one pending per call in flight (a request with a
//! 2 s timeout that is answered in 20 ms leaves its timer 99% of its life), and in the heap
//! those dead timers made it ten times deeper than the live work: the quickstart spent about a
//! quarter of its time in heap operations. In the wheel a timer costs an append; when its
//! slot comes due, a dead one is dropped there, and only a live one goes through the heap.

use super::table::CHECKED;
use super::time::SimTime;

/// One pending event. The key packs (time, seq) into one integer, so that ordering two
/// entries is one comparison; no two keys are equal, since sequence numbers are unique.
#[derive(Clone, Copy)]
struct Entry<E> {
    key: u128,
    event: E,
}

#[inline(always)]
fn key(time: u64, seq: u64) -> u128 {
    ((time as u128) << 64) | seq as u128
}

impl<E> Entry<E> {
    /// The time packed in the key, in nanoseconds.
    #[inline(always)]
    fn time_ns(&self) -> u64 {
        (self.key >> 64) as u64
    }
}

/// Pending events, popped in (time, insertion sequence) order.
///
/// A binary min-heap written out rather than `std`'s `BinaryHeap`, for its packed key and
/// because events are small `Copy` values: entries move by copying into a hole instead of
/// swapping. A pop lets the smaller child climb into the hole all the way down (one
/// comparison per level), then lifts the last entry from the bottom to where it belongs,
/// which is usually a level or two: fewer comparisons than sifting it down from the top.
pub struct EventQueue<E> {
    heap: Vec<Entry<E>>,
    next_seq: u64,
    wheel: Wheel<E>,
    /// The root of the heap was popped and is still there: the next push takes its place
    /// (the event being handled usually schedules one: one sift instead of a pop's and a
    /// push's), and anything else removes it first ([`EventQueue::settle`]).
    taken: bool,
    /// The length [`EventQueue::len_reached`] watches for, and whether a push has brought the
    /// queue to it since [`EventQueue::watch_len`] last looked.
    len_watch: usize,
    len_reached: bool,
}

/// A slot of the wheel spans 2^26 ns (67 ms) ...
const SLOT_SHIFT: u32 = 26;
/// ... and the wheel 1,024 slots (68.7 s): a timer due later goes to the heap at once.
const SLOTS: usize = 1024;
/// The room a slot keeps through a compaction, in timers.
const MIN_SLOT_ROOM: usize = 16;

/// Timers held out of the heap, by the slot of time they are due in (see
/// [`EventQueue::push_timer`]).
struct Wheel<E> {
    /// A ring of [`SLOTS`] slots, made at the first timer (a run without timers has none).
    slots: Vec<Vec<Entry<E>>>,
    /// The absolute slot (time >> SLOT_SHIFT) the ring's next slot to move into the heap
    /// stands for. Every timer held is due at or after its start; earlier slots are empty.
    cursor: u64,
    /// Timers held.
    len: usize,
}

impl<E: Copy> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E: Copy> EventQueue<E> {
    pub fn new() -> Self {
        EventQueue {
            heap: Vec::with_capacity(1024),
            next_seq: 0,
            wheel: Wheel {
                slots: Vec::new(),
                cursor: 0,
                len: 0,
            },
            taken: false,
            len_watch: usize::MAX,
            len_reached: false,
        }
    }

    /// Schedules `event` at `time`. Returns its sequence number.
    #[inline(always)]
    pub fn push(&mut self, time: SimTime, event: E) -> u64 {
        let e = self.stamp(time, event);
        self.push_entry(e);
        e.key as u64
    }

    /// `event` at `time` with the next sequence number: its place in the order, wherever it
    /// waits.
    #[inline(always)]
    fn stamp(&mut self, time: SimTime, event: E) -> Entry<E> {
        let seq = self.next_seq;
        self.next_seq += 1;
        Entry {
            key: key(time.0, seq),
            event,
        }
    }

    /// Schedules, at `now` (the time of the event being handled), a timer that will most
    /// likely be dead (cancelled by what it guards) before it is due: a timeout. It fires in
    /// the same order as [`EventQueue::push`] would make it fire, but waits in the wheel,
    /// where a dead one is dropped without touching the heap ([`EventQueue::pop_live`]).
    /// Returns its sequence number.
    #[inline]
    pub fn push_timer(&mut self, now: SimTime, time: SimTime, event: E) -> u64 {
        let slot = time.0 >> SLOT_SHIFT;
        let w = &mut self.wheel;
        if w.len == 0 {
            // Nothing waits in the wheel: its next slot is the one time has reached (no
            // event is scheduled before the one being handled, so none before `now`).
            w.cursor = w.cursor.max(now.0 >> SLOT_SHIFT);
        }
        if slot < w.cursor || slot - w.cursor >= SLOTS as u64 {
            // Its slot has gone into the heap already, or it is due beyond the wheel.
            return self.push(time, event);
        }
        if w.slots.is_empty() {
            w.slots = (0..SLOTS).map(|_| Vec::new()).collect();
        }
        let e = self.stamp(time, event);
        let w = &mut self.wheel;
        w.slots[slot as usize % SLOTS].push(e);
        w.len += 1;
        self.note_growth();
        e.key as u64
    }

    /// Watches the length for `at`: from here on, right after a pop, [`EventQueue::len_reached`]
    /// is true whenever the queue holds `at` events or more (and sometimes when it holds
    /// fewer: the caller then looks at [`EventQueue::len`] and calls this again). Only a push
    /// that adds an entry to the heap or the wheel compares; a push into a popped root's place
    /// gives back only what that pop took, so it cannot take the length after the next pop
    /// past what the last comparison saw. The run loop's look at the length after every pop
    /// cost three loads and a comparison per event; this costs one flag.
    pub fn watch_len(&mut self, at: usize) {
        self.len_watch = at;
        self.len_reached = self.len() >= at;
    }

    /// Whether a push may have brought the queue to the length watched for (see
    /// [`EventQueue::watch_len`] for when it is exact).
    #[inline(always)]
    pub fn len_reached(&self) -> bool {
        self.len_reached
    }

    /// A push lengthened the queue: it may have reached the watched length.
    #[inline(always)]
    fn note_growth(&mut self) {
        if self.len() >= self.len_watch {
            self.len_reached = true;
        }
    }

    #[inline(always)]
    fn push_entry(&mut self, e: Entry<E>) {
        if self.taken {
            // The popped root's place: the hole sinks from it to a leaf, and `e` climbs
            // from there.
            self.taken = false;
            let i = self.sink_hole();
            self.lift(i, e);
            return;
        }
        let n = self.heap.len();
        // SAFETY: n > 0 when the parent is read, and (n - 1) / 2 < n.
        if n == 0 || unsafe { self.heap.get_unchecked((n - 1) / 2) }.key <= e.key {
            // It belongs at the end (a new event is often the latest): one write.
            self.heap.push(e);
        } else {
            // Its parent moves down to the end, and it climbs from the parent's place.
            let parent = (n - 1) / 2;
            let p = self.heap[parent];
            self.heap.push(p);
            self.lift(parent, e);
        }
        self.note_growth();
    }

    /// Moves the wheel's slots that start at or before the heap's earliest event into the
    /// heap (all up to the first that holds a live timer, when the heap is empty), dropping
    /// the timers `live` rejects. Afterwards the heap's earliest event is the earliest of all.
    #[cold]
    #[inline(never)]
    fn release_due(&mut self, live: &impl Fn(&E) -> bool) {
        while self.next_slot_due() {
            let i = self.wheel.cursor as usize % SLOTS;
            let mut slot = std::mem::take(&mut self.wheel.slots[i]);
            self.wheel.len -= slot.len();
            for e in slot.drain(..) {
                if live(&e.event) {
                    self.push_entry(e);
                }
            }
            self.wheel.slots[i] = slot; // keeps its room
            self.wheel.cursor += 1;
        }
    }

    /// Whether the wheel holds timers and its next slot starts at or before the heap's
    /// earliest event (or the heap is empty): then that slot must go into the heap first.
    #[inline(always)]
    fn next_slot_due(&self) -> bool {
        let w = &self.wheel;
        w.len > 0
            && self
                .heap
                .first()
                .is_none_or(|top| top.time_ns() >> SLOT_SHIFT >= w.cursor)
    }

    /// Puts `e` at hole `i` or above it: parents with a larger key move down into the hole.
    #[inline(always)]
    fn lift(&mut self, mut i: usize, e: Entry<E>) {
        let h = &mut self.heap;
        if CHECKED {
            assert!(i < h.len(), "a hole at {i} in a heap of {}", h.len());
        }
        let p = h.as_mut_ptr();
        // SAFETY: every caller passes a hole below the length (checked in debug builds and
        // under `checked-tables`), and a parent's index is below its child's.
        unsafe {
            while i > 0 {
                let parent = (i - 1) / 2;
                if (*p.add(parent)).key <= e.key {
                    break;
                }
                *p.add(i) = *p.add(parent);
                i = parent;
            }
            *p.add(i) = e;
        }
    }

    /// Removes and returns the earliest event with its time and sequence number.
    #[inline(always)]
    pub fn pop(&mut self) -> Option<(SimTime, u64, E)> {
        self.pop_live(|_| true)
    }

    /// [`EventQueue::pop`], where the timers of the wheel that `live` rejects are dropped
    /// unseen (so an event `live` has rejected once must stay rejected, as a timer whose
    /// call has answered stays dead). Events of the heap come back whatever `live` says of
    /// them.
    ///
    /// The event returned stays at the root, marked taken, until the next push takes its
    /// place or another operation removes it: to the caller it is gone.
    #[inline(always)]
    pub fn pop_live(&mut self, live: impl Fn(&E) -> bool) -> Option<(SimTime, u64, E)> {
        self.settle();
        if self.next_slot_due() {
            self.release_due(&live);
        }
        let top = *self.heap.first()?;
        self.taken = true;
        Some((SimTime(top.time_ns()), top.key as u64, top.event))
    }

    /// Removes the taken root, if there is one.
    #[inline(always)]
    fn settle(&mut self) {
        if !self.taken {
            return;
        }
        self.taken = false;
        // The heap holds at least the root.
        let last = self.heap.pop().expect("a taken root");
        if !self.heap.is_empty() {
            let i = self.sink_hole();
            self.lift(i, last);
        }
    }

    /// The hole at the root sinks to a leaf, the smaller child climbing each time; returns
    /// where it ended. The heap is not empty.
    #[inline(always)]
    fn sink_hole(&mut self) -> usize {
        let h = &mut self.heap;
        let n = h.len();
        let p = h.as_mut_ptr();
        let mut i = 0;
        let mut child = 1;
        // SAFETY: every index read or written is below `n` (the loop's and the branch's
        // conditions), and `i` is a child's index from a step before.
        unsafe {
            while child + 1 < n {
                if (*p.add(child + 1)).key < (*p.add(child)).key {
                    child += 1;
                }
                *p.add(i) = *p.add(child);
                i = child;
                child = 2 * i + 1;
            }
            if child < n {
                *p.add(i) = *p.add(child);
                i = child;
            }
        }
        i
    }

    /// Moves the entry at `i` down to where its key belongs (rebuilding after `retain`).
    fn sift_down(&mut self, mut i: usize) {
        let h = &mut self.heap;
        let n = h.len();
        let e = h[i];
        loop {
            let left = 2 * i + 1;
            if left >= n {
                break;
            }
            let right = left + 1;
            let child = if right < n && h[right].key < h[left].key {
                right
            } else {
                left
            };
            if h[child].key >= e.key {
                break;
            }
            h[i] = h[child];
            i = child;
        }
        h[i] = e;
    }

    /// Keeps only the events `keep` accepts (O(n): the heap is rebuilt). Pop order among the
    /// rest is unchanged, as it depends only on each event's (time, seq).
    pub fn retain(&mut self, mut keep: impl FnMut(&E) -> bool) {
        self.settle();
        self.heap.retain(|e| keep(&e.event));
        for i in (0..self.heap.len() / 2).rev() {
            self.sift_down(i);
        }
        let w = &mut self.wheel;
        for slot in &mut w.slots {
            slot.retain(|e| keep(&e.event));
            // A slot keeps its room from one turn of the wheel to the next (no allocation in
            // steady state), but not the room of the dead timers compaction just dropped:
            // otherwise every slot would hold the room of a whole slot's worth of timeouts,
            // and the wheel as much memory as all timeouts ever pending at once.
            slot.shrink_to(slot.len().max(MIN_SLOT_ROOM));
        }
        w.len = w.slots.iter().map(Vec::len).sum();
    }

    /// Events pending, in the heap and in the wheel.
    pub fn len(&self) -> usize {
        self.heap.len() - self.taken as usize + self.wheel.len
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pops_by_time_then_insertion_order() {
        let mut q = EventQueue::new();
        q.push(SimTime(5), 'a');
        q.push(SimTime(1), 'b');
        q.push(SimTime(5), 'c');
        q.push(SimTime(1), 'd');
        q.push(SimTime(0), 'e');
        let order: Vec<char> = std::iter::from_fn(|| q.pop().map(|(_, _, e)| e)).collect();
        assert_eq!(order, vec!['e', 'b', 'd', 'a', 'c']);
    }

    #[test]
    fn retain_keeps_the_order_of_what_stays() {
        let mut q = EventQueue::new();
        for (t, c) in [
            (5, 'a'),
            (1, 'b'),
            (5, 'c'),
            (1, 'd'),
            (0, 'e'),
            (3, 'x'),
            (1, 'y'),
        ] {
            q.push(SimTime(t), c);
        }
        q.retain(|&c| c != 'x' && c != 'y');
        let order: Vec<char> = std::iter::from_fn(|| q.pop().map(|(_, _, e)| e)).collect();
        assert_eq!(order, vec!['e', 'b', 'd', 'a', 'c']);
    }

    #[test]
    fn compaction_gives_back_the_room_of_dead_timers() {
        // 100,000 timeouts due in one slot (a second's worth at 100,000 calls a second, say),
        // all answered: once compacted, the wheel keeps only a small room per slot.
        let mut q = EventQueue::new();
        for i in 0..100_000u64 {
            q.push_timer(SimTime::ZERO, SimTime(30_000_000_000 + i), i);
        }
        assert_eq!(q.len(), 100_000);
        q.retain(|_| false);
        assert_eq!(q.len(), 0);
        let room: usize = q.wheel.slots.iter().map(Vec::capacity).sum();
        assert!(room <= SLOTS * MIN_SLOT_ROOM, "{room} timers of room kept");
    }

    proptest::proptest! {
        /// The wheel changes nothing but what is dropped: with timers (some dead, as a
        /// timeout is once its call has answered) scheduled near, across slots and beyond the
        /// wheel, mixed with plain events, pops and compactions, the queue pops what a sorted
        /// list pops, less dead timers (which it may drop or return; the engine skips them).
        /// And right after every pop, a queue of `at` events or more says it has reached
        /// the length watched for, as the run loop watches it.
        #[test]
        fn the_wheel_pops_in_the_heaps_order(
            ops in proptest::collection::vec((0u8..6, 0u8..4, 0u64..1_000), 1..600),
            at in 1usize..40,
        ) {
            // The payload: (time, timer, dead). Dead is fixed at scheduling, as a timer
            // stays dead once dead.
            let mut q: EventQueue<(u64, bool, bool)> = EventQueue::new();
            let mut reference: Vec<(u64, u64, bool, bool)> = Vec::new();
            let mut now = 0u64;
            let live = |e: &(u64, bool, bool)| !e.2;
            q.watch_len(at);
            for (op, scale, x) in ops {
                // Never before the last pop, as in the engine; near (ties), within a slot,
                // across slots, or past the wheel's 68.7 s.
                let t = now + match scale {
                    0 => x % 20,
                    1 => x << 16,
                    2 => x << 26,
                    _ => x << 30,
                };
                match op {
                    0 | 1 => {
                        let seq = q.push(SimTime(t), (t, false, false));
                        reference.push((t, seq, false, false));
                    }
                    2 | 3 => {
                        let dead = x % 3 == 0;
                        let seq = q.push_timer(SimTime(now), SimTime(t), (t, true, dead));
                        reference.push((t, seq, true, dead));
                    }
                    4 => {
                        reference.sort();
                        reference.retain(|r| !r.3);
                        let got = loop {
                            let got = q.pop_live(live);
                            proptest::prop_assert!(q.len_reached() || q.len() < at);
                            if q.len_reached() {
                                q.watch_len(at);
                            }
                            match got {
                                Some((_, _, e)) if e.1 && e.2 => continue,
                                other => break other,
                            }
                        };
                        let want = (!reference.is_empty()).then(|| reference.remove(0));
                        let got = got.map(|(time, seq, e)| {
                            proptest::prop_assert_eq!(e.0, time.0);
                            now = time.0;
                            Ok((time.0, seq, e.1, e.2))
                        }).transpose()?;
                        proptest::prop_assert_eq!(got, want);
                    }
                    _ => {
                        // Drop the plain events at odd times and every dead timer, as
                        // compaction drops dead timers.
                        let keep = |e: &(u64, bool, bool)| !(e.2 || (!e.1 && e.0 % 2 == 1));
                        q.retain(keep);
                        q.watch_len(at);
                        reference.retain(|r| keep(&(r.0, r.2, r.3)));
                    }
                }
            }
            reference.sort();
            reference.retain(|r| !r.3);
            let rest: Vec<(u64, u64, bool, bool)> = std::iter::from_fn(|| q.pop_live(live))
                .filter(|(_, _, e)| !(e.1 && e.2))
                .map(|(t, s, e)| (t.0, s, e.1, e.2))
                .collect();
            proptest::prop_assert_eq!(rest, reference);
        }

        /// Any interleaving of pushes, pops and compactions pops what a sorted list of
        /// (time, seq) would: the order a run sees never depends on the heap's layout.
        #[test]
        fn pops_what_a_sorted_list_pops(
            ops in proptest::collection::vec((0u8..4, 0u64..50), 1..400)
        ) {
            let mut q = EventQueue::new();
            let mut reference: Vec<(u64, u64)> = Vec::new();
            for (op, t) in ops {
                match op {
                    0 | 1 => {
                        // The payload is the event's time, checked when it is popped.
                        let seq = q.push(SimTime(t), t);
                        reference.push((t, seq));
                    }
                    2 => {
                        reference.sort();
                        let want = (!reference.is_empty()).then(|| reference.remove(0));
                        let got = q.pop().map(|(time, seq, tag)| {
                            assert_eq!(tag, time.0);
                            (time.0, seq)
                        });
                        proptest::prop_assert_eq!(got, want);
                    }
                    _ => {
                        // Drop the events at odd times, as compaction drops dead timers.
                        q.retain(|&tag| tag % 2 == 0);
                        reference.retain(|&(t, _)| t % 2 == 0);
                    }
                }
                proptest::prop_assert_eq!(q.len(), reference.len());
            }
            reference.sort();
            let rest: Vec<(u64, u64)> =
                std::iter::from_fn(|| q.pop().map(|(t, s, _)| (t.0, s))).collect();
            proptest::prop_assert_eq!(rest, reference);
        }
    }
}
