//! The outcome of a request or call: one named kind for every way it can end. Policies classify
//! outcomes (which ones a breaker records, which ones a retry retries), so the type lives at the
//! bottom of the stack, and the model re-exports it.

use serde::Serialize;

/// How one request ended, as seen by whoever waited for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Served successfully.
    Ok,
    /// Served with a degraded answer (a fallback).
    Degraded,
    /// The caller gave up waiting.
    Timeout,
    /// Refused by the caller's own side before it was sent (a client's in-flight cap, a policy).
    Rejected,
    /// Refused by the destination because it is down or unreachable.
    Refused,
    /// Turned away by the destination because its queue was full.
    Overloaded,
    /// Lost in the network.
    Dropped,
    /// Failed while being served, or a downstream call it needed failed.
    Error,
}

/// Every outcome, in the order tables and summaries list them.
pub const OUTCOMES: [Outcome; 8] = [
    Outcome::Ok,
    Outcome::Degraded,
    Outcome::Timeout,
    Outcome::Rejected,
    Outcome::Refused,
    Outcome::Overloaded,
    Outcome::Dropped,
    Outcome::Error,
];

impl Outcome {
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Degraded => "degraded",
            Outcome::Timeout => "timeout",
            Outcome::Rejected => "rejected",
            Outcome::Refused => "refused",
            Outcome::Overloaded => "overloaded",
            Outcome::Dropped => "dropped",
            Outcome::Error => "error",
        }
    }
    pub fn index(self) -> usize {
        self as usize
    }
}

/// A set of outcomes, for "which outcomes does this policy count as failures / ignore / retry".
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct OutcomeSet(u8);

impl OutcomeSet {
    pub const EMPTY: OutcomeSet = OutcomeSet(0);

    /// Every outcome that is not a success: timeout, rejected, refused, overloaded, dropped, error
    /// (bits 2 to 7 in [`Outcome`] order; a test checks it against the list).
    pub const fn failures() -> OutcomeSet {
        OutcomeSet(0b1111_1100)
    }

    pub fn of(outcomes: &[Outcome]) -> OutcomeSet {
        OutcomeSet(outcomes.iter().fold(0, |m, o| m | (1 << o.index())))
    }

    #[inline]
    pub fn contains(self, o: Outcome) -> bool {
        self.0 & (1 << o.index()) != 0
    }

    pub fn with(self, o: Outcome) -> OutcomeSet {
        OutcomeSet(self.0 | (1 << o.index()))
    }

    pub fn without(self, o: Outcome) -> OutcomeSet {
        OutcomeSet(self.0 & !(1 << o.index()))
    }

    pub fn iter(self) -> impl Iterator<Item = Outcome> {
        OUTCOMES.into_iter().filter(move |o| self.contains(*o))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_is_every_outcome_but_ok_and_degraded() {
        let listed = OutcomeSet::of(&[
            Outcome::Timeout,
            Outcome::Rejected,
            Outcome::Refused,
            Outcome::Overloaded,
            Outcome::Dropped,
            Outcome::Error,
        ]);
        assert_eq!(OutcomeSet::failures(), listed);
        assert!(!OutcomeSet::failures().contains(Outcome::Ok));
        assert!(!OutcomeSet::failures().contains(Outcome::Degraded));
    }
}
