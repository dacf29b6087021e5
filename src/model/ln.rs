//! The natural logarithm every draw of an exponential goes through (exponential service
//! times, Poisson arrivals, Box-Muller), written out for speed and for the same bits on every
//! platform.
//!
//! Why not `libm::log`: it is the one call every customer of an M/M/1 run makes twice, and it
//! was 8% of the engine's instructions per customer and, by `perf`, a fifth of its wall time,
//! most of it waiting on a long chain of dependent operations (a division among them). This
//! one takes about 56 instructions a call against 63, with no division and a shorter chain
//! (BENCHMARKS.md run 20): x = 2^k z with z in [0.6875, 1.375) from the bits, one of 128
//! intervals of z by the bits, and in it ln x = k ln 2 + ln c + ln(1 + r) with c the interval's
//! centre, r = (z - c)/c (|r| <= 2^-7) and ln(1 + r) by its series to r^8. The table
//! (`ln_table.rs`) and the accuracy are from tests/data/ln_table.py, which computes ln c at 60
//! digits and runs this algorithm in Python's doubles against ln at 60 digits: within 0.58 ulp
//! for every uniform in (0, 1] it tried (0.2% of them not correctly rounded, against `libm`'s
//! bound of 1 ulp), 0.83 ulp over all normal doubles. Only `+`, `-` and `*` of IEEE 754 doubles,
//! no fused multiply-add: the same bits on every machine.
//!
//! It does not handle what no draw takes the logarithm of (zero, negatives, subnormals,
//! infinities, NaN): those go to `libm::log`, which gives the IEEE answers.

#[path = "ln_table.rs"]
mod table;

/// z is found relative to 0.6875 (bits of the double).
const OFF: u64 = 0x3fe6_0000_0000_0000;

/// The series of (ln(1 + r) - r) / r^2: -1/2 + r/3 - r^2/4 + ... to r^6.
const Q: [f64; 7] = [
    -1.0 / 2.0,
    1.0 / 3.0,
    -1.0 / 4.0,
    1.0 / 5.0,
    -1.0 / 6.0,
    1.0 / 7.0,
    -1.0 / 8.0,
];

/// ln x, within 0.6 ulp on (0, 1]; see the module comment.
#[inline(always)]
pub fn ln(x: f64) -> f64 {
    let ix = x.to_bits();
    // Positive normal finite doubles have bits in [2^52, 0x7ff << 52).
    if ix.wrapping_sub(1 << 52) >= (0x7ff << 52) - (1 << 52) {
        return libm::log(x);
    }
    let tmp = ix.wrapping_sub(OFF);
    let i = ((tmp >> 45) % 128) as usize;
    let k = ((tmp as i64) >> 52) as f64;
    let z = f64::from_bits(ix.wrapping_sub(tmp & (0xfff << 52)));
    let [c, invc, lnc_hi, lnc_lo] = table::TABLE[i].map(f64::from_bits);
    // z - c is exact (z and c within a factor of two); near 1, c = 1 and r = x - 1.
    let r = (z - c) * invc;
    // Exact: both terms are multiples of 2^-43 below 2^10.
    let hi = k * f64::from_bits(table::LN2_HI) + lnc_hi;
    let w = hi + r;
    // The rounding error of w (|hi| >= |r|, or hi = 0).
    let err = (hi - w) + r;
    // Estrin's scheme: a few multiplications deep instead of Horner's six, as the draw's value
    // is on the path to the event queue (tests/data/ln_table.py adds in this same order).
    let r2 = r * r;
    let r4 = r2 * r2;
    let q = ((Q[0] + r * Q[1]) + r2 * (Q[2] + r * Q[3])) + r4 * ((Q[4] + r * Q[5]) + r2 * Q[6]);
    w + (err + (k * f64::from_bits(table::LN2_LO) + lnc_lo) + r2 * q)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::RngStream;

    /// How many units in the last place `a` is from `b`.
    fn ulps(a: f64, b: f64) -> u64 {
        let key = |x: f64| {
            let i = x.to_bits() as i64;
            if i < 0 {
                i64::MIN - i
            } else {
                i
            }
        };
        key(a).abs_diff(key(b))
    }

    /// The largest distance from `libm::log` over `xs`, and how many differ at all.
    fn against_libm(xs: impl Iterator<Item = f64>) -> (u64, usize, usize) {
        let (mut worst, mut differ, mut n) = (0, 0, 0);
        for x in xs {
            let d = ulps(ln(x), libm::log(x));
            worst = worst.max(d);
            differ += (d > 0) as usize;
            n += 1;
        }
        (worst, differ, n)
    }

    #[test]
    fn agrees_with_libm_within_an_ulp_on_the_uniforms_draws_take() {
        // Both are within an ulp of ln (libm by its bound, this one by tests/data/ln_table.py),
        // so they differ by an ulp at most. They differ on about 7% of uniforms: this one is
        // correctly rounded on 99.8% of them (the script), libm on fewer.
        let mut s = RngStream::derive(5, "ln-test", "u");
        let (worst, differ, n) = against_libm((0..1_000_000).map(|_| s.uniform_open0()));
        assert!(worst <= 1, "{worst} ulps apart");
        assert!(differ * 10 < n, "{differ} of {n} differ");
    }

    #[test]
    fn agrees_with_libm_near_one_and_across_the_doubles() {
        let mut s = RngStream::derive(5, "ln-test", "x");
        let near_one = (0..200_000).map(|i| {
            let d = s.uniform() * 2f64.powi(-6);
            if i % 2 == 0 {
                1.0 - d
            } else {
                1.0 + d
            }
        });
        let (worst, _, _) = against_libm(near_one);
        assert!(worst <= 1, "near 1: {worst} ulps apart");
        let mut s = RngStream::derive(5, "ln-test", "bits");
        let normal = (0..200_000).map(|_| f64::from_bits((1 << 52) + s.below((0x7fe << 52) - 1)));
        let (worst, _, _) = against_libm(normal);
        assert!(worst <= 1, "normal doubles: {worst} ulps apart");
    }

    #[test]
    fn exact_and_special_values() {
        let cases: [(f64, f64); 7] = [
            (1.0, 0.0),
            (0.5, -std::f64::consts::LN_2),
            (2.0, std::f64::consts::LN_2),
            (std::f64::consts::E, 1.0),
            (f64::INFINITY, f64::INFINITY),
            (0.0, f64::NEG_INFINITY),
            (2f64.powi(-53), -53.0 * std::f64::consts::LN_2),
        ];
        for (x, want) in cases {
            assert!(
                ulps(ln(x), want) <= 1,
                "ln({x:e}) = {:e}, not {want:e}",
                ln(x)
            );
        }
        assert!(ln(-1.0).is_nan() && ln(f64::NAN).is_nan());
        assert_eq!(
            ln(f64::MIN_POSITIVE / 4.0),
            libm::log(f64::MIN_POSITIVE / 4.0)
        );
    }
}
