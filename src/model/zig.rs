//! Exponential draws by Marsaglia and Tsang's ziggurat ("The Ziggurat Method for Generating
//! Random Variables", 2000): exponential service times, Poisson arrival gaps and exponential
//! link latencies all come from here.
//!
//! Why not inversion (-ln u): the logarithm was the largest single cost of an M/M/1 customer
//! (two draws, about 113 of its instructions with faultline's own `ln`, and by `perf` the
//! longest chain of dependent operations on the way from a draw to the event it times). Here
//! 97.8% of draws take one 64-bit word, a table lookup, two multiplications and a comparison
//! (BENCHMARKS.md run 21).
//!
//! The region under exp(-x) is covered by 256 layers of equal area, stacked from the base:
//! layer i >= 1 is the rectangle [0, X[i]) x [F[i], F[i+1]) with F = exp(-X); layer 0 is the
//! rectangle [0, R) x [0, F[1]) and, beside it, the tail beyond R, which has the same area as
//! a rectangle of width 1. A draw picks a layer with the word's low 8 bits and a point x along
//! its width with the top 53; below the next layer's width the whole column is under the
//! curve and x is the draw. Otherwise (2.2% of draws): in layer 0, the tail, R + Exp(1)
//! by inversion (exponentials are memoryless); elsewhere a height in the layer decides whether
//! the point is under the curve (then x) or not (then a new word, from the start). Exact in
//! the sense every ziggurat is: the distribution is that of the 53-bit points, whose spacing
//! in a layer is X[i] 2^-53.
//!
//! The table (`zig_table.rs`) is computed at 60 digits by tests/data/zig_table.py;
//! tests/golden.rs holds draws to values that tests/data/golden_draws.py computes from the same
//! words in Python, and the tests below hold the draws to the exponential distribution. Only
//! `*`, `+`, comparisons, faultline's `ln` and `libm::exp`: the same bits on every machine.
//!
//! It knows nothing of streams: the caller hands it a source of 64-bit words.

use super::ln::ln;

#[path = "zig_table.rs"]
mod table;

const fn doubles<const N: usize>(bits: [u64; N]) -> [f64; N] {
    let mut out = [0.0; N];
    let mut i = 0;
    while i < N {
        out[i] = f64::from_bits(bits[i]);
        i += 1;
    }
    out
}

/// Each layer's width (X[0] = R + 1: the base layer's with its tail; X[256] = 0).
static X: [f64; 257] = doubles(table::X);
/// exp(-X[i]) (F[256] = 1; F[0] is not used).
static F: [f64; 257] = doubles(table::F);
/// Where the tail begins (X[1]).
const R: f64 = f64::from_bits(table::R);

/// 2^-53.
const UNIT_53: f64 = 1.0 / (1u64 << 53) as f64;

/// The layer a word picks (its low 8 bits) and the point along the layer's width its top 53
/// bits pick.
#[inline(always)]
fn layer_point(w: u64) -> (usize, f64) {
    let i = (w & 0xff) as usize;
    (i, (w >> 11) as f64 * UNIT_53 * X[i])
}

/// One draw of the standard exponential (mean 1) from `next`, a source of 64-bit words: one
/// word for 97.8% of draws, more for the rest.
#[inline(always)]
pub fn standard_exponential(next: &mut impl FnMut() -> u64) -> f64 {
    let first = next();
    standard_exponential_from(first, next)
}

/// [`standard_exponential`] with its first word already drawn, by the caller in line: the
/// source is called only for the 2.2% of draws that need more.
#[inline(always)]
pub fn standard_exponential_from(first: u64, next: &mut impl FnMut() -> u64) -> f64 {
    let (i, x) = layer_point(first);
    if x < X[i + 1] {
        return x;
    }
    beyond_the_rectangle(i, x, next)
}

