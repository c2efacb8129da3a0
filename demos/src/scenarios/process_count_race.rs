//! 003, process synchronization: one process runs `increase_count`, another
//! `decrease_count`, on a global `count`; the original says the printed count "may not be
//! 0" without a lock, and is 0 with `multiprocessing.Lock` around each update.
//!
//! The original is wrong about why, and the scenario shows the three things at play:
//!
//! 1. **A plain variable is not shared.** Each process has its own copy of the global, so
//!    the children change theirs and the parent's stays 0, lock or not. Checked: the
//!    parent's count is 0, and each child saw its own copy become 1 and -1.
//! 2. **An unlocked shared counter loses updates.** With the count in shared memory, each
//!    update is a read and a write (what `v.value += 1` is without `get_lock()`); when the
//!    other process writes in between, one update is lost. The two processes update it
//!    `--iterations` times each (the original: once, which almost never collides), after
//!    lining up at a barrier. A loss is likely but not certain on any given run, so this
//!    part is printed, not checked.
//! 3. **A locked shared counter does not.** The same updates, each between
//!    `lock.acquire()` and `lock.release()` of a `Lock` in shared memory, as the original.
//!    Checked: the count ends at exactly 0, and the tally of updates is exactly twice the
//!    iterations.
//!
//! The shared counter is two numbers: `count`, which one process raises and the other
//! lowers, and `updates`, which both raise. A lost update shows in both; `updates` also
//! says how many were lost, and proves that the locked run really did its work.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use mp::processes::Process;
use mp::shared_mem::Shared;
use mp::sync::{Barrier, Lock};

use super::process_support::{
    CHILD_LIMIT, Children, from_child,
};
use crate::{ChildResult, Context, DemoError, StepContext, check_eq};

#[derive(clap::Parser)]
struct Args {
    /// Updates each of the two processes makes (the original: 1).
    #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
    iterations: u64,
}

/// The original's global `count`: each process has its own.
static COUNT: AtomicI64 = AtomicI64::new(0);

/// The original's `increase_count`, on this process's own global; returns what it saw.
fn increase_count() -> i64 {
    COUNT.fetch_add(1, Ordering::SeqCst) + 1
}

/// The original's `decrease_count`, on this process's own global; returns what it saw.
fn decrease_count() -> i64 {
    COUNT.fetch_sub(1, Ordering::SeqCst) - 1
}

/// A counter in shared memory: `count` goes up in one process and down in the other,
/// `updates` goes up in both.
#[repr(C)]
struct Tally {
    count: AtomicI64,
    updates: AtomicU64,
}

// SAFETY: `Tally` is `#[repr(C)]` and holds only atomics, which are valid for any bit
// pattern, hold no pointer and no descriptor, and work the same from every process that
// maps the memory: exactly what `ShmSafe` asks for.
unsafe impl mp::shared_mem::ShmSafe for Tally {}

impl Tally {
    fn new() -> Self {
        Self {
            count: AtomicI64::new(0),
            updates: AtomicU64::new(0),
        }
    }

    /// One update with no lock: each number is read, then written, as Python's
    /// `v.value += 1` without `get_lock()`. Another process's write between the read and
    /// the write is overwritten.
    fn update_unlocked(&self, delta: i64) {
        let count = self.count.load(Ordering::Relaxed);
        self.count.store(count + delta, Ordering::Relaxed);
        let updates = self.updates.load(Ordering::Relaxed);
        self.updates.store(updates + 1, Ordering::Relaxed);
    }
}

/// Part 2: `iterations` updates by `delta`, unlocked, once both processes are ready.
fn update_unlocked(
    tally: Shared<Tally>,
    start_line: Shared<Barrier>,
    delta: i64,
    iterations: u64,
) -> ChildResult<()> {
    start_line
        .wait_timeout(CHILD_LIMIT)
        .context("waiting for the other process")?;
    for _ in 0..iterations {
        tally.update_unlocked(delta);
    }
    Ok(())
}

/// Part 3: the same updates, each between `lock.acquire()` and `lock.release()`.
fn update_locked(
    tally: Shared<Tally>,
    lock: Shared<Lock>,
    start_line: Shared<Barrier>,
    delta: i64,
    iterations: u64,
) -> ChildResult<()> {
    start_line
        .wait_timeout(CHILD_LIMIT)
        .context("waiting for the other process")?;
    for _ in 0..iterations {
        lock.acquire()?;
        tally.update_unlocked(delta);
        lock.release()?;
    }
    Ok(())
}

