//! Waiting for something another thread or process will do, without guessing how long it
//! takes: a test that sleeps for a guessed time is slow when the guess is long and flaky
//! when the machine is loaded; polling under a generous bound is neither.

use std::convert::Infallible;
use std::time::Duration;

use mp_sys::Deadline;

/// Polls `condition` until it holds (true) or `bound` passes (false).
///
/// ```
/// use std::time::Duration;
/// use test_support::holds_within;
///
/// let mut calls = 0;
/// assert!(holds_within(|| { calls += 1; calls == 3 }, Duration::from_secs(5)));
/// assert!(!holds_within(|| false, Duration::ZERO));
/// ```
pub fn holds_within(mut condition: impl FnMut() -> bool, bound: Duration) -> bool {
    let outcome: Result<Option<()>, Infallible> = poll_for(bound, || Ok(condition().then_some(())));
    matches!(outcome, Ok(Some(())))
}

/// Calls `attempt` until it gives a value or an error, or `bound` passes (`Ok(None)`),
/// sleeping a little longer between attempts each time (up to a millisecond).
pub(crate) fn poll_for<T, E>(
    bound: Duration,
    mut attempt: impl FnMut() -> Result<Option<T>, E>,
) -> Result<Option<T>, E> {
    let deadline = Deadline::after(bound);
    let mut pause = Duration::from_micros(50);
    loop {
        if let Some(value) = attempt()? {
            return Ok(Some(value));
        }
        if deadline.has_passed() {
            return Ok(None);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(1));
    }
}

/// Polls `condition` until it holds; fails the test (panics, naming the caller's line)
/// if it still does not hold when `bound` has passed.
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use test_support::{PATIENCE, eventually};
///
/// let done = AtomicBool::new(false);
/// std::thread::scope(|scope| {
///     scope.spawn(|| done.store(true, Ordering::SeqCst));
///     eventually(|| done.load(Ordering::SeqCst), PATIENCE);
/// });
/// ```
///
/// ```should_panic
/// test_support::eventually(|| false, std::time::Duration::from_millis(1));
/// ```
#[track_caller]
pub fn eventually(condition: impl FnMut() -> bool, bound: Duration) {
    let caller = std::panic::Location::caller();
    assert!(
        holds_within(condition, bound),
        "the condition at {caller} did not hold within {bound:?}"
    );
}
