//! Two-process measurements: a value in an anonymous shared mapping, and a forked child
//! that works on it. The children are test-support's (they die with the harness, every
//! wait on them is bounded, a child that overstays is killed and reaped); this module
//! turns their outcomes into [`BenchError`]s.
//!
//! The child only touches the mapping (atomics, futexes, mp-sync primitives) and leaves
//! with `_exit`: it never returns into the harness, never runs destructors, never
//! flushes stdio it inherited.

use std::time::Duration;

pub use test_support::SharedMapping;
use test_support::{CHILD_PANICKED, Child, ChildResult, Ended};

use crate::error::BenchError;

/// A forked child; killed and reaped on drop if `reap` was not called.
pub struct ForkedChild(Child);

impl ForkedChild {
    /// Forks a child that runs `body` on the shared value and exits with the code it
    /// returns.
    ///
    /// `body` must only touch the shared value (atomics, futex waits, mp-sync
    /// primitives) and must not allocate, lock std locks or print: the parent may have
    /// other threads (the test harness does), whose locks the child inherits in
    /// whatever state they were in at the fork.
    pub fn spawn<T: Sync>(
        shared: &SharedMapping<T>,
        body: impl FnOnce(&T) -> i32,
    ) -> Result<Self, BenchError> {
        Ok(Self(test_support::try_spawn_child(|| {
            exit_code(body(shared))
        })?))
    }

    /// Times `iterations` calls of `round_trip` (each a message to this child and its
    /// answer) after one untimed warm-up call, then reaps the child within `reap_limit`.
    pub fn time_round_trips(
        self,
        iterations: u64,
        reap_limit: Duration,
        mut round_trip: impl FnMut() -> Result<(), BenchError>,
    ) -> Result<Duration, BenchError> {
        round_trip()?;
        let start = std::time::Instant::now();
        for _ in 0..iterations {
            round_trip()?;
        }
        let elapsed = start.elapsed();
        self.reap(reap_limit)?;
        Ok(elapsed)
    }

    /// Waits for the child to exit (at most `timeout`, then kills and reaps it) and
    /// checks that it exited with code 0.
    pub fn reap(mut self, timeout: Duration) -> Result<(), BenchError> {
        match self.0.reap_within(timeout) {
            Ok(Ended::Exited(0)) => Ok(()),
            Ok(Ended::Exited(code)) => Err(BenchError::Child(format!(
                "exited with code {code}{}",
                if code == CHILD_PANICKED {
                    " (panicked)"
                } else {
                    ""
                }
            ))),
            Ok(Ended::Killed(signal)) => Err(BenchError::Child(format!("killed by {signal}"))),
            Err(test_support::Error::Overstayed { .. }) => Err(BenchError::TimedOut {
                what: "child process exit",
                timeout,
            }),
            Err(err) => Err(err.into()),
        }
    }
}

/// A body's exit code as a child's result (codes past 255 become 255).
fn exit_code(code: i32) -> ChildResult {
    match code {
        0 => Ok(()),
        code => Err(u8::try_from(code).unwrap_or(u8::MAX)),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::Duration;

    use nix::errno::Errno;
    use nix::sys::signal::kill;
    use nix::unistd::Pid;

    use super::{ForkedChild, SharedMapping};
    use crate::error::BenchError;
    use crate::futex;

    /// True once `pid` no longer exists (reaped, so not even a zombie).
    fn gone(pid: i32) -> bool {
        kill(Pid::from_raw(pid), None) == Err(Errno::ESRCH)
    }

    #[test]
    fn the_child_writes_into_the_shared_mapping() {
        let shared = SharedMapping::new(AtomicU32::new(1));
        let child = ForkedChild::spawn(&shared, |word| {
            word.store(word.load(Ordering::Acquire) + 41, Ordering::Release);
            0
        })
        .expect("fork");
        child.reap(Duration::from_secs(10)).expect("clean exit");
        assert_eq!(shared.load(Ordering::Acquire), 42);
    }

    #[test]
    fn a_nonzero_exit_code_is_an_error() {
        let shared = SharedMapping::new(AtomicU32::new(0));
        let child = ForkedChild::spawn(&shared, |_| 3).expect("fork");
        let err = child
            .reap(Duration::from_secs(10))
            .expect_err("exit code 3");
        assert!(
            matches!(&err, BenchError::Child(m) if m.contains("code 3")),
            "{err}"
        );
    }

    #[test]
    fn a_child_that_overstays_is_killed_and_reaped() {
        let shared = SharedMapping::new(AtomicU32::new(0));
        // Sleeps on a word nobody posts, far longer than the reap allows.
        let child = ForkedChild::spawn(&shared, |word| {
            futex::wait(word, 0, Duration::from_secs(30));
            0
        })
        .expect("fork");
        let pid = child.0.pid();
        let err = child
            .reap(Duration::from_millis(50))
            .expect_err("the child outlives the reap");
        assert!(matches!(err, BenchError::TimedOut { .. }), "{err}");
        assert!(gone(pid));
    }

    #[test]
    fn dropping_an_unreaped_child_kills_and_reaps_it() {
        let shared = SharedMapping::new(AtomicU32::new(0));
        let child = ForkedChild::spawn(&shared, |word| {
            futex::wait(word, 0, Duration::from_secs(30));
            0
        })
        .expect("fork");
        let pid = child.0.pid();
        drop(child);
        assert!(gone(pid));
    }
}
