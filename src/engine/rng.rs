//! Named random streams: one ChaCha8 generator per (master seed, entity name, purpose).
//!
//! This is what makes common random numbers work: a replica's service times come from a stream
//! named after that replica, so adding a client, a service or a policy elsewhere in the scenario
//! does not shift them. Stream seeds are derived with [`stable_hash_bytes`] (FNV-1a) and
//! SplitMix64, both written out here, so they are identical on every platform and Rust version.
//! Conversions from raw bits to numbers are also written out (no `rand` distribution code, whose
//! algorithms may change between versions).

use super::hash::stable_hash_bytes;
use rand_chacha::ChaCha8Core;
use rand_core::block::BlockRngCore;
use rand_core::SeedableRng;

/// One named stream of random numbers.
///
/// The generator (ChaCha8 and its 256-byte block buffer, 320 bytes) is made at the first
/// draw from the 8 bytes its seed comes from: a model of a million replicas derives every
/// replica's streams, and an idle replica's cost 16 bytes each instead of 320. Drawing is the
/// same either way.
#[derive(Clone, Debug)]
pub struct RngStream {
    /// The SplitMix64 state the generator's seed is drawn from.
    seed_state: u64,
    rng: Option<Box<Gen>>,
}

/// ChaCha8 with its block buffer: what `rand_chacha::ChaCha8Rng` is (its core, and
/// `rand_core`'s block buffer of 64 words), with the buffer read here so that a draw is a few
/// instructions in line and only a refill is a call. It draws the words `ChaCha8Rng` draws,
/// in the same order (a test below holds it to the crate).
#[derive(Clone, Debug)]
struct Gen {
    core: ChaCha8Core,
    results: <ChaCha8Core as BlockRngCore>::Results,
    /// The next word of `results` to read: always even, as words are read in pairs (64: none
    /// left).
    index: usize,
}

/// Words in a block buffer (four ChaCha blocks).
const WORDS: usize = 64;

impl Gen {
    fn from_seed(seed: [u8; 32]) -> Self {
        Gen {
            core: ChaCha8Core::from_seed(seed),
            results: Default::default(),
            index: WORDS,
        }
    }

    /// Two words, the first low, as `rand_core`'s `BlockRng::next_u64` reads them.
    #[inline(always)]
    fn next_u64(&mut self) -> u64 {
        let i = self.index;
        if i < WORDS - 1 {
            self.index = i + 2;
            let r: &[u32] = self.results.as_ref();
            debug_assert!(r.len() == WORDS);
            // SAFETY: the buffer holds WORDS words and i + 1 < WORDS.
            let (lo, hi) = unsafe { (*r.get_unchecked(i), *r.get_unchecked(i + 1)) };
            return (u64::from(hi) << 32) | u64::from(lo);
        }
        self.next_u64_refill()
    }

    /// The buffer is used up: refill it and read its first two words. Words are only ever
    /// read in pairs from an even index, so the buffer never holds a last word alone (the
    /// case `BlockRng` also handles, for its 32-bit reads, which nothing here makes).
    #[cold]
    #[inline(never)]
    fn next_u64_refill(&mut self) -> u64 {
        debug_assert_eq!(self.index, WORDS, "words are read in pairs");
        self.core.generate(&mut self.results);
        self.index = 2;
        let r = self.results.as_ref();
        (u64::from(r[1]) << 32) | u64::from(r[0])
    }
}

/// 2^-53: the step between the uniforms drawn from 53 bits.
const UNIT_53: f64 = 1.0 / (1u64 << 53) as f64;

fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl RngStream {
    /// The stream for `entity` (a stable name such as `service:api/replica:0`) and `purpose`
    /// (such as `service_time`) under `master_seed`.
    pub fn derive(master_seed: u64, entity: &str, purpose: &str) -> Self {
        Self::from_state(Self::derive_state(master_seed, entity, purpose))
    }

    /// The seed state of [`RngStream::derive`]'s stream, for a caller that keeps 8 bytes
    /// and makes the stream later with [`RngStream::from_state`].
    pub fn derive_state(master_seed: u64, entity: &str, purpose: &str) -> u64 {
        // Length-prefixing keeps ("ab", "c") and ("a", "bc") apart.
        let mut bytes = Vec::with_capacity(entity.len() + purpose.len() + 32);
        bytes.extend_from_slice(b"faultline-stream-v1");
        bytes.extend_from_slice(&(entity.len() as u64).to_le_bytes());
        bytes.extend_from_slice(entity.as_bytes());
        bytes.extend_from_slice(&(purpose.len() as u64).to_le_bytes());
        bytes.extend_from_slice(purpose.as_bytes());
        master_seed ^ stable_hash_bytes(&bytes)
    }

    /// The stream whose seed state is `state`, before its first draw.
    pub fn from_state(state: u64) -> Self {
        RngStream {
            seed_state: state,
            rng: None,
        }
    }

    /// The seed state of the stream `from_state(state)` becomes when reseeded with `salt`
    /// before any draw (reseeding makes a fresh generator from that state).
    pub fn reseeded_state(state: u64, salt: u64) -> u64 {
        let mut s = Self::from_state(state);
        s.reseed(salt);
        s.seed_state
    }

    /// The generator whose 32-byte seed is four SplitMix64 draws from `state`.
    fn generator(mut state: u64) -> Box<Gen> {
        let mut seed = [0u8; 32];
        for chunk in seed.chunks_mut(8) {
            chunk.copy_from_slice(&splitmix64(&mut state).to_le_bytes());
        }
        Box::new(Gen::from_seed(seed))
    }

    /// The generator, made at the first draw.
    #[inline(always)]
    fn rng(&mut self) -> &mut Gen {
        if self.rng.is_none() {
            self.make();
        }
        // Made just above if it was not.
        self.rng.as_deref_mut().expect("a generator")
    }

    #[cold]
    #[inline(never)]
    fn make(&mut self) {
        self.rng = Some(Self::generator(self.seed_state));
    }

    /// Continues this stream as a different one: what it would have drawn next, mixed with
    /// `salt`, seeds its future. Two copies of one stream reseeded with different salts draw
    /// independently from then on; with the same salt, identically. For splitting, where a
    /// copy of a run goes on with fresh randomness.
    pub fn reseed(&mut self, salt: u64) {
        self.seed_state = self.rng().next_u64() ^ splitmix64(&mut salt.clone());
        self.rng = Some(Self::generator(self.seed_state));
    }

    #[inline(always)]
    pub fn next_u64(&mut self) -> u64 {
        self.rng().next_u64()
    }

    /// Uniform in [0, 1), from the top 53 bits of one draw.
    #[inline]
    pub fn uniform(&mut self) -> f64 {
        self.top_53_bits() as f64 * UNIT_53
    }

    /// The top 53 bits of one draw: k in [0, 2^53), the uniforms' k * 2^-53.
    #[inline(always)]
    fn top_53_bits(&mut self) -> u64 {
        self.rng().next_u64() >> 11
    }

    /// Uniform in (0, 1]: safe to take the logarithm of. The same bits as `1.0 - uniform()`
    /// (both are exact: multiples of 2^-53 up to 1), with the subtraction done on the integer,
    /// a cycle instead of four on the path from the draw to the event it times.
    #[inline]
    pub fn uniform_open0(&mut self) -> f64 {
        let k = (1u64 << 53) - self.top_53_bits();
        k as i64 as f64 * UNIT_53
    }

    /// Uniform integer in [0, n) by rejection (unbiased); `n` must be at least 1.
    #[inline]
    pub fn below(&mut self, n: u64) -> u64 {
        debug_assert!(n > 0);
        // Reject the top partial range so every residue is equally likely.
        let zone = u64::MAX - (u64::MAX - n + 1) % n;
        loop {
            let x = self.rng().next_u64();
            if x <= zone {
                return x % n;
            }
        }
    }

    /// True with probability `p`.
    #[inline]
    pub fn chance(&mut self, p: f64) -> bool {
        if p >= 1.0 {
            true
        } else if p <= 0.0 {
            false
        } else {
            self.uniform() < p
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The buffer read here gives the words `rand_chacha`'s own generator gives, across
    /// refills, from the same seed.
    #[test]
    fn draws_what_chacha8rng_draws() {
        use rand_core::RngCore;
        for k in 0..4u8 {
            let seed = [k.wrapping_mul(37).wrapping_add(1); 32];
            let mut ours = Gen::from_seed(seed);
            let mut theirs = rand_chacha::ChaCha8Rng::from_seed(seed);
            for n in 0..1_000 {
                assert_eq!(ours.next_u64(), theirs.next_u64(), "seed {k}, draw {n}");
            }
        }
    }

    #[test]
    fn same_name_same_stream_other_name_other_stream() {
        let mut a = RngStream::derive(7, "service:api/replica:0", "service_time");
        let mut b = RngStream::derive(7, "service:api/replica:0", "service_time");
        let mut c = RngStream::derive(7, "service:api/replica:1", "service_time");
        let mut d = RngStream::derive(8, "service:api/replica:0", "service_time");
        let xa: Vec<u64> = (0..4).map(|_| a.next_u64()).collect();
        let xb: Vec<u64> = (0..4).map(|_| b.next_u64()).collect();
        let xc: Vec<u64> = (0..4).map(|_| c.next_u64()).collect();
        let xd: Vec<u64> = (0..4).map(|_| d.next_u64()).collect();
        assert_eq!(xa, xb);
        assert_ne!(xa, xc);
        assert_ne!(xa, xd);
    }

    #[test]
    fn uniform_open0_is_one_minus_uniform_bit_for_bit() {
        let (mut a, mut b) = (
            RngStream::derive(2, "x", "y"),
            RngStream::derive(2, "x", "y"),
        );
        for _ in 0..100_000 {
            let (u, v) = (a.uniform_open0(), 1.0 - b.uniform());
            assert_eq!(u.to_bits(), v.to_bits());
            assert!(u > 0.0 && u <= 1.0);
        }
    }

    #[test]
    fn uniform_is_in_range_and_below_is_unbiased_enough() {
        let mut r = RngStream::derive(1, "x", "y");
        let mut counts = [0u32; 3];
        for _ in 0..30_000 {
            let u = r.uniform();
            assert!((0.0..1.0).contains(&u));
            counts[r.below(3) as usize] += 1;
        }
        for c in counts {
            // Binomial(30000, 1/3): sd ~ 82; 5 sd either side.
            assert!((9_590..=10_410).contains(&c), "{counts:?}");
        }
    }
}
