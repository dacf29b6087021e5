//! The scenario's `expect` list: what the author claims a run shows (availability at least x,
//! p99 at most d, recovery within a time, not metastable, no lost writes, no split brain, retry
//! amplification at most k), each for the system, a client or a service, validated into
//! [`Expectation`]s with every problem named by its field path.
//!
//! This module knows what an expectation says, not how it is judged: `crate::check` reads a
//! run's analysis and decides.

use super::check::{unknown_name, Checker};
use super::raw::RawExpect;
use crate::engine::SimDuration;

/// What an expectation is about.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Scope {
    /// All clients together (and, for amplification, every call edge).
    System,
    /// A client, by index.
    Client(usize),
    /// A service, by index.
    Service(usize),
}

/// One claim about a run, judged per variant.
#[derive(Clone, Debug, PartialEq)]
pub enum Expect {
    /// Requests answered ok or degraded, of those completed after the warm-up (the system's
    /// clients together, one client, or one service's requests); `during_faults`: only client
    /// requests during the incident (system scope). At least `at_least` and at most `at_most`
    /// (1 unless given: a baseline expected to fail says at most how much it keeps).
    Availability {
        at_least: f64,
        at_most: f64,
        during_faults: bool,
    },
    /// The p99 latency of ok requests (the system: its worst client).
    P99 { at_most: SimDuration },
    /// Everything back within this long after the last trigger ended (docs/analysis.md).
    RecoversWithin(SimDuration),
    /// The analysis does not find a breach sustained after the triggers ended.
    NotMetastable,
    /// The analysis finds one (a baseline expected to collapse, so a fix can be shown to help).
    Metastable,
    /// No acknowledged write lost by an active-passive service.
    NoLostWrites,
    /// Never two primaries accepting writes.
    NoSplitBrain,
    /// Attempts per call at most this (the system: its worst client or call edge; a service:
    /// the attempts that reached it per call made to it).
    RetryAmplification { at_most: f64 },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expectation {
    pub expect: Expect,
    pub scope: Scope,
    /// `expect[k]`, for messages.
    pub path: String,
}

pub(super) fn expectations(
    c: &mut Checker,
    raw: &[RawExpect],
    clients: &[&str],
    services: &[&str],
) -> Vec<Expectation> {
    let mut out = Vec::new();
    for (k, e) in raw.iter().enumerate() {
        let p = format!("expect[{k}]");
        let scope = |c: &mut Checker, client: &Option<String>, service: &Option<String>| match (
            client, service,
        ) {
            (Some(_), Some(_)) => {
                c.err(
                    &p,
                    "give `client` or `service`, not both (neither: the whole system)",
                );
                None
            }
            (Some(n), None) => match clients.iter().position(|x| x == n) {
                Some(i) => Some(Scope::Client(i)),
                None => {
                    c.err(format!("{p}.client"), unknown_name("client", n, clients));
                    None
                }
            },
            (None, Some(n)) => match services.iter().position(|x| x == n) {
                Some(i) => Some(Scope::Service(i)),
                None => {
                    c.err(format!("{p}.service"), unknown_name("service", n, services));
                    None
                }
            },
            (None, None) => Some(Scope::System),
        };
        let got = match e {
            RawExpect::Availability {
                at_least,
                at_most,
                during_faults,
                client,
                service,
            } => {
                let s = scope(c, client, service);
                if at_least.is_none() && at_most.is_none() {
                    c.err(
                        &p,
                        "give `at_least` (the share that must be answered, e.g. at_least: 0.99), `at_most` (a baseline expected to fail, e.g. at_most: 0.5) or both",
                    );
                }
                let a = at_least.map_or(0.0, |x| c.probability(&format!("{p}.at_least"), x));
                let most = at_most.map_or(1.0, |x| c.probability(&format!("{p}.at_most"), x));
                if a > most {
                    c.err(
                        format!("{p}.at_most"),
                        format!("at_most ({most}) is below at_least ({a}): nothing could pass"),
                    );
                }
                let during = during_faults.unwrap_or(false);
                if during && s.as_ref().is_some_and(|s| *s != Scope::System) {
                    c.err(
                        format!("{p}.during_faults"),
                        "availability during faults is judged for the system (the clients' requests during the incident); remove `client`/`service` or `during_faults`",
                    );
                }
                s.map(|s| {
                    (
                        Expect::Availability {
                            at_least: a,
                            at_most: most,
                            during_faults: during,
                        },
                        s,
                    )
                })
            }
            RawExpect::P99 {
                at_most,
                client,
                service,
            } => {
                let s = scope(c, client, service);
                let d = c.positive_duration(&format!("{p}.at_most"), at_most);
                s.zip(d).map(|(s, d)| (Expect::P99 { at_most: d }, s))
            }
            RawExpect::RecoversWithin(d) => c
                .duration(&p, d)
                .map(|d| (Expect::RecoversWithin(d), Scope::System)),
            RawExpect::NotMetastable => Some((Expect::NotMetastable, Scope::System)),
            RawExpect::Metastable => Some((Expect::Metastable, Scope::System)),
            RawExpect::NoLostWrites => Some((Expect::NoLostWrites, Scope::System)),
            RawExpect::NoSplitBrain => Some((Expect::NoSplitBrain, Scope::System)),
            RawExpect::RetryAmplification {
                at_most,
                client,
                service,
            } => {
                let s = scope(c, client, service);
                if !(at_most.is_finite() && *at_most >= 1.0) {
                    c.err(
                        format!("{p}.at_most"),
                        format!(
                            "attempts per call are at least 1, got {at_most}; e.g. at_most: 1.5"
                        ),
                    );
                }
                s.map(|s| (Expect::RetryAmplification { at_most: *at_most }, s))
            }
        };
        if let Some((expect, scope)) = got {
            out.push(Expectation {
                expect,
                scope,
                path: p,
            });
        }
    }
    out
}
