//! [`Sentinel`]: a descriptor that becomes readable when a child process ends.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::time::{Duration, Instant};

use crate::sys;

/// Python's `Process.sentinel`: a pidfd, readable once the process has ended.
///
/// It names the process itself, not its pid, so it cannot be fooled by a pid that was
/// reused. Wait on it with `poll`/`epoll` (it is [`AsFd`]) together with other
/// descriptors, or with [`wait_timeout`](Sentinel::wait_timeout).
///
/// ```
/// use std::time::Duration;
/// use mp_processes::{Process, StartMethod};
///
/// let child = Process::new(|| (), ()).start_method(StartMethod::Spawn).start()?;
/// assert!(child.sentinel().wait_timeout(Duration::from_secs(30)));
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
        sys::is_readable(self.pidfd.as_fd()).unwrap_or(false)
    }

    /// Waits up to `timeout` for the process to end; whether it has.
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_processes::{Process, StartMethod};
    ///
    /// let child = Process::new(|| (), ()).start_method(StartMethod::Fork).start()?;
    /// assert!(child.sentinel().wait_timeout(Duration::from_secs(30)));
    /// # child.join()?;
    /// # Ok::<(), mp_processes::Error>(())
    /// ```
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let deadline = Instant::now().checked_add(timeout);
        sys::wait_readable(&[self.pidfd.as_fd()], deadline)
            .map(|ready| ready.first().copied().unwrap_or(false))
            .unwrap_or(false)
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
