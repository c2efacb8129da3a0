//! Bytes and descriptors together over a Unix stream socket (`SCM_RIGHTS`).
//!
//! Frame: a 16-byte header (magic `mpT1`, payload length as u64, descriptor count as u32,
//! little-endian) then the payload. The descriptors ride on the header's first byte, so the
//! receiver gets them with the header. The kernel never merges bytes that carry
//! descriptors with bytes before them in one read, and the receiver never reads past a
//! frame, so each frame's descriptors arrive with that frame's header.

use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::sys::socket::{
    AddressFamily, ControlMessage, MsgFlags, SockType, SockaddrLike, SockaddrStorage, getsockname,
    getsockopt, recv as recv_bytes, send as send_bytes, sendmsg, sockopt,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Error;

/// The most descriptors one message may carry (Linux's `SCM_MAX_FD`).
///
/// ```
/// use std::os::fd::AsFd;
/// use std::os::unix::net::UnixStream;
/// use mp_shared_mem::{Error, transfer};
///
/// let (a, _b) = UnixStream::pair().unwrap();
/// let too_many = vec![a.as_fd(); transfer::MAX_FDS_PER_MESSAGE + 1];
/// assert!(matches!(transfer::send(&a, b"", &too_many), Err(Error::TooManyFds { .. })));
/// ```
pub const MAX_FDS_PER_MESSAGE: usize = 253;

const MAGIC: [u8; 4] = *b"mpT1";
const HEADER_LEN: usize = 16;

/// Sends `bytes` and `fds` as one message on a connected Unix stream socket.
///
/// The descriptors are duplicated into the receiver by the kernel; the caller keeps its
/// own. Blocks until the whole message is written. Fails with [`Error::PeerClosed`] if the
/// peer is gone (no `SIGPIPE`), [`Error::TooManyFds`] past [`MAX_FDS_PER_MESSAGE`], and
/// [`Error::UnsupportedSocket`] for anything but a Unix stream socket. Messages from
/// several threads on one socket must not interleave: send from one thread at a time.
///
/// ```
/// use std::os::fd::AsFd;
/// use std::os::unix::net::UnixStream;
/// use mp_shared_mem::transfer;
///
/// let (a, b) = UnixStream::pair().unwrap();
/// let file = std::fs::File::open("/dev/null").unwrap();
/// transfer::send(&a, b"hello", &[file.as_fd()])?;
/// let (bytes, fds) = transfer::recv(&b, 1024)?;
/// assert_eq!(bytes, b"hello");
/// assert_eq!(fds.len(), 1);
/// # Ok::<(), mp_shared_mem::Error>(())
/// ```
pub fn send(socket: impl AsFd, bytes: &[u8], fds: &[BorrowedFd<'_>]) -> Result<(), Error> {
    let socket = socket.as_fd();
    check_socket(socket)?;
    if fds.len() > MAX_FDS_PER_MESSAGE {
        return Err(Error::TooManyFds {
            count: fds.len(),
            max: MAX_FDS_PER_MESSAGE,
        });
    }
    let mut header = [0u8; HEADER_LEN];
    header[..4].copy_from_slice(&MAGIC);
    header[4..12].copy_from_slice(&(bytes.len() as u64).to_le_bytes());
    header[12..16].copy_from_slice(&(fds.len() as u32).to_le_bytes());

    let raw_fds: Vec<RawFd> = fds.iter().map(AsRawFd::as_raw_fd).collect();
    let rights = [ControlMessage::ScmRights(&raw_fds)];
    let control: &[ControlMessage<'_>] = if raw_fds.is_empty() { &[] } else { &rights };
    let iov = [IoSlice::new(&header), IoSlice::new(bytes)];
    let sent = loop {
        match sendmsg::<()>(
            socket.as_raw_fd(),
            &iov,
            control,
            MsgFlags::MSG_NOSIGNAL,
            None,
        ) {
            Ok(sent) => break sent,
            Err(Errno::EINTR) => continue,
            Err(errno) => return Err(send_error(errno)),
        }
    };
    // A stream socket may take part of a large message; the rest goes without descriptors.
    if sent < HEADER_LEN {
        send_all(socket, &header[sent..])?;
        send_all(socket, bytes)
    } else {
        send_all(socket, &bytes[sent - HEADER_LEN..])
    }
}

/// Receives one message sent by [`send`]: its bytes and its descriptors (`O_CLOEXEC`).
///
/// Blocks until a whole message has arrived (set `SO_RCVTIMEO` on the socket to bound the
/// wait: the timeout then comes back as [`Error::Os`] with `EAGAIN`). A message longer
/// than `max_len` is refused with [`Error::MessageTooLarge`] before anything is allocated;
/// the socket is then out of step and should be closed. Descriptors cut off by the kernel
/// (the process is out of descriptors) give [`Error::FdsTruncated`], fewer or more than
/// announced [`Error::MissingFds`]; the ones that did arrive are closed. A peer gone
/// between messages gives [`Error::PeerClosed`], in the middle of one
/// [`Error::ShortMessage`].
///
/// ```
/// use std::os::unix::net::UnixStream;
/// use mp_shared_mem::{Error, transfer};
///
/// let (a, b) = UnixStream::pair().unwrap();
/// transfer::send(&a, &[7; 100], &[])?;
/// assert!(matches!(transfer::recv(&b, 10), Err(Error::MessageTooLarge { len: 100, max: 10 })));
/// drop(a);
/// let (c, d) = UnixStream::pair().unwrap();
/// drop(c);
/// assert_eq!(transfer::recv(&d, 10).unwrap_err(), Error::PeerClosed);
/// # Ok::<(), Error>(())
/// ```
pub fn recv(socket: impl AsFd, max_len: usize) -> Result<(Vec<u8>, Vec<OwnedFd>), Error> {
    let socket = socket.as_fd();
    check_socket(socket)?;
    let mut header = [0u8; HEADER_LEN];
    let mut filled = 0;
    let mut fds = Vec::new();
    let mut truncated = false;
    let mut control = ControlBuffer::new();
    while filled < HEADER_LEN {
        let (received, cut_off) =
            match recv_with_fds(socket, &mut header[filled..], &mut control, &mut fds) {
                Ok(outcome) => outcome,
                Err(Errno::EINTR) => continue,
                Err(errno) => return Err(Error::os("recvmsg", errno)),
            };
        truncated |= cut_off;
        if received == 0 {
            return Err(if filled == 0 {
                Error::PeerClosed
            } else {
                Error::ShortMessage {
                    expected: HEADER_LEN as u64,
                    received: filled as u64,
                }
            });
        }
        filled += received;
    }
    if header[..4] != MAGIC {
        return Err(Error::Decode(
            "the stream is not at the start of a message (bad frame magic)".into(),
        ));
    }
    let len = u64::from_le_bytes(header[4..12].try_into().unwrap_or([0xff; 8]));
    let expected_fds = u32::from_le_bytes(header[12..16].try_into().unwrap_or([0xff; 4]));
    if truncated {
        return Err(Error::FdsTruncated);
    }
    if fds.len() as u64 != u64::from(expected_fds) {
        return Err(Error::MissingFds {
            expected: expected_fds as usize,
            received: fds.len(),
        });
    }
    let len = usize::try_from(len)
        .ok()
        .filter(|&len| len <= max_len)
        .ok_or(Error::MessageTooLarge { len, max: max_len })?;
    let mut bytes = vec![0u8; len];
    let mut filled = 0;
    while filled < len {
        match recv_bytes(socket.as_raw_fd(), &mut bytes[filled..], MsgFlags::empty()) {
            Ok(0) => {
                return Err(Error::ShortMessage {
                    expected: (HEADER_LEN + len) as u64,
                    received: (HEADER_LEN + filled) as u64,
                });
            }
            Ok(received) => filled += received,
            Err(Errno::EINTR) => continue,
            Err(errno) => return Err(Error::os("recv", errno)),
        }
    }
    Ok((bytes, fds))
}

/// [`encode`](super::encode)s `value` and [`send`]s it with its descriptors.
///
/// ```
/// use std::os::unix::net::UnixStream;
/// use mp_shared_mem::{Segment, transfer};
///
/// let (a, b) = UnixStream::pair().unwrap();
/// let segment = Segment::new(4096)?;
/// transfer::send_value(&a, &("greeting", segment.clone()))?;
/// let (label, received): (String, Segment) = transfer::recv_value(&b, 1024)?;
/// received.write_at(0, b"hi")?;
/// assert_eq!(&segment.to_vec()[..2], b"hi");
/// # assert_eq!(label, "greeting");
/// # Ok::<(), mp_shared_mem::Error>(())
/// ```
pub fn send_value<T: Serialize + ?Sized>(socket: impl AsFd, value: &T) -> Result<(), Error> {
    let (bytes, fds) = super::encode(value)?;
    let borrowed: Vec<BorrowedFd<'_>> = fds.iter().map(AsFd::as_fd).collect();
    send(socket, &bytes, &borrowed)
}

/// [`recv`]s one message of at most `max_len` bytes and [`decode`](super::decode)s it.
///
/// ```
/// use std::os::unix::net::UnixStream;
/// use mp_shared_mem::transfer;
///
/// let (a, b) = UnixStream::pair().unwrap();
/// transfer::send_value(&a, &vec![1u16, 2, 3])?;
/// assert_eq!(transfer::recv_value::<Vec<u16>>(&b, 64)?, vec![1, 2, 3]);
/// # Ok::<(), mp_shared_mem::Error>(())
/// ```
pub fn recv_value<T: DeserializeOwned>(socket: impl AsFd, max_len: usize) -> Result<T, Error> {
    let (bytes, fds) = recv(socket, max_len)?;
    super::decode(&bytes, fds)
}

/// Room for one `SCM_RIGHTS` control message of [`MAX_FDS_PER_MESSAGE`] descriptors,
/// aligned for `cmsghdr`.
struct ControlBuffer {
    words: Vec<u64>,
}

impl ControlBuffer {
    fn new() -> Self {
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

/// One `recvmsg` into `buf`, collecting any descriptors that came with it into `fds`
/// (`O_CLOEXEC`): the byte count, and whether the kernel cut descriptors off
/// (`MSG_CTRUNC`).
///
/// Written on libc rather than nix: when the receiver is out of descriptors the kernel
/// installs as many as it can, reports them in a shortened control message and sets
/// `MSG_CTRUNC`, and nix refuses to read the control data then, which would leak the
/// descriptors that did arrive.
fn recv_with_fds(
    socket: BorrowedFd<'_>,
    buf: &mut [u8],
    control: &mut ControlBuffer,
    fds: &mut Vec<OwnedFd>,
) -> Result<(usize, bool), Errno> {
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
    let received =
        unsafe { libc::recvmsg(socket.as_raw_fd(), &mut message, libc::MSG_CMSG_CLOEXEC) };
    let received = usize::try_from(received).map_err(|_| Errno::last())?;
    // SAFETY: `message` was filled by a successful recvmsg; CMSG_FIRSTHDR and CMSG_NXTHDR
    // walk its control buffer within `msg_controllen` and return null at its end.
    let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(&message) };
    while !cmsg.is_null() {
        // SAFETY: a non-null header from CMSG_FIRSTHDR/NXTHDR lies within the control buffer,
        // aligned for `cmsghdr` (the buffer is 8-byte aligned and the macros keep alignment).
        let header = unsafe { &*cmsg };
        if header.cmsg_level == libc::SOL_SOCKET && header.cmsg_type == libc::SCM_RIGHTS {
            // SAFETY: CMSG_LEN only computes a size.
            let data_len = header.cmsg_len as usize - unsafe { libc::CMSG_LEN(0) } as usize;
            // SAFETY: the data of this control message follows its header in the buffer.
            let data = unsafe { libc::CMSG_DATA(cmsg) }.cast::<libc::c_int>();
            for i in 0..data_len / size_of::<libc::c_int>() {
                // SAFETY: `i` indexes one of the `data_len` bytes of descriptors the kernel
                // wrote (possibly unaligned for `c_int`, hence `read_unaligned`). The kernel
                // has just installed each in this process for this message, and nothing else
                // knows its number: it is owned exactly once, here.
                fds.push(unsafe { OwnedFd::from_raw_fd(data.add(i).read_unaligned()) });
            }
        }
        // SAFETY: as for CMSG_FIRSTHDR; `cmsg` is a header of this message.
        cmsg = unsafe { libc::CMSG_NXTHDR(&message, cmsg) };
    }
    Ok((received, message.msg_flags & libc::MSG_CTRUNC != 0))
}

fn check_socket(socket: BorrowedFd<'_>) -> Result<(), Error> {
    let kind = getsockopt(&socket, sockopt::SockType).map_err(|errno| match errno {
        Errno::ENOTSOCK => Error::UnsupportedSocket("the descriptor is not a socket"),
        errno => Error::os("getsockopt(SO_TYPE)", errno),
    })?;
    if kind != SockType::Stream {
        return Err(Error::UnsupportedSocket(
            "messages need a stream socket (SOCK_STREAM)",
        ));
    }
    let address = getsockname::<SockaddrStorage>(socket.as_raw_fd())
        .map_err(|errno| Error::os("getsockname", errno))?;
    if address.family() != Some(AddressFamily::Unix) {
        return Err(Error::UnsupportedSocket(
            "file descriptors travel only over Unix sockets (AF_UNIX)",
        ));
    }
    Ok(())
}

fn send_all(socket: BorrowedFd<'_>, mut bytes: &[u8]) -> Result<(), Error> {
    while !bytes.is_empty() {
        match send_bytes(socket.as_raw_fd(), bytes, MsgFlags::MSG_NOSIGNAL) {
            Ok(sent) => bytes = &bytes[sent..],
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
