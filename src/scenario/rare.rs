//! The scenario's `rare` section: the rare event `faultline search --splitting` estimates the
//! probability of (an importance function reaching a target before the run ends or the
//! importance falls back to zero), validated with field paths. The estimate is `crate::rare`'s.

use super::check::{unknown_name, Checker};
use super::raw::{RawImportance, RawRare, RawUntil};
use crate::model::{Importance, SystemSpec};

/// The most a rare event's target may be.
pub const MAX_RARE_TARGET: i64 = 1_000_000;

/// When a trajectory of the run stops without the event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Until {
    /// At the run's end.
    End,
    /// When the importance falls back to zero after having risen (a busy cycle ends).
    Empty,
}

/// The event: `importance` reaches `target` before `until`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rare {
    pub importance: Importance,
    pub target: u64,
    pub until: Until,
}

impl Rare {
    /// The event as a sentence, with the scenario's names.
    pub fn describe(&self, system: &SystemSpec) -> String {
        let service = |s: usize| &system.services[s].name;
        let what = match self.importance {
            Importance::Queued(s) => format!("requests queued at {}", service(s)),
            Importance::InSystem(s) => format!("requests at {} (queued or served)", service(s)),
            Importance::InFlight(c) => {
                format!("requests in flight from {}", system.clients[c].name)
            }
            Importance::Live => "requests alive in the system".to_string(),
        };
        format!(
            "{what} reach {} {}",
            self.target,
            match self.until {
                Until::End => "before the run ends",
                Until::Empty => "before they fall back to zero (within the first busy cycle)",
            }
        )
    }
}

pub(super) fn rare(
    c: &mut Checker,
    raw: &RawRare,
    clients: &[&str],
    services: &[&str],
) -> Option<Rare> {
    let p = "rare";
    let service = |c: &mut Checker, n: &str| {
        let i = services.iter().position(|x| *x == n);
        if i.is_none() {
            c.err(
                format!("{p}.importance"),
                unknown_name("service", n, services),
            );
        }
        i
    };
    let importance = match &raw.importance {
        RawImportance::Queued(n) => service(c, n).map(Importance::Queued),
        RawImportance::InSystem(n) => service(c, n).map(Importance::InSystem),
        RawImportance::InFlight(n) => {
            let i = clients.iter().position(|x| x == n);
            if i.is_none() {
                c.err(
                    format!("{p}.importance"),
                    unknown_name("client", n, clients),
                );
            }
            i.map(Importance::InFlight)
        }
        RawImportance::Live => Some(Importance::Live),
    };
    if !(1..=MAX_RARE_TARGET).contains(&raw.target) {
        c.err(
            format!("{p}.target"),
            format!(
                "the level the importance must reach, from 1 to {MAX_RARE_TARGET}; got {}",
                raw.target
            ),
        );
        return None;
    }
    let until = match raw.until.unwrap_or(RawUntil::End) {
        RawUntil::End => Until::End,
        RawUntil::Empty => Until::Empty,
    };
    importance.map(|importance| Rare {
        importance,
        target: raw.target as u64,
        until,
    })
}
