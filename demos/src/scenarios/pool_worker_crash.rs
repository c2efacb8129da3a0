//! Beyond the source texts: a task kills the worker process that runs it.
//!
//! A native library that segfaults, an `abort()`, the kernel's out-of-memory killer: a
//! worker of a process pool can die in the middle of a task. Python's
//! `multiprocessing.Pool` then waits for that task's result for ever (`map` hangs;
//! `ProcessPoolExecutor` instead breaks, failing every task still pending). mp-processes'
//! [`Pool`](mp::processes::Pool) notices the death by the worker's pidfd, fails that one
//! task with [`Error::Signaled`](mp::processes::Error::Signaled) naming the signal, starts
//! a replacement worker and runs every other task to completion.
//!
//! The scenario submits tasks `0..N` with `apply_async`; task `--crash` sends itself
//! `SIGKILL` (or, with `--signal abort`, calls `abort()`, `SIGABRT`). It checks that this
//! task's result is an error naming the signal, that every other task's result is right,
//! and that the same pool then runs a `map` over all the items correctly.

use std::collections::HashSet;

use mp::processes::{AsyncResult, Error};
use nix::sys::signal::{Signal, raise};

use super::pool_support::{TASK_LIMIT, close_and_join, start_pool};
use crate::{Context, DemoError, check, check_eq};

/// How the crashing task dies.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
enum Death {
    /// It sends itself `SIGKILL`, as the out-of-memory killer would.
    Kill,
    /// It calls `abort()` (`SIGABRT`), as a failing native library would (where core
    /// dumps are enabled, the system may write one for the worker).
    Abort,
}

impl Death {
    fn signal_name(self) -> &'static str {
        match self {
            Death::Kill => "SIGKILL",
            Death::Abort => "SIGABRT",
        }
    }
}

#[derive(clap::Parser)]
struct Args {
    /// The pool's worker processes.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    processes: u32,
    /// Tasks to submit, numbered from 0.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=1000))]
    tasks: u32,
    /// The task that kills its worker.
    #[arg(long, default_value_t = 3)]
    crash: u32,
    /// How it dies.
    #[arg(long, value_enum, default_value_t = Death::Kill)]
    signal: Death,
}

/// A task: its square, unless it is the one that kills its worker.
fn risky(n: u32, crash: u32, abort: bool) -> u64 {
    if n == crash {
        println!("task {n}: killing my worker (pid {})", std::process::id());
        if abort {
            std::process::abort();
        }
        // Should raising fail, the task returns a wrong square, which the parent reports.
        let _ = raise(Signal::SIGKILL);
    }
    u64::from(n) * u64::from(n)
}

/// The square, for the map after the crash.
fn square(n: u32) -> u64 {
    u64::from(n) * u64::from(n)
}

pub(crate) fn run(ctx: &Context) -> Result<(), DemoError> {
    let args: Args = ctx.parse_args()?;
    if args.crash >= args.tasks {
        return Err(DemoError::Usage(format!(
            "--crash {} names no task: the tasks are 0..{}",
            args.crash, args.tasks
        )));
    }
    let pool = start_pool(args.processes as usize)?;
    let before = pool.worker_pids();
    println!("workers: {before:?}");

    let abort = matches!(args.signal, Death::Abort);
    let pending: Vec<AsyncResult<u64>> = (0..args.tasks)
        .map(|n| pool.apply_async(risky, (n, args.crash, abort)))
        .collect::<Result<_, _>>()?;
    let outcomes: Vec<Result<u64, Error>> = pending
        .iter()
        .map(|result| result.get_timeout(TASK_LIMIT))
        .collect();
    for (n, outcome) in outcomes.iter().enumerate() {
        match outcome {
            Ok(value) => println!("task {n}: {value}"),
            Err(error) => println!("task {n}: failed: {error}"),
        }
    }
    check_outcomes(&outcomes, args.crash, args.signal.signal_name())?;
    println!("(Python's Pool would still be waiting for task {}: its result never comes)", args.crash);

    // The pool goes on: a replacement worker took the dead one's place.
    let again = pool.map(square, 0..args.tasks)?;
    let after = pool.worker_pids();
    close_and_join(&pool)?;
    println!("then map(square, 0..{}) on the same pool: {again:?}", args.tasks);
    let replaced: Vec<u32> = {
        let before: HashSet<u32> = before.iter().copied().collect();
        after.iter().copied().filter(|pid| !before.contains(pid)).collect()
    };
    println!("workers now: {after:?} (new: {replaced:?})");
    check_eq(
        "the map after the crash",
        again,
        (0..args.tasks).map(square).collect(),
    )?;
    check_eq(
        "the workers after the crash",
        after.len(),
        args.processes as usize,
    )
}

/// Task `crash` failed with `signal`; every other task has its square.
fn check_outcomes(
    outcomes: &[Result<u64, Error>],
    crash: u32,
    signal: &str,
) -> Result<(), DemoError> {
    for (n, outcome) in (0u32..).zip(outcomes) {
        if n == crash {
            let named = matches!(outcome, Err(Error::Signaled { signal_name, .. }) if signal_name == signal);
            check(
                named,
                format_args!("task {n} fails with {signal} (it gave {outcome:?})"),
            )?;
        } else {
            check(
                matches!(outcome, Ok(value) if *value == u64::from(n) * u64::from(n)),
                format_args!("task {n} gives {} (it gave {outcome:?})", n * n),
            )?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::support::assert_usage_errors;

    #[test]
    fn the_killed_task_fails_alone_and_the_pool_goes_on() {
        run(&Context::new("pool-worker-crash", vec![])).unwrap();
    }

    #[test]
    fn an_aborting_task_fails_with_sigabrt() {
        let ctx = Context::new(
            "pool-worker-crash",
            vec!["--signal=abort".into(), "--processes=2".into(), "--crash=0".into()],
        );
        run(&ctx).unwrap();
    }

    #[test]
    fn bad_arguments_are_usage_errors() {
        assert_usage_errors("pool-worker-crash", run, &[&["--processes=0"], &["--tasks=4", "--crash=4"], &["--signal=term"]]);
    }

    #[test]
    fn outcomes_that_break_the_rules_fail_the_check() {
        let killed = || Err(Error::Signaled {
            name: "worker".into(),
            signal: 9,
            signal_name: "SIGKILL".into(),
        });
        assert!(check_outcomes(&[Ok(0), killed(), Ok(4)], 1, "SIGKILL").is_ok());
        // The wrong signal, no failure at all, a wrong value elsewhere.
        assert!(check_outcomes(&[Ok(0), killed(), Ok(4)], 1, "SIGABRT").is_err());
        assert!(check_outcomes(&[Ok(0), Ok(1), Ok(4)], 1, "SIGKILL").is_err());
        assert!(check_outcomes(&[Ok(0), killed(), Ok(5)], 1, "SIGKILL").is_err());
    }
}
