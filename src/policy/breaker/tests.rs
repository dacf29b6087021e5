//! Each breaker held to its library's documented behaviour, one script per rule.

use super::*;
use crate::policy::backoff::Backoff;
use crate::policy::Outcome::{Error as E, Ok as K, Rejected as Rj, Timeout as T};
use crate::policy::OutcomeSet;
use BreakerState::*;

const MS: u64 = 1_000_000;

/// One step of a script: at `ms` milliseconds, ask for a permit (expecting `true` =
/// permitted) or report a result (outcome, duration in ms), then expect a state.
#[derive(Clone, Copy)]
enum Step {
    Acquire(u64, bool, BreakerState),
    Result(u64, Outcome, u64, BreakerState),
}
use Step::{Acquire as A, Result as R};

fn check(mut b: Breaker, script: &[Step]) {
    for (i, step) in script.iter().enumerate() {
        match *step {
            A(ms, want, state) => {
                let got = b.try_acquire(ms * MS).is_ok();
                assert_eq!(got, want, "step {i}: acquire at {ms} ms");
                assert_eq!(b.state(), state, "step {i}: state after acquire at {ms} ms");
            }
            R(ms, o, dur_ms, state) => {
                b.on_result(ms * MS, o, dur_ms * MS);
                assert_eq!(b.state(), state, "step {i}: state after {o:?} at {ms} ms");
            }
        }
    }
}

fn r4j(f: impl FnOnce(&mut Resilience4jConfig)) -> Breaker {
    let mut c = Resilience4jConfig {
        sliding_window: SlidingWindow::CountBased { size: 4 },
        minimum_number_of_calls: 4,
        permitted_calls_in_half_open: 2,
        wait_in_open: Backoff::Constant {
            delay_ns: 1000 * MS,
        },
        ..Default::default()
    };
    f(&mut c);
    Breaker::Resilience4j(Resilience4jBreaker::new(c).unwrap())
}

#[test]
fn r4j_trips_at_the_failure_rate_once_minimum_calls_are_in() {
    // 2 of 4 failed = 50% >= 50: opens on the 4th result, not before.
    check(
        r4j(|_| {}),
        &[
            R(0, E, 1, Closed),
            R(1, K, 1, Closed),
            R(2, E, 1, Closed),
            R(3, K, 1, Open),
        ],
    );
    // 1 of 4 = 25% stays closed; the window slides: [K K K E] is still 25%, [K K E E] is 50%.
    check(
        r4j(|_| {}),
        &[
            R(0, E, 1, Closed),
            R(1, K, 1, Closed),
            R(2, K, 1, Closed),
            R(3, K, 1, Closed),
            R(4, E, 1, Closed),
            R(5, E, 1, Open),
        ],
    );
    // minimum_number_of_calls is clamped to the window size for count-based windows.
    check(
        r4j(|c| c.minimum_number_of_calls = 100),
        &[
            R(0, E, 1, Closed),
            R(1, E, 1, Closed),
            R(2, K, 1, Closed),
            R(3, K, 1, Open),
        ],
    );
}

#[test]
fn r4j_slow_calls_trip_when_strictly_longer_than_the_threshold() {
    let slow = |c: &mut Resilience4jConfig| {
        c.slow_call_duration_threshold_ns = 100 * MS;
        c.slow_call_rate_threshold = 50.0;
    };
    // Exactly 100 ms is not slow.
    check(
        r4j(slow),
        &[
            R(0, K, 100, Closed),
            R(1, K, 100, Closed),
            R(2, K, 100, Closed),
            R(3, K, 100, Closed),
        ],
    );
    check(
        r4j(slow),
        &[
            R(0, K, 101, Closed),
            R(1, K, 1, Closed),
            R(2, K, 101, Closed),
            R(3, K, 1, Open),
        ],
    );
}

const TRIP: [Step; 4] = [
    R(0, E, 1, Closed),
    R(0, E, 1, Closed),
    R(0, E, 1, Closed),
    R(0, E, 1, Open),
];

/// Tripped at 0 with a 1000 ms wait, then the trial call at 1001 ms.
fn tripped_r4j() -> Vec<Step> {
    let mut s = TRIP.to_vec();
    s.push(A(1001, true, HalfOpen));
    s
}

