//! Golden values: the first draws of a fixed stream, and what faultline's sampling transforms
//! make of them, against values computed independently at 60 digits
//! (tests/data/golden_draws.py, with Python's decimal module and no C library). Together with
//! the pinned trace hashes of every shipped scenario (tests/pinned.rs) and the rule that the
//! library never calls the platform's math (tests/tidy.rs), this is what makes a run give the
//! same bits on glibc, musl, macOS and Windows: the stream is pure Rust (ChaCha8), the
//! transforms use faultline's own `ln` (src/model/ln.rs) and `libm` (pure Rust), and here both
//! are held to numbers from outside.

use faultline::engine::RngStream;
use faultline::model::dist::{box_muller, exponential};
use faultline::model::Dist;

fn rows() -> Vec<(String, Vec<f64>, f64)> {
    let text = include_str!("data/golden_draws.tsv");
    text.lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let bits = f[1..f.len() - 1]
                .iter()
                .map(|h| f64::from_bits(u64::from_str_radix(h, 16).unwrap()))
                .collect();
            (f[0].to_string(), bits, f[f.len() - 1].parse().unwrap())
        })
        .collect()
}

fn stream() -> RngStream {
    RngStream::derive(1, "golden", "draws")
}

#[test]
fn the_stream_draws_what_was_pinned() {
    // The inputs the script was given are the stream's first draws, bit for bit: ChaCha8, the
    // seed derivation and the conversion to [0, 1) are all unchanged.
    let input = include_str!("data/golden_draws_in.tsv");
    assert_eq!(input.lines().count(), rows().len());
    let mut s = stream();
    for (kind, us, _) in rows() {
        let got: Vec<f64> = match kind.as_str() {
            "exp" => vec![s.uniform_open0()],
            "uniform" => vec![s.uniform()],
            // A mixture's first draw picks the half; only the exponential half draws again.
            "mixture" => match s.uniform() {
                u if u < 0.5 => vec![u],
                u => vec![u, s.uniform_open0()],
            },
            _ => vec![s.uniform_open0(), s.uniform()],
        };
        let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&got), bits(&us), "{kind}");
    }
}

#[test]
fn the_transforms_agree_with_values_computed_at_60_digits() {
    for (kind, us, want) in rows() {
        let (got, tolerance) = match kind.as_str() {
            // faultline's ln is within 0.6 ulp on (0, 1] (tests/data/ln_table.py), and the
            // product by -1 exact: an ulp or two of the value.
            "exp" => (exponential(1.0, us[0]), f64::EPSILON * want.abs()),
            // 2 pi u2 is rounded to a double before the cosine: an absolute error of a few
            // ulps of 2 pi at most, times sqrt(-2 ln u1) (below 3 here).
            "normal" => (box_muller(us[0], us[1]), 3.0 * 8.0 * f64::EPSILON * 8.0),
            // The distributions' rows are in nanoseconds and checked below, rounded.
            _ => continue,
        };
        assert!(
            (got - want).abs() <= tolerance,
            "{kind} {us:?}: {got:e} against {want:e} (off by {:e})",
            (got - want).abs()
        );
    }
}

#[test]
fn distributions_draw_the_golden_values_in_nanoseconds() {
    // Each row's distribution draws from the one stream in turn: an exponential of mean 1 s
    // (the exp rows), a normal of mean 5 s and sd 1 s (never negative here), U(1 ms, 5 ms),
    // a lognormal of median 20 ms and p99 200 ms, and an even mixture of 10 ms and an
    // exponential of mean 1 s. Each value is the golden one in nanoseconds, rounded to nearest.
    let mut s = stream();
    let exp = Dist::Exponential { mean_ns: 1e9 };
    let normal = Dist::Normal {
        mean_ns: 5e9,
        std_dev_ns: 1e9,
    };
    let uniform = Dist::Uniform {
        min_ns: 1e6,
        max_ns: 5e6,
    };
    let lognormal = Dist::lognormal_from_median_p99(2e7, 2e8);
    let mixture = Dist::mixture(vec![
        (1.0, Dist::constant_ns(10_000_000)),
        (1.0, exp.clone()),
    ]);
    let mut kinds = std::collections::BTreeSet::new();
    for (kind, _, want) in rows() {
        let (got, want_ns) = match kind.as_str() {
            "exp" => (exp.sample(&mut s), want * 1e9),
            "normal" => (normal.sample(&mut s), 5e9 + want * 1e9),
            "uniform" => (uniform.sample(&mut s), want),
            "lognormal" => (lognormal.sample(&mut s), want),
            "mixture" => (mixture.sample(&mut s), want),
            _ => panic!("unknown row {kind}"),
        };
        assert!(
            (got as f64 - want_ns.round()).abs() <= 1.0,
            "{kind}: {got} ns against {want_ns} ns"
        );
        kinds.insert(kind);
    }
    assert_eq!(
        kinds.len(),
        5,
        "every distribution with randomness has rows"
    );
}
