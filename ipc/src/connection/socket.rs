//! The system calls under a connection: a frame goes out with one `sendmsg` (header,
//! payload and any descriptors together), or one `send` when it is small and has no
//! descriptors; bytes come in with `recvmsg`, which collects
//! the descriptors riding on them, or, for the rest of a large payload, with `recv`.

use std::io::IoSlice;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

use nix::errno::Errno;
use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};

use crate::Error;

/// The most descriptors one message may carry (Linux's `SCM_MAX_FD`).
pub(crate) const MAX_FDS: usize = mp_shared_mem::transfer::MAX_FDS_PER_MESSAGE;

/// Sends `header` then `payload`, and `fds` with the first byte, on a blocking stream
/// socket. One system call unless the socket takes only part of a large frame.
///
/// A peer that is gone gives [`Error::PeerClosed`], never `SIGPIPE` (`MSG_NOSIGNAL`).
pub(crate) fn send_frame(
    socket: BorrowedFd<'_>,
    header: &[u8],
    payload: &[u8],
    fds: &[RawFd],
) -> Result<(), Error> {
    let total = header.len() + payload.len();
    if fds.is_empty() && total <= SMALL_FRAME {
        // A small frame without descriptors: one contiguous `send`, which the kernel
        // takes in fewer steps than a `sendmsg` with two pieces.
        let mut frame = [0u8; SMALL_FRAME];
        frame[..header.len()].copy_from_slice(header);
        frame[header.len()..total].copy_from_slice(payload);
        return send_all(socket, &frame[..total]);
    }
    let rights = [ControlMessage::ScmRights(fds)];
    let mut sent = 0;
    while sent < total {
        // The descriptors ride on the first system call that sends anything.
        let control: &[ControlMessage<'_>] = if sent == 0 && !fds.is_empty() {
            &rights
        } else {
            &[]
        };
        let iov_storage;
        let iov: &[IoSlice<'_>] = if sent < header.len() {
            iov_storage = [IoSlice::new(&header[sent..]), IoSlice::new(payload)];
            &iov_storage
        } else {
            iov_storage = [
                IoSlice::new(&payload[sent - header.len()..]),
                IoSlice::new(&[]),
            ];
            &iov_storage[..1]
        };
        match sendmsg::<()>(
            socket.as_raw_fd(),
            iov,
            control,
            MsgFlags::MSG_NOSIGNAL,
            None,
        ) {
            Ok(count) => sent += count,
            Err(Errno::EINTR) => continue,
            Err(Errno::EPIPE | Errno::ECONNRESET) => return Err(Error::PeerClosed),
            Err(errno) => {
                return Err(Error::Os {
                    operation: "sendmsg",
                    errno,
                });
            }
        }
    }
    Ok(())
}

/// Frames up to this size (header included) are copied together and sent with `send`.
const SMALL_FRAME: usize = 512;

/// Sends all of `bytes` (no descriptors).
fn send_all(socket: BorrowedFd<'_>, mut bytes: &[u8]) -> Result<(), Error> {
    while !bytes.is_empty() {
        match nix::sys::socket::send(socket.as_raw_fd(), bytes, MsgFlags::MSG_NOSIGNAL) {
            Ok(count) => bytes = &bytes[count..],
            Err(Errno::EINTR) => continue,
            Err(Errno::EPIPE | Errno::ECONNRESET) => return Err(Error::PeerClosed),
            Err(errno) => {
                return Err(Error::Os {
                    operation: "send",
                    errno,
                });
            }
        }
    }
    Ok(())
}

/// Room for one `SCM_RIGHTS` control message of [`MAX_FDS`] descriptors, aligned for
/// `cmsghdr`; kept by a connection and reused for every header it reads.
pub(crate) struct ControlBuffer {
    words: Vec<u64>,
}

impl ControlBuffer {
    pub(crate) fn new() -> Self {
        let fds_len = (MAX_FDS * size_of::<libc::c_int>()) as libc::c_uint;
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

/// How a read that collects descriptors went.
pub(crate) struct Received {
    /// Bytes read; 0 at the end of the stream (a reset counts as one).
    pub(crate) bytes: usize,
    /// Whether the kernel cut off descriptors (`MSG_CTRUNC`): out of descriptors.
    pub(crate) fds_cut_off: bool,
}

/// Reads what the socket has (blocking until something, or the end of the stream),
/// moving the descriptors that come with the bytes into `fds` (`O_CLOEXEC`).
pub(crate) fn recv_some_with_fds(
    socket: BorrowedFd<'_>,
    buf: &mut [u8],
    control: &mut ControlBuffer,
    fds: &mut Vec<OwnedFd>,
) -> Result<Received, Error> {
    loop {
        match recvmsg_once(socket, buf, control, fds) {
            Ok((bytes, fds_cut_off)) => return Ok(Received { bytes, fds_cut_off }),
            Err(Errno::EINTR) => continue,
            Err(Errno::ECONNRESET) => {
                return Ok(Received {
                    bytes: 0,
                    fds_cut_off: false,
                });
            }
            Err(errno) => {
                return Err(Error::Os {
                    operation: "recvmsg",
                    errno,
                });
            }
        }
    }
}

/// Fills `buf` from the socket with as few system calls as the kernel allows
/// (`MSG_WAITALL`); the bytes read, fewer than asked only at the end of the stream.
/// Descriptors sent with these bytes (only a misbehaving peer does that) are closed by the
/// kernel.
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
            Err(errno) => {
                return Err(Error::Os {
                    operation: "recv",
                    errno,
                });
            }
        }
    }
    Ok(filled)
}

/// One `recvmsg` into `buf`, collecting any descriptors that came with it into `fds`:
/// the byte count, and whether the kernel cut descriptors off (`MSG_CTRUNC`).
///
/// Written on libc rather than nix: when the receiver is out of descriptors the kernel
/// installs as many as it can, reports them in a shortened control message and sets
/// `MSG_CTRUNC`, and nix refuses to read the control data then, which would leak the
/// descriptors that did arrive.
fn recvmsg_once(
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
    Ok((count, message.msg_flags & libc::MSG_CTRUNC != 0))
}
