//! Virtual time: integer nanoseconds since the start of a run.
//!
//! Instants ([`SimTime`]) and spans ([`SimDuration`]) are distinct types so that adding two
//! instants does not compile. Arithmetic saturates instead of wrapping: a run never lasts
//! anywhere near `u64::MAX` nanoseconds (584 years), and a saturated value is caught by the
//! run's time limit rather than silently wrapping to the past.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An instant of virtual time, in nanoseconds since the start of the run.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct SimTime(pub u64);

/// A span of virtual time, in nanoseconds.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct SimDuration(pub u64);

impl SimTime {
    pub const ZERO: SimTime = SimTime(0);
    pub fn as_ns(self) -> u64 {
        self.0
    }
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
    /// The span from `earlier` to `self`, zero if `earlier` is later.
    pub fn since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
}

impl SimDuration {
    pub const ZERO: SimDuration = SimDuration(0);
    pub const fn from_ns(ns: u64) -> Self {
        SimDuration(ns)
    }
    pub const fn from_millis(ms: u64) -> Self {
        SimDuration(ms.saturating_mul(1_000_000))
    }
    pub const fn from_secs(s: u64) -> Self {
        SimDuration(s.saturating_mul(1_000_000_000))
    }
    pub fn as_ns(self) -> u64 {
        self.0
    }
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }
}

impl std::ops::Add<SimDuration> for SimTime {
    type Output = SimTime;
    fn add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
}

impl std::ops::Add for SimDuration {
    type Output = SimDuration;
    fn add(self, d: SimDuration) -> SimDuration {
        SimDuration(self.0.saturating_add(d.0))
    }
}

impl fmt::Display for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_duration(self.0))
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "t={}", format_duration(self.0))
    }
}

/// Why a duration string was not understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationParseError {
    #[error("empty duration; write a number and a unit, e.g. \"250ms\"")]
    Empty,
    #[error("`{0}` has no unit; write e.g. \"{0}ms\" or \"{0}s\" (units: ns, us, ms, s, m, h, d)")]
    NoUnit(String),
    #[error("unknown unit `{unit}` in \"{text}\"; use ns, us, ms, s, m, h or d")]
    BadUnit { text: String, unit: String },
    #[error("\"{0}\" is not a duration; write a number and a unit, e.g. \"250ms\", \"1.5s\", \"2m\" or \"1m30s\"")]
    Malformed(String),
    #[error("\"{0}\" is negative; durations are zero or more")]
    Negative(String),
    #[error("\"{0}\" overflows: durations must be below 584 years (2^64 ns)")]
    Overflow(String),
}

const UNITS: &[(&str, f64)] = &[
    ("ns", 1.0),
    ("us", 1e3),
    ("µs", 1e3),
    ("ms", 1e6),
    ("s", 1e9),
    ("m", 60e9),
    ("min", 60e9),
    ("h", 3600e9),
    ("d", 86400e9),
];

/// Parses a human duration: a sum of `number unit` terms such as `"250ms"`, `"1.5s"`, `"2m"`,
/// `"1m30s"` or `"0s"`. Units: ns, us (or µs), ms, s, m (or min), h, d.
pub fn parse_duration(text: &str) -> Result<SimDuration, DurationParseError> {
    let s = text.trim();
    if s.is_empty() {
        return Err(DurationParseError::Empty);
    }
    if s.starts_with('-') {
        return Err(DurationParseError::Negative(text.to_string()));
    }
    let mut total: f64 = 0.0;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(DurationParseError::Malformed(text.to_string()));
        }
        let num: f64 = rest[..num_len]
            .replace('_', "")
            .parse()
            .map_err(|_| DurationParseError::Malformed(text.to_string()))?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = rest[..unit_len].trim();
        if unit.is_empty() {
            return Err(DurationParseError::NoUnit(text.to_string()));
        }
        let scale = UNITS
            .iter()
            .find(|(u, _)| *u == unit)
            .map(|(_, k)| *k)
            .ok_or_else(|| DurationParseError::BadUnit {
                text: text.to_string(),
                unit: unit.to_string(),
            })?;
        total += num * scale;
        rest = &rest[unit_len..];
    }
    if !total.is_finite() || total >= u64::MAX as f64 {
        return Err(DurationParseError::Overflow(text.to_string()));
    }
    Ok(SimDuration(total.round() as u64))
}

/// Formats nanoseconds with the largest unit that keeps the figure readable:
/// `1.5s`, `250ms`, `12.3us`, `2m30s`.
pub fn format_duration(ns: u64) -> String {
    let x = ns as f64;
    if ns == 0 {
        "0s".to_string()
    } else if ns < 1_000 {
        format!("{ns}ns")
    } else if ns < 1_000_000 {
        trim(format!("{:.3}", x / 1e3)) + "us"
    } else if ns < 1_000_000_000 {
        trim(format!("{:.3}", x / 1e6)) + "ms"
    } else if ns < 60_000_000_000 {
        trim(format!("{:.3}", x / 1e9)) + "s"
    } else {
        let secs = ns / 1_000_000_000;
        let (h, m, s) = (secs / 3600, (secs % 3600) / 60, secs % 60);
        match (h, m, s) {
            (0, m, 0) => format!("{m}m"),
            (0, m, s) => format!("{m}m{s}s"),
            (h, 0, 0) => format!("{h}h"),
            (h, m, 0) => format!("{h}h{m}m"),
            (h, m, s) => format!("{h}h{m}m{s}s"),
        }
    }
}

fn trim(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str, ns: u64) {
        assert_eq!(parse_duration(text), Ok(SimDuration(ns)), "{text}");
    }

    #[test]
    fn parses_human_durations() {
        ok("250ms", 250_000_000);
        ok("1.5s", 1_500_000_000);
        ok("2m", 120_000_000_000);
        ok("1m30s", 90_000_000_000);
        ok("0s", 0);
        ok("100us", 100_000);
        ok("7ns", 7);
        ok("1h", 3_600_000_000_000);
        ok("2d", 172_800_000_000_000);
        ok("1_000ms", 1_000_000_000);
    }

    #[test]
    fn rejects_bad_durations() {
        assert!(matches!(
            parse_duration("5"),
            Err(DurationParseError::NoUnit(_))
        ));
        assert!(matches!(
            parse_duration("5 parsecs"),
            Err(DurationParseError::BadUnit { .. })
        ));
        assert!(matches!(
            parse_duration("-1s"),
            Err(DurationParseError::Negative(_))
        ));
        assert!(matches!(
            parse_duration("1000y"),
            Err(DurationParseError::BadUnit { .. })
        ));
        assert!(matches!(
            parse_duration("300000d"),
            Err(DurationParseError::Overflow(_))
        ));
        assert!(matches!(
            parse_duration("ms"),
            Err(DurationParseError::Malformed(_))
        ));
        assert!(matches!(parse_duration(""), Err(DurationParseError::Empty)));
    }

    #[test]
    fn formats_durations() {
        for (ns, s) in [
            (0, "0s"),
            (999, "999ns"),
            (1_500, "1.5us"),
            (250_000_000, "250ms"),
            (1_500_000_000, "1.5s"),
            (150_000_000_000, "2m30s"),
            (3_600_000_000_000, "1h"),
        ] {
            assert_eq!(format_duration(ns), s);
        }
    }
}
