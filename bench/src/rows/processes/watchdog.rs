//! A watchdog thread that bounds the waits of a crate that offers no usable bound.
//!
//! procspawn's `spawn` blocks until the child connects back, with no timeout, and its
//! `join_timeout` polls with sleeps of a millisecond and more, which would put those
//! sleeps in its figure. So its contender calls the blocking `spawn` and `join`, and
//! this watchdog keeps them bounded: a child still not joined at its deadline is
//! killed through its pidfd (never a recycled pid), which makes `join` return an
//! error. A `spawn` still blocked at its deadline cannot be interrupted from outside
//! the crate; the watchdog then ends the whole process with a message, rather than
//! let the run hang.
//!
//! Arming costs the measured thread an uncontended lock per phase; the watchdog
//! itself wakes every [`TICK`], so it adds no wake-up to the measured work.

use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::error::BenchError;

/// How often the watchdog looks at the deadline: a late kill is only this much late.
const TICK: Duration = Duration::from_millis(50);

/// What the measured thread is doing.
enum Phase {
    /// Nothing that can block.
    Idle,
    /// Inside a call that only ending the process can interrupt.
    Starting {
        what: &'static str,
        deadline: Instant,
    },
    /// Waiting for the child behind `pidfd`.
    Joining { pidfd: OwnedFd, deadline: Instant },
}

struct State {
    phase: Phase,
    stop: bool,
}

struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

/// The watchdog thread; stopped and joined on drop.
pub(super) struct Watchdog {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Watchdog {
    /// Starts the watchdog thread, idle.
    pub(super) fn start() -> Result<Self, BenchError> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                phase: Phase::Idle,
                stop: false,
            }),
            wake: Condvar::new(),
        });
        let watched = Arc::clone(&shared);
        let thread = thread::Builder::new()
            .name("bench-watchdog".into())
            .spawn(move || watch(&watched))
            .map_err(BenchError::Thread)?;
        Ok(Self {
            shared,
            thread: Some(thread),
        })
    }

    fn set(&self, phase: Phase) -> Result<(), BenchError> {
        self.lock()?.phase = phase;
        Ok(())
    }

    fn lock(&self) -> Result<MutexGuard<'_, State>, BenchError> {
        self.shared.state.lock().map_err(|_| BenchError::Poisoned)
    }

    /// The measured thread enters a call that must end within `limit`.
    pub(super) fn starting(&self, what: &'static str, limit: Duration) -> Result<(), BenchError> {
        self.set(Phase::Starting {
            what,
            deadline: Instant::now() + limit,
        })
    }

    /// The measured thread waits for the child behind `pidfd`, which is killed if it
    /// has not ended within `limit`.
    pub(super) fn joining(&self, pidfd: OwnedFd, limit: Duration) -> Result<(), BenchError> {
        self.set(Phase::Joining {
            pidfd,
            deadline: Instant::now() + limit,
        })
    }

    /// Nothing to watch any more.
    pub(super) fn idle(&self) -> Result<(), BenchError> {
        self.set(Phase::Idle)
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        if let Ok(mut state) = self.shared.state.lock() {
            state.stop = true;
            state.phase = Phase::Idle;
        }
        self.shared.wake.notify_all();
        if let Some(thread) = self.thread.take() {
            // The watchdog only returns or kills: a panic there has nothing to report.
            let _ = thread.join();
        }
    }
}

/// The watchdog's loop.
fn watch(shared: &Shared) {
    let Ok(mut state) = shared.state.lock() else {
        return;
    };
    while !state.stop {
        let now = Instant::now();
        match &state.phase {
            Phase::Starting { what, deadline } if now >= *deadline => {
                eprintln!(
                    "mp-bench: {what} blocked past its limit and cannot be interrupted; ending the run"
                );
                std::process::abort();
            }
            Phase::Joining { pidfd, deadline } if now >= *deadline => {
                kill_through(pidfd);
                // Killed once; the measured thread's join now fails and reports it.
                state.phase = Phase::Idle;
            }
            _ => {}
        }
        state = match shared.wake.wait_timeout(state, TICK) {
            Ok((state, _)) => state,
            Err(_) => return,
        };
    }
}

/// Sends `SIGKILL` to the process behind `pidfd`. The pidfd names that process and no
/// other, even if it has ended and its pid is reused since.
fn kill_through(pidfd: &OwnedFd) {
    // SAFETY: pidfd_send_signal takes a descriptor we own, a signal number, a null
    // siginfo pointer (allowed: the kernel fills in a default) and flags 0; it writes
    // no memory of ours.
    let _ = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            libc::SIGKILL,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    // A failure means the child ended on its own meanwhile (ESRCH), and the join is
    // about to return: nothing to do.
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::ExitStatusExt;
    use std::process::Command;
    use std::time::Duration;

    use nix::unistd::Pid;

    use super::Watchdog;
    use crate::rows::processes::bare::pidfd_open;

    fn pid_of(child: &std::process::Child) -> Pid {
        Pid::from_raw(i32::try_from(child.id()).expect("a pid"))
    }

    #[test]
    fn a_child_past_its_deadline_is_killed() {
        let watchdog = Watchdog::start().expect("watchdog");
        let mut sleeper = Command::new("sleep").arg("30").spawn().expect("run sleep");
        let pidfd = pidfd_open(pid_of(&sleeper)).expect("pidfd");
        watchdog
            .joining(pidfd, Duration::from_millis(20))
            .expect("armed");
        // Ends within the watchdog's tick of the deadline, killed.
        let status = sleeper.wait().expect("wait for sleep");
        watchdog.idle().expect("disarmed");
        assert_eq!(status.signal(), Some(libc::SIGKILL));
    }

    #[test]
    fn an_idle_watchdog_kills_nothing() {
        let watchdog = Watchdog::start().expect("watchdog");
        let sleeper = Command::new("sleep").arg("0.3").spawn().expect("run sleep");
        let pidfd = pidfd_open(pid_of(&sleeper)).expect("pidfd");
        watchdog
            .joining(pidfd, Duration::from_millis(20))
            .expect("armed");
        watchdog.idle().expect("disarmed in time");
        let status = sleeper.wait_with_output().expect("wait for sleep").status;
        assert!(status.success(), "{status}");
        drop(watchdog);
    }
}
