//! [`Thread`]: Python's `threading.Thread(target=f, args=(..), name=..)`, and the
//! [`JoinHandle`] that `start()` returns.

use std::sync::Arc;
use std::time::{Duration, Instant};

use mp_sys::Deadline;

use parking_lot::{Condvar, Mutex};

use crate::Target;
use crate::error::Error;
use crate::registry;
use crate::thread_info::{ThreadInfo, ThreadKind, ThreadRecord};
use mp_sys::panic::catch_reporting;

/// A thread to be started: a target function, its argument tuple, and options.
///
/// The builder of Python's `threading.Thread(target=f, args=(a, b), name=n,
/// daemon=d)`; [`start`](Thread::start) runs it and returns a [`JoinHandle`]
/// whose [`join`](JoinHandle::join) gives back what the target returned.
///
/// * `name`: `Thread-N` by default, numbered from 1 as Python does. The OS also
///   sees the name (truncated by Linux to 15 bytes, NUL bytes removed).
/// * `daemon`: inherited from the starting thread by default, as Python does
///   (the main thread is not a daemon, threads not started by this crate are).
///   At normal process exit (returning from `main` or `std::process::exit`) the
///   process waits for every non-daemon thread to finish, as Python's interpreter
///   does; daemon threads are simply stopped by the exit. Rust on its own never
///   waits for threads at exit; set `daemon(true)` to get that behaviour back.
///
/// ```
/// use mp_threads::Thread;
///
/// fn greet(name: String, times: usize) -> String {
///     format!("hello {name}! ").repeat(times)
/// }
///
/// let handle = Thread::new(greet, ("Ada".to_string(), 2)).name("greeter").start()?;
/// assert_eq!(handle.thread().name(), "greeter");
/// assert_eq!(handle.join()?, "hello Ada! hello Ada! ");
/// # Ok::<(), mp_threads::Error>(())
/// ```
#[must_use = "a Thread does nothing until start() is called"]
pub struct Thread<F, A> {
    target: F,
    args: A,
    name: Option<String>,
    daemon: Option<bool>,
    stack_size: Option<usize>,
}

impl<F, A> Thread<F, A>
where
    F: Target<A> + Send + 'static,
    F::Output: Send + 'static,
    A: Send + 'static,
{
    /// A thread that will call `target` with the arguments in the `args` tuple.
    ///
    /// ```
    /// use mp_threads::Thread;
    ///
    /// let handle = Thread::new(|a: u32, b: u32| a * b, (6, 7)).start()?;
    /// assert_eq!(handle.join()?, 42);
    /// # Ok::<(), mp_threads::Error>(())
    /// ```
    pub fn new(target: F, args: A) -> Self {
        Thread {
            target,
            args,
            name: None,
            daemon: None,
            stack_size: None,
        }
    }

    /// Sets the thread's name (Python's `name=`).
    ///
    /// ```
    /// use mp_threads::{Thread, current_thread};
    ///
    /// let handle = Thread::new(|| current_thread().name().to_owned(), ()).name("LoopThread").start()?;
    /// assert_eq!(handle.join()?, "LoopThread");
    /// # Ok::<(), mp_threads::Error>(())
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    /// Sets the daemon flag (Python's `daemon=`): the process does not wait for
    /// a daemon thread at exit. See [`Thread`] for the default.
    ///
    /// ```
    /// use mp_threads::{Thread, current_thread};
    ///
    /// let handle = Thread::new(|| current_thread().is_daemon(), ()).daemon(true).start()?;
    /// assert!(handle.join()?);
    /// # Ok::<(), mp_threads::Error>(())
    /// ```
    pub fn daemon(mut self, daemon: bool) -> Self {
        self.daemon = Some(daemon);
        self
    }

    /// Sets the size of the new thread's stack in bytes (Python's
    /// `threading.stack_size`, per thread). The OS rounds it up to its minimum.
    ///
    /// ```
    /// use mp_threads::Thread;
    ///
    /// let handle = Thread::new(|| 1 + 1, ()).stack_size(256 * 1024).start()?;
    /// assert_eq!(handle.join()?, 2);
    /// # Ok::<(), mp_threads::Error>(())
    /// ```
    pub fn stack_size(mut self, bytes: usize) -> Self {
        self.stack_size = Some(bytes);
        self
    }

    /// Starts the thread. It is alive (listed by [`enumerate`](crate::enumerate),
    /// `is_alive()` true) from the moment this returns.
    ///
    /// Fails with [`Error::Spawn`] when the OS cannot start a thread.
    ///
    /// ```
    /// use mp_threads::Thread;
    ///
    /// let handle = Thread::new(|| (), ()).start()?;
    /// handle.join()?;
    /// # Ok::<(), mp_threads::Error>(())
    /// ```
    pub fn start(self) -> Result<JoinHandle<F::Output>, Error> {
        let Thread {
            target,
            args,
            name,
            daemon,
            stack_size,
        } = self;
        let name = name.unwrap_or_else(registry::next_thread_name);
        let daemon = daemon.unwrap_or_else(|| registry::current().is_daemon());
        let record = Arc::new(ThreadRecord::new(
            registry::next_ident(),
            name,
            0,
            daemon,
            ThreadKind::Started,
        ));
        let packet = Arc::new(Packet::new());
        registry::register_started(&record);

        let mut builder = std::thread::Builder::new().name(os_thread_name(&record.name));
        if let Some(bytes) = stack_size {
            builder = builder.stack_size(bytes);
        }
        let spawned = builder.spawn({
            let record = Arc::clone(&record);
            let packet = Arc::clone(&packet);
            move || run_started(&record, &packet, target, args)
        });
        match spawned {
            Ok(os_handle) => {
                tracing::debug!(name = %record.name, ident = record.ident, daemon, "thread started");
                Ok(JoinHandle {
                    info: ThreadInfo::from_record(record),
                    packet,
                    os_handle: Mutex::new(Some(os_handle)),
                })
            }
            Err(source) => {
                registry::mark_exited(&record);
                Err(Error::spawn(&record.name, source))
            }
        }
    }
}

