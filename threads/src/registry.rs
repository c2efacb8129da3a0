//! The process-wide list of live threads, behind `current_thread()`,
//! `enumerate()`, `active_count()`, and the wait for non-daemon threads at exit.

use std::cell::{Cell, OnceCell};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Arc, Once, OnceLock};

use parking_lot::{Condvar, Mutex};

use crate::thread_info::{ThreadInfo, ThreadKind, ThreadRecord};

/// Live threads other than the main thread, by ident (so in creation order).
static LIVE: Mutex<BTreeMap<u64, Arc<ThreadRecord>>> = Mutex::new(BTreeMap::new());
/// Signalled whenever a non-daemon thread leaves `LIVE`.
static NON_DAEMON_EXITED: Condvar = Condvar::new();
static MAIN: OnceLock<Arc<ThreadRecord>> = OnceLock::new();
static NEXT_IDENT: AtomicU64 = AtomicU64::new(1);
static NEXT_THREAD_NUMBER: AtomicU64 = AtomicU64::new(1);
static NEXT_DUMMY_NUMBER: AtomicU64 = AtomicU64::new(1);
static EXIT_HOOK: Once = Once::new();
static EXIT_HOOK_PID: AtomicI32 = AtomicI32::new(0);

/// Unregisters a foreign thread's record when that thread exits.
struct CurrentSlot {
    record: OnceCell<Arc<ThreadRecord>>,
}

impl Drop for CurrentSlot {
    fn drop(&mut self) {
        if let Some(record) = self.record.get()
            && record.kind == ThreadKind::Foreign
        {
            mark_exited(record);
        }
    }
}

thread_local! {
    static CURRENT: CurrentSlot = const { CurrentSlot { record: OnceCell::new() } };
    /// This thread's ident, 0 until first asked for.
    static IDENT: Cell<u64> = const { Cell::new(0) };
}

pub(crate) fn next_ident() -> u64 {
    NEXT_IDENT.fetch_add(1, Ordering::Relaxed)
}

/// The next default name, `Thread-N`, numbered from 1 as Python does.
pub(crate) fn next_thread_name() -> String {
    format!(
        "Thread-{}",
        NEXT_THREAD_NUMBER.fetch_add(1, Ordering::Relaxed)
    )
}

fn is_main_os_thread() -> bool {
    mp_sys::process::current_tid() == mp_sys::process::current_pid()
}

fn main_record() -> &'static Arc<ThreadRecord> {
    MAIN.get_or_init(|| {
        // The main thread's TID is the PID, whichever thread asks first.
        let pid = mp_sys::process::current_pid();
        Arc::new(ThreadRecord::new(
            next_ident(),
            "MainThread".to_owned(),
            pid,
            false,
            ThreadKind::Main,
        ))
    })
}

/// The calling thread's ident: cheap after the first call on a thread.
pub(crate) fn current_ident() -> u64 {
    IDENT
        .try_with(|ident| {
            if ident.get() == 0 {
                let fresh = if is_main_os_thread() {
                    main_record().ident
                } else {
                    next_ident()
                };
                ident.set(fresh);
            }
            ident.get()
        })
        // Thread-local storage is being torn down: hand out a number nobody shares.
        .unwrap_or_else(|_| next_ident())
}

/// The calling thread, registering it first if it was not started by this crate.
pub(crate) fn current() -> ThreadInfo {
    let record = CURRENT.try_with(|slot| {
        slot.record
            .get_or_init(|| {
                if is_main_os_thread() {
                    Arc::clone(main_record())
                } else {
                    register_foreign(current_ident())
                }
            })
            .clone()
    });
    match record {
        Ok(record) => ThreadInfo::from_record(record),
        // Thread-local storage is being torn down: describe the thread without
        // registering it, since nothing would unregister it.
        Err(_) => ThreadInfo::from_record(Arc::new(ThreadRecord::new(
            next_ident(),
            foreign_name(),
            mp_sys::process::current_tid(),
            true,
            ThreadKind::Foreign,
        ))),
    }
}

fn foreign_name() -> String {
    match std::thread::current().name() {
        Some(name) => name.to_owned(),
        None => format!(
            "Dummy-{}",
            NEXT_DUMMY_NUMBER.fetch_add(1, Ordering::Relaxed)
        ),
    }
}

