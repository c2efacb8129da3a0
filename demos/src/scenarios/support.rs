//! What the thread scenarios share: starting a batch of mp-threads threads and joining
//! every one of them within a bound, a transcript of the lines several threads print, and
//! the check that sleeping threads really overlapped.

use std::fmt::Display;
use std::time::{Duration, Instant};

use mp::sync::Mutex;
use mp::threads::JoinHandle;

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

/// Python's `t.join()`, bounded: the target's value, or why there is none.
pub(super) fn join_within<T>(handle: JoinHandle<T>, limit: Duration) -> Result<T, DemoError> {
    match handle.join_timeout(limit) {
        Ok(value) => Ok(value),
        Err(mp::threads::Error::TimedOut) => Err(DemoError::ThreadTimedOut {
            name: handle.thread().name().to_owned(),
            limit,
        }),
        Err(other) => Err(other.into()),
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
        mut start: impl FnMut(I) -> Result<JoinHandle<T>, mp::threads::Error>,
    ) -> Self {
        let mut handles = Vec::new();
        let mut not_started = None;
        for item in items {
            match start(item) {
                Ok(handle) => handles.push(handle),
                Err(error) => {
                    not_started = Some(error.into());
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

/// When one wait of a thread began and ended, as the thread itself saw it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Span {
    began: Instant,
    ended: Instant,
}

impl Span {
    /// Runs `wait` and returns its value with the span it took.
    pub(super) fn around<R>(wait: impl FnOnce() -> R) -> (R, Span) {
        let began = Instant::now();
        let value = wait();
        let ended = Instant::now();
        (value, Span { began, ended })
    }

    /// The span of a wait timed by its own code (an `.await`, which `around` cannot wrap).
    pub(super) fn between(began: Instant, ended: Instant) -> Span {
        Span { began, ended }
    }

    /// How long the wait took.
    pub(super) fn duration(&self) -> Duration {
        self.ended.saturating_duration_since(self.began)
    }
}

/// Checks that the waits of `spans` overlapped, and prints the comparison.
///
/// Run one after another, the waits would cover at least the sum of their durations from
/// the first beginning to the last end; all at once, about the longest of them. The limit
/// lies halfway between. It is computed from the durations measured in this very run, so a
/// busy machine that stretches every wait stretches the limit too; and the spans are
/// measured by the threads around the waits alone (the scenarios line the waits up at a
/// barrier first), so the time a busy machine takes to start the threads does not count.
/// Only waits run in turn, or threads kept from starting their waits for about half the
/// sum of the others, reach the limit. With fewer than two waits there is nothing to
/// overlap.
pub(super) fn check_overlapped(what: impl Display, spans: &[Span]) -> Result<(), DemoError> {
    let Some(origin) = spans.iter().map(|span| span.began).min() else {
        return Ok(());
    };
    let waits: Vec<_> = spans
        .iter()
        .map(|span| {
            (
                span.began.saturating_duration_since(origin),
                span.ended.saturating_duration_since(origin),
            )
        })
        .collect();
    check_waits_overlapped(what, &waits)
}

/// The rule of [`check_overlapped`] for waits given as (began, ended) offsets from one
/// origin, however they were timed (threads read `Instant`s, processes the monotonic
/// clock they share).
pub(super) fn check_waits_overlapped(
    what: impl Display,
    waits: &[(Duration, Duration)],
) -> Result<(), DemoError> {
    let duration = |&(began, ended): &(Duration, Duration)| ended.saturating_sub(began);
    let (Some(first), Some(last), Some(longest)) = (
        waits.iter().map(|wait| wait.0).min(),
        waits.iter().map(|wait| wait.1).max(),
        waits.iter().map(duration).max(),
    ) else {
        return Ok(());
    };
    let together = last.saturating_sub(first);
    let one_by_one: Duration = waits.iter().map(duration).sum();
    let limit = (longest + one_by_one) / 2;
    println!(
        "{what}: {} waits (the longest {}) took {} together; one after another: at least {}",
        waits.len(),
        format_duration(longest),
        format_duration(together),
        format_duration(one_by_one)
    );
    if waits.len() < 2 {
        return Ok(());
    }
    check(
        together < limit,
        format_args!(
            "{what}: the {} waits overlap, all done within {} (took {})",
            waits.len(),
            format_duration(limit),
            format_duration(together)
        ),
    )
}

/// Checks that scenario `name` refuses each argument list of `cases` with a usage error
/// (the test every scenario has for its options).
#[cfg(test)]
pub(super) fn assert_usage_errors(
    name: &str,
    run: fn(&crate::Context) -> Result<(), DemoError>,
    cases: &[&[&str]],
) {
    for args in cases {
        let ctx = crate::Context::new(name, args.iter().map(|arg| (*arg).to_owned()).collect());
        assert!(
            matches!(run(&ctx), Err(DemoError::Usage(_))),
            "{name} {args:?} should be a usage error"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `count` spans of `each`, each beginning `gap` after the one before.
    fn spans(count: u32, each: Duration, gap: Duration) -> Vec<Span> {
        let zero = Instant::now();
        (0..count)
            .map(|i| {
                let began = zero + gap * i;
                Span {
                    began,
                    ended: began + each,
                }
            })
            .collect()
    }

    #[test]
    fn overlapping_waits_pass_and_sequential_ones_fail() {
        let each = Duration::from_millis(100);
        let ms = Duration::from_millis;
        assert!(check_overlapped("test", &spans(5, each, ms(5))).is_ok());
        assert!(check_overlapped("test", &spans(5, each, each)).is_err());
        // Five waits: the limit is three waits, so starts 50 ms apart end at 300 ms.
        assert!(check_overlapped("test", &spans(5, each, ms(49))).is_ok());
        assert!(check_overlapped("test", &spans(5, each, ms(50))).is_err());
        // Two waits: the limit is 1.5 waits.
        assert!(check_overlapped("test", &spans(2, each, ms(40))).is_ok());
        assert!(check_overlapped("test", &spans(2, each, ms(60))).is_err());
        // Waits a busy machine stretched to 1 s stretch the limit: 0.4 s apart, they overlap.
        assert!(check_overlapped("test", &spans(5, ms(1000), ms(400))).is_ok());
        // One wait, or none, overlaps with nothing: never a failure.
        assert!(check_overlapped("test", &spans(1, ms(9000), ms(0))).is_ok());
        assert!(check_overlapped("test", &[]).is_ok());
    }

    #[test]
    fn a_span_is_measured_around_its_wait() {
        let (value, span) = Span::around(|| {
            std::thread::sleep(Duration::from_millis(2));
            7
        });
        assert_eq!(value, 7);
        assert!(span.ended.duration_since(span.began) >= Duration::from_millis(2));
    }

    #[test]
    fn join_all_joins_every_thread_and_reports_a_panic() {
        let started = Started::each(0..4u32, |n| {
            mp::threads::Thread::new(
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
            matches!(&err, DemoError::Mp(error) if matches!(
                error.as_ref(),
                mp::Error::Threads(mp::threads::Error::Panicked { message, .. })
                    if message == "thread 2 refuses"
            )),
            "{err}"
        );
        assert!(infos.iter().all(|info| !info.is_alive()));
    }

    #[test]
    fn join_all_returns_values_in_start_order() {
        let started = Started::each(1..=3u64, |n| {
            mp::threads::Thread::new(|n: u64| n * n, (n,)).start()
        });
        assert_eq!(started.join_all(JOIN_LIMIT).unwrap(), [1, 4, 9]);
    }

    #[test]
    fn a_thread_past_its_limit_is_an_error_not_a_hang() {
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let late = mp::threads::Thread::new(
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
