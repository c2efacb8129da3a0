//! The reading side of a socket that one owner reads for good: frames out of a
//! read-ahead buffer, with the descriptors that came with them.
//!
//! Why read ahead: one `recvmsg` then usually brings a whole small frame (often several),
//! where reading the header and then the payload exactly would take two system calls per
//! message, which is most of the cost of a round trip.
//!
//! Which frame the descriptors belong to: on a Unix stream socket the kernel hands the
//! descriptors sent with some bytes to the read that takes those bytes, and ends that read
//! right after them. A sender of this crate attaches a frame's descriptors to the
//! frame's first bytes. So the descriptors a read brings belong to the frame that holds
//! the last byte of that read; each arrival is recorded with the stream offset where its
//! read ended, and a frame takes the arrivals that ended inside it.
//!
//! Frames larger than the buffer are read straight into their destination, exactly, so
//! the buffer never holds more than [`READ_AHEAD`] bytes, and a payload buffer grows only
//! as bytes actually arrive: a length prefix alone never makes the reader allocate much.

use std::collections::VecDeque;
use std::ops::Range;
use std::os::fd::{BorrowedFd, OwnedFd};

use mp_sys::fd_passing::{self, ControlBuffer};
use nix::errno::Errno;

use crate::Error;
use crate::frame::{self, MAX_HEADER_LEN, Prefix, SHORT_HEADER_LEN};
use crate::stream;

/// The size of the read-ahead buffer; larger frames bypass it.
///
/// ```
/// assert_eq!(mp_wire::reader::READ_AHEAD, 64 << 10);
/// ```
pub const READ_AHEAD: usize = 64 << 10;

/// Descriptors brought by one read.
struct Arrival {
    /// The stream offset just past the last byte of the read that brought them.
    end: u64,
    fds: Vec<OwnedFd>,
    cut_off: bool,
}

/// A frame's header, consumed from the stream by [`Reader::read_header`].
///
/// ```
/// use std::os::fd::AsFd;
/// use std::os::unix::net::UnixStream;
///
/// let (a, b) = UnixStream::pair().unwrap();
/// mp_wire::send(&a, b"four", &[])?;
/// let mut reader = mp_wire::Reader::new();
/// let header = reader.read_header(b.as_fd(), 16)?;
/// assert_eq!(header.len, 4);
/// # Ok::<(), mp_wire::Error>(())
/// ```
#[derive(Debug)]
pub struct Header {
    /// The payload length (checked against the limit).
    pub len: usize,
    header_len: usize,
    /// The stream offset just past the frame.
    frame_end: u64,
}

/// The descriptors of one frame.
///
/// ```
/// use std::os::fd::AsFd;
/// use std::os::unix::net::UnixStream;
///
/// let (a, b) = UnixStream::pair().unwrap();
/// let file = std::fs::File::open("/dev/null").unwrap();
/// mp_wire::send(&a, b"x", &[file.as_fd()])?;
/// let mut reader = mp_wire::Reader::new();
/// let header = reader.read_header(b.as_fd(), 16)?;
/// let (_payload, frame_fds) = reader.payload_to_vec(b.as_fd(), &header)?;
/// assert_eq!(frame_fds.fds.len(), 1);
/// assert!(!frame_fds.cut_off);
/// # Ok::<(), mp_wire::Error>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct FrameFds {
    /// The descriptors (`O_CLOEXEC`), in the order they were sent.
    pub fds: Vec<OwnedFd>,
    /// Whether the kernel cut some off (`MSG_CTRUNC`: out of descriptors).
    pub cut_off: bool,
}

/// The longest frame over the limit that a [`Reader`] reads and drops to stay in step:
/// 4 GiB. A prefix announcing more (the long form's `u64::MAX`, a corrupt stream) is not
/// waited for.
///
/// ```
/// assert_eq!(mp_wire::reader::MAX_SKIPPED, 1 << 32);
/// ```
pub const MAX_SKIPPED: usize = 1 << 32;

