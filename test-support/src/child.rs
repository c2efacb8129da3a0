//! Forked children that cannot outlive a test and never hang it.
//!
//! The parent is the multi-threaded test harness, so a child starts with a copy of the
//! forking thread only, and any lock another thread held at the fork stays held forever
//! in the child. A child therefore runs its body and leaves with `_exit`: it never
//! returns into the harness, never runs the destructors of the parent's state, never
//! flushes stdio it inherited, and a panic in the body is caught before it can unwind
//! out of the fork.
//!
//! Three safeguards keep a child from outliving its test: it asks for SIGKILL when its
//! parent dies (`PR_SET_PDEATHSIG`), and checks that the parent did not die before it
//! asked (then it leaves at once, with [`CHILD_ORPHANED`]); every wait on it has a bound,
//! after which it is killed and reaped; and dropping a [`Child`] that was not reaped
//! kills and reaps it, so a failing assertion in the parent leaves no process and no
//! zombie behind.

use std::os::fd::RawFd;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork, getpid};

use crate::poll::poll_for;
use crate::{Error, PATIENCE};

/// What a child's body returns: `Err(code)` makes the child exit with that code, so each
/// check in a child can name its own failure.
///
/// ```
/// use test_support::{ChildResult, ensure};
///
/// fn body() -> ChildResult {
///     ensure(2 > 1, 10)?;
///     ensure(3 > 2, 11)
/// }
/// assert_eq!(body(), Ok(()));
/// ```
pub type ChildResult = Result<(), u8>;

/// `Ok` if `condition` holds, otherwise the exit code `code`.
///
/// ```
/// assert_eq!(test_support::ensure(false, 7), Err(7));
/// ```
pub fn ensure(condition: bool, code: u8) -> ChildResult {
    if condition { Ok(()) } else { Err(code) }
}

/// The exit code of a child whose body panicked.
///
/// ```
/// let mut child = test_support::spawn_child(|| panic!("on purpose"));
/// assert_eq!(child.join(), test_support::CHILD_PANICKED);
/// ```
pub const CHILD_PANICKED: i32 = 101;

/// The exit code of a child that found its parent gone before it could ask to die with
/// it; its body did not run.
///
/// ```
/// assert_ne!(test_support::CHILD_ORPHANED, test_support::CHILD_PANICKED);
/// ```
pub const CHILD_ORPHANED: i32 = 102;

/// The exit code of a child that could not list its descriptors to close them
/// ([`spawn_child_keeping`]); its body did not run.
const CHILD_CANNOT_CLOSE: i32 = 120;

/// How a child ended.
///
/// ```
/// use test_support::{Ended, spawn_child};
///
/// let mut child = spawn_child(|| Err(4));
/// assert_eq!(child.wait_timeout(test_support::PATIENCE), Some(Ended::Exited(4)));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ended {
    /// It exited with this code.
    Exited(i32),
    /// A signal ended it.
    Killed(Signal),
}

/// A forked child. Dropping it kills and reaps it if it was not reaped already.
///
/// ```
/// use test_support::{Ended, spawn_child};
/// use nix::sys::signal::Signal;
///
/// let mut child = spawn_child(|| {
///     std::thread::sleep(test_support::PATIENCE);
///     Ok(())
/// });
/// assert_eq!(child.kill_and_reap(), Ended::Killed(Signal::SIGKILL));
/// ```
#[derive(Debug)]
pub struct Child {
    pid: Pid,
    reaped: bool,
}

/// Forks a child that runs `body` and leaves with `_exit`: 0 when `body` returns `Ok`,
/// its code when it returns `Err`, [`CHILD_PANICKED`] if it panics. The child is killed
/// if the forking thread dies once the child has asked for that, before `body` starts (a
/// thread that ends at once after the fork may beat it: the process is still the child's
/// parent, so the orphan check cannot tell). Panics (failing the test) if `fork` fails.
///
/// `body` runs in a copy of a multi-threaded process: it may touch shared mappings,
/// atomics, futexes, descriptors, make plain system calls and allocate (glibc's fork
/// leaves malloc usable in the child), but must not print, log, or take a lock that
/// another thread of the parent may have held at the fork.
///
/// ```
/// let mut child = test_support::spawn_child(|| Err(9));
/// assert_eq!(child.join(), 9);
/// ```
pub fn spawn_child(body: impl FnOnce() -> ChildResult) -> Child {
    try_spawn_child(body).expect("fork a child")
}

