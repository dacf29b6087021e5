//! Indexes for balancing among thousands of replicas in O(log n) instead of a scan: a minimum
//! segment tree over outstanding counts (least outstanding), and a set of the replicas health
//! checking leaves in balancing, with rank and select (the j-th routable from a start).
//!
//! Each answers exactly what the balancer's linear scan answers (tests below compare them). They
//! know nothing of replicas or health.

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

/// A set of indices `0..len` (the routable replicas) with counts below a bound and the j-th
/// member from a start, each O(log n): a Fenwick tree over 0/1 flags.
#[derive(Clone, Debug)]
pub struct RankSet {
    member: Vec<bool>,
    /// Fenwick tree: `tree[i]` sums the flags of `(i - lowbit(i), i]` (1-based).
    tree: Vec<u32>,
}

impl RankSet {
    /// Every index a member.
    pub fn full(len: usize) -> Self {
        let mut tree = vec![0u32; len + 1];
        for i in 1..=len {
            tree[i] += 1;
            let up = i + (i & i.wrapping_neg());
            if up <= len {
                tree[up] += tree[i];
            }
        }
        RankSet {
            member: vec![true; len],
            tree,
        }
    }

    pub fn contains(&self, i: usize) -> bool {
        self.member[i]
    }

    /// Makes `i` a member or not; true when that changed something.
    pub fn set(&mut self, i: usize, member: bool) -> bool {
        if self.member[i] == member {
            return false;
        }
        self.member[i] = member;
        let mut k = i + 1;
        while k < self.tree.len() {
            if member {
                self.tree[k] += 1;
            } else {
                self.tree[k] -= 1;
            }
            k += k & k.wrapping_neg();
        }
        true
    }

    /// Members below `n`.
    pub fn count_below(&self, n: usize) -> u32 {
        let (mut k, mut sum) = (n, 0);
        while k > 0 {
            sum += self.tree[k];
            k &= k - 1;
        }
        sum
    }

    /// The member of rank `r` (0: the lowest); `r` must be below the member count.
    fn select(&self, mut r: u32) -> usize {
        let mut pos = 0;
        let mut step = (self.tree.len() - 1).next_power_of_two();
        while step > 0 {
            let next = pos + step;
            if next < self.tree.len() && self.tree[next] <= r {
                pos = next;
                r -= self.tree[next];
            }
            step >>= 1;
        }
        pos // 1-based `pos + 1`, so 0-based `pos`
    }

    /// The `j`-th member (0: the first) in cyclic order from `from` among `0..n`, or None when
    /// there are not that many members below `n`.
    pub fn nth_from(&self, from: usize, j: u32, n: usize) -> Option<usize> {
        let count = self.count_below(n);
        if j >= count {
            return None;
        }
        let before = self.count_below(from.min(n));
        Some(self.select((before + j) % count))
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

    /// The balancer's scan: the `j`-th routable in cyclic order from `from` among `0..n`.
    fn nth(m: &[bool], from: usize, mut j: u32, n: usize) -> Option<usize> {
        for k in 0..n {
            let i = (from + k) % n;
            if m[i] {
                if j == 0 {
                    return Some(i);
                }
                j -= 1;
            }
        }
        None
    }

    #[test]
    fn rank_set_answers_what_the_scan_answers() {
        let mut rng = RngStream::derive(2, "rankset", "test");
        for len in [1usize, 2, 3, 7, 8, 9, 40, 1000] {
            let mut m = vec![true; len];
            let mut s = RankSet::full(len);
            for step in 0..3000 {
                let i = rng.below(len as u64) as usize;
                let member = rng.chance(if step % 500 < 250 { 0.3 } else { 0.9 });
                assert_eq!(s.set(i, member), m[i] != member);
                m[i] = member;
                let n = 1 + rng.below(len as u64) as usize;
                let from = rng.below(n as u64) as usize;
                let count = m[..n].iter().filter(|&&x| x).count() as u32;
                assert_eq!(s.count_below(n), count);
                // j may exceed the count only in the Random and P2C callers' sense: below it.
                let j = if count == 0 {
                    0
                } else {
                    rng.below(count as u64) as u32
                };
                assert_eq!(
                    s.nth_from(from, j, n),
                    nth(&m, from, j, n),
                    "len {len} n {n}"
                );
                assert_eq!(s.contains(i), m[i]);
            }
        }
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
