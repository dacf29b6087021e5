//! From the raw file schema to the typed model spec, collecting every problem instead of
//! stopping at the first: a user fixing a scenario sees the whole list at once.
//!
//! Each problem carries the field path it concerns, in the form `services[1].calls[0].to`;
//! the caller turns paths into line:column with the span index.

use super::check::{unknown_name, Checker, Problem};
use super::raw::*;
use super::{Scenario, ScenarioLimits};
use crate::engine::{SimDuration, SimTime};
use crate::model::{
    Arrivals, Balancer, CallSpec, ClientSpec, Dist, Endpoint, FanOut, LinkSpec, Load, RateStep,
    ServiceSpec, SystemSpec,
};
use petgraph::graphmap::DiGraphMap;
use std::collections::BTreeMap;

pub const DEFAULT_SEED: u64 = 1;
pub const DEFAULT_DURATION: &str = "60s";
pub const DEFAULT_MAX_EVENTS: u64 = 200_000_000;
pub const DEFAULT_MAX_PENDING_EVENTS: u64 = 20_000_000;
pub const DEFAULT_MAX_LIVE_REQUESTS: u64 = 2_000_000;
pub const DEFAULT_MAX_IN_FLIGHT: u64 = 10_000;
pub const DEFAULT_QUEUE_CAPACITY: i64 = 1_000;