#[test]
fn r4j_open_to_half_open_is_strict() {
    // Opened at 0 with a 1000 ms wait: rejected at exactly 1000 ms, permitted after it.
    check(
        r4j(|_| {}),
        &[
            &TRIP[..],
            &[
                A(999, false, Open),
                A(1000, false, Open),
                A(1001, true, HalfOpen),
            ],
        ]
        .concat(),
    );
    // With automatic transition the breaker is half-open at exactly the wait.
    check(
        r4j(|c| c.automatic_transition = true),
        &[&TRIP[..], &[A(1000, true, HalfOpen)]].concat(),
    );
}

#[test]
fn r4j_half_open_permits_and_decides_after_min_of_minimum_and_permitted() {
    // permitted 2: the trial call took one permit; one more, then rejected.
    let mut s = tripped_r4j();
    s.extend([A(1002, true, HalfOpen), A(1003, false, HalfOpen)]);
    // Both succeed: decided after min(4, 2) = 2 results -> closed.
    s.extend([R(1004, K, 1, HalfOpen), R(1005, K, 1, Closed)]);
    check(r4j(|_| {}), &s);
    // One of two fails: 50% >= 50 -> open again.
    let mut s = tripped_r4j();
    s.extend([
        A(1002, true, HalfOpen),
        R(1004, K, 1, HalfOpen),
        R(1005, E, 1, Open),
        A(1006, false, Open),
    ]);
    check(r4j(|_| {}), &s);
    // An ignored outcome gives its permit back and is not recorded.
    let mut s = tripped_r4j();
    s.extend([
        A(1002, true, HalfOpen),
        A(1003, false, HalfOpen),
        R(1004, Rj, 1, HalfOpen),
        A(1005, true, HalfOpen),
    ]);
    check(r4j(|c| c.ignore = OutcomeSet::of(&[Outcome::Rejected])), &s);
}

#[test]
fn r4j_exponential_wait_grows_with_each_reopening() {
    // Wait 1000 ms, then 2000 ms after failing in half-open.
    let b = r4j(|c| {
        c.wait_in_open = Backoff::Resilience4j {
            initial_ms: 1000,
            multiplier: 2.0,
            max_ms: None,
            randomization_factor: None,
        };
        c.permitted_calls_in_half_open = 1;
    });
    let mut s = tripped_r4j();
    s.extend([
        R(1002, E, 1, Open),
        A(3002, false, Open),
        A(3003, true, HalfOpen),
        R(3004, K, 1, Closed),
    ]);
    check(b, &s);
}

#[test]
fn r4j_late_results_in_open_are_recorded_without_transition() {
    let mut s = tripped_r4j();
    s.truncate(4);
    s.extend([R(10, K, 1, Open), R(11, E, 1, Open), A(500, false, Open)]);
    check(r4j(|_| {}), &s);
}

#[test]
fn r4j_special_states() {
    check(
        r4j(|c| c.initial_state = Disabled),
        &[
            R(0, E, 1, Disabled),
            R(0, E, 1, Disabled),
            R(0, E, 1, Disabled),
            R(0, E, 1, Disabled),
            A(1, true, Disabled),
        ],
    );
    check(
        r4j(|c| c.initial_state = ForcedOpen),
        &[A(0, false, ForcedOpen), A(1_000_000, false, ForcedOpen)],
    );
    check(
        r4j(|c| c.initial_state = MetricsOnly),
        &[
            R(0, E, 1, MetricsOnly),
            R(0, E, 1, MetricsOnly),
            R(0, E, 1, MetricsOnly),
            R(0, E, 1, MetricsOnly),
            A(1, true, MetricsOnly),
        ],
    );
}

#[test]
fn r4j_max_wait_in_half_open_moves_on() {
    let mut s = tripped_r4j();
    // Half-open since 1001 ms; after 500 ms without a decision it goes to the target state.
    s.extend([A(1500, true, HalfOpen), A(1501, false, Open)]);
    check(r4j(|c| c.max_wait_in_half_open_ns = 500 * MS), &s);
    let mut s = tripped_r4j();
    s.extend([A(1501, true, Closed)]);
    check(
        r4j(|c| {
            c.max_wait_in_half_open_ns = 500 * MS;
            c.after_max_wait_in_half_open = Closed;
        }),
        &s,
    );
}

