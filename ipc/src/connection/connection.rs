//! [`Connection<T>`]: one end of a pipe or of a socket, sending and receiving messages.

use std::fmt;
use std::marker::PhantomData;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use mp_wire::{FrameFds, MAX_FDS_PER_FRAME, Reader, SocketKind};

use crate::Error;
use crate::Waitable;
use mp_shared_mem::transfer;
use mp_sys::Deadline;

/// The default limit on the size of a message a connection accepts: 64 MiB.
///
/// A longer message is refused with [`Error::MessageTooLarge`]: by a send before anything
/// is written, by a receive before anything is allocated (its bytes are skipped, so the
/// connection reads the next message). Change it per connection with
/// [`Connection::set_max_message_size`].
///
/// ```
/// assert_eq!(mp_ipc::DEFAULT_MAX_MESSAGE_SIZE, 64 << 20);
/// ```
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 64 << 20;

/// One end of a [`pipe`](crate::pipe), or a connection made by a
/// [`Listener`](crate::Listener) or a [`Client`](crate::Client): Python's
/// `multiprocessing.connection.Connection`, typed.
///
/// [`send`](Self::send) and [`recv`](Self::recv) carry values of `T` (any serde type,
/// encoded with postcard; handles such as `mp_shared_mem::Shared<T>` or another
/// `Connection` travel with their descriptors over Unix sockets).
/// [`send_bytes`](Self::send_bytes), [`recv_bytes`](Self::recv_bytes) and
/// [`recv_bytes_into`](Self::recv_bytes_into) carry raw bytes, framed as Python frames
/// them, so a Python peer can read and write them.
///
/// All methods take `&self`: a connection can be shared between threads (in an `Arc`).
/// Messages never interleave: each send and each receive holds the connection's writing
/// or reading side for the whole message.
///
/// End of stream: when the peer has closed its end, or died (even by `SIGKILL`), a
/// receive returns [`Error::PeerClosed`] between messages and [`Error::Truncated`] in the
/// middle of one, and a send returns [`Error::PeerClosed`]. Nothing hangs and no
/// `SIGPIPE` is raised.
///
/// ```
/// use mp_ipc::{Error, pipe};
///
/// let (left, right) = pipe::<(u32, String)>(true)?;
/// left.send(&(1, "one".to_string()))?;
/// assert_eq!(right.recv()?, (1, "one".to_string()));
///
/// right.send_bytes(b"raw")?;
/// assert_eq!(left.recv_bytes()?, b"raw");
///
/// drop(right);
/// assert!(matches!(left.recv(), Err(Error::PeerClosed)));
/// # Ok::<(), Error>(())
/// ```
pub struct Connection<T> {
    socket: OwnedFd,
    readable: bool,
    writable: bool,
    /// Whether the socket is a Unix socket, over which descriptors can travel.
    passes_fds: bool,
    max_message_size: usize,
    /// Held for the whole of a send, so frames never interleave.
    writer: Mutex<()>,
    /// Held for the whole of a receive, so frames are read whole.
    reader: Mutex<Reader>,
    _messages: PhantomData<fn(T) -> T>,
}

impl<T> Connection<T> {
    /// Wraps a connected stream socket (Unix or TCP, blocking).
    pub(crate) fn from_socket(socket: OwnedFd, readable: bool, writable: bool) -> Self {
        // The socket's kind is asked once, here, never per message.
        let passes_fds = SocketKind::of(socket.as_fd()).is_ok_and(|kind| kind == SocketKind::Unix);
        Self {
            socket,
            readable,
            writable,
            passes_fds,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            writer: Mutex::new(()),
            reader: Mutex::new(Reader::new()),
            _messages: PhantomData,
        }
    }

