//! Who this process is: [`current_process()`], [`parent_process()`], [`ProcessInfo`],
//! and the record behind them, which a child installs before its target runs.

use std::os::fd::RawFd;
use std::sync::atomic::AtomicU32;

use crate::wire::Identity;
use mp_sys::PerProcess;

/// What this process knows about itself.
pub(crate) struct ThisProcess {
    pub(crate) pid: i32,
    /// `None` in the main process.
    pub(crate) identity: Option<Identity>,
    /// Numbers for default child names.
    pub(crate) next_child: AtomicU32,
    /// This process's own socket to its parent (-1 in the main process), which a child
    /// it forks must not keep.
    pub(crate) parent_channel: RawFd,
}

impl ThisProcess {
    fn new(identity: Option<Identity>, parent_channel: RawFd) -> Self {
        ThisProcess {
            pid: mp_sys::process::current_pid(),
            identity,
            next_child: AtomicU32::new(1),
            parent_channel,
        }
    }
}

static THIS_PROCESS: PerProcess<ThisProcess> = PerProcess::new(|| ThisProcess::new(None, -1));

/// This process, as it knows itself: the main process unless a child installed its
/// identity.
pub(crate) fn this_process() -> &'static ThisProcess {
    THIS_PROCESS.get()
}

/// Makes `identity` this process's identity: called by a child before it runs its
/// target.
pub(crate) fn install_child(identity: Identity, parent_channel: RawFd) {
    THIS_PROCESS.replace(ThisProcess::new(Some(identity), parent_channel));
}

/// A process as [`current_process()`], [`parent_process()`] and
/// [`active_children()`](crate::active_children) describe it: Python's `Process`
/// attributes that do not change.
///
/// ```
/// let me = mp_processes::current_process();
/// assert_eq!(me.name(), "MainProcess");
/// assert_eq!(me.pid(), std::process::id());
/// assert!(!me.daemon());
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessInfo {
    pub(crate) name: String,
    pub(crate) pid: u32,
    pub(crate) daemon: bool,
}

impl ProcessInfo {
    /// The name: `MainProcess` for the main process, `Process-N` (or `Process-N:M` for a
    /// child's child) unless one was given.
    ///
    /// ```
    /// assert_eq!(mp_processes::current_process().name(), "MainProcess");
    /// ```
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The process id.
    ///
    /// ```
    /// assert_eq!(mp_processes::current_process().pid(), std::process::id());
    /// ```
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Whether the process is daemonic: killed when its parent ends, and not allowed to
    /// start children. Always `false` for the main process and for a parent.
    ///
    /// ```
    /// assert!(!mp_processes::current_process().daemon());
    /// ```
    pub fn daemon(&self) -> bool {
        self.daemon
    }
}

/// This process, as Python's `multiprocessing.current_process()`: `MainProcess` unless
/// it was started by [`Process`](crate::Process), then the name and daemon flag it was
/// started with.
///
/// ```
/// use mp_processes::{Process, StartMethod, current_process};
///
/// assert_eq!(current_process().name(), "MainProcess");
/// let child = Process::new(|| current_process().name().to_owned(), ())
///     .name("worker")
///     .start_method(StartMethod::Spawn)
///     .start()?;
/// assert_eq!(child.join()?, "worker");
/// # Ok::<(), mp_processes::Error>(())
/// ```
pub fn current_process() -> ProcessInfo {
    let state = this_process();
    match &state.identity {
        None => ProcessInfo {
            name: "MainProcess".into(),
            pid: state.pid as u32,
            daemon: false,
        },
        Some(identity) => ProcessInfo {
            name: identity.name.clone(),
            pid: state.pid as u32,
            daemon: identity.daemon,
        },
    }
}

/// The process that started this one, as Python's `multiprocessing.parent_process()`:
/// `None` in the main process.
///
/// With the forkserver method the parent is the process that called `start`, not the
/// server that forked the child (which `getppid` would give).
///
/// ```
/// use mp_processes::{Process, StartMethod, parent_process};
///
/// assert!(parent_process().is_none());
/// let child = Process::new(|| parent_process().map(|p| (p.name().to_owned(), p.pid())), ())
///     .start_method(StartMethod::Forkserver)
///     .start()?;
/// assert_eq!(child.join()?, Some(("MainProcess".to_owned(), std::process::id())));
/// # Ok::<(), mp_processes::Error>(())
/// ```
pub fn parent_process() -> Option<ProcessInfo> {
    this_process()
        .identity
        .as_ref()
        .map(|identity| ProcessInfo {
            name: identity.parent_name.clone(),
            pid: identity.parent_pid as u32,
            daemon: false,
        })
}
