//! Running functions in other processes: Python's `multiprocessing.Process`, its start
//! methods (fork, spawn, forkserver), `current_process()` and friends, and [`Pool`], a
//! process pool that survives crashing workers.
//!
//! A child process runs a function with arguments and hands back its return value,
//! the way a thread does with `std::thread`, but isolated: a child that panics,
//! segfaults or is killed fails only its own `join`, with an error saying what happened.
//!
//! | Python | mp-processes |
//! |---|---|
//! | `Process(target=f, args=(a, b), name="n", daemon=True)` | [`Process::new(f, (a, b)).name("n").daemon(true)`](Process::new) |
//! | `p.start()` | [`start()`](Process::start) → [`ProcessHandle`] |
//! | `p.join()` | [`join()`](ProcessHandle::join): `f`'s return value, or why there is none |
//! | `await loop.run_in_executor(None, p.join)` | `p.join_async().await` or `(&p).await` (feature `async`; no thread parked per waiter) |
//! | `p.join(timeout)` | [`join_timeout(d)`](ProcessHandle::join_timeout) (`Err(TimedOut)` keeps it joinable) |
//! | `p.is_alive()`, `p.pid`, `p.name`, `p.daemon` | [`is_alive()`](ProcessHandle::is_alive), [`pid()`](ProcessHandle::pid), [`name()`](ProcessHandle::name), [`daemon()`](ProcessHandle::daemon) |
//! | `p.exitcode` | [`exitcode()`](ProcessHandle::exitcode): `None` while running, 0, 1 after a panic, `-N` after signal N |
//! | `p.terminate()`, `p.kill()` | [`terminate()`](ProcessHandle::terminate) (`SIGTERM`), [`kill()`](ProcessHandle::kill) (`SIGKILL`) |
//! | `p.sentinel` | [`sentinel()`](ProcessHandle::sentinel) → [`Sentinel`] (a pidfd) |
//! | `wait([p.sentinel], t)` for one process | [`p.sentinel().wait_timeout(t)`](Sentinel::wait_timeout): `Ok(())` once it ended, `Err(TimedOut)` while it runs |
//! | an exception in the child | [`Error::Panicked`] with the panic message |
//! | `class P(Process): def run(self)`; `P(...).start()` | [`impl Run for P`](Run); [`p.start()`](Run::start) or [`Process::from_run(p)`](Process::from_run) (`join` gives `p` back as `run` left it) |
//! | `os.fork()` and run a closure | [`Process::fork(closure)`](Process::fork) |
//! | `set_start_method("spawn")`, `get_start_method()` | [`set_start_method(StartMethod::Spawn)`](set_start_method), [`get_start_method()`] |
//! | `get_context("forkserver")` | [`Context::new(StartMethod::Forkserver)`](Context::new) |
//! | `current_process()`, `parent_process()` | [`current_process()`], [`parent_process()`] → [`ProcessInfo`] |
//! | `active_children()` | [`active_children()`] |
//! | `cpu_count()` | [`cpu_count()`] (the CPUs this process may use) |
//! | `Pool(4)`; `p.map(f, items)`; `p.apply_async(f, args).get()` | [`Pool::new(4)?`](Pool::new); [`pool.map(f, items)?`](Pool::map); [`pool.apply_async(f, args)?.get()?`](Pool::apply_async) (the [`pool`] module has the rest) |
//!
//! ```
//! use mp_processes::{Error, Process, StartMethod};
//! use mp_shared_mem::Array;
//!
//! fn fill(samples: Array<u32>, start: usize, value: u32) -> usize {
//!     let mut samples = samples.lock().unwrap();
//!     samples[start..start + 4].fill(value);
//!     start
//! }
//!
//! let samples = Array::<u32>::zeroed(8)?;
//! let children = (0..2u32)
//!     .map(|i| Process::new(fill, (samples.clone(), 4 * i as usize, i + 1)).start())
//!     .collect::<Result<Vec<_>, Error>>()?;
//! for child in &children {
//!     child.join()?;
//! }
//! assert_eq!(samples.to_vec()?, [1, 1, 1, 1, 2, 2, 2, 2]);
//!
//! let crash = Process::new(|| -> u8 { panic!("bad input") }, ())
//!     .start_method(StartMethod::Spawn)
//!     .start()?;
//! match crash.join() {
//!     Err(Error::Panicked { message, .. }) => assert_eq!(message, "bad input"),
//!     other => panic!("{other:?}"),
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Start methods
//!
//! - **Forkserver** (the default). The first start runs this binary afresh as a small
//!   single-threaded server; each child is a `fork` of that server. A child thus starts
//!   clean (no copy of the parent's threads' locks) for the price of a fork.
//! - **Spawn**. Each child runs this binary afresh.
//! - **Fork**. Each child is a `fork` of the parent: the fastest, and the only method that
//!   carries a capturing closure ([`Process::fork`]). In a multi-threaded parent, only
//!   the forking thread exists in the child, and a lock another thread held at that
//!   moment stays locked there: see [`StartMethod::Fork`].
//!
//! # How a function crosses into a fresh run of the binary
//!
//! **The call is picked up before `main`.** A fresh run (spawn, forkserver) finds a
//! marker in its environment, an inherited socket named by `MP_PROCESSES_BOOT`, from a
//! constructor in the binary's `.init_array`, which the C runtime runs before `main`. It
//! removes the variable (so the child's own children do not see it), serves its call and
//! `_exit`s: it never returns into `main`. So no code is needed in `main`, and it works
//! the same in a `cargo test` harness.
//!
//! **The function crosses by address.** [`Process::new`] takes only functions without
//! size (function items, closures that capture nothing); a capturing closure does not
//! compile. For each target type a trampoline is instantiated; the parent sends the
//! trampoline's address minus the address of a fixed anchor function. Address-space
//! randomization moves the binary as a whole, so the child adds its own anchor's address
//! and lands on the same trampoline, which receives the arguments, conjures the (one,
//! sizeless) value of the target type and calls it. A build id (the device, inode, size
//! and time of `/proc/self/exe`) comes with it, so a child running another build refuses
//! with [`Error::Start`] instead of jumping blindly. Nothing is looked up by name.
//!
//! **Arguments, return value and handles cross as frames of mp-wire**, the workspace's one
//! wire layer (mp-shared-mem's [`transfer`](mp_shared_mem::transfer) is the same
//! mechanism): postcard bytes and file descriptors (`SCM_RIGHTS`) over a private
//! `socketpair`. From 1 MiB on, the encoded arguments or outcome are written once into
//! a sealed memfd whose descriptor is the frame, and the receiver decodes them from a
//! read-only mapping, instead of pushing them through the socket's buffer piece by
//! piece. No name on the file system, so nothing another process could reach and
//! nothing left behind, even after `kill -9`.
//!
//! # Exit codes, signals, the forkserver
//!
//! Each child has its pidfd (the [`Sentinel`]): `poll`able, and the target of
//! `terminate`/`kill`, so a recycled pid is never signalled. A child of the spawn or
//! fork method is ours to reap (`waitid(P_PIDFD)`). A forkserver child is the server's:
//! the server reaps it and writes its exit status on the child's socket after whatever
//! the child wrote there itself, which is how `exitcode` reaches the parent. If the
//! server dies (killed from outside), `join` says the status was lost, and the next start
//! starts a new server.
//!
//! `join` gives the target's value, or says why there is none: [`Error::Panicked`] (with
//! the message), [`Error::Signaled`] (with the signal), [`Error::Exited`] for a child that
//! called `exit`, [`Error::Start`] for one that never ran its target. Default names are
//! `Process-N`, and `Process-N:M` for a child's children; [`active_children()`] reaps the
//! children that ended, as Python's does.
//!
//! # Daemons and exit
//!
//! A daemonic child asks the kernel to `SIGKILL` it when its parent dies
//! (`PR_SET_PDEATHSIG`), then checks that the parent has not died already. Linux ties
//! that signal to the *thread* that created the child, so every child (and the
//! forkserver) is created by one launcher thread per process that lives as long as the
//! process. The forkserver dies with its parent the same way, and daemonic forkserver
//! children die with the server. At normal exit (`main` returns, `std::process::exit`)
//! the process waits for its non-daemonic children, as Python's does (`atexit`). A
//! daemonic process may not start children, as in Python.
//!
//! A child's standard output and error are the parent's. Every child path ends in
//! `_exit` after flushing standard output: no child ever returns into its parent's
//! `main` or test harness.
//!
//! # Async
//!
//! With the `async` feature, `handle.join_async().await` (or `(&handle).await`) and
//! `pool.submit(f, args)?.await` wait without blocking the runtime's threads. A child's
//! end makes its pidfd readable; a pending join registers that pidfd with mp-sys's
//! [`reactor`](mp_sys::reactor) (the one async wake-up layer of the mp crates: one epoll
//! thread per process for every awaited descriptor), which wakes the task, and the future
//! then does the ordinary `join`, which no longer waits. No runtime is needed, and many
//! children awaited at once cost that one thread. A dropped future takes nothing: the
//! handle stays joinable. A pool's results are woken by its supervisor thread, through
//! the reactor's [`WakerList`](mp_sys::reactor::WakerList).
//!
//! # What the tests hold it to
//!
//! `tests/process.rs` puts each start method through the same suite: return values,
//! shared `Value`/`Array`/`Lock`, panics, exit codes, `terminate` and `kill`, join
//! time-outs, names, nested and daemonic children, 200 children at once, starts from 8
//! threads, descriptor exhaustion, daemons dying with a `SIGKILL`ed parent. `tests/api.rs`
//! covers the fork closures, [`Context`], arguments and values that cannot cross and a
//! killed forkserver; `tests/exit.rs` the exit of the main process. `tests/pool.rs` runs
//! every map form and chunk size, `AsyncResult` and callbacks, panics per item, workers
//! killed and aborting mid-task (alone and mid-chunk), `exit` inside a task, timeouts,
//! `maxtasksperchild`, the initializer, close/join/terminate/shutdown, dropping a busy
//! pool, handles both ways, values whose serde fails or panics and descriptor exhaustion,
//! under each start method; unit tests feed the pool corrupt, truncated and stray
//! replies. Every wait is bounded, every child reaped, and each pool test checks that its
//! workers are gone afterwards.
//!
//! mp-bench's `process-start-join-*` rows compare starting and joining a child under each
//! start method with a bare `fork`/re-exec, procspawn and Python's; the `pool-*` rows
//! compare the [`Pool`] with procspawn's pool, rayon and Python's pools
//! (`cargo run --release -p mp-bench -- --filter processes,pool`).

