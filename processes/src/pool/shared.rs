//! What the pool's handle and its supervisor thread share: the state under its lock, the
//! options, the wake-up socket, and starting a worker. Below both, so that neither
//! imports the other for it.

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use mp_sys::Deadline;
use parking_lot::{Condvar, Mutex};

use super::builder::Config;
use super::channel::Channel;
use super::slot::Slot;
use super::state::{Link, State};
use super::worker::WorkerSetup;
use crate::error::Error;
use crate::start_method::StartMethod;

/// How long a worker's channel may make no progress in the middle of a frame.
const STALL: Duration = Duration::from_secs(30);

/// What the pool's handle and its supervisor thread share.
pub(crate) struct Inner {
    pub(crate) state: Mutex<State>,
    pub(crate) config: Config,
    pub(super) next_task: AtomicU64,
    next_worker: AtomicU64,
    /// A byte on `wake_tx` makes the supervisor look at the state again.
    wake_tx: UnixStream,
    pub(crate) wake_rx: UnixStream,
    /// Set by the supervisor as it returns: every worker is reaped.
    ended: Mutex<bool>,
    ended_signal: Condvar,
}

impl Inner {
    /// The shared part of a pool with these options, before any worker starts.
    pub(crate) fn new(config: Config) -> Result<Self, Error> {
        let (wake_tx, wake_rx) = UnixStream::pair().map_err(|err| os_error("socketpair", &err))?;
        for end in [&wake_tx, &wake_rx] {
            end.set_nonblocking(true)
                .map_err(|err| os_error("fcntl", &err))?;
        }
        Ok(Inner {
            state: Mutex::new(State::new()),
            config,
            next_task: AtomicU64::new(1),
            next_worker: AtomicU64::new(0),
            wake_tx,
            wake_rx,
            ended: Mutex::new(false),
            ended_signal: Condvar::new(),
        })
    }

    /// The supervisor is done: wakes the joiners.
    pub(crate) fn set_ended(&self) {
        *self.ended.lock() = true;
        self.ended_signal.notify_all();
    }

    /// Waits until the supervisor is done, or `deadline`; whether it is.
    pub(crate) fn wait_ended(&self, deadline: Deadline) -> bool {
        let mut ended = self.ended.lock();
        while !*ended {
            match deadline.instant() {
                Some(deadline) => {
                    if self
                        .ended_signal
                        .wait_until(&mut ended, deadline)
                        .timed_out()
                    {
                        return *ended;
                    }
                }
                None => self.ended_signal.wait(&mut ended),
            }
        }
        true
    }

    pub(crate) fn wake(&self) {
        // Full means a wake-up is pending already.
        let _ = (&self.wake_tx).write(&[1]);
    }

    /// Starts one worker process with its channel and slot.
    pub(crate) fn start_worker(&self) -> Result<Arc<Link>, Error> {
        let (ours, theirs) = UnixStream::pair().map_err(|err| os_error("socketpair", &err))?;
        // A worker that stops in the middle of a frame (stopped, or hostile) must not hold
        // the supervisor, or a sender under the pool's lock, for ever: a read or a write
        // that makes no progress for this long fails, and the worker is killed.
        for timeout in [
            ours.set_read_timeout(Some(STALL)),
            ours.set_write_timeout(Some(STALL)),
        ] {
            timeout.map_err(|err| os_error("setsockopt", &err))?;
        }
        let slot = Slot::new()?;
        let number = self.next_worker.fetch_add(1, Ordering::Relaxed) + 1;
        let name = format!("{}PoolWorker-{number}", method_prefix(self.config.method));
        let setup = WorkerSetup {
            channel: Channel(theirs),
            slot: slot.clone(),
            max_tasks: self.config.max_tasks.unwrap_or(0),
            timed: self.config.timeout.is_some(),
        };
        let handle = (self.config.starter)(setup, name, self.config.method)?;
        tracing::debug!(
            name = handle.name(),
            pid = handle.pid(),
            "pool: worker started"
        );
        Ok(Arc::new(Link::new(handle, ours, slot)))
    }
}

/// Python's names for pool workers: `ForkPoolWorker-1`, `SpawnPoolWorker-1`...
fn method_prefix(method: StartMethod) -> &'static str {
    match method {
        StartMethod::Fork => "Fork",
        StartMethod::Spawn => "Spawn",
        _ => "ForkServer",
    }
}

pub(crate) fn os_error(operation: &'static str, err: &std::io::Error) -> Error {
    Error::Os {
        operation,
        errno: nix::errno::Errno::from_raw(err.raw_os_error().unwrap_or(libc::EIO)),
    }
}
