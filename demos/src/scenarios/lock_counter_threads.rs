//! 001 ch.3, synchronization between threads: two threads each add 1 to a shared counter
//! 100000 times, taking a lock around every increment; the counter must end at 200000.
//!
//! The original keeps `counter` and `lock` as two globals and writes
//! `lock.acquire(); counter += 1; lock.release()`. Its text is cut off right after the first
//! thread starts; the evident rest (start the second, join both, print the counter) is done
//! here.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use mp::sync::Lock;
use mp::threads::Thread;

use super::support::{JOIN_LIMIT, Started};
use crate::{Context, DemoError, check_eq};

#[derive(clap::Parser)]
struct Args {
    /// Increments per thread (the original: 100000).
    #[arg(long, default_value_t = 100_000)]
    increments: u64,
    /// Threads incrementing at once (the original: 2).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=256))]
    threads: u32,
}

/// The original's two globals.
struct Shared {
    lock: Lock,
    counter: AtomicU64,
}

fn update_counter(shared: Arc<Shared>, increments: u64) -> Result<(), DemoError> {
    for _ in 0..increments {
        shared.lock.acquire()?;
        // `counter += 1` is a read and then a write, as in Python: only the lock keeps another
        // thread from writing in between. (Relaxed atomics make a broken lock show up as lost
        // updates, where a plain shared integer would be undefined behaviour.)
        let value = shared.counter.load(Ordering::Relaxed);
        shared.counter.store(value + 1, Ordering::Relaxed);
        shared.lock.release()?;
    }
    Ok(())
}

pub(crate) fn run(ctx: &Context) -> Result<(), DemoError> {
    let args: Args = ctx.parse_args()?;
    let expected = u64::from(args.threads)
        .checked_mul(args.increments)
        .ok_or_else(|| DemoError::Usage("--threads x --increments does not fit in 64 bits".into()))?;

    let shared = Arc::new(Shared {
        lock: Lock::new(),
        counter: AtomicU64::new(0),
    });
    // Threads get Python's default names, Thread-1 and Thread-2.
    let started = Started::each(0..args.threads, |_| {
        Thread::new(update_counter, (Arc::clone(&shared), args.increments)).start()
    });
    // Every thread is joined before any outcome is looked at, so none outlives the scenario.
    for outcome in started.join_all(JOIN_LIMIT)? {
        outcome?;
    }

    let counter = shared.counter.load(Ordering::Relaxed);
    println!("Final counter value: {counter}");
    check_eq(
        format_args!(
            "the counter after {} threads x {} locked increments",
            args.threads, args.increments
        ),
        counter,
        expected,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::support::assert_usage_errors;

    #[test]
    fn counts_every_increment() {
        let ctx = Context::new(
            "lock-counter-threads",
            vec!["--threads=4".into(), "--increments=5000".into()],
        );
        run(&ctx).unwrap();
    }

    #[test]
    fn bad_arguments_are_usage_errors() {
        let too_many = format!("--increments={}", u64::MAX);
        assert_usage_errors(
            "lock-counter-threads",
            run,
            &[
                &["--threads=0"],
                &["--increments=-1"],
                &["--threads=256", &too_many],
                &["extra"],
            ],
        );
    }
}
