//! [`pipe`]: two connected ends, Python's `multiprocessing.Pipe(duplex)`.

use std::os::fd::{AsRawFd, OwnedFd};

use nix::sys::socket::{AddressFamily, Shutdown, SockFlag, SockType, shutdown, socketpair};

use super::Connection;
use crate::Error;

/// Two connected ends (Python's `multiprocessing.Pipe(duplex)`).
///
/// With `duplex`, both ends send and receive. Without, the first end only receives and
/// the second only sends, as Python's `(reader, writer)`; the wrong direction fails with
/// [`Error::NotReadable`] or [`Error::NotWritable`]. Either way the ends are a Unix
/// socket pair (`SOCK_STREAM`, close-on-exec), so messages may carry handles, and an end
/// can itself be sent to another process.
///
/// Fails only if the process is out of descriptors ([`Error::Os`] with `EMFILE`).
///
/// ```
/// use mp_ipc::{Error, pipe};
///
/// let (reader, writer) = pipe::<String>(false)?;
/// writer.send(&"one way".to_string())?;
/// assert_eq!(reader.recv()?, "one way");
/// assert!(matches!(reader.send(&"back".to_string()), Err(Error::NotWritable)));
/// # Ok::<(), Error>(())
/// ```
pub fn pipe<T>(duplex: bool) -> Result<(Connection<T>, Connection<T>), Error> {
    let (first, second): (OwnedFd, OwnedFd) = socketpair(
        AddressFamily::Unix,
        SockType::Stream,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(|errno| Error::Os {
        operation: "socketpair",
        errno,
    })?;
    if !duplex {
        // Shut the unused directions so that a stray write or read through the raw
        // descriptor fails at once instead of filling a buffer no one reads.
        for (end, how) in [(&first, Shutdown::Write), (&second, Shutdown::Read)] {
            shutdown(end.as_raw_fd(), how).map_err(|errno| Error::Os {
                operation: "shutdown",
                errno,
            })?;
        }
    }
    tracing::debug!(
        duplex,
        first = first.as_raw_fd(),
        second = second.as_raw_fd(),
        "pipe created"
    );
    Ok((
        Connection::from_socket(first, true, duplex),
        Connection::from_socket(second, duplex, true),
    ))
}
