//! 002, communication between threads: a producer thread puts 0..4 on a `queue.Queue`,
//! printing `Produced i`; a consumer thread gets them, printing `Consumed i`. Every item
//! must be consumed, in order.
//!
//! The original's consumer loops `while not q.empty(): item = q.get()`, and the two
//! threads start together. That is a race: if the consumer looks before the producer's
//! first `put`, or catches up with it between two `put`s, it finds the queue empty and
//! stops, leaving items behind. Here the consumer blocks in `get` instead, and the producer
//! says when it is done with `shutdown()` (Python 3.13's `Queue.shutdown`): `get` returns
//! the items still queued, then fails with `ShutDown`, which ends the consumer. After that
//! the original's consumer runs too, to show what it would have got (printed, not
//! checked: the race has no fixed outcome).

use std::sync::Arc;

use mp::threads::{Error as ThreadsError, Queue, Thread};

use super::support::{JOIN_LIMIT, Transcript, join_within};
use crate::{Context, DemoError, check_eq};

#[derive(clap::Parser)]
struct Args {
    /// Items the producer puts (the original: 5).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(0..=1_000_000))]
    items: u32,
    /// Skip the run with the original's consumer, which polls `empty()`.
    #[arg(long)]
    no_racy_run: bool,
}

fn producer(q: Arc<Queue<u32>>, items: u32, transcript: Arc<Transcript>) -> Result<(), DemoError> {
    for i in 0..items {
        q.put(i)?;
        transcript.say(format!("Produced {i}"))?;
    }
    // Nothing more will come: the consumer's `get` fails once the queue is drained.
    q.shutdown(false);
    Ok(())
}

fn consumer(q: Arc<Queue<u32>>, transcript: Arc<Transcript>) -> Result<Vec<u32>, DemoError> {
    let mut consumed = Vec::new();
    loop {
        match q.get_timeout(JOIN_LIMIT) {
            Ok(item) => {
                transcript.say(format!("Consumed {item}"))?;
                consumed.push(item);
            }
            Err(ThreadsError::ShutDown) => return Ok(consumed),
            Err(ThreadsError::Empty) => {
                return Err(DemoError::CheckFailed(format!(
                    "the producer put nothing more for {JOIN_LIMIT:?} and never shut the queue down"
                )));
            }
            Err(other) => return Err(other.into()),
        }
    }
}

/// The original's consumer: it stops at the first moment it sees an empty queue.
fn polling_consumer(q: Arc<Queue<u32>>, transcript: Arc<Transcript>) -> Result<Vec<u32>, DemoError> {
    let mut consumed = Vec::new();
    while !q.empty() {
        // Only this thread takes items, so the one `empty()` saw is still there.
        let item = q.try_get()?;
        transcript.say(format!("Consumed {item}"))?;
        consumed.push(item);
    }
    Ok(consumed)
}

/// Runs the producer and `consume` on two threads started one after the other, joins both
/// (even if one fails), and returns what the consumer returned.
fn produce_and_consume<C, T>(items: u32, transcript: &Arc<Transcript>, consume: C) -> Result<(T, Arc<Queue<u32>>), DemoError>
where
    C: FnOnce(Arc<Queue<u32>>) -> T + Send + 'static,
    T: Send + 'static,
{
    let q = Arc::new(Queue::new());
    let t1 = Thread::new(producer, (Arc::clone(&q), items, Arc::clone(transcript)))
        .start()?;
    let t2 = Thread::new(consume, (Arc::clone(&q),)).start();
    let produced = join_within(t1, JOIN_LIMIT);
    let consumed = match t2 {
        Ok(t2) => join_within(t2, JOIN_LIMIT),
        Err(not_started) => Err(not_started.into()),
    };
    produced??;
    Ok((consumed?, q))
}

pub(crate) fn run(ctx: &Context) -> Result<(), DemoError> {
    let args: Args = ctx.parse_args()?;
    let transcript = Arc::new(Transcript::new());

    let (consumed, _) = produce_and_consume(args.items, &transcript, {
        let transcript = Arc::clone(&transcript);
        move |q| consumer(q, transcript)
    })?;
    let consumed = consumed?;
    check_eq("the items consumed", consumed, (0..args.items).collect())?;

    if !args.no_racy_run {
        println!("-- the same with the original's consumer, which polls `empty()`:");
        let (polled, q) = produce_and_consume(args.items, &transcript, {
            let transcript = Arc::clone(&transcript);
            move |q| polling_consumer(q, transcript)
        })?;
        let polled = polled?;
        println!(
            "the original's consumer (`while not q.empty()`, not checked): consumed {} of {} \
             item(s) this time, {} left in the queue{}",
            polled.len(),
            args.items,
            q.qsize(),
            if polled.len() as u32 == args.items {
                ": by luck it never caught up with the producer"
            } else {
                ": it saw an empty queue before the producer was done, and stopped"
            }
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_item_is_consumed_in_order() {
        run(&Context::new("queue-threads", vec![])).unwrap();
        run(&Context::new(
            "queue-threads",
            vec!["--items=2000".into(), "--no-racy-run".into()],
        ))
        .unwrap();
    }

    #[test]
    fn nothing_to_produce_consumes_nothing() {
        run(&Context::new("queue-threads", vec!["--items=0".into()])).unwrap();
    }

    #[test]
    fn the_polling_consumer_stops_at_an_empty_queue() {
        let q = Arc::new(Queue::new());
        let transcript = Arc::new(Transcript::new());
        assert!(polling_consumer(Arc::clone(&q), Arc::clone(&transcript)).unwrap().is_empty());
        for i in 0..3 {
            q.put(i).unwrap();
        }
        assert_eq!(polling_consumer(q, transcript).unwrap(), [0, 1, 2]);
    }
}
