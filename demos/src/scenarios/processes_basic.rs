//! 000 §2, multiprocessing: five processes each run `task`, which prints that it starts,
//! sleeps one second (the stand-in for slow work) and prints that it ends. The main
//! process creates all five, then starts all five, then joins all five.
//!
//! The processes sleep at the same time, so the sleeps take about one second together,
//! not five; and each is a process of its own, with its own pid. The scenario checks
//! both: five distinct pids, none the parent's, each the one its handle reports, and
//! sleeps that overlap. So that the overlap check measures the sleeps and not how long a
//! busy machine takes to start five processes, each child times its own sleep on the
//! machine's monotonic clock, and the children begin sleeping together, at a barrier in
//! shared memory (which the original does not have). Each line also names its process and
//! pid (the original prints only `进程执行开始` / `进程执行结束`, "the process starts" / "the
//! process ends").
//!
//! The sleep crosses into the children as an argument: a child is a fresh run of the
//! binary (the default start method re-executes it), so it must not depend on a scale
//! set in the parent's memory.

use std::collections::HashSet;
use std::time::Duration;

use mp::processes::{Process, current_process};
use mp::shared_mem::Shared;
use mp::sync::Barrier;

use super::process_support::{
    CHILD_LIMIT, Children, ProcessSpan, check_processes_overlapped, from_child,
};
use super::support::{MIN_CHECKED_SLEEP, scaled_at_least};
use crate::{ChildResult, Context, DemoError, StepContext, Stopwatch, check, check_eq};

#[derive(clap::Parser)]
struct Args {
    /// Processes to start (the original: 5).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=64))]
    processes: u32,
}

/// What a child reports: its pid, as it sees it, and the span of its sleep.
type TaskReport = (u32, ProcessSpan);

/// The original's `task`, run in each child.
fn task(start_line: Shared<Barrier>, work: Duration) -> ChildResult<TaskReport> {
    let me = current_process();
    println!("进程执行开始 ({} starts, pid {})", me.name(), me.pid());
    start_line
        .wait_timeout(CHILD_LIMIT)
        .context("waiting for the other processes")?;
    let ((), slept) = ProcessSpan::around(|| std::thread::sleep(work))?;
    println!("进程执行结束 ({} ends, pid {})", me.name(), me.pid());
    Ok((me.pid(), slept))
}

pub(crate) fn run(ctx: &Context) -> Result<(), DemoError> {
    let args: Args = ctx.parse_args()?;
    let work = scaled_at_least(1.0, MIN_CHECKED_SLEEP);
    let start_line = Shared::new(Barrier::new(args.processes)?)?;
    let parent = std::process::id();
    println!("the parent process is pid {parent}");

    // As the original: create every process first, then start them all.
    let processes: Vec<_> = (0..args.processes)
        .map(|_| Process::new(task, (start_line.clone(), work)))
        .collect();
    let watch = Stopwatch::start();
    let mut children = Children::new();
    for process in processes {
        if let Err(error) = children.start(process) {
            // Release the children already waiting for the ones that did not start.
            start_line.abort();
            return Err(error);
        }
    }
    let handle_pids: Vec<u32> = children.handles().iter().map(|h| h.pid()).collect();
    let names: Vec<String> = children.handles().iter().map(|h| h.name().to_owned()).collect();
    let reports = children.join_all(CHILD_LIMIT)?;
    println!("(all started and joined in {watch})");

    let mut spans = Vec::new();
    for ((name, handle_pid), report) in names.iter().zip(&handle_pids).zip(reports) {
        let (pid, slept) = from_child(name, report)?;
        check_eq(format_args!("the pid {name} saw for itself"), pid, *handle_pid)?;
        spans.push(slept);
    }
    let distinct: HashSet<u32> = handle_pids.iter().copied().collect();
    println!("pids: {handle_pids:?}");
    check_eq("the number of distinct pids", distinct.len(), args.processes as usize)?;
    check(
        !distinct.contains(&parent),
        format_args!("no child has the parent's pid {parent}"),
    )?;
    check_processes_overlapped("the processes' sleeps", &spans)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::support::assert_usage_errors;

    #[test]
    fn five_processes_sleep_together_with_their_own_pids() {
        crate::set_scale(0.01).unwrap();
        run(&Context::new("processes-basic", vec![])).unwrap();
    }

    #[test]
    fn bad_arguments_are_usage_errors() {
        assert_usage_errors("processes-basic", run, &[&["--processes=0"], &["x"]]);
    }
}