fn register_foreign(ident: u64) -> Arc<ThreadRecord> {
    let record = Arc::new(ThreadRecord::new(
        ident,
        foreign_name(),
        mp_sys::process::current_tid(),
        true,
        ThreadKind::Foreign,
    ));
    tracing::debug!(name = %record.name, ident, "registered a thread not started by mp-threads");
    LIVE.lock().insert(ident, Arc::clone(&record));
    record
}

pub(crate) fn main_thread() -> ThreadInfo {
    ThreadInfo::from_record(Arc::clone(main_record()))
}

/// Adds a thread about to be started; non-daemon threads arm the exit wait.
pub(crate) fn register_started(record: &Arc<ThreadRecord>) {
    if !record.daemon {
        install_exit_hook();
        // A child process of mp-processes ends with `_exit`, past the C library's
        // `atexit`: its exit path runs this instead, as Python's child runs
        // `threading._shutdown()`.
        mp_sys::at_exit::register(
            "mp-threads: wait for non-daemon threads",
            wait_for_this_process,
        );
    }
    LIVE.lock().insert(record.ident, Arc::clone(record));
}

/// Runs first on a thread started by this crate.
pub(crate) fn enter_started(record: &Arc<ThreadRecord>) {
    record
        .native_id
        .store(mp_sys::process::current_tid(), Ordering::Release);
    let _ = IDENT.try_with(|ident| ident.set(record.ident));
    let _ = CURRENT.try_with(|slot| slot.record.set(Arc::clone(record)));
}

/// Marks a thread as no longer alive and drops it from the live list.
pub(crate) fn mark_exited(record: &ThreadRecord) {
    let mut live = LIVE.lock();
    record.alive.store(false, Ordering::Release);
    live.remove(&record.ident);
    if !record.daemon {
        NON_DAEMON_EXITED.notify_all();
    }
}

pub(crate) fn enumerate() -> Vec<ThreadInfo> {
    let main = main_thread();
    let live = LIVE.lock();
    std::iter::once(main)
        .chain(live.values().cloned().map(ThreadInfo::from_record))
        .collect()
}

pub(crate) fn active_count() -> usize {
    // Make sure the main thread's record exists so it is counted consistently.
    let _ = main_record();
    1 + LIVE.lock().len()
}

fn install_exit_hook() {
    EXIT_HOOK.call_once(|| {
        EXIT_HOOK_PID.store(mp_sys::process::current_pid(), Ordering::Relaxed);
        // SAFETY: `atexit` only stores the function pointer; it is called once by
        // `exit()` on the exiting thread. `wait_for_non_daemon_threads` is an
        // `extern "C"` function taking no arguments that never unwinds (it runs
        // its body under `catch_unwind`) and touches only statics that live for
        // the whole process.
        let status = unsafe { libc::atexit(wait_for_non_daemon_threads) };
        if status != 0 {
            tracing::debug!("atexit refused the hook: non-daemon threads will not be waited for");
        }
    });
}

/// Python's interpreter shutdown: the process ends only when every non-daemon
/// thread has finished.
extern "C" fn wait_for_non_daemon_threads() {
    let _ = std::panic::catch_unwind(|| {
        // A forked child inherits the hook and the parent's records, but none of
        // the parent's threads (and perhaps a lock held by one of them): a child
        // that started threads of its own waits through mp-sys's `at_exit` instead.
        if mp_sys::process::current_pid() != EXIT_HOOK_PID.load(Ordering::Relaxed) {
            return;
        }
        wait_for_this_process();
    });
}

/// Waits until every non-daemon thread this process started has ended.
fn wait_for_this_process() {
    let pid = mp_sys::process::current_pid();
    // Thread-local storage of the exiting thread may already be gone here, so it is
    // recognised by its TID.
    let exiting_tid = mp_sys::process::current_tid();
    let mut live = LIVE.lock();
    loop {
        let waiting_for = live.values().find(|record| {
            !record.daemon
                && record.kind == ThreadKind::Started
                && record.pid == pid
                && record.native_id.load(Ordering::Acquire) != exiting_tid
        });
        match waiting_for {
            Some(record) => {
                tracing::debug!(name = %record.name, "process exit waits for a non-daemon thread");
                NON_DAEMON_EXITED.wait(&mut live);
            }
            None => break,
        }
    }
}
