//! Latency histograms that cost memory only for what they hold.
//!
//! The buckets are HdrHistogram's (lowest value 1, no unit magnitude): a value's bucket is its
//! power of two above the first, its sub-bucket the top bits below that, so every value is
//! kept to a fixed number of significant figures. Given the same values, [`LogHist`] answers
//! exactly what `hdrhistogram::Histogram::value_at_quantile` and `max` answer (the tests below
//! hold it to that crate, which stays a dev-dependency for the purpose).
//!
//! What differs is the storage. A full-range histogram at 3 significant figures (1 ns to 1 h)
//! has 33,000 counters, 270 KB, whether or not anything is recorded; with thousands of services
//! and call edges that was most of a model's memory. Here an empty histogram holds nothing; a
//! few distinct values are kept as a sorted list of (bucket, count); once the list would take
//! an eighth of the room of the counters spanning it, the counters are allocated, over whole
//! powers of two, and grow only to the powers of two that values reach; they are 32 bits
//! (half the cache lines a recorded latency may miss in), with what passes 2^32 carried
//! aside. An eighth, not a half: each new bucket in the list moves the list's tail, and a
//! window's histogram is emptied and filled again every window, so long lists cost time over
//! and over (the quickstart spent 7% of its instructions there at a half) for little memory
//! (BENCHMARKS.md, run 19).
//!
//! Reading quantiles is one pass for any number of them ([`LogHist::values_at_quantiles`]).

/// The most distinct buckets kept as a list: inserting into a sorted list moves its tail, so
/// past this many the counters are allocated whatever their span.
const MAX_SPARSE: usize = 2048;

/// In a sparse entry, the count is the low 48 bits and the bucket index the high 16.
const COUNT_BITS: u32 = 48;
const COUNT_MASK: u64 = (1 << COUNT_BITS) - 1;

/// HdrHistogram's sub-bucket magnitude, less one, for `sig_figs` significant figures: the
/// sub-bucket count is the power of two covering 2 x 10^sig_figs (10, 2,048 sub-buckets, for
/// 3 figures; 7, 256, for 2).
const fn half_mag(sig_figs: u8) -> u32 {
    let largest_single_unit = 2 * 10u64.pow(sig_figs as u32);
    64 - (largest_single_unit - 1).leading_zeros() - 1
}

/// A histogram of positive integers with HdrHistogram's buckets, keeping `SIG` (2 or 3)
/// significant figures. The precision is part of the type so that a record's bucket
/// arithmetic shifts by constants.
#[derive(Clone, Debug)]
pub struct LogHist<const SIG: u8> {
    total: u64,
    /// Counts of the buckets from `first`, once the values are kept as counters (empty
    /// before: then `list` holds them). `first` and the length are whole blocks of
    /// `1 << half_mag` buckets (a power of two of values, past the first). The counters are
    /// 32 bits, half the memory and the cache lines of 64 (recording a latency is a random
    /// write into them, and with a dozen full-range histograms those misses were a tenth of
    /// a run's time); a bucket that passes 2^32 keeps the excess in `carries`, (bucket index,
    /// count beyond its counter) sorted by index, almost always empty. Plain fields rather
    /// than an enum of the two forms: a record is then one subtraction and one bounds check
    /// away from its counter, whichever form the histogram is in (an empty `counts` sends it
    /// to the list).
    first: u32,
    counts: Vec<u32>,
    carries: Vec<(u32, u64)>,
    /// (bucket index << 48) | count, sorted by index, one entry per distinct bucket, while
    /// `counts` is empty.
    list: Vec<u64>,
}

#[cold]
fn clamp_cold(v: u64, max_v: u64) -> u64 {
    v.clamp(1, max_v)
}

impl<const SIG: u8> Default for LogHist<SIG> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const SIG: u8> LogHist<SIG> {
    const HALF_MAG: u32 = half_mag(SIG);

    /// An empty histogram; allocates nothing.
    pub fn new() -> Self {
        LogHist {
            total: 0,
            first: 0,
            counts: Vec::new(),
            carries: Vec::new(),
            list: Vec::new(),
        }
    }

