//! 002, communication between processes: a producer process puts 0..4 on a
//! `multiprocessing.Queue`, printing `Produced i`, and is joined; then a consumer process
//! takes what is there, printing `Consumed i`.
//!
//! The original's consumer loops `while not q.empty(): item = q.get()`. With Python's
//! queue that is a race even though the producer was joined first: `put` hands items to a
//! feeder thread that writes them into a pipe later, and `empty()` only looks at the pipe,
//! so the consumer may stop early. Here `put` returns once the item is in the queue's
//! shared ring, so after the producer's `join` every item is there, and the consumer's
//! `try_get` until `Empty` (the Rust for `while not q.empty()`) sees them all.

use mp::ipc::{Error as IpcError, Queue};
use mp::processes::Process;

use super::process_support::{CHILD_LIMIT, Children, from_child};
use crate::{ChildResult, Context, DemoError, check, check_eq};

#[derive(clap::Parser)]
struct Args {
    /// Items the producer puts (the original: 5).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(0..=100_000))]
    items: u32,
}

fn producer(q: Queue<u32>, items: u32) -> ChildResult<()> {
    for i in 0..items {
        q.put(&i)?;
        println!("Produced {i}");
    }
    Ok(())
}

fn consumer(q: Queue<u32>) -> ChildResult<(u32, Vec<u32>)> {
    let mut consumed = Vec::new();
    loop {
        match q.try_get() {
            Ok(item) => {
                println!("Consumed {item}");
                consumed.push(item);
            }
            Err(IpcError::Empty) => return Ok((std::process::id(), consumed)),
            Err(other) => return Err(other.into()),
        }
    }
}

pub(crate) fn run(ctx: &Context) -> Result<(), DemoError> {
    let args: Args = ctx.parse_args()?;
    let q = Queue::<u32>::new()?;

    let mut producers = Children::new();
    producers.start(Process::new(producer, (q.clone(), args.items)))?;
    for outcome in producers.join_all(CHILD_LIMIT)? {
        from_child("the producer", outcome)?;
    }

    let mut consumers = Children::new();
    consumers.start(Process::new(consumer, (q.clone(),)))?;
    let mut outcomes = consumers.join_all(CHILD_LIMIT)?;
    let Some(outcome) = outcomes.pop() else {
        return Err(DemoError::CheckFailed("the consumer handed back nothing".into()));
    };
    let (pid, consumed) = from_child("the consumer", outcome)?;
    check(pid != std::process::id(), "the consumer ran in a process of its own")?;
    check(q.empty(), "nothing is left in the queue")?;
    check_eq("the items consumed", consumed, (0..args.items).collect::<Vec<_>>())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::support::assert_usage_errors;

    #[test]
    fn every_item_is_consumed_in_order() {
        run(&Context::new("queue-processes", vec![])).unwrap();
        run(&Context::new("queue-processes", vec!["--items".into(), "2000".into()])).unwrap();
    }

    #[test]
    fn bad_arguments_are_refused() {
        assert_usage_errors("queue-processes", run, &[&["--items", "-1"]]);
    }
}
