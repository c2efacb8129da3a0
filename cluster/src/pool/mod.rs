//! [`Pool`]: `multiprocessing.Pool` over machines, on Redis Streams.
//!
//! | Python | mp-cluster |
//! |---|---|
//! | `ray.util.multiprocessing.Pool()` | [`Pool::new(&cluster, "name")?`](Pool::new) (options: [`Pool::builder`]) |
//! | `ray start --address=...` on each machine | run the same program with `MP_CLUSTER_WORKER=name` and `MP_REDIS_URL` (see [`worker`](crate::worker)) |
//! | `p.map(f, items)`, `p.starmap(f, pairs)` | [`map`](Pool::map), [`starmap`](Pool::starmap) |
//! | `p.imap(f, items)`, `p.imap_unordered(f, items)` | [`imap`](Pool::imap), [`imap_unordered`](Pool::imap_unordered) |
//! | `p.apply(f, args)`, `p.apply_async(f, args, callback, error_callback)` | [`apply`](Pool::apply), [`apply_async`](Pool::apply_async) (`on_success`, `on_error` on the future) |
//! | `executor.submit(f, *args)`, `executor.map`, `executor.shutdown` | the [`Executor`](mp_futures::Executor) trait, as mp-processes' and mp-threads' pools |
//! | `p.close()`, `p.join()`, `p.terminate()` | [`close`](Pool::close), [`join`](Pool::join), [`terminate`](Pool::terminate) |
//! | `chunksize=` | [`PoolBuilder::chunksize`] |
//!
//! # How a task travels
//!
//! A call is encoded where it is submitted, as mp-processes' `Process` does it for a
//! spawned child: the function as its trampoline's offset in the executable, the
//! arguments as postcard bytes. The task goes to the stream `tasks:<build>` of the pool,
//! named after the caller's build (`mp_sys::build_id`: the same for the same executable
//! on every machine), so only workers of that build ever read it. A worker takes it with
//! a consumer group, runs it on its local mp-processes `Pool`, and posts the outcomes to
//! the caller's results stream, once (see [`worker`](crate::worker) for the steps and why
//! nothing is lost or doubled). The caller's reader thread settles each task's future, or
//! its map slots, from there, and drops a second result for a task that has one.
//!
//! # Failures
//!
//! | what happens | what the caller sees |
//! |---|---|
//! | a call panics | that call's [`Error::TaskFailed`] (`Panicked`, with the message) |
//! | a call crashes its local process (signal, abort, exit) | that call's [`Error::TaskFailed`] naming it; the worker goes on |
//! | a worker machine dies mid-task | nothing: after the worker's lease another worker runs the task; one result |
//! | a task kills every worker that takes it | [`Error::TaskKilledWorkers`] after the workers' `max_attempts` |
//! | no worker of this build is connected | [`Error::NoWorkers`], naming the build needed and the builds connected |
//! | a task over the size limit | [`Error::MessageTooLarge`] at submission |
//! | workers with another key | [`Error::BadSignature`] |
//! | the caller dies | workers drop its tasks once its liveness key expires (three heartbeats); its keys expire too |
//!
//! [`Error::TaskFailed`]: crate::Error::TaskFailed
//! [`Error::TaskKilledWorkers`]: crate::Error::TaskKilledWorkers
//! [`Error::NoWorkers`]: crate::Error::NoWorkers
//! [`Error::MessageTooLarge`]: crate::Error::MessageTooLarge
//! [`Error::BadSignature`]: crate::Error::BadSignature

mod caller;
pub(crate) mod keys;
pub(crate) mod message;
mod results;

pub use caller::{Pool, PoolBuilder};
pub use results::{Imap, ImapUnordered};
