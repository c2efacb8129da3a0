//! The unfinished-task count of a joinable queue: `task_done` and `join`.
//!
//! Unfinished tasks are not a counter of their own: they are the messages put (the count
//! in the tail cursor) minus the `task_done` calls. So a producer killed in the middle of a
//! put cannot leave the count one off, and nothing needs repair.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::raw::{Patience, RawQueue};
use crate::Error;
use mp_sys::Deadline;
use mp_sys::futex;

/// The longest sleep before a joiner looks again on its own (a `task_done` whose process
/// died before its wake-up call is then noticed).
const JOIN_SLICE: Duration = Duration::from_millis(100);

impl RawQueue {
    /// Messages put and not yet marked done.
    pub(crate) fn unfinished_tasks(&self) -> u32 {
        let done = self.control().shared.0.tasks_done.load(Ordering::Acquire);
        let unfinished = self.tail().count.wrapping_sub(done);
        // More than half the counter's range means more `task_done`s than puts, which
        // `task_done` refuses; only a corrupt block reads so.
        if unfinished > u32::MAX / 2 {
            0
        } else {
            unfinished
        }
    }

    /// Marks one message done; `TaskDoneTooManyTimes` if every put was marked already.
    pub(crate) fn task_done(&self) -> Result<(), Error> {
        let shared = &self.control().shared.0;
        let mut done = shared.tasks_done.load(Ordering::Acquire);
        loop {
            let unfinished = self.tail().count.wrapping_sub(done);
            if unfinished == 0 || unfinished > u32::MAX / 2 {
                return Err(Error::TaskDoneTooManyTimes);
            }
            match shared.tasks_done.compare_exchange_weak(
                done,
                done.wrapping_add(1),
                Ordering::SeqCst,
                Ordering::Acquire,
            ) {
                Ok(_) if unfinished == 1 => break,
                Ok(_) => return Ok(()),
                Err(now) => done = now,
            }
        }
        // The last unfinished task: wake the joiners, if any said they sleep.
        if shared.joiners.load(Ordering::SeqCst) != 0 {
            futex::wake_all(&shared.tasks_done);
        }
        Ok(())
    }

    /// Waits until every message put has been marked done; false if `patience` ran out.
    pub(crate) fn join(&self, patience: Patience) -> bool {
        let shared = &self.control().shared.0;
        let patience = patience.fixed();
        loop {
            if self.unfinished_tasks() == 0 {
                return true;
            }
            let slice = Deadline::after(JOIN_SLICE);
            let deadline = match patience {
                Patience::NoWait => return false,
                Patience::Until(deadline) if Deadline::at(deadline).has_passed() => return false,
                Patience::Until(deadline) => Deadline::at(deadline).earlier(slice),
                Patience::Within(_) | Patience::Forever => slice,
            };
            shared.joiners.fetch_add(1, Ordering::SeqCst);
            let done = shared.tasks_done.load(Ordering::SeqCst);
            if self.tail().count.wrapping_sub(done) != 0 {
                futex::wait(&shared.tasks_done, done, deadline);
            }
            shared.joiners.fetch_sub(1, Ordering::SeqCst);
        }
    }
}
