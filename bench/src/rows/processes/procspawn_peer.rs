//! procspawn: `procspawn::spawn(n, echo)`, then `join`, bounded by a [`Watchdog`].
//!
//! procspawn re-executes the binary, and its child picks the call up in
//! `procspawn::init()`, which the bench's `main` calls first thing. Under
//! `cargo test` there is no such `main`: `enable_test_support!` (below) makes
//! procspawn run the test binary with a filter that selects its helper test, which
//! calls `init()`.

use std::time::{Duration, Instant};

use nix::unistd::Pid;

use super::bare::pidfd_open;
use super::watchdog::Watchdog;
use super::workload::{WAIT_LIMIT, child_error};
use crate::error::BenchError;

/// The target of every child: trivial, and its value checks the round trip.
fn echo(n: u64) -> u64 {
    n
}

/// Starts `echo(n)` with procspawn and joins it, under `watchdog`.
fn spawn_join_one(watchdog: &Watchdog, n: u64) -> Result<(), BenchError> {
    watchdog.starting("procspawn::spawn", WAIT_LIMIT)?;
    // procspawn panics (rather than fail) when `init()` has not run; say so instead.
    let Ok(handle) = std::panic::catch_unwind(|| procspawn::spawn(n, echo)) else {
        watchdog.idle()?;
        return Err(BenchError::Child(
            "procspawn::spawn panicked: was procspawn::init() called first in main?".into(),
        ));
    };
    let pid = handle
        .pid()
        .and_then(|pid| i32::try_from(pid).ok())
        .map(Pid::from_raw);
    let joined = match pid.map(pidfd_open) {
        Some(Ok(pidfd)) => {
            watchdog.joining(pidfd, WAIT_LIMIT)?;
            let joined = handle.join();
            watchdog.idle()?;
            joined
        }
        // No child to watch (it failed to start) or no pidfd for it: dropping the
        // handle kills the child, if any, and the error says why.
        Some(Err(e)) => {
            watchdog.idle()?;
            return Err(e);
        }
        None => {
            watchdog.idle()?;
            handle.join()
        }
    };
    match joined {
        Ok(value) if value == n => Ok(()),
        Ok(value) => Err(BenchError::WrongOutcome(format!(
            "procspawn child returned {value} instead of {n}"
        ))),
        Err(e) => Err(child_error("a procspawn child")(e.to_string())),
    }
}

/// `iterations` times: spawn a child with procspawn, join it.
pub(super) fn spawn_join(iterations: u64) -> Result<Duration, BenchError> {
    let watchdog = Watchdog::start()?;
    spawn_join_one(&watchdog, u64::MAX)?;
    let clock = Instant::now();
    for n in 0..iterations {
        spawn_join_one(&watchdog, n)?;
    }
    Ok(clock.elapsed())
}

#[cfg(test)]
mod test_support {
    //! Under `cargo test`, procspawn's children run the test binary with a filter that
    //! selects this module's `procspawn_test_helper` test, which serves the call.
    procspawn::enable_test_support!();
}