/// Reads frames from a socket it reads for good, ahead into a buffer of [`READ_AHEAD`]
/// bytes, handing each frame its own descriptors.
///
/// The socket is passed to each call (the reader does not own it); always the same one.
/// A read's own failure leaves the reader out of step ([`Error::OutOfSync`] from then on)
/// except the end of the stream between frames, and a frame over the limit, which is
/// skipped by [`read_header_or_skip`](Reader::read_header_or_skip).
///
/// ```
/// use std::os::fd::AsFd;
/// use std::os::unix::net::UnixStream;
///
/// let (a, b) = UnixStream::pair().unwrap();
/// mp_wire::send(&a, b"one", &[])?;
/// mp_wire::send(&a, b"two", &[])?;
/// let mut reader = mp_wire::Reader::new();
/// for expected in [b"one", b"two"] {
///     let header = reader.read_header(b.as_fd(), 16)?;
///     let (payload, _fds) = reader.payload_to_vec(b.as_fd(), &header)?;
///     assert_eq!(&payload, expected);
/// }
/// # Ok::<(), mp_wire::Error>(())
/// ```
pub struct Reader {
    /// Read-ahead bytes; empty until the first read.
    buf: Vec<u8>,
    /// Unread bytes are `buf[start..end]`.
    start: usize,
    end: usize,
    /// The stream offset of `buf[start]`.
    offset: u64,
    arrivals: VecDeque<Arrival>,
    control: ControlBuffer,
    /// A typed payload too large for the read-ahead buffer, reused.
    large: Vec<u8>,
    /// False once a framing error left the reader out of step with the stream.
    in_sync: bool,
}

impl Reader {
    /// A reader that has read nothing yet (it allocates its buffer at the first read).
    ///
    /// ```
    /// assert!(!mp_wire::Reader::new().has_buffered());
    /// ```
    pub fn new() -> Self {
        Self {
            buf: Vec::new(),
            start: 0,
            end: 0,
            offset: 0,
            arrivals: VecDeque::new(),
            control: ControlBuffer::new(),
            large: Vec::new(),
            in_sync: true,
        }
    }

    /// Whether bytes of a frame are already here (so a receive would not wait for the
    /// socket first).
    ///
    /// ```
    /// use std::os::fd::AsFd;
    /// use std::os::unix::net::UnixStream;
    ///
    /// let (a, b) = UnixStream::pair().unwrap();
    /// mp_wire::send(&a, b"one", &[])?;
    /// mp_wire::send(&a, b"two", &[])?;
    /// let mut reader = mp_wire::Reader::new();
    /// let header = reader.read_header(b.as_fd(), 16)?;
    /// reader.payload_to_vec(b.as_fd(), &header)?;
    /// assert!(reader.has_buffered()); // "two" came with the same read
    /// # Ok::<(), mp_wire::Error>(())
    /// ```
    pub fn has_buffered(&self) -> bool {
        self.start < self.end
    }

    /// Unread bytes held here, lost if the socket moved to another process.
    ///
    /// ```
    /// assert_eq!(mp_wire::Reader::new().buffered_len(), 0);
    /// ```
    pub fn buffered_len(&self) -> usize {
        self.end - self.start
    }

    /// From now on every receive fails with [`Error::OutOfSync`].
    ///
    /// ```
    /// let mut reader = mp_wire::Reader::new();
    /// reader.mark_out_of_sync();
    /// assert!(matches!(reader.check_in_sync(), Err(mp_wire::Error::OutOfSync)));
    /// ```
    pub fn mark_out_of_sync(&mut self) {
        self.in_sync = false;
    }

    /// [`Error::OutOfSync`] once a framing error left the reader out of step.
    ///
    /// ```
    /// assert!(mp_wire::Reader::new().check_in_sync().is_ok());
    /// ```
    pub fn check_in_sync(&self) -> Result<(), Error> {
        if self.in_sync {
            Ok(())
        } else {
            Err(Error::OutOfSync)
        }
    }