/// A service may list at most this many calls (a parallel fan-out tracks them in a 64-bit mask).
pub const MAX_CALLS: usize = 64;
/// Validates `raw` into a [`Scenario`], or returns every problem found.
pub fn validate(raw: &RawScenario) -> Result<Scenario, Vec<Problem>> {
    let mut c = Checker {
        problems: Vec::new(),
    };

    let name = raw.name.clone().unwrap_or_else(|| "unnamed".to_string());
    if name.trim().is_empty() {
        c.err("name", "the scenario name must not be empty");
    }
    let seed = raw.seed.unwrap_or(DEFAULT_SEED);
    let duration = c.positive_duration(
        "duration",
        raw.duration.as_deref().unwrap_or(DEFAULT_DURATION),
    );
    let warmup = match &raw.warmup {
        Some(w) => c.duration("warmup", w),
        None => Some(SimDuration::ZERO),
    };
    if let (Some(d), Some(w)) = (duration, warmup) {
        if w >= d {
            c.err(
                "warmup",
                format!("the warm-up ({w}) must be shorter than the duration ({d})"),
            );
        }
    }
    let limits = ScenarioLimits {
        max_events: c.count(
            "limits.max_events",
            raw.limits.max_events,
            DEFAULT_MAX_EVENTS as i64,
            1,
            i64::MAX,
            "max_events",
        ),
        max_pending_events: c.count(
            "limits.max_pending_events",
            raw.limits.max_pending_events,
            DEFAULT_MAX_PENDING_EVENTS as i64,
            1,
            1_000_000_000,
            "max_pending_events",
        ),
        max_live_requests: c.count(
            "limits.max_live_requests",
            raw.limits.max_live_requests,
            DEFAULT_MAX_LIVE_REQUESTS as i64,
            1,
            u32::MAX as i64,
            "max_live_requests",
        ) as u32,
    };
    let default_link_latency = match &raw.default_link_latency {
        Some(d) => c.dist("default_link_latency", d, 0),
        None => Some(Dist::constant_ns(0)),
    };

    // Names: services and clients share one namespace, because a link's `from` may be either.
    let service_names: Vec<&str> = raw.services.iter().map(|s| s.name.as_str()).collect();
    let client_names: Vec<&str> = raw.clients.iter().map(|s| s.name.as_str()).collect();
    let mut seen: BTreeMap<&str, String> = BTreeMap::new();
    for (i, n) in service_names.iter().enumerate() {
        check_name(&mut c, &mut seen, n, format!("services[{i}].name"));
    }
    for (i, n) in client_names.iter().enumerate() {
        check_name(&mut c, &mut seen, n, format!("clients[{i}].name"));
    }
    let service_index = |n: &str| service_names.iter().position(|s| *s == n);

    if raw.services.is_empty() {
        c.err("services", "a scenario needs at least one service");
    }
    if raw.clients.is_empty() {
        c.err(
            "clients",
            "a scenario needs at least one client to send load",
        );
    }

    let mut services = Vec::new();
    for (i, s) in raw.services.iter().enumerate() {
        let p = format!("services[{i}]");
        let replicas = c.count(
            &format!("{p}.replicas"),
            s.replicas,
            1,
            1,
            1_000_000,
            "replicas",
        ) as u32;
        let workers = c.count(
            &format!("{p}.workers"),
            s.workers,
            1,
            1,
            1_000_000,
            "workers",
        ) as u32;
        let queue_capacity = c.count(
            &format!("{p}.queue_capacity"),
            s.queue_capacity,
            DEFAULT_QUEUE_CAPACITY,
            0,
            100_000_000,
            "queue_capacity",
        ) as u32;
        let service_time = c.dist(&format!("{p}.service_time"), &s.service_time, 0);
        let error_rate = c.probability(&format!("{p}.error_rate"), s.error_rate.unwrap_or(0.0));
        if s.calls.len() > MAX_CALLS {
            c.err(
                format!("{p}.calls"),
                format!(
                    "a service may make at most {MAX_CALLS} calls, this one lists {}",
                    s.calls.len()
                ),
            );
        }
        let mut calls = Vec::new();
        for (j, call) in s.calls.iter().enumerate() {
            let cp = format!("{p}.calls[{j}]");
            let to = service_index(&call.to);
            if to.is_none() {
                c.err(
                    format!("{cp}.to"),
                    unknown_name("service", &call.to, &service_names),
                );
            }
            let probability = c.probability(
                &format!("{cp}.probability"),
                call.probability.unwrap_or(1.0),
            );
            let mut policies =
                super::policies::stack(&mut c, &cp, &call.policies, call.timeout.as_deref());
            let propagate_deadline = call.propagate_deadline.unwrap_or(false);
            if propagate_deadline {
                // The calling request's deadline bounds the whole call, retries included.
                policies.insert(0, crate::model::PolicySpec::Deadline);
            }
            let cache = call.cache.as_ref().map(|k| {
                let cp = format!("{cp}.cache");
                let keys = c.count(
                    &format!("{cp}.keys"),
                    Some(k.keys),
                    1,
                    1,
                    10_000_000,
                    "keys",
                );
                let ttl = c
                    .positive_duration(&format!("{cp}.ttl"), &k.ttl)
                    .unwrap_or(SimDuration::from_secs(1));
                let capacity = k.capacity.map(|n| {
                    c.count(&format!("{cp}.capacity"), Some(n), 1, 1, keys as i64, "capacity") as u32
                });
                let popularity = match k.popularity {
                    None | Some(RawPopularity::Uniform) => crate::model::Popularity::Uniform,
                    Some(RawPopularity::Zipf { s }) => {
                        if !(s.is_finite() && (0.0..=10.0).contains(&s)) {
                            c.err(
                                format!("{cp}.popularity.s"),
                                format!("the Zipf exponent: between 0 and 10 (about 0.6 to 1.2 in measured web and cache traces), got {s}"),
                            );
                        }
                        if keys > 1_000_000 {
                            c.err(
                                format!("{cp}.keys"),
                                format!("at most 1000000 keys with Zipf popularity (its table takes 8 bytes a key), got {keys}"),
                            );
                        }
                        crate::model::Popularity::Zipf { s }
                    }
                };
                crate::model::CacheSpec {
                    keys: keys as u32,
                    capacity,
                    popularity,
                    ttl,
                    coalesce: k.coalesce.unwrap_or(false),
                    warm: k.warm.unwrap_or(false),
                    latency: k
                        .latency
                        .as_ref()
                        .and_then(|d| c.dist(&format!("{cp}.latency"), d, 0)),
                }
            });
            if let Some(to) = to {
                let endpoint = super::endpoints::endpoint_index(
                    &mut c,
                    &format!("{cp}.endpoint"),
                    &raw.services,
                    to,
                    &call.endpoint,
                );
                calls.push(CallSpec {
                    endpoint,
                    to,
                    probability,
                    policies,
                    propagate_deadline,
                    cache,
                    connections: call.connections.map(|n| {
                        c.count(
                            &format!("{cp}.connections"),
                            Some(n),
                            1,
                            1,
                            1_000_000,
                            "connections",
                        ) as u32
                    }),
                });
            }
        }
        let endpoints =
            super::endpoints::endpoints(&mut c, &p, s, &raw.services, &service_time, &calls);
        let autoscale = super::autoscale::autoscale(
            &mut c,
            &p,
            &s.autoscale,
            replicas,
            s.active_passive.is_some(),
        );
        services.push(ServiceSpec {
            name: s.name.clone(),
            // Every replica an autoscaler may run exists from the start, out of service until
            // it is asked for.
            replicas: autoscale
                .as_ref()
                .map_or(replicas, |a| replicas.max(a.hpa.max_replicas)),
            initial_replicas: replicas,
            workers,
            queue_capacity,
            service_time: service_time.unwrap_or(Dist::constant_ns(0)),
            error_rate,
            balancer: match s.balancer {
                RawBalancer::RoundRobin => Balancer::RoundRobin,
                RawBalancer::Random => Balancer::Random,
                RawBalancer::LeastOutstanding => Balancer::LeastOutstanding,
                RawBalancer::PowerOfTwoChoices => Balancer::PowerOfTwoChoices,
                RawBalancer::LeastRequest {
                    choice_count,
                    full_scan,
                } => Balancer::LeastRequest {
                    choice_count: c.count(
                        &format!("{p}.balancer.choice_count"),
                        choice_count,
                        2,
                        2,
                        1_000,
                        "choice_count",
                    ) as u32,
                    full_scan: full_scan.unwrap_or(false),
                },
            },
            fan_out: match s.fan_out {
                RawFanOut::Sequential => FanOut::Sequential,
                RawFanOut::Parallel => FanOut::Parallel,
            },
            calls,
            admission: super::policies::admission(&mut c, &p, &s.admission),
            health: super::faults::health(&mut c, &p, &s.health),
            restart: super::faults::restart(&mut c, &p, &s.restart),
            active_passive: super::faults::active_passive(&mut c, &p, s, replicas),
            disk: s.disk.as_ref().and_then(|d| {
                let dp = format!("{p}.disk");
                if !(d.iops.is_finite() && d.iops > 0.0 && d.iops <= 1e9) {
                    c.err(
                        format!("{dp}.iops"),
                        format!(
                            "operations per second: above 0 and at most 1e9, got {}",
                            d.iops
                        ),
                    );
                }
                let read_fraction = c.probability(
                    &format!("{dp}.read_fraction"),
                    d.read_fraction.unwrap_or(1.0),
                );
                let latency = c.dist(&format!("{dp}.latency"), &d.latency, 0)?;
                Some(crate::model::DiskSpec {
                    latency,
                    iops: d.iops,
                    read_fraction,
                })
            }),
            discipline: match s.discipline {
                RawDiscipline::Dedicated => crate::model::Discipline::Dedicated,
                RawDiscipline::ProcessorSharing => crate::model::Discipline::ProcessorSharing,
            },
            contention: s.contention.map(|k| contention(&mut c, &p, k)),
            queue: queue(&mut c, &p, s),
            gc: s.gc.as_ref().map(|g| gc(&mut c, &p, g)),
            autoscale,
            balancer_retry: s
                .balancer_retry
                .as_ref()
                .map(|b| balancer_retry(&mut c, &p, b, s.active_passive.is_some())),
            endpoints,
        });
    }
    check_cycles(&mut c, &services);

    let mut clients = Vec::new();
    for (i, cl) in raw.clients.iter().enumerate() {
        let p = format!("clients[{i}]");
        let target = service_index(&cl.target);
        if target.is_none() {
            c.err(
                format!("{p}.target"),
                unknown_name("service", &cl.target, &service_names),
            );
        }
        let policies = super::policies::stack(&mut c, &p, &cl.policies, cl.timeout.as_deref());
        let load = match &cl.load {
            RawLoad::Open {
                rate_per_s,
                arrivals,
                steps,
            } => {
                let rate = c.rate(&format!("{p}.load.rate_per_s"), *rate_per_s);
                let mut typed_steps = Vec::new();
                let mut last: Option<SimDuration> = None;
                for (j, st) in steps.iter().enumerate() {
                    let sp = format!("{p}.load.steps[{j}]");
                    let r = c.rate(&format!("{sp}.rate_per_s"), st.rate_per_s);
                    if let Some(at) = c.duration(&format!("{sp}.at"), &st.at) {
                        if last.is_some_and(|l| at <= l) {
                            c.err(
                                format!("{sp}.at"),
                                "steps must be listed in increasing order of `at`",
                            );
                        }
                        last = Some(at);
                        typed_steps.push(RateStep {
                            at: SimTime(at.0),
                            rate_per_s: r,
                        });
                    }
                }
                if *rate_per_s == 0.0 && typed_steps.iter().all(|s| s.rate_per_s == 0.0) {
                    c.err(format!("{p}.load.rate_per_s"), "an open-loop client with a rate of zero (and no step above zero) sends nothing; give a rate above zero");
                }
                Load::Open {
                    arrivals: match arrivals {
                        RawArrivals::Poisson => Arrivals::Poisson,
                        RawArrivals::Constant => Arrivals::Constant,
                    },
                    rate_per_s: rate,
                    steps: typed_steps,
                }
            }
            RawLoad::Closed { users, think_time } => {
                let users = c.count(
                    &format!("{p}.load.users"),
                    Some(*users),
                    1,
                    1,
                    10_000_000,
                    "users",
                ) as u32;
                let think = c.dist(&format!("{p}.load.think_time"), think_time, 0);
                Load::Closed {
                    users,
                    think_time: think.unwrap_or(Dist::constant_ns(0)),
                }
            }
        };
        let default_in_flight = match &load {
            Load::Closed { users, .. } => (*users as u64).max(1),
            Load::Open { .. } => DEFAULT_MAX_IN_FLIGHT,
        };
        let max_in_flight = c.count(
            &format!("{p}.max_in_flight"),
            cl.max_in_flight,
            default_in_flight as i64,
            1,
            u32::MAX as i64,
            "max_in_flight",
        ) as u32;
        if let Load::Closed { users, .. } = &load {
            if *users > max_in_flight {
                c.err(
                    format!("{p}.max_in_flight"),
                    format!(
                        "a closed-loop client needs max_in_flight of at least its {users} users"
                    ),
                );
            }
        }
        if let Some(target) = target {
            let endpoint = super::endpoints::endpoint_index(
                &mut c,
                &format!("{p}.endpoint"),
                &raw.services,
                target,
                &cl.endpoint,
            );
            clients.push(ClientSpec {
                endpoint,
                name: cl.name.clone(),
                target,
                load,
                policies,
                max_in_flight,
                propagate_deadline: cl.propagate_deadline.unwrap_or(false),
            });
        }
    }

    let mut links = Vec::new();
    let mut link_seen = BTreeMap::new();
    for (i, l) in raw.links.iter().enumerate() {
        let p = format!("links[{i}]");
        let from = if let Some(s) = service_index(&l.from) {
            Some(Endpoint::Service(s))
        } else if let Some(ci) = client_names.iter().position(|n| *n == l.from) {
            Some(Endpoint::Client(ci))
        } else {
            let all: Vec<&str> = service_names
                .iter()
                .chain(client_names.iter())
                .copied()
                .collect();
            c.err(
                format!("{p}.from"),
                unknown_name("client or service", &l.from, &all),
            );
            None
        };
        let to = service_index(&l.to);
        if to.is_none() {
            c.err(
                format!("{p}.to"),
                unknown_name("service", &l.to, &service_names),
            );
        }
        let latency = match &l.latency {
            Some(d) => c.dist(&format!("{p}.latency"), d, 0),
            None => default_link_latency.clone(),
        };
        let bandwidth = link_bandwidth(&mut c, &p, l);
        if let (Some(from), Some(to), Some(latency)) = (from, to, latency) {
            if let Some(first) = link_seen.insert((from, to), i) {
                c.err(
                    p.clone(),
                    format!(
                        "links[{first}] already describes the link from \"{}\" to \"{}\"",
                        l.from, l.to
                    ),
                );
            }
            links.push(LinkSpec {
                from,
                to,
                latency,
                bandwidth,
            });
        }
    }

    let slo = super::faults::slo(&mut c, &raw.slo);
    let fault_space = raw
        .fault_space
        .as_ref()
        .and_then(|fs| super::faults::fault_space(&mut c, fs, duration, warmup));
    let expect = super::expect::expectations(&mut c, &raw.expect, &client_names, &service_names);
    let rare = raw
        .rare
        .as_ref()
        .and_then(|r| super::rare::rare(&mut c, r, &client_names, &service_names));
    // Replicas a Scale fault adds exist from the start, out of service until it adds them.
    for f in &raw.faults {
        if let RawFaultKind::Scale { service, replicas } = &f.fault {
            if let Some(s) = services.iter_mut().find(|s| &s.name == service) {
                if (1..=10_000).contains(replicas) {
                    s.replicas = s.replicas.max(*replicas as u32);
                }
            }
        }
    }
    let plan = if c.problems.is_empty() {
        let mut first_replica = Vec::new();
        let mut n = 0;
        for s in &services {
            first_replica.push(n);
            n += s.replicas;
        }
        let names = super::faults::Names {
            services: &services,
            clients: &client_names,
            client_policies: clients.iter().map(|cl| &cl.policies[..]).collect(),
            first_replica,
        };
        let open_loop: Vec<bool> = clients
            .iter()
            .map(|cl| matches!(cl.load, Load::Open { .. }))
            .collect();
        let mut flows: Vec<(Endpoint, usize)> = clients
            .iter()
            .enumerate()
            .map(|(i, cl)| (Endpoint::Client(i), cl.target))
            .collect();
        for (si, s) in services.iter().enumerate() {
            flows.extend(s.calls.iter().map(|call| (Endpoint::Service(si), call.to)));
        }
        if let Some(fs) = &raw.fault_space {
            super::faults::fault_space_kinds(&mut c, fs, &names, &open_loop, &flows);
        }
        super::faults::plan(&mut c, &raw.faults, &names, &open_loop, &flows)
    } else {
        Default::default()
    };
    if !c.problems.is_empty() {
        return Err(c.problems);
    }
    let mut system = SystemSpec {
        clients,
        services,
        links,
        default_link_latency: default_link_latency.expect("checked above"),
        faults: Vec::new(),
    };
    let duration = duration.expect("checked above");
    match crate::faults::expand(&plan, seed, SimTime(duration.0), &system) {
        Ok(w) => system.faults = w,
        Err(e) => {
            return Err(vec![Problem {
                path: format!("faults[{}]", e.rule),
                line: None,
                col: None,
                message: e.to_string(),
            }])
        }
    }
    crate::faults::apply_spikes(&mut system);
    let scenario = Scenario {
        name,
        description: raw.description.clone(),
        seed,
        duration,
        warmup: warmup.expect("checked above"),
        limits,
        system,
        slo,
        expect,
        fault_space,
        rare,
        variants: Vec::new(),
        warnings: Vec::new(),
    };
    check_event_budget(&scenario).map_err(|p| vec![p])?;
    Ok(scenario)
}