#[test]
fn r4j_time_driven_transitions_happen_at_their_times_without_calls() {
    // Automatic transition with a 1000 ms wait and a 500 ms half-open max wait, tripped at 0
    // and then left alone: half-open at exactly 1000 ms, open again at 1500 (no calls came
    // to decide), half-open a wait later at 2500, ... a cycle of 1500 ms. Woken at each due
    // time, or once at the end, the breaker records the same transitions at the same times.
    let cfg = |c: &mut Resilience4jConfig| {
        c.automatic_transition = true;
        c.max_wait_in_half_open_ns = 500 * MS;
    };
    let mut want = vec![(0, Closed, Open)];
    for k in 0..4u64 {
        want.push(((1000 + 1500 * k) * MS, Open, HalfOpen));
        want.push(((1500 + 1500 * k) * MS, HalfOpen, Open));
    }
    let end = 6000 * MS; // the last transition due by then: open at 6000 ms
    let trip = |b: &mut Breaker| {
        for _ in 0..4 {
            b.on_result(0, E, MS);
        }
    };
    // Woken at each due time the breaker asks for.
    let mut b = r4j(cfg);
    trip(&mut b);
    let mut got = b.take_transitions(Closed, 0);
    let mut wakes = Vec::new();
    while let Some(due) = b.wake_at() {
        if due > end {
            break;
        }
        wakes.push(due);
        b.tick(due);
        got.extend(b.take_transitions(b.state(), due));
    }
    assert_eq!(got, want);
    assert_eq!(wakes, want[1..].iter().map(|w| w.0).collect::<Vec<_>>());
    assert_eq!(b.wake_at(), None, "each due time is handed out once");
    // Woken once, late: the same transitions at their own times, not at the wake-up's.
    let mut b = r4j(cfg);
    trip(&mut b);
    b.tick(end);
    assert_eq!(b.take_transitions(Open, end), want);
    assert_eq!(b.state(), Open);
    // Without automatic transition nothing is due while open: the first call after the
    // wait moves it (strictly after), as before.
    let mut b = r4j(|c| c.max_wait_in_half_open_ns = 500 * MS);
    trip(&mut b);
    assert_eq!(b.wake_at(), None);
}

#[test]
fn r4j_time_window_uses_whole_second_buckets() {
    // 3-second window, 2 minimum calls. A failure at 0.9 s counts until t reaches 3.0 s.
    let b = r4j(|c| {
        c.sliding_window = SlidingWindow::TimeBased { seconds: 3 };
        c.minimum_number_of_calls = 2;
    });
    check(b, &[R(900, E, 1, Closed), R(2999, E, 1, Open)]);
    let b = r4j(|c| {
        c.sliding_window = SlidingWindow::TimeBased { seconds: 3 };
        c.minimum_number_of_calls = 2;
    });
    // At 3.0 s the 0.9 s failure has left the window: 1 call, below the minimum; the next
    // call makes 2 with 1 failed.
    check(
        b,
        &[
            R(900, E, 1, Closed),
            R(3000, E, 1, Closed),
            R(3100, K, 1, Open),
        ],
    );
}

fn py(f: impl FnOnce(&mut PyBreakerConfig)) -> Breaker {
    let mut c = PyBreakerConfig {
        fail_max: 3,
        reset_timeout_ns: 1000 * MS,
        ..Default::default()
    };
    f(&mut c);
    Breaker::PyBreaker(PyBreaker::new(c).unwrap())
}

#[test]
fn pybreaker_counts_consecutive_failures() {
    check(
        py(|_| {}),
        &[
            R(0, E, 1, Closed),
            R(1, E, 1, Closed),
            R(2, K, 1, Closed),
            R(3, E, 1, Closed),
            R(4, E, 1, Closed),
            R(5, T, 1, Open),
        ],
    );
    // Excluded outcomes reset the count like a success.
    check(
        py(|c| c.exclude = OutcomeSet::of(&[Outcome::Timeout])),
        &[
            R(0, E, 1, Closed),
            R(1, E, 1, Closed),
            R(2, T, 1, Closed),
            R(3, E, 1, Closed),
            R(4, E, 1, Closed),
            R(5, E, 1, Open),
        ],
    );
}

#[test]
fn pybreaker_reset_timeout_is_inclusive_and_half_open_has_no_probe_limit() {
    let trip = [R(0, E, 1, Closed), R(0, E, 1, Closed), R(0, E, 1, Open)];
    let mut s: Vec<Step> = trip.into_iter().collect();
    s.extend([
        A(999, false, Open),
        A(1000, true, HalfOpen),
        A(1000, true, HalfOpen),
        A(1001, true, HalfOpen),
        R(1002, K, 1, Closed),
    ]);
    check(py(|_| {}), &s);
    // A failure in half-open reopens from that moment.
    let mut s: Vec<Step> = trip.into_iter().collect();
    s.extend([
        A(1000, true, HalfOpen),
        R(1500, E, 1, Open),
        A(2499, false, Open),
        A(2500, true, HalfOpen),
    ]);
    check(py(|_| {}), &s);
    // success_threshold 2: two successes in half-open to close.
    let mut s: Vec<Step> = trip.into_iter().collect();
    s.extend([
        A(1000, true, HalfOpen),
        R(1001, K, 1, HalfOpen),
        R(1002, K, 1, Closed),
    ]);
    check(py(|c| c.success_threshold = 2), &s);
}

