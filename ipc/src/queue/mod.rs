//! Queues between processes: [`Queue`], [`JoinableQueue`] and [`SimpleQueue`], Python's
//! `multiprocessing.Queue`, `JoinableQueue` and `SimpleQueue`.
//!
//! | Python | here |
//! |---|---|
//! | `multiprocessing.Queue()` / `Queue(maxsize)` | [`Queue::new()`] / [`Queue::with_maxsize(n)`](Queue::with_maxsize) |
//! | `q.put(obj)` / `q.get()` | [`q.put(&obj)?`](Queue::put) / [`q.get()?`](Queue::get) |
//! | `q.put_nowait(obj)` / `except queue.Full` | [`q.try_put(&obj)`](Queue::try_put) / [`Error::Full`](crate::Error::Full) |
//! | `q.get_nowait()` / `except queue.Empty` | [`q.try_get()`](Queue::try_get) / [`Error::Empty`](crate::Error::Empty) |
//! | `q.put(obj, timeout=t)` / `q.get(timeout=t)` | [`q.put_timeout(&obj, t)`](Queue::put_timeout) / [`q.get_timeout(t)`](Queue::get_timeout) |
//! | `q.qsize()`, `q.empty()`, `q.full()` | [`q.qsize()`](Queue::qsize), [`q.empty()`](Queue::empty), [`q.full()`](Queue::full) |
//! | `q.close()` | [`q.close()`](Queue::close) (for every process; consumers drain, then get [`Error::Closed`](crate::Error::Closed)) |
//! | `multiprocessing.JoinableQueue()`; `q.task_done()`; `q.join()` | [`JoinableQueue::new()`]; [`q.task_done()?`](JoinableQueue::task_done); [`q.join()?`](JoinableQueue::join) ([`Error::TasksLost`](crate::Error::TasksLost) where Python would hang) |
//! | `multiprocessing.SimpleQueue()` | [`SimpleQueue::new()`] |
//! | passing `q` to `Process(target, args=(q,))` | inherit it across `fork`, or [`transfer::send_value`](mp_shared_mem::transfer::send_value) it |
//!
//! ```
//! use std::os::unix::net::UnixStream;
//! use mp_ipc::{Error, Queue};
//! use mp_shared_mem::transfer;
//!
//! let results = Queue::<(u32, f64)>::new()?;
//!
//! // A process that is already running gets the queue over a Unix socket (a forked
//! // child would simply inherit it).
//! let (here, there) = UnixStream::pair().unwrap();
//! transfer::send_value(&here, &results)?;
//! let in_worker: Queue<(u32, f64)> = transfer::recv_value(&there, 4096)?;
//! in_worker.put(&(7, 2.5))?;
//! in_worker.close();
//!
//! assert_eq!(results.get()?, (7, 2.5));
//! assert!(matches!(results.get(), Err(Error::Closed)));
//! # Ok::<(), Error>(())
//! ```
//!
//! # How it works
//!
//! A queue is one memfd segment (mp-shared-mem's [`Segment`](mp_shared_mem::Segment)): a
//! page of control block, then a ring of bytes (1 MiB unless
//! [`QueueBuilder::ring_bytes`] says otherwise). There is no pipe and no feeder thread.
//! `put` serializes the message with postcard straight into the free bytes of the ring
//! (through a reused per-thread buffer only when the message wraps around the ring's end
//! or must wait for room), as one record: an 8-byte header (length, tag), then the
//! payload. `get` decodes it in place. Waiting spins briefly, then sleeps on a futex word;
//! a side that has nobody asleep to wake makes no system call, so a busy queue runs with
//! none at all.
//!
//! Producers serialize among themselves under a producer lock and consumers under a
//! consumer lock, both mp-sync [`Lock`](mp_sync::Lock)s in the control block. One producer
//! and one consumer therefore run in parallel without touching each other's lock; they
//! share only the two cursors, each on its own cache line, and each side keeps the last
//! value it read of the other's cursor so that it reads the other's line only when it
//! looks full (or empty).
//!
//! # When a process dies in the middle
//!
//! A process may be killed at any instant of a `put` or `get` and the queue stays usable:
//! every completed `put` is delivered exactly once or is still queued.
//!
//! - **Commit points.** A producer writes its record beyond the tail and then publishes it
//!   with one atomic store of the tail; a consumer decodes the record at the head and then
//!   takes it with one atomic store of the head. Each cursor packs the byte position and
//!   the count of messages into one `u64`, so the two can never disagree. Killed before
//!   its store, a producer has put nothing and a consumer has taken nothing; killed after
//!   it, the put or the take happened.
//! - **Locks.** A side lock held by a dead process is taken over by the next producer or
//!   consumer within about 100 ms (mp-sync's owner-death detection). The new holder is
//!   told ([`OwnerDied`](mp_sync::OwnerDied)), repairs what only its side uses (a stale
//!   "I am asleep" flag, a stream left open), and clears the mark.
//! - **Wake-ups.** A process killed between its commit and its wake-up call cannot leave a
//!   waiter asleep for good: sleepers look again on their own every 100 ms.
//!
//! A consumer killed after its commit but before `get` returned took the message with it:
//! no queue can hand back a message to a process that is gone. In a [`JoinableQueue`],
//! such a message, and one whose `task_done` never came because its consumer died, is
//! counted lost, and `join` returns [`Error::TasksLost`](crate::Error::TasksLost) instead
//! of waiting for it for ever (see [`JoinableQueue`] for exactly what is counted). The tests kill producers
//! and consumers at random instants, many times, and check exactly this.
//!
//! # Messages larger than the ring
//!
//! Any size works. A message whose record does not fit in the ring is streamed through
//! it: a first chunk that announces the total length, then more chunks, each committed as
//! soon as it is written so that the consumer makes room for the next, while the producer
//! holds the producer lock and the consumer the consumer lock. The consumer gathers the
//! chunks (allocating only for bytes that have arrived) and decodes the whole.
//!
//! What a stall or a crash means for them:
//!
//! - **A producer that stops** (stopped by a signal, or not scheduled) mid-stream holds
//!   the producer lock, so nothing else can be put until it runs again, and nothing whole
//!   is queued behind its message: other consumers' `try_get` and `get_timeout` answer
//!   [`Error::Empty`](crate::Error::Empty) when their own patience says so. The consumer
//!   receiving the stream waits for it within its timeout; once that ran out *and* the
//!   stream has stood still for 200 ms, it gives the message back and returns
//!   [`Error::Empty`](crate::Error::Empty). Given back means: the producer, which still
//!   holds the whole message, aborts the stream and sends it again from the start when it
//!   runs, so its put returns `Ok` only once one consumer has received it whole. A stream
//!   that moves is never given up half-way because of a short timeout, so a get with a
//!   timeout may return up to 200 ms after it, and a `try_get` that begins a stream waits
//!   for its chunks as long as they keep coming. The blocking `get` waits for a stopped
//!   producer as long as it takes.
//! - **A producer killed mid-stream** has put nothing: the next producer, or the consumer
//!   receiving the stream once it has stood still for 200 ms, takes the lock over (mp-sync
//!   tells it the holder died) and writes an abort record; consumers drop the partial
//!   message and go on with the next.
//! - **A consumer killed mid-stream** loses that one message (its first chunks are gone
//!   from the ring); the next consumer skips the rest. So the exactly-once guarantee above
//!   holds for messages that fit in the ring; size the ring with
//!   [`QueueBuilder::ring_bytes`] to keep the messages that matter below it.
//! - **`close`** gives up a stream in progress: its consumer drops it and gets
//!   [`Error::Closed`](crate::Error::Closed) once the queue is drained, and its producer's
//!   put fails with [`Error::Closed`](crate::Error::Closed) (at once, or when a stopped
//!   producer runs again), so `close` returns without waiting for a stopped streaming
//!   producer and nothing arrives after it.
//! - A `put_timeout` that runs out mid-stream aborts the stream and returns
//!   [`Error::Full`](crate::Error::Full).

