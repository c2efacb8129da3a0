//! 004 3.2, the thread lock: two threads run `balance = balance + n; balance = balance - n`
//! 100000 times each (n = 5 and n = 8), holding a lock around each pair; the balance must
//! end at 0.
//!
//! The original takes the lock with `lock.acquire()` and gives it back in a `finally`; here
//! the balance lives inside a `Mutex` and the guard is the `finally`. After the original's
//! output, the same two threads run once more *without* the lock, to show what the lock
//! prevents (that run is printed, not checked: it could come out right by luck; it yields
//! its CPU between each read and write, as the seed's code widens the race, and is tried
//! again, a few times at most, until it shows a lost update).
//! In both runs the two threads start together at a barrier, so that they really overlap.

use std::hint::black_box;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use mp::sync::{Barrier, Mutex};
use mp::threads::Thread;

use super::support::{JOIN_LIMIT, Started};
use crate::{Context, DemoError, check_eq};

/// The amounts the original's two threads add and take away.
const AMOUNTS: [i64; 2] = [5, 8];

#[derive(clap::Parser)]
struct Args {
    /// Iterations per thread (the original: 100000).
    #[arg(long, default_value_t = 100_000)]
    iterations: u64,
    /// Skip the comparison run without the lock.
    #[arg(long)]
    no_unlocked_run: bool,
}

/// "Add first, then subtract: the result should be 0."
fn change_it(balance: &mut i64, n: i64) {
    *balance += n;
    // The intermediate balance really is stored, as Python stores it: without this the
    // compiler would fold the two lines into nothing, and the check would prove nothing.
    black_box(&mut *balance);
    *balance -= n;
}

fn run_thread(balance: &Mutex<i64>, n: i64, iterations: u64) -> Result<(), DemoError> {
    for _ in 0..iterations {
        let mut guard = balance.lock()?;
        change_it(&mut guard, n);
        // The guard drops here: the original's `finally: lock.release()`.
    }
    Ok(())
}

/// The same two threads with no lock: each line of `change_it` is a read and a write of
/// its own, and another thread's write between them is lost.
/// The unlocked pair, with the race widened as the seed's own code widens it: the thread
/// gives up its CPU between reading the balance and writing it back, so the other thread
/// gets to write in between (Python's interpreter switches threads at such points; two
/// Rust threads on two cores rarely collide in a window of a few nanoseconds).
fn run_thread_unlocked(balance: &AtomicI64, n: i64, iterations: u64) {
    for _ in 0..iterations {
        let read = balance.load(Ordering::Relaxed);
        std::thread::yield_now();
        balance.store(read + n, Ordering::Relaxed);
        let read = balance.load(Ordering::Relaxed);
        std::thread::yield_now();
        balance.store(read - n, Ordering::Relaxed);
    }
}

/// How many unlocked runs to try for one that shows a lost update.
const UNLOCKED_TRIES: u32 = 5;

/// Starts one thread per amount (Python's default names, `Thread-N`) and joins them all.
///
/// The threads wait for each other at a barrier before they begin, so that they really run
/// at the same time: a thread started a little late could otherwise find the other one
/// already done, and the comparison run would show nothing.
fn on_threads<F>(body: F) -> Result<(), DemoError>
where
    F: Fn(i64) -> Result<(), DemoError> + Send + Sync + Clone + 'static,
{
    let start_line = Arc::new(Barrier::new(AMOUNTS.len() as u32)?);
    let started = Started::each(AMOUNTS, |n| {
        let body = body.clone();
        let start_line = Arc::clone(&start_line);
        Thread::new(
            move |n: i64| {
                start_line.wait_timeout(JOIN_LIMIT)?;
                body(n)
            },
            (n,),
        )
        .start()
    });
    if !started.all_started() {
        // Release the threads already waiting for the one that did not start.
        start_line.abort();
    }
    for outcome in started.join_all(JOIN_LIMIT)? {
        outcome?;
    }
    Ok(())
}

pub(crate) fn run(ctx: &Context) -> Result<(), DemoError> {
    let args: Args = ctx.parse_args()?;
    let iterations = args.iterations;

    let balance = Arc::new(Mutex::new(0i64));
    on_threads({
        let balance = Arc::clone(&balance);
        move |n| run_thread(&balance, n, iterations)
    })?;
    let locked_result = *balance.lock()?;
    println!("{locked_result}");

    if !args.no_unlocked_run {
        let mut outcome = 0;
        for _ in 0..UNLOCKED_TRIES {
            let unlocked = Arc::new(AtomicI64::new(0));
            on_threads({
                let unlocked = Arc::clone(&unlocked);
                move |n| {
                    run_thread_unlocked(&unlocked, n, iterations);
                    Ok(())
                }
            })?;
            outcome = unlocked.load(Ordering::Relaxed);
            if outcome != 0 {
                break;
            }
        }
        match outcome {
            0 => println!(
                "without the lock (not checked): 0 in {UNLOCKED_TRIES} runs, by luck: the \
                 threads never wrote between each other's read and write"
            ),
            wrong => println!(
                "without the lock (not checked): {wrong}: a thread wrote between the other's \
                 read and write, and that update was lost"
            ),
        }
    }

    check_eq(
        format_args!("the balance after {iterations} locked add-then-subtract pairs per thread"),
        locked_result,
        0,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::support::assert_usage_errors;

    #[test]
    fn the_locked_balance_ends_at_zero() {
        let ctx = Context::new("lock-balance", vec!["--iterations=20000".into()]);
        run(&ctx).unwrap();
    }

    #[test]
    fn change_it_leaves_the_balance_as_it_was() {
        let mut balance = 7;
        change_it(&mut balance, 5);
        assert_eq!(balance, 7);
    }

    #[test]
    fn bad_arguments_are_usage_errors() {
        assert_usage_errors("lock-balance", run, &[&["--iterations=many"]]);
    }
}
