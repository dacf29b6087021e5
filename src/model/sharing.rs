//! Requests that share a replica's processors: processor sharing (the replica's workers are
//! cores divided equally among every request computing) and load-dependent service
//! (contention: every request computing runs slower the more of them there are).
//!
//! A request brings an amount of *work*: its sampled service time, the time it would take
//! alone on a core. While `n` requests compute at the replica, each receives work at the same
//! rate, `rate(n) = min(1, cores / n) / stretch(n)` work-nanoseconds per nanosecond (with
//! dedicated workers there is no division: `rate(n) = 1 / stretch(n)`). When `n` changes, the
//! requests already computing keep the work they have received and go on at the new rate: the
//! stretch applies to what remains of each, never to what is done. As every request computing
//! gets the same rate, one clock suffices: `done`, the work each of them has received since the
//! replica started (a request that started when the clock read `v` with work `w` finishes when
//! it reads `v + w`), and the next to finish is the smallest such tag. So a change of `n` costs
//! one heap operation and one rescheduled completion, however many requests compute.
//!
//! Sans-IO: times are passed in and the caller schedules the completion `next_done_ns` names.
//! It knows nothing of queues, workers held while waiting for calls, or faults: the world
//! decides who computes, and clears this when a crash fails everything in service.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// How service times stretch with the number of requests computing at a replica, `n`.
/// One request alone is never stretched: every form gives 1 at `n = 1`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Contention {
    /// `1 + per_request x (n - 1)`.
    Linear { per_request: f64 },
    /// `1 + coefficient x (n - 1)^exponent`.
    Polynomial { coefficient: f64, exponent: f64 },
    /// `(1 + per_request)^(n - 1)`: each further request multiplies every one's time.
    Exponential { per_request: f64 },
}

impl Contention {
    /// The factor service times are stretched by while `n` requests compute.
    pub fn stretch(&self, n: u32) -> f64 {
        let k = n.saturating_sub(1) as f64;
        match *self {
            Contention::Linear { per_request } => 1.0 + per_request * k,
            Contention::Polynomial {
                coefficient,
                exponent,
            } => 1.0 + coefficient * libm::pow(k, exponent),
            Contention::Exponential { per_request } => libm::pow(1.0 + per_request, k),
        }
    }

    pub fn describe(&self) -> String {
        match *self {
            Contention::Linear { per_request } => format!("1 + {per_request} x (n - 1)"),
            Contention::Polynomial {
                coefficient,
                exponent,
            } => format!("1 + {coefficient} x (n - 1)^{exponent}"),
            Contention::Exponential { per_request } => format!("(1 + {per_request})^(n - 1)"),
        }
    }
}

/// The longest a completion may be scheduled ahead (about 3 years): a rate near zero (an
/// exponential stretch at a great many requests) must not overflow the clock.
const MAX_AHEAD_NS: f64 = 1e17;

/// One replica's requests computing together.
#[derive(Clone, Debug)]
pub(crate) struct Sharing {
    /// Processor sharing over this many cores (None: each request has its own worker).
    cores: Option<f64>,
    contention: Option<Contention>,
    /// Work each computing request has received since the replica started (ns of service).
    done: f64,
    /// When `done` was last brought up to date.
    at_ns: u64,
    /// The requests computing: (the `done` at which each finishes, as ordered bits; arrival
    /// order, which breaks ties; slot; generation).
    computing: BinaryHeap<Reverse<(u64, u64, u32, u32)>>,
    seq: u64,
    /// The completion event that is current: one carrying another token is stale.
    pub token: u32,
}

impl Sharing {
    pub fn new(cores: Option<u32>, contention: Option<Contention>) -> Self {
        Sharing {
            cores: cores.map(f64::from),
            contention,
            done: 0.0,
            at_ns: 0,
            computing: BinaryHeap::new(),
            seq: 0,
            token: 0,
        }
    }

    /// Requests computing now.
    pub fn len(&self) -> u32 {
        self.computing.len() as u32
    }

    /// Work per nanosecond each computing request receives while `n` compute.
    fn rate(&self, n: u32) -> f64 {
        let share = match self.cores {
            Some(c) if (n as f64) > c => c / n as f64,
            _ => 1.0,
        };
        match &self.contention {
            Some(k) => share / k.stretch(n),
            None => share,
        }
    }

    /// Brings the clock to `now_ns`.
    fn advance(&mut self, now_ns: u64) {
        let n = self.len();
        if n > 0 && now_ns > self.at_ns {
            self.done += (now_ns - self.at_ns) as f64 * self.rate(n);
        }
        self.at_ns = now_ns.max(self.at_ns);
    }

    /// A request starts computing `work_ns` at `now_ns`.
    pub fn start(&mut self, now_ns: u64, work_ns: u64, slot: u32, gen: u32) {
        self.advance(now_ns);
        let finish = self.done + work_ns as f64;
        self.seq += 1;
        self.computing
            .push(Reverse((finish.to_bits(), self.seq, slot, gen)));
    }

    /// When the next request finishes at the current rate (None: nobody computes). The
    /// caller schedules it with a fresh `token`.
    pub fn next_done_ns(&self) -> Option<u64> {
        let Reverse((bits, ..)) = self.computing.peek()?;
        let left = (f64::from_bits(*bits) - self.done).max(0.0);
        let ahead = (left / self.rate(self.len())).ceil().min(MAX_AHEAD_NS);
        Some(self.at_ns + ahead as u64)
    }

