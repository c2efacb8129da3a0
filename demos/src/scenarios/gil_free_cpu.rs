//! 004 3.3 and 001 ch.1-2, the GIL: "a Python thread must hold the Global Interpreter
//! Lock to run; even 100 threads on 100 cores use one core. Python can use several cores
//! only with several processes, each with its own GIL."
//!
//! Rust has no GIL. The scenario runs the same CPU-bound jobs (a chain of arithmetic
//! steps the optimizer cannot skip, sized so that one job takes about half a second at
//! scale 1, less with `--scale`) three ways: one after another in this thread, on a
//! thread pool with a worker per job, and on a process pool with a worker per job. It
//! prints a table of wall times, speed-ups over the sequential run and how many CPUs the
//! jobs kept busy (their CPU time over the wall time: Python's threads could not pass 1).
//!
//! Checked, on any machine however loaded: the three ways computed the same results, and
//! on threads as on processes the jobs ran at the same time. Not checked, only reported:
//! the speed-ups themselves. They are bounded by the CPUs (at most about 2x on two) and
//! fall when other programs share the machine, so a fixed threshold would fail for
//! reasons that are not this code's.

use mp::processes::cpu_count;

use super::pool_support::{Comparison, TABLE_HEADER, cpu_job, cpu_job_rounds};
use crate::{Context, DemoError};

#[derive(clap::Parser)]
struct Args {
    /// CPU-bound jobs, each on its own thread or process.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    jobs: u32,
}

pub(crate) fn run(ctx: &Context) -> Result<(), DemoError> {
    let args: Args = ctx.parse_args()?;
    let cpus = cpu_count();
    let rounds = cpu_job_rounds();
    println!(
        "{} CPU-bound jobs of {rounds} rounds each, on a machine of {cpus} CPU(s)",
        args.jobs
    );
    let comparison = Comparison::measure(args.jobs as usize, cpu_job, rounds)?;
    println!("{TABLE_HEADER}\n{}", comparison.table("CPU-bound"));
    println!(
        "threads: {:.2}x, processes: {:.2}x the speed of one after another, on {cpus} CPU(s) \
         (at most min(jobs, CPUs) = {}x; less when the machine is busy).",
        comparison.threads.speedup(&comparison.sequential),
        comparison.processes.speedup(&comparison.sequential),
        cpus.min(args.jobs as usize)
    );
    println!(
        "In Python the threads' line would stay near 1x and 1 CPU busy: the GIL lets one \
         thread run at a time. Rust threads run in parallel, as processes do."
    );
    if let Some(note) = comparison.load_note() {
        println!("{note}");
    }
    println!("(the speed-ups are reported, not checked: they depend on what else runs here)");
    comparison.check("the CPU-bound jobs")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::support::assert_usage_errors;

    #[test]
    fn the_three_ways_agree_and_the_jobs_run_together() {
        crate::set_scale(0.01).unwrap();
        run(&Context::new("gil-free-cpu", vec!["--jobs=2".into()])).unwrap();
    }

    #[test]
    fn bad_arguments_are_usage_errors() {
        assert_usage_errors("gil-free-cpu", run, &[&["--jobs=0"], &["--jobs=65"]]);
    }
}
