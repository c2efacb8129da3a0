//! [`ProcessHandle`]: a started child, as Python's `Process` after `start()`. What the
//! parent knows about the child is its [`Record`], which the table of children shares.

use std::marker::PhantomData;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::Duration;

use mp_sys::{Deadline, pidfd};
use serde::de::DeserializeOwned;

use crate::children::forget;
use crate::error::Error;
use crate::record::Record;
use crate::sentinel::Sentinel;
use crate::start_method::StartMethod;

/// A started child process: Python's `Process` after `start()`.
///
/// [`join`](ProcessHandle::join) waits for the child and gives back what its target
/// returned, or why it did not: a panic, a signal, a failure to start. The handle can be
/// shared between threads (`&self` everywhere); the value is handed out once.
///
/// Dropping the handle neither waits for nor kills the child; it stays in
/// [`active_children()`](crate::active_children) until it ends, is reaped there, and, if
/// not daemonic, is waited for when this process exits.
///
/// ```
/// use mp_processes::{Error, Process, StartMethod};
///
/// fn divide(a: i32, b: i32) -> i32 {
///     a / b
/// }
///
/// let ok = Process::new(divide, (7, 2)).start_method(StartMethod::Spawn).start()?;
/// let failing = Process::new(divide, (1, 0)).start_method(StartMethod::Spawn).start()?;
/// assert_eq!(ok.join()?, 3);
/// assert_eq!(ok.exitcode(), Some(0));
/// assert!(matches!(failing.join(), Err(Error::Panicked { .. })));
/// assert_eq!(failing.exitcode(), Some(1));
/// # Ok::<(), Error>(())
/// ```
pub struct ProcessHandle<R> {
    record: Arc<Record>,
    _value: PhantomData<fn() -> R>,
}

impl<R> std::fmt::Debug for ProcessHandle<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessHandle")
            .field("name", &self.record.name)
            .field("pid", &self.record.pid)
            .field("daemon", &self.record.daemon)
            .field("method", &self.record.method)
            .field("exitcode", &self.record.exitcode())
            .finish()
    }
}

impl<R: DeserializeOwned> ProcessHandle<R> {
    pub(crate) fn new(record: Arc<Record>) -> Self {
        ProcessHandle {
            record,
            _value: PhantomData,
        }
    }

    /// Waits for the child to end and returns what its target returned.
    ///
    /// The errors say why there is no value: [`Error::Panicked`] with the panic message,
    /// [`Error::Signaled`] naming the signal, [`Error::Exited`] when the child exited on
    /// its own without returning, [`Error::Start`] when it never ran its target,
    /// [`Error::AlreadyTaken`] for a second `join`. Either way the child is reaped and
    /// [`exitcode`](ProcessHandle::exitcode) is known afterwards.
    ///
    /// ```
    /// use mp_processes::{Process, StartMethod};
    ///
    /// let child = Process::new(|a: u64, b: u64| a * b, (6, 7))
    ///     .start_method(StartMethod::Forkserver)
    ///     .start()?;
    /// assert_eq!(child.join()?, 42);
    /// # Ok::<(), mp_processes::Error>(())
    /// ```
    pub fn join(&self) -> Result<R, Error> {
        let result = self.record.take_value(Deadline::NEVER);
        forget(&self.record);
        result
    }

    /// [`join`](ProcessHandle::join), waiting at most `timeout`: [`Error::TimedOut`] if the
    /// child is still running, and the handle stays joinable.
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_processes::{Error, Process, StartMethod};
    ///
    /// let child = Process::new(|| std::thread::sleep(Duration::from_secs(60)), ())
    ///     .start_method(StartMethod::Spawn)
    ///     .start()?;
    /// assert!(matches!(child.join_timeout(Duration::from_millis(10)), Err(Error::TimedOut)));
    /// child.terminate()?;
    /// assert!(matches!(child.join(), Err(Error::Signaled { signal: 15, .. })));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn join_timeout(&self, timeout: Duration) -> Result<R, Error> {
        let result = self.record.take_value(Deadline::after(timeout));
        if !matches!(result, Err(Error::TimedOut)) {
            forget(&self.record);
        }
        result
    }
}

impl<R> ProcessHandle<R> {
    /// The child's process id.
    ///
    /// ```
    /// use mp_processes::{Process, StartMethod};
    ///
    /// let child = Process::new(std::process::id, ()).start_method(StartMethod::Fork).start()?;
    /// let pid = child.pid();
    /// assert_eq!(child.join()?, pid);
    /// # Ok::<(), mp_processes::Error>(())
    /// ```
    pub fn pid(&self) -> u32 {
        self.record.pid as u32
    }

    /// The child's name (`Process-N` unless one was given).
    ///
    /// ```
    /// use mp_processes::{Process, StartMethod};
    ///
    /// let child = Process::new(|| (), ()).name("worker").start_method(StartMethod::Fork).start()?;
    /// assert_eq!(child.name(), "worker");
    /// # child.join()?;
    /// # Ok::<(), mp_processes::Error>(())
    /// ```
    pub fn name(&self) -> &str {
        &self.record.name
    }

