//! Policy stacks in the running model: for every client and every call edge, the ordered layers
//! of its policies, each with its instances (one per caller replica, or one shared) and counters.
//!
//! The mechanism (invocations, timers, attempts) lives in `world/invoke.rs`; the decisions are
//! the `policy` module's. This file only holds state, builds it from the spec, and keeps the
//! slab of live invocations. It knows requests only as the [`CallerRef`] an invocation answers.

use super::request::{live_limit_hit, CallerRef, NO_SLOT};
use super::spec::*;
use crate::engine::{LimitHit, RngStream, SimTime, Table};
use crate::policy::adaptive::{FeatureFlag, SreThrottle};
use crate::policy::backoff::BackoffState;
use crate::policy::breaker::{Breaker, BreakerState, PollyBreaker, PyBreaker, Resilience4jBreaker};
use crate::policy::budget::{AwsTokenBucket, GrpcThrottle, RetryTicket, TpsBudget};
use crate::policy::limit::{Bulkhead, RateLimiter};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Who owns a policy stack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EdgeOwner {
    Client(ClientId),
    /// Call `call` of service `service`.
    Call {
        service: ServiceId,
        call: usize,
    },
}

/// A retry budget instance.
#[derive(Clone, Debug)]
pub enum BudgetState {
    Aws(AwsTokenBucket),
    Tps(TpsBudget),
    Grpc(GrpcThrottle),
}

/// The stateful part of one layer instance.
#[derive(Clone, Debug)]
pub enum Instance {
    Stateless,
    Budget(BudgetState),
    Breaker(Breaker),
    Bulkhead(Bulkhead),
    Limiter(RateLimiter),
    Latencies(LatencyWindow),
    Throttle(SreThrottle),
    Flag(FeatureFlag),
}

/// Recent successful call latencies, for a hedging delay set from a percentile.
#[derive(Clone, Debug)]
pub struct LatencyWindow {
    ring: Vec<u64>,
    head: usize,
    len: usize,
    quantile: f64,
    cached_ns: u64,
    since_update: u32,
    scratch: Vec<u64>,
}

impl LatencyWindow {
    pub fn new(window: u32, quantile: f64, initial_ns: u64) -> Self {
        let n = window.max(1) as usize;
        LatencyWindow {
            ring: vec![0; n],
            head: 0,
            len: 0,
            quantile,
            cached_ns: initial_ns,
            since_update: 0,
            scratch: Vec::with_capacity(n),
        }
    }

    pub fn delay_ns(&self) -> u64 {
        self.cached_ns
    }

    pub fn record(&mut self, ns: u64) {
        self.ring[self.head] = ns;
        self.head = (self.head + 1) % self.ring.len();
        self.len = (self.len + 1).min(self.ring.len());
        self.since_update += 1;
        // Recompute now and then: selecting a quantile is O(window).
        if self.len >= 10 && (self.since_update >= 64 || self.len < 64) {
            self.since_update = 0;
            self.scratch.clear();
            self.scratch.extend_from_slice(&self.ring[..self.len]);
            let k = ((self.len as f64 * self.quantile).ceil() as usize).clamp(1, self.len) - 1;
            let (_, v, _) = self.scratch.select_nth_unstable(k);
            self.cached_ns = *v;
        }
    }
}

/// What one layer instance did, for the summary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerCounters {
    /// Times the layer was entered.
    pub calls: u64,
    /// Retry: attempts after the first.
    pub retries: u64,
    /// Retry: failures returned because the budget refused a retry.
    pub budget_exhausted: u64,
    /// Retry: failures returned because attempts ran out.
    pub attempts_exhausted: u64,
    /// Timeout: deadlines that fired.
    pub timeouts: u64,
    /// Breaker, bulkhead, limiter: calls refused.
    pub rejected: u64,
    /// Bulkhead: calls that waited; limiter: calls delayed.
    pub waited: u64,
    /// Fallback: failures turned into degraded answers.
    pub degraded: u64,
    /// Hedge: attempts launched besides the first.
    pub hedges: u64,
    /// Hedge: calls whose winning answer came from a hedged attempt.
    pub hedges_won: u64,
}