fn check_name<'a>(
    c: &mut Checker,
    seen: &mut BTreeMap<&'a str, String>,
    name: &'a str,
    path: String,
) {
    if name.trim().is_empty() {
        c.err(path, "names must not be empty");
    } else if name.contains(['/', '>', ':']) {
        c.err(path, format!("\"{name}\": names may not contain '/', ':' or '>' (they separate names in traces and paths)"));
    } else if let Some(first) = seen.get(name) {
        c.err(path, format!("the name \"{name}\" is already used at {first}; clients and services need distinct names"));
    } else {
        seen.insert(name, path);
    }
}

/// A cycle in the call graph would make a request call itself forever.
/// A link's bandwidth limit: megabits per second, message sizes in kilobytes (1000 bytes),
/// the longest wait to start transmitting before a message is dropped.
fn link_bandwidth(c: &mut Checker, p: &str, l: &RawLink) -> Option<crate::model::Bandwidth> {
    let Some(mbit) = l.bandwidth_mbit_per_s else {
        for (field, set) in [
            ("request_kb", l.request_kb.is_some()),
            ("response_kb", l.response_kb.is_some()),
            ("buffer", l.buffer.is_some()),
        ] {
            if set {
                c.err(
                    format!("{p}.{field}"),
                    "only means something on a bandwidth-limited link: add bandwidth_mbit_per_s",
                );
            }
        }
        return None;
    };
    if !(mbit.is_finite() && mbit > 0.0 && mbit <= 1e9) {
        c.err(
            format!("{p}.bandwidth_mbit_per_s"),
            format!("megabits per second: above 0 and at most 1e9, got {mbit}"),
        );
        return None;
    }
    let mut size_ns = |field: &str, kb: Option<f64>| -> u64 {
        let kb = kb.unwrap_or(1.0);
        if !(kb.is_finite() && (0.0..=1e9).contains(&kb)) {
            c.err(
                format!("{p}.{field}"),
                format!("kilobytes per message: between 0 and 1e9, got {kb}"),
            );
            return 0;
        }
        // bits / (bits per second), in nanoseconds
        (kb * 8_000.0 / (mbit * 1e6) * 1e9).round() as u64
    };
    let request_ns = size_ns("request_kb", l.request_kb);
    let response_ns = size_ns("response_kb", l.response_kb);
    let buffer = match &l.buffer {
        Some(t) => c
            .duration(&format!("{p}.buffer"), t)
            .unwrap_or(SimDuration::from_secs(1)),
        None => SimDuration::from_secs(1),
    };
    Some(crate::model::Bandwidth {
        request_ns,
        response_ns,
        buffer,
    })
}

