//! Spinning briefly before sleeping.
//!
//! Putting a thread to sleep on a futex and waking it costs a system call on each side,
//! while what it waits for (a lock release, an item, a result) often comes within a
//! microsecond or two. A waiter first polls with short busy pauses, then yields its CPU a
//! few times, and only then sleeps. How long each phase lasts is tuned per user (a lock
//! hand-off, a queue ring, a thread-pool result), so [`Backoff`] takes its budget as a
//! [`BackoffPolicy`] constant; every step is inlined, and with a constant policy the
//! compiler folds the policy away.
//!
//! Under `--cfg loom` a backoff never spins (its first [`snooze`](Backoff::snooze) says
//! "sleep"): spinning would only multiply the interleavings a model explores.

/// How long a [`Backoff`] spins and yields before it tells its caller to sleep.
///
/// Spin round `i` (counting from 0) busy-waits `first_spin << i` pauses when `doubling`,
/// `first_spin` pauses otherwise; then come `yield_rounds` calls of `sched_yield`.
///
/// ```
/// use mp_sys::BackoffPolicy;
///
/// // 1, 2, 4, 8, 16, 32 pauses, then 4 yields.
/// const RESULT_WAIT: BackoffPolicy = BackoffPolicy {
///     spin_rounds: 6,
///     first_spin: 1,
///     doubling: true,
///     yield_rounds: 4,
/// };
/// assert_eq!(RESULT_WAIT.rounds(), 10);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BackoffPolicy {
    /// Rounds of busy-waiting (`spin_loop` hints).
    pub spin_rounds: u32,
    /// Pauses in the first spin round.
    pub first_spin: u32,
    /// Whether each spin round pauses twice as long as the one before.
    pub doubling: bool,
    /// Rounds of yielding the CPU after the spinning.
    pub yield_rounds: u32,
}

impl BackoffPolicy {
    /// For a hand-off between threads of one process (a queue slot, a result): rounds of
    /// 1, 2, 4, 8, 16 and 32 pauses, then 4 yields, as crossbeam's channels wait.
    ///
    /// ```
    /// assert_eq!(mp_sys::BackoffPolicy::THREAD_HANDOFF.rounds(), 10);
    /// ```
    pub const THREAD_HANDOFF: BackoffPolicy = BackoffPolicy {
        spin_rounds: 6,
        first_spin: 1,
        doubling: true,
        yield_rounds: 4,
    };

    /// Every round, spinning and yielding: how many times
    /// [`snooze`](Backoff::snooze) returns `true`.
    ///
    /// ```
    /// use mp_sys::BackoffPolicy;
    ///
    /// let policy = BackoffPolicy { spin_rounds: 3, first_spin: 2, doubling: true, yield_rounds: 7 };
    /// assert_eq!(policy.rounds(), 10);
    /// ```
    #[inline]
    pub const fn rounds(&self) -> u32 {
        self.spin_rounds + self.yield_rounds
    }
}

/// One waiter's spinning budget, spent one [`snooze`](Backoff::snooze) at a time.
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use mp_sys::{Backoff, BackoffPolicy};
///
/// const POLICY: BackoffPolicy = BackoffPolicy {
///     spin_rounds: 3,
///     first_spin: 2,
///     doubling: true,
///     yield_rounds: 7,
/// };
///
/// let ready = AtomicBool::new(false);
/// let mut backoff = Backoff::new(POLICY);
/// while !ready.load(Ordering::Acquire) {
///     if !backoff.snooze() {
///         // The budget is spent: sleep on a futex, a condvar... (here: give up).
///         break;
///     }
/// }
/// ```
#[derive(Clone, Debug)]
pub struct Backoff {
    round: u32,
    policy: BackoffPolicy,
}

impl Backoff {
    /// A fresh budget under `policy`.
    ///
    /// ```
    /// use mp_sys::{Backoff, BackoffPolicy};
    ///
    /// let policy = BackoffPolicy { spin_rounds: 1, first_spin: 1, doubling: false, yield_rounds: 0 };
    /// let _ = Backoff::new(policy);
    /// ```
    #[inline]
    pub const fn new(policy: BackoffPolicy) -> Self {
        Backoff { round: 0, policy }
    }

    /// Pauses once (a spin round, or a yield); `false`, without pausing, once the budget
    /// is spent and the caller should sleep instead.
    ///
    /// ```
    /// use mp_sys::{Backoff, BackoffPolicy};
    ///
    /// let policy = BackoffPolicy { spin_rounds: 2, first_spin: 1, doubling: false, yield_rounds: 1 };
    /// let mut backoff = Backoff::new(policy);
    /// let snoozes = std::iter::from_fn(|| backoff.snooze().then_some(())).count();
    /// assert_eq!(snoozes, if cfg!(loom) { 0 } else { 3 });
    /// ```
    #[cfg(not(loom))]
    #[inline]
    pub fn snooze(&mut self) -> bool {
        let policy = self.policy;
        if self.round >= policy.rounds() {
            return false;
        }
        if self.round < policy.spin_rounds {
            let pauses = if policy.doubling {
                policy.first_spin << self.round
            } else {
                policy.first_spin
            };
            for _ in 0..pauses {
                std::hint::spin_loop();
            }
        } else {
            std::thread::yield_now();
        }
        self.round += 1;
        true
    }

    /// Under loom a spin would only multiply the interleavings: go straight to sleep.
    #[cfg(loom)]
    #[inline]
    pub fn snooze(&mut self) -> bool {
        let _ = (self.round, self.policy);
        false
    }

    /// Whether the budget is spent (the next [`snooze`](Backoff::snooze) returns `false`).
    ///
    /// ```
    /// use mp_sys::{Backoff, BackoffPolicy};
    ///
    /// let policy = BackoffPolicy { spin_rounds: 0, first_spin: 0, doubling: false, yield_rounds: 0 };
    /// assert!(Backoff::new(policy).is_spent());
    /// ```
    #[inline]
    pub fn is_spent(&self) -> bool {
        cfg!(loom) || self.round >= self.policy.rounds()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn the_budget_is_the_policy_s() {
        for (spin_rounds, yield_rounds) in [(3, 7), (6, 4), (256, 8), (0, 0)] {
            let policy = BackoffPolicy {
                spin_rounds,
                first_spin: 1,
                doubling: spin_rounds < 32,
                yield_rounds,
            };
            let mut backoff = Backoff::new(policy);
            let snoozes = std::iter::from_fn(|| backoff.snooze().then_some(())).count();
            assert_eq!(snoozes as u32, spin_rounds + yield_rounds);
            assert!(backoff.is_spent());
            assert!(!backoff.snooze());
        }
    }
}
