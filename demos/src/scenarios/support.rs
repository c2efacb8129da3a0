//! What the thread scenarios share: starting a batch of mp-threads threads and joining
//! every one of them within a bound, a transcript of the lines several threads print, and
//! the check that sleeping threads really overlapped.

use std::fmt::Display;
use std::time::{Duration, Instant};

use mp_sync::Mutex;
use mp_threads::JoinHandle;

use crate::{DemoError, check, format_duration, scaled};

/// Far above what any thread of these scenarios takes; only a hang gets there.
pub(super) const JOIN_LIMIT: Duration = Duration::from_secs(120);

/// The shortest sleep a scenario uses when it checks that sleeps overlapped.
///
/// At `--scale 0.01` a one-second sleep of the original would be 10 ms, and a loaded
/// machine can pause a thread for about that long: a concurrency check on such sleeps
/// could fail without anything being wrong. Below this floor the sleeps stop shrinking.
pub(super) const MIN_CHECKED_SLEEP: Duration = Duration::from_millis(100);

/// `seconds` of the original at the scale in force, but never less than `floor`.
pub(super) fn scaled_at_least(seconds: f64, floor: Duration) -> Duration {
    scaled(seconds).max(floor)
}

/// An error of mp-threads as the scenario's error: a panic keeps its thread's name and
/// message, the rest keep their own text.
pub(super) fn thread_error(error: mp_threads::Error) -> DemoError {
    match error {
        mp_threads::Error::Panicked { thread, message } => DemoError::ThreadPanicked {
            name: thread,
            message,
        },
        other => DemoError::other(other),
    }
}

/// Python's `t.join()`, bounded: the target's value, or why there is none.
pub(super) fn join_within<T>(mut handle: JoinHandle<T>, limit: Duration) -> Result<T, DemoError> {
    match handle.join_timeout(limit) {
        Ok(value) => Ok(value),
        Err(mp_threads::Error::TimedOut) => Err(DemoError::ThreadTimedOut {
            name: handle.thread().name().to_owned(),
            limit,
        }),
        Err(other) => Err(thread_error(other)),
    }
}

/// Threads started one after another, and the error that stopped the starting early, if
/// one did.
///
/// Whatever happens, [`Started::join_all`] joins every thread that did start before it
/// reports anything, so that no thread outlives the scenario.
pub(super) struct Started<T> {
    handles: Vec<JoinHandle<T>>,
    not_started: Option<DemoError>,
}

impl<T> Started<T> {
    /// Calls `start` on each item in turn, stopping at the first refusal.
    pub(super) fn each<I>(
        items: impl IntoIterator<Item = I>,
        mut start: impl FnMut(I) -> Result<JoinHandle<T>, mp_threads::Error>,
    ) -> Self {
        let mut handles = Vec::new();
        let mut not_started = None;
        for item in items {
            match start(item) {
                Ok(handle) => handles.push(handle),
                Err(error) => {
                    not_started = Some(thread_error(error));
                    break;
                }
            }
        }
        Self {
            handles,
            not_started,
        }
    }

    /// Whether every thread asked for was started.
    pub(super) fn all_started(&self) -> bool {
        self.not_started.is_none()
    }

    /// Joins every started thread, all within `limit` of this call, and returns their
    /// values in the order they were started. Fails with the error that stopped the
    /// starting, else with the first thread's failure.
    pub(super) fn join_all(self, limit: Duration) -> Result<Vec<T>, DemoError> {
        let deadline = Instant::now() + limit;
        let outcomes: Vec<Result<T, DemoError>> = self
            .handles
            .into_iter()
            .map(|handle| {
                let left = deadline.saturating_duration_since(Instant::now());
                join_within(handle, left)
            })
            .collect();
        if let Some(error) = self.not_started {
            return Err(error);
        }
        outcomes.into_iter().collect()
    }
}

/// The lines that several threads print, in the order they printed them.
///
/// Printing and recording happen under one lock, so the recorded order is the order on
/// the screen, and a scenario can check what its threads said.
pub(super) struct Transcript {
    lines: Mutex<Vec<String>>,
}

impl Transcript {
    /// An empty transcript.
    pub(super) fn new() -> Self {
        Self {
            lines: Mutex::new(Vec::new()),
        }
    }