    /// Values recorded.
    pub fn len(&self) -> u64 {
        self.total
    }

    pub fn is_empty(&self) -> bool {
        self.total == 0
    }

    /// The highest value equivalent to the largest recorded (0 when empty), as HdrHistogram's
    /// `max`.
    ///
    /// Read from the highest bucket that holds a value: a record does not keep the largest
    /// value (a comparison on every record for a figure read once), and only its bucket
    /// matters here.
    pub fn max(&self) -> u64 {
        self.top_index()
            .map_or(0, |i| self.highest_equivalent(self.value_for(i)))
    }

    /// The index of the highest bucket that holds a value (None when empty).
    fn top_index(&self) -> Option<u32> {
        if self.counts.is_empty() {
            return self.list.last().map(|e| (e >> COUNT_BITS) as u32);
        }
        let counter = self.counts.iter().rposition(|&c| c > 0);
        let counter = counter.map(|k| self.first + k as u32);
        // A count that filled its counter exactly holds 0 there and the rest in a carry.
        counter.max(self.carries.last().map(|&(i, _)| i))
    }

    /// Bytes held on the heap (the tests hold the storage to what is recorded).
    pub fn heap_bytes(&self) -> usize {
        self.list.capacity() * 8 + self.counts.capacity() * 4 + self.carries.capacity() * 16
    }

    /// The power of two above the first that holds `v`: the position of `v`'s top bit past
    /// the sub-bucket bits (written with `ilog2`, the top bit's position itself, so that a
    /// record is one bit scan with nothing to undo after it).
    #[inline(always)]
    fn bucket(&self, v: u64) -> u32 {
        let sub_mask = (2u64 << Self::HALF_MAG) - 1;
        (v | sub_mask).ilog2() - Self::HALF_MAG
    }

    /// HdrHistogram's counts index, `((b + 1) << half) + (v >> b) - (1 << half)`, simplified.
    #[inline(always)]
    fn index(&self, v: u64) -> u32 {
        let b = self.bucket(v);
        (b << Self::HALF_MAG) + (v >> b) as u32
    }

    /// The lowest value of bucket `index`.
    fn value_for(&self, index: u32) -> u64 {
        let half = 1u32 << Self::HALF_MAG;
        let mut b = (index >> Self::HALF_MAG) as i64 - 1;
        let mut sub = (index & (half - 1)) + half;
        if b < 0 {
            sub -= half;
            b = 0;
        }
        (sub as u64) << b
    }

    fn highest_equivalent(&self, v: u64) -> u64 {
        let b = self.bucket(v);
        let lowest = (v >> b) << b;
        lowest.saturating_add(1u64 << b) - 1
    }

    /// Counts `v` clamped to `1..=max_v`. A value already inside (all but a few) costs one
    /// comparison and a branch taken the same way every time, where `clamp` costs two
    /// conditional moves on every record.
    #[inline(always)]
    pub fn record_within(&mut self, v: u64, max_v: u64) {
        let v = if v.wrapping_sub(1) < max_v {
            v
        } else {
            clamp_cold(v, max_v)
        };
        self.record(v);
    }

    /// Counts `v` once; `v` must be at least 1 (callers clamp).
    #[inline(always)]
    pub fn record(&mut self, v: u64) {
        debug_assert!(v >= 1, "histograms count positive values");
        let i = self.index(v);
        // The total is u64: a run's event limit keeps it far from overflowing, so it adds
        // plainly (the sparse list's 48-bit counts are checked where they grow, a counter's
        // 32 bits below).
        self.total += 1;
        if !self.count_in_counters(i) {
            self.record_slow(i);
        }
    }

    /// Counts bucket `i` once in the counters, when they hold it; false when they do not
    /// (a list, or a bucket outside them).
    #[inline(always)]
    fn count_in_counters(&mut self, i: u32) -> bool {
        // Below `first` the difference wraps past every length.
        let Some(c) = self.counts.get_mut(i.wrapping_sub(self.first) as usize) else {
            return false;
        };
        let (n, wrapped) = c.overflowing_add(1);
        *c = n;
        if wrapped {
            self.carry(i, 1 << 32);
        }
        true
    }

