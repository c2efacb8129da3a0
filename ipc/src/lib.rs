//! Messages between processes: Python's `multiprocessing` queues and
//! connections.
//!
//! | Python | here |
//! |---|---|
//! | `multiprocessing.Queue()` / `Queue(maxsize)` | [`Queue::new()`] / [`Queue::with_maxsize(n)`](Queue::with_maxsize) |
//! | `q.put(obj)`; `q.get()` | [`q.put(&obj)?`](Queue::put); [`q.get()?`](Queue::get) |
//! | `q.put_nowait(obj)`; `q.get_nowait()` | [`q.try_put(&obj)`](Queue::try_put) ([`Error::Full`]); [`q.try_get()`](Queue::try_get) ([`Error::Empty`]) |
//! | `q.put(obj, timeout=t)`; `q.get(timeout=t)` | [`q.put_timeout(&obj, t)`](Queue::put_timeout); [`q.get_timeout(t)`](Queue::get_timeout) |
//! | `q.qsize()`, `q.empty()`, `q.full()`, `q.close()` | [`qsize`](Queue::qsize), [`empty`](Queue::empty), [`full`](Queue::full), [`close`](Queue::close) (then [`Error::Closed`] once drained) |
//! | `JoinableQueue()`; `q.task_done()`; `q.join()` | [`JoinableQueue::new()`]; [`q.task_done()?`](JoinableQueue::task_done); [`q.join()?`](JoinableQueue::join), [`q.join_timeout(t)?`](JoinableQueue::join_timeout) |
//! | `SimpleQueue()` | [`SimpleQueue::new()`] |
//! | `a, b = Pipe()` / `reader, writer = Pipe(duplex=False)` | [`pipe::<T>(true)`](pipe) / [`pipe::<T>(false)`](pipe) |
//! | `conn.send(obj)`; `conn.recv()` | [`conn.send(&value)?`](Connection::send); [`conn.recv()?`](Connection::recv) |
//! | `conn.send_bytes(b)`; `conn.recv_bytes()`; `conn.recv_bytes_into(buf)` | [`send_bytes`](Connection::send_bytes), [`recv_bytes`](Connection::recv_bytes), [`recv_bytes_into`](Connection::recv_bytes_into) |
//! | `conn.poll(timeout)`; `conn.close()` | [`conn.poll(Some(timeout))?`](Connection::poll); [`conn.close()`](Connection::close) |
//! | `EOFError` from `recv`; `BufferTooShort` | [`Error::PeerClosed`]; [`Error::BufferTooShort`] (carries the message) |
//! | `multiprocessing.connection.wait([a, b, p.sentinel], timeout)` | [`wait(&[&a, &b, &p.sentinel()], timeout)?`](wait) (indices of the ready ones; a sentinel is mp-processes') |
//! | `Listener(address, authkey=k)`; `listener.accept()`; `listener.address` | [`Listener::bind(&address, Some(k))?`](Listener::bind); [`listener.accept::<T>()?`](Listener::accept); [`listener.address()`](Listener::address) |
//! | `Client(address, authkey=k)` | [`Client::connect::<T>(&address, Some(k))?`](Client::connect) |
//! | `AuthenticationError` | [`Error::AuthenticationFailed`] |
//! | `await` on a blocking wait (feature `async`) | `q.get_async().await`, `q.put_async(&obj).await`, `q.join_async().await` (queues); `conn.recv_async().await`, `conn.recv_bytes_async().await` (any runtime, all woken by mp-sys's reactor) |
//!
//! # Queues
//!
//! [`Queue`], [`JoinableQueue`] and [`SimpleQueue`] keep their messages in a ring in
//! shared memory: no pipe, no feeder thread, and no system call while nobody has to
//! sleep. Any number of producers and consumers, in threads and processes; a process
//! killed in the middle of a `put` or `get` leaves the queue usable, and every completed
//! `put` is delivered exactly once or is still queued. The [`queue`] module tells how.
//!
//! ```
//! use mp_ipc::{Error, Queue};
//!
//! let queue = Queue::<(u32, String)>::with_maxsize(100)?;
//! queue.put(&(1, "one".to_string()))?;
//! queue.close();
//! assert_eq!(queue.get()?, (1, "one".to_string()));
//! assert!(matches!(queue.get(), Err(Error::Closed)));
//! # Ok::<(), Error>(())
//! ```
//!
//! # Connections
//!
//! A [`Connection<T>`] is one end of a stream socket carrying whole messages: values of
//! `T` (serde, postcard), whose handles (`mp_shared_mem::Shared<T>`, another
//! `Connection`...) travel with their descriptors, or raw bytes framed as Python frames
//! them. [`pipe`] makes two ends; a [`Listener`] and [`Client::connect`] make them over a
//! Unix socket file, a Linux abstract name or TCP, with an optional key checked both ways
//! (HMAC-SHA256 challenges, Python 3.12's protocol) before any message is read. A peer
//! that closes or dies is the end of the stream ([`Error::PeerClosed`]), never a hang or
//! a `SIGPIPE`; a corrupt, truncated or oversized frame is an error, and nothing is
//! allocated on the word of a length prefix. [`wait`] waits on connections, queues and
//! process sentinels together, as Python's `multiprocessing.connection.wait`.
//!
//! ```
//! use std::time::Duration;
//! use mp_ipc::{Error, pipe, wait};
//!
//! let (parent, child) = pipe::<(u32, String)>(true)?;
//! // `child` would go to another process (by fork, or sent over a connection).
//! child.send(&(1, "ready".into()))?;
//! assert_eq!(wait(&[&parent], Some(Duration::from_secs(5)))?, [0]);
//! assert_eq!(parent.recv()?, (1, "ready".to_string()));
//! drop(child);
//! assert!(matches!(parent.recv(), Err(Error::PeerClosed)));
//! # Ok::<(), Error>(())
//! ```
//!
//! # Async
//!
//! With the `async` feature, async code waits on queues and connections without blocking
//! its runtime's threads. A queue's `get_async`, `put_async` and `join_async` follow the
//! ring's own waiter protocol (a dropped future has taken or put nothing). A connection is
//! a socket, so `recv_async` and `recv_bytes_async` are readiness waits on it. Both kinds
//! are woken by mp-sys's [`reactor`](mp_sys::reactor), the one async wake-up layer of the
//! mp crates: any runtime, no thread parked per waiter.
//! `put_async` refuses a message larger than the ring ([`Error::MessageTooLarge`]), which
//! only the blocking `put` streams.
//!
//! # What the tests hold it to
//!
//! `tests/queue_crash.rs` kills producer and consumer processes with `SIGKILL` at random
//! instants of their `put`s and `get`s, round after round, and checks that nothing is
//! delivered twice and nothing whose `put` completed is lost (beyond the one item a
//! consumer killed between taking it and returning it took with it).
//! `tests/connection_python.rs` runs a Python `Client` against a [`Listener`] and the
//! reverse, authenticating both ways with the installed `python3`, and checks that a wrong
//! key is refused.
//!
//! mp-bench's `ipc-queue-*`, `pipe-roundtrip` and `pipe-send-bytes-1mib` rows compare
//! queues and pipes with ipc-channel, a bare shared-memory ring, a bare `socketpair` and
//! Python's (`cargo run --release -p mp-bench -- --filter ipc-queue,pipe`).

mod connection;
mod error;
mod listener;
pub mod queue;

pub use connection::{Connection, DEFAULT_MAX_MESSAGE_SIZE, pipe};
pub use error::{AddressFault, AuthFault, Error, HandshakeStep, QueueFault};
pub use listener::{Address, Client, Listener};
pub use mp_sys::{Waitable, wait};
pub use mp_wire::FrameFault;
pub use queue::{
    DEFAULT_RING_BYTES, JoinableQueue, MAX_MAXSIZE, MAX_RING_BYTES, MIN_RING_BYTES, Queue,
    QueueBuilder, SimpleQueue,
};
