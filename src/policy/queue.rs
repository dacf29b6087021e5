//! Which waiting request a free worker takes, and which it drops: the queue disciplines of a
//! replica. FIFO and LIFO, adaptive LIFO (first in, first out until a standing queue forms,
//! then newest first, as Facebook's servers do), and CoDel, the controlled-delay state machine
//! of RFC 8289 (section 5 and its pseudocode), applied to requests instead of packets.
//!
//! Sans-IO: the caller owns the queue; it asks which end to take from (`Take`), pops, and for
//! CoDel reports each popped request's sojourn time and how many still wait, and is told
//! whether to drop it or serve it. Nothing here knows requests, workers or time sources.
//!
//! CoDel, as written in RFC 8289, decides at each dequeue:
//! - a request whose sojourn is below `target`, or that leaves at most one request waiting
//!   (the RFC's "at most one packet's worth of bytes"), clears `first_above_time`; the first
//!   one above it arms `first_above_time = now + interval`; one above it at or after that time
//!   is *ok to drop*;
//! - not dropping: the first ok-to-drop request is dropped, the next is served, and dropping
//!   starts with `count = 1` (or the drops of the previous episode beyond the one before, when
//!   that episode ended less than 16 intervals ago) and `drop_next = now + interval /
//!   sqrt(count)`;
//! - dropping: a request that is not ok to drop ends the episode (served); otherwise, while
//!   `now >= drop_next`, the request is dropped, `count` grows, and the next is examined with
//!   `drop_next = drop_next + interval / sqrt(count)`.
//!
//! A request that finds a free worker never waits, and needs no call: a worker is only free
//! after a dequeue found the queue empty (`empty`, which disarms CoDel and ends an episode,
//! as a packet through an empty queue would).

/// Which end of the queue a worker takes the next request from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Take {
    Oldest,
    Newest,
}

/// What CoDel does with a popped request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Serve,
    Drop,
}

/// Where in one RFC 8289 `dequeue()` call the next popped request falls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    /// The first request of the call.
    First,
    /// After a drop while dropping (the RFC's `while` loop).
    Dropping,
    /// After the drop that starts an episode: this one is served and the episode set up.
    Entering,
}

/// The controlled-delay state machine (RFC 8289).
#[derive(Clone, Debug)]
pub struct CoDel {
    target_ns: u64,
    interval_ns: u64,
    /// 0: the sojourn has not been above target long enough to be armed.
    first_above_ns: u64,
    drop_next_ns: u64,
    count: u32,
    last_count: u32,
    dropping: bool,
    phase: Phase,
    /// Requests dropped, for the reports.
    pub drops: u64,
}

impl CoDel {
    /// `target_ns` (the acceptable standing delay) and `interval_ns` (how long it may stand
    /// above target before drops start), both above zero.
    pub fn new(target_ns: u64, interval_ns: u64) -> Self {
        CoDel {
            target_ns,
            interval_ns,
            first_above_ns: 0,
            drop_next_ns: 0,
            count: 0,
            last_count: 0,
            dropping: false,
            phase: Phase::First,
            drops: 0,
        }
    }

    /// The RFC's `control_law(t, count)`: the next drop `interval / sqrt(count)` after `t`.
    fn control_law(&self, t: u64, count: u32) -> u64 {
        t + (self.interval_ns as f64 / (count.max(1) as f64).sqrt()) as u64
    }

    /// The RFC's `dodequeue` test for a request that waited `sojourn_ns` and leaves `waiting`
    /// behind it: is it ok to drop?
    fn ok_to_drop(&mut self, now_ns: u64, sojourn_ns: u64, waiting: usize) -> bool {
        if sojourn_ns < self.target_ns || waiting <= 1 {
            self.first_above_ns = 0;
            false
        } else if self.first_above_ns == 0 {
            self.first_above_ns = now_ns + self.interval_ns;
            false
        } else {
            now_ns >= self.first_above_ns
        }
    }

    /// A free worker starts a `dequeue()`: call before the first pop.
    pub fn begin(&mut self) {
        self.phase = Phase::First;
    }

    /// The queue was empty when popped (at the start, or after drops).
    pub fn empty(&mut self, now_ns: u64) {
        self.first_above_ns = 0;
        match self.phase {
            Phase::First | Phase::Dropping => self.dropping = false,
            Phase::Entering => self.enter(now_ns),
        }
        self.phase = Phase::First;
    }

    /// Starts a dropping episode (after its first drop).
    fn enter(&mut self, now_ns: u64) {
        self.dropping = true;
        let delta = self.count.wrapping_sub(self.last_count);
        self.count = 1;
        // Signed, as in the RFC: an episode starting before the old drop_next counts too.
        let since_next = now_ns as i128 - self.drop_next_ns as i128;
        if delta > 1 && since_next < 16 * self.interval_ns as i128 {
            self.count = delta;
        }
        self.drop_next_ns = self.control_law(now_ns, self.count);
        self.last_count = self.count;
    }

