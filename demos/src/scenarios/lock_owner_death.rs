//! Beyond the texts: a process dies while it holds a lock.
//!
//! One child takes a `Lock` in shared memory and says so; the parent then kills it with
//! `SIGKILL`, which no code of the child can intercept, so the lock is never released.
//! With Python's `multiprocessing.Lock` every later `acquire()` would wait forever: the
//! lock is a semaphore that only its holder would have released. Here a second child
//! asks for the lock (with a bound, so that a failure cannot hang the scenario) and gets
//! it, told that its previous owner died (`OwnerDied`): mp-sync records the holding
//! process in the lock word and, when a waiter has slept a while, checks whether that
//! process still lives.
//!
//! Checked: the holder was killed by `SIGKILL` (exit code -9) while holding the lock; the
//! second process got the lock and was told the owner died; afterwards the lock is free
//! but still marked, until the parent clears the mark and takes the lock cleanly.

use std::time::{Duration, Instant};

use mp::processes::Process;
use mp::shared_mem::Shared;
use mp::sync::{Event, Lock, TryLockError};
use serde::{Deserialize, Serialize};

use super::process_support::{
    CHILD_LIMIT, Children, from_child, join_or_kill,
};
use crate::{
    ChildFailure, ChildResult, Context, DemoError, NoArgs, check, check_eq, format_duration,
};

/// How long the second process may wait for the lock. mp-sync notices a dead owner
/// within about 100 ms; this bound is only there so that a failure cannot hang.
const TAKE_OVER_LIMIT: Duration = Duration::from_secs(20);

/// The first child: takes the lock, says so, and keeps it until it is killed.
fn hold_and_wait(lock: Shared<Lock>, holding: Shared<Event>, limit: Duration) -> ChildResult<()> {
    lock.acquire()?;
    println!("holder (pid {}): I hold the lock, and will not release it", std::process::id());
    holding.set();
    // Killed long before this ends; the bound only keeps a forgotten holder from living on.
    std::thread::sleep(limit);
    Ok(())
}

/// How the second child's acquisition went.
#[derive(Debug, Serialize, Deserialize)]
struct TakeOver {
    /// It got the lock with the `OwnerDied` mark.
    told_owner_died: bool,
    /// How long it waited for the lock.
    waited: Duration,
}

/// The second child: asks for the lock, within `limit`, and releases it at once.
fn take_over(lock: Shared<Lock>, limit: Duration) -> ChildResult<TakeOver> {
    let pid = std::process::id();
    println!("taker (pid {pid}): lock.acquire() ...");
    let began = Instant::now();
    let outcome = lock.lock_timeout(limit);
    let waited = began.elapsed();
    let told_owner_died = match outcome {
        Err(TryLockError::OwnerDied(guard)) => {
            println!(
                "taker (pid {pid}): got the lock after {}, told that its owner died",
                format_duration(waited)
            );
            drop(guard);
            true
        }
        Ok(guard) => {
            println!("taker (pid {pid}): got the lock, and was not told anything");
            drop(guard);
            false
        }
        Err(_) => {
            return Err(ChildFailure::new(format_args!(
                "the lock was not free after {}",
                format_duration(limit)
            )));
        }
    };
    Ok(TakeOver {
        told_owner_died,
        waited,
    })
}

pub(crate) fn run(ctx: &Context) -> Result<(), DemoError> {
    ctx.parse_args::<NoArgs>()?;
    let lock = Shared::new(Lock::new())?;
    let holding = Shared::new(Event::new())?;

    let mut holders = Children::new();
    // Daemonic: should this scenario die first, the holder dies with it.
    let holder = holders.start(
        Process::new(hold_and_wait, (lock.clone(), holding.clone(), CHILD_LIMIT)).daemon(true),
    )?;
    check(
        holding.wait_timeout(CHILD_LIMIT).is_ok(),
        "the holder took the lock and said so",
    )?;
    check(lock.locked(), "the lock is held")?;
    println!("parent: killing the holder (pid {}) with SIGKILL", holder.pid());
    holder.kill()?;
    match holder.join_timeout(CHILD_LIMIT) {
        Err(mp::processes::Error::Signaled { signal: 9, .. }) => {}
        other => {
            return Err(DemoError::CheckFailed(format!(
                "the holder should have been killed by SIGKILL, but its join gave {other:?}"
            )));
        }
    }
    check_eq("the holder's exit code", holder.exitcode(), Some(-9))?;
    check(lock.locked(), "the lock is still held by the dead process")?;
    println!(
        "the holder died holding the lock: Python's multiprocessing.Lock would now make \
         every acquire() wait forever"
    );

    let mut takers = Children::new();
    let taker = takers.start(Process::new(take_over, (lock.clone(), TAKE_OVER_LIMIT)))?;
    let taker_name = taker.name().to_owned();
    let outcome = join_or_kill(taker, CHILD_LIMIT)?;
    let took = from_child(&taker_name, outcome)?;
    check(
        took.told_owner_died,
        "the second process got the lock, told that its owner died",
    )?;
    println!(
        "parent: the second process waited {}; the lock is {}, marked: {}",
        format_duration(took.waited),
        if lock.locked() { "held" } else { "free" },
        lock.is_poisoned()
    );
    check(!lock.locked(), "the second process released the lock")?;
    check(
        lock.is_poisoned(),
        "the lock stays marked until the mark is cleared",
    )?;
    lock.clear_poison();
    match lock.try_lock() {
        Ok(_guard) => println!("parent: mark cleared, the lock taken cleanly"),
        Err(error) => {
            return Err(DemoError::CheckFailed(format!(
                "after clear_poison the lock should be taken cleanly, got {error}"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_process_gets_the_lock_of_a_killed_holder() {
        run(&Context::new("lock-owner-death", vec![])).unwrap();
    }

    #[test]
    fn a_free_lock_is_taken_without_a_mark() {
        let lock = Shared::new(Lock::new()).unwrap();
        let took = take_over(lock.clone(), Duration::from_secs(1)).unwrap();
        assert!(!took.told_owner_died);
        assert!(!lock.locked());
    }

    #[test]
    fn a_lock_held_by_a_live_process_is_not_taken() {
        let lock = Shared::new(Lock::new()).unwrap();
        let _held = lock.lock().unwrap();
        let err = take_over(lock.clone(), Duration::from_millis(50)).unwrap_err();
        assert!(err.message().contains("not free"), "{err}");
    }
}