    #[cold]
    #[inline(never)]
    fn record_slow(&mut self, i: u32) {
        let block = 1u32 << Self::HALF_MAG;
        if self.counts.is_empty() {
            let list = &mut self.list;
            let found = list.binary_search_by_key(&i, |e| (e >> COUNT_BITS) as u32);
            let grow = match found {
                Ok(k) => list[k] & COUNT_MASK == COUNT_MASK, // a count filling 48 bits
                Err(_) => {
                    let (lo, hi) = Self::span(list, i);
                    let span = (hi / block - lo / block + 1) as usize * block as usize;
                    (list.len() + 1) * 8 >= span || list.len() >= MAX_SPARSE
                }
            };
            match (found, grow) {
                (_, true) => {
                    self.densify(i);
                    self.record_slow(i);
                }
                (Ok(k), false) => list[k] += 1,
                (Err(k), false) => list.insert(k, (i as u64) << COUNT_BITS | 1),
            }
        } else {
            // Outside the counters (or just made from a list, with `i` inside): widen them to
            // the blocks that reach `i` (carries are by bucket index, which widening does not
            // move), then count it there.
            let (first, len) = (self.first, self.counts.len() as u32);
            let lo = first.min(i / block * block);
            let end = (first + len).max((i / block + 1) * block);
            if (lo, end) != (first, first + len) {
                let mut wider = vec![0u32; (end - lo) as usize];
                let at = (first - lo) as usize;
                wider[at..at + len as usize].copy_from_slice(&self.counts);
                self.first = lo;
                self.counts = wider;
            }
            let counted = self.count_in_counters(i);
            debug_assert!(counted, "the counters reach bucket {i} now");
        }
    }

    /// Adds `n` to bucket `i`'s count beyond its 32-bit counter.
    #[cold]
    #[inline(never)]
    fn carry(&mut self, i: u32, n: u64) {
        let carries = &mut self.carries;
        match carries.binary_search_by_key(&i, |&(k, _)| k) {
            Ok(k) => carries[k].1 += n,
            Err(k) => carries.insert(k, (i, n)),
        }
    }

    /// The lowest and highest bucket index of `list` and `i`.
    fn span(list: &[u64], i: u32) -> (u32, u32) {
        let at = |e: &u64| (e >> COUNT_BITS) as u32;
        match (list.first(), list.last()) {
            (Some(f), Some(l)) => (at(f).min(i), at(l).max(i)),
            _ => (i, i),
        }
    }

    /// Moves a sparse list to counters covering its blocks and that of `i`.
    fn densify(&mut self, i: u32) {
        let block = 1u32 << Self::HALF_MAG;
        let list = std::mem::take(&mut self.list);
        let (lo, hi) = Self::span(&list, i);
        let first = lo / block * block;
        let end = (hi / block + 1) * block;
        let mut counts = vec![0u32; (end - first) as usize];
        let mut carries = Vec::new();
        for e in &list {
            let (i, n) = ((e >> COUNT_BITS) as u32, e & COUNT_MASK);
            counts[(i - first) as usize] = n as u32;
            if n > u32::MAX as u64 {
                carries.push((i, n & !(u32::MAX as u64)));
            }
        }
        (self.first, self.counts, self.carries) = (first, counts, carries);
    }

    /// Forgets every value, keeping the room allocated.
    pub fn reset(&mut self) {
        let Some(top) = self.top_index() else {
            return; // empty already
        };
        self.total = 0;
        if self.counts.is_empty() {
            self.list.clear();
        } else {
            // Nothing above the highest bucket holding a value was counted since the last
            // reset: a window whose values stay below an earlier outlier clears only what it
            // touched (found by a read from the top, cheaper than the writes it saves).
            let end = ((top + 1).saturating_sub(self.first) as usize).min(self.counts.len());
            self.counts[..end].fill(0);
            self.carries.clear();
        }
    }

