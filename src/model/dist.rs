//! Distributions of durations (service times, link latencies, think times), sampled in integer
//! nanoseconds from a named stream.
//!
//! The sampling algorithms are written out here and in `zig.rs` (the ziggurat for exponentials,
//! inverse transform, Box-Muller) rather than taken from a crate, so that the same seed draws
//! the same numbers on every version of faultline's dependencies.

use crate::engine::RngStream;

/// z such that P(Z <= z) = 0.99 for a standard normal.
pub const Z_99: f64 = 2.326_347_874_040_840_8;

/// A distribution of non-negative durations, in nanoseconds.
#[derive(Clone, Debug, PartialEq)]
pub enum Dist {
    /// Always the same value.
    Constant { ns: u64 },
    /// Exponential with the given mean (memoryless: M in queueing notation).
    Exponential { mean_ns: f64 },
    /// Uniform on [min, max].
    Uniform { min_ns: f64, max_ns: f64 },
    /// Normal with the given mean and standard deviation, truncated at zero by resampling.
    Normal { mean_ns: f64, std_dev_ns: f64 },
    /// Lognormal: ln(X) ~ N(mu, sigma), in nanoseconds. Built from a median and a p99 by
    /// [`Dist::lognormal_from_median_p99`].
    LogNormal { mu: f64, sigma: f64 },
    /// A weighted choice between distributions; `cumulative` holds the running sum of the
    /// normalised weights (the last is 1).
    Mixture {
        cumulative: Vec<f64>,
        parts: Vec<Dist>,
    },
}

impl Dist {
    /// A short human description: `50ms`, `exp(mean 20ms)`, `U(1ms, 5ms)`.
    pub fn describe(&self) -> String {
        use crate::engine::format_duration as f;
        let d = |x: f64| f(x.max(0.0).round() as u64);
        match self {
            Dist::Constant { ns } => f(*ns),
            Dist::Exponential { mean_ns } => format!("exp(mean {})", d(*mean_ns)),
            Dist::Uniform { min_ns, max_ns } => format!("U({}, {})", d(*min_ns), d(*max_ns)),
            Dist::Normal {
                mean_ns,
                std_dev_ns,
            } => format!("N({}, sd {})", d(*mean_ns), d(*std_dev_ns)),
            Dist::LogNormal { mu, .. } => format!("lognormal(median {})", d(libm::exp(*mu))),
            Dist::Mixture { .. } => format!("mixture(mean {})", d(self.mean_ns())),
        }
    }

    pub fn constant_ns(ns: u64) -> Dist {
        Dist::Constant { ns }
    }

    pub fn exponential_mean_ns(mean_ns: f64) -> Dist {
        Dist::Exponential { mean_ns }
    }

    /// A lognormal whose median and 99th percentile are as given (p99 > median > 0).
    pub fn lognormal_from_median_p99(median_ns: f64, p99_ns: f64) -> Dist {
        let mu = libm::log(median_ns);
        let sigma = libm::log(p99_ns / median_ns) / Z_99;
        Dist::LogNormal { mu, sigma }
    }

    /// A mixture from (weight, distribution) pairs; weights need not sum to 1.
    pub fn mixture(parts: Vec<(f64, Dist)>) -> Dist {
        let total: f64 = parts.iter().map(|(w, _)| *w).sum();
        let mut acc = 0.0;
        let mut cumulative = Vec::with_capacity(parts.len());
        let mut dists = Vec::with_capacity(parts.len());
        for (w, d) in parts {
            acc += w / total;
            cumulative.push(acc);
            dists.push(d);
        }
        if let Some(last) = cumulative.last_mut() {
            *last = 1.0;
        }
        Dist::Mixture {
            cumulative,
            parts: dists,
        }
    }

    /// True when every sample is zero (a link with no latency needs no event of its own).
    pub fn is_zero(&self) -> bool {
        match self {
            Dist::Constant { ns } => *ns == 0,
            Dist::Mixture { parts, .. } => parts.iter().all(Dist::is_zero),
            _ => false,
        }
    }

    /// Draws one value, in nanoseconds.
    #[inline(always)]
    pub fn sample(&self, rng: &mut RngStream) -> u64 {
        // The two shapes on every hot path are drawn here, in the caller; the rest out of line.
        match self {
            Dist::Constant { ns } => *ns,
            Dist::Exponential { mean_ns } => to_ns(exponential(*mean_ns, rng)),
            _ => self.sample_other(rng),
        }
    }

    #[inline(never)]
    fn sample_other(&self, rng: &mut RngStream) -> u64 {
        match self {
            Dist::Constant { ns } => *ns,
            Dist::Exponential { mean_ns } => to_ns(exponential(*mean_ns, rng)),
            Dist::Uniform { min_ns, max_ns } => to_ns(min_ns + (max_ns - min_ns) * rng.uniform()),
            Dist::Normal {
                mean_ns,
                std_dev_ns,
            } => {
                // Resample until non-negative; with mean >= 0 each try succeeds with p >= 1/2,
                // so 64 tries failing has probability below 1e-19.
                for _ in 0..64 {
                    let x = mean_ns + std_dev_ns * standard_normal(rng);
                    if x >= 0.0 {
                        return to_ns(x);
                    }
                }
                0
            }
            Dist::LogNormal { mu, sigma } => to_ns(libm::exp(mu + sigma * standard_normal(rng))),
            Dist::Mixture { cumulative, parts } => {
                let u = rng.uniform();
                let i = cumulative
                    .iter()
                    .position(|&c| u < c)
                    .unwrap_or(parts.len() - 1);
                parts[i].sample(rng)
            }
        }
    }

