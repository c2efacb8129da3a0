//! Python's module-level `threading` functions: `current_thread()`,
//! `main_thread()`, `active_count()`, `enumerate()`, `get_ident()`,
//! `get_native_id()`.

use crate::registry;
use crate::thread_info::ThreadInfo;

/// The calling thread (Python's `threading.current_thread()`).
///
/// Works on every thread: one started by this crate, the main thread
/// (`MainThread`, recognised by its TID being the PID), and threads started
/// any other way, which are registered on first call under their std name, or
/// `Dummy-N` if they have none, and unregistered when they exit.
///
/// ```
/// use mp_threads::{Thread, current_thread};
///
/// let name = Thread::new(|| current_thread().name().to_owned(), ()).name("LoopThread").start()?.join()?;
/// assert_eq!(name, "LoopThread");
/// let unnamed = std::thread::spawn(|| current_thread().name().to_owned()).join().expect("no panic");
/// assert!(unnamed.starts_with("Dummy-"));
/// # Ok::<(), mp_threads::Error>(())
/// ```
pub fn current_thread() -> ThreadInfo {
    registry::current()
}

/// The process's main thread (Python's `threading.main_thread()`), named
/// `MainThread`, from any thread.
///
/// ```
/// use mp_threads::{Thread, main_thread};
///
/// let seen = Thread::new(main_thread, ()).start()?.join()?;
/// assert_eq!(seen.name(), "MainThread");
/// assert_eq!(seen.native_id(), Some(std::process::id() as i32));
/// # Ok::<(), mp_threads::Error>(())
/// ```
pub fn main_thread() -> ThreadInfo {
    registry::main_thread()
}

/// How many threads are alive (Python's `threading.active_count()`): the main
/// thread, every thread started by this crate that has not finished, and
/// every other thread that has called [`current_thread`] and not exited.
///
/// ```
/// use std::time::Duration;
/// use mp_threads::{Thread, active_count};
///
/// let (release, gate) = std::sync::mpsc::channel::<()>();
/// let handle = Thread::new(move || gate.recv_timeout(Duration::from_secs(5)).ok(), ()).start()?;
/// assert!(active_count() >= 2);
/// release.send(()).ok();
/// handle.join()?;
/// # Ok::<(), mp_threads::Error>(())
/// ```
pub fn active_count() -> usize {
    registry::active_count()
}

/// The threads [`active_count`] counts, main thread first, then in the order
/// they were started (Python's `threading.enumerate()`).
///
/// ```
/// use std::time::Duration;
/// use mp_threads::{Thread, enumerate};
///
/// let (release, gate) = std::sync::mpsc::channel::<()>();
/// let handle = Thread::new(move || gate.recv_timeout(Duration::from_secs(5)).ok(), ())
///     .name("listed")
///     .start()?;
/// let threads = enumerate();
/// assert_eq!(threads[0].name(), "MainThread");
/// assert!(threads.iter().any(|thread| thread.name() == "listed"));
/// release.send(()).ok();
/// handle.join()?;
/// # Ok::<(), mp_threads::Error>(())
/// ```
pub fn enumerate() -> Vec<ThreadInfo> {
    registry::enumerate()
}

/// The calling thread's ident (Python's `threading.get_ident()`), without
/// registering the thread. Never reused within the process.
///
/// ```
/// use mp_threads::{Thread, get_ident};
///
/// let other = Thread::new(get_ident, ()).start()?.join()?;
/// assert_ne!(other, get_ident());
/// # Ok::<(), mp_threads::Error>(())
/// ```
pub fn get_ident() -> u64 {
    registry::current_ident()
}

/// The calling thread's kernel thread id, its Linux TID (Python's
/// `threading.get_native_id()`).
///
/// ```
/// assert!(mp_threads::get_native_id() > 0);
/// ```
pub fn get_native_id() -> i32 {
    mp_sys::process::current_tid()
}