    /// The popped request waited `sojourn_ns`; `waiting` others remain. Drop it or serve it;
    /// after `Drop` the caller pops the next and asks again, after `Serve` the call is over.
    pub fn next(&mut self, now_ns: u64, sojourn_ns: u64, waiting: usize) -> Verdict {
        let ok = self.ok_to_drop(now_ns, sojourn_ns, waiting);
        let verdict = match self.phase {
            Phase::First if self.dropping => {
                if !ok {
                    self.dropping = false;
                    Verdict::Serve
                } else if now_ns >= self.drop_next_ns {
                    self.count += 1;
                    self.phase = Phase::Dropping;
                    Verdict::Drop
                } else {
                    Verdict::Serve
                }
            }
            Phase::First => {
                if ok {
                    self.phase = Phase::Entering;
                    Verdict::Drop
                } else {
                    Verdict::Serve
                }
            }
            Phase::Dropping => {
                if !ok {
                    self.dropping = false;
                    Verdict::Serve
                } else {
                    self.drop_next_ns = self.control_law(self.drop_next_ns, self.count);
                    if now_ns >= self.drop_next_ns {
                        self.count += 1;
                        Verdict::Drop
                    } else {
                        Verdict::Serve
                    }
                }
            }
            Phase::Entering => {
                self.enter(now_ns);
                Verdict::Serve
            }
        };
        if verdict == Verdict::Drop {
            self.drops += 1;
        } else {
            self.phase = Phase::First;
        }
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: u64 = 1_000_000;

    /// One popped request: its sojourn (ms), how many still wait, and the verdict expected.
    type Pop = (u64, usize, Verdict);

    /// A hand-worked sequence, target 5 ms, interval 100 ms, each line one dequeue at `now`
    /// of requests that waited `sojourn` with `waiting` left, and the verdicts the RFC's
    /// pseudocode gives (worked by hand from section 5, not from this code):
    #[test]
    fn the_drop_schedule_follows_rfc_8289() {
        let mut c = CoDel::new(5 * MS, 100 * MS);
        // (now ms, [(sojourn ms, waiting after, expected)])
        let steps: &[(u64, &[Pop])] = &[
            // Below target: nothing armed.
            (0, &[(1, 5, Verdict::Serve)]),
            // Above target: first_above = 10 + 100 = 110.
            (10, &[(20, 5, Verdict::Serve)]),
            // Still before 110: served.
            (60, &[(30, 5, Verdict::Serve)]),
            // At 110: ok to drop; not dropping, so drop it, serve the next, and start an
            // episode: count 1, drop_next = 110 + 100/sqrt(1) = 210.
            (110, &[(40, 5, Verdict::Drop), (40, 4, Verdict::Serve)]),
            // Dropping, before drop_next: served.
            (150, &[(40, 5, Verdict::Serve)]),
            // At 210: drop (count 2); the next is ok to drop, drop_next = 210 + 100/sqrt(2)
            // = 280.71 > 210: served.
            (210, &[(40, 5, Verdict::Drop), (40, 4, Verdict::Serve)]),
            // At 281 >= 280.71: drop (count 3), next: drop_next = 280.71 + 57.7 = 338.4: serve.
            (281, &[(40, 5, Verdict::Drop), (40, 4, Verdict::Serve)]),
            // Below target: the episode ends, served.
            (300, &[(2, 5, Verdict::Serve)]),
            // Above again, armed: first_above = 310 + 100 = 410.
            (310, &[(40, 5, Verdict::Serve)]),
            // At 410: ok; a new episode begins with a drop; delta = count 3 - last_count 1
            // = 2 > 1 and now - drop_next (410 - 338.4) < 1600, so count = 2 and
            // drop_next = 410 + 100/sqrt(2) = 480.71.
            (410, &[(40, 5, Verdict::Drop), (40, 4, Verdict::Serve)]),
            (480, &[(40, 5, Verdict::Serve)]),
            // At 481: drop (count 3), then drop_next = 480.71 + 57.7 = 538.4: serve.
            (481, &[(40, 5, Verdict::Drop), (40, 4, Verdict::Serve)]),
            // A request that leaves at most one waiting is never dropped and disarms.
            (600, &[(40, 1, Verdict::Serve)]),
        ];
        let mut drops = 0;
        for (now, pops) in steps {
            c.begin();
            for (i, (sojourn, waiting, want)) in pops.iter().enumerate() {
                let got = c.next(now * MS, sojourn * MS, *waiting);
                assert_eq!(got, *want, "at {now} ms, pop {i}");
                drops += (got == Verdict::Drop) as u64;
            }
        }
        assert_eq!(c.drops, drops);
        assert_eq!(drops, 5);
    }

    /// Drops come closer together as an episode goes on: interval / sqrt(count).
    #[test]
    fn a_standing_queue_is_dropped_ever_faster() {
        let mut c = CoDel::new(5 * MS, 100 * MS);
        let mut drop_times = Vec::new();
        // A dequeue every millisecond of requests that waited 50 ms, with a long queue.
        for now in (0..2_000).map(|t| t * MS) {
            c.begin();
            while c.next(now, 50 * MS, 100) == Verdict::Drop {
                drop_times.push(now / MS);
            }
        }
        // Armed at 0 (first_above 100), first drop at 100, then 200, 270.7, 328.4, 378.4 ...
        assert_eq!(&drop_times[..5], &[100, 200, 271, 329, 379]);
        let gaps: Vec<u64> = drop_times.windows(2).map(|w| w[1] - w[0]).collect();
        assert!(gaps.windows(2).all(|g| g[1] <= g[0] + 1), "{gaps:?}");
    }
}