    /// Consumes the next frame's header and checks its length against `max`. Any failure
    /// but the end of the stream between frames leaves the reader out of step, a frame
    /// over `max` too (see [`read_header_or_skip`](Reader::read_header_or_skip) to get
    /// past it instead).
    ///
    /// ```
    /// use std::os::fd::AsFd;
    /// use std::os::unix::net::UnixStream;
    /// use mp_wire::Error;
    ///
    /// let (a, b) = UnixStream::pair().unwrap();
    /// mp_wire::send(&a, &[0; 100], &[])?;
    /// let mut reader = mp_wire::Reader::new();
    /// let err = reader.read_header(b.as_fd(), 10).unwrap_err();
    /// assert!(matches!(err, Error::MessageTooLarge { len: 100, max: 10 }));
    /// assert!(matches!(reader.read_header(b.as_fd(), 10), Err(Error::OutOfSync)));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn read_header(&mut self, socket: BorrowedFd<'_>, max: usize) -> Result<Header, Error> {
        self.check_in_sync()?;
        match self.read_header_unchecked(socket, max) {
            Ok(header) => Ok(header),
            Err(Error::PeerClosed) => Err(Error::PeerClosed),
            Err(error) => {
                self.in_sync = false;
                Err(error)
            }
        }
    }

    /// [`read_header`](Reader::read_header), but a frame over `max` (up to
    /// [`MAX_SKIPPED`]) gives [`Error::MessageTooLarge`] after its payload was read and
    /// dropped (through the read-ahead buffer: nothing is allocated for it) and its
    /// descriptors closed, so the reader stays in step and the next frame reads as
    /// usual. What a connection's receives use; `read_header` fails fast instead.
    ///
    /// ```
    /// use std::os::fd::AsFd;
    /// use std::os::unix::net::UnixStream;
    /// use mp_wire::Error;
    ///
    /// let (a, b) = UnixStream::pair().unwrap();
    /// mp_wire::send(&a, &[0; 100], &[])?;
    /// mp_wire::send(&a, b"next", &[])?;
    /// let mut reader = mp_wire::Reader::new();
    /// let err = reader.read_header_or_skip(b.as_fd(), 10).unwrap_err();
    /// assert!(matches!(err, Error::MessageTooLarge { len: 100, max: 10 }));
    /// let header = reader.read_header_or_skip(b.as_fd(), 10)?;
    /// assert_eq!(reader.payload_to_vec(b.as_fd(), &header)?.0, b"next");
    /// # Ok::<(), Error>(())
    /// ```
    pub fn read_header_or_skip(
        &mut self,
        socket: BorrowedFd<'_>,
        max: usize,
    ) -> Result<Header, Error> {
        self.check_in_sync()?;
        match self.read_header_unchecked(socket, max.max(MAX_SKIPPED)) {
            Ok(header) if header.len > max => {
                let too_large = Error::MessageTooLarge {
                    len: header.len as u64,
                    max,
                };
                match self.skip_payload(socket, &header) {
                    Ok(()) => Err(too_large),
                    // The stream ended inside it: still the message's fault, said as such;
                    // the reader is out of step.
                    Err(Error::Truncated { .. } | Error::PeerClosed) => {
                        self.in_sync = false;
                        Err(too_large)
                    }
                    Err(error) => {
                        self.in_sync = false;
                        Err(error)
                    }
                }
            }
            Ok(header) => Ok(header),
            Err(Error::PeerClosed) => Err(Error::PeerClosed),
            Err(Error::MessageTooLarge { len, .. }) => {
                // Past even what is skipped: not waited for.
                self.in_sync = false;
                Err(Error::MessageTooLarge { len, max })
            }
            Err(error) => {
                self.in_sync = false;
                Err(error)
            }
        }
    }

    /// Reads and drops `header`'s payload, and closes the descriptors that came with it.
    fn skip_payload(&mut self, socket: BorrowedFd<'_>, header: &Header) -> Result<(), Error> {
        let mut left = header.len;
        while left > 0 {
            let available = self.fill_to(socket, left.min(READ_AHEAD))?;
            if available == 0 {
                return Err(self.truncated(header, header.len - left));
            }
            let taken = available.min(left);
            self.consume(taken);
            left -= taken;
        }
        drop(self.take_fds(header));
        Ok(())
    }

    /// The next header, with any length up to `limit` (which must leave room for the
    /// header, `MAX_SKIPPED` does).
    fn read_header_unchecked(
        &mut self,
        socket: BorrowedFd<'_>,
        limit: usize,
    ) -> Result<Header, Error> {
        let frame_start = self.offset;
        let available = self.fill_to(socket, SHORT_HEADER_LEN)?;
        if available < SHORT_HEADER_LEN {
            return Err(if available == 0 {
                Error::PeerClosed
            } else {
                Error::Truncated {
                    expected: SHORT_HEADER_LEN as u64,
                    received: available as u64,
                }
            });
        }
        let mut prefix = [0u8; SHORT_HEADER_LEN];
        prefix.copy_from_slice(&self.buf[self.start..self.start + SHORT_HEADER_LEN]);
        let (len, header_len) = match frame::decode_prefix(prefix)? {
            Prefix::Len(len) => (len, SHORT_HEADER_LEN),
            Prefix::Long => {
                let available = self.fill_to(socket, MAX_HEADER_LEN)?;
                if available < MAX_HEADER_LEN {
                    return Err(Error::Truncated {
                        expected: MAX_HEADER_LEN as u64,
                        received: available as u64,
                    });
                }
                let mut long = [0u8; MAX_HEADER_LEN - SHORT_HEADER_LEN];
                long.copy_from_slice(
                    &self.buf[self.start + SHORT_HEADER_LEN..self.start + MAX_HEADER_LEN],
                );
                (u64::from_be_bytes(long), MAX_HEADER_LEN)
            }
        };
        // Past `limit` (a corrupt prefix, the long form's u64::MAX): refused on the
        // prefix, before any arithmetic on it or any allocation.
        let len = usize::try_from(len)
            .ok()
            .filter(|&len| len <= limit)
            .ok_or(Error::MessageTooLarge { len, max: limit })?;
        self.consume(header_len);
        Ok(Header {
            len,
            header_len,
            frame_end: frame_start + (header_len + len) as u64,
        })
    }

    /// Receives one whole frame, as [`recv`](crate::recv) does, but reading ahead: a
    /// small frame usually costs one system call (often none, when it came with the read
    /// of the one before). Descriptors cut off by the kernel give [`Error::FdsTruncated`]
    /// once the frame is read (the reader stays in step); any other failure but the end
    /// of the stream between frames leaves it out of step.
    ///
    /// ```
    /// use std::os::fd::AsFd;
    /// use std::os::unix::net::UnixStream;
    ///
    /// let (a, b) = UnixStream::pair().unwrap();
    /// let file = std::fs::File::open("/dev/null").unwrap();
    /// mp_wire::send(&a, b"one", &[file.as_fd()])?;
    /// mp_wire::send(&a, b"two", &[])?;
    /// let mut reader = mp_wire::Reader::new();
    /// let (first, fds) = reader.recv(b.as_fd(), 16)?;
    /// assert_eq!((first.as_slice(), fds.len()), (&b"one"[..], 1));
    /// let (second, fds) = reader.recv(b.as_fd(), 16)?;
    /// assert_eq!((second.as_slice(), fds.len()), (&b"two"[..], 0));
    /// # Ok::<(), mp_wire::Error>(())
    /// ```
    pub fn recv(
        &mut self,
        socket: BorrowedFd<'_>,
        max_len: usize,
    ) -> Result<(Vec<u8>, Vec<OwnedFd>), Error> {
        let header = self.read_header(socket, max_len)?;
        let (payload, frame_fds) = self.payload_to_vec(socket, &header).inspect_err(|_| {
            self.in_sync = false;
        })?;
        if frame_fds.cut_off {
            return Err(Error::FdsTruncated);
        }
        Ok((payload, frame_fds.fds))
    }

    /// Reads the payload into `dst`, which must be exactly `header.len` bytes (a shorter
    /// or longer `dst` is [`Error::Decode`], and the reader is out of step).
    ///
    /// ```
    /// use std::os::fd::AsFd;
    /// use std::os::unix::net::UnixStream;
    ///
    /// let (a, b) = UnixStream::pair().unwrap();
    /// mp_wire::send(&a, b"abc", &[])?;
    /// let mut reader = mp_wire::Reader::new();
    /// let header = reader.read_header(b.as_fd(), 16)?;
    /// let mut dst = [0u8; 3];
    /// reader.payload_into(b.as_fd(), &header, &mut dst)?;
    /// assert_eq!(&dst, b"abc");
    /// # Ok::<(), mp_wire::Error>(())
    /// ```
    pub fn payload_into(
        &mut self,
        socket: BorrowedFd<'_>,
        header: &Header,
        dst: &mut [u8],
    ) -> Result<FrameFds, Error> {
        if dst.len() != header.len {
            self.in_sync = false;
            return Err(Error::PayloadBufferMismatch {
                len: header.len,
                buffer: dst.len(),
            });
        }
        if header.len <= READ_AHEAD {
            let payload = self.payload_buffered(socket, header)?;
            dst.copy_from_slice(&self.buf[payload]);
        } else {
            let buffered = self.buffered_len().min(header.len);
            dst[..buffered].copy_from_slice(&self.buf[self.start..self.start + buffered]);
            self.consume(buffered);
            let received = stream::recv_exact(socket, &mut dst[buffered..])?;
            self.offset += received as u64;
            self.check_whole(header, buffered + received)?;
        }
        Ok(self.take_fds(header))
    }

    /// Reads the payload into a new vector, grown only as bytes arrive.
    ///
    /// ```
    /// use std::os::fd::AsFd;
    /// use std::os::unix::net::UnixStream;
    ///
    /// let (a, b) = UnixStream::pair().unwrap();
    /// mp_wire::send(&a, b"abc", &[])?;
    /// let mut reader = mp_wire::Reader::new();
    /// let header = reader.read_header(b.as_fd(), 16)?;
    /// assert_eq!(reader.payload_to_vec(b.as_fd(), &header)?.0, b"abc");
    /// # Ok::<(), mp_wire::Error>(())
    /// ```
    pub fn payload_to_vec(
        &mut self,
        socket: BorrowedFd<'_>,
        header: &Header,
    ) -> Result<(Vec<u8>, FrameFds), Error> {
        if header.len <= READ_AHEAD {
            let payload = self.payload_buffered(socket, header)?;
            return Ok((self.buf[payload].to_vec(), self.take_fds(header)));
        }
        let mut payload = Vec::new();
        self.read_large(socket, header, &mut payload)?;
        Ok((payload, self.take_fds(header)))
    }

    /// Reads the payload and lends it (from the read-ahead buffer, or from a reused buffer
    /// for large frames) to `use_payload`.
    ///
    /// ```
    /// use std::os::fd::AsFd;
    /// use std::os::unix::net::UnixStream;
    ///
    /// let (a, b) = UnixStream::pair().unwrap();
    /// mp_wire::send_value(&a, &42u32)?;
    /// let mut reader = mp_wire::Reader::new();
    /// let header = reader.read_header(b.as_fd(), 16)?;
    /// let value = reader.with_payload(b.as_fd(), &header, |bytes, frame_fds| {
    ///     mp_wire::decode::<u32>(bytes, frame_fds.fds)
    /// })??;
    /// assert_eq!(value, 42);
    /// # Ok::<(), mp_wire::Error>(())
    /// ```
    pub fn with_payload<R>(
        &mut self,
        socket: BorrowedFd<'_>,
        header: &Header,
        use_payload: impl FnOnce(&[u8], FrameFds) -> R,
    ) -> Result<R, Error> {
        if header.len <= READ_AHEAD {
            let payload = self.payload_buffered(socket, header)?;
            let fds = self.take_fds(header);
            return Ok(use_payload(&self.buf[payload], fds));
        }
        let mut large = std::mem::take(&mut self.large);
        let read = self.read_large(socket, header, &mut large);
        let outcome = read.map(|()| {
            let fds = self.take_fds(header);
            use_payload(&large, fds)
        });
        self.large = large;
        outcome
    }

    /// Makes a payload of at most [`READ_AHEAD`] bytes whole in the buffer, consumes it
    /// and returns where it lies in the buffer (the bytes stay there until the next read).
    fn payload_buffered(
        &mut self,
        socket: BorrowedFd<'_>,
        header: &Header,
    ) -> Result<Range<usize>, Error> {
        let available = self.fill_to(socket, header.len)?;
        if available < header.len {
            self.offset += available as u64;
            self.start = self.end;
            return Err(self.truncated(header, available));
        }
        let start = self.start;
        self.consume(header.len);
        Ok(start..start + header.len)
    }

    /// Reads a payload larger than the buffer into `payload`: the buffered part, then the
    /// rest straight from the socket, exactly, in chunks that double as bytes arrive.
    fn read_large(
        &mut self,
        socket: BorrowedFd<'_>,
        header: &Header,
        payload: &mut Vec<u8>,
    ) -> Result<(), Error> {
        let len = header.len;
        let buffered = self.buffered_len().min(len);
        payload.clear();
        payload.extend_from_slice(&self.buf[self.start..self.start + buffered]);
        self.consume(buffered);
        let filled = stream::read_growing(socket, len, payload)?;
        self.offset += (filled - buffered) as u64;
        self.check_whole(header, filled)
    }

    /// Makes at least `wanted` (at most [`READ_AHEAD`]) unread bytes available, reading
    /// ahead as far as the buffer allows; how many are available (fewer only at the end of
    /// the stream).
    fn fill_to(&mut self, socket: BorrowedFd<'_>, wanted: usize) -> Result<usize, Error> {
        if self.buffered_len() >= wanted {
            return Ok(self.buffered_len());
        }
        if self.buf.is_empty() {
            self.buf = vec![0; READ_AHEAD];
        }
        if self.start + wanted > self.buf.len() {
            // Move the unread bytes to the front to make room.
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        while self.buffered_len() < wanted {
            let mut fds = Vec::new();
            let received = match fd_passing::recv_with_fds(
                socket,
                &mut self.buf[self.end..],
                &mut self.control,
                &mut fds,
            ) {
                Ok(received) => received,
                // A reset is the end of the stream.
                Err(Errno::ECONNRESET) => break,
                Err(errno) => return Err(Error::os("recvmsg", errno)),
            };
            self.end += received.bytes;
            if !fds.is_empty() || received.fds_truncated {
                self.arrivals.push_back(Arrival {
                    end: self.offset + self.buffered_len() as u64,
                    fds,
                    cut_off: received.fds_truncated,
                });
            }
            if received.bytes == 0 {
                break;
            }
        }
        Ok(self.buffered_len())
    }

    fn consume(&mut self, count: usize) {
        self.start += count;
        self.offset += count as u64;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// The descriptors of the frame that ends at `header.frame_end`.
    fn take_fds(&mut self, header: &Header) -> FrameFds {
        let mut frame = FrameFds {
            fds: Vec::new(),
            cut_off: false,
        };
        while let Some(arrival) = self
            .arrivals
            .pop_front_if(|arrival| arrival.end <= header.frame_end)
        {
            frame.fds.extend(arrival.fds);
            frame.cut_off |= arrival.cut_off;
        }
        frame
    }

    fn check_whole(&mut self, header: &Header, received: usize) -> Result<(), Error> {
        if received == header.len {
            Ok(())
        } else {
            Err(self.truncated(header, received))
        }
    }

    /// The end of the stream inside a payload: the reader is out of step from now on.
    fn truncated(&mut self, header: &Header, received: usize) -> Error {
        self.in_sync = false;
        Error::Truncated {
            expected: (header.header_len + header.len) as u64,
            received: (header.header_len + received) as u64,
        }
    }
}

impl Default for Reader {
    /// As [`Reader::new`].
    ///
    /// ```
    /// let _ = mp_wire::Reader::default();
    /// ```
    fn default() -> Self {
        Self::new()
    }
}
