//! Python's `concurrent.futures`, for the mp crates: one [`Future`] for every pool, the
//! [`Executor`] trait they implement, and [`wait`] and [`as_completed`] over their futures.
//!
//! mp-threads' `ThreadPool` and mp-processes' `Pool` both hand out this crate's
//! [`Future`] (with their own error type), and both implement [`Executor`]. Code that
//! submits, waits, polls, cancels, attaches callbacks or awaits is written once and runs
//! on threads or on processes, whichever the caller made: Python's "switch by changing
//! one line".
//!
//! | Python | mp-futures |
//! |---|---|
//! | `concurrent.futures.Future` | [`Future<T, E>`](Future) |
//! | `multiprocessing.pool.AsyncResult` | the same [`Future`], with `get`, `wait`, `ready`, `successful` |
//! | `Executor.submit`, `Executor.map`, `Executor.shutdown` | [`Executor`] |
//! | `concurrent.futures.wait(fs, timeout, return_when)` | [`wait(fs, return_when, timeout)`](wait) → [`Waited`] |
//! | `FIRST_COMPLETED`, `FIRST_EXCEPTION`, `ALL_COMPLETED` | [`ReturnWhen`] |
//! | `concurrent.futures.as_completed(fs, timeout)` | [`as_completed(fs)`](as_completed) → [`AsCompleted`] (and its [`next_timeout`](AsCompleted::next_timeout)) |
//! | `await asyncio.wrap_future(fut)` | `future.await` ([`ResultFuture`]; any runtime) |
//! | `CancelledError`, `TimeoutError` | the executor's error, through [`TaskError`] |
//! | `Future.set_running_or_notify_cancel()`, `set_result`, `set_exception` (for executor writers) | [`Promise`]: [`set_running`](Promise::set_running), [`complete`](Promise::complete) |
//!
//! Where this departs from Python: a future's value is *taken* by
//! [`result`](Future::result) (Rust moves it out rather than sharing it), so a second
//! `result` on the same task is told so; futures compare and hash by their task's
//! [`TaskId`], so they can key a map; and a [`Promise`] dropped without an outcome
//! settles its task, so a lost task never leaves a waiter hanging.
//!
//! ```
//! use std::time::Duration;
//! use mp_futures::{FutureError, Promise, ReturnWhen, wait};
//!
//! // An executor's side: a promise per task, completed by a worker thread.
//! let (promises, futures): (Vec<_>, Vec<_>) =
//!     (0..4u64).map(|_| Promise::<u64, FutureError>::new()).unzip();
//! let worker = std::thread::spawn(move || {
//!     for (n, promise) in promises.into_iter().enumerate() {
//!         if promise.set_running() {
//!             promise.complete(Ok(n as u64 * 10));
//!         }
//!     }
//! });
//! // The caller's side.
//! let waited = wait(futures, ReturnWhen::AllCompleted, Some(Duration::from_secs(10)));
//! let mut values: Vec<u64> = waited.done.into_iter().map(|f| f.result()).collect::<Result<_, _>>()?;
//! values.sort();
//! assert_eq!(values, [0, 10, 20, 30]);
//! worker.join().unwrap();
//! # Ok::<(), FutureError>(())
//! ```

mod awaiting;
mod error;
mod executor;
mod future;
mod id;
mod promise;
mod shared;
mod wait;

pub use awaiting::ResultFuture;
pub use error::{FutureError, TaskError};
pub use executor::{Executor, Portable};
pub use future::Future;
pub use id::TaskId;
pub use promise::Promise;
pub use wait::{AsCompleted, ReturnWhen, Waited, as_completed, wait};