/// [`spawn_child`] for callers that report a failed `fork` instead of panicking.
///
/// The child's path before `body` neither allocates nor takes a lock, so `body` alone
/// decides what the child may touch.
///
/// ```
/// let mut child = test_support::try_spawn_child(|| Ok(()))?;
/// assert_eq!(child.join(), 0);
/// # Ok::<(), test_support::Error>(())
/// ```
pub fn try_spawn_child(body: impl FnOnce() -> ChildResult) -> Result<Child, Error> {
    fork_running(None, body)
}

/// [`spawn_child`] for a child that keeps only the descriptors `keep` (and stdin,
/// stdout, stderr) open.
///
/// The harness runs tests in parallel threads, and a child holding a copy of another
/// test's socket would keep that test's peer from seeing the end of the stream.
///
/// ```
/// use std::os::fd::AsRawFd;
///
/// let (mine, theirs) = std::os::unix::net::UnixStream::pair()?;
/// let mut child = test_support::spawn_child_keeping(&[theirs.as_raw_fd()], || {
///     use std::io::Write;
///     let mut theirs = &theirs;
///     theirs.write_all(b"hi").map_err(|_| 1)
/// });
/// assert_eq!(child.join(), 0);
/// drop(theirs);
/// let mut got = String::new();
/// std::io::Read::read_to_string(&mut &mine, &mut got)?;
/// assert_eq!(got, "hi");
/// # Ok::<(), std::io::Error>(())
/// ```
pub fn spawn_child_keeping(keep: &[RawFd], body: impl FnOnce() -> ChildResult) -> Child {
    fork_running(Some(keep), body).expect("fork a child")
}

fn fork_running(
    keep: Option<&[RawFd]>,
    body: impl FnOnce() -> ChildResult,
) -> Result<Child, Error> {
    // mp-sys caches ids per process and installs a fork handler on first use that resets
    // them in a child; asking for the fork generation makes sure that installation is over
    // before this thread forks, so the child cannot inherit it half-done.
    mp_sys::process::fork_generation();
    install_child_panic_hook();
    let parent = getpid();
    // SAFETY: the parent is the multi-threaded test harness, so the child starts with a
    // copy of this thread only. The child therefore only asks to die with its parent,
    // closes descriptors if asked (reading /proc allocates, which glibc's fork leaves
    // usable) and runs `body`, whose contract (see `spawn_child`) excludes locks another
    // thread may hold. Then it leaves with `_exit`: it never returns into the harness and
    // runs no destructor of the parent's state, and a panic is caught before it could
    // unwind out of this function.
    match unsafe { fork() }.map_err(Error::Fork)? {
        ForkResult::Child => {
            IN_FORKED_CHILD.store(true, Ordering::Relaxed);
            let code = if die_with(parent) {
                CHILD_ORPHANED
            } else if keep.is_some_and(|keep| close_all_but(keep).is_err()) {
                CHILD_CANNOT_CLOSE
            } else {
                match std::panic::catch_unwind(std::panic::AssertUnwindSafe(body)) {
                    Ok(Ok(())) => 0,
                    Ok(Err(code)) => i32::from(code),
                    Err(_) => CHILD_PANICKED,
                }
            };
            // SAFETY: `_exit` ends the process at once, without atexit handlers or stdio
            // flushing, which is all a forked child of a multi-threaded process may do.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => Ok(Child {
            pid: child,
            reaped: false,
        }),
    }
}

