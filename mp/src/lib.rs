//! Python's `threading`, `multiprocessing` and `concurrent.futures`, in one crate.
//!
//! `mp` gathers the workspace's crates as modules, adds one error type that every
//! crate's errors convert into with `?`, and a prelude of the names a program reaches
//! for first. Each module is a crate of its own (`mp-sync`, `mp-processes`, ...): a
//! program that needs only locks can depend on `mp-sync` alone, and the types are the
//! same either way (`mp::sync::Lock` *is* `mp_sync::Lock`).
//!
//! | Python | `mp` | what it holds |
//! |---|---|---|
//! | `threading.Thread`, `threading.local`, `threading.Timer`, `threading.current_thread()` | [`threads`] | threads that return values, their pool and queues |
//! | `concurrent.futures.ThreadPoolExecutor` | [`threads::ThreadPool`] | |
//! | `concurrent.futures.Future`, `Executor`, `wait`, `as_completed` | [`futures`] | one future and one executor trait for thread and process pools |
//! | `queue.Queue`, `LifoQueue`, `PriorityQueue`, `SimpleQueue` | [`threads::Queue`] and friends | in-process queues |
//! | `threading.Lock`, `RLock`, `Condition`, `Semaphore`, `BoundedSemaphore`, `Event`, `Barrier` (and their `multiprocessing` twins) | [`sync`] | one type for threads *and* processes; a holder's death is reported |
//! | `multiprocessing.Process`, `current_process()`, `active_children()`, `cpu_count()`, start methods | [`processes`] | a function run in another process, its value returned by `join` |
//! | `multiprocessing.Pool`, `concurrent.futures.ProcessPoolExecutor` | [`processes::Pool`] | a pool that survives crashing workers |
//! | `multiprocessing.Queue`, `JoinableQueue`, `SimpleQueue`, `Pipe`, `connection.wait`, `Listener`/`Client` | [`ipc`] | messages between processes |
//! | `multiprocessing.Value`, `Array`, `RawValue`, `RawArray`, `shared_memory.SharedMemory`, `ShareableList` | [`shared_mem`] | memory several processes map |
//! | `multiprocessing.Manager()`, `BaseManager` | [`managers`] | a server process holding shared values, and typed proxies to them, for children and other machines |
//! | `multiprocessing.Queue`/`JoinableQueue` across machines (Celery, RQ, Ray's queues) | [`cluster`] | named queues in a Redis server, opened from any process on any machine |
//! | (none: the machinery under the rest) | [`sys`], [`wire`] | futex words, deadlines, descriptor passing, the async reactor; the one wire format |
//!
//! Every fallible call of every module returns its own crate's error, which says
//! exactly what went wrong; [`Error`] wraps them all, so a function that uses several
//! modules returns [`mp::Result`](Result) and uses `?` throughout:
//!
//! ```
//! use mp::prelude::*;
//!
//! fn square(x: u64) -> u64 {
//!     x * x
//! }
//!
//! fn main() -> mp::Result<()> {
//!     let pool = Pool::new(2)?; // mp::processes::Error
//!     let squares = pool.map(square, 1..=4u64)?;
//!     assert_eq!(squares, [1, 4, 9, 16]);
//!
//!     let queue = Queue::<u64>::new()?; // mp::ipc::Error
//!     queue.put(&squares.iter().sum())?;
//!     assert_eq!(queue.get()?, 30);
//!
//!     let total = Value::new(0u64)?; // mp::shared_mem::Error
//!     *total.lock()? += 30; // a holder's death (OwnerDied) converts too
//!     assert_eq!(total.get()?, 30);
//!
//!     let worker = Thread::new(|x: u64| x + 1, (41,)).start()?; // mp::threads::Error
//!     assert_eq!(worker.join()?, 42);
//!     Ok(())
//! }
//! ```
//!
//! Every module follows one set of conventions, written down in `CONVENTIONS.md` at the
//! root of the repository: a call that may wait comes as `x()` (blocks), `try_x()`
//! (never blocks; "not now" is `Err(WouldBlock)`, or a queue's `Empty`/`Full`) and
//! `x_timeout(d)` (waits at most `d`; "not within `d`" is `Err(TimedOut)`, or a queue's
//! `Empty`/`Full`), with the same value in all three, never a `bool`; `Duration::ZERO`
//! polls once and `Duration::MAX` waits for ever; shareable handles take `&self`; the
//! same error name means the same thing in every crate; and dropping an owning type does
//! the same thing for the same kind of thing. The file has a table of every blocking
//! call of every crate with its return shape.
//!
//! ```
//! use std::time::Duration;
//! use mp::sync::{Error, Semaphore};
//!
//! let slots = Semaphore::new(0);
//! assert_eq!(slots.try_acquire(), Err(Error::WouldBlock)); // Python: acquire(blocking=False) is False
//! assert_eq!(slots.acquire_timeout(Duration::ZERO), Err(Error::TimedOut));
//! slots.release(1)?;
//! assert!(slots.acquire_timeout(Duration::MAX).is_ok()); // Python: acquire(timeout=t) is True
//! # Ok::<(), mp::Error>(())
//! ```
//!
//! The crate's feature `async` turns on the `_async` methods (`Event::wait_async`,
//! `Queue::get_async`, `ProcessHandle::join_async`), all woken by [`sys::reactor`],
//! whatever the runtime; a pool's or a thread pool's [`futures::Future`] can be awaited
//! without it.

mod error;
pub mod prelude;

pub use error::{Error, Result};

pub use mp_cluster as cluster;
pub use mp_futures as futures;
pub use mp_ipc as ipc;
pub use mp_managers as managers;
pub use mp_processes as processes;
pub use mp_shared_mem as shared_mem;
pub use mp_sync as sync;
pub use mp_sys as sys;
pub use mp_threads as threads;
pub use mp_wire as wire;
