//! Python's `threading`, `queue` and `concurrent.futures.ThreadPoolExecutor`,
//! for Rust threads.
//!
//! This crate gives a Rust program the shapes a Python program uses for
//! threads, with Rust's guarantees: start a function on a thread with an
//! argument tuple and get its return value back from `join`; name threads and
//! ask which thread you are on; keep per-thread values; run something after a
//! delay; fan tasks out over a pool of workers and collect their futures; and
//! pass items between threads through the `queue` module's queues. There is no
//! GIL: CPU-bound threads run in parallel.
//!
//! Panics do not cross threads silently: a panic in a thread's target, a pool
//! task or a timer comes back from `join`/`result` as [`Error::Panicked`]
//! carrying the message, and fails only that thread or task.
//!
//! | Python | mp-threads |
//! |---|---|
//! | `threading.Thread(target=f, args=(a, b), name="n", daemon=True)` | [`Thread::new(f, (a, b)).name("n").daemon(true)`](Thread) |
//! | `t.start()` / `t.join()` / `t.join(timeout)` | [`start()`](Thread::start) → [`JoinHandle`]; [`join()`](JoinHandle::join) (returns the target's value); [`join_timeout(d)`](JoinHandle::join_timeout) (`Err(TimedOut)` keeps it joinable) |
//! | `t.is_alive()`, `t.name`, `t.ident`, `t.native_id`, `t.daemon` | [`is_alive()`](JoinHandle::is_alive), [`thread()`](JoinHandle::thread)`.name()`, [`ident()`](JoinHandle::ident), [`native_id()`](JoinHandle::native_id), [`ThreadInfo::is_daemon`] |
//! | `class T(threading.Thread): def run(self): ...` | `impl` [`Run`] `for T { fn run(&mut self) { ... } }`, then `t.start()?` |
//! | `threading.current_thread()`, `main_thread()` | [`current_thread()`], [`main_thread()`] → [`ThreadInfo`] |
//! | `threading.active_count()`, `enumerate()` | [`active_count()`], [`enumerate()`] |
//! | `threading.get_ident()`, `get_native_id()` | [`get_ident()`], [`get_native_id()`] |
//! | `threading.local()`; `local.x = v`; `local.x` | [`Local::new()`](Local::new); [`local.set(v)`](Local::set); [`local.get()`](Local::get) / [`local.with(\|x\| ..)`](Local::with) |
//! | `threading.Timer(secs, f, args)`; `.start()`; `.cancel()` | [`Timer::new(d, f, args)`](Timer::new)`.start()` → [`TimerHandle`]; [`cancel()`](TimerHandle::cancel) (`true`: `f` will never run) |
//! | `ThreadPoolExecutor(max_workers=4)` | [`ThreadPool::new(4)`](ThreadPool::new) (dropped: shut down, waiting) |
//! | `ex.submit(f, a, b)` | [`pool.submit(f, (a, b))`](ThreadPool::submit) → [`Future`] |
//! | `fut.result()`, `fut.result(timeout=t)` | [`result()`](Future::result), [`result_timeout(t)`](Future::result_timeout) |
//! | `fut.done()`, `running()`, `cancel()`, `cancelled()`, `exception()` | [`done()`](Future::done), [`running()`](Future::running), [`cancel()`](Future::cancel), [`cancelled()`](Future::cancelled), [`exception()`](Future::exception) |
//! | `fut.add_done_callback(fn)` | [`add_done_callback(\|outcome\| ..)`](Future::add_done_callback) |
//! | `await loop.run_in_executor(ex, f)`, `await asyncio.wrap_future(fut)` | `fut.await` (`Future` is `IntoFuture`, giving a `ResultFuture`; any runtime) |
//! | `ex.map(f, items)`, `ex.map(f, items, timeout=t)` | [`pool.map(f, items)`](ThreadPool::map), [`map_timeout`](ThreadPool::map_timeout) → [`Map`] |
//! | `ex.shutdown(wait=True, cancel_futures=False)` | [`pool.shutdown(true, false)`](ThreadPool::shutdown) |
//! | `concurrent.futures.wait(fs, timeout, return_when=FIRST_COMPLETED)` | [`wait(fs, ReturnWhen::FirstCompleted, timeout)`](wait()) → [`Waited`] |
//! | `concurrent.futures.as_completed(fs)` | [`as_completed(fs)`](as_completed) → [`AsCompleted`] |
//! | `queue.Queue(maxsize=n)` | [`Queue::with_maxsize(n)`](Queue::with_maxsize) ([`Queue::new()`](Queue::new) for 0) |
//! | `queue.LifoQueue()`, `PriorityQueue()`, `SimpleQueue()` | [`LifoQueue`], [`PriorityQueue`] (smallest first), [`SimpleQueue`] |
//! | `q.put(x)`, `q.get()` | [`put(x)`](Queue::put), [`get()`](Queue::get) |
//! | `q.put_nowait(x)`, `q.get_nowait()` | [`try_put(x)`](Queue::try_put), [`try_get()`](Queue::try_get) |
//! | `q.put(x, timeout=t)`, `q.get(timeout=t)` | [`put_timeout(x, t)`](Queue::put_timeout), [`get_timeout(t)`](Queue::get_timeout) |
//! | `q.qsize()`, `empty()`, `full()` | [`qsize()`](Queue::qsize), [`empty()`](Queue::empty), [`full()`](Queue::full) |
//! | `q.task_done()`, `q.join()` | [`task_done()`](Queue::task_done), [`join()`](Queue::join), [`join_timeout(t)`](Queue::join_timeout) |
//! | `q.shutdown(immediate=False)` (3.13) | [`shutdown(false)`](Queue::shutdown) |
//! | `queue.Empty`, `queue.Full`, `queue.ShutDown` | [`Error::Empty`]; [`PutError::Full`] / [`Error::Full`]; [`PutError::ShutDown`] / [`Error::ShutDown`] |
//! | `threading.Lock`, `RLock`, `Condition`, `Semaphore`, `BoundedSemaphore`, `Event`, `Barrier` | [`Lock`], [`RLock`], [`Condition`], [`Semaphore`], [`BoundedSemaphore`], [`Event`], [`Barrier`]: re-exported from `mp-sync`, where they are documented (they work between processes too) |
//!
//! Choices made where Rust and Python differ:
//!
//! * **Daemon threads.** As in Python, at normal process exit (returning from
//!   `main`, or `std::process::exit`) the process waits for every non-daemon
//!   thread this crate started; daemon threads are stopped by the exit. Pool
//!   workers are daemons; `Thread` and `Timer` inherit the flag from the
//!   starting thread (the main thread is not a daemon, threads not started by
//!   this crate are). `abort`, `_exit` and signals do not wait.
//! * **Idents** are process-unique numbers that are never reused;
//!   `native_id` is the Linux TID.
//! * **Names.** `Thread-N` by default, as Python's; the main thread is
//!   `MainThread`, recognised by its TID being the PID. `current_thread()` on a
//!   thread started with `std::thread` gives its std name, or `Dummy-N` when it
//!   has none.
//! * **Pool workers start lazily**, as in Python: only when a task arrives and
//!   no worker is idle.
//! * **Queues are shared with `Arc`**; a rejected `put` hands the item back in
//!   a [`PutError`]. [`Queue`] takes no lock on its common paths (a lock-free
//!   ring or list, the task count and shutdown flags in one atomic word); the
//!   `queue` module says why, and mp-bench's `thread-queue-*` rows compare it
//!   with crossbeam-channel, std's mpsc and Python's `queue`
//!   (`cargo run --release -p mp-bench -- --filter thread`, which also runs the
//!   `thread-start-join` and `thread-pool-*` rows).
//!
//! ```
//! use std::sync::Arc;
//! use mp_threads::{Queue, ThreadPool, Thread, current_thread};
//!
//! let queue = Arc::new(Queue::new());
//! let producer = Thread::new(
//!     |queue: Arc<Queue<u32>>| {
//!         for n in 0..5 {
//!             queue.put(n).expect("open queue");
//!         }
//!         current_thread().name().to_owned()
//!     },
//!     (Arc::clone(&queue),),
//! )
//! .name("producer")
//! .start()?;
//! assert_eq!(producer.join()?, "producer");
//!
//! let pool = ThreadPool::new(4)?;
//! let items: Vec<u32> = (0..5).map(|_| queue.get()).collect::<Result<_, _>>()?;
//! let squares: Vec<u32> = pool.map(|n: u32| n * n, items)?.collect::<Result<_, _>>()?;
//! assert_eq!(squares, [0, 1, 4, 9, 16]);
//! # Ok::<(), mp_threads::Error>(())
//! ```

mod current;
mod error;
mod local;
mod pool;
mod queue;
mod registry;
mod run;
mod thread;
mod thread_info;
mod timer;

pub use current::{active_count, current_thread, enumerate, get_ident, get_native_id, main_thread};
pub use error::{Error, PutError};
pub use local::Local;
pub use mp_futures::{ReturnWhen, as_completed, wait};
pub use mp_sys::Call as Target;
pub use pool::future::{AsCompleted, Future, ResultFuture, Waited};
pub use pool::map::Map;
pub use pool::thread_pool::{ThreadPool, ThreadPoolBuilder};
pub use queue::fifo::Queue;
pub use queue::lifo::LifoQueue;
pub use queue::priority::PriorityQueue;
pub use queue::simple::SimpleQueue;
pub use run::Run;
pub use thread::{JoinHandle, Thread};
pub use thread_info::ThreadInfo;
pub use timer::{Timer, TimerHandle};

// Python's `threading` module has the synchronization primitives too; these are
// mp-sync's, so the same types also work between processes.
#[doc(no_inline)]
pub use mp_sync::{Barrier, BoundedSemaphore, Condition, Event, Lock, RLock, Semaphore};
