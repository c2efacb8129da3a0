//! The thread that creates every child of this process.
//!
//! Linux ties `PR_SET_PDEATHSIG` to the *thread* that created a process, not to the
//! process: a daemonic child made by a thread that then ends (a test of a test harness,
//! a pool's helper) would be killed with that thread. So children are created by one
//! long-lived thread per process, which ends only with the process: "the parent died"
//! then means what it says.

use std::sync::mpsc;

use parking_lot::Mutex;

use crate::error::Error;
use mp_sys::PerProcess;

type Work = Box<dyn FnOnce() + Send>;

struct Launcher {
    requests: mpsc::Sender<Work>,
}

/// This process's launcher thread, once started (a forked child has none: it starts
/// its own).
static LAUNCHER: PerProcess<Mutex<Option<Launcher>>> = PerProcess::new(|| Mutex::new(None));

/// Runs `work` on this process's launcher thread (started on first use) and returns its
/// result.
pub(crate) fn run<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Error> {
    let (reply_to, reply) = mpsc::sync_channel(1);
    let job: Work = Box::new(move || {
        let _ = reply_to.send(work());
    });
    {
        let mut launcher = LAUNCHER.get().lock();
        if launcher.is_none() {
            *launcher = Some(start()?);
        }
        let Some(running) = launcher.as_ref() else {
            return Err(Error::os(
                "starting the launcher thread",
                nix::errno::Errno::EAGAIN,
            ));
        };
        if let Err(mpsc::SendError(job)) = running.requests.send(job) {
            // The thread is gone (it never ends on its own; only a failure to start
            // could leave it so): start another and hand it the job.
            let fresh = start()?;
            fresh.requests.send(job).map_err(|_| {
                Error::os(
                    "handing work to the launcher thread",
                    nix::errno::Errno::EPIPE,
                )
            })?;
            *launcher = Some(fresh);
        }
    }
    reply
        .recv()
        .map_err(|_| Error::os("waiting for the launcher thread", nix::errno::Errno::EPIPE))
}

fn start() -> Result<Launcher, Error> {
    let (requests, incoming) = mpsc::channel::<Work>();
    std::thread::Builder::new()
        .name("mp-launcher".into())
        // A child forked here runs its target on a copy of this thread's stack: give
        // it what a main thread has.
        .stack_size(8 << 20)
        .spawn(move || {
            for work in incoming {
                // A panic must not end this thread: the daemonic children it made
                // would die with it. The panicking job's caller sees its reply dropped.
                let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
            }
        })
        .map_err(|err| {
            Error::os(
                "starting the launcher thread",
                nix::errno::Errno::from_raw(err.raw_os_error().unwrap_or(libc::EAGAIN)),
            )
        })?;
    tracing::debug!("launcher thread started");
    Ok(Launcher { requests })
}
