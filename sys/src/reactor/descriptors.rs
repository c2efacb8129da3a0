//! The descriptor side of the reactor: one thread waits in `epoll_wait` on every awaited
//! descriptor and fires the waiter of the descriptor that became readable.
//!
//! Each waiter registers a duplicate of its descriptor, one-shot and level-triggered:
//! epoll keys its set on the descriptor, so two waiters of one socket or pidfd never
//! collide, and the number cannot be reused while it is registered. Level-triggered
//! means a descriptor already readable when it is (re-)armed reports at once, so no
//! readiness is lost between a caller's own check and the registration; one-shot means a
//! readable descriptor reports once per arming instead of spinning the thread.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::Waker;
use std::thread::JoinHandle;

use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::eventfd::{EfdFlags, EventFd};
use rustc_hash::FxHashMap;

use crate::Error;

/// The epoll token of the doorbell (every waiter's token is below it).
const DOORBELL: u64 = u64::MAX;

/// The epoll side of one reactor in one process: its epoll set and thread, made at the
/// first wait on a descriptor.
pub(super) struct Descriptors {
    current: Mutex<Option<Arc<Core>>>,
}

/// One process's epoll set, its thread and its waiters.
pub(super) struct Core {
    /// The [fork generation](crate::process::fork_generation) of the process it serves:
    /// a registration inherited by a forked child must leave it alone.
    generation: u64,
    epoll: Epoll,
    /// Written to make the thread look at `closing`.
    doorbell: EventFd,
    closing: AtomicBool,
    entries: Mutex<FxHashMap<u64, Entry>>,
    next_token: AtomicU64,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// One registered waiter.
struct Entry {
    waker: Waker,
    /// Its descriptor reported readable since the waiter last looked.
    fired: bool,
}

fn os(operation: &'static str) -> impl FnOnce(Errno) -> Error {
    move |errno| Error::Os { operation, errno }
}

fn io_errno(error: &std::io::Error) -> Errno {
    Errno::from_raw(error.raw_os_error().unwrap_or(libc::EAGAIN))
}

impl Descriptors {
    pub(super) fn new() -> Self {
        Self {
            current: Mutex::new(None),
        }
    }

    /// This process's epoll set, with its thread started at the first wait.
    pub(super) fn core(&self) -> Result<Arc<Core>, Error> {
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(core) = current.as_ref() {
            return Ok(Arc::clone(core));
        }
        let core = Arc::new(Core {
            generation: crate::process::fork_generation(),
            epoll: Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).map_err(os("epoll_create1"))?,
            doorbell: EventFd::from_value_and_flags(
                0,
                EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK,
            )
            .map_err(os("eventfd"))?,
            closing: AtomicBool::new(false),
            entries: Mutex::new(FxHashMap::default()),
            next_token: AtomicU64::new(0),
            thread: Mutex::new(None),
        });
        core.epoll
            .add(
                &core.doorbell,
                EpollEvent::new(EpollFlags::EPOLLIN, DOORBELL),
            )
            .map_err(os("epoll_ctl"))?;
        let watched = Arc::clone(&core);
        let handle = std::thread::Builder::new()
            .name("mp-fd-reactor".into())
            .spawn(move || watched.run())
            .map_err(|error| Error::Os {
                operation: "spawn the reactor's epoll thread",
                errno: io_errno(&error),
            })?;
        *core.lock_thread() = Some(handle);
        tracing::debug!("reactor epoll thread started");
        *current = Some(Arc::clone(&core));
        Ok(core)
    }

    /// Runs `f` with this side's locks held (see `Reactor::with_tables_held`).
    pub(super) fn hold<R>(&self, f: impl FnOnce() -> R) -> R {
        let current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        let _entries = current.as_ref().map(|core| core.entries());
        f()
    }

    /// Waiters registered right now.
    pub(super) fn registered(&self) -> usize {
        self.current
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
            .map_or(0, |core| core.entries().len())
    }
}

impl Drop for Descriptors {
    /// Stops the thread (the reactor is being dropped, in the process that made this
    /// side: a forked child leaves its copy alone).
    fn drop(&mut self) {
        let current = self
            .current
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let Some(core) = current else {
            return;
        };
        core.closing.store(true, Ordering::Release);
        if let Err(errno) = core.doorbell.write(1) {
            tracing::warn!(%errno, "reactor: cannot ring the epoll thread");
            return;
        }
        let handle = core.lock_thread().take();
        if let Some(handle) = handle
            && handle.join().is_err()
        {
            tracing::warn!("reactor epoll thread panicked");
        }
        tracing::debug!("reactor epoll thread stopped");
    }
}

