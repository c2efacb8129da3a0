//! [`ThreadInfo`]: what Python's `Thread` object tells about a thread.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};

/// How a thread came to be known to this crate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ThreadKind {
    /// The process's main thread (its TID equals the PID).
    Main,
    /// Started by [`Thread::start`](crate::Thread::start) (or a pool or timer).
    Started,
    /// Started some other way (`std::thread::spawn`, a C library) and seen
    /// through `current_thread()`; Python's "dummy" threads.
    Foreign,
}

/// The shared record behind every [`ThreadInfo`] of one thread.
pub(crate) struct ThreadRecord {
    pub(crate) ident: u64,
    pub(crate) name: String,
    /// The kernel TID; 0 until the thread has started running.
    pub(crate) native_id: AtomicI32,
    pub(crate) daemon: bool,
    pub(crate) alive: AtomicBool,
    pub(crate) kind: ThreadKind,
    /// The process that created the record: a forked child inherits records of
    /// threads that do not exist in it, and must not wait for them.
    pub(crate) pid: i32,
}

impl ThreadRecord {
    pub(crate) fn new(
        ident: u64,
        name: String,
        native_id: i32,
        daemon: bool,
        kind: ThreadKind,
    ) -> Self {
        ThreadRecord {
            ident,
            name,
            native_id: AtomicI32::new(native_id),
            daemon,
            alive: AtomicBool::new(true),
            kind,
            pid: mp_sys::process::current_pid(),
        }
    }
}

/// A thread as Python's `threading.Thread` object describes it: name, ident,
/// native id, daemon flag and whether it is alive.
///
/// Returned by [`current_thread`](crate::current_thread),
/// [`main_thread`](crate::main_thread), [`enumerate`](crate::enumerate) and
/// [`JoinHandle::thread`](crate::JoinHandle::thread). Cloning is cheap and every
/// clone sees the same live state. Two `ThreadInfo`s are equal when they
/// describe the same thread.
///
/// ```
/// use mp_threads::{Thread, current_thread};
///
/// let handle = Thread::new(|| current_thread(), ()).name("worker").start()?;
/// let seen_inside = handle.join()?;
/// assert_eq!(seen_inside.name(), "worker");
/// assert!(!seen_inside.is_alive());
/// # Ok::<(), mp_threads::Error>(())
/// ```
#[derive(Clone)]
pub struct ThreadInfo {
    pub(crate) record: Arc<ThreadRecord>,
}

impl ThreadInfo {
    pub(crate) fn from_record(record: Arc<ThreadRecord>) -> Self {
        ThreadInfo { record }
    }

    /// The thread's name: the one given to [`Thread::name`](crate::Thread::name),
    /// `Thread-N` by default, `MainThread` for the main thread, and for a thread
    /// not started by this crate its std name or else `Dummy-N`.
    ///
    /// ```
    /// assert_eq!(mp_threads::main_thread().name(), "MainThread");
    /// ```
    pub fn name(&self) -> &str {
        &self.record.name
    }

    /// A number that identifies the thread within this process (Python's
    /// `ident`). Unlike Python's, it is never reused after the thread exits.
    ///
    /// ```
    /// let me = mp_threads::current_thread();
    /// assert_eq!(me.ident(), mp_threads::get_ident());
    /// ```
    pub fn ident(&self) -> u64 {
        self.record.ident
    }

    /// The kernel's thread id (Linux TID, Python's `native_id`); `None` for a
    /// thread that was started but has not begun running yet.
    ///
    /// ```
    /// let me = mp_threads::current_thread();
    /// assert_eq!(me.native_id(), Some(mp_threads::get_native_id()));
    /// ```
    pub fn native_id(&self) -> Option<i32> {
        match self.record.native_id.load(Ordering::Acquire) {
            0 => None,
            tid => Some(tid),
        }
    }

    /// Whether the thread is still running its target (Python's `is_alive()`).
    /// True from `start()` until the target has returned or panicked.
    ///
    /// ```
    /// assert!(mp_threads::current_thread().is_alive());
    /// ```
    pub fn is_alive(&self) -> bool {
        self.record.alive.load(Ordering::Acquire)
    }

    /// The daemon flag (Python's `daemon`): at normal process exit, this crate
    /// waits for every started thread that is *not* a daemon, as Python does.
    /// The main thread is not a daemon; threads not started by this crate are.
    ///
    /// ```
    /// assert!(!mp_threads::main_thread().is_daemon());
    /// ```
    pub fn is_daemon(&self) -> bool {
        self.record.daemon
    }

    /// Whether this is the process's main thread.
    ///
    /// ```
    /// assert!(mp_threads::main_thread().is_main());
    /// ```
    pub fn is_main(&self) -> bool {
        self.record.kind == ThreadKind::Main
    }
}

impl PartialEq for ThreadInfo {
    fn eq(&self, other: &Self) -> bool {
        self.record.ident == other.record.ident
    }
}

impl Eq for ThreadInfo {}

impl std::hash::Hash for ThreadInfo {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.record.ident.hash(state);
    }
}

impl fmt::Debug for ThreadInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ThreadInfo")
            .field("name", &self.name())
            .field("ident", &self.ident())
            .field("native_id", &self.native_id())
            .field("alive", &self.is_alive())
            .field("daemon", &self.is_daemon())
            .finish()
    }
}
