//! Rare events by multilevel splitting: the probability that a scenario's `rare` event happens
//! (an importance function reaching a target before the run ends or falls back to zero), when
//! it is far too rare for plain runs to see.
//!
//! The method is adaptive multilevel splitting (Cérou and Guyader 2007, with the tie handling
//! of Bréhier et al. 2016 that keeps it unbiased for integer importances). `particles` copies of
//! the run go to their end, each remembering the highest importance it reached. The lowest
//! such maximum is the next level: every copy that reached no higher is dropped (the estimate
//! is multiplied by the share that survived) and replaced by a copy of a survivor taken at the
//! moment it first rose above that level, which goes on with fresh randomness. This repeats
//! until every copy reached the target; the product of the survived shares estimates the
//! probability. Levels are thus placed where the runs themselves thin out. A confidence
//! interval comes from `repeats` independent estimates (Student's t on their mean).
//!
//! A copy is never stored: it is its path (the seed it started from, the events run between
//! forks and the salt each fork reseeded the world with), replayed from the start when it is
//! copied, so memory stays that of
//! one run. Everything is drawn from streams named after the repeat, so an estimate depends on
//! the seed alone, not on threads. It knows nothing of the command line.

use crate::engine::{self, EventQueue, LimitHit, RngStream, SimTime};
use crate::model::{Quiet, World, WorldLimits};
use crate::scenario::rare::{Rare, Until};
use crate::scenario::Scenario;

/// How hard to try.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// Copies of the run kept at each level.
    pub particles: usize,
    /// Levels at most, per estimate (a guard on a target that cannot be reached).
    pub max_levels: usize,
}

/// Why an estimate could not be made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RareError {
    /// The scenario says no `rare` event.
    NoEvent,
    /// A run stopped at one of the scenario's limits.
    Limit(LimitHit),
    /// More levels than allowed without every copy reaching the target.
    TooManyLevels(usize),
}

impl std::fmt::Display for RareError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RareError::NoEvent => write!(f, "the scenario has no `rare` event: say what to estimate, e.g. rare: (importance: InSystem(\"db\"), target: 50, until: Empty) (docs/scenario.md)"),
            RareError::Limit(hit) => write!(f, "{hit}"),
            RareError::TooManyLevels(n) => write!(f, "after {n} levels not every copy reached the target; the event may be out of reach (or raise --max-levels)"),
        }
    }
}

/// One independent estimate.
#[derive(Clone, Debug)]
pub struct Repeat {
    /// The estimated probability (0 when no copy ever rose above the lowest level).
    pub p: f64,
    /// The levels placed, lowest first, each with the share of copies that got above it.
    pub levels: Vec<(u64, f64)>,
    /// Runs simulated (copies started or restarted).
    pub runs: u64,
    /// Events processed, replays included.
    pub events: u64,
}

/// The estimate over all repeats.
#[derive(Clone, Debug)]
pub struct Estimate {
    pub repeats: Vec<Repeat>,
    /// The mean of the repeats' estimates.
    pub p: f64,
    /// The 95% confidence interval of the mean (Student's t over the repeats).
    pub ci95: (f64, f64),
}

/// A copy of the run: the seed its world started from, then the events run before each fork
/// and the salt the fork reseeded with.
#[derive(Clone, Debug)]
struct Particle {
    root: u64,
    path: Vec<(u64, u64)>,
    max: u64,
}

/// Runs a copy from a world seeded with `root` along `path` (replaying its forks), then, if `fork` is `Some((level, salt))`,
/// to the first event where the importance exceeds `level`, reseeds there and adds the fork to
/// the path; then on until the event or its end. Returns the copy and the events processed.
fn simulate(
    sc: &Scenario,
    rare: &Rare,
    root: u64,
    path: &[(u64, u64)],
    fork: Option<(u64, u64)>,
) -> Result<(Particle, u64), RareError> {
    let mut world = World::new(
        sc.system.clone(),
        root,
        WorldLimits {
            max_live_requests: sc.limits.max_live_requests,
            count_from: SimTime(sc.warmup.0),
        },
        Quiet,
    );
    let mut queue = EventQueue::new();
    world.start(&mut queue);
    let mut c = Copy {
        world,
        queue,
        limits: engine::Limits {
            end: SimTime(sc.duration.0),
            max_events: sc.limits.max_events,
            max_pending_events: sc.limits.max_pending_events.min(usize::MAX as u64) as usize,
        },
        importance: rare.importance,
        max: 0,
        risen: false,
        events: 0,
    };
    for &(events, salt) in path {
        if events > 0 {
            let (ok, _) = c.step(|n, _, _| n >= events)?;
            debug_assert!(ok, "a replay ends where it forked");
        }
        c.world.reseed(salt);
    }
    let mut path = path.to_vec();
    if let Some((level, salt)) = fork {
        let (crossed, n) = c.step(|_, v, _| v > level)?;
        debug_assert!(crossed, "a survivor rises above the level it is copied at");
        c.world.reseed(salt);
        path.push((n, salt));
    }
    let (target, until) = (rare.target, rare.until);
    if c.max < target {
        c.step(|_, v, risen| v >= target || (until == Until::Empty && risen && v == 0))?;
    }
    Ok((
        Particle {
            root,
            path,
            max: c.max,
        },
        c.events,
    ))
}