//!
//! # Limits
//!
//! - **Forkserver children start from the server's snapshot**: the environment, working
//!   directory and resource limits the parent had when its first forkserver child was
//!   started, as in Python.
//! - **A return value waits for `join`.** The child writes its value into its socket
//!   before it exits; a value under 1 MiB but larger than the socket's buffer keeps the
//!   child alive (blocked writing) until the parent reads it in `join`, `exitcode` or
//!   `active_children` (a larger one goes in a memfd and does not). Messages are
//!   limited to 1 GiB.
//! - **Fork in a multi-threaded parent**: only the launcher thread exists in the child.
//!   Standard output and error are held across the fork, no panic of another thread may
//!   be printing during it (the panic hook is wrapped to make sure), and `malloc` is made
//!   fork-safe by glibc; any other lock another thread held at that instant (a logger's,
//!   one of yours) stays held in the child. A forked child also inherits the parent's
//!   other descriptors, such as its sockets to other children (it never reads them).
//! - **Output under `cargo test`**: the test harness captures what each test prints;
//!   the launcher thread inherits the capture of the test that started it, so what a
//!   *fork*-method child prints with `println!` goes to that capture, in the child's
//!   copy of memory, and is lost. Spawn and forkserver children write to the real
//!   standard output. Outside the harness all three write to the parent's.
//! - **No `init` function is needed or offered**: the `.init_array` constructor is part
//!   of every binary that links this crate and calls `start`. A binary linked without
//!   the C runtime's constructors (`-nostartfiles`) could not use spawn or forkserver.
//! - **Serialized handles only.** What crosses must be serde; a handle that owns a file
//!   descriptor must serialize it the mp-wire way (`mp_wire::serialize_fd`, also
//!   `mp_shared_mem::transfer::serialize_fd`).

