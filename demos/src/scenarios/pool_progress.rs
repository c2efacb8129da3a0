//! Beyond the source texts: a long `imap` over a process pool, with a progress bar.
//!
//! In Python one wraps `pool.imap(f, items)` in `tqdm(..., total=len(items))`. Here
//! [`Pool::imap`](mp::processes::Pool::imap) gives an exact-size iterator, so the
//! `indicatif` crate's `ProgressIterator` knows the total by itself: the bar advances
//! as each result arrives, in the items' order. It is drawn only when standard output is
//! a terminal (not in `demos all`, nor in a pipe), where it would be noise.
//!
//! Each task counts the Collatz steps of its number (a little real work the parent can
//! redo to check) and pauses a few milliseconds, scaled, so that the bar visibly moves.
//! Every one of the results is checked.

use std::time::Duration;

use indicatif::ProgressIterator;

use super::pool_support::{close_and_join, progress_bar, start_pool};
use crate::{Context, DemoError, Stopwatch, check, check_eq, scaled};

#[derive(clap::Parser)]
struct Args {
    /// The pool's worker processes.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    processes: u32,
    /// Tasks: the numbers 1..=N.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    tasks: u64,
    /// Each task's pause, in seconds at scale 1.
    #[arg(long, default_value_t = 0.005, value_parser = pause_seconds)]
    pause: f64,
}

fn pause_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(seconds) if seconds.is_finite() && (0.0..=10.0).contains(&seconds) => Ok(seconds),
        _ => Err(format!("`{text}` is not a pause from 0 to 10 seconds")),
    }
}

/// How many steps of the Collatz rule take `n` to 1.
fn collatz_steps(n: u64) -> u32 {
    let mut n = n.max(1);
    let mut steps = 0;
    while n != 1 {
        n = if n.is_multiple_of(2) { n / 2 } else { 3 * n + 1 };
        steps += 1;
    }
    steps
}

/// A task: the steps of its number, after its pause.
fn task(item: (u64, Duration)) -> u32 {
    std::thread::sleep(item.1);
    collatz_steps(item.0)
}

pub(crate) fn run(ctx: &Context) -> Result<(), DemoError> {
    let args: Args = ctx.parse_args()?;
    let pause = scaled(args.pause);
    let pool = start_pool(args.processes as usize)?;
    let watch = Stopwatch::start();
    let results = pool
        .imap(task, (1..=args.tasks).map(|n| (n, pause)))?;
    let bar = progress_bar(results.len() as u64, "tasks")?;
    let steps = results
        .progress_with(bar.clone())
        .collect::<Result<Vec<u32>, _>>()?;
    bar.finish();
    if !bar.is_hidden() {
        // The finished bar stays on screen; the next line goes below it.
        println!();
    }
    close_and_join(&pool)?;
    println!(
        "{} results from {} worker processes in {watch}; the longest chain: {} steps",
        steps.len(),
        args.processes,
        steps.iter().max().copied().unwrap_or(0)
    );

    check_eq("the progress bar's position", bar.position(), args.tasks)?;
    check_steps(&steps, args.tasks)
}

/// Every task's result, in order.
fn check_steps(steps: &[u32], tasks: u64) -> Result<(), DemoError> {
    check_eq("the number of results", steps.len() as u64, tasks)?;
    for (n, got) in (1..=tasks).zip(steps) {
        check(
            *got == collatz_steps(n),
            format_args!("task {n} gives {} steps (it gave {got})", collatz_steps(n)),
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::support::assert_usage_errors;

    #[test]
    fn every_result_comes_back_past_the_bar() {
        crate::set_scale(0.01).unwrap();
        run(&Context::new("pool-progress", vec![])).unwrap();
        run(&Context::new(
            "pool-progress",
            vec!["--processes=1".into(), "--tasks=3".into(), "--pause=0".into()],
        ))
        .unwrap();
    }

    #[test]
    fn bad_arguments_are_usage_errors() {
        assert_usage_errors("pool-progress", run, &[&["--processes=0"], &["--tasks=0"], &["--pause=-1"], &["--pause=NaN"]]);
    }

    #[test]
    fn wrong_or_missing_results_fail_the_check() {
        assert_eq!(collatz_steps(1), 0);
        assert_eq!(collatz_steps(6), 8);
        let right: Vec<u32> = (1..=5).map(collatz_steps).collect();
        assert!(check_steps(&right, 5).is_ok());
        assert!(check_steps(&right[..4], 5).is_err());
        let mut wrong = right.clone();
        wrong[2] += 1;
        assert!(check_steps(&wrong, 5).is_err());
    }
}
