//! [`Ring`]: a replica's queue of waiting requests (their slots), first in first out, with
//! the few other moves its disciplines make (newest first, a request taken from the middle).
//!
//! Why not `VecDeque`: its append did not inline into the event handler (a call and a return
//! on every queued request, BENCHMARKS.md run 23); here the room is a power of two, so an
//! index wraps with a mask, and growing is the only thing out of line. It allocates nothing
//! until the first request waits, as a replica that never queues must cost nothing.
//!
//! It knows nothing of requests: it holds `u32`s.

/// A double-ended queue of `u32`s in a ring whose room is a power of two.
#[derive(Clone, Debug, Default)]
pub struct Ring {
    /// The room: empty, or a power of two long.
    buf: Box<[u32]>,
    /// Where the oldest element is.
    head: u32,
    len: u32,
}

impl Ring {
    /// An empty ring; allocates nothing.
    pub fn new() -> Self {
        Ring::default()
    }

    #[inline(always)]
    pub fn len(&self) -> usize {
        self.len as usize
    }

    #[inline(always)]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The mask that wraps an index into the room (the room is a power of two).
    #[inline(always)]
    fn mask(&self) -> usize {
        self.buf.len().wrapping_sub(1)
    }

    /// Where the `i`th element (0: the oldest) is. The room is not empty.
    #[inline(always)]
    fn at(&self, i: usize) -> usize {
        (self.head as usize + i) & self.mask()
    }

    /// Appends `x` as the newest.
    #[inline(always)]
    pub fn push_back(&mut self, x: u32) {
        if self.len as usize == self.buf.len() {
            self.grow();
        }
        let i = self.at(self.len as usize);
        debug_assert!(i < self.buf.len());
        // SAFETY: the room is a power of two and not empty (it grew above if it was full),
        // so the masked index is below its length.
        unsafe { *self.buf.get_unchecked_mut(i) = x };
        self.len += 1;
    }

    /// Removes and returns the oldest.
    #[inline(always)]
    pub fn pop_front(&mut self) -> Option<u32> {
        if self.len == 0 {
            return None;
        }
        debug_assert!((self.head as usize) < self.buf.len());
        // SAFETY: an element is held, so the room is not empty, and `head` is always an index
        // masked into it (or 0).
        let x = unsafe { *self.buf.get_unchecked(self.head as usize) };
        self.head = ((self.head as usize + 1) & self.mask()) as u32;
        self.len -= 1;
        Some(x)
    }

    /// Removes and returns the newest.
    pub fn pop_back(&mut self) -> Option<u32> {
        if self.len == 0 {
            return None;
        }
        self.len -= 1;
        Some(self.buf[self.at(self.len as usize)])
    }

    /// The oldest, if any.
    pub fn front(&self) -> Option<&u32> {
        (self.len > 0).then(|| &self.buf[self.head as usize])
    }

    /// Oldest to newest.
    pub fn iter(&self) -> impl Iterator<Item = &u32> + '_ {
        (0..self.len as usize).map(|i| &self.buf[self.at(i)])
    }

    /// Removes and returns the `i`th element (0: the oldest); the ones after it move up.
    pub fn remove(&mut self, i: usize) -> Option<u32> {
        if i >= self.len as usize {
            return None;
        }
        let x = self.buf[self.at(i)];
        for k in i..self.len as usize - 1 {
            let (to, from) = (self.at(k), self.at(k + 1));
            self.buf[to] = self.buf[from];
        }
        self.len -= 1;
        Some(x)
    }

    /// Removes every element, oldest first.
    pub fn take_all(&mut self) -> Vec<u32> {
        let out: Vec<u32> = self.iter().copied().collect();
        self.head = 0;
        self.len = 0;
        out
    }

    /// Twice the room (at least 4), the elements in order from the start.
    #[cold]
    #[inline(never)]
    fn grow(&mut self) {
        let room = (self.buf.len() * 2).max(4);
        let mut buf = vec![0u32; room].into_boxed_slice();
        for (k, x) in self.iter().enumerate() {
            buf[k] = *x;
        }
        self.buf = buf;
        self.head = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    proptest::proptest! {
        /// Whatever the moves, the ring holds what a `VecDeque` making the same moves holds,
        /// in the same order, and gives back the same elements.
        #[test]
        fn moves_as_a_vecdeque_does(ops in proptest::collection::vec((0u8..6, 0u32..1000), 0..400)) {
            let (mut ring, mut deque) = (Ring::new(), VecDeque::new());
            for (op, x) in ops {
                match op {
                    0 | 1 => {
                        ring.push_back(x);
                        deque.push_back(x);
                    }
                    2 => proptest::prop_assert_eq!(ring.pop_front(), deque.pop_front()),
                    3 => proptest::prop_assert_eq!(ring.pop_back(), deque.pop_back()),
                    4 => {
                        let i = x as usize % (deque.len() + 1);
                        proptest::prop_assert_eq!(ring.remove(i), deque.remove(i));
                    }
                    _ => proptest::prop_assert_eq!(ring.front(), deque.front()),
                }
                proptest::prop_assert_eq!(ring.len(), deque.len());
                proptest::prop_assert_eq!(ring.is_empty(), deque.is_empty());
                let (a, b): (Vec<u32>, Vec<u32>) =
                    (ring.iter().copied().collect(), deque.iter().copied().collect());
                proptest::prop_assert_eq!(a, b);
            }
            let all: Vec<u32> = deque.drain(..).collect();
            proptest::prop_assert_eq!(ring.take_all(), all);
            proptest::prop_assert!(ring.is_empty());
        }
    }

    #[test]
    fn allocates_nothing_until_used() {
        let r = Ring::new();
        assert_eq!(r.buf.len(), 0);
        assert_eq!(std::mem::size_of::<Ring>(), 24);
    }
}