/// Set in a forked child, at once after the fork: its panics bypass the hook the parent
/// had.
static IN_FORKED_CHILD: AtomicBool = AtomicBool::new(false);

/// Wraps the panic hook once, in the parent, so that a panic in a forked child does not
/// go through the default hook: that hook takes the locks of stderr and of backtrace
/// printing, which another thread of the parent (a test panicking at the same moment)
/// may have held at the fork, and which then stay locked forever in the child. A child
/// writes its panic straight to descriptor 2 instead, taking no lock.
fn install_child_panic_hook() {
    static INSTALLED: Once = Once::new();
    if std::thread::panicking() {
        // `set_hook` may not be called while panicking (a child forked from a drop
        // during unwinding); such a child keeps the hook it inherits.
        return;
    }
    INSTALLED.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if IN_FORKED_CHILD.load(Ordering::Relaxed) {
                let report = format!("forked child {}: {info}\n", std::process::id());
                // SAFETY: writes the bytes of a live `String` to descriptor 2; write takes
                // a pointer and a length that stay valid for the call and keeps neither.
                unsafe { libc::write(2, report.as_ptr().cast(), report.len()) };
            } else {
                previous(info);
            }
        }));
    });
}

/// Asks for SIGKILL when the parent dies; whether the parent had died already (then the
/// request came too late, and the child was adopted by another process).
fn die_with(parent: Pid) -> bool {
    // SAFETY: prctl with PR_SET_PDEATHSIG takes a signal number and no pointer; getppid
    // takes nothing. Both only affect this process.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
        libc::getppid() != parent.as_raw()
    }
}

/// Closes every descriptor above 2 that is not in `keep`.
fn close_all_but(keep: &[RawFd]) -> Result<(), std::io::Error> {
    let open: Vec<RawFd> = std::fs::read_dir("/proc/self/fd")?
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse().ok())
        .collect();
    for fd in open {
        if fd > 2 && !keep.contains(&fd) {
            // SAFETY: this child owns its copies of the parent's descriptors and no code
            // in it uses the closed ones afterwards: `body` only touches those in `keep`.
            // The directory stream's own descriptor is already closed (EBADF is fine).
            unsafe { libc::close(fd) };
        }
    }
    Ok(())
}

impl Child {
    /// The child's process id.
    ///
    /// ```
    /// let child = test_support::spawn_child(|| Ok(()));
    /// assert!(child.pid() > 0);
    /// ```
    pub fn pid(&self) -> i32 {
        self.pid.as_raw()
    }

    /// Waits at most `bound` for the child to end, and reaps it; `None` if it is still
    /// running. Panics if the child was reaped already or `waitpid` fails.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let mut child = test_support::spawn_child(|| {
    ///     std::thread::sleep(test_support::PATIENCE);
    ///     Ok(())
    /// });
    /// assert_eq!(child.wait_timeout(Duration::from_millis(10)), None);
    /// // Dropping it kills and reaps it.
    /// ```
    pub fn wait_timeout(&mut self, bound: Duration) -> Option<Ended> {
        self.try_wait_timeout(bound)
            .unwrap_or_else(|err| panic!("{err}"))
    }