fn check_cycles(c: &mut Checker, services: &[ServiceSpec]) {
    let mut g: DiGraphMap<usize, ()> = DiGraphMap::new();
    for (i, s) in services.iter().enumerate() {
        g.add_node(i);
        for call in &s.calls {
            g.add_edge(i, call.to, ());
        }
    }
    for scc in petgraph::algo::tarjan_scc(&g) {
        let self_loop = scc.len() == 1 && g.contains_edge(scc[0], scc[0]);
        if scc.len() > 1 || self_loop {
            let mut members = scc.clone();
            members.sort_unstable();
            let first = members[0];
            let names: Vec<&str> = members.iter().map(|&i| services[i].name.as_str()).collect();
            let cycle = describe_cycle(services, &members);
            c.err(
                format!("services[{first}].calls"),
                format!(
                    "the call graph has a cycle ({cycle}); requests would call each other forever. Services involved: {}",
                    names.join(", ")
                ),
            );
        }
    }
}

/// One concrete cycle through the strongly connected `members`, as `a -> b -> a`.
fn describe_cycle(services: &[ServiceSpec], members: &[usize]) -> String {
    let start = members[0];
    let mut path = vec![start];
    let mut cur = start;
    for _ in 0..members.len() {
        let next = services[cur]
            .calls
            .iter()
            .map(|c| c.to)
            .filter(|t| members.contains(t))
            .find(|t| *t == start || !path.contains(t));
        match next {
            Some(n) if n == start => {
                path.push(n);
                break;
            }
            Some(n) => {
                path.push(n);
                cur = n;
            }
            None => break,
        }
    }
    path.iter()
        .map(|&i| services[i].name.as_str())
        .collect::<Vec<_>>()
        .join(" -> ")
}

