//! Sending and receiving one frame, with its descriptors, over a blocking stream socket.
//!
//! Which sockets: the [`Stream`] trait says which socket a frame may go over, and whether
//! descriptors can ride along, from the type: a `UnixStream` or `TcpStream` is known to be
//! a connected stream socket, so nothing is asked of the kernel per message. A bare
//! descriptor is checked once, by [`SocketKind::of`], when a [`Checked`] is made.
//!
//! Receiving here reads exactly one frame and nothing past it (header, then payload), so
//! the socket can change hands between frames (a child reads its call, then its
//! arguments, each with a fresh call). A reader that owns its socket for good reads ahead
//! instead, with a [`Reader`](crate::Reader).

use std::io::IoSlice;
use std::net::TcpStream;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;

use mp_sys::fd_passing::{self, ControlBuffer, MAX_FDS_PER_MESSAGE};
use nix::errno::Errno;
use nix::sys::socket::{
    AddressFamily, MsgFlags, SockType, SockaddrLike, SockaddrStorage, getsockname, getsockopt,
    sockopt,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::frame::{self, MAX_HEADER_LEN, Prefix, SHORT_HEADER_LEN};
use crate::{Error, SocketFault};

/// A connected stream socket that frames may go over.
///
/// Sealed: implemented for `UnixStream` (descriptors ride along), `TcpStream` (bytes
/// only), a [`Checked`] descriptor, and references to those.
///
/// ```
/// use std::os::unix::net::UnixStream;
/// use mp_wire::Stream;
///
/// let (a, _b) = UnixStream::pair().unwrap();
/// assert!(a.passes_fds());
/// ```
pub trait Stream: AsFd + sealed::Sealed {
    /// Whether descriptors can travel over this socket (Unix sockets only).
    ///
    /// ```
    /// use mp_wire::Stream;
    ///
    /// let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    /// let tcp = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    /// assert!(!tcp.passes_fds());
    /// ```
    fn passes_fds(&self) -> bool;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for std::os::unix::net::UnixStream {}
    impl Sealed for std::net::TcpStream {}
    impl Sealed for super::Checked<'_> {}
    impl<T: Sealed + ?Sized> Sealed for &T {}
}

impl Stream for UnixStream {
    fn passes_fds(&self) -> bool {
        true
    }
}

impl Stream for TcpStream {
    fn passes_fds(&self) -> bool {
        false
    }
}

impl<T: Stream + ?Sized> Stream for &T {
    fn passes_fds(&self) -> bool {
        (**self).passes_fds()
    }
}

/// The kinds of socket frames go over.
///
/// ```
/// use std::os::fd::AsFd;
/// use std::os::unix::net::UnixStream;
/// use mp_wire::SocketKind;
///
/// let (a, _b) = UnixStream::pair().unwrap();
/// assert_eq!(SocketKind::of(a.as_fd())?, SocketKind::Unix);
/// # Ok::<(), mp_wire::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SocketKind {
    /// A Unix stream socket: bytes and descriptors.
    Unix,
    /// A TCP socket (IPv4 or IPv6): bytes only.
    Tcp,
}

impl SocketKind {
    /// Asks the kernel what `socket` is (two system calls: do it once per socket, not
    /// per message). Anything but a Unix or TCP stream socket is
    /// [`Error::UnsupportedSocket`].
    ///
    /// ```
    /// use std::os::fd::AsFd;
    /// use mp_wire::{Error, SocketKind};
    ///
    /// let (reader, _writer) = std::io::pipe().unwrap();
    /// assert!(matches!(SocketKind::of(reader.as_fd()), Err(Error::UnsupportedSocket { .. })));
    /// ```
    pub fn of(socket: BorrowedFd<'_>) -> Result<Self, Error> {
        let kind = getsockopt(&socket, sockopt::SockType).map_err(|errno| match errno {
            Errno::ENOTSOCK => Error::UnsupportedSocket {
                fault: SocketFault::NotASocket,
            },
            errno => Error::os("getsockopt(SO_TYPE)", errno),
        })?;
        if kind != SockType::Stream {
            return Err(Error::UnsupportedSocket {
                fault: SocketFault::NotAStream,
            });
        }
        let address = getsockname::<SockaddrStorage>(socket.as_raw_fd())
            .map_err(|errno| Error::os("getsockname", errno))?;
        match address.family() {
            Some(AddressFamily::Unix) => Ok(SocketKind::Unix),
            Some(AddressFamily::Inet | AddressFamily::Inet6) => Ok(SocketKind::Tcp),
            _ => Err(Error::UnsupportedSocket {
                fault: SocketFault::UnsupportedFamily,
            }),
        }
    }
}