    /// [`Child::wait_timeout`] for callers that report a failed `waitpid`.
    ///
    /// ```
    /// let mut child = test_support::spawn_child(|| Ok(()));
    /// let ended = child.try_wait_timeout(test_support::PATIENCE)?;
    /// assert_eq!(ended, Some(test_support::Ended::Exited(0)));
    /// # Ok::<(), test_support::Error>(())
    /// ```
    pub fn try_wait_timeout(&mut self, bound: Duration) -> Result<Option<Ended>, Error> {
        assert!(!self.reaped, "child {} already reaped", self.pid);
        let ended = poll_for(bound, || {
            match waitpid(self.pid, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::Exited(_, code)) => Ok(Some(Ended::Exited(code))),
                Ok(WaitStatus::Signaled(_, signal, _)) => Ok(Some(Ended::Killed(signal))),
                // Still running, or stopped/continued: not an end.
                Ok(_) | Err(nix::errno::Errno::EINTR) => Ok(None),
                Err(source) => Err(Error::Wait {
                    pid: self.pid.as_raw(),
                    source,
                }),
            }
        })?;
        self.reaped = ended.is_some();
        Ok(ended)
    }

    /// Waits at most `bound` for the child to end on its own and reaps it; a child that
    /// overstays is killed and reaped, and that is [`Error::Overstayed`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use test_support::{Ended, Error, spawn_child};
    ///
    /// let mut quick = spawn_child(|| Err(3));
    /// assert_eq!(quick.reap_within(test_support::PATIENCE)?, Ended::Exited(3));
    ///
    /// let mut slow = spawn_child(|| {
    ///     std::thread::sleep(test_support::PATIENCE);
    ///     Ok(())
    /// });
    /// let overstayed = slow.reap_within(Duration::from_millis(10));
    /// assert!(matches!(overstayed, Err(Error::Overstayed { .. })));
    /// # Ok::<(), test_support::Error>(())
    /// ```
    pub fn reap_within(&mut self, bound: Duration) -> Result<Ended, Error> {
        match self.try_wait_timeout(bound)? {
            Some(ended) => Ok(ended),
            None => {
                self.try_kill_and_reap()?;
                Err(Error::Overstayed {
                    pid: self.pid(),
                    bound,
                })
            }
        }
    }

    /// Waits (at most [`PATIENCE`]) for the child to end on its own and returns its exit
    /// code. Panics, failing the test, if a signal ended it or it overstayed (then it is
    /// killed and reaped first).
    ///
    /// ```
    /// let mut child = test_support::spawn_child(|| Ok(()));
    /// assert_eq!(child.join(), 0);
    /// ```
    pub fn join(&mut self) -> i32 {
        match self.reap_within(PATIENCE) {
            Ok(Ended::Exited(code)) => code,
            Ok(Ended::Killed(signal)) => panic!("child {} killed by {signal}", self.pid),
            Err(err) => panic!("{err}"),
        }
    }

    /// Sends SIGKILL without reaping: the child becomes a zombie until
    /// [`Child::reap_killed`] (or the drop) reaps it.
    ///
    /// ```
    /// let mut child = test_support::spawn_child(|| {
    ///     std::thread::sleep(test_support::PATIENCE);
    ///     Ok(())
    /// });
    /// child.kill();
    /// child.reap_killed();
    /// ```
    pub fn kill(&self) {
        kill(self.pid, Signal::SIGKILL).expect("kill the child");
    }

    /// Reaps a child that was sent SIGKILL, checking that the signal is what ended it.
    ///
    /// ```
    /// let mut child = test_support::spawn_child(|| {
    ///     std::thread::sleep(test_support::PATIENCE);
    ///     Ok(())
    /// });
    /// child.kill();
    /// child.reap_killed();
    /// ```
    pub fn reap_killed(&mut self) {
        assert_eq!(
            self.wait_timeout(PATIENCE),
            Some(Ended::Killed(Signal::SIGKILL)),
            "child {} was sent SIGKILL",
            self.pid
        );
    }

    /// Sends SIGKILL and reaps the child; how it ended (it may have exited first).
    /// Panics if it is still there [`PATIENCE`] after the signal.
    ///
    /// ```
    /// let mut child = test_support::spawn_child(|| Ok(()));
    /// let ended = child.kill_and_reap();
    /// assert!(matches!(ended, test_support::Ended::Exited(0) | test_support::Ended::Killed(_)));
    /// ```
    pub fn kill_and_reap(&mut self) -> Ended {
        self.try_kill_and_reap()
            .unwrap_or_else(|err| panic!("{err}"))
    }

    fn try_kill_and_reap(&mut self) -> Result<Ended, Error> {
        // It may have ended (and be a zombie) already: ESRCH is not a failure here.
        let _ = kill(self.pid, Signal::SIGKILL);
        self.try_wait_timeout(PATIENCE)?.ok_or(Error::Unkillable {
            pid: self.pid(),
            bound: PATIENCE,
        })
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if !self.reaped
            && let Err(err) = self.try_kill_and_reap()
        {
            // Panicking in drop would abort an unwinding test; report and go on.
            eprintln!("{err}");
        }
    }
}