    /// The request whose completion was scheduled finishes at `now_ns`: it leaves, and the
    /// others go on at the rate of one fewer.
    pub fn finish_next(&mut self, now_ns: u64) -> Option<(u32, u32)> {
        self.advance(now_ns);
        let Reverse((bits, _, slot, gen)) = self.computing.pop()?;
        // The completion was rounded up to a whole nanosecond: its work is done exactly.
        self.done = self.done.max(f64::from_bits(bits));
        Some((slot, gen))
    }

    /// Everything computing is gone (the process crashed); stale completions are ignored.
    pub fn clear(&mut self, now_ns: u64) {
        self.advance(now_ns);
        self.computing.clear();
        self.token = self.token.wrapping_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stretches_are_one_alone_and_grow_as_written() {
        let cases = [
            (Contention::Linear { per_request: 0.5 }, 1, 1.0),
            (Contention::Linear { per_request: 0.5 }, 3, 2.0),
            (
                Contention::Polynomial {
                    coefficient: 0.1,
                    exponent: 2.0,
                },
                4,
                1.9,
            ),
            (Contention::Exponential { per_request: 1.0 }, 4, 8.0),
            (Contention::Exponential { per_request: 1.0 }, 0, 1.0),
        ];
        for (c, n, want) in cases {
            assert!((c.stretch(n) - want).abs() < 1e-12, "{c:?} at {n}");
        }
    }

    /// Two requests on one core: each gets half, so a 10 ns and a 30 ns job started together
    /// finish at 20 ns (10 of work each) and 40 ns (the last 20 alone).
    #[test]
    fn one_core_is_shared_equally_and_the_rest_runs_alone() {
        let mut s = Sharing::new(Some(1), None);
        s.start(0, 10, 1, 0);
        s.start(0, 30, 2, 0);
        assert_eq!(s.next_done_ns(), Some(20));
        assert_eq!(s.finish_next(20), Some((1, 0)));
        assert_eq!(s.next_done_ns(), Some(40));
        assert_eq!(s.finish_next(40), Some((2, 0)));
        assert_eq!(s.next_done_ns(), None);
    }

    /// Linear contention 1 + (n - 1): a request alone for 10 ns of its 30, then joined by a
    /// second for which both run at half speed.
    #[test]
    fn contention_stretches_only_the_work_that_remains() {
        let mut s = Sharing::new(None, Some(Contention::Linear { per_request: 1.0 }));
        s.start(0, 30, 1, 0);
        s.start(10, 5, 2, 0); // first has 20 left; both at rate 1/2 now
        assert_eq!(s.next_done_ns(), Some(20)); // the second's 5 ns take 10
        assert_eq!(s.finish_next(20), Some((2, 0)));
        // The first received 5 more (15 left), alone again at full speed.
        assert_eq!(s.next_done_ns(), Some(35));
    }

    /// Equal finishing tags leave in the order they started.
    #[test]
    fn ties_leave_in_arrival_order() {
        let mut s = Sharing::new(Some(2), None);
        for slot in [7, 3, 5] {
            s.start(0, 9, slot, 0);
        }
        let order: Vec<u32> = (0..3)
            .map(|_| s.finish_next(13.5 as u64).unwrap().0)
            .collect();
        assert_eq!(order, [7, 3, 5]);
    }

    /// M/G/1-PS: the mean response of a job of size x is x / (1 - rho), whatever the size
    /// distribution (here 1 ms with probability 0.8, 10 ms otherwise; rho = 0.7). Driven by
    /// a Poisson stream written here, so the check is of the sharing arithmetic alone.
    #[test]
    fn mg1_ps_conditional_response_is_size_over_one_minus_rho() {
        use crate::engine::RngStream;
        let mut rng = RngStream::derive(11, "ps-test", "arrivals");
        let (small, large) = (1_000_000u64, 10_000_000u64);
        let mean_size = 0.8 * small as f64 + 0.2 * large as f64; // 2.8 ms
        let rho = 0.7;
        let gap_mean = mean_size / rho;
        let mut s = Sharing::new(Some(1), None);
        let mut started: Vec<(u64, u64)> = Vec::new(); // (start, size) by slot
        let (mut sum, mut count) = ([0.0f64; 2], [0u64; 2]);
        let mut t_arrive = 0u64;
        let warm = 10_000_000_000u64; // 10 s
        while t_arrive < 2_000_000_000_000 {
            // Finish everything due before the next arrival.
            while let Some(t) = s.next_done_ns().filter(|&t| t <= t_arrive) {
                let (slot, _) = s.finish_next(t).unwrap();
                let (t0, size) = started[slot as usize];
                if t0 >= warm {
                    let k = (size == large) as usize;
                    sum[k] += (t - t0) as f64;
                    count[k] += 1;
                }
            }
            let size = if rng.chance(0.8) { small } else { large };
            started.push((t_arrive, size));
            s.start(t_arrive, size, (started.len() - 1) as u32, 0);
            let u = rng.uniform();
            t_arrive += (-libm::log(1.0 - u) * gap_mean) as u64;
        }
        for (k, size) in [small, large].into_iter().enumerate() {
            let mean = sum[k] / count[k] as f64;
            let want = size as f64 / (1.0 - rho);
            let rel = (mean - want).abs() / want;
            assert!(
                rel < 0.03,
                "size {size}: mean {mean:.0} ns, theory {want:.0} ({rel:.3})"
            );
        }
    }
}