/// A breaker state change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Transition {
    pub at_ns: u64,
    pub from: BreakerState,
    pub to: BreakerState,
}

/// At most this many transitions are kept per breaker; later ones are only counted.
pub const MAX_TRANSITIONS: usize = 1000;

pub struct LayerState {
    pub spec: PolicySpec,
    pub instances: Vec<Instance>,
    pub counters: Vec<LayerCounters>,
    pub transitions: Vec<Vec<Transition>>,
    pub transitions_dropped: Vec<u64>,
    /// Bulkhead tickets waiting, per instance: ticket -> (invocation, generation).
    pub waiting: Vec<BTreeMap<u64, (u32, u32)>>,
}

pub struct EdgeState {
    pub owner: EdgeOwner,
    /// Endpoint index of the caller (clients first, then services).
    pub from: u32,
    pub to: ServiceId,
    /// The network link `from -> to` (its index in the world's links; set when the world is
    /// built): found once per edge, not per request.
    pub link: u32,
    pub layers: Vec<LayerState>,
    /// Requests sent on this edge carry their deadline.
    pub propagate_deadline: bool,
    /// Draws for backoff jitter.
    pub rng: RngStream,
}

fn instance(spec: &PolicySpec) -> Instance {
    // Configurations were validated when the scenario was loaded; a failure here is a bug.
    match spec {
        PolicySpec::Retry(r) => match r.budget {
            None => Instance::Stateless,
            Some(BudgetSpec::AwsTokenBucket {
                capacity,
                retry_cost,
                timeout_retry_cost,
                no_retry_increment,
            }) => Instance::Budget(BudgetState::Aws(
                AwsTokenBucket::new(capacity, retry_cost, timeout_retry_cost, no_retry_increment)
                    .expect("validated"),
            )),
            Some(BudgetSpec::Tps {
                ttl,
                min_per_sec,
                retry_percent,
            }) => Instance::Budget(BudgetState::Tps(
                TpsBudget::new(ttl.0, min_per_sec, retry_percent, 0).expect("validated"),
            )),
            Some(BudgetSpec::GrpcThrottle {
                max_tokens,
                token_ratio,
            }) => Instance::Budget(BudgetState::Grpc(
                GrpcThrottle::new(max_tokens, token_ratio).expect("validated"),
            )),
        },
        PolicySpec::CircuitBreaker { breaker, .. } => Instance::Breaker(match breaker {
            BreakerSpec::Resilience4j(c) => {
                Breaker::Resilience4j(Resilience4jBreaker::new(c.clone()).expect("validated"))
            }
            BreakerSpec::PyBreaker(c) => {
                Breaker::PyBreaker(PyBreaker::new(c.clone()).expect("validated"))
            }
            BreakerSpec::Polly(c) => {
                Breaker::Polly(PollyBreaker::new(c.clone()).expect("validated"))
            }
        }),
        PolicySpec::Bulkhead { bulkhead, .. } => Instance::Bulkhead(match *bulkhead {
            BulkheadSpec::Semaphore {
                max_concurrent,
                max_wait,
            } => Bulkhead::semaphore(max_concurrent, max_wait.0),
            BulkheadSpec::ThreadPool {
                core,
                max,
                queue_capacity,
                keep_alive,
            } => Bulkhead::thread_pool(core, max, queue_capacity, keep_alive.0).expect("validated"),
        }),
        PolicySpec::RateLimiter { limiter, .. } => Instance::Limiter(match *limiter {
            LimiterSpec::TokenBucket { rate_per_s, burst } => {
                RateLimiter::token_bucket(rate_per_s, burst, 0).expect("validated")
            }
            LimiterSpec::Resilience4j {
                limit_for_period,
                refresh_period,
                timeout,
            } => RateLimiter::resilience4j(limit_for_period, refresh_period.0, timeout.0, 0)
                .expect("validated"),
        }),
        PolicySpec::Hedge {
            delay:
                HedgeDelay::Percentile {
                    quantile,
                    window,
                    initial,
                },
            ..
        } => Instance::Latencies(LatencyWindow::new(*window, *quantile, initial.0)),
        PolicySpec::FeatureFlag {
            failure_rate_above,
            min_calls,
            window,
            off_for,
            ..
        } => Instance::Flag(
            FeatureFlag::new(*failure_rate_above, *min_calls, window.0, off_for.0)
                .expect("validated"),
        ),
        PolicySpec::AdaptiveThrottle { k, window, .. } => {
            Instance::Throttle(SreThrottle::new(*k, window.0).expect("validated"))
        }
        PolicySpec::Timeout { .. }
        | PolicySpec::Deadline
        | PolicySpec::Fallback { .. }
        | PolicySpec::Hedge { .. } => Instance::Stateless,
    }
}

