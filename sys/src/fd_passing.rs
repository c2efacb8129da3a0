//! Bytes and descriptors together over a Unix socket (`SCM_RIGHTS`).
//!
//! Receiving is written on libc rather than nix: when the receiver is out of descriptors
//! the kernel installs as many as it can, reports them in a shortened control message and
//! sets `MSG_CTRUNC`, and nix refuses to read the control data then, which would leak the
//! descriptors that did arrive. Here every descriptor the kernel installed is handed to the
//! caller as an [`OwnedFd`], truncation or not, and the truncation is reported
//! ([`Received::check`]), so nothing leaks and nothing is silently lost.
//!
//! The framing of messages (where one ends, how many descriptors it announces) belongs to
//! the crates above; this module moves bytes and descriptors, one system call at a time.

use std::io::IoSlice;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};

use crate::Error;

/// The most descriptors one message may carry (Linux's `SCM_MAX_FD`).
///
/// ```
/// assert_eq!(mp_sys::fd_passing::MAX_FDS_PER_MESSAGE, 253);
/// ```
pub const MAX_FDS_PER_MESSAGE: usize = 253;

/// Sends the bytes of `iov` with one `sendmsg`, and `fds` with them (`SCM_RIGHTS`) unless
/// `fds` is empty; how many bytes the socket took (a stream socket may take part of a
/// large message: send the rest without the descriptors, which rode on the first byte).
///
/// `MSG_NOSIGNAL`: a peer that is gone gives `EPIPE` (or `ECONNRESET`), never `SIGPIPE`.
/// `EINTR` is retried. More than [`MAX_FDS_PER_MESSAGE`] descriptors give `EINVAL`.
///
/// ```
/// use std::io::IoSlice;
/// use std::os::fd::{AsFd, AsRawFd};
/// use std::os::unix::net::UnixStream;
/// use mp_sys::fd_passing::{self, ControlBuffer};
///
/// let (a, b) = UnixStream::pair().unwrap();
/// let file = std::fs::File::open("/dev/null").unwrap();
/// let sent = fd_passing::send_with_fds(a.as_fd(), &[IoSlice::new(b"hi")], &[file.as_raw_fd()])?;
/// assert_eq!(sent, 2);
///
/// let (mut buf, mut control, mut fds) = ([0u8; 8], ControlBuffer::new(), Vec::new());
/// let received = fd_passing::recv_with_fds(b.as_fd(), &mut buf, &mut control, &mut fds)?;
/// assert_eq!(received.check(), Ok(2));
/// assert_eq!(fds.len(), 1);
/// # Ok::<(), nix::errno::Errno>(())
/// ```
pub fn send_with_fds(
    socket: BorrowedFd<'_>,
    iov: &[IoSlice<'_>],
    fds: &[RawFd],
) -> Result<usize, Errno> {
    if fds.len() > MAX_FDS_PER_MESSAGE {
        return Err(Errno::EINVAL);
    }
    let rights = [ControlMessage::ScmRights(fds)];
    let control: &[ControlMessage<'_>] = if fds.is_empty() { &[] } else { &rights };
    loop {
        match sendmsg::<()>(
            socket.as_raw_fd(),
            iov,
            control,
            MsgFlags::MSG_NOSIGNAL,
            None,
        ) {
            Err(Errno::EINTR) => continue,
            outcome => return outcome,
        }
    }
}

/// Room for one `SCM_RIGHTS` control message of [`MAX_FDS_PER_MESSAGE`] descriptors,
/// aligned for `cmsghdr`; keep one per socket and reuse it for every read.
///
/// ```
/// let control = mp_sys::fd_passing::ControlBuffer::new();
/// # drop(control);
/// ```
pub struct ControlBuffer {
    words: Vec<u64>,
}

impl ControlBuffer {
    /// An empty buffer, large enough for the most descriptors one message may carry.
    ///
    /// ```
    /// let _ = mp_sys::fd_passing::ControlBuffer::new();
    /// ```
    pub fn new() -> Self {
        let fds_len = (MAX_FDS_PER_MESSAGE * size_of::<libc::c_int>()) as libc::c_uint;
        // SAFETY: CMSG_SPACE only computes a size from its argument.
        let space = unsafe { libc::CMSG_SPACE(fds_len) } as usize;
        Self {
            words: vec![0; space.div_ceil(size_of::<u64>())],
        }
    }

    fn len(&self) -> usize {
        self.words.len() * size_of::<u64>()
    }
}

impl Default for ControlBuffer {
    /// As [`ControlBuffer::new`].
    ///
    /// ```
    /// let _ = mp_sys::fd_passing::ControlBuffer::default();
    /// ```
    fn default() -> Self {
        Self::new()
    }
}

/// How one [`recv_with_fds`] went.
///
/// ```
/// use std::os::fd::AsFd;
/// use std::os::unix::net::UnixStream;
/// use mp_sys::fd_passing::{self, ControlBuffer};
///
/// let (a, b) = UnixStream::pair().unwrap();
/// drop(a);
/// let (mut buf, mut control, mut fds) = ([0u8; 8], ControlBuffer::new(), Vec::new());
/// let received = fd_passing::recv_with_fds(b.as_fd(), &mut buf, &mut control, &mut fds)?;
/// assert_eq!(received.bytes, 0); // end of the stream
/// assert!(!received.fds_truncated && !received.data_truncated);
/// # Ok::<(), nix::errno::Errno>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Received {
    /// Bytes read; 0 at the end of the stream.
    pub bytes: usize,
    /// The kernel cut descriptors off (`MSG_CTRUNC`): this process is out of descriptors.
    /// Those that did arrive are in the caller's vector.
    pub fds_truncated: bool,
    /// The kernel cut bytes of a datagram off (`MSG_TRUNC`; never for stream sockets).
    pub data_truncated: bool,
}

impl Received {
    /// The byte count, or the truncation as an error ([`Error::FdsTruncated`],
    /// [`Error::DataTruncated`]).
    ///
    /// ```
    /// use std::os::fd::AsFd;
    /// use std::os::unix::net::UnixDatagram;
    /// use mp_sys::{Error, fd_passing::{self, ControlBuffer}};
    ///
    /// let (a, b) = UnixDatagram::pair().unwrap();
    /// a.send(b"longer than four").unwrap();
    /// let (mut buf, mut control, mut fds) = ([0u8; 4], ControlBuffer::new(), Vec::new());
    /// let received = fd_passing::recv_with_fds(b.as_fd(), &mut buf, &mut control, &mut fds)?;
    /// assert_eq!(received.check(), Err(Error::DataTruncated));
    /// # Ok::<(), nix::errno::Errno>(())
    /// ```
    pub fn check(&self) -> Result<usize, Error> {
        if self.fds_truncated {
            Err(Error::FdsTruncated)
        } else if self.data_truncated {
            Err(Error::DataTruncated)
        } else {
            Ok(self.bytes)
        }
    }
}

/// One `recvmsg` into `buf` (blocking as the socket does), moving any descriptors that
/// came with the bytes into `fds` (`O_CLOEXEC`). `EINTR` is retried; other errors (a reset
/// connection's `ECONNRESET` among them) are returned as they are.
///
/// Every descriptor the kernel installed ends up in `fds`, even when it also reports a
/// truncation: dropping `fds` closes them, so none can leak.
///
/// ```
/// use std::io::Write;
/// use std::os::fd::AsFd;
/// use std::os::unix::net::UnixStream;
/// use mp_sys::fd_passing::{self, ControlBuffer};
///
/// let (mut a, b) = UnixStream::pair().unwrap();
/// a.write_all(b"plain bytes").unwrap();
/// let (mut buf, mut control, mut fds) = ([0u8; 64], ControlBuffer::new(), Vec::new());
/// let received = fd_passing::recv_with_fds(b.as_fd(), &mut buf, &mut control, &mut fds)?;
/// assert_eq!(&buf[..received.bytes], b"plain bytes");
/// assert!(fds.is_empty());
/// # Ok::<(), nix::errno::Errno>(())
/// ```
pub fn recv_with_fds(
    socket: BorrowedFd<'_>,
    buf: &mut [u8],
    control: &mut ControlBuffer,
    fds: &mut Vec<OwnedFd>,
) -> Result<Received, Errno> {
    loop {
        match recvmsg_once(socket, buf, control, fds) {
            Err(Errno::EINTR) => continue,
            outcome => return outcome,
        }
    }
}

fn recvmsg_once(
    socket: BorrowedFd<'_>,
    buf: &mut [u8],
    control: &mut ControlBuffer,
    fds: &mut Vec<OwnedFd>,
) -> Result<Received, Errno> {
    let mut iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: `msghdr` is a plain C struct for which all-zero is a valid (empty) value.
    let mut message: libc::msghdr = unsafe { std::mem::zeroed() };
    message.msg_iov = &mut iov;
    message.msg_iovlen = 1;
    message.msg_control = control.words.as_mut_ptr().cast();
    message.msg_controllen = control.len() as _;
    // SAFETY: `message` points at one iovec over `buf` and at the control buffer, both
    // writable for the lengths given and alive across the call; the kernel writes only
    // within them.
    let count = unsafe { libc::recvmsg(socket.as_raw_fd(), &mut message, libc::MSG_CMSG_CLOEXEC) };
    let count = usize::try_from(count).map_err(|_| Errno::last())?;
    // SAFETY: `message` was filled by a successful recvmsg; CMSG_FIRSTHDR and CMSG_NXTHDR
    // walk its control buffer within `msg_controllen` and return null at its end.
    let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(&message) };
    while !cmsg.is_null() {
        // SAFETY: a non-null header from CMSG_FIRSTHDR/NXTHDR lies within the control
        // buffer, aligned for `cmsghdr` (the buffer is 8-byte aligned and the macros keep
        // alignment).
        let header = unsafe { &*cmsg };
        if header.cmsg_level == libc::SOL_SOCKET && header.cmsg_type == libc::SCM_RIGHTS {
            // SAFETY: CMSG_LEN only computes a size.
            let data_len =
                (header.cmsg_len as usize).saturating_sub(unsafe { libc::CMSG_LEN(0) } as usize);
            // SAFETY: the data of this control message follows its header in the buffer.
            let data = unsafe { libc::CMSG_DATA(cmsg) }.cast::<libc::c_int>();
            for i in 0..data_len / size_of::<libc::c_int>() {
                // SAFETY: `i` indexes one of the `data_len` bytes of descriptors the kernel
                // wrote (possibly unaligned for `c_int`, hence `read_unaligned`). The kernel
                // has just installed each in this process for this message, and nothing
                // else knows its number: it is owned exactly once, here.
                fds.push(unsafe { OwnedFd::from_raw_fd(data.add(i).read_unaligned()) });
            }
        }
        // SAFETY: as for CMSG_FIRSTHDR; `cmsg` is a header of this message.
        cmsg = unsafe { libc::CMSG_NXTHDR(&message, cmsg) };
    }
    Ok(Received {
        bytes: count,
        fds_truncated: message.msg_flags & libc::MSG_CTRUNC != 0,
        data_truncated: message.msg_flags & libc::MSG_TRUNC != 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;
    use std::os::unix::net::UnixStream;

    #[test]
    fn descriptors_arrive_with_their_bytes() {
        let (a, b) = UnixStream::pair().unwrap();
        let files: Vec<_> = (0..3)
            .map(|_| std::fs::File::open("/dev/null").unwrap())
            .collect();
        let raw: Vec<RawFd> = files.iter().map(AsRawFd::as_raw_fd).collect();
        let sent = send_with_fds(a.as_fd(), &[IoSlice::new(b"ab"), IoSlice::new(b"c")], &raw);
        assert_eq!(sent, Ok(3));
        let (mut buf, mut control, mut fds) = ([0u8; 16], ControlBuffer::new(), Vec::new());
        let received = recv_with_fds(b.as_fd(), &mut buf, &mut control, &mut fds).unwrap();
        assert_eq!(received.check(), Ok(3));
        assert_eq!(&buf[..3], b"abc");
        assert_eq!(fds.len(), 3);
    }

    #[test]
    fn too_many_descriptors_are_refused() {
        let (a, _b) = UnixStream::pair().unwrap();
        let raw = vec![a.as_raw_fd(); MAX_FDS_PER_MESSAGE + 1];
        assert_eq!(
            send_with_fds(a.as_fd(), &[IoSlice::new(b"x")], &raw),
            Err(Errno::EINVAL)
        );
    }

    #[test]
    fn a_gone_peer_is_epipe_not_sigpipe() {
        let (a, b) = UnixStream::pair().unwrap();
        drop(b);
        let outcome = send_with_fds(a.as_fd(), &[IoSlice::new(b"x")], &[]);
        assert!(
            matches!(outcome, Err(Errno::EPIPE | Errno::ECONNRESET)),
            "{outcome:?}"
        );
    }
}