/// The point `x` of layer `i` lies past the column under the next layer: take the tail (layer
/// 0) or test the wedge, drawing again from the start when the point is above the curve.
#[cold]
#[inline(never)]
fn beyond_the_rectangle(mut i: usize, mut x: f64, next: &mut dyn FnMut() -> u64) -> f64 {
    loop {
        if i == 0 {
            // Beyond R the density is exp(-x) again, shifted: R + Exp(1), by inversion of a
            // uniform in (0, 1].
            let u = ((1u64 << 53) - (next() >> 11)) as f64 * UNIT_53;
            return R - ln(u);
        }
        let y = F[i] + (next() >> 11) as f64 * UNIT_53 * (F[i + 1] - F[i]);
        if y < libm::exp(-x) {
            return x;
        }
        (i, x) = layer_point(next());
        if x < X[i + 1] {
            return x;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::RngStream;

    fn draws(n: usize, seed: u64) -> Vec<f64> {
        let mut s = RngStream::derive(seed, "zig-test", "x");
        (0..n)
            .map(|_| standard_exponential(&mut || s.next_u64()))
            .collect()
    }

    #[test]
    fn the_layers_have_equal_areas_and_end_at_the_top() {
        // V = R exp(-R) + exp(-R) (the base layer with its tail); each layer above has the same
        // area, to the table's rounding.
        let v = R * F[1] + F[1];
        for i in 1..256 {
            let area = X[i] * (F[i + 1] - F[i]);
            assert!((area - v).abs() < 1e-12, "layer {i}: {area} against {v}");
        }
        assert_eq!((X[256], F[256]), (0.0, 1.0));
        assert!((X[0] - (R + 1.0)).abs() < 1e-14);
        // Marsaglia and Tsang's constants for 256 layers.
        assert!((R - 7.697_117_470_131_05).abs() < 1e-13);
        assert!((v - 3.949_659_822_581_557e-3).abs() < 1e-17);
    }

    #[test]
    fn draws_follow_the_exponential_distribution() {
        // Kolmogorov-Smirnov against 1 - exp(-x) on a million draws: the 0.1% critical value
        // is 1.95 / sqrt(n).
        let n = 1_000_000;
        let mut xs = draws(n, 7);
        xs.sort_by(f64::total_cmp);
        let d = xs
            .iter()
            .enumerate()
            .map(|(k, &x)| {
                let cdf = 1.0 - libm::exp(-x);
                (cdf - k as f64 / n as f64).max((k + 1) as f64 / n as f64 - cdf)
            })
            .fold(0.0, f64::max);
        assert!(d < 1.95 / (n as f64).sqrt(), "KS distance {d}");
        // Mean 1 and variance 1: standard errors 0.001 and about 0.003.
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n as f64;
        assert!((mean - 1.0).abs() < 0.005, "mean {mean}");
        assert!((var - 1.0).abs() < 0.015, "variance {var}");
    }

    #[test]
    fn the_tail_and_the_wedges_are_drawn_as_often_as_the_density_says() {
        // Counts of draws beyond R (probability exp(-R), about 4.5e-4) and in a band the
        // wedges cover, [1, 1.01) (probability exp(-1) - exp(-1.01)), against their binomial
        // expectations, within 5 standard deviations; and the tail's own mean excess is 1.
        let n = 4_000_000;
        let xs = draws(n, 11);
        let band = |lo: f64, hi: f64| {
            let p = libm::exp(-lo) - libm::exp(-hi);
            let got = xs.iter().filter(|&&x| x >= lo && x < hi).count() as f64;
            let (want, sd) = (n as f64 * p, (n as f64 * p * (1.0 - p)).sqrt());
            assert!(
                (got - want).abs() < 5.0 * sd,
                "[{lo}, {hi}): {got} against {want}"
            );
        };
        band(R, f64::INFINITY);
        band(1.0, 1.01);
        band(0.0, 1e-3);
        band(X[200], X[199]);
        let tail: Vec<f64> = xs.iter().filter(|&&x| x >= R).map(|x| x - R).collect();
        let excess = tail.iter().sum::<f64>() / tail.len() as f64;
        assert!(
            (excess - 1.0).abs() < 5.0 / (tail.len() as f64).sqrt(),
            "{excess}"
        );
    }
}
