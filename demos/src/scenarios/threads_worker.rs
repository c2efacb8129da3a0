//! 002, multithreading basics: five threads each run `worker(num)`, which prints
//! `Worker num is running`; each is started as soon as it is created, then all are joined
//! and `All threads have finished.` is printed.
//!
//! Every number from 0 to 4 must be printed exactly once, by the thread given it. The
//! order of the lines is up to the scheduler, as in Python. Here `worker` also returns its
//! number, which `join` hands back (Python's `join` returns nothing).

use std::sync::Arc;

use mp::threads::Thread;

use super::support::{JOIN_LIMIT, Started, Transcript};
use crate::{Context, DemoError, check_eq};

#[derive(clap::Parser)]
struct Args {
    /// Threads to start (the original: 5).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    threads: u32,
}

/// Each thread's task.
fn worker(num: u32, transcript: Arc<Transcript>) -> Result<u32, DemoError> {
    transcript.say(format!("Worker {num} is running"))?;
    Ok(num)
}

pub(crate) fn run(ctx: &Context) -> Result<(), DemoError> {
    let args: Args = ctx.parse_args()?;
    let transcript = Arc::new(Transcript::new());

    let started = Started::each(0..args.threads, |num| {
        Thread::new(worker, (num, Arc::clone(&transcript))).start()
    });
    let returned = started
        .join_all(JOIN_LIMIT)?
        .into_iter()
        .collect::<Result<Vec<u32>, DemoError>>()?;
    println!("All threads have finished.");

    let expected: Vec<u32> = (0..args.threads).collect();
    check_eq("the numbers the threads returned", returned, expected.clone())?;
    let mut printed: Vec<u32> = transcript
        .lines()?
        .iter()
        .filter_map(|line| line.strip_prefix("Worker ")?.strip_suffix(" is running")?.parse().ok())
        .collect();
    printed.sort_unstable();
    check_eq("the numbers printed (sorted)", printed, expected)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::support::assert_usage_errors;

    #[test]
    fn every_number_is_printed_once() {
        run(&Context::new("threads-worker", vec!["--threads=12".into()])).unwrap();
    }

    #[test]
    fn bad_arguments_are_usage_errors() {
        assert_usage_errors("threads-worker", run, &[&["--threads=-1"]]);
    }
}
