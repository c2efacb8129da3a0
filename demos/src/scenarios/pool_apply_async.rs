//! 004 2.2, the process pool: `p = Pool(4)`, then five `p.apply_async(task, args=(i,))`;
//! each `task` prints its name and pid, sleeps `random.random() * 3` seconds and prints
//! how long it ran. The main process prints `Waiting for all subprocesses done...`,
//! `close()`s the pool, `join()`s it and prints `All subprocesses done.`
//!
//! Five tasks share four workers, so one worker runs two of them, one after the other:
//! the scenario checks that all five ran, in worker processes of the pool (at most four
//! distinct pids, none this process's), and that each slept at least what it was given.
//! The original discards the `AsyncResult`s; here each task hands back its name, pid and
//! time, so that the parent can check them.
//!
//! The random sleeps are drawn here and sent with the tasks, scaled: a worker is a fresh
//! run of the binary and does not know the parent's `--scale`.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use mp::processes::{AsyncResult, current_process};

use super::pool_support::{TASK_LIMIT, close_and_join, random_fraction, start_pool};
use crate::{Context, DemoError, check, check_eq, format_duration, scaled};

#[derive(clap::Parser)]
struct Args {
    /// The pool's worker processes (the original: 4).
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    processes: u32,
    /// Tasks to submit (the original: 5).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    tasks: u32,
}

/// What a task reports: its name, the pid it ran in, and how long it slept.
type TaskReport = (u32, u32, Duration);

/// The original's `task`.
fn task(name: u32, sleep: Duration) -> TaskReport {
    let pid = current_process().pid();
    println!("Run task {name} ({pid})...");
    let start = Instant::now();
    std::thread::sleep(sleep);
    let ran = start.elapsed();
    println!("Task {name} runs {:.2} seconds.", ran.as_secs_f64());
    (name, pid, ran)
}

pub(crate) fn run(ctx: &Context) -> Result<(), DemoError> {
    let args: Args = ctx.parse_args()?;
    println!("Parent process {}.", std::process::id());
    let pool = start_pool(args.processes as usize)?;
    let workers: HashSet<u32> = pool.worker_pids().into_iter().collect();

    let mut sleeps = Vec::new();
    let mut pending: Vec<AsyncResult<TaskReport>> = Vec::new();
    for name in 0..args.tasks {
        let sleep = scaled(random_fraction() * 3.0);
        sleeps.push(sleep);
        pending.push(pool.apply_async(task, (name, sleep))?);
    }
    println!("Waiting for all subprocesses done...");
    close_and_join(&pool)?;
    println!("All subprocesses done.");

    let mut reports = Vec::new();
    for result in pending {
        // Joined: every result is in; the bound only guards against a pool that lied.
        reports.push(result.get_timeout(TASK_LIMIT)?);
    }
    check_reports(&reports, &sleeps, &workers, args.processes as usize)
}

/// All tasks ran, each once, slept its time, in at most `processes` workers of the pool.
fn check_reports(
    reports: &[TaskReport],
    sleeps: &[Duration],
    workers: &HashSet<u32>,
    processes: usize,
) -> Result<(), DemoError> {
    let names: Vec<u32> = reports.iter().map(|r| r.0).collect();
    check_eq(
        "the tasks that reported",
        names,
        (0..sleeps.len() as u32).collect(),
    )?;
    for ((name, _, ran), sleep) in reports.iter().zip(sleeps) {
        check(
            ran >= sleep,
            format_args!(
                "task {name} slept its {} (it ran {})",
                format_duration(*sleep),
                format_duration(*ran)
            ),
        )?;
    }
    let pids: HashSet<u32> = reports.iter().map(|r| r.1).collect();
    println!(
        "{} tasks ran on {} worker process(es) of {processes}: {:?}",
        reports.len(),
        pids.len(),
        {
            let mut pids: Vec<_> = pids.iter().collect();
            pids.sort_unstable();
            pids
        }
    );
    check(
        pids.len() <= processes && pids.is_subset(workers),
        format_args!("the tasks ran on at most {processes} pids, all workers of the pool"),
    )?;
    check(
        !pids.contains(&std::process::id()),
        "no task ran in the parent process",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::support::assert_usage_errors;

    #[test]
    fn five_tasks_run_on_four_workers() {
        crate::set_scale(0.01).unwrap();
        run(&Context::new("pool-apply-async", vec![])).unwrap();
        run(&Context::new(
            "pool-apply-async",
            vec!["--processes=1".into(), "--tasks=3".into()],
        ))
        .unwrap();
    }

    #[test]
    fn bad_arguments_are_usage_errors() {
        assert_usage_errors("pool-apply-async", run, &[&["--processes=0"], &["--tasks=x"]]);
    }

    #[test]
    fn reports_that_break_the_rules_fail_the_check() {
        let ms = Duration::from_millis;
        let workers: HashSet<u32> = [10, 11].into();
        let sleeps = [ms(5), ms(5)];
        let good = [(0, 10, ms(6)), (1, 10, ms(5))];
        assert!(check_reports(&good, &sleeps, &workers, 2).is_ok());
        // A task missing, a short sleep, a pid outside the pool, too many pids.
        assert!(check_reports(&good[..1], &sleeps, &workers, 2).is_err());
        assert!(check_reports(&[(0, 10, ms(6)), (1, 10, ms(4))], &sleeps, &workers, 2).is_err());
        assert!(check_reports(&[(0, 10, ms(6)), (1, 12, ms(5))], &sleeps, &workers, 2).is_err());
        assert!(check_reports(&[(0, 10, ms(6)), (1, 11, ms(5))], &sleeps, &workers, 1).is_err());
    }
}
