//! Validation of a service's `endpoints` (request types: share, service time, calls, kind,
//! priority) and of every `endpoint` name a client, a call or an endpoint's call gives for its
//! callee.
//!
//! It knows the raw schema and the typed endpoints (`model::spec::EndpointSpec`); how a request
//! gets its endpoint and what the endpoint changes is the model's business. Names of a callee's
//! endpoints are resolved against the raw services, so a service may name the endpoints of one
//! listed after it.

use super::check::{call_of, unknown_name, Checker};
use super::raw::{RawEndpointKind, RawReads, RawService};
use crate::model::spec::{CallSpec, EndpointCall, EndpointSpec, ANY_ENDPOINT};
use crate::model::Dist;

/// A service may have at most this many endpoints (an endpoint index is a byte, one value of
/// which means "none named").
pub(super) const MAX_ENDPOINTS: usize = 64;

/// Priorities run from 0 (the default, the lowest) to this.
const MAX_PRIORITY: i64 = 9;

/// How far the shares' sum may be from 1 (they are written in decimal).
const SHARE_TOLERANCE: f64 = 1e-6;

/// The index of endpoint `name` of service `to` (for a field at `path`), or an error naming
/// the endpoints it has.
pub(super) fn endpoint_index(
    c: &mut Checker,
    path: &str,
    services: &[RawService],
    to: usize,
    name: &Option<String>,
) -> u8 {
    let Some(name) = name else {
        return ANY_ENDPOINT;
    };
    let callee = &services[to];
    let names: Vec<&str> = callee.endpoints.iter().map(|e| e.name.as_str()).collect();
    if names.is_empty() {
        c.err(
            path,
            format!(
                "service `{}` has no endpoints: give it `endpoints: [(name: \"{name}\", ...)]`, or remove `endpoint`",
                callee.name
            ),
        );
        return ANY_ENDPOINT;
    }
    match names.iter().position(|n| *n == name) {
        Some(i) if i < MAX_ENDPOINTS => i as u8,
        _ => {
            c.err(
                path,
                unknown_name(&format!("endpoint of `{}`", callee.name), name, &names),
            );
            ANY_ENDPOINT
        }
    }
}