/// Expected events per request arriving at each service (the call graph is acyclic).
pub fn events_per_request(system: &SystemSpec) -> Vec<f64> {
    fn visit(system: &SystemSpec, s: usize, memo: &mut Vec<Option<f64>>) -> f64 {
        if let Some(v) = memo[s] {
            return v;
        }
        let svc = &system.services[s];
        // deliver + service done + response, plus a timeout event per call that has one.
        let mut e = 3.0;
        for call in &svc.calls {
            let t = timer_events(&call.policies);
            e += call.probability * (visit(system, call.to, memo) + t);
        }
        memo[s] = Some(e);
        e
    }
    let mut memo = vec![None; system.services.len()];
    (0..system.services.len())
        .map(|s| visit(system, s, &mut memo))
        .collect()
}

/// Timer events a call makes when nothing is retried: one per timeout layer.
fn timer_events(policies: &[crate::model::PolicySpec]) -> f64 {
    policies
        .iter()
        .filter(|p| matches!(p, crate::model::PolicySpec::Timeout { .. }))
        .count() as f64
}

/// Estimates the open-loop event count before running, so that a run that cannot fit its
/// event limit is refused up front rather than stopped part-way.
fn check_event_budget(s: &Scenario) -> Result<(), Problem> {
    let per_service = events_per_request(&s.system);
    let dur_s = s.duration.as_secs_f64();
    let mut total = 0.0;
    for c in &s.system.clients {
        if let Load::Open {
            rate_per_s, steps, ..
        } = &c.load
        {
            // Mean rate over the run, honouring steps.
            let mut arrivals = 0.0;
            let mut t = 0.0;
            let mut rate = *rate_per_s;
            for st in steps {
                let at = st.at.as_secs_f64().min(dur_s);
                arrivals += rate * (at - t);
                t = at;
                rate = st.rate_per_s;
            }
            arrivals += rate * (dur_s - t).max(0.0);
            let per = 1.0 + per_service[c.target] + timer_events(&c.policies);
            total += arrivals * per;
        }
    }
    if total > s.limits.max_events as f64 {
        return Err(Problem {
            path: "limits.max_events".into(),
            line: None,
            col: None,
            message: format!(
                "this run would process up to about {:.3e} events (open-loop arrivals over {} times the events each request causes), more than limits.max_events = {}; raise limits.max_events (or pass --max-events), or shorten the duration",
                total, s.duration, s.limits.max_events
            ),
        });
    }
    Ok(())
}

