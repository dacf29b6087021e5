//! A minimum segment tree over small counts: the least-outstanding balancer's index, so a pick
//! among thousands of replicas costs O(log n) instead of a scan.
//!
//! It answers exactly what the balancer's linear scan answers (tests below compare them): the
//! first index, counting cyclically from a start, whose value is the least among the first `n`.
//! It knows nothing of replicas or health.

/// Values at leaves `size..size + len` of an implicit binary tree (`t[k]` is the least of
/// `t[2k]` and `t[2k + 1]`); padding leaves hold `u32::MAX`.
#[derive(Clone, Debug)]
pub struct MinTree {
    size: usize,
    t: Vec<u32>,
}

impl MinTree {
    /// `len` values, all 0.
    pub fn new(len: usize) -> Self {
        let size = len.max(1).next_power_of_two();
        let mut t = vec![u32::MAX; 2 * size];
        t[size..size + len].fill(0);
        for k in (1..size).rev() {
            t[k] = t[2 * k].min(t[2 * k + 1]);
        }
        MinTree { size, t }
    }

    pub fn get(&self, i: usize) -> u32 {
        self.t[self.size + i]
    }

    /// Sets value `i` (O(log n)).
    #[inline]
    pub fn set(&mut self, i: usize, v: u32) {
        let mut k = self.size + i;
        self.t[k] = v;
        while k > 1 {
            k >>= 1;
            let m = self.t[2 * k].min(self.t[2 * k + 1]);
            if self.t[k] == m {
                break; // nothing above changes
            }
            self.t[k] = m;
        }
    }

    /// The least value among indices `0..n`.
    fn min_below(&self, n: usize) -> u32 {
        let (mut lo, mut hi) = (self.size, self.size + n);
        let mut m = u32::MAX;
        while lo < hi {
            if lo & 1 == 1 {
                m = m.min(self.t[lo]);
                lo += 1;
            }
            if hi & 1 == 1 {
                hi -= 1;
                m = m.min(self.t[hi]);
            }
            lo >>= 1;
            hi >>= 1;
        }
        m
    }

    /// The first index at or after `lo` whose value is at most `m`.
    fn first_at_most(&self, lo: usize, m: u32) -> Option<usize> {
        let mut k = self.size + lo;
        loop {
            if self.t[k] <= m {
                while k < self.size {
                    k = if self.t[2 * k] <= m { 2 * k } else { 2 * k + 1 };
                }
                return Some(k - self.size);
            }
            // On to the subtree just right of this one.
            while k & 1 == 1 {
                k >>= 1;
                if k <= 1 {
                    return None;
                }
            }
            k += 1;
        }
    }

    /// The first index in cyclic order from `start` among `0..n` with the least value there
    /// (`n` at least 1, `start` below `n`).
    pub fn least_from(&self, start: usize, n: usize) -> usize {
        let m = self.min_below(n);
        match self.first_at_most(start, m) {
            Some(i) if i < n => i,
            _ => self
                .first_at_most(0, m)
                .expect("the least value is somewhere below n"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::RngStream;

    /// The balancer's scan: the first strictly least in cyclic order from `start`.
    fn scan(v: &[u32], start: usize, n: usize) -> usize {
        let (mut best, mut best_load) = (start, u32::MAX);
        for k in 0..n {
            let i = (start + k) % n;
            if v[i] < best_load {
                (best, best_load) = (i, v[i]);
            }
        }
        best
    }

    #[test]
    fn answers_what_the_scan_answers() {
        let mut rng = RngStream::derive(1, "mintree", "test");
        for len in [1usize, 2, 3, 5, 8, 33, 100, 1000] {
            let mut v = vec![0u32; len];
            let mut t = MinTree::new(len);
            for step in 0..3000 {
                let i = rng.below(len as u64) as usize;
                // Few distinct values, so ties are common.
                v[i] = rng.below(4) as u32;
                t.set(i, v[i]);
                let n = if step % 3 == 0 {
                    1 + rng.below(len as u64) as usize
                } else {
                    len
                };
                let start = rng.below(n as u64) as usize;
                assert_eq!(
                    t.least_from(start, n),
                    scan(&v, start, n),
                    "len {len} n {n}"
                );
                assert_eq!(t.get(i), v[i]);
            }
        }
    }
}
