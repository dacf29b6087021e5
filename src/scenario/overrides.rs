//! Field overrides: a scenario's text with some values replaced, for variants (`variants:` in
//! the file) and, later, sweeps. A path names a field the way validation messages do, with
//! names allowed in place of indices: `services.db.workers`, `services[3].workers`,
//! `clients.shoppers.load.rate_per_s`, `services.gateway.calls.storefront.timeout` (a call is
//! named by its callee), `services.api.endpoints.checkout.priority`.
//!
//! Overrides work on the text, not on parsed values: the value is spliced in where the old one
//! was (or added to its struct when the file left it at its default), and the result goes
//! through the normal parser and validation, so an override is checked exactly like the file.

use super::raw::RawScenario;
use super::spans::SpanIndex;

/// Turns `services.db.calls.cache.timeout` into `services[6].calls[0].timeout`.
pub fn resolve(raw: &RawScenario, path: &str) -> Result<String, String> {
    let mut out = String::new();
    let segs = split(path)?;
    let mut i = 0;
    // Which list the previous segment opened, and within which service (for calls).
    let mut service: Option<usize> = None;
    while i < segs.len() {
        let seg = &segs[i];
        if !out.is_empty() {
            out.push('.');
        }
        out.push_str(&seg.name);
        let list: Option<Vec<String>> = match (out.as_str(), seg.name.as_str()) {
            ("clients", _) => Some(raw.clients.iter().map(|c| c.name.clone()).collect()),
            ("services", _) => Some(raw.services.iter().map(|s| s.name.clone()).collect()),
            // A service's own calls (an endpoint's calls are named by index).
            (o, "calls") if service.is_some_and(|k| o == format!("services[{k}].calls")) => Some(
                raw.services[service.expect("checked")]
                    .calls
                    .iter()
                    .map(|c| c.to.clone())
                    .collect(),
            ),
            (_, "endpoints") if service.is_some() => Some(
                raw.services[service.expect("checked")]
                    .endpoints
                    .iter()
                    .map(|e| e.name.clone())
                    .collect(),
            ),
            _ => None,
        };
        if let Some(idx) = seg.index {
            out.push_str(&format!("[{idx}]"));
            if out.starts_with("services[") && seg.name == "services" {
                service = Some(idx);
            }
            i += 1;
            continue;
        }
        if let Some(names) = list {
            let Some(next) = segs.get(i + 1) else {
                return Err(format!(
                    "`{path}`: `{}` is a list; name one of its entries ({})",
                    seg.name,
                    names.join(", ")
                ));
            };
            let k = names.iter().position(|n| *n == next.name).ok_or_else(|| {
                format!(
                    "`{path}`: there is no {} named `{}` (there are: {})",
                    singular(&seg.name),
                    next.name,
                    names.join(", ")
                )
            })?;
            if names.iter().filter(|n| **n == next.name).count() > 1 {
                return Err(format!(
                    "`{path}`: more than one {} is named `{}`; use an index such as `{}[{k}]`",
                    singular(&seg.name),
                    next.name,
                    seg.name
                ));
            }
            out.push_str(&format!("[{k}]"));
            if seg.name == "services" && service.is_none() {
                service = Some(k);
            }
            if let Some(idx) = next.index {
                out.push_str(&format!("[{idx}]"));
            }
            i += 2;
            continue;
        }
        i += 1;
    }
    Ok(out)
}

fn singular(list: &str) -> &str {
    match list {
        "clients" => "client",
        "services" => "service",
        "calls" => "call",
        "endpoints" => "endpoint",
        other => other,
    }
}

struct Seg {
    name: String,
    index: Option<usize>,
}

fn split(path: &str) -> Result<Vec<Seg>, String> {
    if path.is_empty() {
        return Err("an empty field path".into());
    }
    path.split('.')
        .map(|part| {
            let (name, index) = match part.find('[') {
                Some(b) if part.ends_with(']') => {
                    let idx = part[b + 1..part.len() - 1].parse::<usize>().map_err(|_| {
                        format!("`{path}`: `{part}` has an index that is not a number")
                    })?;
                    (&part[..b], Some(idx))
                }
                Some(_) => return Err(format!("`{path}`: `{part}` has an unclosed `[`")),
                None => (part, None),
            };
            if name.is_empty() {
                return Err(format!("`{path}`: an empty field name"));
            }
            Ok(Seg {
                name: name.to_string(),
                index,
            })
        })
        .collect()
}

