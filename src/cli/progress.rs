//! The progress bar of a long run: simulated time done out of the run's duration, drawn on
//! stderr only when it is a terminal and `--quiet` is not given. It watches events as a
//! trace sink does and redraws every 65,536 events, so it never touches the model.

use crate::engine::{SimTime, TraceRecord, TraceSink};
use crate::scenario::Scenario;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;

/// A bar for a run of `sc`, or None when nothing should be drawn.
pub fn bar(quiet: bool, sc: &Scenario, name: &str, many: bool) -> Option<ProgressBar> {
    if quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    let total_ms = (sc.duration.0 / 1_000_000).max(1);
    let bar = ProgressBar::with_draw_target(Some(total_ms), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "{prefix}[{bar:40}] {msg} simulated · {elapsed} wall, about {eta} to go",
    )
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    if many {
        bar.set_prefix(format!("{name} "));
    }
    Some(bar)
}

/// A bar for a sweep: runs done, runs per second, time to go.
pub fn sweep_bar(quiet: bool, runs: u64) -> Option<ProgressBar> {
    if quiet || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = ProgressBar::with_draw_target(Some(runs), ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template(
        "[{bar:40}] {pos}/{len} runs · {rate} · {elapsed} wall, about {eta} to go",
    )
    .map(|st| {
        st.with_key(
            "rate",
            |state: &indicatif::ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.1} runs/s", state.per_sec());
            },
        )
    })
    .unwrap_or_else(|_| ProgressStyle::default_bar())
    .progress_chars("=> ");
    bar.set_style(style);
    Some(bar)
}

/// Counts events and moves the bar.
pub struct Progress {
    bar: Option<ProgressBar>,
    events: u64,
    total: String,
}

impl Progress {
    pub fn new(bar: Option<ProgressBar>) -> Self {
        let total = bar
            .as_ref()
            .and_then(|b| b.length())
            .map_or(String::new(), |ms| {
                format!(" of {}", crate::engine::format_duration(ms * 1_000_000))
            });
        Progress {
            bar,
            events: 0,
            total,
        }
    }
    pub fn active(&self) -> bool {
        self.bar.is_some()
    }
    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

impl TraceSink for Progress {
    fn event(&mut self, time: SimTime, _seq: u64, _r: &TraceRecord) {
        self.events += 1;
        if self.events & 0xFFFF == 0 {
            if let Some(b) = &self.bar {
                let ms = time.0 / 1_000_000;
                b.set_position(ms);
                b.set_message(format!(
                    "{}{}",
                    crate::engine::format_duration(time.0),
                    self.total
                ));
            }
        }
    }
}

/// Hands every event to two sinks.
pub struct Tee<'a>(pub &'a mut dyn TraceSink, pub &'a mut dyn TraceSink);

impl TraceSink for Tee<'_> {
    fn event(&mut self, time: SimTime, seq: u64, r: &TraceRecord) {
        self.0.event(time, seq, r);
        self.1.event(time, seq, r);
    }
}