/// std refuses (by panicking) names with NUL bytes; the OS-visible name is only
/// a debugging aid, so those bytes are dropped there and kept in our record.
fn os_thread_name(name: &str) -> String {
    name.replace('\0', "")
}

/// The body of every thread this crate starts.
fn run_started<F, A>(record: &Arc<ThreadRecord>, packet: &Packet<F::Output>, target: F, args: A)
where
    F: Target<A> + Send + 'static,
    F::Output: Send + 'static,
{
    registry::enter_started(record);
    // Printed as Python's `threading.excepthook` prints, and kept for `join`.
    let outcome = catch_reporting(|| target.call(args))
        .map_err(|caught| Error::panicked(record.name.clone(), caught));
    tracing::debug!(name = %record.name, panicked = outcome.is_err(), "thread finished");
    // Dead before the result is published, so a joiner sees is_alive() == false.
    registry::mark_exited(record);
    packet.complete(outcome);
}

/// Where a thread leaves its result for the joiner.
pub(crate) struct Packet<T> {
    state: Mutex<PacketState<T>>,
    finished: Condvar,
}

struct PacketState<T> {
    finished: bool,
    outcome: Option<Result<T, Error>>,
}

impl<T> Packet<T> {
    pub(crate) fn new() -> Self {
        Packet {
            state: Mutex::new(PacketState {
                finished: false,
                outcome: None,
            }),
            finished: Condvar::new(),
        }
    }

    pub(crate) fn complete(&self, outcome: Result<T, Error>) {
        let mut state = self.state.lock();
        state.finished = true;
        state.outcome = Some(outcome);
        drop(state);
        self.finished.notify_all();
    }

    pub(crate) fn is_finished(&self) -> bool {
        self.state.lock().finished
    }

    /// Waits until the thread finished (or the deadline passes), then takes the
    /// outcome. `Err(TimedOut)` leaves everything in place for a later call.
    pub(crate) fn take(&self, deadline: Option<Instant>) -> Result<T, Error> {
        let mut state = self.state.lock();
        while !state.finished {
            match deadline {
                None => self.finished.wait(&mut state),
                Some(deadline) => {
                    if self.finished.wait_until(&mut state, deadline).timed_out() && !state.finished
                    {
                        return Err(Error::TimedOut);
                    }
                }
            }
        }
        state.outcome.take().unwrap_or(Err(Error::AlreadyTaken))
    }
}

/// A started thread: join it for its target's return value.
///
/// Dropping a handle without joining detaches the thread (it keeps running).
///
/// ```
/// use std::time::Duration;
/// use mp_threads::{Error, Thread};
///
/// let (tx, rx) = std::sync::mpsc::channel::<()>();
/// let mut handle = Thread::new(move || rx.recv().is_ok(), ()).start()?;
/// assert!(handle.is_alive());
/// assert!(matches!(handle.join_timeout(Duration::from_millis(10)), Err(Error::TimedOut)));
/// tx.send(()).expect("the thread is waiting");
/// assert!(handle.join()?);
/// # Ok::<(), Error>(())
/// ```
pub struct JoinHandle<T> {
    info: ThreadInfo,
    packet: Arc<Packet<T>>,
    /// The OS thread, joined once its result is taken (behind a lock so that a shared
    /// handle can be joined with a timeout).
    os_handle: Mutex<Option<std::thread::JoinHandle<()>>>,
}