/// Starts the increasing and the decreasing process, returns what each returned.
fn pair<R: serde::Serialize + serde::de::DeserializeOwned + 'static>(
    increase: Process<R>,
    decrease: Process<R>,
) -> Result<Vec<(String, R)>, DemoError> {
    let mut children = Children::new();
    children.start(increase)?;
    children.start(decrease)?;
    let names: Vec<String> = children.handles().iter().map(|h| h.name().to_owned()).collect();
    Ok(names.into_iter().zip(children.join_all(CHILD_LIMIT)?).collect())
}

fn plain_variable() -> Result<(), DemoError> {
    println!("1. a plain global `count`, one process increases it, one decreases it:");
    let seen = pair(
        Process::new(increase_count, ()),
        Process::new(decrease_count, ()),
    )?;
    for (name, count) in &seen {
        println!("   {name} saw its own count become {count}");
    }
    let parent = COUNT.load(Ordering::SeqCst);
    println!(
        "   print(count) in the parent: {parent} (each process changed its own copy: \
         nothing was shared, so there was nothing to race on)"
    );
    let children: Vec<i64> = seen.into_iter().map(|(_, count)| count).collect();
    check_eq("what the children saw of their own counts", children, vec![1, -1])?;
    check_eq("the parent's count", parent, 0)
}

/// Runs one increasing and one decreasing process on a fresh shared tally; returns it.
fn shared_tally(lock: Option<&Shared<Lock>>, iterations: u64) -> Result<(i64, u64), DemoError> {
    let tally = Shared::new(Tally::new())?;
    let start_line = Shared::new(Barrier::new(2)?)?;
    let process = |delta: i64| match lock {
        None => Process::new(update_unlocked, (tally.clone(), start_line.clone(), delta, iterations)),
        Some(lock) => Process::new(
            update_locked,
            (tally.clone(), lock.clone(), start_line.clone(), delta, iterations),
        ),
    };
    let outcomes = pair(process(1), process(-1));
    if outcomes.is_err() {
        // A process that waits at the barrier for one that never started is released.
        start_line.abort();
    }
    for (name, outcome) in outcomes? {
        from_child(&name, outcome)?;
    }
    Ok((
        tally.count.load(Ordering::SeqCst),
        tally.updates.load(Ordering::SeqCst),
    ))
}

pub(crate) fn run(ctx: &Context) -> Result<(), DemoError> {
    let args: Args = ctx.parse_args()?;
    let iterations = args.iterations;
    let all_updates = 2 * iterations;

    plain_variable()?;

    println!(
        "2. a shared counter, {iterations} updates +1 by one process and -1 by the other, no lock:"
    );
    let (count, updates) = shared_tally(None, iterations)?;
    let lost = all_updates.saturating_sub(updates);
    if count == 0 && lost == 0 {
        println!(
            "   count {count}, {updates} of {all_updates} updates: none lost this time, by \
             luck (nothing kept the processes from interleaving; not checked)"
        );
    } else {
        println!(
            "   count {count} (should be 0), {updates} of {all_updates} updates counted: \
             {lost} lost, overwritten between another process's read and write (not checked: \
             a loss is likely, not certain)"
        );
    }

    println!("3. the same with lock.acquire() / lock.release() around each update:");
    let lock = Shared::new(Lock::new())?;
    let (count, updates) = shared_tally(Some(&lock), iterations)?;
    println!("   count {count}, {updates} of {all_updates} updates counted");
    check_eq("the locked shared count", count, 0)?;
    check_eq("the updates counted under the lock", updates, all_updates)?;
    // The lock is free again: every acquire had its release.
    check_eq("whether the lock is held at the end", lock.locked(), false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::support::assert_usage_errors;

    #[test]
    fn the_plain_count_stays_zero_and_the_locked_one_is_exact() {
        let ctx = Context::new("process-count-race", vec!["--iterations=20000".into()]);
        run(&ctx).unwrap();
    }

    #[test]
    fn an_unlocked_update_is_a_read_then_a_write() {
        let tally = Tally::new();
        tally.update_unlocked(1);
        tally.update_unlocked(-1);
        tally.update_unlocked(-1);
        assert_eq!(tally.count.load(Ordering::SeqCst), -1);
        assert_eq!(tally.updates.load(Ordering::SeqCst), 3);
    }

    #[test]
    fn bad_arguments_are_usage_errors() {
        assert_usage_errors("process-count-race", run, &[&["--iterations=0"]]);
    }
}