/// A `contention` form with each parameter in its range (a stretch must never shrink).
fn contention(c: &mut Checker, p: &str, k: RawContention) -> crate::model::sharing::Contention {
    use crate::model::sharing::Contention as K;
    let mut param = |name: &str, v: f64, max: f64| {
        if !(v.is_finite() && (0.0..=max).contains(&v)) {
            c.err(
                format!("{p}.contention.{name}"),
                format!("between 0 and {max}, got {v} (0 means no stretch)"),
            );
        }
    };
    match k {
        RawContention::Linear { per_request } => {
            param("per_request", per_request, 1_000.0);
            K::Linear { per_request }
        }
        RawContention::Polynomial {
            coefficient,
            exponent,
        } => {
            param("coefficient", coefficient, 1_000.0);
            param("exponent", exponent, 10.0);
            K::Polynomial {
                coefficient,
                exponent,
            }
        }
        RawContention::Exponential { per_request } => {
            param("per_request", per_request, 10.0);
            K::Exponential { per_request }
        }
    }
}

/// The queue discipline, with CoDel's RFC 8289 defaults (5 ms target, 100 ms interval).
fn queue(c: &mut Checker, p: &str, s: &RawService) -> crate::model::QueueDiscipline {
    use crate::model::QueueDiscipline as Q;
    let Some(q) = &s.queue else {
        return Q::Fifo;
    };
    if !matches!(q, RawQueue::Fifo) && matches!(s.discipline, RawDiscipline::ProcessorSharing) {
        c.err(
            format!("{p}.queue"),
            "a ProcessorSharing service holds no queue (every request held is in service): remove `queue`, or use `discipline: Dedicated`",
        );
    }
    let qp = format!("{p}.queue");
    match q {
        RawQueue::Fifo => Q::Fifo,
        RawQueue::Lifo => Q::Lifo,
        RawQueue::AdaptiveLifo { after } => Q::AdaptiveLifo {
            after: c
                .positive_duration(&format!("{qp}.after"), after)
                .unwrap_or(SimDuration::from_millis(1)),
        },
        RawQueue::CoDel { target, interval } => {
            let mut d = |name: &str, v: &Option<String>, default_ms: u64| match v {
                Some(t) => c
                    .positive_duration(&format!("{qp}.{name}"), t)
                    .unwrap_or(SimDuration::from_millis(default_ms)),
                None => SimDuration::from_millis(default_ms),
            };
            let (target, interval) = (d("target", target, 5), d("interval", interval, 100));
            if target >= interval {
                c.err(
                    format!("{qp}.target"),
                    format!(
                        "the target delay must be shorter than the interval ({} >= {}); RFC 8289 suggests 5-10% of it",
                        crate::engine::format_duration(target.0),
                        crate::engine::format_duration(interval.0)
                    ),
                );
            }
            Q::CoDel { target, interval }
        }
    }
}

