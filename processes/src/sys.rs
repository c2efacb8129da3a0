//! The system calls nix does not wrap (`pidfd_open`, `pidfd_send_signal`), and waiting
//! for descriptors to become readable until a deadline.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::time::Instant;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

/// A pidfd for `pid`: a handle on that very process that a recycled pid cannot fool.
/// The kernel sets `O_CLOEXEC` on it.
pub(crate) fn pidfd_open(pid: i32) -> Result<OwnedFd, Errno> {
    // SAFETY: pidfd_open takes a pid and a flags word and returns a new descriptor or -1;
    // no memory is passed to the kernel.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(Errno::last());
    }
    let fd = i32::try_from(fd).map_err(|_| Errno::EBADF)?;
    // SAFETY: the kernel has just installed this descriptor for us; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Sends `signal` to the process behind `pidfd`. A process that is gone already (reaped)
/// gives `ESRCH`.
pub(crate) fn pidfd_send_signal(pidfd: BorrowedFd<'_>, signal: i32) -> Result<(), Errno> {
    // SAFETY: pidfd_send_signal takes a descriptor, a signal number, a null siginfo pointer
    // (meaning "as kill(2) would fill it") and flags 0; the kernel reads no memory of ours.
    let status = unsafe {
        libc::syscall(
            libc::SYS_pidfd_send_signal,
            pidfd.as_raw_fd(),
            signal,
            std::ptr::null::<libc::siginfo_t>(),
            0,
        )
    };
    if status < 0 {
        Err(Errno::last())
    } else {
        Ok(())
    }
}

/// Waits until at least one of `fds` is readable (or hung up), or `deadline` passes
/// (`None`: no deadline). Which of them are ready, in order; all `false` on time-out.
pub(crate) fn wait_readable(
    fds: &[BorrowedFd<'_>],
    deadline: Option<Instant>,
) -> Result<Vec<bool>, Errno> {
    let watched: Vec<_> = fds.iter().map(|fd| (*fd, PollFlags::POLLIN)).collect();
    wait_ready(&watched, deadline)
}

/// [`wait_readable`] for any `poll` events, given per descriptor.
pub(crate) fn wait_ready(
    fds: &[(BorrowedFd<'_>, PollFlags)],
    deadline: Option<Instant>,
) -> Result<Vec<bool>, Errno> {
    loop {
        let timeout = match deadline {
            None => PollTimeout::NONE,
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                // Round up, so a wait never ends a little before its deadline.
                let millis = left.as_nanos().div_ceil(1_000_000);
                PollTimeout::try_from(millis).unwrap_or(PollTimeout::MAX)
            }
        };
        let mut poll_fds: Vec<PollFd<'_>> = fds
            .iter()
            .map(|(fd, events)| PollFd::new(*fd, *events))
            .collect();
        match poll(&mut poll_fds, timeout) {
            Ok(0) => {
                if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                    return Ok(vec![false; fds.len()]);
                }
            }
            Ok(_) => {
                return Ok(poll_fds.iter().map(|fd| fd.any().unwrap_or(true)).collect());
            }
            Err(Errno::EINTR) => {}
            Err(errno) => return Err(errno),
        }
    }
}

/// Whether `fd` is readable right now.
pub(crate) fn is_readable(fd: BorrowedFd<'_>) -> Result<bool, Errno> {
    Ok(wait_readable(&[fd], Some(Instant::now()))?
        .first()
        .copied()
        .unwrap_or(false))
}

/// Ends this process at once, without running `atexit` hooks or destructors: every
/// child path ends here, so that a child never returns into its parent's `main` or test
/// harness. Standard output is flushed first.
pub(crate) fn exit_now(code: i32) -> ! {
    use std::io::Write;
    let _ = std::io::stdout().flush();
    let _ = std::io::stderr().flush();
    // SAFETY: `_exit` ends the process; it is async-signal-safe and touches no memory of
    // ours.
    unsafe { libc::_exit(code) }
}
