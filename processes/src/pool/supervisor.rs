//! The supervisor thread: waits on every worker's channel and sentinel at once, feeds
//! what happens to the [`State`](super::state::State), and starts replacement workers.

use mp_sys::panic::panic_message;
use mp_sys::{Deadline, poll};
use nix::errno::Errno;
use nix::poll::PollFlags;
use std::io::Read;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::frame::MAX_FRAME_LEN;
use super::shared::Inner;
use super::state::{Link, Phase, deliver};
use crate::error::{BrokenCause, Error};

/// How long the supervisor waits for a dead worker's exit status.
const REAP_PATIENCE: Duration = Duration::from_secs(5);

type Frame = Result<(Vec<u8>, Vec<OwnedFd>), mp_shared_mem::Error>;

/// The supervisor's loop, until the pool is closed or terminated and every worker is
/// reaped.
///
/// One `poll` covers the wake-up socket, every worker's channel (a reply) and every
/// worker's pidfd (its end). A worker's replies are read before its death is handled:
/// everything it wrote before dying is in its socket by then, so a task it finished is
/// never failed for its death.
pub(crate) fn supervise(inner: Arc<Inner>) {
    tracing::debug!("pool supervisor started");
    // Whatever way the supervisor leaves (its loop ending, a panic in it, or a panic in
    // its panic path), the joiners are told: a join or a drop never waits for a
    // supervisor that is gone.
    struct Ended<'a>(&'a Inner);
    impl Drop for Ended<'_> {
        fn drop(&mut self) {
            self.0.set_ended();
        }
    }
    let _ended = Ended(&inner);
    if let Err(payload) = catch_unwind(AssertUnwindSafe(|| run(&inner))) {
        // A bug here must not leave anyone waiting for ever: every task fails, every
        // worker is killed and reaped.
        let cause = BrokenCause::SupervisorPanicked {
            message: panic_message(&*payload),
        };
        tracing::debug!(%cause, "pool supervisor panicked");
        let mut deliveries = Vec::new();
        let links = {
            let mut state = inner.state.lock();
            state.phase = Phase::Broken(cause.clone());
            state.shut_down(Error::PoolBroken { cause }, &mut deliveries);
            state.links()
        };
        deliver(deliveries);
        for link in links {
            let _ = link.handle.join_timeout(REAP_PATIENCE);
        }
    }
}

fn run(inner: &Arc<Inner>) {
    loop {
        let (links, deadline) = {
            let state = inner.state.lock();
            if state.finished() {
                break;
            }
            (state.links(), state.next_wake(inner.config.timeout))
        };
        let mut watched: Vec<(BorrowedFd<'_>, PollFlags)> =
            vec![(inner.wake_rx.as_fd(), PollFlags::POLLIN)];
        let mut channel_at = Vec::with_capacity(links.len());
        let mut sentinel_at = Vec::with_capacity(links.len());
        for link in &links {
            if link.eof.load(Ordering::Relaxed) {
                channel_at.push(None);
            } else {
                channel_at.push(Some(watched.len()));
                watched.push((link.channel.as_fd(), PollFlags::POLLIN));
            }
            sentinel_at.push(watched.len());
            watched.push((link.handle.sentinel().as_fd(), PollFlags::POLLIN));
        }
        let ready = match poll::wait_ready(&watched, deadline.map_or(Deadline::NEVER, Deadline::at))
        {
            Ok(ready) => ready,
            Err(errno) => {
                tracing::debug!(%errno, "pool supervisor: poll failed");
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
        };
        let is_ready = |at: usize| ready.get(at).copied().unwrap_or(false);
        if is_ready(0) {
            drain(&inner.wake_rx);
        }

        let mut frames: Vec<(Arc<Link>, Frame)> = Vec::new();
        let mut deaths: Vec<(Arc<Link>, Option<Error>)> = Vec::new();
        for (index, link) in links.iter().enumerate() {
            if is_ready(sentinel_at[index]) {
                // Dead: whatever it wrote is in the socket already.
                while !link.eof.load(Ordering::Relaxed)
                    && (link.reader.lock().has_buffered()
                        || poll::is_readable(link.channel.as_fd(), Deadline::after(Duration::ZERO))
                            .unwrap_or(false))
                {
                    read_frame(link, &mut frames);
                }
                let death = link.handle.join_timeout(REAP_PATIENCE).err();
                deaths.push((Arc::clone(link), death));
            } else if channel_at[index].is_some_and(is_ready) {
                read_frame(link, &mut frames);
                // Frames read ahead with this one leave the socket empty: poll would not
                // report them.
                while !link.eof.load(Ordering::Relaxed) && link.reader.lock().has_buffered() {
                    read_frame(link, &mut frames);
                }
            }
        }

        let mut deliveries = Vec::new();
        let needed = {
            let mut state = inner.state.lock();
            for (link, frame) in frames {
                state.on_frame(&link, frame, &mut deliveries);
            }
            for (link, death) in deaths {
                state.on_death(&link, death, &mut deliveries);
            }
            if let Some(timeout) = inner.config.timeout {
                state.check_timeouts(timeout);
            }
            state.dispatch(inner.config.max_tasks);
            state.stop_idle();
            state.replacements_needed(inner.config.processes)
        };
        deliver(deliveries);
        for _ in 0..needed {
            if !replace_one(inner) {
                break;
            }
        }
    }
    tracing::debug!("pool supervisor ended");
}

/// Starts one replacement worker; false if that failed (the next try comes later).
fn replace_one(inner: &Arc<Inner>) -> bool {
    let started = inner.start_worker();
    let mut deliveries = Vec::new();
    let ok = {
        let mut state = inner.state.lock();
        match started {
            Ok(link) => {
                state.retry_start_at = None;
                state.add_worker(link);
                true
            }
            Err(error) => {
                tracing::debug!(%error, "pool: a replacement worker could not start");
                state.start_failed(error, &mut deliveries);
                false
            }
        }
    };
    deliver(deliveries);
    ok
}

/// Reads one frame from a worker's channel, through its reader (one system call for a
/// small reply, where a frame read on its own costs two). The end of the stream (or a
/// reset, when the worker died with a task unread) only marks the channel finished.
fn read_frame(link: &Arc<Link>, frames: &mut Vec<(Arc<Link>, Frame)>) {
    let received = link
        .reader
        .lock()
        .recv(link.channel.as_fd(), MAX_FRAME_LEN)
        .map_err(mp_shared_mem::Error::from);
    match received {
        Ok(frame) => frames.push((Arc::clone(link), Ok(frame))),
        Err(
            mp_shared_mem::Error::PeerClosed
            | mp_shared_mem::Error::Os {
                errno: Errno::ECONNRESET,
                ..
            },
        ) => link.eof.store(true, Ordering::Relaxed),
        Err(err) => {
            link.eof.store(true, Ordering::Relaxed);
            frames.push((Arc::clone(link), Err(err)));
        }
    }
}

/// Empties the (non-blocking) wake-up socket.
fn drain(mut socket: &std::os::unix::net::UnixStream) {
    let mut buf = [0u8; 64];
    while matches!(socket.read(&mut buf), Ok(read) if read > 0) {}
}
