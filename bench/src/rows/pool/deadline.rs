//! A deadline for a call that nothing can interrupt from outside its crate.
//!
//! Building a `procspawn::Pool` blocks until every worker has connected back, with
//! no timeout. A [`Deadline`] armed around it ends the whole run, with a message, if
//! the call has not returned in time: a bench run that stops with a reason beats one
//! that hangs. It costs a thread parked on a channel, outside the clock.

use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::error::BenchError;

/// Ends the process unless dropped within its limit.
pub(super) struct Deadline {
    /// Dropping it disconnects the channel, which tells the thread the call returned.
    returned: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Deadline {
    /// Arms a deadline of `limit` for the call `what`.
    pub(super) fn arm(what: &'static str, limit: Duration) -> Result<Self, BenchError> {
        let (returned, waiting) = mpsc::channel::<()>();
        let thread = thread::Builder::new()
            .name("bench-deadline".into())
            .spawn(move || {
                if let Err(RecvTimeoutError::Timeout) = waiting.recv_timeout(limit) {
                    eprintln!(
                        "mp-bench: {what} blocked for more than {limit:?} and cannot be interrupted; ending the run"
                    );
                    std::process::abort();
                }
            })
            .map_err(BenchError::Thread)?;
        Ok(Self {
            returned: Some(returned),
            thread: Some(thread),
        })
    }
}

impl Drop for Deadline {
    fn drop(&mut self) {
        drop(self.returned.take());
        if let Some(thread) = self.thread.take() {
            // The thread only returns or aborts: there is nothing to report.
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::Deadline;

    #[test]
    fn a_call_that_returns_in_time_disarms_it() {
        let deadline = Deadline::arm("a quick call", Duration::from_secs(60)).expect("armed");
        // Dropping joins the deadline's thread: it has returned without aborting,
        // or the test binary would have died with the message.
        drop(deadline);
        let again = Deadline::arm("a second call", Duration::from_secs(60)).expect("re-armed");
        drop(again);
    }
}
