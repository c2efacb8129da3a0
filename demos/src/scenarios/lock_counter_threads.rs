//! 001 ch.3, synchronization between threads: two threads each add 1 to a shared counter
//! 100000 times, taking a lock around every increment; the counter must end at 200000.
//!
//! The original keeps `counter` and `lock` as two globals and writes
//! `lock.acquire(); counter += 1; lock.release()`. Its text is cut off right after the first
//! thread starts; the evident rest (start the second, join both, print the counter) is done
//! here.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use mp_sync::Lock;

use crate::{Context, DemoError, check_eq, join_thread};

/// Far above what the increments take; only a hang gets there.
const JOIN_LIMIT: Duration = Duration::from_secs(120);

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

fn update_counter(shared: &Shared, increments: u64) -> Result<(), DemoError> {
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
    let mut threads = Vec::new();
    let mut not_started = None;
    for number in 1..=args.threads {
        let shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name(format!("Thread-{number}"))
            .spawn(move || update_counter(&shared, args.increments));
        match thread {
            Ok(thread) => threads.push(thread),
            Err(e) => {
                not_started = Some(DemoError::io("starting a thread", e));
                break;
            }
        }
    }
    // Join every thread before looking at any outcome, so that none outlives the scenario.
    let outcomes: Vec<_> = threads
        .into_iter()
        .map(|thread| join_thread(thread, JOIN_LIMIT))
        .collect();
    if let Some(err) = not_started {
        return Err(err);
    }
    for outcome in outcomes {
        outcome??;
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
        for args in [
            vec!["--threads=0".to_owned()],
            vec!["--increments=-1".to_owned()],
            vec!["--threads=256".to_owned(), format!("--increments={}", u64::MAX)],
            vec!["extra".to_owned()],
        ] {
            let ctx = Context::new("lock-counter-threads", args.clone());
            assert!(
                matches!(run(&ctx), Err(DemoError::Usage(_))),
                "{args:?} should be a usage error"
            );
        }
    }
}
