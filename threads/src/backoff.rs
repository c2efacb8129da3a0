//! Brief spinning before sleeping.
//!
//! Putting a thread to sleep on a futex and waking it costs a system call on
//! each side and a wake-up across CPUs of several microseconds, while the thing
//! waited for (an item, a result) often arrives sooner. A waiter first polls
//! with exponentially longer pauses, then yields its CPU a few times, and only
//! then sleeps; crossbeam's channels do the same.

use std::hint::spin_loop;
use std::thread::yield_now;

const SPIN_STEPS: u32 = 6;
const YIELD_STEPS: u32 = 4;

/// One waiter's spinning budget.
pub(crate) struct Backoff {
    step: u32,
}

impl Backoff {
    pub(crate) fn new() -> Self {
        Backoff { step: 0 }
    }

    /// Pauses once; false (without pausing) once the budget is spent and the
    /// caller should sleep instead.
    pub(crate) fn snooze(&mut self) -> bool {
        if self.step >= SPIN_STEPS + YIELD_STEPS {
            return false;
        }
        if self.step < SPIN_STEPS {
            for _ in 0..1_u32 << self.step {
                spin_loop();
            }
        } else {
            yield_now();
        }
        self.step += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::Backoff;

    #[test]
    fn the_budget_runs_out() {
        let mut backoff = Backoff::new();
        let snoozes = std::iter::from_fn(|| backoff.snooze().then_some(())).count();
        assert_eq!(snoozes, 10);
        assert!(!backoff.snooze());
    }
}
