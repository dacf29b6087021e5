//! The scenario file's schema, as close to the RON text as possible: names instead of indices,
//! durations as strings, counts as signed integers (so that `replicas: -3` reaches validation and
//! gets a helpful message instead of a type error). Nothing here is trusted; `validate` turns it
//! into the typed model spec. Defaults are documented in docs/scenario.md.

use serde::Deserialize;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename = "Scenario")]
pub struct RawScenario {
    pub name: Option<String>,
    #[serde(default)]
    pub description: String,
    pub seed: Option<u64>,
    pub duration: Option<String>,
    pub warmup: Option<String>,
    #[serde(default)]
    pub limits: RawLimits,
    pub default_link_latency: Option<RawDist>,
    #[serde(default)]
    pub clients: Vec<RawClient>,
    #[serde(default)]
    pub services: Vec<RawService>,
    #[serde(default)]
    pub links: Vec<RawLink>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename = "Limits")]
pub struct RawLimits {
    pub max_events: Option<i64>,
    pub max_pending_events: Option<i64>,
    pub max_live_requests: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename = "Client")]
pub struct RawClient {
    pub name: String,
    pub target: String,
    pub load: RawLoad,
    pub timeout: Option<String>,
    pub max_in_flight: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum RawLoad {
    Open {
        rate_per_s: f64,
        #[serde(default)]
        arrivals: RawArrivals,
        #[serde(default)]
        steps: Vec<RawStep>,
    },
    Closed {
        users: i64,
        think_time: RawDist,
    },
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub enum RawArrivals {
    #[default]
    Poisson,
    Constant,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename = "Step")]
pub struct RawStep {
    pub at: String,
    pub rate_per_s: f64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename = "Service")]
pub struct RawService {
    pub name: String,
    pub replicas: Option<i64>,
    pub workers: Option<i64>,
    pub queue_capacity: Option<i64>,
    pub service_time: RawDist,
    pub error_rate: Option<f64>,
    #[serde(default)]
    pub balancer: RawBalancer,
    #[serde(default)]
    pub fan_out: RawFanOut,
    #[serde(default)]
    pub calls: Vec<RawCall>,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub enum RawBalancer {
    #[default]
    RoundRobin,
    Random,
    LeastOutstanding,
    PowerOfTwoChoices,
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub enum RawFanOut {
    #[default]
    Sequential,
    Parallel,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename = "Call")]
pub struct RawCall {
    pub to: String,
    pub probability: Option<f64>,
    pub timeout: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename = "Link")]
pub struct RawLink {
    pub from: String,
    pub to: String,
    pub latency: RawDist,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum RawDist {
    Constant(String),
    Exponential { mean: String },
    Uniform { min: String, max: String },
    Normal { mean: String, std_dev: String },
    LogNormal { median: String, p99: String },
    Mixture(Vec<RawMixPart>),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename = "Part")]
pub struct RawMixPart {
    pub weight: f64,
    pub dist: RawDist,
}