    /// Whether the child is daemonic.
    ///
    /// ```
    /// use mp_processes::{Process, StartMethod};
    ///
    /// let child = Process::new(|| (), ()).daemon(true).start_method(StartMethod::Fork).start()?;
    /// assert!(child.daemon());
    /// # child.join()?;
    /// # Ok::<(), mp_processes::Error>(())
    /// ```
    pub fn daemon(&self) -> bool {
        self.record.daemon
    }

    /// The start method the child was started with.
    ///
    /// ```
    /// use mp_processes::{Process, StartMethod};
    ///
    /// let child = Process::new(|| (), ()).start_method(StartMethod::Spawn).start()?;
    /// assert_eq!(child.start_method(), StartMethod::Spawn);
    /// # child.join()?;
    /// # Ok::<(), mp_processes::Error>(())
    /// ```
    pub fn start_method(&self) -> StartMethod {
        self.record.method
    }

    /// Whether the child is still running (its [`sentinel`](ProcessHandle::sentinel) is
    /// not ready).
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_processes::{Process, StartMethod};
    ///
    /// let child = Process::new(|| std::thread::sleep(Duration::from_secs(60)), ())
    ///     .start_method(StartMethod::Fork)
    ///     .start()?;
    /// assert!(child.is_alive());
    /// child.kill()?;
    /// let _ = child.join();
    /// assert!(!child.is_alive());
    /// # Ok::<(), mp_processes::Error>(())
    /// ```
    pub fn is_alive(&self) -> bool {
        !self.record.sentinel.is_ready()
    }

    /// Python's `exitcode`: `None` while the child runs, then 0 if its target returned, 1
    /// if it panicked, the code it passed to `exit`, or minus the signal that killed it.
    /// If its exit status was lost (its forkserver was killed before reporting it): 0 or
    /// 1 from what the child reported, or 255, as Python's forkserver start method
    /// reports, if it reported nothing.
    ///
    /// Does not wait for a running child; for one that has just ended it reads what is
    /// left to read (briefly waiting for the forkserver's report).
    ///
    /// ```
    /// use mp_processes::{Process, StartMethod};
    ///
    /// let child = Process::new(|| -> () { std::process::exit(3) }, ())
    ///     .start_method(StartMethod::Spawn)
    ///     .start()?;
    /// assert!(child.join().is_err());
    /// assert_eq!(child.exitcode(), Some(3));
    /// # Ok::<(), mp_processes::Error>(())
    /// ```
    pub fn exitcode(&self) -> Option<i32> {
        if let Some(code) = self.record.exitcode() {
            return Some(code);
        }
        if !self.record.sentinel.is_ready() {
            return None;
        }
        // Read what is left, unless another thread is joining (it will know soon). The
        // forkserver reports within microseconds of the end; bound it anyway.
        self.record
            .settle_if_free(Deadline::after(Duration::from_secs(2)));
        self.record.exitcode()
    }

    /// Sends `SIGTERM` (Python's `terminate()`). A child that has ended already is left
    /// alone. The signal goes through the pidfd, so it cannot hit another process that
    /// reused the pid.
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_processes::{Process, StartMethod};
    ///
    /// let child = Process::new(|| std::thread::sleep(Duration::from_secs(60)), ())
    ///     .start_method(StartMethod::Forkserver)
    ///     .start()?;
    /// child.terminate()?;
    /// let _ = child.join();
    /// assert_eq!(child.exitcode(), Some(-15));
    /// # Ok::<(), mp_processes::Error>(())
    /// ```
    pub fn terminate(&self) -> Result<(), Error> {
        self.signal(libc::SIGTERM)
    }

    /// Sends `SIGKILL` (Python's `kill()`), which the child cannot catch.
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_processes::{Error, Process, StartMethod};
    ///
    /// let child = Process::new(|| std::thread::sleep(Duration::from_secs(60)), ())
    ///     .start_method(StartMethod::Fork)
    ///     .start()?;
    /// child.kill()?;
    /// assert!(matches!(child.join(), Err(Error::Signaled { signal: 9, .. })));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn kill(&self) -> Result<(), Error> {
        self.signal(libc::SIGKILL)
    }

    fn signal(&self, signal: i32) -> Result<(), Error> {
        tracing::debug!(name = %self.record.name, pid = self.record.pid, signal, "signalling process");
        match pidfd::send_signal(self.record.sentinel.as_fd(), signal) {
            // ESRCH: already ended and reaped.
            Ok(()) | Err(nix::errno::Errno::ESRCH) => Ok(()),
            Err(errno) => Err(Error::os("pidfd_send_signal", errno)),
        }
    }

    /// Python's `sentinel`: a pidfd that becomes readable when the child ends, to wait
    /// on together with other descriptors.
    ///
    /// ```
    /// use std::os::fd::AsRawFd;
    /// use mp_processes::{Process, StartMethod};
    ///
    /// let child = Process::new(|| (), ()).start_method(StartMethod::Fork).start()?;
    /// assert!(child.sentinel().as_raw_fd() >= 0);
    /// # child.join()?;
    /// # Ok::<(), mp_processes::Error>(())
    /// ```
    pub fn sentinel(&self) -> &Sentinel {
        &self.record.sentinel
    }
}
