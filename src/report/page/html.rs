//! `index.html`: one self-contained file (styles, plots and a few lines of script inline;
//! nothing fetched, it works from disk and prints). Answers first, then what happened, the
//! services, and the plots grouped by question; variants as tabs (pure CSS: a radio button
//! per variant), all shown when printed. Pointing at a time plot shows every series' value in
//! that window, and one cursor runs through all the time plots.

use super::text::{differences, endpoints, headline_rows, meta, services, verdict};
use super::{Plot, GROUPS};
use crate::report::Analysed;
use crate::scenario::Scenario;
use std::fmt::Write as _;

pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

pub(crate) const CSS: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{margin-top:1.6em;border-bottom:1px solid #ddd;padding-bottom:.2em}
table{border-collapse:collapse;margin:.6em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right;white-space:nowrap}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
.meta{color:#555}.meta code{font-size:.9em}.flag{color:#b00;font-weight:bold}
.scroll{overflow-x:auto;max-width:100%}
figure{margin:1.2em 0;position:relative}figure svg{max-width:100%;height:auto;border:1px solid #eee}
figcaption{color:#555;font-size:.9em}ul.chain li{margin:.15em 0}pre{background:#f7f7f7;padding:.6em;overflow-x:auto}
pre.wrap{white-space:pre-wrap;overflow-wrap:break-word}th.w{white-space:normal;min-width:4em}td.long{white-space:normal;min-width:14em;max-width:26em;text-align:left}@media print{.scroll{overflow:visible}}
.question{color:#555;font-style:italic}";

/// The tabs' and the hover's styles (variant tabs: a radio button per variant).
fn tab_css() -> String {
    let mut o = String::from(
        ".tabs{margin:.6em 0}.tabs>input{position:absolute;opacity:0;pointer-events:none}
.tabs>label{display:inline-block;padding:.25em .8em;margin:0 .2em 0 0;border:1px solid #ccc;border-bottom:none;border-radius:4px 4px 0 0;background:#f3f3f3;cursor:pointer}
.tabs>input:checked+label{background:#fff;font-weight:bold}
.tabs>input:focus-visible+label{outline:2px solid #0072b2}
.tabs>.panel{display:none;border-top:1px solid #ccc;padding-top:.4em}
.cursor{position:absolute;width:1px;background:#444;display:none;pointer-events:none}
.tip{position:absolute;display:none;background:#fff;border:1px solid #999;padding:.3em .5em;font-size:.85em;white-space:pre;pointer-events:none;box-shadow:0 1px 4px rgba(0,0,0,.2);z-index:10}
@media print{.tabs>input,.tabs>label{display:none}.tabs>.panel{display:block!important}.panel::before{content:attr(data-label);font-weight:bold;display:block;margin-top:.6em}figure{break-inside:avoid}.tip,.cursor{display:none!important}}
",
    );
    for k in 1..=crate::scenario::MAX_VARIANTS {
        let _ = writeln!(
            o,
            ".tabs>input:nth-of-type({k}):checked~.panel:nth-of-type({k}){{display:block}}"
        );
    }
    o
}

/// Pointing at a time plot: the values of its series in that window, and a cursor at that
/// time across every time plot on the page. Plots carry their time axis in pixels
/// (`data-x0`, `data-x1`, `data-t1` on the SVG) and their values as JSON beside it.
const SCRIPT: &str = r#"(function(){
var tip=document.createElement('div');tip.className='tip';document.body.appendChild(tip);
var figs=[].slice.call(document.querySelectorAll('figure.hover'));
function fmt(v){return v===null?'-':Math.abs(v)>=100?v.toFixed(0):Math.abs(v)>=1?v.toFixed(1):v.toPrecision(2);}
function hide(){tip.style.display='none';figs.forEach(function(f){f.c.style.display='none';});}
function show(t,src,e){
 figs.forEach(function(f){var s=f.s,r=s.getBoundingClientRect(),fr=f.getBoundingClientRect();
  if(f.d.cdf||!r.width||t>f.t1){f.c.style.display='none';return;}
  var px=(f.x0+t/f.t1*(f.x1-f.x0))*r.width/f.vw;
  f.c.style.left=(r.left-fr.left+px)+'px';f.c.style.top=(r.top-fr.top)+'px';
  f.c.style.height=r.height+'px';f.c.style.display='block';});
 var d=src.d,i=Math.floor(t/d.w),out=[(i*d.w).toFixed(1)+' to '+((i+1)*d.w).toFixed(1)+' s'];
 d.s.forEach(function(s){out.push(s.l+': '+fmt(s.v[i]===undefined?null:s.v[i]));});
 tip.textContent=out.join('\n');tip.style.display='block';
 tip.style.left=(e.pageX+14)+'px';tip.style.top=(e.pageY+14)+'px';}
function cdf(f,x,e){var d=f.d,lx=+f.s.getAttribute('data-lx0'),hx=+f.s.getAttribute('data-lx1');
 var ms=Math.pow(10,lx+(x-f.x0)/(f.x1-f.x0)*(hx-lx)),out=['within '+fmt(ms)+' ms'];
 d.s.forEach(function(s){var q=0;for(var i=0;i<s.x.length&&s.x[i]<=ms;i++)q=s.q[i];
  out.push(s.l+': '+(q*100).toFixed(1)+'% answered ok');});
 var r=f.s.getBoundingClientRect(),fr=f.getBoundingClientRect();
 f.c.style.left=(r.left-fr.left+x*r.width/f.vw)+'px';f.c.style.top=(r.top-fr.top)+'px';
 f.c.style.height=r.height+'px';f.c.style.display='block';
 tip.textContent=out.join('\n');tip.style.display='block';
 tip.style.left=(e.pageX+14)+'px';tip.style.top=(e.pageY+14)+'px';}
figs.forEach(function(f){
 f.s=f.querySelector('svg');f.d=JSON.parse(f.querySelector('script.data').textContent);
 f.x0=+f.s.getAttribute('data-x0');f.x1=+f.s.getAttribute('data-x1');
 f.t1=+f.s.getAttribute('data-t1');f.vw=+f.s.getAttribute('width');
 f.c=document.createElement('div');f.c.className='cursor';f.appendChild(f.c);
 f.s.addEventListener('mousemove',function(e){var r=f.s.getBoundingClientRect();
  var x=(e.clientX-r.left)*f.vw/r.width;
  if(x<f.x0||x>f.x1){hide();return;}
  if(f.d.cdf){cdf(f,x,e);return;}show((x-f.x0)/(f.x1-f.x0)*f.t1,f,e);});
 f.s.addEventListener('mouseleave',hide);});
})();"#;

/// A set of tabs, one per variant, each holding `body(k)`; with one variant, just the body.
fn tabs(o: &mut String, id: &str, runs: &[Analysed], body: &dyn Fn(usize) -> String) {
    if runs.len() == 1 {
        o.push_str(&body(0));
        return;
    }
    let labels: Vec<&str> = runs.iter().map(|r| r.name.as_str()).collect();
    labelled_tabs(o, id, &labels, body);
}

/// Tabs with these labels (CSS only: a radio button per tab), each holding `body(k)`. When
/// printed, every panel is shown under its label.
fn labelled_tabs(o: &mut String, id: &str, labels: &[&str], body: &dyn Fn(usize) -> String) {
    let _ = writeln!(o, "<div class=\"tabs\" role=\"tablist\">");
    for (k, label) in labels.iter().enumerate() {
        let _ = writeln!(
            o,
            "<input type=\"radio\" name=\"{id}\" id=\"{id}-{k}\"{}><label for=\"{id}-{k}\">{}</label>",
            if k == 0 { " checked" } else { "" },
            esc(label)
        );
    }
    for (k, label) in labels.iter().enumerate() {
        let _ = writeln!(
            o,
            "<div class=\"panel\" data-label=\"{}\">\n{}</div>",
            esc(label),
            body(k)
        );
    }
    o.push_str("</div>\n");
}

/// A plot as a figure: inline SVG, its hover data, its caption.
fn figure(p: &Plot) -> String {
    // The SVG is embedded as is, minus its XML declaration.
    let svg = p
        .svg
        .trim_start()
        .strip_prefix("<?xml")
        .and_then(|r| r.find("?>").map(|k| &r[k + 2..]))
        .unwrap_or(&p.svg);
    let data = p.hover.as_ref().map_or(String::new(), |d| {
        format!(
            "<script type=\"application/json\" class=\"data\">{}</script>",
            d.replace("</", "<\\/")
        )
    });
    format!(
        "<figure id=\"{}\"{}>{}{data}<figcaption>{} · <code>plots/{}</code>{}</figcaption></figure>\n",
        esc(&p.file),
        if p.hover.is_some() {
            " class=\"hover\""
        } else {
            ""
        },
        svg.trim(),
        esc(&p.title),
        esc(&p.file),
        match &p.hover {
            Some(h) if h.starts_with("{\"cdf\"") => {
                " · point at it for values; data: <code>latency_cdf_ms</code> in <code>summary.json</code>"
            }
            Some(_) => " · point at it for values; data: <code>timeseries.csv</code>",
            None => "",
        }
    )
}

fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut o = String::from("<div class=\"scroll\"><table><tr>");
    for h in header {
        let _ = write!(o, "<th>{}</th>", esc(h));
    }
    o.push_str("</tr>\n");
    for r in rows {
        o.push_str("<tr>");
        for c in r {
            let _ = write!(o, "<td>{}</td>", esc(c));
        }
        o.push_str("</tr>\n");
    }
    o.push_str("</table></div>\n");
    o
}

pub(super) fn page(
    scenario: &Scenario,
    schedule: &[String],
    runs: &[Analysed],
    plots: &[Plot],
) -> String {
    let mut o = String::new();
    let _ = write!(
        o,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>faultline: {}</title>\n<style>{CSS}\n{}</style></head><body>\n",
        esc(&scenario.name),
        tab_css()
    );
    let _ = writeln!(o, "<h1>{}</h1>", esc(&scenario.name));
    if !scenario.description.is_empty() {
        let _ = writeln!(o, "<p>{}</p>", esc(&scenario.description));
    }
    let _ = writeln!(o, "<p class=\"meta\">{}</p>", esc(&meta(scenario, runs)));

    // Answers first: a verdict per variant.
    o.push_str("<ul class=\"verdict\" id=\"verdict\">\n");
    for r in runs {
        let (line, alarm) = verdict(r);
        let _ = writeln!(
            o,
            "<li{}>{}</li>",
            if alarm { " class=\"flag\"" } else { "" },
            esc(&line)
        );
    }
    o.push_str("</ul>\n");

    o.push_str("<h2>Headline numbers</h2>\n<div class=\"scroll\"><table><tr><th></th>");
    for r in runs {
        let _ = write!(o, "<th>{}</th>", esc(&r.name));
    }
    o.push_str("</tr>\n");
    for (label, vals) in headline_rows(runs) {
        let _ = write!(o, "<tr><td>{}</td>", esc(&label));
        for v in vals {
            let flag = v.starts_with("METASTABLE") || v.starts_with("undecided");
            // A long verdict (the loop that sustains it) wraps in its own column instead of
            // pushing the figures out of sight.
            let long = v.chars().count() > 40;
            let cls = match (flag, long) {
                (true, true) => " class=\"flag long\"",
                (true, false) => " class=\"flag\"",
                (false, true) => " class=\"long\"",
                (false, false) => "",
            };
            let _ = write!(o, "<td{cls}>{}</td>", esc(&v));
        }
        o.push_str("</tr>\n");
    }
    o.push_str("</table></div>\n");
    let diffs = differences(runs);
    if !diffs.is_empty() {
        o.push_str("<p>Every variant ran with the same seed and the same per-entity random streams (the same arrivals, service times and faults), so these differences come from the changed fields alone:</p>\n<ul>\n");
        for d in diffs {
            let _ = writeln!(o, "<li>{}</li>", esc(&d));
        }
        o.push_str("</ul>\n");
    }

    o.push_str("<h2>What happened</h2>\n<p class=\"question\">Every sentence follows from the time series by the rules in docs/analysis.md.</p>\n");
    tabs(&mut o, "what", runs, &|k| {
        let mut b = String::from("<ul class=\"chain\">\n");
        for line in runs[k].cascade.narrative() {
            let cls = if line.starts_with("METASTABLE") || line.starts_with("UNDECIDED") {
                " class=\"flag\""
            } else {
                ""
            };
            let _ = writeln!(b, "<li{cls}>{}</li>", esc(&line));
        }
        b.push_str("</ul>\n");
        b
    });
    if schedule.is_empty() {
        o.push_str("<p>No faults were injected.</p>\n");
    } else {
        let _ = writeln!(
            o,
            "<p>The fault schedule, as the seed expanded it ({} window{}):</p><pre>{}</pre>",
            schedule.len(),
            if schedule.len() == 1 { "" } else { "s" },
            esc(&schedule.join("\n"))
        );
    }

    o.push_str("<h2>Services</h2>\n");
    tabs(&mut o, "services", runs, &|k| {
        let (header, rows) = services(&runs[k]);
        let mut t = table(&header, &rows);
        let (header, rows) = endpoints(&runs[k]);
        if !rows.is_empty() {
            t.push_str(&table(&header, &rows));
        }
        t
    });

    // The plots, a tab per question (every one shown when printed): a page that stays a few
    // screens tall however many plots a run has.
    let groups: Vec<_> = GROUPS
        .iter()
        .filter(|(id, ..)| plots.iter().any(|p| p.group == *id))
        .collect();
    if !groups.is_empty() {
        o.push_str("<h2 id=\"plots\">Plots</h2>\n");
        let labels: Vec<&str> = groups.iter().map(|g| g.1).collect();
        labelled_tabs(&mut o, "group", &labels, &|g| {
            let (id, _, question) = groups[g];
            let group: Vec<&Plot> = plots.iter().filter(|p| p.group == *id).collect();
            let mut b = format!("<p class=\"question\" id=\"{id}\">{}</p>\n", esc(question));
            for p in group.iter().filter(|p| p.variant.is_none()) {
                b.push_str(&figure(p));
            }
            if group.iter().any(|p| p.variant.is_some()) {
                tabs(&mut b, id, runs, &|k| {
                    group
                        .iter()
                        .filter(|p| p.variant == Some(k))
                        .map(|p| figure(p))
                        .collect()
                });
            }
            b
        });
    }

    o.push_str("<h2>Files</h2>\n<p><code>summary.json</code> (every figure of the first variant, and under <code>analysis</code> every verdict of this page; each variant's under <code>variants/NAME/</code>), <code>timeseries.csv</code> (one row per window and entity: every plot's data), <code>manifest.json</code> (seed, hashes, the fault schedule; <code>faultline replay</code> checks it), <code>report.md</code>, <code>plots/*.svg</code>. Rebuild this page with <code>faultline report DIR</code>.</p>\n");
    let _ = writeln!(o, "<script>{SCRIPT}</script>");
    o.push_str("</body></html>\n");
    o
}
