//! 002 asyncio, the basic example: `main` creates a task per worker (`asyncio.create_task`)
//! and gathers them; each worker prints that it starts, sleeps a second with
//! `await asyncio.sleep(1)`, and prints that it finished.
//!
//! asyncio runs them all on one thread, and they still sleep together: five one-second
//! sleeps take about one second. The scenario checks what that means: every worker
//! started before any finished (each gave the thread up at its `await`), every worker ran
//! on the thread of the event loop, and the sleeps overlapped (measured by each worker
//! around its own sleep, against a limit from this run's durations; see
//! `check_overlapped`).

use std::sync::Arc;
use std::thread::ThreadId;
use std::time::Duration;

use super::async_support::{asyncio_run, gather, span_of};
use super::support::{MIN_CHECKED_SLEEP, Span, Transcript, check_overlapped, scaled_at_least};
use crate::{Context, DemoError, Stopwatch, check, check_eq};

#[derive(clap::Parser)]
struct Args {
    /// Workers to start (the original: 5).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    workers: u32,
}

/// What a worker reports back: its sleep, and the thread it ran on.
struct Ran {
    slept: Span,
    thread: ThreadId,
}

/// The original's `worker(num)`.
async fn worker(num: u32, transcript: Arc<Transcript>, nap: Duration) -> Result<Ran, DemoError> {
    transcript.say(format!("Worker {num} is starting"))?;
    let ((), slept) = span_of(tokio::time::sleep(nap)).await;
    transcript.say(format!("Worker {num} is finished"))?;
    Ok(Ran {
        slept,
        thread: std::thread::current().id(),
    })
}

pub(crate) fn run(ctx: &Context) -> Result<(), DemoError> {
    let args: Args = ctx.parse_args()?;
    let nap = scaled_at_least(1.0, MIN_CHECKED_SLEEP);
    let transcript = Arc::new(Transcript::new());
    let watch = Stopwatch::start();
    let (ran, loop_thread) = asyncio_run(async {
        let tasks = (0..args.workers)
            .map(|num| tokio::spawn(worker(num, Arc::clone(&transcript), nap)))
            .collect();
        (gather(tasks).await, std::thread::current().id())
    })?;
    let ran = ran?.into_iter().collect::<Result<Vec<Ran>, DemoError>>()?;
    println!("(all gathered in {watch})");

    let lines = transcript.lines()?;
    let workers = args.workers as usize;
    let starts: Vec<&String> = lines.iter().filter(|l| l.ends_with("is starting")).collect();
    let ends: Vec<&String> = lines.iter().filter(|l| l.ends_with("is finished")).collect();
    check_eq("the start lines", starts.len(), workers)?;
    check_eq("the end lines", ends.len(), workers)?;
    for num in 0..args.workers {
        check_eq(
            format_args!("the lines of worker {num}"),
            lines.iter().filter(|l| l.starts_with(&format!("Worker {num} "))).count(),
            2,
        )?;
    }
    let first_end = lines.iter().position(|l| l.ends_with("is finished"));
    let last_start = lines.iter().rposition(|l| l.ends_with("is starting"));
    check(
        last_start < first_end,
        "every worker started before any finished (each gave the thread up at its await)",
    )?;
    check(
        ran.iter().all(|r| r.thread == loop_thread),
        "every worker ran on the event loop's one thread",
    )?;
    let spans: Vec<Span> = ran.iter().map(|r| r.slept).collect();
    check_overlapped("the workers' sleeps", &spans)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::support::assert_usage_errors;

    #[test]
    fn five_workers_sleep_together_on_one_thread() {
        crate::set_scale(0.01).unwrap();
        run(&Context::new("async-gather", vec![])).unwrap();
    }

    #[test]
    fn bad_arguments_are_usage_errors() {
        assert_usage_errors("async-gather", run, &[&["--workers=0"], &["x"]]);
    }
}