fn polly(f: impl FnOnce(&mut PollyConfig)) -> Breaker {
    let mut c = PollyConfig {
        failure_ratio: 0.5,
        minimum_throughput: 4,
        sampling_duration_ns: 10_000 * MS,
        break_duration_ns: 1000 * MS,
        ..Default::default()
    };
    f(&mut c);
    Breaker::Polly(PollyBreaker::new(c).unwrap())
}

#[test]
fn polly_breaks_only_on_a_failure_with_enough_throughput() {
    // Ratio 2/4 reached by a failure: break.
    check(
        polly(|_| {}),
        &[
            R(0, E, 1, Closed),
            R(1, K, 1, Closed),
            R(2, K, 1, Closed),
            R(3, E, 1, Open),
        ],
    );
    // The threshold is reached with a success as the 4th call: no evaluation, stays closed.
    check(
        polly(|_| {}),
        &[
            R(0, E, 1, Closed),
            R(1, E, 1, Closed),
            R(2, K, 1, Closed),
            R(3, K, 1, Closed),
        ],
    );
}

#[test]
fn polly_one_probe_inclusive_boundary() {
    let trip = [
        R(0, E, 1, Closed),
        R(1, K, 1, Closed),
        R(2, K, 1, Closed),
        R(3, E, 1, Open),
    ];
    let mut s: Vec<Step> = trip.into_iter().collect();
    // Open until 1003 ms inclusive: the probe at exactly 1003, then everything else rejected.
    s.extend([
        A(1002, false, Open),
        A(1003, true, HalfOpen),
        A(1004, false, HalfOpen),
        A(2100, false, HalfOpen),
        R(2200, K, 1, Closed),
        A(2201, true, Closed),
    ]);
    check(polly(|_| {}), &s);
    // A failed probe opens for another break duration.
    let mut s: Vec<Step> = trip.into_iter().collect();
    s.extend([
        A(1003, true, HalfOpen),
        R(1100, E, 1, Open),
        A(2099, false, Open),
        A(2100, true, HalfOpen),
    ]);
    check(polly(|_| {}), &s);
    // Polly v7 mode: a hung probe is followed by another after one break duration.
    let mut s: Vec<Step> = trip.into_iter().collect();
    s.extend([
        A(1003, true, HalfOpen),
        A(2002, false, HalfOpen),
        A(2003, true, HalfOpen),
    ]);
    check(polly(|c| c.reprobe_in_half_open = true), &s);
}

#[test]
fn polly_sub_windows_expire_after_the_sampling_duration() {
    // Sampling 10 s in 1 s sub-windows. Two failures at t=0 are gone by t=10 s.
    check(
        polly(|_| {}),
        &[
            R(0, E, 1, Closed),
            R(0, E, 1, Closed),
            R(10_000, K, 1, Closed),
            R(10_001, K, 1, Closed),
            R(10_002, E, 1, Closed),
        ],
    );
    // ...but still count at t = 9.999 s.
    check(
        polly(|_| {}),
        &[
            R(0, E, 1, Closed),
            R(0, E, 1, Closed),
            R(9_000, K, 1, Closed),
            R(9_999, E, 1, Open),
        ],
    );
}

#[test]
fn configurations_are_validated() {
    assert!(Resilience4jBreaker::new(Resilience4jConfig {
        failure_rate_threshold: 0.0,
        ..Default::default()
    })
    .is_err());
    assert!(Resilience4jBreaker::new(Resilience4jConfig {
        max_wait_in_half_open_ns: 5,
        ..Default::default()
    })
    .is_err());
    assert!(PyBreaker::new(PyBreakerConfig {
        fail_max: 0,
        ..Default::default()
    })
    .is_err());
    assert!(PollyBreaker::new(PollyConfig {
        minimum_throughput: 1,
        ..Default::default()
    })
    .is_err());
    assert!(PollyBreaker::new(PollyConfig {
        break_duration_ns: 100 * MS,
        ..Default::default()
    })
    .is_err());
}