    /// Sends `bytes` as one message (Python's `send_bytes`).
    ///
    /// Fails with [`Error::PeerClosed`] if the peer is gone, [`Error::NotWritable`] on
    /// the reading end of a one-way pipe, and [`Error::MessageTooLarge`] (nothing
    /// written) for a message over [`max_message_size`](Self::max_message_size).
    ///
    /// ```
    /// let (a, b) = mp_ipc::pipe::<()>(true)?;
    /// a.send_bytes(&[1, 2, 3])?;
    /// a.send_bytes(&[])?;
    /// assert_eq!(b.recv_bytes()?, [1, 2, 3]);
    /// assert_eq!(b.recv_bytes()?, []);
    /// # Ok::<(), mp_ipc::Error>(())
    /// ```
    pub fn send_bytes(&self, bytes: &[u8]) -> Result<(), Error> {
        self.send_frame(bytes, &[])
    }

    /// Receives one message as bytes (Python's `recv_bytes`), whatever `T` is.
    ///
    /// Blocks until a message arrives. Fails with [`Error::PeerClosed`] at the end of the
    /// stream, [`Error::Truncated`] if it ends inside the message, and
    /// [`Error::MessageTooLarge`] for a message over
    /// [`max_message_size`](Self::max_message_size): nothing is allocated for it, its
    /// bytes are read and dropped and its descriptors closed, and the next message is
    /// received as usual. Descriptors sent with a message are closed.
    ///
    /// ```
    /// let (a, b) = mp_ipc::pipe::<u64>(true)?;
    /// a.send(&7)?;
    /// assert_eq!(b.recv_bytes()?, [7]); // postcard's encoding of 7u64
    /// # Ok::<(), mp_ipc::Error>(())
    /// ```
    pub fn recv_bytes(&self) -> Result<Vec<u8>, Error> {
        let mut reader = self.lock_reader()?;
        let socket = self.socket.as_fd();
        let header = reader.read_header_or_skip(socket, self.max_message_size)?;
        let (message, _fds) =
            out_of_step_on_error(&mut reader, |reader| reader.payload_to_vec(socket, &header))?;
        Ok(message)
    }

    /// Receives one message into `buf` and returns its length (Python's
    /// `recv_bytes_into`; pass `&mut buf[offset..]` for its offset).
    ///
    /// A message longer than `buf` is read whole and returned in
    /// [`Error::BufferTooShort`], as Python's exception carries it; the connection stays
    /// in step. Other errors as for [`recv_bytes`](Self::recv_bytes).
    ///
    /// ```
    /// use mp_ipc::Error;
    ///
    /// let (a, b) = mp_ipc::pipe::<()>(true)?;
    /// let mut buf = [0u8; 4];
    /// a.send_bytes(b"abc")?;
    /// assert_eq!(b.recv_bytes_into(&mut buf)?, 3);
    /// assert_eq!(&buf[..3], b"abc");
    ///
    /// a.send_bytes(b"too long")?;
    /// match b.recv_bytes_into(&mut buf) {
    ///     Err(Error::BufferTooShort(message)) => assert_eq!(message, b"too long"),
    ///     other => panic!("{other:?}"),
    /// }
    /// # Ok::<(), mp_ipc::Error>(())
    /// ```
    pub fn recv_bytes_into(&self, buf: &mut [u8]) -> Result<usize, Error> {
        let mut reader = self.lock_reader()?;
        let socket = self.socket.as_fd();
        let header = reader.read_header_or_skip(socket, self.max_message_size)?;
        // Descriptors have no place in a byte buffer: they are closed.
        if let Some(dst) = buf.get_mut(..header.len) {
            out_of_step_on_error(&mut reader, |reader| {
                reader.payload_into(socket, &header, dst)
            })?;
            return Ok(header.len);
        }
        let (message, _fds) =
            out_of_step_on_error(&mut reader, |reader| reader.payload_to_vec(socket, &header))?;
        Err(Error::BufferTooShort(message))
    }

