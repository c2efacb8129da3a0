//! Event rows: a ping-pong between two processes.
//!
//! The parent sets `ping` and waits for `pong`; a forked child waits for `ping`,
//! clears it and sets `pong`. One operation is one round trip: two cross-process
//! wake-ups. Fork and the first round trip (which meets a child still starting)
//! are outside the timed loop.

use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use mp_sync::Event;

use crate::error::BenchError;
use crate::fork::{ForkedChild, SharedMapping};
use crate::futex;
use crate::row::{Contender, Goal, Row, Unit};

/// The event rows.
pub fn rows() -> Vec<Row> {
    vec![pingpong()]
}

/// Longest either process waits for the other before giving up.
const WAIT_LIMIT: Duration = Duration::from_secs(5);

/// Exit code of a child that waited `WAIT_LIMIT` for a ping in vain.
const CHILD_TIMED_OUT: i32 = 2;

fn pingpong() -> Row {
    Row {
        name: "event-pingpong",
        family: "events",
        what: "round trip between two processes: set the other's event, wait for ours",
        unit: Unit::TimePer("round trip"),
        goal: Some(Goal::within(1.0, "bare shared futex")),
        contenders: vec![
            Contender::ours("mp_sync::Event", pingpong_mp_event),
            Contender::peer("bare shared futex", pingpong_bare_futex),
            Contender::python(
                "multiprocessing.Event",
                "events.py",
                "multiprocessing-event-pingpong",
            ),
        ],
    }
}

/// The two events, side by side in the shared mapping.
#[repr(C)]
struct EventPair {
    ping: Event,
    pong: Event,
}

fn pingpong_mp_event(iterations: u64) -> Result<Duration, BenchError> {
    let shared = SharedMapping::try_new(EventPair {
        ping: Event::new(),
        pong: Event::new(),
    })?;
    let child = ForkedChild::spawn(&shared, |pair| {
        // One warm-up round trip, then the timed ones.
        for _ in 0..=iterations {
            if pair.ping.wait_timeout(WAIT_LIMIT).is_err() {
                return CHILD_TIMED_OUT;
            }
            pair.ping.clear();
            pair.pong.set();
        }
        0
    })?;
    let pair = &*shared;
    let round_trip = || {
        pair.ping.set();
        if pair.pong.wait_timeout(WAIT_LIMIT).is_err() {
            return Err(BenchError::TimedOut {
                what: "the child's pong",
                timeout: WAIT_LIMIT,
            });
        }
        pair.pong.clear();
        Ok(())
    };
    child.time_round_trips(iterations, WAIT_LIMIT, round_trip)
}

/// Two futex words, each 0 (empty) or 1 (posted).
#[repr(C)]
struct FutexPair {
    ping: AtomicU32,
    pong: AtomicU32,
}

/// Posts `word` and always issues the wake system call: no waiter bookkeeping.
fn post(word: &AtomicU32) {
    word.store(1, Ordering::Release);
    futex::wake(word, 1);
}

/// Consumes a post of `word`, sleeping in the kernel until there is one: one check,
/// then sleep, no spinning. False if nothing was posted within `WAIT_LIMIT`.
fn take(word: &AtomicU32) -> bool {
    let deadline = Instant::now() + WAIT_LIMIT;
    loop {
        if word.swap(0, Ordering::Acquire) == 1 {
            return true;
        }
        let now = Instant::now();
        if now >= deadline {
            return false;
        }
        futex::wait(word, 0, deadline - now);
    }
}

fn pingpong_bare_futex(iterations: u64) -> Result<Duration, BenchError> {
    let shared = SharedMapping::try_new(FutexPair {
        ping: AtomicU32::new(0),
        pong: AtomicU32::new(0),
    })?;
    let child = ForkedChild::spawn(&shared, |pair| {
        for _ in 0..=iterations {
            if !take(&pair.ping) {
                return CHILD_TIMED_OUT;
            }
            post(&pair.pong);
        }
        0
    })?;
    let pair = &*shared;
    let round_trip = || {
        post(&pair.ping);
        if take(&pair.pong) {
            Ok(())
        } else {
            Err(BenchError::TimedOut {
                what: "the child's pong",
                timeout: WAIT_LIMIT,
            })
        }
    };
    child.time_round_trips(iterations, WAIT_LIMIT, round_trip)
}
