//! 004 2.3, inter-process communication with a `Queue`: a writer process puts `A`, `B`,
//! `C`, sleeping a random while after each; a reader process loops forever on
//! `q.get(True)`. The parent joins the writer and, since the reader never ends, terminates
//! it with `pr.terminate()` (SIGTERM): its exit code is then -15.
//!
//! The original terminates the reader as soon as the writer is joined, which races with
//! the reader's last `get`: on a busy machine the reader may be killed before it has taken
//! `C`. Here the reader also reports each value it got on a second queue, and the parent
//! waits (bounded) until the reader has all three before it terminates it; then checks
//! the values and the exit code.

use std::time::Duration;

use mp::ipc::{Queue, SimpleQueue};
use mp::processes::{Error as ProcessError, Process};

use super::pool_support::random_fraction;
use super::process_support::{CHILD_LIMIT, Children, from_child};
use crate::{ChildResult, Context, DemoError, check, check_eq};

/// The values the original writes.
const VALUES: [&str; 3] = ["A", "B", "C"];

/// How long the parent waits for the reader to report one value.
const REPORT_LIMIT: Duration = Duration::from_secs(60);

fn write(q: Queue<String>, pauses_ms: Vec<u64>) -> ChildResult<()> {
    println!("Process to write: {}", std::process::id());
    for (value, pause) in VALUES.iter().zip(pauses_ms) {
        println!("Put {value} to queue...");
        q.put(&(*value).to_owned())?;
        std::thread::sleep(Duration::from_millis(pause));
    }
    Ok(())
}

fn read(q: Queue<String>, got: SimpleQueue<String>) -> ChildResult<()> {
    println!("Process to read: {}", std::process::id());
    loop {
        let value = q.get()?;
        println!("Get {value} from queue.");
        got.put(&value)?;
    }
}

pub(crate) fn run(ctx: &Context) -> Result<(), DemoError> {
    ctx.parse_args::<crate::NoArgs>()?;
    let q = Queue::<String>::new()?;
    let got = SimpleQueue::<String>::new()?;
    // The original's `time.sleep(random.random())`, drawn here and scaled.
    let pauses_ms: Vec<u64> = VALUES
        .iter()
        .map(|_| (random_fraction() * 1000.0 * ctx.scale()).round() as u64)
        .collect();

    let mut writers = Children::new();
    writers.start(Process::new(write, (q.clone(), pauses_ms)))?;
    let mut readers = Children::new();
    readers.start(Process::new(read, (q.clone(), got.clone())))?;

    for outcome in writers.join_all(CHILD_LIMIT)? {
        from_child("the writer", outcome)?;
    }
    let mut received = Vec::new();
    for _ in VALUES {
        received.push(got.get_timeout(REPORT_LIMIT)?);
    }

    let reader = &readers.handles()[0];
    reader.terminate()?;
    let ended = reader.join_timeout(CHILD_LIMIT);
    println!("the reader was terminated: exit code {:?}", reader.exitcode());
    check(
        matches!(ended, Err(ProcessError::Signaled { signal: 15, .. })),
        format!("joining the terminated reader says SIGTERM (it said {ended:?})"),
    )?;
    check_eq("the reader's exit code", reader.exitcode(), Some(-15))?;
    check_eq("what the reader got", received, VALUES.map(str::to_owned).to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::support::assert_usage_errors;

    #[test]
    fn the_reader_gets_a_b_c_and_is_terminated() {
        run(&Context::new("queue-writer-reader", vec![])).unwrap();
    }

    #[test]
    fn arguments_are_refused() {
        assert_usage_errors("queue-writer-reader", run, &[&["now"]]);
    }
}