    /// Whether a message (or the end of the stream) is ready to be read within `timeout`
    /// (Python's `poll`; `None` waits without limit, `Some(Duration::ZERO)` is Python's
    /// `poll()`).
    ///
    /// Fails with [`Error::NotReadable`] on the writing end of a one-way pipe.
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let (a, b) = mp_ipc::pipe::<u8>(true)?;
    /// assert!(!b.poll(Some(Duration::ZERO))?);
    /// a.send(&1)?;
    /// assert!(b.poll(Some(Duration::from_secs(5)))?);
    /// # Ok::<(), mp_ipc::Error>(())
    /// ```
    pub fn poll(&self, timeout: Option<Duration>) -> Result<bool, Error> {
        if !self.readable {
            return Err(Error::NotReadable);
        }
        if self.has_buffered() {
            return Ok(true);
        }
        mp_sys::poll::is_readable(self.socket.as_fd(), Deadline::from_timeout(timeout)).map_err(
            |errno| Error::Os {
                operation: "poll",
                errno,
            },
        )
    }

    /// Closes this end (Python's `close`); the peer then sees the end of the stream. The
    /// same as dropping it.
    ///
    /// ```
    /// use mp_ipc::Error;
    ///
    /// let (a, b) = mp_ipc::pipe::<u8>(true)?;
    /// a.close();
    /// assert!(matches!(b.recv(), Err(Error::PeerClosed)));
    /// assert!(matches!(b.send(&1), Err(Error::PeerClosed)));
    /// # Ok::<(), mp_ipc::Error>(())
    /// ```
    pub fn close(self) {
        drop(self);
    }

    /// Whether this end can receive (false for the writing end of a one-way pipe).
    ///
    /// ```
    /// let (reader, writer) = mp_ipc::pipe::<u8>(false)?;
    /// assert!(reader.readable() && !reader.writable());
    /// assert!(!writer.readable() && writer.writable());
    /// # Ok::<(), mp_ipc::Error>(())
    /// ```
    pub fn readable(&self) -> bool {
        self.readable
    }

    /// Whether this end can send (false for the reading end of a one-way pipe).
    ///
    /// ```
    /// let (a, _b) = mp_ipc::pipe::<u8>(true)?;
    /// assert!(a.writable());
    /// # Ok::<(), mp_ipc::Error>(())
    /// ```
    pub fn writable(&self) -> bool {
        self.writable
    }

    /// The largest message this end accepts (default [`DEFAULT_MAX_MESSAGE_SIZE`]).
    ///
    /// ```
    /// let (a, _b) = mp_ipc::pipe::<u8>(true)?;
    /// assert_eq!(a.max_message_size(), mp_ipc::DEFAULT_MAX_MESSAGE_SIZE);
    /// # Ok::<(), mp_ipc::Error>(())
    /// ```
    pub fn max_message_size(&self) -> usize {
        self.max_message_size
    }

    /// Sets the largest message this end sends or receives. A longer one is refused with
    /// [`Error::MessageTooLarge`]: a send writes nothing; a receive allocates nothing and
    /// skips the message's bytes, so the connection stays usable.
    ///
    /// ```
    /// use mp_ipc::Error;
    ///
    /// let (mut a, mut b) = mp_ipc::pipe::<()>(true)?;
    /// b.set_max_message_size(8);
    /// a.send_bytes(&[0; 9])?;
    /// a.send_bytes(b"next")?;
    /// assert!(matches!(b.recv_bytes(), Err(Error::MessageTooLarge { len: 9, max: 8 })));
    /// assert_eq!(b.recv_bytes()?, b"next");
    ///
    /// a.set_max_message_size(8);
    /// assert!(matches!(a.send_bytes(&[0; 9]), Err(Error::MessageTooLarge { len: 9, max: 8 })));
    /// # Ok::<(), mp_ipc::Error>(())
    /// ```
    pub fn set_max_message_size(&mut self, max: usize) {
        self.max_message_size = max;
    }

