//! What this process knows about itself and its children, kept apart per process id.
//!
//! A child made by `fork` inherits a copy of every static, including locks that another
//! thread of the parent may have held at that instant and will never release in the
//! child. So the state lives behind one pointer stamped with the pid that made it: the
//! first use in a new process finds a foreign stamp, leaves the old state untouched
//! (leaked, never locked) and installs a fresh one.

use std::os::fd::RawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, AtomicPtr, AtomicU32, Ordering};

use parking_lot::Mutex;

use crate::forkserver::ForkServer;
use crate::handle::Record;
use crate::launcher::Launcher;
use crate::wire::Identity;

pub(crate) struct ProcessState {
    pub(crate) pid: i32,
    /// `None` in the main process.
    pub(crate) identity: Option<Identity>,
    /// Children started here and not yet joined.
    pub(crate) children: Mutex<Vec<Arc<Record>>>,
    /// Numbers for default child names.
    pub(crate) next_child: AtomicU32,
    pub(crate) launcher: Mutex<Option<Launcher>>,
    pub(crate) forkserver: Mutex<Option<ForkServer>>,
    /// This process's own socket to its parent, which a child it forks must not keep.
    pub(crate) parent_channel: AtomicI32,
}

static STATE: AtomicPtr<ProcessState> = AtomicPtr::new(std::ptr::null_mut());

fn getpid() -> i32 {
    nix::unistd::getpid().as_raw()
}

/// This process's state, made on first use in this process.
pub(crate) fn current() -> &'static ProcessState {
    let pid = getpid();
    let existing = STATE.load(Ordering::Acquire);
    // SAFETY: STATE only ever holds null or a pointer from `Box::leak` below, never freed,
    // so a non-null pointer is valid for 'static.
    if let Some(state) = unsafe { existing.as_ref() }
        && state.pid == pid
    {
        return state;
    }
    install(existing, None)
}

/// Makes `identity` this process's identity: called by a child before it runs its
/// target.
pub(crate) fn install_child(identity: Identity, parent_channel: RawFd) {
    let state = install(STATE.load(Ordering::Acquire), Some(identity));
    state
        .parent_channel
        .store(parent_channel, Ordering::Relaxed);
}

fn install(expected: *mut ProcessState, identity: Option<Identity>) -> &'static ProcessState {
    let fresh: &'static mut ProcessState = Box::leak(Box::new(ProcessState {
        pid: getpid(),
        identity,
        children: Mutex::new(Vec::new()),
        next_child: AtomicU32::new(1),
        launcher: Mutex::new(None),
        forkserver: Mutex::new(None),
        parent_channel: AtomicI32::new(-1),
    }));
    let fresh_ptr: *mut ProcessState = fresh;
    match STATE.compare_exchange(expected, fresh_ptr, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => {
            // SAFETY: `fresh_ptr` came from `Box::leak` and is never freed.
            unsafe { &*fresh_ptr }
        }
        Err(winner) => {
            // Another thread installed a state first. Ours was never shared: free it.
            // SAFETY: `fresh_ptr` came from `Box::leak` just above and no one else has it.
            drop(unsafe { Box::from_raw(fresh_ptr) });
            // SAFETY: as in `current`, STATE holds only leaked, never-freed pointers.
            match unsafe { winner.as_ref() } {
                Some(state) if state.pid == getpid() => state,
                // The winner is stale too (only possible if this thread raced a fork
                // child's install, which cannot happen in one process): try again.
                _ => install(winner, None),
            }
        }
    }
}
