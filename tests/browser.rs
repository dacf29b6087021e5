//! The report in a real browser: headless Chromium opens `index.html` from disk, every plot must
//! be laid out at a readable size with its text, and the page may fetch nothing (the browser's
//! Performance API lists every resource a document loads).
//!
//! `.ci/run` installs Debian's chromium and sets FAULTLINE_BROWSER_TEST=1, which makes a missing
//! browser a failure; elsewhere the test says it was skipped (set FAULTLINE_CHROMIUM to use
//! another binary).

use std::path::PathBuf;
use std::process::Command;

fn chromium() -> Option<PathBuf> {
    let candidates = [
        std::env::var("FAULTLINE_CHROMIUM").ok(),
        Some("/usr/bin/chromium".to_string()),
        Some("/usr/bin/chromium-browser".to_string()),
    ];
    candidates
        .into_iter()
        .flatten()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

const CHECK_PAGE: &str = r#"<!DOCTYPE html><html><body>
<iframe id="f" src="index.html" style="width:1100px;height:900px"></iframe>
<script>
document.getElementById('f').onload = function () {
  var d = this.contentDocument;
  var svgs = d.querySelectorAll('figure svg');
  var shown = 0;
  for (var i = 0; i < svgs.length; i++) {
    var r = svgs[i].getBoundingClientRect();
    var texts = svgs[i].querySelectorAll('text').length;
    if (r.width > 300 && r.height > 150 && texts > 3) shown++;
  }
  // Everything the report's document fetched (images, styles, fonts, scripts): nothing at all
  // is expected, since styles and plots are inline.
  var fetched = d.defaultView.performance.getEntriesByType('resource').map(function (e) { return e.name; });
  var out = document.createElement('pre');
  out.id = 'result';
  out.textContent = 'RES' + 'ULT svgs=' + svgs.length + ' shown=' + shown + ' h1=' +
    (d.querySelector('h1') || {}).textContent + ' tables=' + d.querySelectorAll('table').length + ' fetched=[' + fetched.join(' ') + '] E' + 'ND';
  document.body.appendChild(out);
};
</script></body></html>"#;

/// Opens DIR/index.html through the check page in headless Chromium; returns the check's
/// result line, or None when there is no browser here and none is required.
fn check_in_browser(dir: &std::path::Path) -> Option<String> {
    let required = std::env::var("FAULTLINE_BROWSER_TEST").is_ok_and(|v| v == "1");
    let Some(browser) = chromium() else {
        assert!(
            !required,
            "FAULTLINE_BROWSER_TEST=1 but no chromium was found (apt-get install chromium)"
        );
        eprintln!("SKIPPED: no chromium on this machine (.ci/run installs it)");
        return None;
    };
    std::fs::write(dir.join("check.html"), CHECK_PAGE).unwrap();
    let profile = dir.join("profile");
    let page = format!("file://{}", dir.join("check.html").display());
    let out = Command::new(&browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--allow-file-access-from-files",
            "--virtual-time-budget=10000",
            "--window-size=1200,1000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(&page)
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&out.stdout);
    let result = dom
        .split("RESULT ")
        .nth(1)
        .and_then(|r| r.split(" END").next())
        .unwrap_or_else(|| {
            panic!(
                "the check page produced no result; chromium said:\n{}",
                String::from_utf8_lossy(&out.stderr)
            )
        });
    Some(result.to_string())
}

fn faultline(args: &[&str], out: &std::path::Path) {
    let o = Command::new(env!("CARGO_BIN_EXE_faultline"))
        .args(args)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn tmp(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("faultline-browser-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn the_report_renders_in_chromium_and_fetches_nothing() {
    let dir = tmp("report");
    faultline(&["run", "scenarios/quickstart.ron", "--quiet"], &dir);
    let plots = std::fs::read_dir(dir.join("plots")).unwrap().count();
    let Some(result) = check_in_browser(&dir) else {
        return;
    };
    assert!(
        result.contains(&format!("svgs={plots} ")),
        "{result} (plots/ has {plots})"
    );
    assert!(
        result.contains(&format!("shown={plots} ")),
        "every plot displayed: {result}"
    );
    assert!(result.contains("h1=quickstart"), "{result}");
    assert!(
        result.contains("fetched=[]"),
        "the report fetched something: {result}"
    );
}

#[test]
fn the_sweep_page_renders_in_chromium_and_fetches_nothing() {
    let dir = tmp("sweep");
    faultline(
        &[
            "sweep",
            "scenarios/metastable_retries.ron",
            "--set",
            "clients.shoppers.load.rate_per_s=200..=300:50",
            "--set",
            "clients.shoppers.policies[0].max_attempts=1,3",
            "--seeds",
            "1,2",
            "-q",
        ],
        &dir,
    );
    let Some(result) = check_in_browser(&dir) else {
        return;
    };
    // The heatmap and one plot per metric, each laid out with its text.
    let plots = faultline::sweep::METRICS.len() + 1;
    assert!(
        result.contains(&format!("svgs={plots} shown={plots} ")),
        "{result}"
    );
    assert!(result.contains("h1=Sweep: metastable_retries"), "{result}");
    assert!(
        result.contains("fetched=[]"),
        "the page fetched something: {result}"
    );
}