    /// Whether descriptors (handles) can travel over this connection: true over Unix
    /// sockets (every [`pipe`](crate::pipe)), false over TCP.
    ///
    /// ```
    /// let (a, _b) = mp_ipc::pipe::<u8>(true)?;
    /// assert!(a.passes_fds());
    /// # Ok::<(), mp_ipc::Error>(())
    /// ```
    pub fn passes_fds(&self) -> bool {
        self.passes_fds
    }

    /// Whether bytes of a message already sit in the read-ahead buffer. A reader busy in
    /// another thread counts as "no": the socket then tells.
    fn has_buffered(&self) -> bool {
        self.reader
            .try_lock()
            .is_ok_and(|reader| reader.has_buffered())
    }

    fn send_frame(&self, payload: &[u8], fds: &[RawFd]) -> Result<(), Error> {
        if !self.writable {
            return Err(Error::NotWritable);
        }
        // A message this end would refuse to receive is refused before anything is
        // written: a peer with the same limit never has to skip it.
        if payload.len() > self.max_message_size {
            return Err(Error::MessageTooLarge {
                len: payload.len() as u64,
                max: self.max_message_size,
            });
        }
        let _writing = self.writer.lock().unwrap_or_else(PoisonError::into_inner);
        Ok(mp_wire::send_frame(self.socket.as_fd(), payload, fds)?)
    }

    fn lock_reader(&self) -> Result<MutexGuard<'_, Reader>, Error> {
        if !self.readable {
            return Err(Error::NotReadable);
        }
        // A panic while the lock was held can only come from a caller's `Deserialize`,
        // which runs after the whole frame was read: the state is sound.
        let reader = self.reader.lock().unwrap_or_else(PoisonError::into_inner);
        reader.check_in_sync()?;
        Ok(reader)
    }
}

impl<T: Serialize + DeserializeOwned> Connection<T> {
    /// Sends `value` as one message (Python's `send`): encoded with postcard, the
    /// descriptors of any handles in it (a `Shared<T>`, another `Connection`...) passed
    /// along with `SCM_RIGHTS`.
    ///
    /// Fails with [`Error::PeerClosed`] if the peer is gone, [`Error::NotWritable`] on the
    /// reading end of a one-way pipe, [`Error::FdsNeedUnixSocket`] for handles over TCP,
    /// [`Error::MessageTooLarge`] (nothing written) for an encoding over
    /// [`max_message_size`](Self::max_message_size), and [`Error::SharedMem`] if `value`
    /// cannot be encoded.
    ///
    /// ```
    /// use std::sync::atomic::{AtomicU32, Ordering};
    /// use mp_shared_mem::Shared;
    ///
    /// let (a, b) = mp_ipc::pipe::<Shared<AtomicU32>>(true)?;
    /// let counter = Shared::new(AtomicU32::new(0))?;
    /// a.send(&counter)?;
    /// b.recv()?.fetch_add(1, Ordering::SeqCst); // the same memory, mapped again
    /// assert_eq!(counter.load(Ordering::SeqCst), 1);
    /// # Ok::<(), mp_ipc::Error>(())
    /// ```
    pub fn send(&self, value: &T) -> Result<(), Error> {
        if !self.writable {
            return Err(Error::NotWritable);
        }
        let (bytes, fds) = transfer::encode(value)?;
        if !fds.is_empty() && !self.passes_fds {
            return Err(Error::FdsNeedUnixSocket { count: fds.len() });
        }
        if fds.len() > MAX_FDS_PER_FRAME {
            return Err(Error::SharedMem(mp_shared_mem::Error::TooManyFds {
                count: fds.len(),
                max: MAX_FDS_PER_FRAME,
            }));
        }
        let raw: Vec<RawFd> = fds.iter().map(AsRawFd::as_raw_fd).collect();
        self.send_frame(&bytes, &raw)
    }

