//! 002 "limiting concurrency": five workers share `asyncio.Semaphore(2)`; each enters it
//! (`async with semaphore:`), prints that it starts, sleeps a second, and prints that it
//! finished. At most two run at once.
//!
//! Here the semaphore is `tokio::sync::Semaphore` with 2 permits, and a worker holds its
//! permit (the `async with` block) for as long as it runs. The workers count themselves in
//! and out of the block with an atomic counter and record the highest count: the peak must
//! be exactly the number of permits. Not more (the semaphore limits), and not less (the
//! workers really ran side by side). The scenario also checks that every worker ran once.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Semaphore;

use super::async_support::{asyncio_run, gather};
use super::support::{MIN_CHECKED_SLEEP, Transcript, scaled_at_least};
use crate::{Context, DemoError, Stopwatch, check_eq};

#[derive(clap::Parser)]
struct Args {
    /// Workers to start (the original: 5).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    workers: u32,
    /// Permits of the semaphore (the original: 2).
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=1000))]
    permits: u32,
}

/// How many workers are inside the semaphore now, and the most there ever were.
#[derive(Default)]
struct Occupancy {
    now: AtomicUsize,
    peak: AtomicUsize,
}

/// The original's `worker(semaphore, num)`.
async fn worker(
    semaphore: Arc<Semaphore>,
    num: u32,
    occupancy: Arc<Occupancy>,
    transcript: Arc<Transcript>,
    nap: Duration,
) -> Result<(), DemoError> {
    // `async with semaphore:` (the permit is released when dropped, at the block's end)
    let _permit = semaphore
        .acquire()
        .await
        .map_err(|_| DemoError::other("the semaphore was closed"))?;
    let inside = occupancy.now.fetch_add(1, Ordering::SeqCst) + 1;
    occupancy.peak.fetch_max(inside, Ordering::SeqCst);
    transcript.say(format!("Worker {num} is starting"))?;
    tokio::time::sleep(nap).await;
    transcript.say(format!("Worker {num} is finished"))?;
    occupancy.now.fetch_sub(1, Ordering::SeqCst);
    Ok(())
}

pub(crate) fn run(ctx: &Context) -> Result<(), DemoError> {
    let args: Args = ctx.parse_args()?;
    // Long enough that the workers holding permits are all inside at once, even when a
    // loaded machine delays the event loop.
    let nap = scaled_at_least(1.0, MIN_CHECKED_SLEEP);
    let transcript = Arc::new(Transcript::new());
    let occupancy = Arc::new(Occupancy::default());
    let watch = Stopwatch::start();
    let outcomes = asyncio_run(async {
        let semaphore = Arc::new(Semaphore::new(args.permits as usize));
        let tasks = (0..args.workers)
            .map(|num| {
                tokio::spawn(worker(
                    Arc::clone(&semaphore),
                    num,
                    Arc::clone(&occupancy),
                    Arc::clone(&transcript),
                    nap,
                ))
            })
            .collect();
        gather(tasks).await
    })??;
    outcomes.into_iter().collect::<Result<Vec<()>, DemoError>>()?;
    let peak = occupancy.peak.load(Ordering::SeqCst);
    println!(
        "(all gathered in {watch}; at most {peak} worker(s) were inside the semaphore at once)"
    );

    let lines = transcript.lines()?;
    for num in 0..args.workers {
        check_eq(
            format_args!("the lines of worker {num}"),
            lines.iter().filter(|l| l.starts_with(&format!("Worker {num} "))).count(),
            2,
        )?;
    }
    check_eq(
        "the peak number of workers inside the semaphore",
        peak,
        args.permits.min(args.workers) as usize,
    )?;
    check_eq("the workers inside at the end", occupancy.now.load(Ordering::SeqCst), 0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::support::assert_usage_errors;

    #[test]
    fn at_most_two_workers_at_once_and_two_indeed() {
        crate::set_scale(0.01).unwrap();
        run(&Context::new("async-semaphore", vec![])).unwrap();
    }

    #[test]
    fn the_peak_follows_the_permits() {
        crate::set_scale(0.01).unwrap();
        run(&Context::new("async-semaphore", vec!["--permits=3".into(), "--workers=7".into()]))
            .unwrap();
        run(&Context::new("async-semaphore", vec!["--permits=4".into(), "--workers=2".into()]))
            .unwrap();
    }

    #[test]
    fn bad_arguments_are_usage_errors() {
        assert_usage_errors("async-semaphore", run, &[&["--permits=0"], &["--workers=0"]]);
    }
}
