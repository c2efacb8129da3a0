//! The bare peers: `fork` + `_exit` + `waitpid`, and re-executing this binary with
//! nothing to do.
//!
//! Each child exits with a code the parent expects (see
//! [`exit_code_for`]). The parent waits for it through a pidfd
//! with a deadline, so a child that never ends is killed and reaped instead of
//! hanging the run.

use std::os::fd::{AsFd, FromRawFd, OwnedFd, RawFd};
use std::process::Command;
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork};

use super::workload::{WAIT_LIMIT, WAVE, exit_code_for, waves};
use crate::error::BenchError;

/// The environment variable that makes a run of this binary exit before `main`,
/// with the exit code it holds.
const EXIT_AT_ONCE_ENV: &str = "MP_BENCH_EXIT_AT_ONCE";

/// The exit code of a run whose [`EXIT_AT_ONCE_ENV`] holds no valid code; outside
/// the 1 to 100 that the parent ever asks for.
const EXIT_MALFORMED: i32 = 125;

// The C runtime runs every function of `.init_array` before `main`. This one makes
// a re-executed bench binary (or bench test binary, whose `main` is the test
// harness's) exit at once when asked, so the bare re-exec peer measures `exec`,
// loading and start-up of this very binary, and nothing of `main`.
#[used]
#[unsafe(link_section = ".init_array")]
static EXIT_AT_ONCE_HOOK: extern "C" fn() = exit_at_once;

/// Exits with the code in [`EXIT_AT_ONCE_ENV`], if it is set; else returns, and the
/// program goes on to `main`.
extern "C" fn exit_at_once() {
    let Some(value) = std::env::var_os(EXIT_AT_ONCE_ENV) else {
        return;
    };
    let code = value
        .to_str()
        .and_then(|v| v.parse::<u8>().ok())
        .map_or(EXIT_MALFORMED, i32::from);
    std::process::exit(code);
}

/// A child of this process, with a pidfd to wait for it with a deadline. Killed and
/// reaped on drop unless [`BareChild::reap`] reaped it.
struct BareChild {
    pid: Option<Pid>,
    pidfd: OwnedFd,
}

impl BareChild {
    /// Takes charge of the (unreaped) child `pid`.
    fn adopt(pid: Pid) -> Result<Self, BenchError> {
        match pidfd_open(pid) {
            Ok(pidfd) => Ok(Self {
                pid: Some(pid),
                pidfd,
            }),
            Err(e) => {
                kill_and_reap(pid);
                Err(e)
            }
        }
    }

    /// Forks a child that `_exit`s with `code` at once.
    fn fork_exit(code: i32) -> Result<Self, BenchError> {
        // SAFETY: the child calls only `_exit`, which is async-signal-safe, so it
        // touches no lock or allocator state another thread of the parent (the test
        // harness has several) may have held at the fork.
        match unsafe { fork() }.map_err(BenchError::sys("fork"))? {
            // SAFETY: `_exit` ends the child at once, running none of the parent's
            // destructors or atexit handlers.
            ForkResult::Child => unsafe { libc::_exit(code) },
            ForkResult::Parent { child } => Self::adopt(child),
        }
    }

    /// Waits until the child ends (killing it at `deadline`), reaps it and checks
    /// that it exited with `code`.
    fn reap(mut self, code: i32, deadline: Instant) -> Result<(), BenchError> {
        let ended = wait_readable(&self.pidfd, deadline)?;
        let Some(pid) = self.pid.take() else {
            return Ok(());
        };
        if !ended {
            kill_and_reap(pid);
            return Err(BenchError::TimedOut {
                what: "a bare child to exit",
                timeout: WAIT_LIMIT,
            });
        }
        // The pidfd is readable: the child has ended, so this returns at once.
        match waitpid(pid, None).map_err(BenchError::sys("waitpid"))? {
            WaitStatus::Exited(_, status) if status == code => Ok(()),
            other => Err(BenchError::WrongOutcome(format!(
                "a bare child ended with {other:?}, not with exit code {code}"
            ))),
        }
    }
}

impl Drop for BareChild {
    fn drop(&mut self) {
        if let Some(pid) = self.pid.take() {
            kill_and_reap(pid);
        }
    }
}

/// Kills `pid` and waits for it: a child the measurement no longer needs. A
/// `SIGKILL`ed process ends at once, so the wait is short.
fn kill_and_reap(pid: Pid) {
    let _ = kill(pid, Signal::SIGKILL);
    let _ = waitpid(pid, None);
}

/// A pidfd for `pid`: readable once the process has ended.
pub(super) fn pidfd_open(pid: Pid) -> Result<OwnedFd, BenchError> {
    // SAFETY: `pidfd_open` takes a pid and a flags word, reads and writes no memory of
    // ours, and returns a new descriptor or -1. nix has no wrapper for it.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    if fd < 0 {
        return Err(BenchError::Sys {
            call: "pidfd_open",
            source: Errno::last(),
        });
    }
    let fd = RawFd::try_from(fd).map_err(|_| BenchError::Sys {
        call: "pidfd_open",
        source: Errno::EBADF,
    })?;
    // SAFETY: the kernel has just returned `fd`, an open descriptor that nothing else
    // in this process owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Waits until `pidfd` is readable (its process has ended) or `deadline` passes;
/// true if it ended.
fn wait_readable(pidfd: &OwnedFd, deadline: Instant) -> Result<bool, BenchError> {
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        // Rounded up, so that a wait never ends just short of the deadline.
        let timeout =
            PollTimeout::try_from(left.as_millis().saturating_add(1)).unwrap_or(PollTimeout::MAX);
        let mut fds = [PollFd::new(pidfd.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, timeout) {
            Ok(0) if left.is_zero() => return Ok(false),
            Ok(0) | Err(Errno::EINTR) => {}
            Ok(_) => return Ok(true),
            Err(e) => return Err(BenchError::sys("poll")(e)),
        }
    }
}

