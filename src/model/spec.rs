//! The typed description of a system the model runs: clients, services, calls and links, with
//! every reference resolved to an index and every value already validated.
//!
//! These are what the `scenario` layer produces from a RON file, and what a library user builds
//! in code. They know nothing of files, field paths or error messages.

use super::dist::Dist;
use crate::engine::{SimDuration, SimTime};

/// Index of a service in [`SystemSpec::services`].
pub type ServiceId = usize;
/// Index of a client in [`SystemSpec::clients`].
pub type ClientId = usize;

/// A whole system: who sends load, who serves it, and the network between them.
#[derive(Clone, Debug)]
pub struct SystemSpec {
    pub clients: Vec<ClientSpec>,
    pub services: Vec<ServiceSpec>,
    /// Links with their own latency; every other edge uses `default_link_latency`.
    pub links: Vec<LinkSpec>,
    pub default_link_latency: Dist,
}

/// A source of requests aimed at one entry service.
#[derive(Clone, Debug)]
pub struct ClientSpec {
    pub name: String,
    pub target: ServiceId,
    pub load: Load,
    /// The client gives up on a request after this long (outcome `timeout`).
    pub timeout: Option<SimDuration>,
    /// Open loop: arrivals beyond this many outstanding requests are `rejected` at the client.
    pub max_in_flight: u32,
}

/// How a client generates requests.
#[derive(Clone, Debug)]
pub enum Load {
    /// Requests arrive on their own schedule, whether or not earlier ones have finished.
    Open {
        arrivals: Arrivals,
        rate_per_s: f64,
        /// Rate changes at given instants, in increasing order.
        steps: Vec<RateStep>,
    },
    /// `users` each send one request, wait for its outcome, think, and send the next.
    Closed { users: u32, think_time: Dist },
}

/// The spacing of open-loop arrivals.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Arrivals {
    /// Exponential gaps (a Poisson process).
    Poisson,
    /// Evenly spaced, 1/rate apart.
    Constant,
}

/// From `at` on, the open-loop rate is `rate_per_s`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateStep {
    pub at: SimTime,
    pub rate_per_s: f64,
}

/// A service: identical replicas behind one load balancer.
#[derive(Clone, Debug)]
pub struct ServiceSpec {
    pub name: String,
    pub replicas: u32,
    /// Requests one replica serves at once. A worker is held from the start of service until
    /// the response is sent, including the time spent waiting on downstream calls.
    pub workers: u32,
    /// Requests one replica holds waiting for a worker; beyond it they are `overloaded`.
    pub queue_capacity: u32,
    pub service_time: Dist,
    /// Probability that a request fails at this service with `error` after its service time.
    pub error_rate: f64,
    pub balancer: Balancer,
    pub fan_out: FanOut,
    pub calls: Vec<CallSpec>,
}

/// How a service's load balancer picks a replica.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Balancer {
    RoundRobin,
    Random,
    /// The replica with the fewest outstanding requests; ties rotate.
    LeastOutstanding,
    /// Two distinct replicas at random, the one with fewer outstanding requests.
    PowerOfTwoChoices,
}

/// How a service makes its downstream calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FanOut {
    /// One after another, in the order listed; the first failure fails the request.
    Sequential,
    /// All at once; the request completes when all have succeeded, or fails at the first failure.
    Parallel,
}

/// One downstream call a service makes while handling a request.
#[derive(Clone, Debug)]
pub struct CallSpec {
    pub to: ServiceId,
    /// Probability that a request makes this call.
    pub probability: f64,
    /// The caller gives up after this long and the call counts as `timeout`.
    pub timeout: Option<SimDuration>,
}

/// One end of a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Endpoint {
    Client(ClientId),
    Service(ServiceId),
}

/// The network between a caller and a service; the latency applies to each direction.
#[derive(Clone, Debug)]
pub struct LinkSpec {
    pub from: Endpoint,
    pub to: ServiceId,
    pub latency: Dist,
}
