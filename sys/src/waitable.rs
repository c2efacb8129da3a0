//! Waiting on several objects at once: Python's `multiprocessing.connection.wait`.
//!
//! Anything that can become "ready" implements [`Waitable`]: a descriptor ([`BorrowedFd`],
//! [`OwnedFd`]: it polls readable), and, in the crates above, connections, queues and
//! process sentinels. It lives in this lowest crate so that every crate can make its
//! types waitable without depending on the others, and one [`wait`] takes them all.
//!
//! Objects that have a descriptor are waited on with one `poll(2)` call, so a wake-up costs
//! nothing while nothing happens. Objects without one (their
//! [`readiness_fd`](Waitable::readiness_fd) is `None`) are checked again after a short sleep
//! that grows from 50 us to 5 ms while they stay unready.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use nix::poll::{PollFd, PollFlags};

use crate::poll::{is_readable, poll_until};
use crate::{Deadline, Error};

/// Something [`wait`] can wait on.
///
/// Implement it for your own type by saying whether a wait would return at once, and, if
/// the type has one, which descriptor polls readable when that may have changed:
///
/// ```
/// use std::os::fd::{AsFd, BorrowedFd};
/// use std::os::unix::net::UnixStream;
/// use std::time::Duration;
/// use mp_sys::{Waitable, wait};
///
/// /// A socket that counts as ready when a byte can be read from it.
/// struct Doorbell(UnixStream);
///
/// impl Waitable for Doorbell {
///     fn is_ready(&self) -> bool {
///         self.0.as_fd().is_ready()
///     }
///     fn readiness_fd(&self) -> Option<BorrowedFd<'_>> {
///         Some(self.0.as_fd())
///     }
/// }
///
/// let (ring, bell) = UnixStream::pair().unwrap();
/// let bell = Doorbell(bell);
/// assert!(wait(&[&bell], Some(Duration::ZERO))?.is_empty());
/// std::io::Write::write_all(&mut &ring, b"!").unwrap();
/// assert_eq!(wait(&[&bell], Some(Duration::from_secs(5)))?, [0]);
/// # Ok::<(), mp_sys::Error>(())
/// ```
pub trait Waitable {
    /// Whether a wait on it would return at once (an item to get, a message to read, a
    /// process ended, or closed).
    ///
    /// ```
    /// use std::os::fd::AsFd;
    /// use mp_sys::Waitable;
    ///
    /// let (reader, writer) = std::io::pipe().unwrap();
    /// assert!(!reader.as_fd().is_ready());
    /// drop(writer); // end of file counts as ready: a read returns at once
    /// assert!(reader.as_fd().is_ready());
    /// ```
    fn is_ready(&self) -> bool;

    /// A descriptor that polls readable when the object may have become ready, if it has
    /// one; objects without one are polled with a short backoff.
    ///
    /// ```
    /// use std::os::fd::AsFd;
    /// use mp_sys::Waitable;
    ///
    /// let (reader, _writer) = std::io::pipe().unwrap();
    /// assert!(reader.as_fd().readiness_fd().is_some());
    /// ```
    fn readiness_fd(&self) -> Option<BorrowedFd<'_>>;
}

/// A descriptor is ready when it polls readable, or hung up, or in error: a read on it
/// would return at once. A pidfd (a process sentinel) polls readable when its process
/// has ended.
///
/// ```
/// use std::os::fd::AsFd;
/// use std::os::unix::net::UnixStream;
/// use std::time::Duration;
/// use mp_sys::wait;
///
/// let (a, b) = UnixStream::pair().unwrap();
/// drop(a);
/// assert_eq!(wait(&[&b.as_fd()], Some(Duration::from_secs(5)))?, [0]);
/// # Ok::<(), mp_sys::Error>(())
/// ```
impl Waitable for BorrowedFd<'_> {
    fn is_ready(&self) -> bool {
        // An error of poll itself (EBADF cannot happen for a live BorrowedFd) counts as
        // ready: a read would then return at once with that error.
        is_readable(*self, Deadline::after(Duration::ZERO)).unwrap_or(true)
    }

    fn readiness_fd(&self) -> Option<BorrowedFd<'_>> {
        Some(*self)
    }
}

/// As for [`BorrowedFd`].
///
/// ```
/// use std::os::fd::OwnedFd;
/// use std::time::Duration;
/// use mp_sys::wait;
///
/// let (reader, writer) = std::io::pipe().unwrap();
/// let reader = OwnedFd::from(reader);
/// assert!(wait(&[&reader], Some(Duration::from_millis(1)))?.is_empty());
/// drop(writer);
/// assert_eq!(wait(&[&reader], None)?, [0]);
/// # Ok::<(), mp_sys::Error>(())
/// ```
impl Waitable for OwnedFd {
    fn is_ready(&self) -> bool {
        self.as_fd().is_ready()
    }

