//! Waiting until descriptors are ready, or a deadline passes.
//!
//! `poll(2)` takes a relative timeout in milliseconds and returns early on a signal
//! (`EINTR`); a loop that simply retried with the same timeout would wait too long, and
//! one that gave up would return "timed out" early. Every wait here retries with the time
//! left until its [`Deadline`], so a caller sees either a ready descriptor or a deadline
//! that really passed.

use std::os::fd::BorrowedFd;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use crate::Deadline;

/// Polls `pollfds` until at least one has events or `deadline` passes; whether any has.
///
/// `EINTR` is retried with the time left; a deadline farther than one `poll` can wait
/// takes several. An empty set just sleeps until the deadline.
///
/// ```
/// use std::os::fd::AsFd;
/// use std::time::Duration;
/// use nix::poll::{PollFd, PollFlags};
/// use mp_sys::{Deadline, poll};
///
/// let (reader, writer) = std::io::pipe().unwrap();
/// let mut fds = [PollFd::new(reader.as_fd(), PollFlags::POLLIN)];
/// assert!(!poll::poll_until(&mut fds, Deadline::after(Duration::ZERO))?);
/// drop(writer);
/// assert!(poll::poll_until(&mut fds, Deadline::NEVER)?);
/// # Ok::<(), nix::errno::Errno>(())
/// ```
pub fn poll_until(pollfds: &mut [PollFd<'_>], deadline: Deadline) -> Result<bool, Errno> {
    loop {
        let timeout = PollTimeout::try_from(deadline.to_poll_millis()).unwrap_or(PollTimeout::MAX);
        match poll(pollfds, timeout) {
            Ok(0) => {
                if deadline.has_passed() {
                    return Ok(false);
                }
            }
            Ok(_) => return Ok(true),
            Err(Errno::EINTR) => {
                if deadline.has_passed() {
                    return Ok(false);
                }
            }
            Err(errno) => return Err(errno),
        }
    }
}

/// Waits until at least one of `fds` has one of its events (or is hung up, or in error),
/// or `deadline` passes. Which of them are ready, in order; all `false` once the deadline
/// passed.
///
/// ```
/// use std::os::fd::AsFd;
/// use nix::poll::PollFlags;
/// use mp_sys::{Deadline, poll};
///
/// let (reader, writer) = std::io::pipe().unwrap();
/// let ready = poll::wait_ready(
///     &[(reader.as_fd(), PollFlags::POLLIN), (writer.as_fd(), PollFlags::POLLOUT)],
///     Deadline::NEVER,
/// )?;
/// assert_eq!(ready, [false, true]);
/// # Ok::<(), nix::errno::Errno>(())
/// ```
pub fn wait_ready(
    fds: &[(BorrowedFd<'_>, PollFlags)],
    deadline: Deadline,
) -> Result<Vec<bool>, Errno> {
    let mut pollfds: Vec<PollFd<'_>> = fds
        .iter()
        .map(|(fd, events)| PollFd::new(*fd, *events))
        .collect();
    if poll_until(&mut pollfds, deadline)? {
        Ok(pollfds.iter().map(|fd| fd.any().unwrap_or(true)).collect())
    } else {
        Ok(vec![false; fds.len()])
    }
}

/// [`wait_ready`] for readability (`POLLIN`) of every descriptor. A pidfd polls readable
/// once its process has ended.
///
/// ```
/// use std::os::fd::AsFd;
/// use std::time::Duration;
/// use mp_sys::{Deadline, poll};
///
/// let (reader, writer) = std::io::pipe().unwrap();
/// let deadline = Deadline::after(Duration::from_millis(1));
/// assert_eq!(poll::wait_readable(&[reader.as_fd()], deadline)?, [false]);
/// drop(writer);
/// assert_eq!(poll::wait_readable(&[reader.as_fd()], Deadline::NEVER)?, [true]);
/// # Ok::<(), nix::errno::Errno>(())
/// ```
pub fn wait_readable(fds: &[BorrowedFd<'_>], deadline: Deadline) -> Result<Vec<bool>, Errno> {
    let watched: Vec<_> = fds.iter().map(|fd| (*fd, PollFlags::POLLIN)).collect();
    wait_ready(&watched, deadline)
}

/// Whether `fd` polls readable (or hung up, or in error) within `deadline`: a read on it
/// would return at once.
///
/// ```
/// use std::os::fd::AsFd;
/// use mp_sys::{Deadline, poll};
///
/// let (reader, writer) = std::io::pipe().unwrap();
/// assert!(!poll::is_readable(reader.as_fd(), Deadline::after(std::time::Duration::ZERO))?);
/// drop(writer);
/// assert!(poll::is_readable(reader.as_fd(), Deadline::NEVER)?);
/// # Ok::<(), nix::errno::Errno>(())
/// ```
pub fn is_readable(fd: BorrowedFd<'_>, deadline: Deadline) -> Result<bool, Errno> {
    let mut pollfds = [PollFd::new(fd, PollFlags::POLLIN)];
    poll_until(&mut pollfds, deadline)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsFd;
    use std::time::Duration;

    #[test]
    fn a_timeout_is_not_early() {
        let (reader, _writer) = std::io::pipe().unwrap();
        let deadline = Deadline::after(Duration::from_millis(20));
        assert!(!is_readable(reader.as_fd(), deadline).unwrap());
        assert!(
            deadline.has_passed(),
            "a wait reports a timeout only once it is over"
        );
    }

    #[test]
    fn only_the_ready_one_is_reported() {
        let (a, _a_writer) = std::io::pipe().unwrap();
        let (b, mut b_writer) = std::io::pipe().unwrap();
        b_writer.write_all(b"x").unwrap();
        let ready = wait_readable(&[a.as_fd(), b.as_fd()], Deadline::NEVER).unwrap();
        assert_eq!(ready, [false, true]);
    }

    #[test]
    fn an_empty_set_sleeps_until_the_deadline() {
        assert!(!poll_until(&mut [], Deadline::after(Duration::from_millis(1))).unwrap());
    }
}