impl<T> JoinHandle<T> {
    /// Waits for the thread to finish and returns what its target returned.
    ///
    /// A panic in the target comes back as [`Error::Panicked`] with its message.
    /// Joining the current thread fails with [`Error::JoinCurrentThread`]
    /// instead of waiting forever; after a successful
    /// [`join_timeout`](JoinHandle::join_timeout) it fails with
    /// [`Error::AlreadyTaken`].
    ///
    /// ```
    /// use mp_threads::Thread;
    ///
    /// let handle = Thread::new(|| vec![1, 2, 3], ()).start()?;
    /// assert_eq!(handle.join()?, vec![1, 2, 3]);
    /// # Ok::<(), mp_threads::Error>(())
    /// ```
    pub fn join(self) -> Result<T, Error> {
        self.check_not_current()?;
        let outcome = self.packet.take(None);
        self.reap();
        outcome
    }

    /// Waits at most `timeout` for the thread to finish. On
    /// [`Error::TimedOut`] nothing is lost: the handle can be joined again.
    ///
    /// ```
    /// use std::time::Duration;
    /// use mp_threads::Thread;
    ///
    /// let handle = Thread::new(|| 5, ()).start()?;
    /// assert_eq!(handle.join_timeout(Duration::from_secs(5))?, 5);
    /// # Ok::<(), mp_threads::Error>(())
    /// ```
    pub fn join_timeout(&self, timeout: Duration) -> Result<T, Error> {
        self.check_not_current()?;
        let outcome = self.packet.take(Deadline::after(timeout).instant());
        if !matches!(outcome, Err(Error::TimedOut)) {
            self.reap();
        }
        outcome
    }

    /// Whether the target is still running (Python's `is_alive()`).
    ///
    /// ```
    /// use mp_threads::Thread;
    ///
    /// let handle = Thread::new(|| (), ()).start()?;
    /// let info = handle.thread().clone();
    /// handle.join()?;
    /// assert!(!info.is_alive());
    /// # Ok::<(), mp_threads::Error>(())
    /// ```
    pub fn is_alive(&self) -> bool {
        self.info.is_alive()
    }

    /// Whether the target has returned or panicked, so `join` will not block.
    ///
    /// ```
    /// use mp_threads::Thread;
    ///
    /// let handle = Thread::new(|| (), ()).start()?;
    /// handle.join_timeout(std::time::Duration::from_secs(5))?;
    /// assert!(handle.is_finished());
    /// # Ok::<(), mp_threads::Error>(())
    /// ```
    pub fn is_finished(&self) -> bool {
        self.packet.is_finished()
    }

    /// The thread's name, ident, native id and flags.
    ///
    /// ```
    /// use mp_threads::Thread;
    ///
    /// let handle = Thread::new(|| (), ()).name("named").start()?;
    /// assert_eq!(handle.thread().name(), "named");
    /// handle.join()?;
    /// # Ok::<(), mp_threads::Error>(())
    /// ```
    pub fn thread(&self) -> &ThreadInfo {
        &self.info
    }

    /// The thread's ident (Python's `Thread.ident`).
    ///
    /// ```
    /// use mp_threads::{Thread, get_ident};
    ///
    /// let handle = Thread::new(get_ident, ()).start()?;
    /// let ident = handle.ident();
    /// assert_eq!(handle.join()?, ident);
    /// # Ok::<(), mp_threads::Error>(())
    /// ```
    pub fn ident(&self) -> u64 {
        self.info.ident()
    }

    /// The kernel thread id (Python's `Thread.native_id`), `None` until the
    /// thread has begun running.
    ///
    /// ```
    /// use mp_threads::{Thread, get_native_id};
    ///
    /// let mut handle = Thread::new(get_native_id, ()).start()?;
    /// let tid = handle.join_timeout(std::time::Duration::from_secs(5))?;
    /// assert_eq!(handle.native_id(), Some(tid));
    /// # Ok::<(), mp_threads::Error>(())
    /// ```
    pub fn native_id(&self) -> Option<i32> {
        self.info.native_id()
    }

    fn check_not_current(&self) -> Result<(), Error> {
        if self.info.ident() == registry::current_ident() {
            Err(Error::JoinCurrentThread)
        } else {
            Ok(())
        }
    }

    /// Releases the OS thread once its target is done (only thread-local
    /// destructors can still be running then).
    fn reap(&self) {
        if let Some(os_handle) = self.os_handle.lock().take() {
            // The body catches the target's panics; an Err here could only come
            // from a panicking thread-local destructor, which has already been
            // reported by the panic hook.
            let _ = os_handle.join();
        }
    }
}

impl<T> std::fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinHandle")
            .field("thread", &self.info)
            .finish_non_exhaustive()
    }
}
