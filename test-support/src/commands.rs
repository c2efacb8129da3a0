//! Programs a test starts with `std::process::Command` (a Python interpreter, the test
//! binary again): waited for under a bound, and killed and reaped when they overstay, so
//! that a program that hangs fails the test instead of hanging it.

use std::process::{Child, ExitStatus};
use std::time::Duration;

/// Waits at most `bound` for `child` to exit; its status, or `None` if it overstayed
/// (it is then killed and reaped). Panics if waiting on it fails.
///
/// ```
/// use std::process::Command;
/// use std::time::Duration;
/// use test_support::commands::wait_or_kill;
///
/// let mut quick = Command::new("true").spawn()?;
/// assert!(wait_or_kill(&mut quick, test_support::PATIENCE).is_some_and(|s| s.success()));
///
/// let mut slow = Command::new("sleep").arg("600").spawn()?;
/// assert!(wait_or_kill(&mut slow, Duration::from_millis(10)).is_none());
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn wait_or_kill(child: &mut Child, bound: Duration) -> Option<ExitStatus> {
    let mut status = None;
    let ended = crate::holds_within(
        || {
            status = child.try_wait().expect("wait for a child program");
            status.is_some()
        },
        bound,
    );
    if !ended {
        let _ = child.kill();
        let _ = child.wait();
    }
    status
}