//! # What may not cross
//!
//! The ring carries bytes, not file descriptors: a message holding a handle (a
//! [`Segment`](mp_shared_mem::Segment), a `Shared<T>`, a queue, a connection) is refused
//! with [`Error::FdsInQueueMessage`](crate::Error::FdsInQueueMessage). Send handles over a [`Connection`](crate::Connection),
//! which carries descriptors (`SCM_RIGHTS`), or let children inherit them.
//!
//! # Bad input
//!
//! The ring is shared memory that any process holding the queue can write. Every length
//! and cursor read from it is checked against the ring's bounds before use; a record that
//! runs past what was committed, an unknown tag, or a stream that grows past the length it
//! announced gives [`Error::CorruptQueue`](crate::Error::CorruptQueue); a message that does not decode as a `T` (a
//! truncated or corrupt payload, another type) gives a decode error and is dropped, so the
//! next `get` goes on with the next message. Nothing is allocated for a length a message
//! merely claims. A segment received through handle transfer is checked to be a queue of
//! the same kind and message type before it is used ([`mp_shared_mem::Error::TypeMismatch`]
//! otherwise).
//!
//! # What it costs
//!
//! mp-bench's `ipc-queue-*` rows compare a queue with ipc-channel, with a bare spinning
//! ring that has neither serialization nor locks (the limit), and with
//! `multiprocessing.Queue`: 16-byte messages from one process to another, 64 KiB
//! messages, and 2 producer and 2 consumer processes
//! (`cargo run --release -p mp-bench -- --filter ipc-queue`). Spinning ends that share a
//! CPU of a loaded machine starve each other, which the bare ring shows there; a queue
//! sleeps on a futex after a short spin. Why each part of a put and a get is there:
//!
//! - the side locks: they are what lets any number of producers and consumers share
//!   the ring and what tells the next holder that a process died mid-operation, at the
//!   price of two uncontended atomic operations per side and message;
//! - the cached cursors: a side reads the other side's cache line only when the ring
//!   looks full (or empty), instead of on every message;
//! - the `SeqCst` commit and waiter-flag load: the price of making no system call when
//!   nobody sleeps (a `FUTEX_WAKE` on every message would cost more than the message);
//! - spinning about 256 rounds, then 8 yields, before sleeping: a wake-up across CPUs
//!   costs microseconds, a message far less.
//!
//! # Against Python
//!
//! - `close()` closes the queue for every process (Python's only says that the calling
//!   process will put no more), and consumers then get [`Error::Closed`](crate::Error::Closed) once it is
//!   drained: no sentinel value needed.
//! - An unbounded queue has no limit on the number of messages, but its ring's bytes are
//!   finite: a `put` waits for room when they are all taken (Python's feeder thread would
//!   buffer without limit in the producer's memory instead).
//! - `put` takes the message by reference: it is serialized, not moved.

mod accounts;
#[cfg(feature = "async")]
mod async_wait;
mod builder;
mod consume;
mod control;
mod fifo;
mod identity;
mod joinable;
mod produce;
mod raw;
mod record;
mod simple;
mod tasks;

#[cfg(feature = "async")]
pub use async_wait::{GetAsync, JoinAsync, PutAsync};
pub use builder::QueueBuilder;
pub use control::{DEFAULT_RING_BYTES, MAX_MAXSIZE, MAX_RING_BYTES, MIN_RING_BYTES};
pub use fifo::Queue;
pub use joinable::JoinableQueue;
pub use simple::SimpleQueue;
