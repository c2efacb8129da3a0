//! Waiting on several objects at once: Python's `multiprocessing.connection.wait`.
//!
//! Anything that can become "ready" implements [`Waitable`]: a [`Connection`](crate::Connection)
//! (a message to read, or the peer gone), the queues of this crate (an item to get), a
//! process sentinel of mp-processes (a pidfd: the process ended), or any descriptor
//! ([`BorrowedFd`], [`OwnedFd`]: it polls readable). [`wait`] blocks until at least one of
//! them is ready, or a timeout passes, and says which.
//!
//! Objects that have a descriptor are waited on with one `poll(2)` call, so a wake-up costs
//! nothing while nothing happens. Objects without one (their
//! [`readiness_fd`](Waitable::readiness_fd) is `None`) are checked again after a short sleep
//! that grows from 50 us to 5 ms while they stay unready.

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

use crate::Error;

/// Something [`wait`] can wait on.
///
/// Implement it for your own type by saying whether a wait would return at once, and, if
/// the type has one, which descriptor polls readable when that may have changed:
///
/// ```
/// use std::os::fd::{AsFd, BorrowedFd};
/// use std::os::unix::net::UnixStream;
/// use std::time::Duration;
/// use mp_ipc::{Waitable, wait};
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
/// # Ok::<(), mp_ipc::Error>(())
/// ```
pub trait Waitable {
    /// Whether a wait on it would return at once (an item to get, a message to read, a
    /// process ended, or closed).
    ///
    /// ```
    /// use std::os::fd::AsFd;
    /// use mp_ipc::Waitable;
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
    /// use mp_ipc::Waitable;
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
/// use mp_ipc::wait;
///
/// let (a, b) = UnixStream::pair().unwrap();
/// drop(a);
/// assert_eq!(wait(&[&b.as_fd()], Some(Duration::from_secs(5)))?, [0]);
/// # Ok::<(), mp_ipc::Error>(())
/// ```
impl Waitable for BorrowedFd<'_> {
    fn is_ready(&self) -> bool {
        // An error of poll itself (EBADF cannot happen for a live BorrowedFd) counts as
        // ready: a read would then return at once with that error.
        poll_readable(*self, Some(Duration::ZERO)).unwrap_or(true)
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
/// use mp_ipc::wait;
///
/// let (reader, writer) = std::io::pipe().unwrap();
/// let reader = OwnedFd::from(reader);
/// assert!(wait(&[&reader], Some(Duration::from_millis(1)))?.is_empty());
/// drop(writer);
/// assert_eq!(wait(&[&reader], None)?, [0]);
/// # Ok::<(), mp_ipc::Error>(())
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
/// use mp_ipc::wait;
///
/// let (a_in, _a_out) = UnixStream::pair().unwrap();
/// let (b_in, mut b_out) = UnixStream::pair().unwrap();
/// b_out.write_all(b"hello").unwrap();
///
/// let ready = wait(&[&a_in.as_fd(), &b_in.as_fd()], Some(Duration::from_secs(5)))?;
/// assert_eq!(ready, [1]);
/// # Ok::<(), mp_ipc::Error>(())
/// ```
pub fn wait(objects: &[&dyn Waitable], timeout: Option<Duration>) -> Result<Vec<usize>, Error> {
    let deadline = timeout.map(|timeout| Instant::now().checked_add(timeout));
    // `Some(None)`: a timeout too far away to represent; wait without one.
    let deadline = deadline.flatten();
    let mut backoff = FIRST_BACKOFF;
    // Objects whose descriptor polled readable while they said they were not ready: from
    // then on they are rechecked with the backoff, so a level-triggered descriptor that
    // stays readable cannot make this loop spin.
    let mut distrusted = vec![false; objects.len()];
    loop {
        let ready = ready_indices(objects);
        if !ready.is_empty() || objects.is_empty() {
            return Ok(ready);
        }
        let remaining = match deadline {
            Some(deadline) => {
                let now = Instant::now();
                if now >= deadline {
                    return Ok(Vec::new());
                }
                Some(deadline - now)
            }
            None => None,
        };

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
        let slice = match (needs_backoff, remaining) {
            (true, Some(remaining)) => Some(remaining.min(backoff)),
            (true, None) => Some(backoff),
            (false, remaining) => remaining,
        };
        let woke = poll_until(&mut pollfds, slice)?;
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

/// Whether `fd` polls readable (or hung up, or in error) within `timeout` (`None`: no
/// limit). Interrupting signals are retried with the time left.
pub(crate) fn poll_readable(fd: BorrowedFd<'_>, timeout: Option<Duration>) -> Result<bool, Error> {
    let mut pollfds = [PollFd::new(fd, PollFlags::POLLIN)];
    poll_until(&mut pollfds, timeout)
}

/// One `poll(2)` over `pollfds` for at most `timeout` (`None`: no limit; an empty set just
/// sleeps). Whether any descriptor has events. `EINTR` is retried with the time left.
fn poll_until(pollfds: &mut [PollFd<'_>], timeout: Option<Duration>) -> Result<bool, Error> {
    let deadline = timeout.and_then(|timeout| Instant::now().checked_add(timeout));
    loop {
        let slice = match deadline {
            Some(deadline) => to_poll_timeout(deadline.saturating_duration_since(Instant::now())),
            None if timeout.is_some() => PollTimeout::MAX,
            None => PollTimeout::NONE,
        };
        match poll(pollfds, slice) {
            Ok(count) => return Ok(count > 0),
            Err(Errno::EINTR) => {
                if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                    return Ok(false);
                }
            }
            Err(errno) => {
                return Err(Error::Os {
                    operation: "poll",
                    errno,
                });
            }
        }
    }
}

/// Milliseconds for `poll(2)`, rounded up so a wait of less than a millisecond sleeps
/// rather than spins.
fn to_poll_timeout(duration: Duration) -> PollTimeout {
    let millis = duration.as_nanos().div_ceil(1_000_000);
    PollTimeout::try_from(millis).unwrap_or(PollTimeout::MAX)
}
