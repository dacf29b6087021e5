//! The event queue: a binary min-heap keyed by (time, insertion sequence).
//!
//! The key is the documented contract of the engine: events fire in time order, and events at the
//! same nanosecond fire in the order they were scheduled. Nothing else (payload contents,
//! addresses) takes part in the ordering, so a run is reproducible bit for bit.

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
        }
    }

    /// Schedules `event` at `time`. Returns its sequence number.
    #[inline(always)]
    pub fn push(&mut self, time: SimTime, event: E) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        let e = Entry {
            key: key(time.0, seq),
            event,
        };
        let n = self.heap.len();
        if n == 0 || self.heap[(n - 1) / 2].key <= e.key {
            // It belongs at the end (a new event is often the latest): one write.
            self.heap.push(e);
        } else {
            // Its parent moves down to the end, and it climbs from the parent's place.
            let parent = (n - 1) / 2;
            let p = self.heap[parent];
            self.heap.push(p);
            self.lift(parent, e);
        }
        seq
    }

    /// Puts `e` at hole `i` or above it: parents with a larger key move down into the hole.
    #[inline(always)]
    fn lift(&mut self, mut i: usize, e: Entry<E>) {
        let h = &mut self.heap;
        while i > 0 {
            let parent = (i - 1) / 2;
            if h[parent].key <= e.key {
                break;
            }
            h[i] = h[parent];
            i = parent;
        }
        h[i] = e;
    }

    /// Removes and returns the earliest event with its time and sequence number.
    #[inline(always)]
    pub fn pop(&mut self) -> Option<(SimTime, u64, E)> {
        let last = self.heap.pop()?;
        let top = match self.heap.first() {
            None => last,
            Some(&top) => {
                // The hole at the root sinks to a leaf, the smaller child climbing each time.
                let h = &mut self.heap;
                let n = h.len();
                let mut i = 0;
                let mut child = 1;
                while child + 1 < n {
                    if h[child + 1].key < h[child].key {
                        child += 1;
                    }
                    h[i] = h[child];
                    i = child;
                    child = 2 * i + 1;
                }
                if child < n {
                    h[i] = h[child];
                    i = child;
                }
                self.lift(i, last);
                top
            }
        };
        Some((SimTime((top.key >> 64) as u64), top.key as u64, top.event))
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
        self.heap.retain(|e| keep(&e.event));
        for i in (0..self.heap.len() / 2).rev() {
            self.sift_down(i);
        }
    }

    pub fn peek_time(&self) -> Option<SimTime> {
        self.heap.first().map(|e| SimTime((e.key >> 64) as u64))
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
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

    proptest::proptest! {
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
