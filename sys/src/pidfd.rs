//! Handles on processes that a recycled pid cannot fool: `pidfd_open`,
//! `pidfd_send_signal`, and waiting for the process to end (its pidfd polls readable).
//!
//! nix does not wrap these system calls; they are written once here.

use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};

use nix::errno::Errno;

use crate::Deadline;

/// A pidfd for `pid`: a handle on that very process. The kernel sets `O_CLOEXEC` on it.
/// A pid that names no process gives `ESRCH`.
///
/// ```
/// let me = mp_sys::pidfd::open(std::process::id() as i32)?;
/// assert!(!mp_sys::pidfd::has_exited(std::os::fd::AsFd::as_fd(&me))?);
/// # Ok::<(), nix::errno::Errno>(())
/// ```
pub fn open(pid: i32) -> Result<OwnedFd, Errno> {
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
/// gives `ESRCH`; signal 0 only checks that it could be sent.
///
/// ```
/// use std::os::fd::AsFd;
///
/// let me = mp_sys::pidfd::open(std::process::id() as i32)?;
/// mp_sys::pidfd::send_signal(me.as_fd(), 0)?;
/// # Ok::<(), nix::errno::Errno>(())
/// ```
pub fn send_signal(pidfd: BorrowedFd<'_>, signal: i32) -> Result<(), Errno> {
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

/// Waits until the process behind `pidfd` has ended (its pidfd polls readable), or
/// `deadline` passes; whether it ended. It need not be reaped yet, and this does not reap
/// it.
///
/// ```
/// use std::os::fd::AsFd;
/// use std::time::Duration;
/// use mp_sys::{Deadline, pidfd};
///
/// let me = pidfd::open(std::process::id() as i32)?;
/// assert!(!pidfd::wait_exited(me.as_fd(), Deadline::after(Duration::from_millis(1)))?);
/// # Ok::<(), nix::errno::Errno>(())
/// ```
pub fn wait_exited(pidfd: BorrowedFd<'_>, deadline: Deadline) -> Result<bool, Errno> {
    crate::poll::is_readable(pidfd, deadline)
}

/// Whether the process behind `pidfd` has ended, without waiting.
///
/// ```
/// use std::os::fd::AsFd;
///
/// let me = mp_sys::pidfd::open(std::process::id() as i32)?;
/// assert!(!mp_sys::pidfd::has_exited(me.as_fd())?);
/// # Ok::<(), nix::errno::Errno>(())
/// ```
pub fn has_exited(pidfd: BorrowedFd<'_>) -> Result<bool, Errno> {
    wait_exited(pidfd, Deadline::after(std::time::Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    #[test]
    fn an_ended_child_is_seen_to_exit_and_cannot_be_signalled() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let pidfd = open(child.id() as i32);
        let _ = child.kill(); // whatever happens below, the child does not outlive the test
        let pidfd = pidfd.unwrap();
        assert!(wait_exited(pidfd.as_fd(), Deadline::NEVER).unwrap());
        assert!(has_exited(pidfd.as_fd()).unwrap());
        child.wait().unwrap();
        assert_eq!(send_signal(pidfd.as_fd(), 0), Err(Errno::ESRCH));
    }

    #[test]
    fn a_signal_through_the_pidfd_ends_the_child() {
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        let sent = open(child.id() as i32).and_then(|pidfd| {
            send_signal(pidfd.as_fd(), libc::SIGKILL)?;
            wait_exited(pidfd.as_fd(), Deadline::NEVER)
        });
        if sent.is_err() {
            let _ = child.kill();
        }
        let status = child.wait().unwrap();
        assert_eq!(sent, Ok(true));
        assert_eq!(
            std::os::unix::process::ExitStatusExt::signal(&status),
            Some(libc::SIGKILL)
        );
    }

    #[test]
    fn a_missing_pid_is_esrch() {
        // Above PID_MAX_LIMIT (2^22): never a live pid.
        assert_eq!(open(1 << 23).err(), Some(Errno::ESRCH));
    }
}