/// The endpoints of service `s` at path `p`, whose edges are `calls` (validated, in the order
/// of `s.calls`; a call whose target was unknown is missing, so `calls` is matched by name).
pub(super) fn endpoints(
    c: &mut Checker,
    p: &str,
    s: &RawService,
    services: &[RawService],
    service_time: &Option<Dist>,
    calls: &[CallSpec],
) -> Vec<EndpointSpec> {
    if s.endpoints.is_empty() {
        if let Some(RawReads::Standbys { .. }) =
            s.active_passive.as_ref().and_then(|a| a.reads.as_ref())
        {
            c.err(
                format!("{p}.active_passive.reads"),
                "reads at standbys need to know which requests read: give the service endpoints with `kind: Read` and `kind: Write`",
            );
        }
        return Vec::new();
    }
    let ep = format!("{p}.endpoints");
    if s.endpoints.len() > MAX_ENDPOINTS {
        c.err(
            ep.clone(),
            format!(
                "a service may have at most {MAX_ENDPOINTS} endpoints, this one lists {}",
                s.endpoints.len()
            ),
        );
        return Vec::new();
    }
    let given = s.endpoints.iter().filter(|e| e.share.is_some()).count();
    if given != 0 && given != s.endpoints.len() {
        c.err(
            ep.clone(),
            "give every endpoint a `share`, or none (then they share equally)",
        );
    }
    let equal = 1.0 / s.endpoints.len() as f64;
    let mut out = Vec::with_capacity(s.endpoints.len());
    let mut sum = 0.0;
    for (i, e) in s.endpoints.iter().enumerate() {
        let p = format!("{ep}[{i}]");
        if e.name.trim().is_empty() {
            c.err(format!("{p}.name"), "an endpoint needs a name");
        }
        if s.endpoints[..i].iter().any(|o| o.name == e.name) {
            c.err(
                format!("{p}.name"),
                format!("two endpoints of `{}` are named `{}`", s.name, e.name),
            );
        }
        let share = match e.share {
            Some(x) if x.is_finite() && (0.0..=1.0).contains(&x) => x,
            Some(x) => {
                c.err(
                    format!("{p}.share"),
                    format!("a share of the service's requests: between 0 and 1, got {x}"),
                );
                0.0
            }
            None => equal,
        };
        sum += share;
        let st = match &e.service_time {
            Some(d) => c.dist(&format!("{p}.service_time"), d, 0),
            None => service_time.clone(),
        };
        let my_calls = match &e.calls {
            // Every call of the service, as a service without endpoints makes them.
            None => calls
                .iter()
                .enumerate()
                .map(|(j, k)| EndpointCall {
                    call: j as u16,
                    probability: k.probability,
                    endpoint: k.endpoint,
                })
                .collect(),
            Some(list) => {
                let mut v = Vec::with_capacity(list.len());
                for (j, k) in list.iter().enumerate() {
                    let kp = format!("{p}.calls[{j}]");
                    let probability =
                        c.probability(&format!("{kp}.probability"), k.probability.unwrap_or(1.0));
                    // The edge: the service's call to that name (`name#n` when it has several).
                    let callees: Vec<&str> = s.calls.iter().map(|rc| rc.to.as_str()).collect();
                    let call = match call_of(&callees, &k.to, &s.name, "") {
                        Ok(call) => Some(call),
                        Err(Some(why)) => {
                            c.err(format!("{kp}.to"), why);
                            continue;
                        }
                        Err(None) => None,
                    };
                    let Some(call) = call else {
                        let known: Vec<&str> = s.calls.iter().map(|rc| rc.to.as_str()).collect();
                        let hint = if known.is_empty() {
                            format!(
                                "`{}` makes no calls: add (to: \"{}\") to its `calls` (the edge, with its policies), then name it here",
                                s.name, k.to
                            )
                        } else {
                            format!(
                                "{}; an endpoint calls through one of its service's `calls` (the edge, with its policies)",
                                unknown_name(&format!("call of `{}`", s.name), &k.to, &known)
                            )
                        };
                        c.err(format!("{kp}.to"), hint);
                        continue;
                    };
                    if matches!(s.fan_out, super::raw::RawFanOut::Parallel)
                        && list[..j]
                            .iter()
                            .any(|o| call_of(&callees, &o.to, &s.name, "") == Ok(call))
                    {
                        c.err(
                            format!("{kp}.to"),
                            format!("under `fan_out: Parallel` an endpoint makes each call once, and `{}` is listed twice", k.to),
                        );
                    }
                    if calls.len() != s.calls.len() {
                        continue; // a call's target was unknown: reported at the call
                    }
                    let edge = &calls[call];
                    let endpoint = match &k.endpoint {
                        Some(_) => endpoint_index(
                            c,
                            &format!("{kp}.endpoint"),
                            services,
                            edge.to,
                            &k.endpoint,
                        ),
                        None => edge.endpoint,
                    };
                    v.push(EndpointCall {
                        call: call as u16,
                        probability,
                        endpoint,
                    });
                }
                v
            }
        };
        let priority = c.count(
            &format!("{p}.priority"),
            e.priority,
            0,
            0,
            MAX_PRIORITY,
            "priority",
        ) as u8;
        out.push(EndpointSpec {
            name: e.name.clone(),
            share,
            service_time: st.unwrap_or(Dist::constant_ns(0)),
            calls: my_calls,
            write: e.kind == Some(RawEndpointKind::Write),
            priority,
        });
    }
    if (sum - 1.0).abs() > SHARE_TOLERANCE {
        c.err(
            ep.clone(),
            format!("the endpoints' shares sum to {sum}; they must sum to 1 (or leave every share out for equal shares)"),
        );
    }
    if let Some(a) = &s.active_passive {
        if a.write_fraction.is_some() {
            c.err(
                format!("{p}.active_passive.write_fraction"),
                "with endpoints, each endpoint's `kind` (Read or Write) says which requests write: remove `write_fraction`",
            );
        }
    }
    let prioritised = out.iter().any(|e| e.priority != out[0].priority);
    if prioritised {
        if matches!(s.discipline, super::raw::RawDiscipline::ProcessorSharing) {
            c.err(
                format!("{ep}[0].priority"),
                "priorities order a queue, and processor sharing has none: remove the priorities or `discipline: ProcessorSharing`",
            );
        }
        if !matches!(s.queue, None | Some(super::raw::RawQueue::Fifo)) {
            c.err(
                format!("{p}.queue"),
                "with priorities a replica serves the highest priority first, oldest first within it: remove `queue` (or the endpoints' priorities)",
            );
        }
    }
    out
}