impl Core {
    fn entries(&self) -> MutexGuard<'_, FxHashMap<u64, Entry>> {
        // Nothing under this lock panics halfway through an update (a waker's clone at
        // worst), so a poisoned table is whole.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_thread(&self) -> MutexGuard<'_, Option<JoinHandle<()>>> {
        self.thread.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits for readable descriptors and wakes their waiters until the reactor closes.
    fn run(&self) {
        let mut events = [EpollEvent::empty(); 64];
        while !self.closing.load(Ordering::Acquire) {
            match self.epoll.wait(&mut events, EpollTimeout::NONE) {
                Ok(count) => {
                    let mut wakers = Vec::with_capacity(count);
                    {
                        let mut entries = self.entries();
                        for event in events.iter().take(count) {
                            if event.data() == DOORBELL {
                                // Non-blocking: a second read of a drained bell is EAGAIN.
                                let _ = self.doorbell.read();
                            } else if let Some(entry) = entries.get_mut(&event.data()) {
                                entry.fired = true;
                                wakers.push(entry.waker.clone());
                            }
                        }
                    }
                    wakers.into_iter().for_each(Waker::wake);
                }
                Err(Errno::EINTR) => {}
                Err(errno) => {
                    // Only a broken epoll descriptor gets here: wake every waiter (each
                    // checks its own descriptor) and say so loudly.
                    tracing::error!(%errno, "reactor epoll thread stopped");
                    break;
                }
            }
        }
        let wakers: Vec<Waker> = self
            .entries()
            .values_mut()
            .map(|entry| {
                entry.fired = true;
                entry.waker.clone()
            })
            .collect();
        wakers.into_iter().for_each(Waker::wake);
    }
}

/// One waiter's registration of one descriptor.
pub(super) struct Registration {
    core: Arc<Core>,
    /// The descriptor the caller waits on (to notice a waiter moved to another one).
    source: RawFd,
    /// The duplicate registered with epoll.
    duplicate: OwnedFd,
    token: u64,
    /// Registered and not fired since: epoll will report it.
    armed: bool,
}

impl Registration {
    /// Registers a duplicate of `fd` to wake `waker` once it is readable.
    pub(super) fn new(core: Arc<Core>, fd: BorrowedFd<'_>, waker: &Waker) -> Result<Self, Error> {
        let duplicate = fd.try_clone_to_owned().map_err(|error| Error::Os {
            operation: "dup",
            errno: io_errno(&error),
        })?;
        let token = core.next_token.fetch_add(1, Ordering::Relaxed);
        core.entries().insert(
            token,
            Entry {
                waker: waker.clone(),
                fired: false,
            },
        );
        if let Err(errno) = core.epoll.add(&duplicate, interest(token)) {
            core.entries().remove(&token);
            return Err(os("epoll_ctl")(errno));
        }
        Ok(Self {
            core,
            source: fd.as_raw_fd(),
            duplicate,
            token,
            armed: true,
        })
    }

    /// Whether this registration can be polled again for `fd`: same descriptor, and made
    /// in this process (a forked child registers anew, in an epoll set of its own).
    pub(super) fn serves(&self, fd: RawFd) -> bool {
        self.source == fd && self.core.generation == crate::process::fork_generation()
    }

    /// `true` (and disarmed) if the descriptor reported readable since the last poll;
    /// otherwise keeps `waker` to be woken and makes sure epoll watches the descriptor.
    pub(super) fn poll(&mut self, waker: &Waker) -> Result<bool, Error> {
        {
            let mut entries = self.core.entries();
            let Some(entry) = entries.get_mut(&self.token) else {
                // Only this registration's drop removes its entry: unreachable, but if it
                // were, registering again is the caller's way out, not a busy loop.
                return Err(Error::Os {
                    operation: "epoll registration lost",
                    errno: Errno::ENOENT,
                });
            };
            if entry.fired {
                entry.fired = false;
                self.armed = false;
                return Ok(true);
            }
            if !entry.waker.will_wake(waker) {
                entry.waker = waker.clone();
            }
        }
        if !self.armed {
            // The waker is in place first: a report right after re-arming finds it.
            self.core
                .epoll
                .modify(&self.duplicate, &mut interest(self.token))
                .map_err(os("epoll_ctl"))?;
            self.armed = true;
        }
        Ok(false)
    }
}

fn interest(token: u64) -> EpollEvent {
    EpollEvent::new(EpollFlags::EPOLLIN | EpollFlags::EPOLLONESHOT, token)
}

impl Drop for Registration {
    fn drop(&mut self) {
        if self.core.generation != crate::process::fork_generation() {
            // Dropped in a forked child: the epoll set is the parent's, and so is the
            // table (possibly locked by a thread the child does not have). Closing the
            // duplicate is all that is ours to do.
            return;
        }
        let _ = self.core.epoll.delete(self.duplicate.as_fd());
        self.core.entries().remove(&self.token);
    }
}
