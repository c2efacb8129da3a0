//! [`ProcessHandle`]: a started child, and the record of it that the handle and the
//! list of children share.

use std::marker::PhantomData;
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use mp_shared_mem::transfer;
use parking_lot::Mutex;
use serde::de::DeserializeOwned;

use crate::error::signal_name;
use crate::wire::{ExitStatus, MAX_MESSAGE_LEN, Outcome, Tag};
use crate::{Error, Sentinel, StartMethod, sys};

/// `exitcode` not known yet.
const UNKNOWN: i64 = i64::MIN;

/// What the parent knows about one child. Shared by its handle and the list of
/// children, so a child whose handle was dropped is still reaped.
pub(crate) struct Record {
    /// The process that started the child: the only one that may read its socket and
    /// reap it.
    owner: i32,
    pub(crate) pid: i32,
    pub(crate) name: String,
    pub(crate) daemon: bool,
    pub(crate) method: StartMethod,
    pub(crate) sentinel: Sentinel,
    /// The exit code once known, else [`UNKNOWN`]; readable without the lock.
    exitcode: AtomicI64,
    inner: Mutex<Inner>,
}

struct Inner {
    /// The parent's end of the child's socket, until everything was read from it.
    channel: Option<UnixStream>,
    outcome: Slot,
    /// `Some(None)`: the status is lost (the forkserver died, or someone else reaped).
    status: Option<Option<ExitStatus>>,
}

/// The child's report, kept as received until `join` decodes it as the right type.
enum Slot {
    Pending,
    Received(Vec<u8>, Vec<OwnedFd>),
    /// The child ended without a report.
    Missing,
    /// The report could not be read.
    Broken(mp_shared_mem::Error),
    /// An earlier `join` took it.
    Taken,
}

impl Record {
    pub(crate) fn new(
        pid: i32,
        name: String,
        daemon: bool,
        method: StartMethod,
        pidfd: OwnedFd,
        channel: UnixStream,
    ) -> Self {
        Record {
            owner: nix::unistd::getpid().as_raw(),
            pid,
            name,
            daemon,
            method,
            sentinel: Sentinel::new(pidfd),
            exitcode: AtomicI64::new(UNKNOWN),
            inner: Mutex::new(Inner {
                channel: Some(channel),
                outcome: Slot::Pending,
                status: None,
            }),
        }
    }

    pub(crate) fn exitcode(&self) -> Option<i32> {
        match self.exitcode.load(Ordering::Acquire) {
            UNKNOWN => None,
            code => i32::try_from(code).ok(),
        }
    }

    /// Whether the child has ended and everything about it is known (or lost).
    pub(crate) fn finished(&self) -> bool {
        self.exitcode().is_some()
            || self
                .inner
                .try_lock()
                .is_some_and(|inner| inner.status.is_some())
    }

    /// Reads what the child and, for the forkserver, the server send, and reaps a child
    /// of ours, until the outcome and the exit status are known or `deadline` passes.
    pub(crate) fn settle(&self, deadline: Option<Instant>) -> Result<(), Error> {
        if !self.owned_here() {
            return Err(Error::NotParent {
                name: self.name.clone(),
            });
        }
        let mut inner = match deadline {
            None => self.inner.lock(),
            Some(deadline) => self.inner.try_lock_until(deadline).ok_or(Error::TimedOut)?,
        };
        self.settle_locked(&mut inner, deadline)
    }

    /// Whether this process started the child (not a forked copy of the handle).
    fn owned_here(&self) -> bool {
        nix::unistd::getpid().as_raw() == self.owner
    }

    /// [`settle`](Record::settle) unless another thread holds the record (joining).
    pub(crate) fn settle_if_free(&self, deadline: Instant) {
        if !self.owned_here() {
            return;
        }
        if let Some(mut inner) = self.inner.try_lock() {
            let _ = self.settle_locked(&mut inner, Some(deadline));
        }
    }

