//! [`Pool`]: a pool of worker processes, Python's `multiprocessing.Pool` and
//! `concurrent.futures.ProcessPoolExecutor` in one type, that survives crashing workers.
//!
//! | Python | mp-processes |
//! |---|---|
//! | `Pool(4)` / `with Pool(4) as p:` | [`Pool::new(4)?`](Pool::new) (dropped: terminated, as leaving the `with` block) |
//! | `Pool(processes, initializer, initargs, maxtasksperchild, context)` | [`Pool::builder()`](Pool::builder)`.processes(n).initializer(f, args).maxtasksperchild(n).start_method(m).build()?` |
//! | — | [`.task_timeout(d)`](PoolBuilder::task_timeout): a call that overruns fails, its worker is replaced |
//! | `p.map(f, items)` | [`map(f, items)?`](Pool::map) → `Vec<R>` |
//! | `p.starmap(f, pairs)` | [`starmap(f, pairs)?`](Pool::starmap) |
//! | `p.imap(f, items)`, `p.imap_unordered(f, items)` | [`imap`](Pool::imap), [`imap_unordered`](Pool::imap_unordered): exact-size iterators of `Result<R, Error>` |
//! | `p.map(f, items, chunksize=n)` (and `starmap`, `imap`, `imap_unordered`) | [`chunked(n).map(f, items)?`](Pool::chunked) (and the others, on [`Chunked`]) |
//! | `p.apply(f, args)` | [`apply(f, args)?`](Pool::apply) |
//! | `p.apply_async(f, args, callback, error_callback)` | [`apply_async(f, args)?`](Pool::apply_async) → [`AsyncResult`]; [`on_success`](AsyncResult::on_success), [`on_error`](AsyncResult::on_error) |
//! | `executor.submit(f, *args)`; `fut.result()`; `fut.done()` | [`submit(f, args)?`](Pool::submit) (the same as `apply_async`); [`result()`](AsyncResult::result), [`result_timeout(d)`](AsyncResult::result_timeout), [`done()`](AsyncResult::done) |
//! | `executor.shutdown(wait, cancel_futures)` | [`shutdown(wait, cancel_futures)`](Pool::shutdown) (cancelled tasks: [`Error::Cancelled`](crate::Error::Cancelled)) |
//! | `r.get()`, `r.get(timeout)`, `r.wait()`, `r.ready()`, `r.successful()` | [`get()`](AsyncResult::get), [`get_timeout(d)`](AsyncResult::get_timeout), [`wait()`](AsyncResult::wait), [`ready()`](AsyncResult::ready), [`successful()`](AsyncResult::successful) (`None` while running) |
//! | `await loop.run_in_executor(executor, f)` | `pool.submit(f, args)?.await` (`ResultFuture`; any async runtime; the supervisor wakes the task) |
//! | `p.close()`, `p.join()`, `p.terminate()` | [`close()`](Pool::close), [`join()?`](Pool::join), [`terminate()`](Pool::terminate) |
//! | an exception in a task | that task's [`Error::Panicked`](crate::Error::Panicked), with the message |
//! | a worker killed mid-task: `Pool` hangs, `ProcessPoolExecutor` breaks (`BrokenProcessPool`) | that task fails with [`Error::Signaled`](crate::Error::Signaled) naming the signal; a new worker replaces it; the other tasks complete |
//!
//! Tasks can also travel as bytes: [`EncodedTask`] holds a task's function (as an offset
//! that means something only in the same build of the program) and its arguments,
//! [`Pool::submit_encoded`] runs it here, and [`EncodedOutcomes`] carries back what
//! became of each call. That is how mp-cluster runs a pool's tasks on other machines.
//!
//! The names are those of mp-threads' `ThreadPool` where they mean the same (`submit`,
//! `apply`, `shutdown`, and the future's `result`, `result_timeout`, `done`);
//! `AsyncResult` also has Python's `get`/`ready`/`successful`. `map` differs on purpose:
//! `ThreadPool::map` yields each item's `Result`, as `Pool::imap` does here, while
//! `Pool::map` is `multiprocessing.Pool.map`, all the values or the first error.
//!
//! ```
//! use mp_processes::{Error, Pool, StartMethod};
//!
//! fn parse(line: String) -> u32 {
//!     line.trim().parse().expect("a number")
//! }
//!
//! fn crash(_: u32) -> u32 {
//!     std::process::abort() // as a segfaulting native library would
//! }
//!
//! let pool = Pool::builder().processes(2).start_method(StartMethod::Forkserver).build()?;
//! assert_eq!(pool.map(parse, [" 1", "2 "].map(String::from))?, [1, 2]);
//!
//! let crashed = pool.apply_async(crash, (0,))?;
//! let fine = pool.apply_async(parse, ("3".to_owned(),))?;
//! match crashed.get() {
//!     Err(Error::Signaled { signal_name, .. }) => assert_eq!(signal_name, "SIGABRT"),
//!     other => panic!("{other:?}"),
//! }
//! assert_eq!(fine.get()?, 3);
//! // A new worker takes the crashed one's place: the pool goes on.
//! assert_eq!(pool.map(parse, ["4".to_owned()])?, [4]);
//! # Ok::<(), Error>(())
//! ```
//!
//! # How it works
//!
//! **Workers.** Each worker is a daemonic [`Process`](crate::Process) (any start method)
//! running the crate's worker loop. It gets a Unix socket to the pool and a small
//! segment of shared memory, its *slot*. A task crosses the socket as one frame of
//! mp-wire (postcard bytes, and the descriptors of any handles in the arguments by
//! `SCM_RIGHTS`): the task's id, the offset of a trampoline for its
//! function type (the mechanism of `Process` targets, so any function item or
//! non-capturing closure works), and its items: one argument tuple for `apply_async`, a
//! chunk of them for `map`. Results come back the same way, one frame per task.
//!
//! **Why a socket per worker rather than a shared queue.** mp-ipc's `Queue` is faster
//! for plain bytes, but it cannot carry handles (arguments such as a `Value` or a
//! `Shared` lock), and a worker killed between taking a task from a shared queue and
//! recording it would lose that task silently. With a socket per worker the pool knows
//! exactly which task each worker holds, a send carries handles, and a dead worker is
//! noticed by its pidfd while its socket still holds all it wrote. Per-item cost is kept
//! low by chunks: one frame per chunk, not per item.
//!
//! **Dispatch.** A worker is sent a task only when it is idle (one task at a time), so a
//! send never blocks on a busy worker and a worker never sits on tasks another could
//! run. The thread that submits sends straight to an idle worker; otherwise the task
//! waits in the backlog and the supervisor sends it when a worker answers.
//!
//! **The supervisor thread** `poll`s every worker's socket and pidfd. When a worker
//! dies, its remaining replies are read first (a task it finished is never failed),
//! then the task it held is looked up in its slot, which records the item running and
//! since when: that item fails with the signal that killed the worker (from its exit
//! status), the other items of the chunk are sent again to another worker, and a
//! replacement worker starts. A task the dead worker had not started is simply sent
//! again (at most 3 times, so a task that kills workers before they read it cannot loop
//! for ever). The per-task timeout reads the same slot: an item running longer is
//! failed with [`Error::TaskTimedOut`](crate::Error::TaskTimedOut) and its worker killed
//! and replaced. After `maxtasksperchild` tasks a worker is sent no more and ends on its
//! own; its replacement starts as soon as its last task is sent.
//!
//! **Nothing waits for a result that cannot come.** Every task ends in exactly one of:
//! its values, its panics, its worker's death, its timeout, [`Error::Terminated`](crate::Error::Terminated)
//! (terminate or drop), or [`Error::PoolBroken`](crate::Error::PoolBroken) (the
//! initializer panicked, or three workers in a row died before they were ready). If no
//! worker can be started at all (descriptors or processes exhausted), the waiting tasks
//! fail with that error instead of waiting.
//!
//! # What differs from Python
//!
//! - Dropping the pool terminates it, as Python's context manager does; `close` then
//!   `join` let the tasks finish first.
//! - `terminate` sends `SIGKILL` (Python: `SIGTERM`), so no task can hold it up.
//! - A crashed item of a chunk fails alone; the other items of its chunk are run again,
//!   including those that had completed before the crash (a chunk's results travel
//!   together). Use `chunksize` 1 when a task must not run twice.
//! - The items of a chunk are decoded together in the worker: arguments that cannot be
//!   decoded (a handle of the wrong type, a `Deserialize` that fails) fail every item of
//!   their chunk, with [`Error::Transfer`](crate::Error::Transfer).
//! - A worker whose socket stalls in the middle of a frame for 30 s (stopped, or writing
//!   garbage) is killed, and its item fails as if it had crashed.
//! - `imap` and `imap_unordered` submit every item at once (Python feeds them from a
//!   thread), so the items must be finite.
//! - An initializer that panics breaks the pool ([`Error::PoolBroken`](crate::Error::PoolBroken));
//!   Python starts new workers for ever.
//! - Callbacks run on the pool's supervisor thread, before `get` returns, as Python's
//!   run on its result handler thread: keep them short.

mod async_result;
mod builder;
mod channel;
mod chunked;
mod collected;
mod encoded;
mod executor;
mod frame;
mod process_pool;
mod results;
mod shared;
mod sink;
mod slot;
mod state;
mod submit;
mod supervisor;
mod worker;

pub use async_result::{AsyncResult, ResultFuture};
pub use builder::PoolBuilder;
pub use chunked::Chunked;
pub use encoded::{EncodedOutcomes, EncodedTask, ItemFailure};
pub use process_pool::Pool;
pub use results::{Imap, ImapUnordered};
