//! Stopping a process (SIGSTOP) for a while, and always letting it go on (SIGCONT): the
//! fault a test needs to show that a holder which is alive but does not run holds
//! nobody else up for ever, and loses nothing once it runs again.
//!
//! A stopped process still counts as alive to every owner-death check, unlike a killed
//! one; that is the case these tests are for. The guard continues the process when it
//! is dropped, so a failing assertion cannot leave it stopped (a stopped child would
//! still die of SIGKILL, but a process outside the test's children would not).

use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::procfs::process_state;
use crate::{PATIENCE, holds_within};

/// A process stopped by [`Stopped::stop`], continued when this is dropped or
/// [`resumed`](Stopped::resume).
///
/// ```
/// use test_support::{spawn_child, stopping::Stopped};
///
/// let mut child = spawn_child(|| {
///     std::thread::sleep(std::time::Duration::from_millis(50));
///     Ok(())
/// });
/// let stopped = Stopped::stop(child.pid());
/// assert_eq!(test_support::procfs::process_state(child.pid()), Some('T'));
/// stopped.resume();
/// assert_eq!(child.join(), 0);
/// ```
#[derive(Debug)]
#[must_use = "the process is continued when this is dropped"]
pub struct Stopped {
    pid: i32,
}

impl Stopped {
    /// Sends SIGSTOP to `pid` and returns once the process is stopped (state `T`).
    /// Panics if it could not be signalled, or is not stopped within [`PATIENCE`].
    ///
    /// ```
    /// let mut child = test_support::spawn_child(|| Ok(()));
    /// let pid = child.pid();
    /// # let stopped =
    /// test_support::stopping::Stopped::stop(pid);
    /// # drop(stopped);
    /// # child.join();
    /// ```
    pub fn stop(pid: i32) -> Self {
        kill(Pid::from_raw(pid), Signal::SIGSTOP).expect("SIGSTOP the process");
        let stopped = Self { pid };
        assert!(
            holds_within(
                || matches!(process_state(pid), Some('T') | Some('Z') | None),
                PATIENCE
            ),
            "process {pid} did not stop within {PATIENCE:?}"
        );
        stopped
    }

    /// Stops `pid` for `pause`, then lets it go on.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let mut child = test_support::spawn_child(|| Ok(()));
    /// test_support::stopping::Stopped::pause(child.pid(), Duration::from_millis(1));
    /// assert_eq!(child.join(), 0);
    /// ```
    pub fn pause(pid: i32, pause: Duration) {
        let stopped = Self::stop(pid);
        std::thread::sleep(pause);
        stopped.resume();
    }

    /// The stopped process's id.
    ///
    /// ```
    /// let mut child = test_support::spawn_child(|| Ok(()));
    /// let stopped = test_support::stopping::Stopped::stop(child.pid());
    /// assert_eq!(stopped.pid(), child.pid());
    /// # drop(stopped);
    /// # child.join();
    /// ```
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Sends SIGCONT: the process goes on.
    ///
    /// ```
    /// let mut child = test_support::spawn_child(|| Ok(()));
    /// test_support::stopping::Stopped::stop(child.pid()).resume();
    /// assert_eq!(child.join(), 0);
    /// ```
    pub fn resume(self) {
        drop(self);
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        // It may have been killed meanwhile: ESRCH is no failure.
        let _ = kill(Pid::from_raw(self.pid), Signal::SIGCONT);
    }
}
