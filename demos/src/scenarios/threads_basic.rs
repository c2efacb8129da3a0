//! 000 §1, multithreading: five threads each run `task`, which prints that it starts,
//! sleeps one second (the stand-in for slow work) and prints that it ends. The main thread
//! creates all five, then starts all five, then joins all five.
//!
//! The threads sleep at the same time, so the sleeps take about one second together, not
//! five: the scenario checks that. So that the check measures the sleeps and not how long a
//! busy machine takes to start five threads, each thread times its own sleep, and the
//! threads begin sleeping together, at a barrier (which the original does not have). Each
//! line also names its thread (the original prints only `线程执行开始` / `线程执行结束`,
//! "the thread starts" / "the thread ends"), so that the starts and ends can be matched.

use std::sync::Arc;
use std::time::Duration;

use mp::sync::Barrier;
use mp::threads::{Thread, current_thread};

use super::support::{
    JOIN_LIMIT, MIN_CHECKED_SLEEP, Span, Started, Transcript, check_overlapped,
    scaled_at_least,
};
use crate::{Context, DemoError, Stopwatch, check_eq};

#[derive(clap::Parser)]
struct Args {
    /// Threads to start (the original: 5).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    threads: u32,
}

const STARTS: &str = "线程执行开始";
const ENDS: &str = "线程执行结束";

fn task(
    transcript: Arc<Transcript>,
    start_line: Arc<Barrier>,
    work: Duration,
) -> Result<Span, DemoError> {
    let name = current_thread().name().to_owned();
    transcript.say(format!("{STARTS} ({name} starts)"))?;
    start_line.wait_timeout(JOIN_LIMIT)?;
    let ((), slept) = Span::around(|| std::thread::sleep(work));
    transcript.say(format!("{ENDS} ({name} ends)"))?;
    Ok(slept)
}

pub(crate) fn run(ctx: &Context) -> Result<(), DemoError> {
    let args: Args = ctx.parse_args()?;
    let work = scaled_at_least(1.0, MIN_CHECKED_SLEEP);
    let transcript = Arc::new(Transcript::new());
    let start_line = Arc::new(Barrier::new(args.threads)?);

    // As the original: create every thread first, then start them all.
    let threads: Vec<_> = (0..args.threads)
        .map(|_| Thread::new(task, (Arc::clone(&transcript), Arc::clone(&start_line), work)))
        .collect();
    let watch = Stopwatch::start();
    let started = Started::each(threads, Thread::start);
    if !started.all_started() {
        // Release the threads already waiting for the ones that did not start.
        start_line.abort();
    }
    let slept = started
        .join_all(JOIN_LIMIT)?
        .into_iter()
        .collect::<Result<Vec<Span>, DemoError>>()?;
    println!("(all started and joined in {watch})");

    let lines = transcript.lines()?;
    let starts: Vec<&str> = lines.iter().filter_map(|l| thread_of(l, STARTS)).collect();
    let ends: Vec<&str> = lines.iter().filter_map(|l| thread_of(l, ENDS)).collect();
    check_eq("the number of start lines", starts.len(), args.threads as usize)?;
    check_eq("the number of end lines", ends.len(), args.threads as usize)?;
    let mut started_names = starts.clone();
    started_names.sort_unstable();
    started_names.dedup();
    check_eq(
        "the number of threads that started",
        started_names.len(),
        starts.len(),
    )?;
    let mut ended_names = ends.clone();
    ended_names.sort_unstable();
    check_eq("the threads that ended (sorted)", ended_names, started_names)?;
    check_overlapped("the threads' sleeps", &slept)
}

/// The thread's name in a line that opens with `marker`, as `task` writes it.
fn thread_of<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    let rest = line.strip_prefix(marker)?.strip_prefix(" (")?;
    let end = rest.rfind(' ')?;
    Some(&rest[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::support::assert_usage_errors;

    #[test]
    fn five_threads_sleep_together() {
        crate::set_scale(0.01).unwrap();
        run(&Context::new("threads-basic", vec![])).unwrap();
    }

    #[test]
    fn the_thread_name_is_read_back_from_its_line() {
        assert_eq!(
            thread_of("线程执行开始 (Thread-3 starts)", STARTS),
            Some("Thread-3")
        );
        assert_eq!(thread_of("线程执行结束 (Thread-3 ends)", STARTS), None);
    }

    #[test]
    fn bad_arguments_are_usage_errors() {
        assert_usage_errors("threads-basic", run, &[&["--threads=0"], &["x"]]);
    }
}