/// A copy of the run in progress, with what splitting watches: the highest importance so far
/// and whether it has risen above zero.
struct Copy {
    world: World<Quiet>,
    queue: EventQueue<crate::model::Event>,
    limits: engine::Limits,
    importance: crate::model::Importance,
    max: u64,
    risen: bool,
    /// Events processed, over every step.
    events: u64,
}

impl Copy {
    /// Runs until `stop(events this step, importance, risen)` says so after an event. Returns
    /// whether it did (false: the run ended first) and the events this step processed.
    fn step(
        &mut self,
        mut stop: impl FnMut(u64, u64, bool) -> bool,
    ) -> Result<(bool, u64), RareError> {
        let (mut n, mut stopped) = (0u64, false);
        let (max, risen, what) = (&mut self.max, &mut self.risen, self.importance);
        let out = engine::run_while(&mut self.world, &mut self.queue, &self.limits, None, |w| {
            n += 1;
            let v = w.importance(what);
            *max = (*max).max(v);
            *risen |= v > 0;
            stopped = stop(n, v, *risen);
            !stopped
        });
        self.events += out.events;
        match out.stopped {
            Some(hit) => Err(RareError::Limit(hit)),
            None => Ok((stopped, n)),
        }
    }
}

/// One estimate: repeat `r`'s copies, levels and choices drawn from its own stream.
pub fn repeat(sc: &Scenario, r: usize, s: &Settings) -> Result<Repeat, RareError> {
    let rare = sc.rare.as_ref().ok_or(RareError::NoEvent)?;
    let n = s.particles.max(2);
    let mut rng = RngStream::derive(sc.seed, &format!("rare:{r}"), "splitting");
    let mut runs = 0u64;
    let mut events = 0u64;
    let mut ps = Vec::with_capacity(n);
    for _ in 0..n {
        // Each first copy is a run of its own seed (its first arrivals drawn apart too).
        let (p, e) = simulate(sc, rare, rng.next_u64(), &[], None)?;
        ps.push(p);
        runs += 1;
        events += e;
    }
    let mut p = 1.0f64;
    let mut levels = Vec::new();
    loop {
        let level = ps.iter().map(|q| q.max).min().expect("at least two copies");
        if level >= rare.target {
            break;
        }
        if levels.len() >= s.max_levels {
            return Err(RareError::TooManyLevels(levels.len()));
        }
        // Every copy at the lowest maximum goes (all of a tie: what keeps it unbiased).
        let survivors: Vec<usize> = (0..n).filter(|&i| ps[i].max > level).collect();
        let share = survivors.len() as f64 / n as f64;
        p *= share;
        levels.push((level, share));
        if survivors.is_empty() {
            p = 0.0;
            break;
        }
        for i in 0..n {
            if ps[i].max > level {
                continue;
            }
            let from = survivors[rng.below(survivors.len() as u64) as usize];
            let salt = rng.next_u64();
            let (q, e) = simulate(sc, rare, ps[from].root, &ps[from].path, Some((level, salt)))?;
            ps[i] = q;
            runs += 1;
            events += e;
        }
    }
    Ok(Repeat {
        p,
        levels,
        runs,
        events,
    })
}

/// The estimate from `repeats` (in repeat order).
pub fn combine(repeats: Vec<Repeat>) -> Estimate {
    let ps: Vec<f64> = repeats.iter().map(|r| r.p).collect();
    let (mean, half) = crate::metrics::stats::mean_ci95(&ps);
    let mean = mean.unwrap_or(0.0);
    let half = half.unwrap_or(f64::INFINITY);
    Estimate {
        repeats,
        p: mean,
        ci95: ((mean - half).max(0.0), mean + half),
    }
}