    fn settle_locked(&self, inner: &mut Inner, deadline: Option<Instant>) -> Result<(), Error> {
        while matches!(inner.outcome, Slot::Pending) {
            let Some(channel) = inner.channel.as_ref() else {
                inner.outcome = Slot::Missing;
                break;
            };
            if self.method == StartMethod::Forkserver {
                // The server keeps a copy of the child's end until it has reported the
                // exit status, so a frame always comes, or end-of-file if it died.
                let ready = sys::wait_readable(&[channel.as_fd()], deadline)
                    .map_err(|errno| Error::os("poll", errno))?;
                if !ready.first().copied().unwrap_or(false) {
                    return Err(Error::TimedOut);
                }
                read_frame(inner);
                continue;
            }
            let ready = sys::wait_readable(&[channel.as_fd(), self.sentinel.as_fd()], deadline)
                .map_err(|errno| Error::os("poll", errno))?;
            match (ready.first().copied(), ready.get(1).copied()) {
                (Some(true), _) => read_frame(inner),
                (_, Some(true)) => {
                    // The child has ended: what it wrote is in the socket already. A
                    // grandchild may still hold the child's end, so end-of-file is not
                    // to be waited for.
                    let written = sys::is_readable(channel.as_fd())
                        .map_err(|errno| Error::os("poll", errno))?;
                    if written {
                        read_frame(inner);
                    } else {
                        inner.outcome = Slot::Missing;
                    }
                }
                _ => return Err(Error::TimedOut),
            }
        }
        while inner.status.is_none() {
            if self.method == StartMethod::Forkserver {
                let Some(channel) = inner.channel.as_ref() else {
                    inner.status = Some(None);
                    break;
                };
                let ready = sys::wait_readable(&[channel.as_fd()], deadline)
                    .map_err(|errno| Error::os("poll", errno))?;
                if !ready.first().copied().unwrap_or(false) {
                    return Err(Error::TimedOut);
                }
                read_frame(inner);
                continue;
            }
            let ready = sys::wait_readable(&[self.sentinel.as_fd()], deadline)
                .map_err(|errno| Error::os("poll", errno))?;
            if !ready.first().copied().unwrap_or(false) {
                return Err(Error::TimedOut);
            }
            use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
            match waitid(
                Id::PIDFd(self.sentinel.as_fd()),
                WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG,
            ) {
                Ok(WaitStatus::StillAlive) => {}
                Ok(status) => inner.status = Some(ExitStatus::from_wait(status)),
                Err(nix::errno::Errno::EINTR) => {}
                // ECHILD: reaped by someone else (a `waitpid(-1)` of the program).
                Err(_) => inner.status = Some(None),
            }
        }
        inner.channel = None;
        if let Some(Some(status)) = inner.status {
            self.exitcode
                .store(i64::from(status.exitcode()), Ordering::Release);
            tracing::debug!(name = %self.name, pid = self.pid, exitcode = status.exitcode(), "process ended");
        }
        Ok(())
    }

    /// The child's return value, once settled.
    pub(crate) fn take_value<R: DeserializeOwned>(
        &self,
        deadline: Option<Instant>,
    ) -> Result<R, Error> {
        if !self.owned_here() {
            return Err(Error::NotParent {
                name: self.name.clone(),
            });
        }
        let mut inner = match deadline {
            None => self.inner.lock(),
            Some(deadline) => self.inner.try_lock_until(deadline).ok_or(Error::TimedOut)?,
        };
        self.settle_locked(&mut inner, deadline)?;
        let name = self.name.clone();
        match std::mem::replace(&mut inner.outcome, Slot::Taken) {
            Slot::Taken => Err(Error::AlreadyJoined { name }),
            Slot::Broken(err) => Err(Error::Transfer(err)),
            Slot::Received(bytes, fds) => {
                match transfer::decode::<(Tag, Outcome<R>)>(&bytes, fds)? {
                    (_, Outcome::Returned(value)) => Ok(value),
                    (_, Outcome::Panicked(message)) => Err(Error::Panicked { name, message }),
                    (_, Outcome::StartFailed(reason)) => Err(Error::Start { name, reason }),
                    (_, Outcome::Unsendable(reason)) => Err(Error::ResultNotSent { name, reason }),
                }
            }
            Slot::Pending | Slot::Missing => match inner.status {
                Some(Some(ExitStatus::Signal(signal))) => Err(Error::Signaled {
                    name,
                    signal,
                    signal_name: signal_name(signal),
                }),
                Some(Some(ExitStatus::Code(code))) => Err(Error::Exited { name, code }),
                _ => Err(Error::StatusLost { name }),
            },
        }
    }
}

/// Reads one frame from the child's socket into `inner`.
fn read_frame(inner: &mut Inner) {
    let Some(channel) = inner.channel.as_ref() else {
        return;
    };
    match transfer::recv(channel, MAX_MESSAGE_LEN) {
        Ok((bytes, fds)) => match postcard::take_from_bytes::<Tag>(&bytes) {
            Ok((Tag::Outcome, _)) if matches!(inner.outcome, Slot::Pending) => {
                inner.outcome = Slot::Received(bytes, fds);
            }
            Ok((Tag::Status, _)) => {
                let status = postcard::from_bytes::<(Tag, ExitStatus)>(&bytes)
                    .ok()
                    .map(|(_, status)| status);
                inner.status = Some(status);
                if matches!(inner.outcome, Slot::Pending) {
                    inner.outcome = Slot::Missing;
                }
            }
            _ => broken(
                inner,
                mp_shared_mem::Error::Decode("an unexpected message from the child".into()),
            ),
        },
        // ECONNRESET: the child died without reading all we sent it (killed early).
        Err(
            mp_shared_mem::Error::PeerClosed
            | mp_shared_mem::Error::Os {
                errno: nix::errno::Errno::ECONNRESET,
                ..
            },
        ) => {
            if matches!(inner.outcome, Slot::Pending) {
                inner.outcome = Slot::Missing;
            }
            // For the forkserver: the server died before it reported the status.
            inner.channel = None;
        }
        Err(err) => broken(inner, err),
    }
}