#[cfg(test)]
mod tests {
    use nix::errno::Errno;

    use super::*;

    /// True once `pid` no longer exists (reaped, so not even a zombie).
    fn gone(pid: i32) -> bool {
        kill(Pid::from_raw(pid), None) == Err(Errno::ESRCH)
    }

    fn sleeper() -> Child {
        spawn_child(|| {
            std::thread::sleep(PATIENCE * 2);
            Err(99)
        })
    }

    #[test]
    fn exit_codes_name_the_failed_check() {
        let mut child = spawn_child(|| {
            ensure(true, 1)?;
            ensure(false, 2)
        });
        assert_eq!(child.join(), 2);
    }

    #[test]
    fn a_panicking_body_exits_with_its_own_code() {
        let mut child = spawn_child(|| panic!("on purpose"));
        assert_eq!(child.join(), CHILD_PANICKED);
    }

    #[test]
    fn a_child_that_overstays_is_killed_and_reaped() {
        let mut child = sleeper();
        let pid = child.pid();
        let err = child
            .reap_within(Duration::from_millis(20))
            .expect_err("the child outlives the bound");
        assert!(matches!(err, Error::Overstayed { .. }), "{err}");
        assert!(gone(pid));
    }

    #[test]
    fn dropping_an_unreaped_child_kills_and_reaps_it() {
        let child = sleeper();
        let pid = child.pid();
        drop(child);
        assert!(gone(pid));
    }

    #[test]
    fn a_killed_child_is_reaped_as_killed() {
        let mut child = sleeper();
        child.kill();
        child.reap_killed();
        assert!(gone(child.pid()));
    }

    #[test]
    fn the_child_dies_with_the_thread_that_forked_it() {
        let (pid, pidfd) = std::thread::spawn(|| {
            // The body runs after the child asked to die with this thread: once it has
            // said so, this thread may end.
            let started = crate::SharedMapping::new(std::sync::atomic::AtomicBool::new(false));
            let child = spawn_child(|| {
                started.store(true, std::sync::atomic::Ordering::SeqCst);
                std::thread::sleep(PATIENCE * 2);
                Err(99)
            });
            crate::eventually(
                || started.load(std::sync::atomic::Ordering::SeqCst),
                PATIENCE,
            );
            let pid = child.pid();
            // Left running on purpose: the forking thread's end must end it.
            std::mem::forget(child);
            (pid, crate::descriptors::pidfd_open(pid))
        })
        .join()
        .expect("the forking thread");
        assert!(crate::descriptors::ended_within(&pidfd, PATIENCE));
        let mut child = Child {
            pid: Pid::from_raw(pid),
            reaped: false,
        };
        assert_eq!(
            child.wait_timeout(PATIENCE),
            Some(Ended::Killed(Signal::SIGKILL))
        );
    }

    #[test]
    fn a_kept_descriptor_stays_open_and_the_others_close() {
        use std::os::fd::AsRawFd;
        let (kept, _kept_peer) = std::os::unix::net::UnixStream::pair().expect("pair");
        let (closed, _closed_peer) = std::os::unix::net::UnixStream::pair().expect("pair");
        let (kept_fd, closed_fd) = (kept.as_raw_fd(), closed.as_raw_fd());
        let mut child = spawn_child_keeping(&[kept_fd], || {
            // SAFETY: fcntl(F_GETFD) reads a descriptor's flags and touches no memory.
            let open = |fd| unsafe { libc::fcntl(fd, libc::F_GETFD) } != -1;
            ensure(open(kept_fd), 1)?;
            ensure(!open(closed_fd), 2)
        });
        assert_eq!(child.join(), 0);
    }
}