/// A descriptor checked once by [`SocketKind::of`], so frames go over it without asking
/// the kernel again.
///
/// ```
/// use std::os::fd::AsFd;
/// use std::os::unix::net::UnixStream;
/// use mp_wire::Checked;
///
/// let (a, b) = UnixStream::pair().unwrap();
/// let checked = Checked::new(a.as_fd())?;
/// mp_wire::send(&checked, b"hi", &[])?;
/// assert_eq!(mp_wire::recv(&b, 16)?.0, b"hi");
/// # Ok::<(), mp_wire::Error>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Checked<'a> {
    socket: BorrowedFd<'a>,
    kind: SocketKind,
}

impl<'a> Checked<'a> {
    /// Checks `socket` ([`SocketKind::of`]).
    ///
    /// ```
    /// use std::os::fd::AsFd;
    /// use std::os::unix::net::UnixDatagram;
    ///
    /// let (a, _b) = UnixDatagram::pair().unwrap();
    /// assert!(mp_wire::Checked::new(a.as_fd()).is_err());
    /// ```
    pub fn new(socket: BorrowedFd<'a>) -> Result<Self, Error> {
        let kind = SocketKind::of(socket)?;
        Ok(Self { socket, kind })
    }

    /// What the socket is.
    ///
    /// ```
    /// use std::os::fd::AsFd;
    /// use std::os::unix::net::UnixStream;
    ///
    /// let (a, _b) = UnixStream::pair().unwrap();
    /// assert_eq!(mp_wire::Checked::new(a.as_fd())?.kind(), mp_wire::SocketKind::Unix);
    /// # Ok::<(), mp_wire::Error>(())
    /// ```
    pub fn kind(&self) -> SocketKind {
        self.kind
    }
}

impl AsFd for Checked<'_> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket
    }
}

impl Stream for Checked<'_> {
    fn passes_fds(&self) -> bool {
        self.kind == SocketKind::Unix
    }
}