    /// For each quantile in `qs` (any order), HdrHistogram's `value_at_quantile`: the highest
    /// value equivalent to the first bucket at which the running count reaches
    /// max(1, ceil(q x total)) (the lowest equivalent for q = 0; q above 1 counts as 1).
    /// One pass over the buckets. 0 for every quantile of an empty histogram.
    pub fn values_at_quantiles(&self, qs: &[f64]) -> Vec<u64> {
        let mut out = vec![0; qs.len()];
        self.quantiles_into(qs, &mut out);
        out
    }

    /// [`LogHist::values_at_quantiles`] into an array (no allocation when `qs` ascend).
    pub fn values_at<const N: usize>(&self, qs: &[f64; N]) -> [u64; N] {
        let mut out = [0; N];
        self.quantiles_into(qs, &mut out);
        out
    }

    fn quantiles_into(&self, qs: &[f64], out: &mut [u64]) {
        out.fill(0);
        if self.total == 0 || qs.is_empty() {
            return;
        }
        let rank = |q: f64| ((q.min(1.0) * self.total as f64).ceil() as u64).max(1);
        // Ranks ascend with the quantiles; visit them in that order.
        let order: Vec<usize>;
        let order: &[usize] = if qs.windows(2).all(|w| w[0] <= w[1]) {
            &[]
        } else {
            let mut o: Vec<usize> = (0..qs.len()).collect();
            o.sort_by(|&a, &b| qs[a].total_cmp(&qs[b]));
            order = o;
            &order
        };
        let at = |n: usize| if order.is_empty() { n } else { order[n] };
        // The walk's state: quantiles answered, values counted, and the rank the next
        // quantile waits for (computed once per quantile, not per bucket).
        let (mut next, mut seen, mut want) = (0, 0u64, rank(qs[at(0)]));
        // Counts bucket `index` holds; answers the quantiles whose rank it reaches. True when
        // every quantile is answered.
        let mut visit =
            |index: u32, count: u64, seen: &mut u64, want: &mut u64, out: &mut [u64]| {
                *seen += count;
                while *want <= *seen {
                    let k = at(next);
                    let v = self.value_for(index);
                    out[k] = if qs[k] == 0.0 {
                        v
                    } else {
                        self.highest_equivalent(v)
                    };
                    next += 1;
                    if next == qs.len() {
                        return true;
                    }
                    *want = rank(qs[at(next)]);
                }
                false
            };
        let (first, counts, carries) = (self.first, &self.counts, &self.carries);
        if counts.is_empty() {
            for e in &self.list {
                let (i, n) = ((e >> COUNT_BITS) as u32, e & COUNT_MASK);
                if visit(i, n, &mut seen, &mut want, out) {
                    break;
                }
            }
        } else if carries.is_empty() {
            // Whole blocks of counters that end below the next rank are passed by their sum
            // (a loop the compiler vectorises); the block the rank falls in is walked.
            const BLOCK: usize = 16;
            for (b, block) in counts.chunks(BLOCK).enumerate() {
                let sum: u64 = block.iter().map(|&c| c as u64).sum();
                if seen + sum < want {
                    seen += sum;
                    continue;
                }
                let base = first + (b * BLOCK) as u32;
                for (k, &c) in block.iter().enumerate() {
                    let i = base + k as u32;
                    if c > 0 && visit(i, c as u64, &mut seen, &mut want, out) {
                        return;
                    }
                }
            }
        } else {
            let mut carries = carries.iter().peekable();
            for (k, &c) in counts.iter().enumerate() {
                let i = first + k as u32;
                let mut n = c as u64;
                if carries.peek().is_some_and(|&&(at, _)| at == i) {
                    n += carries.next().map_or(0, |&(_, extra)| extra);
                }
                if n > 0 && visit(i, n, &mut seen, &mut want, out) {
                    break;
                }
            }
        }
    }

