//! 001 ch.2 and 000 §3, threads or processes: "threads suit I/O-bound tasks, processes
//! CPU-bound ones" (because of Python's GIL); "processes cost more to create, but a
//! crashing process does not take the others down".
//!
//! The scenario measures the advice instead of repeating it. The same jobs run one after
//! another, on a thread pool and on a process pool (a worker per job), twice: I/O-bound
//! jobs (a one-second sleep each at scale 1, standing for a network or disk wait) and
//! CPU-bound jobs (about half a second of arithmetic each at scale 1). It also times
//! starting each pool and getting one trivial result from every worker. Then it prints a
//! table and the advice the table supports:
//!
//! - I/O-bound: threads overlap the waits as well as processes do, and start far faster:
//!   use threads (or async).
//! - CPU-bound: in Rust, threads use every CPU as processes do (there is no GIL); choose
//!   processes for isolation (a crash, a leak, a signal kills one worker) or for code
//!   that is not thread-safe, not for speed.
//!
//! Checked: every way computed the same results, and on threads and processes the jobs
//! of each kind ran at the same time. Reported, not checked: speed-ups and start-up
//! times, which depend on the CPUs and on whatever else runs on the machine.

use std::time::{Duration, Instant};

use mp::processes::cpu_count;
use mp::threads::ThreadPool;

use super::pool_support::{
    Comparison, TABLE_HEADER, TASK_LIMIT, close_and_join, cpu_job, cpu_job_rounds, io_job,
    start_pool,
};
use super::support::{MIN_CHECKED_SLEEP, scaled_at_least};
use crate::{Context, DemoError, format_duration};

#[derive(clap::Parser)]
struct Args {
    /// Jobs of each kind, each on its own thread or process.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    jobs: u32,
}

/// A trivial task, to time a pool's start-up up to a first result from every worker.
fn nothing(n: u32) -> u32 {
    n
}

/// How long starting a thread pool of `workers` takes, up to every worker's first result.
fn thread_pool_start(workers: usize) -> Result<Duration, DemoError> {
    let started = Instant::now();
    let pool = ThreadPool::new(workers)?;
    let firsts = pool
        .map_timeout(nothing, 0..workers as u32, TASK_LIMIT)?
        .collect::<Result<Vec<u32>, _>>();
    let took = started.elapsed();
    pool.shutdown(true, false);
    firsts?;
    Ok(took)
}

/// The same for a process pool.
fn process_pool_start(workers: usize) -> Result<Duration, DemoError> {
    let started = Instant::now();
    let pool = start_pool(workers)?;
    let firsts = pool.chunked(1).map(nothing, 0..workers as u32);
    let took = started.elapsed();
    close_and_join(&pool)?;
    firsts?;
    Ok(took)
}

pub(crate) fn run(ctx: &Context) -> Result<(), DemoError> {
    let args: Args = ctx.parse_args()?;
    let jobs = args.jobs as usize;
    let sleep = scaled_at_least(1.0, MIN_CHECKED_SLEEP);
    let rounds = cpu_job_rounds();
    println!(
        "{jobs} I/O-bound jobs (a {} sleep each) and {jobs} CPU-bound jobs ({rounds} rounds \
         each), on a machine of {} CPU(s)",
        format_duration(sleep),
        cpu_count()
    );
    let micros = u64::try_from(sleep.as_micros()).unwrap_or(u64::MAX);
    let io = Comparison::measure(jobs, io_job, micros)?;
    let cpu = Comparison::measure(jobs, cpu_job, rounds)?;
    let threads_start = thread_pool_start(jobs)?;
    let processes_start = process_pool_start(jobs)?;

    println!("{TABLE_HEADER}\n{}\n{}", io.table("I/O-bound"), cpu.table("CPU-bound"));
    println!(
        "starting a pool of {jobs} and a first result from each worker: threads {}, processes {}",
        format_duration(threads_start),
        format_duration(processes_start)
    );
    println!(
        "I/O-bound: threads {:.2}x, processes {:.2}x: waits overlap either way; threads are \
         cheaper to start and share memory, so use threads (or async) for I/O.",
        io.threads.speedup(&io.sequential),
        io.processes.speedup(&io.sequential)
    );
    println!(
        "CPU-bound: threads {:.2}x, processes {:.2}x: with no GIL, Rust threads use the CPUs \
         as processes do; use processes for isolation (a crash kills one worker, not the \
         program), not for speed. In Python the threads' CPU line would stay near 1x.",
        cpu.threads.speedup(&cpu.sequential),
        cpu.processes.speedup(&cpu.sequential)
    );
    if let Some(note) = cpu.load_note() {
        println!("{note}");
    }
    println!("(speed-ups and start-up times are reported, not checked: they depend on the machine's load)");
    io.check("the I/O-bound jobs")?;
    cpu.check("the CPU-bound jobs")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::support::assert_usage_errors;

    #[test]
    fn both_kinds_of_work_run_on_both_kinds_of_pool() {
        crate::set_scale(0.01).unwrap();
        run(&Context::new("threads-vs-processes", vec!["--jobs=2".into()])).unwrap();
    }

    #[test]
    fn bad_arguments_are_usage_errors() {
        assert_usage_errors("threads-vs-processes", run, &[&["--jobs=0"], &["--workers=2"]]);
    }
}
