//! A deadline for a call that has no timeout of its own.
//!
//! A [`Deadline`] is a thread parked on a channel, outside the clock. If the call it
//! guards has not returned within its limit, the thread runs the expiry action: for
//! our pool's `map`, `Pool::terminate`, which fails every result still to come, so
//! the `map` returns an error; for building a `procspawn::Pool`, which nothing can
//! interrupt from outside the crate, ending the run with a message (a bench run that
//! stops with a reason beats one that hangs).

use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::error::BenchError;

/// Runs its expiry action unless disarmed (or dropped) within its limit.
pub(in crate::rows) struct Deadline {
    /// Dropping it disconnects the channel, which tells the thread the call returned.
    returned: Option<Sender<()>>,
    /// Returns true if the limit passed and the expiry action ran.
    thread: Option<JoinHandle<bool>>,
}

impl Deadline {
    /// Arms a deadline of `limit`; `on_expiry` runs on the deadline's thread if the
    /// guarded call has not returned by then.
    pub(in crate::rows) fn arm(
        limit: Duration,
        on_expiry: impl FnOnce() + Send + 'static,
    ) -> Result<Self, BenchError> {
        let (returned, waiting) = mpsc::channel::<()>();
        let thread = thread::Builder::new()
            .name("bench-deadline".into())
            .spawn(move || match waiting.recv_timeout(limit) {
                Err(RecvTimeoutError::Timeout) => {
                    on_expiry();
                    true
                }
                Ok(()) | Err(RecvTimeoutError::Disconnected) => false,
            })
            .map_err(BenchError::Thread)?;
        Ok(Self {
            returned: Some(returned),
            thread: Some(thread),
        })
    }

    /// Arms a deadline that ends the process, saying that `what` blocked past `limit`.
    pub(in crate::rows) fn abort_after(
        what: &'static str,
        limit: Duration,
    ) -> Result<Self, BenchError> {
        Self::arm(limit, move || {
            eprintln!(
                "mp-bench: {what} blocked for more than {limit:?} and cannot be interrupted; ending the run"
            );
            std::process::abort();
        })
    }

    /// The call returned: stops the deadline; true if it had expired first.
    pub(in crate::rows) fn disarm(mut self) -> bool {
        self.stop()
    }

    fn stop(&mut self) -> bool {
        drop(self.returned.take());
        // A deadline thread that panicked (in its expiry action) counts as expired.
        self.thread
            .take()
            .is_some_and(|thread| thread.join().unwrap_or(true))
    }
}

impl Drop for Deadline {
    fn drop(&mut self) {
        self.stop();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    use super::Deadline;

    #[test]
    fn a_call_that_returns_in_time_runs_no_expiry_action() {
        let expired = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&expired);
        let deadline = Deadline::arm(Duration::from_secs(60), move || {
            flag.store(true, Ordering::SeqCst);
        })
        .expect("armed");
        assert!(!deadline.disarm());
        assert!(!expired.load(Ordering::SeqCst));
    }

    #[test]
    fn a_call_past_its_limit_runs_the_expiry_action() {
        let expired = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&expired);
        let deadline = Deadline::arm(Duration::from_millis(10), move || {
            flag.store(true, Ordering::SeqCst);
        })
        .expect("armed");
        // The guarded "call" never returns on its own: wait (bounded) for the action.
        let mut waited = Duration::ZERO;
        while !expired.load(Ordering::SeqCst) && waited < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(5));
            waited += Duration::from_millis(5);
        }
        assert!(expired.load(Ordering::SeqCst));
        assert!(deadline.disarm());
    }

    #[test]
    fn dropping_an_armed_deadline_disarms_it() {
        let deadline =
            Deadline::abort_after("a quick call", Duration::from_secs(60)).expect("armed");
        // Had the deadline's thread aborted, the test binary would have died.
        drop(deadline);
    }
}