    /// One quantile (see [`LogHist::values_at_quantiles`]).
    pub fn value_at_quantile(&self, q: f64) -> u64 {
        self.values_at(&[q])[0]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::RngStream;
    use hdrhistogram::Histogram;

    const QS: [f64; 9] = [0.0, 0.001, 0.1, 0.5, 0.9, 0.99, 0.999, 0.9999, 1.0];

    /// Records `values` in both and compares every answer.
    fn agree<const SIG: u8>(high: u64, values: &[u64]) {
        let mut ours = LogHist::<SIG>::new();
        let mut theirs = Histogram::<u64>::new_with_bounds(1, high, SIG).unwrap();
        for &v in values {
            let v = v.clamp(1, high);
            ours.record(v);
            theirs.saturating_record(v);
        }
        assert_eq!(ours.len(), theirs.len());
        assert_eq!(ours.max(), theirs.max(), "max");
        let got = ours.values_at_quantiles(&QS);
        for (k, &q) in QS.iter().enumerate() {
            assert_eq!(got[k], theirs.value_at_quantile(q), "q {q}, sig {SIG}");
        }
        // Quantiles out of order and repeated give the same answers.
        let rev: Vec<f64> = QS.iter().rev().copied().collect();
        let mut back = ours.values_at_quantiles(&rev);
        back.reverse();
        assert_eq!(back, got);
    }

    fn draws(seed: u64, n: usize, f: impl Fn(&mut RngStream) -> u64) -> Vec<u64> {
        let mut s = RngStream::derive(seed, "hist", "test");
        (0..n).map(|_| f(&mut s)).collect()
    }

    #[test]
    fn answers_what_hdrhistogram_answers() {
        let high = 3_600_000_000_000;
        let exp = |mean: f64| move |s: &mut RngStream| (-mean * s.uniform_open0().ln()) as u64;
        let cases: Vec<(u8, Vec<u64>)> = vec![
            (3, vec![]),
            (3, vec![1]),
            (3, vec![5, 5, 5]),
            (3, vec![2047, 2048, 2049, 4095, 4096, 1 << 40]),
            (3, draws(1, 50, exp(1e6))),                    // sparse
            (3, draws(2, 100_000, exp(1e6))),               // dense
            (3, draws(3, 20_000, exp(1e9))),                // a wide range
            (3, draws(4, 5_000, |s| s.below(1 << 42) + 1)), // spread across every power
            (3, vec![high, high, 1]),
            (2, draws(5, 30, exp(2e3))),
            (2, draws(6, 50_000, exp(2e3))),
            (2, draws(7, 10_000, |s| s.below(3_600_000_000) + 1)),
        ];
        for (sig, values) in &cases {
            match sig {
                3 => agree::<3>(high, values),
                _ => agree::<2>(high / 1000, values),
            }
        }
        // Growing down and up after the counters exist.
        let mut v = draws(8, 10_000, exp(1e6));
        v.extend([3, 1 << 38, 7, 1 << 39]);
        agree::<3>(high, &v);
    }

    #[test]
    fn memory_follows_what_is_recorded() {
        let empty = LogHist::<3>::new();
        assert_eq!(empty.heap_bytes(), 0);
        // 100 values near 1 ms stay a short list.
        let mut few = LogHist::<3>::new();
        for v in draws(9, 100, |s| 1_000_000 + s.below(1_000_000)) {
            few.record(v);
        }
        assert!(few.heap_bytes() <= 100 * 8 * 2, "{}", few.heap_bytes());
        // A million values within one power of two take that power's 32-bit counters, 4 KB,
        // not the 135 KB of the full range.
        let mut many = LogHist::<3>::new();
        for v in draws(10, 1_000_000, |s| 1 << 20 | s.below(1 << 20)) {
            many.record(v);
        }
        assert_eq!(many.heap_bytes(), 1024 * 4);
    }

    #[test]
    fn counts_past_32_bits_carry() {
        // Counters are 32 bits; a bucket counted past 2^32 (here set close to it rather than
        // recorded four billion times) keeps the excess aside, and the answers are those of
        // HdrHistogram's 64-bit counts: at the carry, across a second one, and after a list
        // whose 48-bit count filled up became counters.
        let near = u32::MAX as u64 - 2;
        let mut ours = LogHist::<3>::new();
        let mut theirs = Histogram::<u64>::new_with_bounds(1, 1 << 40, 3).unwrap();
        for v in draws(16, 50_000, |s| s.below(1 << 30) + 1) {
            ours.record(v);
            theirs.record(v).unwrap();
        }
        let v = 123_456_789;
        let i = ours.index(v);
        assert!(
            !ours.counts.is_empty(),
            "50,000 values spread this wide are counters"
        );
        let c = &mut ours.counts[(i - ours.first) as usize];
        let before = *c as u64;
        *c = near as u32;
        ours.total += near - before;
        theirs.record_n(v, near - before).unwrap();
        for _ in 0..5 {
            ours.record(v);
            theirs.record(v).unwrap();
        }
        let check = |ours: &LogHist<3>, theirs: &Histogram<u64>, what: &str| {
            let got = ours.values_at(&QS);
            let want = QS.map(|q| theirs.value_at_quantile(q));
            assert_eq!(got, want, "{what}");
            assert_eq!(ours.len(), theirs.len(), "{what}");
            assert_eq!(ours.max(), theirs.max(), "{what}");
        };
        check(&ours, &theirs, "one carry");
        let k = (i - ours.first) as usize;
        ours.counts[k] = u32::MAX;
        ours.total += u32::MAX as u64 - 2;
        theirs.record_n(v, u32::MAX as u64 - 2).unwrap();
        ours.record(v);
        theirs.record(v).unwrap();
        check(&ours, &theirs, "two carries");
        // The top bucket's counter wrapped to exactly 0: its carry keeps it the top.
        let big = 1u64 << 35;
        ours.record(big);
        theirs.record(big).unwrap();
        let k = (ours.index(big) - ours.first) as usize;
        ours.counts[k] = u32::MAX;
        ours.total += u32::MAX as u64 - 1;
        theirs.record_n(big, u32::MAX as u64 - 1).unwrap();
        ours.record(big);
        theirs.record(big).unwrap();
        assert_eq!(ours.counts[k], 0, "the counter wrapped");
        check(&ours, &theirs, "the top bucket carried");
        // A sparse count that filled 48 bits goes to counters with its excess carried.
        let mut few = LogHist::<3>::new();
        few.record(7);
        assert!(few.counts.is_empty(), "one value is a list");
        few.list[0] |= COUNT_MASK;
        few.total = COUNT_MASK;
        few.record(7);
        let mut one = Histogram::<u64>::new_with_bounds(1, 1 << 40, 3).unwrap();
        one.record_n(7, COUNT_MASK + 1).unwrap();
        check(&few, &one, "a full list");
        assert!(!few.counts.is_empty() && few.list.is_empty());
    }

    #[test]
    fn reset_forgets_and_keeps_working() {
        let mut h = LogHist::<2>::new();
        for v in draws(11, 10_000, |s| s.below(100_000) + 1) {
            h.record(v);
        }
        h.reset();
        assert_eq!((h.len(), h.max(), h.value_at_quantile(0.5)), (0, 0, 0));
        h.record(42);
        assert_eq!(h.value_at_quantile(0.5), 42);
    }

    #[test]
    fn a_reset_after_an_outlier_forgets_everything_below_it() {
        // Windows of values under an earlier outlier (reset clears only up to the largest
        // value): each window reads as a fresh histogram of its own values.
        let qs = [0.0, 0.1, 0.5, 0.9, 0.99, 1.0];
        let mut h = LogHist::<2>::new();
        h.record(3_000_000);
        h.reset();
        for (seed, hi) in [(12, 5_000), (13, 200), (14, 90_000), (15, 7)] {
            let values = draws(seed, 5_000, |s| s.below(hi) + 1);
            let mut fresh = LogHist::<2>::new();
            for &v in &values {
                h.record(v);
                fresh.record(v);
            }
            assert_eq!(h.values_at(&qs), fresh.values_at(&qs), "window up to {hi}");
            assert_eq!((h.len(), h.max()), (fresh.len(), fresh.max()));
            h.reset();
        }
    }
}
