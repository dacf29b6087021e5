//! How the analysis writes numbers in its sentences: counts with thousands separators,
//! shares as percentages, seconds and milliseconds with the precision a reader needs. Words
//! only; it knows nothing of what the numbers mean.

/// A count with thousands separators: `2,818`.
pub fn count(v: f64) -> String {
    thousands(v.round().max(0.0) as u64)
}

/// `1234567` as `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (k, ch) in digits.chars().enumerate() {
        if k > 0 && (digits.len() - k).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

pub fn pct(v: f64) -> String {
    if !v.is_finite() {
        "n/a".into()
    } else if v >= 0.995 || v == 0.0 {
        format!("{:.0}%", v * 100.0)
    } else if v < 0.1 {
        format!("{:.1}%", v * 100.0)
    } else {
        format!("{:.0}%", v * 100.0)
    }
}

pub fn secs(s: f64) -> String {
    if s >= 100.0 || s == s.trunc() {
        format!("{s:.0} s")
    } else {
        format!("{s:.1} s")
    }
}

pub fn ms(v: f64) -> String {
    if v.is_nan() || v == 0.0 {
        "n/a".into()
    } else if v >= 1000.0 {
        format!("{:.2} s", v / 1000.0)
    } else if v >= 10.0 {
        format!("{v:.0} ms")
    } else {
        format!("{v:.2} ms")
    }
}