impl EdgeState {
    /// `caller_replicas` is 1 for a client edge.
    pub fn new(
        owner: EdgeOwner,
        from: u32,
        to: ServiceId,
        policies: &[PolicySpec],
        caller_replicas: u32,
        propagate_deadline: bool,
        rng: RngStream,
    ) -> Self {
        let layers = policies
            .iter()
            .map(|p| {
                let n = match p.scope() {
                    Scope::Shared => 1,
                    Scope::PerReplica => caller_replicas.max(1) as usize,
                };
                LayerState {
                    spec: p.clone(),
                    instances: (0..n).map(|_| instance(p)).collect(),
                    counters: vec![LayerCounters::default(); n],
                    transitions: vec![Vec::new(); n],
                    transitions_dropped: vec![0; n],
                    waiting: vec![BTreeMap::new(); n],
                }
            })
            .collect();
        EdgeState {
            owner,
            from,
            to,
            link: u32::MAX,
            layers,
            propagate_deadline,
            rng,
        }
    }
}

impl LayerState {
    /// Bumps instance `i`'s counters when `counting` (after the warm-up).
    #[inline]
    pub fn count(&mut self, i: usize, counting: bool, f: impl FnOnce(&mut LayerCounters)) {
        if counting {
            f(&mut self.counters[i]);
        }
    }

    /// The instance a caller replica uses.
    pub fn instance_index(&self, caller_replica: u32) -> usize {
        if self.instances.len() == 1 {
            0
        } else {
            caller_replica as usize
        }
    }

    /// After a call into (or a wake-up of) breaker instance `i`, whose state was `before` at
    /// `now_ns`: records its transitions, each at its own time, and returns when to wake it
    /// next if that is not yet scheduled.
    pub fn breaker_settled(&mut self, i: usize, before: BreakerState, now_ns: u64) -> Option<u64> {
        let Instance::Breaker(b) = &mut self.instances[i] else {
            return None;
        };
        let log = b.take_transitions(before, now_ns);
        let wake = b.wake_at();
        for (at_ns, from, to) in log {
            self.record_transition(i, at_ns, from, to);
        }
        wake
    }

    pub fn record_transition(
        &mut self,
        i: usize,
        at_ns: u64,
        from: BreakerState,
        to: BreakerState,
    ) {
        if self.transitions[i].len() < MAX_TRANSITIONS {
            self.transitions[i].push(Transition { at_ns, from, to });
        } else {
            self.transitions_dropped[i] += 1;
        }
    }
}

/// One live invocation of one layer of a stack.
#[derive(Clone, Copy, Debug)]
pub struct Inv {
    pub gen: u32,
    pub edge: u32,
    pub layer: u8,
    pub instance: u32,
    pub done: bool,
    pub parent: CallerRef,
    pub caller_entity: u32,
    pub caller_replica: u32,
    /// When the layer was entered (for the root: the call's start, for latency).
    pub started_at_ns: u64,
    /// When the current attempt of the inner layers started (breaker durations).
    pub child_started_at_ns: u64,
    pub attempt: u32,
    pub backoff: BackoffState,
    pub ticket: Option<RetryTicket>,
    pub bulkhead_ticket: u64,
    /// Hedge: attempts still out.
    pub pending: u16,
    /// The deadline inside this layer (u64::MAX: none).
    pub deadline_ns: u64,
    /// The last request this layer sent itself (innermost layers), with its generation, so a
    /// timeout can tell passive health checking which replica failed to answer.
    pub child_slot: u32,
    pub child_gen: u32,
    /// The callee's endpoint, chosen once for the call and kept by every attempt.
    pub endpoint: u8,
}

