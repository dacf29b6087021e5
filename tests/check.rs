//! `faultline check`: expectations judged against what the run must show by construction
//! (a service whose every request takes 5 ms has a p99 of at least 5 ms; one that never fails
//! is 100% available; a crash that outlasts the run is in force at the end), exit codes, and
//! the JUnit XML that CI systems read.

use std::process::Command;

fn check(name: &str, text: &str, extra: &[&str]) -> (i32, String, String, std::path::PathBuf) {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("faultline-check-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .arg("check")
        .arg(&path)
        .args(extra)
        .current_dir(&dir)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        dir,
    )
}

/// api (5 ms, never fails) behind one client at a tenth of its capacity; `faults` and
/// `expect` are spliced in.
fn scenario(faults: &str, expect: &str) -> String {
    format!(
        r#"(name: "t", seed: 3, duration: "60s", warmup: "5s",
            clients: [(name: "c", target: "api", load: Open(rate_per_s: 20.0), timeout: "1s")],
            services: [(name: "api", workers: 1, service_time: Constant("5ms"), calls: [(to: "db", timeout: "100ms")]),
                       (name: "db", workers: 4, service_time: Constant("1ms"))],
            faults: [{faults}],
            expect: [{expect}])"#
    )
}

/// Each case: faults, one expectation, whether it must hold, a fragment of the measured value.
#[test]
fn expectations_are_judged_against_what_the_run_must_show() {
    let cases: &[(&str, &str, bool, &str)] = &[
        ("", "Availability(at_least: 0.999)", true, "100.00%"),
        (
            "",
            r#"Availability(at_least: 1.0, service: "db")"#,
            true,
            "100.00%",
        ),
        ("", r#"P99(at_most: "4ms", client: "c")"#, false, "ms"),
        ("", r#"P99(at_most: "50ms", service: "api")"#, true, "ms"),
        ("", r#"P99(at_most: "900us", service: "db")"#, false, "ms"),
        ("", "RetryAmplification(at_most: 1.0)", true, "1.000"),
        ("", "NotMetastable", true, "no trigger"),
        ("", "NoLostWrites", true, "no active-passive service"),
        ("", "NoSplitBrain", true, "no active-passive service"),
        // A baseline expected to fail says at most how much it keeps.
        ("", "Availability(at_most: 0.9)", false, "100.00%"),
        // db hung for the second half of the run: every request fails from then on, 30 of the
        // 55 s measured: about 45% answered.
        (
            r#"(at: "30s", fault: Hang("db"))"#,
            "Availability(at_least: 0.4, at_most: 0.5)",
            true,
            "%",
        ),
        (
            r#"(at: "30s", fault: Hang("db"))"#,
            "Availability(at_most: 0.4)",
            false,
            "%",
        ),
        (
            r#"(at: "30s", fault: Hang("db"))"#,
            "Availability(at_least: 0.9)",
            false,
            "%",
        ),
        (
            r#"(at: "30s", fault: Hang("db"))"#,
            r#"RecoversWithin("10s")"#,
            false,
            "lasts to the end of the run",
        ),
        (
            r#"(at: "30s", fault: Hang("db"))"#,
            "NotMetastable",
            false,
            "lasts to the end of the run",
        ),
        // A 5 s hang: back soon after, never metastable.
        (
            r#"(at: "20s", for: "5s", fault: Hang("db"))"#,
            r#"RecoversWithin("20s")"#,
            true,
            "after the last trigger",
        ),
        (
            r#"(at: "20s", for: "5s", fault: Hang("db"))"#,
            "NotMetastable",
            true,
            "ended recovered",
        ),
        (
            r#"(at: "20s", for: "5s", fault: Hang("db"))"#,
            "Availability(at_least: 0.99, during_faults: true)",
            false,
            "%",
        ),
    ];
    for &(faults, expect, holds, measured) in cases {
        let (code, out, err, _) = check("t.ron", &scenario(faults, expect), &[]);
        let want = if holds { 0 } else { 1 };
        assert_eq!(code, want, "{expect} with [{faults}]:\n{out}{err}");
        let line = out.lines().find(|l| l.contains("expect[0]")).unwrap_or("");
        assert!(
            line.starts_with(if holds { "pass " } else { "FAIL " }),
            "{line}"
        );
        assert!(line.contains(measured), "{measured:?} in {line}");
        assert!(
            out.contains(if holds {
                "1 passed, 0 failed"
            } else {
                "0 passed, 1 failed"
            }),
            "{out}"
        );
    }
}

#[test]
fn p99_and_availability_measured_are_the_summarys() {
    // The measured values are the run's own figures, as summary.json gives them.
    let text = scenario(
        "",
        r#"P99(at_most: "1s", client: "c"), Availability(at_least: 0.5, client: "c")"#,
    );
    let (code, out, err, dir) = check("t.ron", &text, &[]);
    assert_eq!(code, 0, "{out}{err}");
    let run = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["run", "t.ron", "--quiet", "--out", "r"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(run.status.success());
    let s: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("r/summary.json")).unwrap()).unwrap();
    let p99 = s["clients"][0]["latency"]["p99_ms"].as_f64().unwrap();
    // The service time is 5 ms plus the db call's 1 ms: the p99 is at least 6 ms.
    assert!(p99 >= 6.0, "{p99}");
    let line = out.lines().find(|l| l.contains("expect[0]")).unwrap();
    let shown = line
        .rsplit("measured ")
        .next()
        .unwrap()
        .trim_end_matches(')');
    let shown_ms: f64 = shown.trim_end_matches("ms").parse().unwrap();
    assert!((shown_ms - p99).abs() < 0.001, "{line} vs {p99}");
}

#[test]
fn variants_expect_differently_and_each_is_judged() {
    let text = scenario(
        r#"(at: "20s", for: "10s", fault: Hang("db"))"#,
        "Availability(at_least: 0.99)",
    )
    .trim_end_matches(')')
    .to_string()
        + r#", variants: [(name: "as-is"), (name: "lenient", set: {"expect": [Availability(at_least: 0.5)]})])"#;
    let (code, out, err, _) = check("v.ron", &text, &[]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("FAIL ")
                && l.contains("[as-is] expect[0]: availability >= 99.00%")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("pass ")
                && l.contains("[lenient] expect[0]: availability >= 50.00%")),
        "{out}"
    );
}

#[test]
fn exit_codes_and_junit_xml() {
    // Bad input: 2, before anything runs.
    for (expect, fragment) in [
        (
            r#"P99(at_most: "1s", client: "nobody")"#,
            "expect[0].client",
        ),
        (
            r#"P99(at_most: "1s", client: "c", service: "db")"#,
            "not both",
        ),
        (
            r#"Availability(at_least: 0.9, during_faults: true, service: "db")"#,
            "expect[0].during_faults",
        ),
        ("RetryAmplification(at_most: 0.5)", "at least 1"),
        ("Availability()", "give `at_least`"),
        (
            "Availability(at_least: 0.9, at_most: 0.5)",
            "expect[0].at_most",
        ),
        (r#"RecoversWithin(10)"#, "expect[0]"),
    ] {
        let (code, _, err, _) = check("bad.ron", &scenario("", expect), &[]);
        assert_eq!(code, 2, "{expect}: {err}");
        assert!(err.contains(fragment), "{fragment:?} in {err}");
    }
    // A limit: 3.
    let limited = scenario("", "NotMetastable")
        .replace("seed: 3,", "seed: 3, limits: (max_live_requests: 3),");
    let (code, _, err, _) = check("lim.ron", &limited, &[]);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("max_live_requests"), "{err}");
    // JUnit: one testcase per expectation, a failure element for each that fails, counts that
    // add up, names and messages escaped.
    let text = scenario(
        "",
        r#"P99(at_most: "4ms", client: "c"), Availability(at_least: 0.5)"#,
    );
    let (code, out, _, dir) = check("j.ron", &text, &["--junit", "out.xml"]);
    assert_eq!(code, 1, "{out}");
    let xml = std::fs::read_to_string(dir.join("out.xml")).unwrap();
    assert!(
        xml.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites "),
        "{xml}"
    );
    assert!(xml.contains(r#"tests="2" failures="1""#), "{xml}");
    assert_eq!(xml.matches("<testsuite ").count(), 1, "{xml}");
    assert_eq!(xml.matches("<testcase ").count(), 2, "{xml}");
    assert_eq!(xml.matches("<failure ").count(), 1, "{xml}");
    assert!(xml.contains("p99 &lt;= 4ms (client c)"), "{xml}");
    assert!(
        xml.contains(r#"classname=""#) && xml.contains("<failure message=\"measured "),
        "{xml}"
    );
    assert!(
        !xml.contains("<=") && !xml.contains(">="),
        "unescaped: {xml}"
    );
    assert_eq!(
        xml.matches("<testsuite ").count(),
        xml.matches("</testsuite>").count()
    );
    assert!(xml.trim_end().ends_with("</testsuites>"));
    junit_schema(&xml);
    // The shipped scenarios' report too: many files, both outcomes' shapes.
    let root = env!("CARGO_MANIFEST_DIR");
    let o = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(["check", "--junit", "all.xml"])
        .arg(format!("{root}/scenarios/breaker.ron"))
        .arg(format!("{root}/scenarios/metastable_retries.ron"))
        .current_dir(&dir)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    junit_schema(&std::fs::read_to_string(dir.join("all.xml")).unwrap());
}

/// Checks `xml` against what the JUnit schema CI systems read (Jenkins' junit-4.xsd) requires,
/// with a parser of its own: well-formed (every element closed in order, attribute values
/// quoted with no raw `<` or stray `&`), `testsuites` holding only `testsuite`, a testsuite
/// holding `testcase`s (and optional properties and output), a testcase holding at most
/// `failure`, `error`, `skipped` and output; required attributes (testsuite: name and tests;
/// testcase: name), counts that are whole numbers and agree with the elements.
fn junit_schema(xml: &str) {
    let body = xml
        .strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>")
        .expect("an XML declaration");
    let allowed: &[(&str, &[&str])] = &[
        ("", &["testsuites", "testsuite"]),
        ("testsuites", &["testsuite"]),
        (
            "testsuite",
            &["properties", "testcase", "system-out", "system-err"],
        ),
        (
            "testcase",
            &["failure", "error", "skipped", "system-out", "system-err"],
        ),
        ("failure", &[]),
    ];
    let required: &[(&str, &[&str])] =
        &[("testsuite", &["name", "tests"]), ("testcase", &["name"])];
    let counted = ["tests", "failures", "errors", "skipped"];
    // Per open testsuite: (tests, failures) claimed, and testcases and failures seen.
    let mut suites: Vec<([Option<u64>; 2], [u64; 2])> = Vec::new();
    let mut stack: Vec<String> = Vec::new();
    let mut rest = body;
    while let Some(i) = rest.find('<') {
        assert!(
            rest[..i].trim().is_empty(),
            "text outside elements: {:?}",
            &rest[..i]
        );
        let j = rest[i..].find('>').expect("a tag closed") + i;
        let tag = &rest[i + 1..j];
        rest = &rest[j + 1..];
        if let Some(name) = tag.strip_prefix('/') {
            assert_eq!(stack.pop().as_deref(), Some(name), "closed out of order");
            if name == "testsuite" {
                let (claimed, seen) = suites.pop().unwrap();
                assert_eq!(claimed[0], Some(seen[0]), "tests= against testcases");
                assert_eq!(
                    claimed[1].unwrap_or(0),
                    seen[1],
                    "failures= against failures"
                );
            }
            continue;
        }
        let selfclose = tag.ends_with('/');
        let tag = tag.trim_end_matches('/');
        let name = tag.split_whitespace().next().unwrap();
        let parent = stack.last().map_or("", |s| s.as_str());
        let ok = allowed
            .iter()
            .find(|(p, _)| *p == parent)
            .is_some_and(|(_, kids)| kids.contains(&name));
        assert!(ok, "<{name}> inside <{parent}>");
        // Attributes: name="value" pairs, values escaped.
        let mut attrs = Vec::new();
        let mut a = tag[name.len()..].trim_start();
        while !a.is_empty() {
            let eq = a.find("=\"").expect("attribute=\"value\"");
            let key = &a[..eq];
            let end = a[eq + 2..].find('"').expect("a closing quote") + eq + 2;
            let value = &a[eq + 2..end];
            assert!(!value.contains('<'), "raw < in {key}");
            for (k, _) in value.match_indices('&') {
                let entity = &value[k..];
                assert!(
                    ["&amp;", "&lt;", "&gt;", "&quot;", "&apos;"]
                        .iter()
                        .any(|e| entity.starts_with(e)),
                    "stray & in {key}: {value}"
                );
            }
            if counted.contains(&key) {
                assert!(value.parse::<u64>().is_ok(), "{key}=\"{value}\"");
            }
            attrs.push((key, value));
            a = a[end + 1..].trim_start();
        }
        for (el, keys) in required {
            if *el == name {
                for k in *keys {
                    assert!(
                        attrs.iter().any(|(x, v)| x == k && !v.is_empty()),
                        "<{name}> needs {k}"
                    );
                }
            }
        }
        let get = |k: &str| {
            attrs
                .iter()
                .find(|(x, _)| *x == k)
                .and_then(|(_, v)| v.parse().ok())
        };
        match name {
            "testsuite" => suites.push(([get("tests"), get("failures")], [0, 0])),
            "testcase" => suites.last_mut().expect("in a testsuite").1[0] += 1,
            "failure" => suites.last_mut().expect("in a testsuite").1[1] += 1,
            _ => {}
        }
        if !selfclose {
            stack.push(name.to_string());
        }
    }
    assert!(
        rest.trim().is_empty() && stack.is_empty(),
        "unclosed: {stack:?}"
    );
}

/// The shipped scenarios' expectations hold (CI runs the same command), and the two that state
/// a collapse and its fix judge both variants.
#[test]
fn shipped_scenarios_keep_their_claims() {
    let root = env!("CARGO_MANIFEST_DIR");
    let files: Vec<std::path::PathBuf> = std::fs::read_dir(format!("{root}/scenarios"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "ron"))
        .collect();
    let out = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .arg("check")
        .args(&files)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("[no-budget] expect[0]: metastable"),
        "{stdout}"
    );
    assert!(
        stdout.contains("[budget] expect[0]: not metastable"),
        "{stdout}"
    );
    assert!(
        stdout.contains("[fail-fast] expect[1]: p99 <= 600ms"),
        "{stdout}"
    );
    assert!(!stdout.contains("FAIL "), "{stdout}");
}

#[test]
fn the_junit_check_refuses_what_the_schema_refuses() {
    let head = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    let good = "<testsuites><testsuite name=\"f\" tests=\"1\" failures=\"1\"><testcase name=\"a\"><failure message=\"m\"/></testcase></testsuite></testsuites>";
    junit_schema(&format!("{head}{good}"));
    for bad in [
        good.replace(" name=\"f\"", ""), // a testsuite without its name
        good.replace("tests=\"1\"", "tests=\"2\""), // a count that disagrees
        good.replace("failures=\"1\"", "failures=\"0\""), // failures that disagree
        good.replace("message=\"m\"", "message=\"a<b\""), // a raw <
        good.replace("message=\"m\"", "message=\"a&b\""), // a stray &
        good.replace("</testcase></testsuite>", "</testsuite></testcase>"), // out of order
        good.replace(
            "<testcase name=\"a\">",
            "<testcase name=\"a\"><testsuite name=\"x\" tests=\"0\"/>",
        ), // misplaced
    ] {
        let doc = format!("{head}{bad}");
        assert!(
            std::panic::catch_unwind(|| junit_schema(&doc)).is_err(),
            "accepted: {bad}"
        );
    }
}

/// The shipped scenarios' claims have teeth: with the mitigation each one credits taken away,
/// the claim made for it fails. Each case: file, text replaced, its replacement, and the start
/// of the line that must now read FAIL.
#[test]
fn shipped_claims_fail_without_what_they_credit() {
    let cases: &[(&str, &str, &str, &str)] = &[
        // Without readiness probes a third of the requests fail for the whole 30 s.
        (
            "crash_failover.ron",
            "            health: (readiness: Kubernetes(period: \"2s\", failure_threshold: 2)),\n",
            "",
            "FAIL crash_failover.ron [base] expect[0]: availability >= 98.00%",
        ),
        // 30 connections, not 15: the contention keeps the pools full.
        (
            "pool_contention.ron",
            "\"services.api.calls.db.connections\": 15",
            "\"services.api.calls.db.connections\": 30",
            "FAIL pool_contention.ron [pool-15] expect[0]: not metastable",
        ),
        // No spare capacity: the warm pool is the slow autoscaler again.
        (
            "autoscaler_too_slow.ron",
            "\"services.api.replicas\": 5, \"services.api.autoscale.min_replicas\": 5",
            "\"services.api.replicas\": 3",
            "FAIL autoscaler_too_slow.ron [warm-pool] expect[0]: availability >= 99.90%",
        ),
        // Full jitter with no jitter: the waves come back.
        (
            "reconnect_herd.ron",
            "jitter: Full",
            "jitter: None",
            "FAIL reconnect_herd.ron [full-jitter] expect[0]: recovers within 1s",
        ),
    ];
    let root = env!("CARGO_MANIFEST_DIR");
    for &(file, from, to, fail) in cases {
        let text = std::fs::read_to_string(format!("{root}/scenarios/{file}")).unwrap();
        assert!(text.contains(from), "{file}: {from}");
        let (code, out, err, _) = check(file, &text.replace(from, to), &[]);
        assert_eq!(code, 1, "{file}:\n{out}{err}");
        assert!(
            out.lines().any(|l| l.starts_with("FAIL ")
                && l.replace(&format!("{}/", dir_of(l)), "").starts_with(fail)),
            "{fail:?} in\n{out}"
        );
    }
}

/// The directory part of the file a check line names (everything before the file's name).
fn dir_of(line: &str) -> String {
    let path = line.split_whitespace().nth(1).unwrap_or("");
    path.rsplit_once('/')
        .map(|(d, _)| d.to_string())
        .unwrap_or_default()
}