    /// Receives one value (Python's `recv`). Blocks until a message arrives.
    ///
    /// Besides the errors of [`recv_bytes`](Self::recv_bytes): a message that is not a
    /// `T` fails with [`Error::SharedMem`] (`Decode`, or `TypeMismatch` for a handle of
    /// another type), and descriptors the kernel cut off (this process is out of them)
    /// with [`Error::FdsTruncated`]. In both cases the message is consumed and the
    /// connection stays in step.
    ///
    /// ```
    /// use mp_ipc::Error;
    ///
    /// let (a, b) = mp_ipc::pipe::<Vec<u16>>(true)?;
    /// a.send(&vec![1, 2])?;
    /// assert_eq!(b.recv()?, [1, 2]);
    ///
    /// a.send_bytes(&[5])?; // says five elements follow, and none do
    /// assert!(matches!(b.recv(), Err(Error::SharedMem(_))));
    /// # Ok::<(), mp_ipc::Error>(())
    /// ```
    pub fn recv(&self) -> Result<T, Error> {
        let mut reader = self.lock_reader()?;
        let socket = self.socket.as_fd();
        let header = reader.read_header_or_skip(socket, self.max_message_size)?;
        // The read's own failure leaves the reader out of step; a message that does not
        // decode was read whole and does not.
        out_of_step_on_error(&mut reader, |reader| {
            reader.with_payload(socket, &header, |payload, frame: FrameFds| {
                if frame.cut_off {
                    Err(Error::FdsTruncated)
                } else {
                    Ok(transfer::decode(payload, frame.fds)?)
                }
            })
        })?
    }

    /// [`recv`](Self::recv), waiting at most `timeout` for a message to arrive:
    /// `Err(TimedOut)` if none began within it (`Duration::ZERO` looks once,
    /// `Duration::MAX` waits as long as it takes). A message whose first bytes arrived in
    /// time is read to its end, as Python's `poll(t)` then `recv()` would.
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_ipc::Error;
    ///
    /// let (a, b) = mp_ipc::pipe::<u8>(true)?;
    /// assert!(matches!(b.recv_timeout(Duration::ZERO), Err(Error::TimedOut)));
    /// a.send(&7)?;
    /// assert_eq!(b.recv_timeout(Duration::from_secs(5))?, 7);
    /// # Ok::<(), mp_ipc::Error>(())
    /// ```
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, Error> {
        if !self.poll(Some(timeout))? {
            return Err(Error::TimedOut);
        }
        self.recv()
    }
}

/// Runs a payload read; any failure of the read itself leaves the reader out of step
/// (its header is consumed, its payload may be in part).
fn out_of_step_on_error<R>(
    reader: &mut Reader,
    read: impl FnOnce(&mut Reader) -> Result<R, mp_wire::Error>,
) -> Result<R, Error> {
    let result = read(reader);
    if result.is_err() {
        reader.mark_out_of_sync();
    }
    Ok(result?)
}

/// A connection is ready when a message, or the end of the stream, can be read at once;
/// [`wait`](crate::wait) can wait on connections, queues and process sentinels together.
///
/// ```
/// use std::time::Duration;
/// use mp_ipc::{Waitable, pipe, wait};
///
/// let (a_in, _a_out) = pipe::<String>(true)?;
/// let (b_in, b_out) = pipe::<String>(true)?;
/// assert!(!b_in.is_ready());
/// b_out.send(&"hello".to_string())?;
///
/// assert_eq!(wait(&[&a_in, &b_in], Some(Duration::from_secs(5)))?, [1]);
/// assert_eq!(b_in.recv()?, "hello");
/// # Ok::<(), mp_ipc::Error>(())
/// ```
impl<T> Waitable for Connection<T> {
    fn is_ready(&self) -> bool {
        self.has_buffered() || self.socket.as_fd().is_ready()
    }

    fn readiness_fd(&self) -> Option<BorrowedFd<'_>> {
        Some(self.socket.as_fd())
    }
}