impl Inv {
    /// A free slab entry (also what a freed one is reset to, but for its generation).
    fn vacant() -> Self {
        Inv {
            gen: 0,
            edge: 0,
            layer: 0,
            instance: 0,
            done: true,
            parent: CallerRef::Inv {
                inv: 0,
                gen: 0,
                tag: 0,
            },
            caller_entity: 0,
            caller_replica: 0,
            started_at_ns: 0,
            child_started_at_ns: 0,
            attempt: 0,
            backoff: BackoffState::default(),
            ticket: None,
            bulkhead_ticket: 0,
            pending: 0,
            deadline_ns: u64::MAX,
            child_slot: NO_SLOT,
            child_gen: 0,
            endpoint: 0,
        }
    }
}

/// Every policy stack of the system and the invocations alive in them.
pub(crate) struct Stacks {
    /// One edge per client, then one per call of each service, in scenario order.
    pub edges: Table<EdgeState>,
    pub client_edge: Table<u32>,
    /// `call_edge[s][i]`: the edge of call `i` of service `s`.
    pub call_edge: Vec<Vec<u32>>,
    /// Live invocations (a slab, reused through `inv_free`); bounded like live requests.
    pub invs: Vec<Inv>,
    pub inv_free: Vec<u32>,
    max_live: u32,
}

impl Stacks {
    /// A stack per client and per call, each layer with its instances, and the edge's backoff
    /// jitter stream (`policy:client:A->service:B` or `policy:service:A->service:B/call:I`,
    /// purpose `retry`).
    pub fn new(spec: &SystemSpec, seed: u64, max_live: u32) -> Self {
        let n_clients = spec.clients.len();
        let mut edges = Vec::new();
        let mut client_edge = Vec::new();
        for (ci, c) in spec.clients.iter().enumerate() {
            client_edge.push(edges.len() as u32);
            let name = format!(
                "policy:client:{}->service:{}",
                c.name, spec.services[c.target].name
            );
            edges.push(EdgeState::new(
                EdgeOwner::Client(ci),
                ci as u32,
                c.target,
                &c.policies,
                1,
                c.propagate_deadline,
                RngStream::derive(seed, &name, "retry"),
            ));
        }
        let mut call_edge = Vec::new();
        for (si, s) in spec.services.iter().enumerate() {
            let mut v = Vec::new();
            for (i, call) in s.calls.iter().enumerate() {
                v.push(edges.len() as u32);
                let name = format!(
                    "policy:service:{}->service:{}/call:{i}",
                    s.name, spec.services[call.to].name
                );
                edges.push(EdgeState::new(
                    EdgeOwner::Call {
                        service: si,
                        call: i,
                    },
                    (n_clients + si) as u32,
                    call.to,
                    &call.policies,
                    s.replicas,
                    call.propagate_deadline,
                    RngStream::derive(seed, &name, "retry"),
                ));
            }
            call_edge.push(v);
        }
        Stacks {
            edges: edges.into(),
            client_edge: client_edge.into(),
            call_edge,
            invs: Vec::new(),
            inv_free: Vec::new(),
            max_live,
        }
    }

    /// A slab entry for a new invocation at `now`, or the live limit it hit. The entry keeps
    /// the generation it had; the caller fills the rest.
    pub fn alloc(&mut self, now: SimTime) -> Result<u32, LimitHit> {
        if let Some(i) = self.inv_free.pop() {
            debug_assert!(self.invs[i as usize].done, "a free invocation is done");
            return Ok(i);
        }
        if self.invs.len() as u64 >= self.max_live as u64 {
            return Err(live_limit_hit(self.max_live, now));
        }
        self.invs.push(Inv::vacant());
        Ok((self.invs.len() - 1) as u32)
    }

    /// Invocation `id` answered its parent: its generation moves on, so its timers and late
    /// results are ignored, and its entry is reused.
    pub fn free(&mut self, id: u32) {
        let v = &mut self.invs[id as usize];
        debug_assert!(v.done, "an invocation is freed once it answered");
        v.gen = v.gen.wrapping_add(1);
        self.inv_free.push(id);
    }
}
