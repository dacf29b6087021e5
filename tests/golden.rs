//! Golden values: the first draws of a fixed stream, and what faultline's sampling transforms
//! make of them, against values computed independently at 60 digits
//! (tests/data/golden_draws.py, with Python's decimal module and no C library). Together with
//! the pinned trace hashes of every shipped scenario (tests/pinned.rs) and the rule that the
//! library never calls the platform's math (tests/tidy.rs), this is what makes a run give the
//! same bits on glibc, musl, macOS and Windows: the stream is pure Rust (ChaCha8), the
//! transforms use faultline's own ziggurat (src/model/zig.rs) and `ln` (src/model/ln.rs) and
//! `libm` (pure Rust), and here all are held to numbers from outside.

use faultline::engine::RngStream;
use faultline::model::dist::box_muller;
use faultline::model::zig::standard_exponential;
use faultline::model::Dist;

/// Each row: its kind, its inputs as 64-bit words (the bits of a uniform double, or for the
/// ziggurat's draws the words it took from the stream), and the golden value.
fn rows() -> Vec<(String, Vec<u64>, f64)> {
    let text = include_str!("data/golden_draws.tsv");
    text.lines()
        .map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            let words = f[1..f.len() - 1]
                .iter()
                .map(|h| u64::from_str_radix(h, 16).unwrap())
                .collect();
            (f[0].to_string(), words, f[f.len() - 1].parse().unwrap())
        })
        .collect()
}

/// The words a standard exponential draw takes from `s`, and the draw.
fn exponential_words(s: &mut RngStream) -> (Vec<u64>, f64) {
    let mut taken = Vec::new();
    let x = standard_exponential(&mut || {
        let w = s.next_u64();
        taken.push(w);
        w
    });
    (taken, x)
}

fn stream() -> RngStream {
    RngStream::derive(1, "golden", "draws")
}

#[test]
fn the_stream_draws_what_was_pinned() {
    // The inputs the script was given are the stream's first draws, bit for bit: ChaCha8, the
    // seed derivation and the conversion to [0, 1) are all unchanged.
    // With FAULTLINE_BLESS set, writes the inputs instead (then run golden_draws.py).
    let input = include_str!("data/golden_draws_in.tsv");
    let mut s = stream();
    let mut lines = Vec::new();
    for line in input.lines() {
        let kind = line.split('\t').next().unwrap();
        if kind == "zig" {
            // Words chosen by hand for the ziggurat's rare branches, not from the stream.
            lines.push(line.to_string());
            continue;
        }
        let got: Vec<u64> = match kind {
            "exp" => exponential_words(&mut s).0,
            "uniform" => vec![s.uniform().to_bits()],
            // A mixture's first draw picks the half; only the exponential half draws again.
            "mixture" => match s.uniform() {
                u if u < 0.5 => vec![u.to_bits()],
                u => [vec![u.to_bits()], exponential_words(&mut s).0].concat(),
            },
            _ => vec![s.uniform_open0().to_bits(), s.uniform().to_bits()],
        };
        let hex: Vec<String> = got.iter().map(|w| format!("{w:016x}")).collect();
        lines.push(format!("{kind}\t{}", hex.join("\t")));
    }
    if std::env::var_os("FAULTLINE_BLESS").is_some() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/golden_draws_in.tsv"
        );
        std::fs::write(path, lines.join("\n") + "\n").unwrap();
        return;
    }
    assert_eq!(input.lines().collect::<Vec<_>>(), lines);
    assert_eq!(input.lines().count(), rows().len());
}

#[test]
fn the_transforms_agree_with_values_computed_at_60_digits() {
    for (kind, words, want) in rows() {
        let us: Vec<f64> = words.iter().map(|&w| f64::from_bits(w)).collect();
        let (got, tolerance) = match kind.as_str() {
            // The ziggurat on the row's words: a product of doubles rounded once (97.8% of
            // draws), or R - ln u in the tail (faultline's ln within 0.6 ulp): an ulp or two.
            "exp" | "zig" => {
                let mut next = words.iter().copied();
                let got = standard_exponential(&mut || next.next().unwrap());
                assert!(next.next().is_none(), "a draw takes every word of its row");
                (got, 2.0 * f64::EPSILON * want.abs())
            }
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
            "zig" => continue, // not from the stream
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