/// Applies `(path, value text)` overrides to `text`. Paths must already be resolved to
/// indices ([`resolve`]).
pub fn apply(text: &str, overrides: &[(String, String)]) -> Result<String, String> {
    let spans = SpanIndex::build(text);
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    for (path, value) in overrides {
        if let Some((a, b)) = spans.range(path) {
            edits.push((a, b, value.clone()));
            continue;
        }
        // Not in the file: add it to its struct, if that is there.
        let (parent, field) = match path.rfind('.') {
            Some(k) => (&path[..k], &path[k + 1..]),
            None => ("", path.as_str()),
        };
        if field.contains('[') {
            return Err(format!(
                "`{path}`: the file has no such list entry (overrides replace values; they do not add entries to lists)"
            ));
        }
        let Some((a, b)) = spans.range(parent) else {
            return Err(format!(
                "`{path}`: `{parent}` is not written in the file, so there is nothing to put `{field}` in; add `{parent}` to the scenario first"
            ));
        };
        let body = &text[a..b];
        let Some(open) = body.find('(') else {
            return Err(format!(
                "`{path}`: `{parent}` is not a struct with fields, so it has no `{field}`"
            ));
        };
        let at = a + open + 1;
        edits.push((at, at, format!("{field}: {value}, ")));
    }
    edits.sort_by_key(|e| std::cmp::Reverse(e.0));
    for w in edits.windows(2) {
        if w[1].1 > w[0].0 {
            return Err("two overrides change the same value (one path contains the other)".into());
        }
    }
    let mut out = text.to_string();
    for (a, b, v) in edits {
        out.replace_range(a..b, &v);
    }
    Ok(out)
}

/// The file's text with its `variants` section taken out, so that a variant's own text does
/// not define variants again.
pub fn without_variants(text: &str) -> String {
    let spans = SpanIndex::build(text);
    match spans.range("variants") {
        Some((a, b)) => {
            let mut out = text.to_string();
            out.replace_range(a..b, "[]");
            out
        }
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"(
    name: "x",
    clients: [(name: "web", target: "api", load: Open(rate_per_s: 10.0))],
    services: [
        (name: "api", service_time: Constant("1ms"), calls: [(to: "db")],
         endpoints: [(name: "view"), (name: "buy", calls: [(to: "db")])]),
        (name: "db", service_time: Exponential(mean: "2ms"), workers: 2),
    ],
)"#;

    fn raw() -> RawScenario {
        super::super::parse(TEXT).expect("test scenario parses")
    }

    #[test]
    fn names_resolve_to_indices() {
        let r = raw();
        let cases = [
            ("services.db.workers", "services[1].workers"),
            ("services[1].workers", "services[1].workers"),
            ("clients.web.load.rate_per_s", "clients[0].load.rate_per_s"),
            (
                "services.api.calls.db.timeout",
                "services[0].calls[0].timeout",
            ),
            (
                "services.api.endpoints.buy.priority",
                "services[0].endpoints[1].priority",
            ),
            (
                "services.api.endpoints.buy.calls[0].probability",
                "services[0].endpoints[1].calls[0].probability",
            ),
            ("duration", "duration"),
        ];
        for (path, want) in cases {
            assert_eq!(resolve(&r, path).as_deref(), Ok(want), "{path}");
        }
        assert!(resolve(&r, "services.nope.workers")
            .unwrap_err()
            .contains("api, db"));
        assert!(resolve(&r, "services").unwrap_err().contains("name one"));
    }

    #[test]
    fn values_are_replaced_or_added() {
        let out = apply(
            TEXT,
            &[
                ("services[1].workers".into(), "8".into()),
                (
                    "services[0].service_time".into(),
                    "Constant(\"3ms\")".into(),
                ),
                ("clients[0].load.rate_per_s".into(), "20.0".into()),
                ("services[0].calls[0].timeout".into(), "\"50ms\"".into()),
            ],
        )
        .unwrap();
        assert!(out.contains("workers: 8"), "{out}");
        assert!(out.contains("service_time: Constant(\"3ms\")"), "{out}");
        assert!(out.contains("Open(rate_per_s: 20.0)"), "{out}");
        assert!(out.contains("(timeout: \"50ms\", to: \"db\")"), "{out}");
        assert!(apply(TEXT, &[("links[0].latency".into(), "1".into())]).is_err());
    }
}
