//! The unfinished-task count of a joinable queue: `task_done` and `join`.
//!
//! Unfinished tasks are not a counter of their own: they are the messages put (the count
//! in the tail cursor) minus the tasks the consumer accounts (`accounts.rs`) count done or
//! lost. So a producer killed in the middle of a put cannot leave the count one off, and
//! a consumer killed before its `task_done` leaves a task that a joiner counts lost.

use std::sync::atomic::Ordering;
use std::time::Duration;

use super::raw::{Patience, RawQueue};
use crate::Error;
use mp_sys::Deadline;
use mp_sys::futex;

/// The longest sleep before a joiner looks again on its own: for a `task_done` whose
/// process died before its wake-up call, and for consumers that died with tasks.
const JOIN_SLICE: Duration = Duration::from_millis(100);

impl RawQueue {
    /// Messages put and not yet marked done (nor counted lost).
    pub(crate) fn unfinished_tasks(&self) -> u32 {
        // The accounts first, the puts second. Both only grow, and every task counted done
        // was put first, so this order can only see too many unfinished tasks for an
        // instant, never too few. The other order let a burst of puts and `task_done`s
        // elsewhere, between the two reads, make the count look negative: `task_done`
        // then refused a task its caller held, which its process's death later counted
        // lost (`tests/joinable_accounting.rs`).
        let done = self.tasks_done();
        let unfinished = self.tail().count.wrapping_sub(done);
        // More than half the counter's range means more `task_done`s than puts, which
        // `task_done` refuses (or a task marked done by a live process after its taker
        // died and it was counted lost); none are unfinished then.
        if unfinished > u32::MAX / 2 {
            0
        } else {
            unfinished
        }
    }

    /// Marks one message done; `TaskDoneTooManyTimes` if every put was marked already.
    pub(crate) fn task_done(&self) -> Result<(), Error> {
        if self.unfinished_tasks() == 0 {
            return Err(Error::TaskDoneTooManyTimes);
        }
        self.count_task_done();
        self.tasks_may_be_finished();
        Ok(())
    }

    /// What `join` found once no task was unfinished.
    pub(crate) fn join_outcome(&self) -> Result<(), Error> {
        match self.lost_tasks() {
            0 => Ok(()),
            lost => Err(Error::TasksLost {
                count: lost as usize,
            }),
        }
    }

    /// Waits until every message put has been marked done or counted lost; `TimedOut` if
    /// `patience` ran out first, `TasksLost` if some were lost.
    pub(crate) fn join(&self, patience: Patience) -> Result<(), Error> {
        let shared = &self.control().shared.0;
        let patience = patience.fixed();
        loop {
            if self.unfinished_tasks() == 0 {
                return self.join_outcome();
            }
            let slice = Deadline::after(JOIN_SLICE);
            let deadline = match patience {
                Patience::NoWait => return Err(Error::TimedOut),
                Patience::Until(deadline) if Deadline::at(deadline).has_passed() => {
                    return Err(Error::TimedOut);
                }
                Patience::Until(deadline) => Deadline::at(deadline).earlier(slice),
                Patience::Within(_) | Patience::Forever => slice,
            };
            shared.joiners.fetch_add(1, Ordering::SeqCst);
            let seq = shared.tasks_seq.load(Ordering::SeqCst);
            if self.unfinished_tasks() != 0 {
                futex::wait(&shared.tasks_seq, seq, deadline);
            }
            shared.joiners.fetch_sub(1, Ordering::SeqCst);
            if self.unfinished_tasks() != 0 {
                self.settle_dead_consumers();
            }
        }
    }
}
