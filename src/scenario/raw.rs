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
    #[serde(default)]
    pub faults: Vec<RawFault>,
    pub slo: Option<RawSlo>,
    #[serde(default)]
    pub expect: Vec<RawExpect>,
    pub fault_space: Option<RawFaultSpace>,
    pub rare: Option<RawRare>,
    #[serde(default)]
    pub variants: Vec<RawVariant>,
}

/// The rare event `faultline search --splitting` estimates the probability of.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename = "Rare")]
pub struct RawRare {
    pub importance: RawImportance,
    pub target: i64,
    pub until: Option<RawUntil>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename = "Importance")]
pub enum RawImportance {
    Queued(String),
    InSystem(String),
    InFlight(String),
    Live,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields, rename = "Until")]
pub enum RawUntil {
    End,
    Empty,
}

/// What `faultline search` may draw fault schedules from.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename = "FaultSpace")]
pub struct RawFaultSpace {
    pub faults: Vec<RawFaultKind>,
    pub max_faults: Option<i64>,
    /// Earliest and latest start.
    pub window: Option<(String, String)>,
    /// Shortest and longest fault.
    pub durations: Option<(String, String)>,
}

/// One claim about the run (`expect: [...]`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum RawExpect {
    Availability {
        at_least: Option<f64>,
        at_most: Option<f64>,
        during_faults: Option<bool>,
        client: Option<String>,
        service: Option<String>,
    },
    P99 {
        at_most: String,
        client: Option<String>,
        service: Option<String>,
    },
    RecoversWithin(String),
    NotMetastable,
    Metastable,
    NoLostWrites,
    NoSplitBrain,
    RetryAmplification {
        at_most: f64,
        client: Option<String>,
        service: Option<String>,
    },
}

/// A named variant: the same scenario with some fields replaced (`set` maps field paths to
/// values written as they would be in the file).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename = "Variant")]
pub struct RawVariant {
    pub name: String,
    #[serde(default)]
    pub set: std::collections::BTreeMap<String, ron::Value>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename = "Slo")]
pub struct RawSlo {
    pub availability: Option<f64>,
    pub window: Option<String>,
    pub error_rate: Option<f64>,
    pub latency_p99: Option<String>,
    pub metastable_after: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename = "Fault")]
pub struct RawFault {
    pub at: Option<String>,
    #[serde(rename = "for")]
    pub for_: Option<String>,
    pub until: Option<String>,
    pub time_to_failure: Option<RawDist>,
    pub time_to_repair: Option<RawDist>,
    pub every: Option<String>,
    pub probability: Option<f64>,
    pub fault: RawFaultKind,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum RawFaultKind {
    Crash(String),
    Hang(String),
    Slowdown {
        target: String,
        factor: f64,
    },
    Errors {
        target: String,
        rate: f64,
    },
    StuckWorkers {
        target: String,
        workers: i64,
    },
    MemoryLeak {
        target: String,
        per_request_mb: f64,
        limit_mb: f64,
    },
    Scale {
        service: String,
        replicas: i64,
    },
    DiskFail(String),
    DiskFull(String),
    DiskSlow {
        target: String,
        factor: f64,
    },
    DiskCorrupt {
        target: String,
        probability: f64,
    },
    Partition {
        from: Vec<String>,
        to: Vec<String>,
        one_way: Option<bool>,
    },
    Degrade {
        from: String,
        to: String,
        added_latency: Option<RawDist>,
        loss: Option<f64>,
    },
    Spike {
        client: String,
        multiplier: f64,
    },
    Config {
        target: String,
        timeout: Option<String>,
        max_attempts: Option<i64>,
        workers: Option<i64>,
    },
    FlushCache(String),
    CacheDown(String),
    SlowCache {
        target: String,
        factor: f64,
    },
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
    #[serde(default)]
    pub policies: Vec<RawPolicy>,
    pub propagate_deadline: Option<bool>,
    pub endpoint: Option<String>,
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
    pub admission: Option<RawAdmission>,
    pub health: Option<RawHealth>,
    pub restart: Option<RawRestart>,
    pub active_passive: Option<RawActivePassive>,
    pub disk: Option<RawDisk>,
    #[serde(default)]
    pub discipline: RawDiscipline,
    pub contention: Option<RawContention>,
    pub queue: Option<RawQueue>,
    pub gc: Option<RawGc>,
    pub autoscale: Option<RawAutoscale>,
    pub balancer_retry: Option<RawBalancerRetry>,
    #[serde(default)]
    pub endpoints: Vec<RawEndpoint>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename = "Endpoint")]