/// The socket is out of step: nothing more can be read from it.
fn broken(inner: &mut Inner, err: mp_shared_mem::Error) {
    if matches!(inner.outcome, Slot::Pending) {
        inner.outcome = Slot::Broken(err);
    }
    inner.channel = None;
}

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
    /// [`Error::AlreadyJoined`] for a second `join`. Either way the child is reaped and
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
        let result = self.record.take_value(None);
        crate::children::forget(&self.record);
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
        let deadline = Instant::now().checked_add(timeout);
        let result = self.record.take_value(deadline);
        if !matches!(result, Err(Error::TimedOut)) {
            crate::children::forget(&self.record);
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
            .settle_if_free(Instant::now() + Duration::from_secs(2));
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
        match sys::pidfd_send_signal(self.record.sentinel.as_fd(), signal) {
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

#[cfg(test)]
mod tests {
    //! What the parent does with a child's socket that carries garbage: an error, never
    //! a panic or a hang.

    use std::io::Write;
    use std::time::{Duration, Instant};

    use super::*;

    /// A record for a real, short-lived child (`true`), whose socket the test writes.
    #[expect(
        clippy::zombie_processes,
        reason = "the record reaps the child, through waitid(P_PIDFD)"
    )]
    fn record_with_socket() -> (Arc<Record>, UnixStream) {
        let child = std::process::Command::new("true")
            .spawn()
            .expect("run true");
        let pid = child.id() as i32;
        let pidfd = sys::pidfd_open(pid).expect("pidfd_open");
        let (parent_end, child_end) = UnixStream::pair().expect("socketpair");
        let record = Record::new(
            pid,
            "fake".into(),
            false,
            StartMethod::Spawn,
            pidfd,
            parent_end,
        );
        (Arc::new(record), child_end)
    }

    fn deadline() -> Option<Instant> {
        Some(Instant::now() + Duration::from_secs(30))
    }

    fn frame_header(len: u64, fds: u32) -> Vec<u8> {
        let mut header = b"mpT1".to_vec();
        header.extend_from_slice(&len.to_le_bytes());
        header.extend_from_slice(&fds.to_le_bytes());
        header
    }

    #[test]
    fn garbage_is_a_decode_error() {
        let (record, mut child_end) = record_with_socket();
        child_end.write_all(b"this is not a frame at all").unwrap();
        drop(child_end);
        let error = record.take_value::<u32>(deadline()).unwrap_err();
        assert!(
            matches!(error, Error::Transfer(mp_shared_mem::Error::Decode(_))),
            "{error:?}"
        );
        assert_eq!(
            record.exitcode(),
            Some(0),
            "the child is reaped all the same"
        );
    }

    #[test]
    fn a_truncated_frame_is_a_short_message() {
        let (record, mut child_end) = record_with_socket();
        child_end.write_all(&frame_header(100, 0)).unwrap();
        child_end.write_all(&[0; 10]).unwrap();
        drop(child_end);
        let error = record.take_value::<u32>(deadline()).unwrap_err();
        assert!(
            matches!(
                error,
                Error::Transfer(mp_shared_mem::Error::ShortMessage { .. })
            ),
            "{error:?}"
        );
    }

    #[test]
    fn an_oversized_frame_is_refused_unread() {
        let (record, mut child_end) = record_with_socket();
        child_end.write_all(&frame_header(1 << 40, 0)).unwrap();
        drop(child_end);
        let error = record.take_value::<u32>(deadline()).unwrap_err();
        assert!(
            matches!(
                error,
                Error::Transfer(mp_shared_mem::Error::MessageTooLarge { .. })
            ),
            "{error:?}"
        );
    }

    #[test]
    fn a_value_of_the_wrong_type_is_a_decode_error() {
        let (record, child_end) = record_with_socket();
        let outcome = Outcome::Returned("a string, not a number".to_owned());
        transfer::send_value(&child_end, &(Tag::Outcome, outcome)).unwrap();
        drop(child_end);
        let error = record.take_value::<u64>(deadline()).unwrap_err();
        assert!(
            matches!(error, Error::Transfer(mp_shared_mem::Error::Decode(_))),
            "{error:?}"
        );
    }

    #[test]
    fn an_unknown_tag_is_a_decode_error() {
        let (record, child_end) = record_with_socket();
        transfer::send(&child_end, &[9, 9, 9], &[]).unwrap();
        drop(child_end);
        let error = record.take_value::<u64>(deadline()).unwrap_err();
        assert!(
            matches!(error, Error::Transfer(mp_shared_mem::Error::Decode(_))),
            "{error:?}"
        );
    }

    #[test]
    fn silence_then_exit_is_an_exit_without_a_value() {
        let (record, child_end) = record_with_socket();
        drop(child_end);
        let error = record.take_value::<u64>(deadline()).unwrap_err();
        assert!(matches!(error, Error::Exited { code: 0, .. }), "{error:?}");
        let again = record.take_value::<u64>(deadline()).unwrap_err();
        assert!(matches!(again, Error::AlreadyJoined { .. }), "{again:?}");
    }
}