    /// Prints `line` and records it.
    pub(super) fn say(&self, line: impl Into<String>) -> Result<(), DemoError> {
        let line = line.into();
        let mut lines = self.lines.lock()?;
        println!("{line}");
        lines.push(line);
        Ok(())
    }

    /// Every line said so far, in order.
    pub(super) fn lines(&self) -> Result<Vec<String>, DemoError> {
        Ok(self.lines.lock()?.clone())
    }
}

/// Checks that `count` waits of `each` overlapped, given that all of them together took
/// `wall`, and prints the comparison.
///
/// One after another they would take at least `count x each` (a sleep or a delayed reply
/// never ends early); together, about `each`. The limit lies halfway between,
/// `(count + 1) / 2 x each`, so that only a pause of the whole machine of about half the
/// sequential time could make it fail, and only running them one at a time can reach it.
/// With fewer than two waits there is nothing to overlap.
pub(super) fn check_overlapped(
    what: impl Display,
    count: u32,
    each: Duration,
    wall: Duration,
) -> Result<(), DemoError> {
    let sequential = each.saturating_mul(count);
    let limit = each.saturating_mul(count.saturating_add(1)) / 2;
    println!(
        "{what}: {count} x {} took {} together; one after another: at least {}",
        format_duration(each),
        format_duration(wall),
        format_duration(sequential)
    );
    if count < 2 {
        return Ok(());
    }
    check(
        wall < limit,
        format_args!(
            "{what}: the {count} waits of {} each overlap, taking less than {} (took {})",
            format_duration(each),
            format_duration(limit),
            format_duration(wall)
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_waits_pass_and_sequential_ones_fail() {
        let each = Duration::from_millis(100);
        assert!(check_overlapped("test", 5, each, Duration::from_millis(120)).is_ok());
        assert!(check_overlapped("test", 5, each, Duration::from_millis(500)).is_err());
        // Two waits: the limit is 1.5 waits.
        assert!(check_overlapped("test", 2, each, Duration::from_millis(140)).is_ok());
        assert!(check_overlapped("test", 2, each, Duration::from_millis(200)).is_err());
        // One wait overlaps with nothing: never a failure.
        assert!(check_overlapped("test", 1, each, Duration::from_secs(9)).is_ok());
    }

    #[test]
    fn join_all_joins_every_thread_and_reports_a_panic() {
        let started = Started::each(0..4u32, |n| {
            mp_threads::Thread::new(
                |n: u32| {
                    assert!(n != 2, "thread {n} refuses");
                    n * 10
                },
                (n,),
            )
            .start()
        });
        assert!(started.all_started());
        let infos: Vec<_> = started.handles.iter().map(|h| h.thread().clone()).collect();
        let err = started.join_all(JOIN_LIMIT).unwrap_err();
        assert!(
            matches!(&err, DemoError::ThreadPanicked { message, .. } if message == "thread 2 refuses"),
            "{err}"
        );
        assert!(infos.iter().all(|info| !info.is_alive()));
    }

    #[test]
    fn join_all_returns_values_in_start_order() {
        let started = Started::each(1..=3u64, |n| {
            mp_threads::Thread::new(|n: u64| n * n, (n,)).start()
        });
        assert_eq!(started.join_all(JOIN_LIMIT).unwrap(), [1, 4, 9]);
    }

    #[test]
    fn a_thread_past_its_limit_is_an_error_not_a_hang() {
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let late = mp_threads::Thread::new(
            move || {
                let _ = wait.recv_timeout(Duration::from_secs(10));
            },
            (),
        )
        .name("late")
        .start()
        .unwrap();
        let info = late.thread().clone();
        let err = join_within(late, Duration::from_millis(20)).unwrap_err();
        assert!(matches!(err, DemoError::ThreadTimedOut { ref name, .. } if name == "late"));
        release.send(()).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while info.is_alive() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert!(!info.is_alive());
    }

    #[test]
    fn the_transcript_keeps_the_order_of_saying() {
        let transcript = Transcript::new();
        transcript.say("one").unwrap();
        transcript.say(String::from("two")).unwrap();
        assert_eq!(transcript.lines().unwrap(), ["one", "two"]);
    }
}
