//! [`Sentinel`]: a descriptor that becomes readable when a child process ends.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::Duration;

use crate::Error;
use mp_sys::{Deadline, Waitable, pidfd};

/// Python's `Process.sentinel`: a pidfd, readable once the process has ended.
///
/// It names the process itself, not its pid, so it cannot be fooled by a pid that was
/// reused. Wait on it together with connections and queues with `wait` (it is
/// [`Waitable`]), with `poll`/`epoll` (it is [`AsFd`]), or alone with
/// [`wait_timeout`](Sentinel::wait_timeout).
///
/// ```
/// use std::time::Duration;
/// use mp_processes::{Process, StartMethod};
///
/// let child = Process::new(|| (), ()).start_method(StartMethod::Spawn).start()?;
/// child.sentinel().wait_timeout(Duration::from_secs(30))?;
/// assert!(child.sentinel().is_ready());
/// child.join()?;
/// # Ok::<(), mp_processes::Error>(())
/// ```
#[derive(Debug)]
pub struct Sentinel {
    pidfd: OwnedFd,
}

impl Sentinel {
    pub(crate) fn new(pidfd: OwnedFd) -> Self {
        Sentinel { pidfd }
    }

    /// Whether the process has ended, without waiting.
    ///
    /// ```
    /// use mp_processes::{Process, StartMethod};
    ///
    /// let child = Process::new(|| std::thread::sleep(std::time::Duration::from_secs(60)), ())
    ///     .start_method(StartMethod::Spawn)
    ///     .start()?;
    /// assert!(!child.sentinel().is_ready());
    /// child.kill()?;
    /// # let _ = child.join();
    /// # Ok::<(), mp_processes::Error>(())
    /// ```
    pub fn is_ready(&self) -> bool {
        pidfd::has_exited(self.pidfd.as_fd()).unwrap_or(false)
    }

    /// Waits up to `timeout` for the process to end: `Ok(())` once it has,
    /// [`Error::TimedOut`] if it still runs, [`Error::Os`] if the pidfd cannot be polled.
    /// `Duration::ZERO` looks once (as [`is_ready`](Sentinel::is_ready)); `Duration::MAX`
    /// waits for ever.
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_processes::{Error, Process, StartMethod};
    ///
    /// let child = Process::new(|| std::thread::sleep(Duration::from_secs(60)), ())
    ///     .start_method(StartMethod::Fork)
    ///     .start()?;
    /// assert!(matches!(child.sentinel().wait_timeout(Duration::ZERO), Err(Error::TimedOut)));
    /// child.kill()?;
    /// child.sentinel().wait_timeout(Duration::from_secs(30))?;
    /// # let _ = child.join();
    /// # Ok::<(), mp_processes::Error>(())
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> Result<(), Error> {
        match pidfd::wait_exited(self.pidfd.as_fd(), Deadline::after(timeout)) {
            Ok(true) => Ok(()),
            Ok(false) => Err(Error::TimedOut),
            Err(errno) => Err(Error::Os {
                operation: "poll of a process's pidfd",
                errno,
            }),
        }
    }
}

/// A sentinel is ready once its process has ended, so Python's
/// `wait([conn, p.sentinel], timeout)` is mp-ipc's `wait(&[&conn, p.sentinel()], timeout)`:
/// one `poll` over the connection and the pidfd, and a child that dies before it answers
/// cannot leave the parent blocked on the connection.
///
/// ```
/// use std::time::Duration;
/// use mp_ipc::{pipe, wait};
/// use mp_processes::{Process, StartMethod};
///
/// // The child was to answer on `conn` (its end is kept open here) but dies first.
/// let (conn, _child_end) = pipe::<u32>(true)?;
/// let child = Process::new(|| -> () { std::process::exit(2) }, ())
///     .start_method(StartMethod::Spawn)
///     .start()?;
/// assert_eq!(wait(&[&conn, child.sentinel()], Some(Duration::from_secs(30)))?, [1]);
/// assert_eq!(child.exitcode(), Some(2));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl Waitable for Sentinel {
    fn is_ready(&self) -> bool {
        Sentinel::is_ready(self)
    }

    fn readiness_fd(&self) -> Option<BorrowedFd<'_>> {
        Some(self.pidfd.as_fd())
    }
}

impl AsFd for Sentinel {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.pidfd.as_fd()
    }
}

impl AsRawFd for Sentinel {
    fn as_raw_fd(&self) -> RawFd {
        self.pidfd.as_raw_fd()
    }
}
