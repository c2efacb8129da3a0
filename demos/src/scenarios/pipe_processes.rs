//! 002, communication between processes, the other way the text names: a `Pipe`. The
//! parent and a child process each hold one end of a duplex pipe; the parent sends
//! `ping 0..n`, the child answers each with a `pong`, and when the parent closes its end
//! the child's next `recv` sees the end of the stream (Python's `EOFError`), and the
//! child reports how many it answered.
//!
//! The child's end crosses to it as an argument of `Process::new`, as Python passes a
//! `Connection` in `args`: its descriptor travels with the call.

use mp::ipc::{Connection, Error as IpcError, pipe};
use mp::processes::Process;

use super::process_support::{CHILD_LIMIT, Children, from_child};
use crate::{ChildResult, Context, DemoError, check_eq};

#[derive(clap::Parser)]
struct Args {
    /// Messages the parent sends (and the child answers).
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(0..=100_000))]
    messages: u32,
}

/// The child: answers every message, until the parent's end is closed.
fn answerer(connection: Connection<String>) -> ChildResult<(u32, bool)> {
    let mut answered = 0;
    loop {
        match connection.recv() {
            Ok(message) => {
                let answer = message.replacen("ping", "pong", 1);
                connection.send(&answer)?;
                answered += 1;
            }
            // Python's EOFError: the other end was closed.
            Err(IpcError::PeerClosed) => {
                println!("child: the parent closed its end after {answered} messages");
                return Ok((answered, true));
            }
            Err(other) => return Err(other.into()),
        }
    }
}

pub(crate) fn run(ctx: &Context) -> Result<(), DemoError> {
    let args: Args = ctx.parse_args()?;
    let (parent_end, child_end) = pipe::<String>(true)?;
    let mut children = Children::new();
    children.start(Process::new(answerer, (child_end,)))?;

    let mut answers = Vec::new();
    for i in 0..args.messages {
        parent_end
            .send(&format!("ping {i}"))?;
        let answer = parent_end.recv()?;
        println!("parent: sent ping {i}, got {answer}");
        answers.push(answer);
    }
    // Closing this end is what the child's next recv sees.
    drop(parent_end);
    let mut outcomes = children.join_all(CHILD_LIMIT)?;
    let Some(outcome) = outcomes.pop() else {
        return Err(DemoError::CheckFailed("the child handed back nothing".into()));
    };
    let (answered, saw_the_end) = from_child("the child", outcome)?;

    check_eq(
        "the answers, in order",
        answers,
        (0..args.messages).map(|i| format!("pong {i}")).collect::<Vec<_>>(),
    )?;
    check_eq("messages the child answered", answered, args.messages)?;
    check_eq(
        "the child saw the end of the stream when the parent closed its end",
        saw_the_end,
        true,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::support::assert_usage_errors;

    #[test]
    fn every_message_goes_both_ways_and_the_end_is_seen() {
        run(&Context::new("pipe-processes", vec![])).unwrap();
        run(&Context::new("pipe-processes", vec!["--messages".into(), "0".into()])).unwrap();
    }

    #[test]
    fn bad_arguments_are_usage_errors() {
        assert_usage_errors("pipe-processes", run, &[&["--messages", "x"], &["--messages", "100001"]]);
    }
}
