//! Locks, conditions, semaphores, events and barriers that work between threads *and*
//! between processes.
//!
//! Every type here is `#[repr(C)]`, holds no pointer and no file descriptor, allocates
//! nothing, and sleeps on a futex word *without* `FUTEX_PRIVATE_FLAG`. So one type serves
//! both worlds: put it in an `Arc` to share it between threads, or in a `MAP_SHARED` mapping
//! (mp-shared-mem's `Shared<T>`) to share it between processes.
//!
//! | Python | mp-sync |
//! |---|---|
//! | `threading.Lock()`, `multiprocessing.Lock()` | [`Lock::new()`] |
//! | `with lock:` | `let _guard = lock.lock()?;` |
//! | `lock.acquire()` / `lock.release()` | [`Lock::acquire`] / [`Lock::release`] |
//! | `lock.acquire(blocking=False)` | [`lock.try_acquire().is_ok()`](Lock::try_acquire) (or [`Lock::try_lock`] for a guard) |
//! | `lock.acquire(timeout=t)` | [`lock.acquire_timeout(t).is_ok()`](Lock::acquire_timeout) (or [`Lock::lock_timeout`]) |
//! | `lock.locked()` | [`Lock::locked`] |
//! | `threading.RLock()` | [`RLock::new()`] |
//! | `multiprocessing.Value('i', 0, lock=True)` | [`Mutex::new(0i32)`](Mutex::new) (in shared memory) |
//! | `threading.Condition()` | [`Condition::new(state)`](Condition::new) |
//! | `cond.wait()`, `cond.wait_for(p)` | [`ConditionGuard::wait`], [`ConditionGuard::wait_for`] |
//! | `cond.wait(t)`, `cond.wait_for(p, t)` | [`guard.wait_timeout(t).is_ok()`](ConditionGuard::wait_timeout), [`guard.wait_for_timeout(p, t).is_ok()`](ConditionGuard::wait_for_timeout) |
//! | `cond.notify(n)`, `cond.notify_all()` | [`ConditionGuard::notify`], [`ConditionGuard::notify_all`] |
//! | `threading.Semaphore(n)` | [`Semaphore::new(n)`](Semaphore::new) |
//! | `threading.BoundedSemaphore(n)` | [`BoundedSemaphore::new(n)`](BoundedSemaphore::new) |
//! | `sem.acquire()`, `sem.release(n)` | [`Semaphore::acquire`], [`Semaphore::release`] |
//! | `sem.acquire(blocking=False)`, `sem.acquire(timeout=t)` | [`sem.try_acquire().is_ok()`](Semaphore::try_acquire), [`sem.acquire_timeout(t).is_ok()`](Semaphore::acquire_timeout) |
//! | `threading.Event()` | [`Event::new()`] |
//! | `event.set()`, `clear()`, `is_set()`, `wait()` | [`Event::set`], [`Event::clear`], [`Event::is_set`], [`Event::wait`] |
//! | `event.wait(t)` | [`event.wait_timeout(t).is_ok()`](Event::wait_timeout) |
//! | `await asyncio.Event().wait()`, for an event other threads or processes set | `event.wait_async().await` (feature `async`, see [Async](crate#async)) |
//! | `threading.Barrier(n)` | [`Barrier::new(n)`](Barrier::new) |
//! | `barrier.wait()`, `barrier.wait(t)`, `abort()`, `reset()`, `broken` | [`Barrier::wait`], [`Barrier::wait_timeout`], [`Barrier::abort`], [`Barrier::reset`], [`Barrier::broken`] |
//! | `threading.BrokenBarrierError` | [`Error::BrokenBarrier`] |
//!
//! Every blocking call has a `_timeout(Duration)` form and a non-blocking `try_` form, with
//! one return shape per family, as in every crate of the workspace (CONVENTIONS.md at the
//! repository's root): `x()` blocks; `try_x()` never blocks and fails with
//! `WouldBlock` ([`Error::WouldBlock`], or [`TryLockError::WouldBlock`] for a lock, which
//! may also report [`OwnerDied`]); `x_timeout(d)` waits at most `d` and fails with
//! `TimedOut` ([`Error::TimedOut`], [`TryLockError::TimedOut`]). So Python's boolean
//! `acquire(timeout=t)` or `wait(t)` is `.is_ok()` of the `_timeout` form. `Duration::ZERO`
//! polls once; `Duration::MAX` (any timeout past the clock's end) waits for ever. Timeouts
//! run on the monotonic clock.
//!
//! Python's semantics where they differ from Rust's defaults: a [`Lock`] may be released
//! by any thread (a binary semaphore, with an RAII guard too), [`RLock`] is owned and
//! re-entrant, [`Condition`] waits and notifies under its lock, [`BoundedSemaphore`]
//! refuses to be released past its bound, [`Barrier`] has `abort`, `reset`, a broken state
//! and timeouts.
//!
//! ```
//! use std::sync::Arc;
//! use mp_sync::Mutex;
//!
//! let total = Arc::new(Mutex::new(0u64));
//! let workers: Vec<_> = (0..2)
//!     .map(|_| {
//!         let total = Arc::clone(&total);
//!         std::thread::spawn(move || {
//!             for _ in 0..1000 {
//!                 *total.lock().unwrap() += 1;
//!             }
//!         })
//!     })
//!     .collect();
//! for w in workers {
//!     w.join().unwrap();
//! }
//! assert_eq!(*total.lock().unwrap(), 2000);
//! ```
//!
//! The same `Mutex` placed in shared memory (`mp_shared_mem::Shared::new(Mutex::new(0))`)
//! is shared with child processes the same way.
//!
//! # When a holder dies
//!
//! Python deadlocks forever when a process dies holding a `multiprocessing.Lock`. Here a
//! lock word holds its holder's id (the thread for [`RLock`], [`Mutex`] and [`Condition`],
//! the process for [`Lock`], which any thread may release), and a waiter that has slept for
//! 100 ms without a wake-up checks, through `/proc`, whether that holder still lives. If
//! not, the waiter takes the lock over and is told: the blocking forms return
//! `Err(OwnerDied(guard))` (the lock is held; see [`LockResult`]), the others
//! [`TryLockError::OwnerDied`]. The mark is sticky, as std's poisoning: every later
//! acquisition reports it until `clear_poison()`.
//!
//! ```
//! use mp_sync::{Lock, OwnerDied};
//!
//! let lock = Lock::new();
//! let guard = match lock.lock() {
//!     Ok(guard) => guard,
//!     Err(owner_died) => {
//!         // A holder died mid-update: repair what the lock guards, then go on.
//!         lock.clear_poison();
//!         owner_died.into_inner()
//!     }
//! };
//! # drop(guard);
//! ```
//!
//! Limits of this design, all documented where they apply:
//! - a dead holder is noticed within one 100 ms slice (plus a `/proc` read), not at once;
//! - only waiting calls check liveness: `try_lock`/`try_acquire` report a dead holder's
//!   lock as held (`WouldBlock`);
//! - a zombie counts as dead, so a reaped or unreaped dead holder is handled alike (a
//!   process counts as alive while any of its threads runs, even if its main thread exited);
//! - all processes sharing a primitive must live in one PID namespace (ids are compared);
//! - a thread or process id reused by a new task within the detection window would be
//!   taken for the old holder (Linux allocates ids cyclically, so this needs the whole id
//!   space to wrap in that time);
//! - a [`Lock`] still held when its holding process *exits normally* counts as abandoned;
//! - a party that dies while *sleeping* in [`Barrier::wait`] is still counted: the others
//!   see it only through their timeouts or an [`abort`](Barrier::abort).
//!
//! A panic that unwinds through a guard releases the lock without poisoning it, as
//! parking_lot does: only death is reported.
//!
//! # Async
//!
//! With the `async` feature, async code waits for an [`Event`] without blocking its
//! runtime: `event.wait_async().await`. The event may be set by any thread or process; one
//! background thread per process (mp-sys's [`reactor`](mp_sys::reactor), the one async
//! wake-up layer of the mp crates, started at the first async wait) sleeps on every awaited
//! word at once with `futex_waitv` and wakes the right tasks, so 500 tasks awaiting events
//! cost one thread, not 500. Its docs give the protocol, the limits (127 words per sleep,
//! then polling) and the fallback for kernels without `futex_waitv`. Any runtime works; tokio is the one the tests use.
//!
//! # How it is built
//!
//! The algorithm is kept apart from the API, as in parking_lot and lock_api: a raw
//! owner-aware lock word and a raw sequence-counter condition variable carry every
//! primitive, and one small module does the futex system calls. Under `--cfg loom` that
//! module is emulated on loom's primitives and the loom models in `tests/loom.rs` check
//! `Lock`, `RLock`, `Condition`, `Semaphore`, `Event` and `Barrier` (a lost wake-up shows
//! up as a deadlock):
//!
//! ```text
//! RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p mp-sync --test loom --release
//! ```
//!
//! mp-bench's `lock-uncontended`, `lock-contended` and `event-pingpong` rows compare these
//! primitives with parking_lot, std, a bare futex and Python
//! (`cargo run --release -p mp-bench -- --filter lock,event`).

mod barrier;
mod condition;
mod error;
mod event;
#[cfg(all(feature = "async", not(loom)))]
mod event_async;
mod lock;
mod mutex;
mod owner;
mod raw_condvar;
mod raw_lock;
mod rlock;
mod semaphore;

pub use barrier::Barrier;
pub use condition::{Condition, ConditionGuard};
pub use error::{Error, LockResult, OwnerDied, TryLockError, TryLockResult};
pub use event::Event;
#[cfg(all(feature = "async", not(loom)))]
pub use event_async::EventWait;
pub use lock::{Lock, LockGuard};
pub use mutex::{Mutex, MutexGuard};
pub use rlock::{RLock, RLockGuard};
pub use semaphore::{BoundedSemaphore, Semaphore};

/// Declares a constructor `const` except under loom, whose atomics cannot be built in a
/// constant context.
macro_rules! const_unless_loom {
    ($(#[$attr:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty $body:block) => {
        #[cfg(not(loom))]
        $(#[$attr])*
        $vis const fn $name($($arg: $ty),*) -> $ret $body

        #[cfg(loom)]
        $(#[$attr])*
        $vis fn $name($($arg: $ty),*) -> $ret $body
    };
}
pub(crate) use const_unless_loom;
