//! The table of this process's children that were not joined yet: [`active_children()`],
//! reaping the ended ones, and the wait for non-daemonic children when the process exits.

use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Arc, Once};
use std::time::Duration;

use mp_sys::Deadline;
use mp_sys::process::current_pid;

use parking_lot::Mutex;

use crate::identity::ProcessInfo;
use crate::record::Record;
use mp_sys::PerProcess;

/// Children started by this process and not yet joined (a forked child starts with none).
static CHILDREN: PerProcess<Mutex<Vec<Arc<Record>>>> = PerProcess::new(|| Mutex::new(Vec::new()));

static EXIT_HOOK: Once = Once::new();
static EXIT_HOOK_PID: AtomicI32 = AtomicI32::new(0);

/// Adds a just-started child to the list (and, the first time, arranges for the wait at
/// exit).
pub(crate) fn remember(record: Arc<Record>) {
    install_exit_hook();
    CHILDREN.get().lock().push(record);
}

/// Takes a joined child off the list.
pub(crate) fn forget(record: &Arc<Record>) {
    CHILDREN
        .get()
        .lock()
        .retain(|other| !Arc::ptr_eq(other, record));
}

/// The children of this process that are still running, as Python's
/// `multiprocessing.active_children()`. Like Python's, it reaps the children that have
/// ended (whose handles may have been dropped) and takes them off the list.
///
/// ```
/// use std::time::Duration;
/// use mp_processes::{Process, StartMethod, active_children};
///
/// let child = Process::new(|| std::thread::sleep(Duration::from_secs(60)), ())
///     .name("sleeper")
///     .start_method(StartMethod::Fork)
///     .start()?;
/// assert!(active_children().iter().any(|info| info.name() == "sleeper"));
/// child.kill()?;
/// let _ = child.join();
/// assert!(!active_children().iter().any(|info| info.name() == "sleeper"));
/// # Ok::<(), mp_processes::Error>(())
/// ```
pub fn active_children() -> Vec<ProcessInfo> {
    // A forkserver child's status follows its end within microseconds: worth a wait here.
    reap_ended(Duration::from_millis(100));
    CHILDREN
        .get()
        .lock()
        .iter()
        .filter(|record| !record.sentinel.is_ready())
        .map(|record| ProcessInfo {
            name: record.name.clone(),
            pid: record.pid as u32,
            daemon: record.daemon,
        })
        .collect()
}

/// Reaps the children that ended and forgets them (Python's `_cleanup()`, which its
/// `start()` runs): no zombie is left behind, and a child whose handle was dropped gives
/// its descriptors back. A child whose status is not in within `patience` is reaped by
/// a later call.
pub(crate) fn reap_ended(patience: Duration) {
    let records: Vec<Arc<Record>> = CHILDREN.get().lock().clone();
    for record in records {
        if record.sentinel.is_ready() {
            record.settle_if_free(Deadline::after(patience));
            if record.finished() {
                forget(&record);
            }
        }
    }
}

fn install_exit_hook() {
    EXIT_HOOK.call_once(|| {
        EXIT_HOOK_PID.store(current_pid(), Ordering::Relaxed);
        // SAFETY: `atexit` only stores the function pointer; `exit()` calls it once on
        // the exiting thread. `join_non_daemonic_children` is an `extern "C"` function
        // without arguments that never unwinds (its body runs under `catch_unwind`).
        let status = unsafe { libc::atexit(join_non_daemonic_children) };
        if status != 0 {
            tracing::debug!(
                "atexit refused the hook: non-daemonic children will not be waited for"
            );
        }
    });
}

/// Python's exit: the process ends only after its non-daemonic children have. Daemonic
/// children die with it (`PR_SET_PDEATHSIG`).
extern "C" fn join_non_daemonic_children() {
    let _ = std::panic::catch_unwind(|| {
        // A child made by `fork` inherits the hook, but not the children.
        if current_pid() != EXIT_HOOK_PID.load(Ordering::Relaxed) {
            return;
        }
        join_non_daemonic();
    });
}

/// Waits for every non-daemonic child of this process to end: at exit, and in a child
/// after its target returned (Python's `_exit_function`).
pub(crate) fn join_non_daemonic() {
    let records: Vec<Arc<Record>> = CHILDREN.get().lock().clone();
    for record in records.iter().filter(|record| !record.daemon) {
        tracing::debug!(name = %record.name, pid = record.pid, "exit waits for a non-daemonic child");
        let _ = record.settle(Deadline::NEVER);
    }
}