mod boot_decode;
mod child;
mod children;
mod context;
mod cpu;
mod error;
mod fork_guard;
mod forkserver;
mod handle;
mod identity;
mod job;
#[cfg(feature = "async")]
mod join_future;
mod launcher;
mod method;
mod payload;
pub mod pool;
mod process;
mod record;
mod reexec;
mod role;
mod runnable;
mod sentinel;
mod start_method;
mod target;
mod wire;

#[doc(hidden)]
pub use boot_decode::{decode_boot_message, sample_boot_message};
pub use children::active_children;
pub use context::Context;
pub use cpu::cpu_count;
pub use error::{ArgumentsFault, BrokenCause, Error, ProtocolFault, SendFault, StartFault};
#[doc(hidden)]
pub use forkserver::client::forkserver_pid;
pub use forkserver::client::set_forkserver_timeout;
pub use handle::ProcessHandle;
pub use identity::{ProcessInfo, current_process, parent_process};
#[cfg(feature = "async")]
pub use join_future::JoinFuture;
pub use pool::{AsyncResult, Chunked, Imap, ImapUnordered, Pool, PoolBuilder};
pub use process::Process;
pub use runnable::Run;
pub use sentinel::Sentinel;
pub use start_method::{StartMethod, UnknownStartMethod, get_start_method, set_start_method};
pub use target::Target;
