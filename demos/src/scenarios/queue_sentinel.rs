//! 003, a queue between processes ended by a sentinel: a producer process puts 0..4,
//! printing `生产者生产了产品i` ("the producer made product i"); a consumer process, started
//! at the same time, gets items until it gets `None`, printing `消费者消费了产品i` ("the
//! consumer used product i"). The parent joins the producer, puts the `None`, and joins
//! the consumer.
//!
//! Python's `None` is `Option::None` here: the queue carries `Option<u32>`. The consumer
//! blocks in `get` (bounded, so that a lost sentinel fails the scenario instead of hanging
//! it) and hands back what it consumed, which is checked.

use std::time::Duration;

use mp::ipc::Queue;
use mp::processes::Process;

use super::process_support::{CHILD_LIMIT, Children, from_child, join_or_kill};
use crate::{ChildResult, Context, DemoError, StepContext, check_eq};

/// How long the consumer waits for one item before it gives up (far more than it needs).
const GET_LIMIT: Duration = Duration::from_secs(60);

#[derive(clap::Parser)]
struct Args {
    /// Items the producer puts (the original: 5).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(0..=100_000))]
    items: u32,
}

fn producer(queue: Queue<Option<u32>>, items: u32) -> ChildResult<()> {
    for i in 0..items {
        println!("生产者生产了产品{i} (the producer made product {i})");
        queue.put(&Some(i))?;
    }
    Ok(())
}

fn consumer(queue: Queue<Option<u32>>) -> ChildResult<Vec<u32>> {
    let mut consumed = Vec::new();
    loop {
        match queue.get_timeout(GET_LIMIT).context("waiting for an item")? {
            Some(item) => {
                println!("消费者消费了产品{item} (the consumer used product {item})");
                consumed.push(item);
            }
            None => return Ok(consumed),
        }
    }
}

pub(crate) fn run(ctx: &Context) -> Result<(), DemoError> {
    let args: Args = ctx.parse_args()?;
    let queue = Queue::<Option<u32>>::new()?;

    let mut consumers = Children::new();
    let consumer_handle = consumers.start(Process::new(consumer, (queue.clone(),)))?;
    let consumer_pid = consumer_handle.pid();
    let mut producers = Children::new();
    producers.start(Process::new(producer, (queue.clone(), args.items)))?;
    for outcome in producers.join_all(CHILD_LIMIT)? {
        from_child("the producer", outcome)?;
    }

    queue.put(&None)?; // the end signal
    let consumed = {
        let handle = &consumers.handles()[0];
        from_child("the consumer", join_or_kill(handle, CHILD_LIMIT)?)?
    };
    println!("the consumer (pid {consumer_pid}) ended after the sentinel");
    check_eq("the items consumed", consumed, (0..args.items).collect::<Vec<_>>())?;
    check_eq(
        "the consumer's exit code",
        consumers.handles()[0].exitcode(),
        Some(0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::support::assert_usage_errors;

    #[test]
    fn the_sentinel_ends_the_consumer_after_every_item() {
        run(&Context::new("queue-sentinel", vec![])).unwrap();
        run(&Context::new("queue-sentinel", vec!["--items".into(), "0".into()])).unwrap();
    }

    #[test]
    fn bad_arguments_are_refused() {
        assert_usage_errors("queue-sentinel", run, &[&["--items", "x"]]);
    }
}