    fn readiness_fd(&self) -> Option<BorrowedFd<'_>> {
        Some(self.as_fd())
    }
}

/// The first sleep between checks of objects that have no readiness descriptor.
const FIRST_BACKOFF: Duration = Duration::from_micros(50);
/// The longest sleep between such checks: how late such an object may be noticed.
const LONGEST_BACKOFF: Duration = Duration::from_millis(5);

/// Waits until at least one of `objects` is ready, or `timeout` has passed (`None`: no
/// limit), as Python's `multiprocessing.connection.wait(object_list, timeout)`.
///
/// Returns the indices in `objects` of those that are ready, in order; empty on timeout.
/// `Some(Duration::ZERO)` checks once without blocking. An empty list with no timeout
/// returns at once (there is nothing that could become ready), rather than block forever.
///
/// A descriptor that polls readable while its object still says it is not ready (another
/// reader took the message first, say) is not spun on: the wait goes on, and such
/// objects are then checked with the same backoff as objects without a descriptor.
///
/// Fails only if `poll(2)` itself fails ([`Error::Os`]; an interrupting signal is not a
/// failure).
///
/// ```
/// use std::io::Write;
/// use std::os::fd::AsFd;
/// use std::os::unix::net::UnixStream;
/// use std::time::Duration;
/// use mp_sys::wait;
///
/// let (a_in, _a_out) = UnixStream::pair().unwrap();
/// let (b_in, mut b_out) = UnixStream::pair().unwrap();
/// b_out.write_all(b"hello").unwrap();
///
/// let ready = wait(&[&a_in.as_fd(), &b_in.as_fd()], Some(Duration::from_secs(5)))?;
/// assert_eq!(ready, [1]);
/// # Ok::<(), mp_sys::Error>(())
/// ```
pub fn wait(objects: &[&dyn Waitable], timeout: Option<Duration>) -> Result<Vec<usize>, Error> {
    let deadline = Deadline::from_timeout(timeout);
    let mut backoff = FIRST_BACKOFF;
    // Objects whose descriptor polled readable while they said they were not ready: from
    // then on they are rechecked with the backoff, so a level-triggered descriptor that
    // stays readable cannot make this loop spin.
    let mut distrusted = vec![false; objects.len()];
    loop {
        let ready = ready_indices(objects);
        if !ready.is_empty() || objects.is_empty() || deadline.has_passed() {
            return Ok(ready);
        }

        let mut polled = Vec::with_capacity(objects.len());
        let mut pollfds = Vec::with_capacity(objects.len());
        for (index, object) in objects.iter().enumerate() {
            if distrusted[index] {
                continue;
            }
            if let Some(fd) = object.readiness_fd() {
                polled.push(index);
                pollfds.push(PollFd::new(fd, PollFlags::POLLIN));
            }
        }
        let needs_backoff = polled.len() < objects.len();
        let slice = if needs_backoff {
            deadline.earlier(Deadline::after(backoff))
        } else {
            deadline
        };
        let woke = poll_until(&mut pollfds, slice).map_err(|errno| Error::Os {
            operation: "poll",
            errno,
        })?;
        if needs_backoff {
            backoff = (backoff * 2).min(LONGEST_BACKOFF);
        }
        if woke {
            for (pollfd, &index) in pollfds.iter().zip(&polled) {
                if pollfd.any().unwrap_or(true) && !objects[index].is_ready() {
                    distrusted[index] = true;
                }
            }
        }
        tracing::trace!(woke, polled = polled.len(), "wait: one poll round");
    }
}

fn ready_indices(objects: &[&dyn Waitable]) -> Vec<usize> {
    objects
        .iter()
        .enumerate()
        .filter(|(_, object)| object.is_ready())
        .map(|(index, _)| index)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::Cell;

    /// Ready after being asked a given number of times; no descriptor.
    struct Countdown(Cell<u32>);

    impl Waitable for Countdown {
        fn is_ready(&self) -> bool {
            let left = self.0.get();
            self.0.set(left.saturating_sub(1));
            left == 0
        }
        fn readiness_fd(&self) -> Option<BorrowedFd<'_>> {
            None
        }
    }

    #[test]
    fn objects_without_a_descriptor_are_polled() {
        let countdown = Countdown(Cell::new(3));
        let (reader, _writer) = std::io::pipe().unwrap();
        let ready = wait(
            &[&reader.as_fd(), &countdown],
            Some(Duration::from_secs(10)),
        )
        .unwrap();
        assert_eq!(ready, [1]);
    }

    #[test]
    fn an_empty_list_returns_at_once() {
        assert!(wait(&[], None).unwrap().is_empty());
    }

    #[test]
    fn zero_checks_once() {
        let (reader, _writer) = std::io::pipe().unwrap();
        assert!(
            wait(&[&reader.as_fd()], Some(Duration::ZERO))
                .unwrap()
                .is_empty()
        );
    }
}