/// The balancer's retries: 2 to 4 attempts in all, on the outcomes listed (default: refused
/// or reset connections, NGINX's `error`).
fn balancer_retry(
    c: &mut Checker,
    p: &str,
    b: &RawBalancerRetry,
    active_passive: bool,
) -> crate::model::BalancerRetry {
    let bp = format!("{p}.balancer_retry");
    if active_passive {
        c.err(
            bp.clone(),
            "an active-passive service is routed to its primary, not balanced: remove `balancer_retry`",
        );
    }
    let tries = c.count(
        &format!("{bp}.tries"),
        Some(b.tries),
        2,
        2,
        4,
        "attempts in all",
    ) as u8;
    let on = b.on.clone().unwrap_or_else(|| vec![RawRetryOn::Refused]);
    if on.is_empty() {
        c.err(
            format!("{bp}.on"),
            "name at least one of Refused, Error, Overloaded (or remove `balancer_retry`)",
        );
    }
    crate::model::BalancerRetry {
        tries,
        on_refused: on.contains(&RawRetryOn::Refused),
        on_error: on.contains(&RawRetryOn::Error),
        on_overloaded: on.contains(&RawRetryOn::Overloaded),
    }
}

/// A heap whose sizes are finite and whose live data at rest leaves room to allocate.
fn gc(c: &mut Checker, p: &str, g: &RawGc) -> crate::model::gc::GcSpec {
    let gp = format!("{p}.gc");
    let mut mb = |name: &str, v: f64, min_exclusive: bool| {
        let ok = v.is_finite() && v <= 1e9 && if min_exclusive { v > 0.0 } else { v >= 0.0 };
        if !ok {
            c.err(
                format!("{gp}.{name}"),
                format!(
                    "megabytes: {} and at most 1e9, got {v}",
                    if min_exclusive {
                        "above 0"
                    } else {
                        "0 or more"
                    }
                ),
            );
        }
        v
    };
    let heap_mb = mb("heap_mb", g.heap_mb, true);
    let allocation_per_request_mb = mb(
        "allocation_per_request_mb",
        g.allocation_per_request_mb,
        true,
    );
    let live_base_mb = mb("live_base_mb", g.live_base_mb.unwrap_or(0.0), false);
    let live_per_request_mb = mb(
        "live_per_request_mb",
        g.live_per_request_mb.unwrap_or(0.0),
        false,
    );
    if live_base_mb >= heap_mb {
        c.err(
            format!("{gp}.live_base_mb"),
            format!("live data at rest ({live_base_mb} MB) must leave room in the heap ({heap_mb} MB): raise heap_mb or lower live_base_mb"),
        );
    }
    let mut d = |name: &str, v: &Option<String>, default: SimDuration| match v {
        Some(t) => c.duration(&format!("{gp}.{name}"), t).unwrap_or(default),
        None => default,
    };
    crate::model::gc::GcSpec {
        heap_mb,
        allocation_per_request_mb,
        live_base_mb,
        live_per_request_mb,
        pause_base: d("pause_base", &g.pause_base, SimDuration::from_millis(5)),
        pause_per_gb: d(
            "pause_per_gb",
            &g.pause_per_gb,
            SimDuration::from_millis(100),
        ),
    }
}