/// The connection's socket, for `poll`, `epoll` or [`wait`](crate::wait) (Python's
/// `fileno()`). Reading or writing it directly breaks the framing.
///
/// ```
/// use std::os::fd::AsFd;
///
/// let (a, _b) = mp_ipc::pipe::<u8>(true)?;
/// let _fd = a.as_fd();
/// # Ok::<(), mp_ipc::Error>(())
/// ```
impl<T> AsFd for Connection<T> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.socket.as_fd()
    }
}

/// Shows the descriptor and the directions.
///
/// ```
/// let (a, _b) = mp_ipc::pipe::<u8>(false)?;
/// assert!(format!("{a:?}").contains("readable: true"));
/// # Ok::<(), mp_ipc::Error>(())
/// ```
impl<T> fmt::Debug for Connection<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("fd", &self.socket.as_raw_fd())
            .field("readable", &self.readable)
            .field("writable", &self.writable)
            .field("passes_fds", &self.passes_fds)
            .finish()
    }
}

/// Logs the end of the connection.
impl<T> Drop for Connection<T> {
    fn drop(&mut self) {
        tracing::debug!(fd = self.socket.as_raw_fd(), "connection closed");
    }
}

/// A connection is a handle: it crosses into another process the transfer way (its
/// socket as a descriptor beside the bytes), with its directions and its limit, as
/// Python pickles a `Connection` to a child. Send it over another connection, or
/// through `mp_shared_mem::transfer`.
///
/// A connection that holds messages it has read ahead but not yet handed out refuses to
/// be serialized (the other process would never see them): receive them first.
///
/// ```
/// let (outer_a, outer_b) = mp_ipc::pipe::<mp_ipc::Connection<String>>(true)?;
/// let (inner_a, inner_b) = mp_ipc::pipe::<String>(true)?;
/// outer_a.send(&inner_b)?;
/// drop(inner_b);
/// let received = outer_b.recv()?;
/// inner_a.send(&"through the received end".to_string())?;
/// assert_eq!(received.recv()?, "through the received end");
/// # Ok::<(), mp_ipc::Error>(())
/// ```
impl<T> Serialize for Connection<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error as _, SerializeTuple};
        // Bytes read ahead live in this process only: the receiver would miss them.
        let buffered = self
            .reader
            .try_lock()
            .map_or(0, |reader| reader.buffered_len());
        if buffered > 0 {
            return Err(S::Error::custom(format_args!(
                "the connection holds {buffered} bytes of messages read but not received; \
                 receive them before sending the connection"
            )));
        }
        let mut tuple = serializer.serialize_tuple(4)?;
        tuple.serialize_element(&transfer::Fd(self.socket.as_fd()))?;
        tuple.serialize_element(&self.readable)?;
        tuple.serialize_element(&self.writable)?;
        tuple.serialize_element(&(self.max_message_size as u64))?;
        tuple.end()
    }
}

/// See the [`Serialize`] impl. The descriptor must be a stream socket.
///
/// ```
/// let (a, _b) = mp_ipc::pipe::<u8>(true)?;
/// let (bytes, fds) = mp_shared_mem::transfer::encode(&a)?;
/// let back: mp_ipc::Connection<u8> = mp_shared_mem::transfer::decode(&bytes, fds)?;
/// assert!(back.readable());
/// # Ok::<(), mp_ipc::Error>(())
/// ```
impl<'de, T> Deserialize<'de> for Connection<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let (fd, readable, writable, max): (transfer::ReceivedFd, bool, bool, u64) =
            Deserialize::deserialize(deserializer)?;
        let socket = fd.into_inner();
        if SocketKind::of(socket.as_fd()).is_err() {
            return Err(transfer::reject(
                "a connection needs a Unix or TCP stream socket",
            ));
        }
        let mut connection = Connection::from_socket(socket, readable, writable);
        connection.max_message_size = usize::try_from(max).unwrap_or(usize::MAX);
        tracing::debug!(fd = connection.socket.as_raw_fd(), "connection received");
        Ok(connection)
    }
}
