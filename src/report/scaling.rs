//! What the autoscalers did, in the terms the story uses: each change with the moment the
//! replicas it asked for took traffic (ready, or added when the service has no readiness
//! probe). Read from the summary and the scenario after the run; it judges nothing.

use serde::Serialize;

/// An autoscaler's changes, with when the replicas it added took traffic.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Scaling {
    pub service: String,
    pub steps: Vec<ScaleStep>,
    /// Changes beyond those listed (the summary keeps at most 1,000).
    pub more: u64,
}

/// One change: at `at_s` from `from` to `to` replicas; for an increase, when the last of the
/// added replicas took traffic (ready, or added without a readiness probe; None: never).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ScaleStep {
    pub at_s: f64,
    pub from: u32,
    pub to: u32,
    pub serving_from_s: Option<f64>,
}

impl Scaling {
    /// From the summary: each autoscaler's changes, and the health log of the replicas added.
    pub fn from_summary(
        s: &crate::metrics::Summary,
        spec: &crate::model::SystemSpec,
    ) -> Vec<Scaling> {
        s.autoscalers
            .iter()
            .map(|a| {
                let checked = spec
                    .services
                    .iter()
                    .any(|x| x.name == a.service && x.health.readiness.is_some());
                let want = if checked { "ready" } else { "added" };
                let steps = a
                    .changes
                    .iter()
                    .map(|c| {
                        // Each added replica's first moment in balancing after the decision.
                        let serving = (c.from..c.to.max(c.from))
                            .map(|r| {
                                let h = s
                                    .health
                                    .iter()
                                    .find(|h| h.service == a.service && h.replica == r)?;
                                h.changes
                                    .iter()
                                    .find(|(t, w)| *t >= c.at_s && w == want)
                                    .map(|(t, _)| *t)
                            })
                            .try_fold(c.at_s, |m, t| t.map(|t| m.max(t)));
                        ScaleStep {
                            at_s: c.at_s,
                            from: c.from,
                            to: c.to,
                            serving_from_s: if c.to > c.from { serving } else { None },
                        }
                    })
                    .collect();
                Scaling {
                    service: a.service.clone(),
                    steps,
                    more: a.changes_dropped,
                }
            })
            .collect()
    }
}
