//! 002 "async queue": a producer task puts 0..4 into an `asyncio.Queue`, printing each
//! and sleeping a second after it; a consumer task takes items forever, printing each and
//! calling `task_done()`. `main` awaits the producer, then `queue.join()` (every item
//! processed), then cancels the consumer, which would otherwise wait forever.
//!
//! tokio's channels have no `task_done`/`join`; mp-ipc's `JoinableQueue` has them, and
//! `get_async` and `join_async` await them from any runtime (woken by mp-sys's reactor,
//! no thread parked per wait), so the asyncio queue becomes the same queue that works
//! between processes. The consumer is cancelled as asyncio cancels a task:
//! `JoinHandle::abort`, and awaiting the handle then reports the cancellation. The
//! scenario checks that 0..4 were consumed in order, each after it was produced; that
//! `join` returned only once every item was marked done; and that the consumer ended by
//! being cancelled, not by itself. If the consumer fails before the queue is joined, the
//! scenario reports that instead of waiting for a `join` that cannot come.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use mp::ipc::JoinableQueue;

use super::async_support::{asyncio_run, task_error};
use super::support::Transcript;
use crate::{Context, DemoError, check, check_eq, scaled};

#[derive(clap::Parser)]
struct Args {
    /// Items the producer puts (the original: 5, that is 0..4).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    items: u32,
}

/// The original's `producer(queue)`.
async fn producer(
    queue: JoinableQueue<u32>,
    items: u32,
    transcript: Arc<Transcript>,
    nap: Duration,
) -> Result<(), DemoError> {
    for i in 0..items {
        // An unbounded queue: `put` never waits, so it needs no `_async` form here.
        queue.put(&i)?;
        transcript.say(format!("Produced {i}"))?;
        tokio::time::sleep(nap).await;
    }
    Ok(())
}

/// The original's `consumer(queue)`: never returns on its own, only by being cancelled
/// (or by failing).
async fn consumer(
    queue: JoinableQueue<u32>,
    consumed: Arc<Mutex<Vec<u32>>>,
    transcript: Arc<Transcript>,
) -> Result<(), DemoError> {
    loop {
        let item = queue.get_async().await?;
        transcript.say(format!("Consumed {item}"))?;
        consumed.lock().unwrap_or_else(PoisonError::into_inner).push(item);
        queue.task_done()?;
    }
}

/// What `main` saw.
struct Seen {
    /// Items consumed when `join` returned.
    consumed_at_join: usize,
    /// Items not yet marked done when `join` returned.
    unfinished_at_join: usize,
    /// Whether awaiting the consumer after `abort` reported a cancellation.
    consumer_cancelled: bool,
    /// Items left in the queue at the end.
    left: usize,
}

pub(crate) fn run(ctx: &Context) -> Result<(), DemoError> {
    let args: Args = ctx.parse_args()?;
    let nap = scaled(1.0);
    let transcript = Arc::new(Transcript::new());
    let consumed = Arc::new(Mutex::new(Vec::new()));
    let seen = asyncio_run(async {
        let queue = JoinableQueue::<u32>::new()?;
        let producer_task = tokio::spawn(producer(
            queue.clone(),
            args.items,
            Arc::clone(&transcript),
            nap,
        ));
        let mut consumer_task = tokio::spawn(consumer(
            queue.clone(),
            Arc::clone(&consumed),
            Arc::clone(&transcript),
        ));
        producer_task.await.map_err(task_error)??;
        // `await queue.join()`, unless the consumer ends first (it can only fail).
        tokio::select! {
            joined = queue.join_async() => joined?,
            ended = &mut consumer_task => {
                ended.map_err(task_error)??;
                return Err(DemoError::other("the consumer stopped before the queue was joined"));
            }
        }
        let consumed_at_join = consumed.lock().unwrap_or_else(PoisonError::into_inner).len();
        let unfinished_at_join = queue.unfinished_tasks();
        println!("queue.join() returned: every item was marked done; cancelling the consumer");
        consumer_task.abort();
        let consumer_cancelled = match consumer_task.await {
            Err(error) if error.is_cancelled() => true,
            Err(error) => return Err(task_error(error)),
            Ok(ended) => {
                ended?;
                false
            }
        };
        Ok(Seen {
            consumed_at_join,
            unfinished_at_join,
            consumer_cancelled,
            left: queue.qsize(),
        })
    })??;
    println!(
        "the consumer {}",
        if seen.consumer_cancelled { "was cancelled" } else { "was NOT cancelled" }
    );

    let consumed = consumed.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let expected: Vec<u32> = (0..args.items).collect();
    check_eq("the items consumed, in order", consumed, expected)?;
    let lines = transcript.lines()?;
    for i in 0..args.items {
        let produced = lines.iter().position(|l| *l == format!("Produced {i}"));
        let used = lines.iter().position(|l| *l == format!("Consumed {i}"));
        check(
            produced.is_some() && used.is_some() && produced < used,
            format_args!("item {i} was produced, then consumed"),
        )?;
    }
    check_eq("the items consumed when join() returned", seen.consumed_at_join, args.items as usize)?;
    check_eq("the items not marked done when join() returned", seen.unfinished_at_join, 0)?;
    check_eq("the items left in the queue", seen.left, 0)?;
    check(seen.consumer_cancelled, "the consumer ended by being cancelled")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::support::assert_usage_errors;

    #[test]
    fn every_item_is_consumed_then_the_consumer_is_cancelled() {
        crate::set_scale(0.01).unwrap();
        run(&Context::new("async-queue", vec![])).unwrap();
        run(&Context::new("async-queue", vec!["--items=1".into()])).unwrap();
    }

    #[test]
    fn a_failing_consumer_is_reported_not_waited_for() {
        let outcome = asyncio_run(async {
            let queue = JoinableQueue::<u32>::new().unwrap();
            queue.put(&1).unwrap();
            // A task_done too many fails the consumer at its first item.
            queue.task_done().unwrap();
            let consumer = tokio::spawn(consumer(
                queue.clone(),
                Arc::new(Mutex::new(Vec::new())),
                Arc::new(Transcript::new()),
            ));
            consumer.await.map_err(task_error)?
        })
        .unwrap();
        assert!(outcome.is_err());
    }

    #[test]
    fn bad_arguments_are_usage_errors() {
        assert_usage_errors("async-queue", run, &[&["--items=0"]]);
    }
}
