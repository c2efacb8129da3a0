//! 002, thread synchronization: 1000 threads each run `increment_counter` once, which
//! under `with lock:` reads the global counter into `temp`, adds one and writes it back;
//! the counter must end at 1000.
//!
//! Each thread is started as soon as it is created, as in the original, so many run at
//! once; the lock keeps any two of them from reading the same value.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use mp::sync::Lock;
use mp::threads::Thread;

use super::support::{JOIN_LIMIT, Started};
use crate::{Context, DemoError, check_eq};

#[derive(clap::Parser)]
struct Args {
    /// Threads to start, each incrementing once (the original: 1000).
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    threads: u32,
}

/// The original's two globals.
struct Shared {
    lock: Lock,
    counter: AtomicU64,
}

fn increment_counter(shared: Arc<Shared>) -> Result<(), DemoError> {
    // `with lock:`; the guard releases it at the end of the block.
    let _guard = shared.lock.lock()?;
    // A read, then a write, as in Python: only the lock keeps another thread from writing
    // in between. (Relaxed atomics make a broken lock show up as a lost update, where a
    // plain shared integer would be undefined behaviour.)
    let mut temp = shared.counter.load(Ordering::Relaxed);
    temp += 1;
    shared.counter.store(temp, Ordering::Relaxed);
    Ok(())
}

pub(crate) fn run(ctx: &Context) -> Result<(), DemoError> {
    let args: Args = ctx.parse_args()?;
    let shared = Arc::new(Shared {
        lock: Lock::new(),
        counter: AtomicU64::new(0),
    });

    let started = Started::each(0..args.threads, |_| {
        // A small stack: the thread only increments, and a thousand threads with std's
        // default 2 MiB each would reserve 2 GiB of address space when many are alive at once.
        Thread::new(increment_counter, (Arc::clone(&shared),))
            .stack_size(64 * 1024)
            .start()
    });
    for outcome in started.join_all(JOIN_LIMIT)? {
        outcome?;
    }

    let counter = shared.counter.load(Ordering::Relaxed);
    println!("Final counter value: {counter}");
    check_eq(
        format_args!("the counter after {} threads incremented it once each", args.threads),
        counter,
        u64::from(args.threads),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::support::assert_usage_errors;

    #[test]
    fn every_thread_counts() {
        run(&Context::new("lock-counter-1000-threads", vec!["--threads=200".into()])).unwrap();
    }

    #[test]
    fn bad_arguments_are_usage_errors() {
        assert_usage_errors("lock-counter-1000-threads", run, &[&["--threads=0"]]);
    }
}
