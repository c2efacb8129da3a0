//! 002, multi-process basics: five processes each run `worker(num)`, which prints its
//! number and the pid of the process it runs in; the main process starts each as soon as
//! it is created, joins them all, then prints that all have finished.
//!
//! Each child is a process of its own: the scenario checks that the five pids are
//! distinct, that none is the parent's, and that each is the pid the parent's handle
//! reports. The child returns its pid (`std::process::id()`, Python's `os.getpid()`), so
//! the check uses what the child saw, not only what the parent was told.

use std::collections::HashSet;

use mp::processes::Process;

use super::process_support::{CHILD_LIMIT, Children};
use crate::{Context, DemoError, check, check_eq};

#[derive(clap::Parser)]
struct Args {
    /// Processes to start (the original: 5).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=64))]
    processes: u32,
}

/// The original's `worker`: "the task each process runs".
fn worker(num: u32) -> u32 {
    let pid = std::process::id();
    println!("Worker {num} is running in process {pid}");
    pid
}

pub(crate) fn run(ctx: &Context) -> Result<(), DemoError> {
    let args: Args = ctx.parse_args()?;
    let parent = std::process::id();
    println!("(the parent process is pid {parent})");

    let mut children = Children::new();
    for num in 0..args.processes {
        children.start(Process::new(worker, (num,)))?;
    }
    let handle_pids: Vec<u32> = children.handles().iter().map(|h| h.pid()).collect();
    let seen_pids = children.join_all(CHILD_LIMIT)?;
    println!("All processes have finished.");

    for (num, (seen, told)) in seen_pids.iter().zip(&handle_pids).enumerate() {
        check_eq(format_args!("the pid worker {num} printed"), seen, told)?;
    }
    let distinct: HashSet<u32> = seen_pids.iter().copied().collect();
    check_eq("the number of distinct pids", distinct.len(), args.processes as usize)?;
    check(
        !distinct.contains(&parent),
        format_args!("no worker ran in the parent process (pid {parent})"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::support::assert_usage_errors;

    #[test]
    fn five_workers_print_five_distinct_pids() {
        run(&Context::new("process-worker-pid", vec![])).unwrap();
    }

    #[test]
    fn bad_arguments_are_usage_errors() {
        assert_usage_errors("process-worker-pid", run, &[&["--processes=0"]]);
    }
}