/// Sends `payload` as one frame, with `fds` riding on its first byte (`SCM_RIGHTS`).
///
/// The descriptors are duplicated into the receiver by the kernel; the caller keeps its
/// own. Blocks until the whole frame is written (one system call unless the socket takes
/// only part of a large frame). Fails with [`Error::PeerClosed`] if the peer is gone (no
/// `SIGPIPE`), [`Error::TooManyFds`] past [`MAX_FDS_PER_FRAME`](crate::MAX_FDS_PER_FRAME),
/// [`Error::FdsNeedUnixSocket`] for descriptors over TCP. Frames from several threads on
/// one socket must not interleave: send from one thread at a time.
///
/// ```
/// use std::os::fd::AsFd;
/// use std::os::unix::net::UnixStream;
///
/// let (a, b) = UnixStream::pair().unwrap();
/// let file = std::fs::File::open("/dev/null").unwrap();
/// mp_wire::send(&a, b"hello", &[file.as_fd()])?;
/// let (bytes, fds) = mp_wire::recv(&b, 1024)?;
/// assert_eq!(bytes, b"hello");
/// assert_eq!(fds.len(), 1);
/// # Ok::<(), mp_wire::Error>(())
/// ```
pub fn send(socket: impl Stream, payload: &[u8], fds: &[BorrowedFd<'_>]) -> Result<(), Error> {
    if fds.len() > MAX_FDS_PER_MESSAGE {
        return Err(Error::TooManyFds {
            count: fds.len(),
            max: MAX_FDS_PER_MESSAGE,
        });
    }
    if !fds.is_empty() && !socket.passes_fds() {
        return Err(Error::FdsNeedUnixSocket { count: fds.len() });
    }
    let raw: Vec<RawFd> = fds.iter().map(AsRawFd::as_raw_fd).collect();
    send_frame(socket.as_fd(), payload, &raw)
}

/// Receives one frame sent by [`send`] (or by Python's `send_bytes`): its payload and
/// the descriptors that rode on it (`O_CLOEXEC`).
///
/// Reads exactly one frame and nothing past it. Blocks until the whole frame has arrived
/// (set `SO_RCVTIMEO` to bound the wait: it then comes back as [`Error::Os`] with
/// `EAGAIN`). A frame longer than `max_len` is refused with [`Error::MessageTooLarge`]
/// before anything is allocated for it (the stream is then out of step: close it); the
/// payload buffer grows only as bytes arrive. Descriptors cut off by the kernel give
/// [`Error::FdsTruncated`] once the frame is read (the ones that did arrive are closed).
/// A peer gone between frames gives [`Error::PeerClosed`], inside one
/// [`Error::Truncated`].
///
/// ```
/// use std::os::unix::net::UnixStream;
/// use mp_wire::Error;
///
/// let (a, b) = UnixStream::pair().unwrap();
/// mp_wire::send(&a, &[7; 100], &[])?;
/// assert!(matches!(mp_wire::recv(&b, 10), Err(Error::MessageTooLarge { len: 100, max: 10 })));
/// # Ok::<(), Error>(())
/// ```
pub fn recv(socket: impl Stream, max_len: usize) -> Result<(Vec<u8>, Vec<OwnedFd>), Error> {
    recv_frame(socket.as_fd(), max_len)
}

/// [`encode`](crate::encode)s `value` and [`send`]s it with its descriptors.
///
/// ```
/// use std::os::unix::net::UnixStream;
///
/// let (a, b) = UnixStream::pair().unwrap();
/// mp_wire::send_value(&a, &("one", 1u8))?;
/// let back: (String, u8) = mp_wire::recv_value(&b, 64)?;
/// assert_eq!(back, ("one".to_string(), 1));
/// # Ok::<(), mp_wire::Error>(())
/// ```
pub fn send_value<T: Serialize + ?Sized>(socket: impl Stream, value: &T) -> Result<(), Error> {
    let (bytes, fds) = crate::encode(value)?;
    let borrowed: Vec<BorrowedFd<'_>> = fds.iter().map(AsFd::as_fd).collect();
    send(socket, &bytes, &borrowed)
}

/// [`recv`]s one frame of at most `max_len` bytes and [`decode`](crate::decode)s it.
///
/// ```
/// use std::os::unix::net::UnixStream;
///
/// let (a, b) = UnixStream::pair().unwrap();
/// mp_wire::send_value(&a, &vec![1u16, 2, 3])?;
/// assert_eq!(mp_wire::recv_value::<Vec<u16>>(&b, 64)?, vec![1, 2, 3]);
/// # Ok::<(), mp_wire::Error>(())
/// ```
pub fn recv_value<T: DeserializeOwned>(socket: impl Stream, max_len: usize) -> Result<T, Error> {
    let (bytes, fds) = recv(socket, max_len)?;
    crate::decode(&bytes, fds)
}

/// Frames up to this size (header included) without descriptors are copied together and
/// sent with one `send`, which the kernel takes in fewer steps than a two-piece `sendmsg`.
const SMALL_FRAME: usize = 512;

/// Sends `payload` as one frame on a blocking stream socket, `fds` on its first byte.
/// The socket is not checked: see [`Stream`]. At most
/// [`MAX_FDS_PER_FRAME`](crate::MAX_FDS_PER_FRAME) descriptors (more give `EINVAL` as
/// [`Error::Os`]).
///
/// ```
/// use std::os::fd::AsFd;
/// use std::os::unix::net::UnixStream;
///
/// let (a, b) = UnixStream::pair().unwrap();
/// mp_wire::send_frame(a.as_fd(), b"raw", &[])?;
/// assert_eq!(mp_wire::recv_frame(b.as_fd(), 8)?.0, b"raw");
/// # Ok::<(), mp_wire::Error>(())
/// ```
pub fn send_frame(socket: BorrowedFd<'_>, payload: &[u8], fds: &[RawFd]) -> Result<(), Error> {
    let (header, header_len) = frame::encode_header(payload.len());
    let header = &header[..header_len];
    let total = header.len() + payload.len();
    if fds.is_empty() && total <= SMALL_FRAME {
        let mut whole = [0u8; SMALL_FRAME];
        whole[..header.len()].copy_from_slice(header);
        whole[header.len()..total].copy_from_slice(payload);
        return send_all(socket, &whole[..total]);
    }
    let sent =
        fd_passing::send_with_fds(socket, &[IoSlice::new(header), IoSlice::new(payload)], fds)
            .map_err(send_error)?;
    // A stream socket may take part of a large frame; the rest goes without descriptors.
    if sent < header.len() {
        send_all(socket, &header[sent..])?;
        send_all(socket, payload)
    } else {
        send_all(socket, &payload[sent - header.len()..])
    }
}

/// Receives exactly one frame, as [`recv`] does, from a socket that is not checked (see
/// [`Stream`]).
///
/// ```
/// use std::os::fd::AsFd;
/// use std::os::unix::net::UnixStream;
///
/// let (a, b) = UnixStream::pair().unwrap();
/// mp_wire::send(&a, b"", &[])?;
/// assert_eq!(mp_wire::recv_frame(b.as_fd(), 0)?.0, b"");
/// # Ok::<(), mp_wire::Error>(())
/// ```
pub fn recv_frame(
    socket: BorrowedFd<'_>,
    max_len: usize,
) -> Result<(Vec<u8>, Vec<OwnedFd>), Error> {
    let mut header = [0u8; MAX_HEADER_LEN];
    let mut fds = Vec::new();
    let mut cut_off = false;
    let mut control = ControlBuffer::new();
    let mut header_len = SHORT_HEADER_LEN;
    let mut filled = 0;
    let mut prefix_read = false;
    while filled < header_len {
        let received = fd_passing::recv_with_fds(
            socket,
            &mut header[filled..header_len],
            &mut control,
            &mut fds,
        );
        let received = match received {
            Ok(received) => received,
            Err(Errno::ECONNRESET) if filled == 0 => return Err(Error::PeerClosed),
            Err(Errno::ECONNRESET) => return Err(truncated(header_len, filled)),
            Err(errno) => return Err(Error::os("recvmsg", errno)),
        };
        cut_off |= received.fds_truncated;
        if received.bytes == 0 {
            return Err(if filled == 0 {
                Error::PeerClosed
            } else {
                truncated(header_len, filled)
            });
        }
        filled += received.bytes;
        if !prefix_read && filled >= SHORT_HEADER_LEN {
            prefix_read = true;
            let mut prefix = [0u8; SHORT_HEADER_LEN];
            prefix.copy_from_slice(&header[..SHORT_HEADER_LEN]);
            if frame::decode_prefix(prefix)? == Prefix::Long {
                header_len = MAX_HEADER_LEN;
            }
        }
    }
    let len = if header_len == MAX_HEADER_LEN {
        let mut long = [0u8; MAX_HEADER_LEN - SHORT_HEADER_LEN];
        long.copy_from_slice(&header[SHORT_HEADER_LEN..]);
        u64::from_be_bytes(long)
    } else {
        let mut short = [0u8; SHORT_HEADER_LEN];
        short.copy_from_slice(&header[..SHORT_HEADER_LEN]);
        u64::from(u32::from_be_bytes(short))
    };
    let len = usize::try_from(len)
        .ok()
        .filter(|&len| len <= max_len)
        .ok_or(Error::MessageTooLarge { len, max: max_len })?;
    let mut payload = Vec::new();
    let received = read_growing(socket, len, &mut payload)?;
    if received < len {
        return Err(Error::Truncated {
            expected: (header_len + len) as u64,
            received: (header_len + received) as u64,
        });
    }
    if cut_off {
        return Err(Error::FdsTruncated);
    }
    Ok((payload, fds))
}

/// A payload buffer grows from this size, doubling as bytes arrive, so a length the
/// peer made up never allocates more than twice what it really sent.
pub(crate) const FIRST_CHUNK: usize = 64 << 10;

/// Fills `payload` up to `len` bytes (after the bytes already in it) in chunks that
/// double as bytes arrive; the bytes it then holds, fewer than `len` only at the end of
/// the stream.
pub(crate) fn read_growing(
    socket: BorrowedFd<'_>,
    len: usize,
    payload: &mut Vec<u8>,
) -> Result<usize, Error> {
    let mut filled = payload.len();
    while filled < len {
        let chunk_end = len.min(filled.saturating_mul(2).max(FIRST_CHUNK));
        payload.resize(chunk_end, 0);
        let received = recv_exact(socket, &mut payload[filled..chunk_end])?;
        filled += received;
        if filled < chunk_end {
            break;
        }
    }
    payload.truncate(filled);
    Ok(filled)
}

fn truncated(expected: usize, received: usize) -> Error {
    Error::Truncated {
        expected: expected as u64,
        received: received as u64,
    }
}

/// Fills `buf` from the socket with as few system calls as the kernel allows
/// (`MSG_WAITALL`); the bytes read, fewer than asked only at the end of the stream (a
/// reset counts as one). Descriptors sent with these bytes (only a misbehaving peer does
/// that) are closed by the kernel.
pub(crate) fn recv_exact(socket: BorrowedFd<'_>, buf: &mut [u8]) -> Result<usize, Error> {
    let mut filled = 0;
    while filled < buf.len() {
        match nix::sys::socket::recv(
            socket.as_raw_fd(),
            &mut buf[filled..],
            MsgFlags::MSG_WAITALL,
        ) {
            Ok(0) => break,
            Ok(count) => filled += count,
            Err(Errno::EINTR) => continue,
            Err(Errno::ECONNRESET) => break,
            Err(errno) => return Err(Error::os("recv", errno)),
        }
    }
    Ok(filled)
}

/// Sends all of `bytes` (no descriptors).
fn send_all(socket: BorrowedFd<'_>, mut bytes: &[u8]) -> Result<(), Error> {
    while !bytes.is_empty() {
        match nix::sys::socket::send(socket.as_raw_fd(), bytes, MsgFlags::MSG_NOSIGNAL) {
            Ok(count) => bytes = &bytes[count..],
            Err(Errno::EINTR) => continue,
            Err(errno) => return Err(send_error(errno)),
        }
    }
    Ok(())
}

fn send_error(errno: Errno) -> Error {
    match errno {
        Errno::EPIPE | Errno::ECONNRESET => Error::PeerClosed,
        errno => Error::os("sendmsg", errno),
    }
}