/// `iterations` times: fork a child that `_exit`s at once, wait for it.
pub(super) fn fork_join(iterations: u64) -> Result<Duration, BenchError> {
    BareChild::fork_exit(1)?.reap(1, Instant::now() + WAIT_LIMIT)?;
    let clock = Instant::now();
    for n in 0..iterations {
        let code = exit_code_for(n);
        BareChild::fork_exit(code)?.reap(code, Instant::now() + WAIT_LIMIT)?;
    }
    Ok(clock.elapsed())
}

/// `iterations` children, in waves: fork a whole wave, then wait for all of it.
/// Children not yet reaped when something fails are killed and reaped on drop.
pub(super) fn fork_join_waves(iterations: u64) -> Result<Duration, BenchError> {
    BareChild::fork_exit(1)?.reap(1, Instant::now() + WAIT_LIMIT)?;
    let mut first = 0;
    let clock = Instant::now();
    for size in waves(iterations) {
        let mut wave = Vec::with_capacity(WAVE as usize);
        for n in first..first + size {
            let code = exit_code_for(n);
            wave.push((BareChild::fork_exit(code)?, code));
        }
        first += size;
        let deadline = Instant::now() + WAIT_LIMIT;
        for (child, code) in wave {
            child.reap(code, deadline)?;
        }
    }
    Ok(clock.elapsed())
}

/// Runs this binary again, asking it to exit before `main` with `code`.
fn reexec(code: i32) -> Result<BareChild, BenchError> {
    let child = Command::new("/proc/self/exe")
        .env(EXIT_AT_ONCE_ENV, code.to_string())
        .spawn()
        .map_err(|e| BenchError::Child(format!("could not run /proc/self/exe: {e}")))?;
    // std's `Child` neither kills nor reaps when dropped: the pid is ours to manage.
    let pid = i32::try_from(child.id()).map_err(|_| BenchError::Sys {
        call: "spawn",
        source: Errno::ERANGE,
    })?;
    BareChild::adopt(Pid::from_raw(pid))
}

/// `iterations` times: re-execute this binary with nothing to do, wait for it.
pub(super) fn reexec_join(iterations: u64) -> Result<Duration, BenchError> {
    reexec(1)?.reap(1, Instant::now() + WAIT_LIMIT)?;
    let clock = Instant::now();
    for n in 0..iterations {
        let code = exit_code_for(n);
        reexec(code)?.reap(code, Instant::now() + WAIT_LIMIT)?;
    }
    Ok(clock.elapsed())
}

#[cfg(test)]
mod tests {
    use std::process::Command;
    use std::time::{Duration, Instant};

    use nix::errno::Errno;
    use nix::sys::signal::kill;
    use nix::unistd::Pid;

    use super::{BareChild, EXIT_AT_ONCE_ENV, EXIT_MALFORMED, reexec};
    use crate::error::BenchError;

    #[test]
    fn a_reexecuted_binary_exits_before_main_with_the_code_asked() {
        let status = Command::new("/proc/self/exe")
            .env(EXIT_AT_ONCE_ENV, "42")
            // Were the hook missing, the test harness would run and exit 0 or 101.
            .arg("--list")
            .status()
            .expect("run the test binary");
        assert_eq!(status.code(), Some(42));
        let status = Command::new("/proc/self/exe")
            .env(EXIT_AT_ONCE_ENV, "not a code")
            .arg("--list")
            .status()
            .expect("run the test binary");
        assert_eq!(status.code(), Some(EXIT_MALFORMED));
    }

    #[test]
    fn a_wrong_exit_code_is_a_wrong_outcome() {
        let err = BareChild::fork_exit(7)
            .expect("fork")
            .reap(8, Instant::now() + Duration::from_secs(10))
            .expect_err("7 is not 8");
        assert!(
            matches!(&err, BenchError::WrongOutcome(m) if m.contains("8")),
            "{err}"
        );
        let err = reexec(3)
            .expect("re-exec")
            .reap(4, Instant::now() + Duration::from_secs(10))
            .expect_err("3 is not 4");
        assert!(matches!(err, BenchError::WrongOutcome(_)), "{err}");
    }

    #[test]
    fn a_child_past_its_deadline_is_killed_and_reaped() {
        // A child of this process that sleeps far longer than the deadline allows.
        #[allow(clippy::zombie_processes, reason = "BareChild reaps it, by its pid")]
        let sleeper = Command::new("sleep").arg("30").spawn().expect("run sleep");
        let pid = Pid::from_raw(i32::try_from(sleeper.id()).expect("a pid"));
        let child = BareChild::adopt(pid).expect("pidfd");
        let err = child
            .reap(0, Instant::now() + Duration::from_millis(50))
            .expect_err("sleep outlives the deadline");
        assert!(matches!(err, BenchError::TimedOut { .. }), "{err}");
        assert_eq!(kill(pid, None), Err(Errno::ESRCH), "killed and reaped");
    }

    #[test]
    fn dropping_an_unreaped_child_kills_and_reaps_it() {
        #[allow(clippy::zombie_processes, reason = "BareChild reaps it, by its pid")]
        let sleeper = Command::new("sleep").arg("30").spawn().expect("run sleep");
        let pid = Pid::from_raw(i32::try_from(sleeper.id()).expect("a pid"));
        drop(BareChild::adopt(pid).expect("pidfd"));
        assert_eq!(kill(pid, None), Err(Errno::ESRCH));
    }
}