pub struct RawEndpoint {
    pub name: String,
    pub share: Option<f64>,
    pub service_time: Option<RawDist>,
    pub calls: Option<Vec<RawEndpointCall>>,
    pub kind: Option<RawEndpointKind>,
    pub priority: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename = "EndpointCall")]
pub struct RawEndpointCall {
    pub to: String,
    pub endpoint: Option<String>,
    pub probability: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum RawEndpointKind {
    Read,
    Write,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename = "BalancerRetry")]
pub struct RawBalancerRetry {
    pub tries: i64,
    pub on: Option<Vec<RawRetryOn>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum RawRetryOn {
    Refused,
    Error,
    Overloaded,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename = "Autoscale")]
pub struct RawAutoscale {
    pub metric: RawScaleMetric,
    pub min_replicas: Option<i64>,
    pub max_replicas: i64,
    pub sync_period: Option<String>,
    pub tolerance: Option<f64>,
    pub start_delay: Option<String>,
    pub scale_up: Option<RawScalingRules>,
    pub scale_down: Option<RawScalingRules>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum RawScaleMetric {
    Utilization { target_percent: i64 },
    InFlight { target: f64 },
    RatePerReplica { target_per_s: f64 },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename = "Rules")]
pub struct RawScalingRules {
    pub stabilization_window: Option<String>,
    pub policies: Option<Vec<RawScalingPolicy>>,
    pub select: Option<RawSelect>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum RawScalingPolicy {
    Pods { value: i64, period: String },
    Percent { value: i64, period: String },
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum RawSelect {
    Max,
    Min,
    Disabled,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename = "Gc")]
pub struct RawGc {
    pub heap_mb: f64,
    pub allocation_per_request_mb: f64,
    pub live_base_mb: Option<f64>,
    pub live_per_request_mb: Option<f64>,
    pub pause_base: Option<String>,
    pub pause_per_gb: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum RawQueue {
    Fifo,
    Lifo,
    AdaptiveLifo {
        after: String,
    },
    CoDel {
        target: Option<String>,
        interval: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum RawDiscipline {
    #[default]
    Dedicated,
    ProcessorSharing,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum RawContention {
    Linear { per_request: f64 },
    Polynomial { coefficient: f64, exponent: f64 },
    Exponential { per_request: f64 },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename = "Disk")]
pub struct RawDisk {
    pub latency: RawDist,
    pub iops: f64,
    pub read_fraction: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename = "ActivePassive")]
pub struct RawActivePassive {
    pub heartbeat_interval: Option<String>,
    pub missed_heartbeats: Option<i64>,
    pub replication: RawReplication,
    pub fencing: Option<RawFencing>,
    pub write_fraction: Option<f64>,
    pub reads: Option<RawReads>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum RawReads {
    Primary,
    Standbys { max_lag: Option<String> },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum RawReplication {
    Sync { lag: RawDist },
    Async { lag: RawDist },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum RawFencing {
    Quorum { lease: Option<String> },
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename = "Health")]
pub struct RawHealth {
    pub readiness: Option<RawProbe>,
    pub liveness: Option<RawProbe>,
    pub passive: Option<RawPassive>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum RawProbe {
    Kubernetes {
        initial_delay: Option<String>,
        period: Option<String>,
        timeout: Option<String>,
        success_threshold: Option<i64>,
        failure_threshold: Option<i64>,
    },
    Nginx {
        interval: Option<String>,
        fails: Option<i64>,
        passes: Option<i64>,
        timeout: Option<String>,
    },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum RawPassive {
    Nginx {
        max_fails: Option<i64>,
        fail_timeout: Option<String>,
    },
    Envoy {
        consecutive_5xx: Option<i64>,
        interval: Option<String>,
        base_ejection_time: Option<String>,
        max_ejection_time: Option<String>,
        max_ejection_percent: Option<i64>,
    },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename = "Restart")]
pub struct RawRestart {
    pub delay: Option<String>,
    pub warmup: Option<String>,
    pub cold_factor: Option<f64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename = "Admission")]
pub struct RawAdmission {
    pub max_queue_time: Option<String>,
    pub concurrency_limit: Option<RawConcurrencyLimit>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum RawConcurrencyLimit {
    Aimd {
        initial: Option<i64>,
        min: Option<i64>,
        max: Option<i64>,
        backoff_ratio: Option<f64>,
        timeout: Option<String>,
    },
    Gradient2 {
        initial: Option<i64>,
        min: Option<i64>,
        max: Option<i64>,
        smoothing: Option<f64>,
        long_window: Option<i64>,
        rtt_tolerance: Option<f64>,
        queue_size: Option<i64>,
    },
}

#[derive(Debug, Clone, Copy, Default, Deserialize)]
pub enum RawBalancer {
    #[default]
    RoundRobin,
    Random,
    LeastOutstanding,
    PowerOfTwoChoices,
    LeastRequest {
        choice_count: Option<i64>,
        full_scan: Option<bool>,
    },
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
    #[serde(default)]
    pub policies: Vec<RawPolicy>,
    pub propagate_deadline: Option<bool>,
    pub cache: Option<RawCache>,
    pub connections: Option<i64>,
    pub endpoint: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename = "Cache")]
pub struct RawCache {
    pub keys: i64,
    pub capacity: Option<i64>,
    pub popularity: Option<RawPopularity>,
    pub ttl: String,
    pub coalesce: Option<bool>,
    pub warm: Option<bool>,
    pub latency: Option<RawDist>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum RawPopularity {
    Uniform,
    Zipf { s: f64 },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename = "Link")]
pub struct RawLink {
    pub from: String,
    pub to: String,
    pub latency: Option<RawDist>,
    pub bandwidth_mbit_per_s: Option<f64>,
    pub request_kb: Option<f64>,
    pub response_kb: Option<f64>,
    pub buffer: Option<String>,
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

// ------------------------------------------------------------------ policies

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
pub enum RawOutcome {
    Ok,
    Degraded,
    Timeout,
    Rejected,
    Refused,
    Overloaded,
    Dropped,
    Error,
}

#[derive(Debug, Clone, Copy, Deserialize)]
pub enum RawScope {
    PerReplica,
    Shared,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum RawPolicy {
    Timeout(String),
    Retry {
        max_attempts: Option<i64>,
        max_retries: Option<i64>,
        retry_on: Option<Vec<RawOutcome>>,
        backoff: Option<RawBackoff>,
        budget: Option<RawBudget>,
        scope: Option<RawScope>,
    },
    CircuitBreaker(RawBreaker),
    Bulkhead(RawBulkhead),
    RateLimiter(RawLimiter),
    Fallback {
        on: Option<Vec<RawOutcome>>,
    },
    Hedge {
        max_hedged_attempts: Option<i64>,
        delay: Option<RawHedgeDelay>,
    },
    FeatureFlag {
        failure_rate_above: f64,
        min_calls: Option<i64>,
        window: Option<String>,
        off_for: Option<String>,
        scope: Option<RawScope>,
    },
    AdaptiveThrottle {
        k: Option<f64>,
        window: Option<String>,
        scope: Option<RawScope>,
    },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum RawHedgeDelay {
    Fixed(String),
    Parallel,
    Fallback,
    Percentile {
        quantile: f64,
        window: Option<i64>,
        initial: String,
    },
}

#[derive(Debug, Clone, Copy, Deserialize)]
pub enum RawPollyKind {
    Constant,
    Linear,
    Exponential,
}

#[derive(Debug, Clone, Copy, Deserialize)]
pub enum RawAwsJitter {
    None,
    Full,
    Equal,
    Decorrelated,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum RawBackoff {
    Constant(String),
    Resilience4j {
        initial: String,
        multiplier: Option<f64>,
        max: Option<String>,
        randomization_factor: Option<f64>,
    },
    Polly {
        kind: Option<RawPollyKind>,
        delay: String,
        jitter: Option<bool>,
        max_delay: Option<String>,
    },
    Aws {
        jitter: RawAwsJitter,
        base: String,
        cap: String,
    },
    Grpc {
        initial: String,
        multiplier: f64,
        max: String,
    },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum RawBudget {
    AwsTokenBucket {
        capacity: Option<i64>,
        retry_cost: Option<i64>,
        timeout_retry_cost: Option<i64>,
        no_retry_increment: Option<i64>,
    },
    Tps {
        ttl: Option<String>,
        min_per_sec: Option<i64>,
        retry_percent: Option<f64>,
    },
    GrpcThrottle {
        max_tokens: i64,
        token_ratio: f64,
    },
}

#[derive(Debug, Clone, Copy, Deserialize)]
pub enum RawWindow {
    CountBased(i64),
    TimeBased(i64),
}

#[derive(Debug, Clone, Copy, Deserialize)]
pub enum RawBreakerState {
    Closed,
    Open,
    Disabled,
    ForcedOpen,
    MetricsOnly,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum RawBreaker {
    Resilience4j {
        failure_rate_threshold: Option<f64>,
        slow_call_rate_threshold: Option<f64>,
        slow_call_duration_threshold: Option<String>,
        wait_in_open: Option<String>,
        wait_multiplier: Option<f64>,
        max_wait_in_open: Option<String>,
        permitted_calls_in_half_open: Option<i64>,
        sliding_window: Option<RawWindow>,
        minimum_number_of_calls: Option<i64>,
        max_wait_in_half_open: Option<String>,
        after_max_wait_in_half_open: Option<RawBreakerState>,
        automatic_transition: Option<bool>,
        initial_state: Option<RawBreakerState>,
        record: Option<Vec<RawOutcome>>,
        ignore: Option<Vec<RawOutcome>>,
        scope: Option<RawScope>,
    },
    PyBreaker {
        fail_max: Option<i64>,
        reset_timeout: Option<String>,
        success_threshold: Option<i64>,
        failures: Option<Vec<RawOutcome>>,
        exclude: Option<Vec<RawOutcome>>,
        scope: Option<RawScope>,
    },
    Polly {
        failure_ratio: Option<f64>,
        minimum_throughput: Option<i64>,
        sampling_duration: Option<String>,
        break_duration: Option<String>,
        handled: Option<Vec<RawOutcome>>,
        reprobe_in_half_open: Option<bool>,
        scope: Option<RawScope>,
    },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum RawBulkhead {
    Semaphore {
        max_concurrent: Option<i64>,
        max_wait: Option<String>,
        scope: Option<RawScope>,
    },
    ThreadPool {
        core: i64,
        max: i64,
        queue_capacity: Option<i64>,
        keep_alive: Option<String>,
        scope: Option<RawScope>,
    },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum RawLimiter {
    TokenBucket {
        rate_per_s: f64,
        burst: Option<i64>,
        scope: Option<RawScope>,
    },
    Resilience4j {
        limit_for_period: Option<i64>,
        refresh_period: Option<String>,
        timeout: Option<String>,
        scope: Option<RawScope>,
    },
}