    /// The mean, in nanoseconds (for estimates and for the queueing tests' expectations).
    pub fn mean_ns(&self) -> f64 {
        match self {
            Dist::Constant { ns } => *ns as f64,
            Dist::Exponential { mean_ns } => *mean_ns,
            Dist::Uniform { min_ns, max_ns } => (min_ns + max_ns) / 2.0,
            // The truncation at zero raises the mean; the untruncated mean is a fair estimate
            // for the sizes people write (mean several standard deviations above zero).
            Dist::Normal { mean_ns, .. } => *mean_ns,
            Dist::LogNormal { mu, sigma } => libm::exp(mu + sigma * sigma / 2.0),
            Dist::Mixture { cumulative, parts } => {
                let mut prev = 0.0;
                let mut m = 0.0;
                for (c, d) in cumulative.iter().zip(parts) {
                    m += (c - prev) * d.mean_ns();
                    prev = *c;
                }
                m
            }
        }
    }
}

#[inline(always)]
pub(crate) fn to_ns(x: f64) -> u64 {
    // Adding one half then truncating rounds non-negative values to nearest without a libm
    // call on the hot path; `as` saturates, so negative and NaN become 0 and huge values
    // u64::MAX.
    let y = x + 0.5;
    if y < I64_LIMIT {
        // Below 2^63 the signed conversion (one instruction) gives the same value as the
        // unsigned one (several), once negatives are clamped to 0.
        // SAFETY: here y is not NaN (a NaN fails the comparison) and below 2^63, and the max
        // makes it at least 0: its truncation fits an i64. (`as` would check all of that
        // again, with a compare and a select per bound.)
        unsafe { y.max(0.0).to_int_unchecked::<i64>() as u64 }
    } else {
        y as u64
    }
}

/// 2^63: below it a non-negative double converts to i64 and u64 alike.
const I64_LIMIT: f64 = 9_223_372_036_854_775_808.0;

/// One standard normal draw by the Box-Muller transform (the cosine branch).
#[inline]
fn standard_normal(rng: &mut RngStream) -> f64 {
    let u1 = rng.uniform_open0();
    let u2 = rng.uniform();
    box_muller(u1, u2)
}

/// An exponential draw of mean `mean`: `mean` times a standard exponential drawn by the
/// ziggurat ([`super::zig`]) from `rng`'s words.
#[inline(always)]
pub fn exponential(mean: f64, rng: &mut RngStream) -> f64 {
    let first = rng.next_u64();
    mean * super::zig::standard_exponential_from(first, &mut || rng.next_u64())
}

/// The cosine branch of Box-Muller from `u1` in (0, 1] and `u2` in [0, 1): sqrt(-2 ln u1)
/// cos(2 pi u2). Pure-Rust `ln` ([`super::ln`]) and `cos` (libm), so the same bits on every
/// platform; `sqrt` is exact (IEEE 754). Public for the golden-value test.
#[inline]
pub fn box_muller(u1: f64, u2: f64) -> f64 {
    (-2.0 * super::ln::ln(u1)).sqrt() * libm::cos(std::f64::consts::TAU * u2)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sample mean and a quantile of `n` draws.
    fn stats(d: &Dist, n: usize, q: f64) -> (f64, f64) {
        let mut rng = RngStream::derive(3, "dist-test", "x");
        let mut xs: Vec<u64> = (0..n).map(|_| d.sample(&mut rng)).collect();
        xs.sort_unstable();
        let mean = xs.iter().map(|&x| x as f64).sum::<f64>() / n as f64;
        (mean, xs[((n as f64) * q) as usize] as f64)
    }

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs()
    }

    #[test]
    fn sample_means_match_closed_forms() {
        // (dist, expected mean): n = 200k keeps the relative standard error near 0.2%.
        let cases = [
            (Dist::constant_ns(5_000), 5_000.0),
            (Dist::exponential_mean_ns(1e6), 1e6),
            (
                Dist::Uniform {
                    min_ns: 1e6,
                    max_ns: 3e6,
                },
                2e6,
            ),
            (
                Dist::Normal {
                    mean_ns: 10e6,
                    std_dev_ns: 1e6,
                },
                10e6,
            ),
            (
                Dist::mixture(vec![
                    (0.999, Dist::constant_ns(1_000_000)),
                    (0.001, Dist::constant_ns(100_000_000)),
                ]),
                1.099e6,
            ),
        ];
        for (d, want) in cases {
            let (mean, _) = stats(&d, 200_000, 0.5);
            assert!(close(mean, want, 0.01), "{d:?}: mean {mean} want {want}");
            assert!(close(d.mean_ns(), want, 1e-9), "{d:?}: mean_ns");
        }
    }

    #[test]
    fn lognormal_hits_its_median_and_p99() {
        let d = Dist::lognormal_from_median_p99(2e6, 20e6);
        let (_, median) = stats(&d, 200_000, 0.5);
        let (_, p99) = stats(&d, 200_000, 0.99);
        assert!(close(median, 2e6, 0.02), "median {median}");
        assert!(close(p99, 20e6, 0.05), "p99 {p99}");
    }

    #[test]
    fn exponential_median_is_mean_ln2() {
        let (_, median) = stats(&Dist::exponential_mean_ns(1e6), 200_000, 0.5);
        assert!(
            close(median, 1e6 * std::f64::consts::LN_2, 0.02),
            "{median}"
        );
    }
}
