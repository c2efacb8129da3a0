//! [`Slot`]: where a worker records, in shared memory, which item it is running and since
//! when; the supervisor reads it when the worker dies or overstays.

use std::sync::atomic::{AtomicU64, Ordering};

use mp_shared_mem::Shared;
use serde::{Deserialize, Serialize};

const TASK: usize = 0;
const ITEM: usize = 1;
const STARTED: usize = 2;
const RUNNING: usize = 3;

/// A worker's slot: four words in a segment of its own, written only by the worker.
///
/// The worker writes the task id, the item's index in the task and its start time, then
/// raises the running flag (release); it lowers the flag when the call returns. A worker
/// that dies leaves the slot as it was at that instant, which is how the supervisor
/// knows which item, if any, was running: that one fails, the others are run again.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Slot(Shared<[AtomicU64; 4]>);

/// What a slot says a worker is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Running {
    pub(crate) task: u64,
    pub(crate) item: usize,
    /// [`now_ns`] when the call began.
    pub(crate) started_ns: u64,
}

impl Slot {
    pub(crate) fn new() -> Result<Self, mp_shared_mem::Error> {
        Ok(Slot(Shared::new(Default::default())?))
    }

    /// The worker is about to call item `item` of task `task`; with `timed`, it records
    /// the time too (a clock read per call, paid only by pools with a task timeout).
    pub(crate) fn begin(&self, task: u64, item: usize, timed: bool) {
        self.0[ITEM].store(item as u64, Ordering::Relaxed);
        if timed {
            self.0[STARTED].store(now_ns(), Ordering::Relaxed);
        }
        self.0[TASK].store(task, Ordering::Relaxed);
        self.0[RUNNING].store(1, Ordering::Release);
    }

    /// The call returned (or unwound).
    pub(crate) fn end(&self) {
        self.0[RUNNING].store(0, Ordering::Release);
    }

    /// The call in progress, if any.
    pub(crate) fn running(&self) -> Option<Running> {
        if self.0[RUNNING].load(Ordering::Acquire) == 0 {
            return None;
        }
        Some(Running {
            task: self.0[TASK].load(Ordering::Relaxed),
            item: usize::try_from(self.0[ITEM].load(Ordering::Relaxed)).unwrap_or(usize::MAX),
            started_ns: self.0[STARTED].load(Ordering::Relaxed),
        })
    }
}

/// `CLOCK_MONOTONIC` in nanoseconds: one clock for every process of the machine, so a
/// start time written by a worker means the same to the supervisor.
pub(crate) fn now_ns() -> u64 {
    use nix::time::{ClockId, clock_gettime};
    clock_gettime(ClockId::CLOCK_MONOTONIC).map_or(0, |now| {
        (now.tv_sec() as u64)
            .saturating_mul(1_000_000_000)
            .saturating_add(now.tv_nsec() as u64)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_the_running_item_and_clears_it() {
        let slot = Slot::new().unwrap();
        assert_eq!(slot.running(), None);
        let before = now_ns();
        slot.clone().begin(7, 3, true);
        let running = slot.running().unwrap();
        assert_eq!((running.task, running.item), (7, 3));
        assert!(running.started_ns >= before && running.started_ns <= now_ns());
        slot.end();
        assert_eq!(slot.running(), None);
        slot.begin(8, 0, false);
        assert_eq!(
            slot.running().unwrap().started_ns,
            running.started_ns,
            "untimed"
        );
    }
}
