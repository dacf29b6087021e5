//! What a search writes besides the finding files: `findings.md` and `index.html`, the same
//! words in both. The page is self-contained (styles and a timeline per finding inline), so it
//! works from disk like the run report. Knows nothing of where the files go.

use super::{describe, Finding, Space};
use crate::engine::format_duration;
use crate::report::page::{esc, CSS};
use std::fmt::Write as _;

/// What a search did, for its pages.
pub struct Summary<'a> {
    pub space: &'a Space,
    /// Schedules run, and the budget asked for.
    pub drawn: u64,
    pub budget: u64,
    /// Why fewer than the budget were run (the wall-time budget), if so.
    pub cut_short: Option<String>,
    /// How many of those run broke an expectation.
    pub broke: usize,
    /// The findings, each with its file's name, worst first.
    pub findings: &'a [(String, Finding)],
}

impl Summary<'_> {
    fn opening(&self) -> String {
        let s = self.space;
        let seeds = match s.seeds.as_slice() {
            [one] => format!("seed {one}"),
            many => format!(
                "each schedule run with seeds {}",
                many.iter()
                    .map(|x| x.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        };
        let mut o = format!(
            "{} {} drawn from the fault_space of {} ({seeds}, at most {} faults each, starting between {} and {}, lasting {} to {})",
            self.drawn,
            if s.seeds.len() > 1 { "runs of schedules" } else { "schedules" },
            s.file,
            s.space.max_faults,
            format_duration(s.space.window.0 .0),
            format_duration(s.space.window.1 .0),
            format_duration(s.space.durations.0 .0),
            format_duration(s.space.durations.1 .0),
        );
        if let Some(why) = &self.cut_short {
            let _ = write!(o, " of a budget of {} ({why})", self.budget);
        }
        let _ = write!(
            o,
            "; {} broke its expectations{}.",
            self.broke,
            match self.findings.len() {
                0 => String::new(),
                n => format!(
                    "; the worst, shrunk, gave {n} distinct finding{}",
                    if n == 1 { "" } else { "s" }
                ),
            }
        );
        o
    }
}

/// Whether a finding needs the seed it was found with.
fn seeds_text(f: &Finding) -> String {
    format!(
        "On {} other seeds it fails {} time{} ({}).",
        f.seeds_tried,
        f.held,
        if f.held == 1 { "" } else { "s" },
        if f.held == f.seeds_tried {
            "it does not need this seed"
        } else if f.held == 0 {
            "it needs this seed's luck"
        } else {
            "it needs this seed's luck, at least in part"
        }
    )
}

/// `findings.md`.
pub fn markdown(sum: &Summary) -> String {
    let mut md = format!(
        "# Findings of faultline search on {}\n\n{}\n",
        sum.space.file,
        sum.opening()
    );
    for (name, f) in sum.findings {
        let _ = write!(
            md,
            "\n## {name}\n\nFrom {} ({} faults, miss {:.3}), shrunk in {} runs.\n\nFaults:\n",
            f.origin(sum.space),
            f.original.schedule.len(),
            f.original.miss,
            f.runs
        );
        for d in describe(sum.space, &f.shrunk.schedule) {
            let _ = writeln!(md, "- `{d}`");
        }
        let _ = writeln!(md, "\nFails:");
        for v in f.failures() {
            let _ = writeln!(md, "- {v}");
        }
        let _ = writeln!(
            md,
            "\n{} Reproduce: `faultline check {name}`.",
            seeds_text(f)
        );
    }
    md
}

/// The faults of a finding over the run's length: a bar per fault.
fn timeline(space: &Space, f: &Finding) -> String {
    let (w, left, row) = (640.0, 8.0, 18.0);
    let faults = describe(space, &f.shrunk.schedule);
    let h = 24.0 + row * faults.len() as f64;
    let total = space.duration_ms.max(1) as f64;
    let x = |ms: u64| left + (w - 2.0 * left) * (ms as f64 / total).min(1.0);
    let mut o = format!(
        "<svg viewBox=\"0 0 {w} {h}\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"the faults over the run\">\
<rect x=\"{left}\" y=\"2\" width=\"{}\" height=\"{}\" fill=\"#fafafa\" stroke=\"#ddd\"/>",
        w - 2.0 * left,
        h - 20.0
    );
    for (k, (d, text)) in f.shrunk.schedule.iter().zip(&faults).enumerate() {
        let y = 6.0 + row * k as f64;
        let (a, b) = (x(d.at_ms), x(d.at_ms + d.for_ms));
        let _ = write!(
            o,
            "<rect x=\"{a:.1}\" y=\"{y}\" width=\"{:.1}\" height=\"{}\" fill=\"#d55e00\"><title>{}</title></rect>",
            (b - a).max(1.5),
            row - 6.0,
            esc(text)
        );
        // The kind, beside its bar on the side with room.
        let label = text.split(" at ").next().unwrap_or(text);
        let (lx, anchor) = if b < w * 0.6 {
            (b + 4.0, "start")
        } else {
            (a - 4.0, "end")
        };
        let _ = write!(
            o,
            "<text x=\"{lx:.1}\" y=\"{:.1}\" font-size=\"10\" text-anchor=\"{anchor}\" fill=\"#333\">{}</text>",
            y + row - 8.0,
            esc(label)
        );
    }
    for tick in 0..=4u64 {
        let ms = space.duration_ms * tick / 4;
        let _ = write!(
            o,
            "<text x=\"{:.1}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\" fill=\"#555\">{}</text>",
            x(ms).clamp(left + 10.0, w - left - 10.0),
            h - 4.0,
            esc(&format_duration(ms * 1_000_000))
        );
    }
    o.push_str("</svg>");
    o
}

/// `index.html`: the same as `findings.md`, with a timeline of each finding's faults.
pub fn html(sum: &Summary) -> String {
    let mut o = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>faultline search: {}</title><style>{CSS}</style></head><body>\
<h1>Findings of faultline search on <code>{}</code></h1><p>{}</p>",
        esc(&sum.space.file),
        esc(&sum.space.file),
        esc(&sum.opening())
    );
    if sum.findings.is_empty() {
        o.push_str("<p>No schedule broke the expectations: nothing to shrink.</p>");
    } else {
        o.push_str("<table><tr><th>finding</th><th>faults</th><th style=\"text-align:left\">fails</th><th>other seeds failing</th><th>from</th></tr>");
        for (name, f) in sum.findings {
            let _ = write!(
                o,
                "<tr><td><a href=\"#{n}\">{n}</a></td><td>{}</td><td class=\"long\">{}</td><td>{} of {}</td><td>{} ({} faults)</td></tr>",
                f.shrunk.schedule.len(),
                esc(&f.failures().join("; ")),
                f.held,
                f.seeds_tried,
                f.origin(sum.space),
                f.original.schedule.len(),
                n = esc(name)
            );
        }
        o.push_str("</table>");
    }
    for (name, f) in sum.findings {
        let _ = write!(
            o,
            "<h2 id=\"{n}\"><a href=\"{n}\">{n}</a></h2><p>From {} ({} faults, miss {:.3}), shrunk in {} runs to:</p><ul>",
            esc(&f.origin(sum.space)),
            f.original.schedule.len(),
            f.original.miss,
            f.runs,
            n = esc(name)
        );
        for d in describe(sum.space, &f.shrunk.schedule) {
            let _ = write!(o, "<li><code>{}</code></li>", esc(&d));
        }
        let _ = write!(
            o,
            "</ul><figure>{}</figure><p>Fails:</p><ul>",
            timeline(sum.space, f)
        );
        for v in f.failures() {
            let _ = write!(o, "<li class=\"flag\">{}</li>", esc(&v));
        }
        let _ = write!(
            o,
            "</ul><p>{} Reproduce: <code>faultline check {}</code>; the report of the failing run: <code>faultline run {}</code>.</p>",
            esc(&seeds_text(f)),
            esc(name),
            esc(name)
        );
    }
    o.push_str("</body></html>\n");
    o
}
