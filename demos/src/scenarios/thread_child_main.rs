//! 001 ch.3, creating and managing threads: a child thread prints `Printing i from the
//! child thread` five times, sleeping a second after each line, while the main thread
//! prints `Executing task i in the main thread` three times, sleeping two seconds after
//! each; then the main thread joins the child.
//!
//! Both sequences must come out complete and in order, and interleaved: some of the
//! child's lines fall between the main thread's first and last, because the two threads
//! really run at the same time.

use std::sync::Arc;
use std::time::Duration;

use mp::threads::Thread;

use super::support::{JOIN_LIMIT, MIN_CHECKED_SLEEP, Transcript, join_within, scaled_at_least};
use crate::{Context, DemoError, NoArgs, check, check_eq};

const CHILD_LINES: u32 = 5;
const MAIN_TASKS: u32 = 3;

fn child_line(i: u32) -> String {
    format!("Printing {i} from the child thread")
}

fn main_line(i: u32) -> String {
    format!("Executing task {i} in the main thread")
}

fn print_numbers(transcript: Arc<Transcript>, pause: Duration) -> Result<(), DemoError> {
    for i in 0..CHILD_LINES {
        transcript.say(child_line(i))?;
        std::thread::sleep(pause);
    }
    Ok(())
}

pub(crate) fn run(ctx: &Context) -> Result<(), DemoError> {
    ctx.parse_args::<NoArgs>()?;
    // The original's one-second step. The interleaving shows only if a step is longer than
    // the pauses a loaded machine can impose on a thread, hence the floor (half of the
    // usual one: the check below needs a pause of four steps to fail).
    let step = scaled_at_least(1.0, MIN_CHECKED_SLEEP / 2);
    let transcript = Arc::new(Transcript::new());

    let child = Thread::new(print_numbers, (Arc::clone(&transcript), step))
        .start()?;
    // The main thread goes on with its own work while the child prints; a failure here
    // still joins the child before returning.
    let main_work = (0..MAIN_TASKS).try_for_each(|i| {
        transcript.say(main_line(i))?;
        std::thread::sleep(step * 2);
        Ok::<(), DemoError>(())
    });
    let child_outcome = join_within(child, JOIN_LIMIT);
    main_work?;
    child_outcome??;
    println!("Main thread and child thread have finished executing");

    let lines = transcript.lines()?;
    let said_by = |prefix: &str| -> Vec<String> {
        lines.iter().filter(|l| l.starts_with(prefix)).cloned().collect()
    };
    check_eq(
        "the child thread's lines",
        said_by("Printing"),
        (0..CHILD_LINES).map(child_line).collect(),
    )?;
    check_eq(
        "the main thread's lines",
        said_by("Executing"),
        (0..MAIN_TASKS).map(main_line).collect(),
    )?;
    let between = interleaved(&lines);
    println!("{between} of the child's lines came between the main thread's first and last");
    check(
        between > 0,
        "some of the child's lines come between the main thread's first and last lines",
    )
}

/// How many child lines lie between the main thread's first and last lines.
fn interleaved(lines: &[String]) -> usize {
    let is_main = |l: &String| l.starts_with("Executing");
    let first = lines.iter().position(is_main);
    let last = lines.iter().rposition(is_main);
    match (first, last) {
        (Some(first), Some(last)) => lines[first..last]
            .iter()
            .filter(|l| l.starts_with("Printing"))
            .count(),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::support::assert_usage_errors;

    #[test]
    fn both_sequences_complete_interleaved() {
        crate::set_scale(0.01).unwrap();
        run(&Context::new("thread-child-main", vec![])).unwrap();
    }

    #[test]
    fn lines_one_after_the_other_are_not_interleaved() {
        let mut lines: Vec<String> = (0..CHILD_LINES).map(child_line).collect();
        lines.extend((0..MAIN_TASKS).map(main_line));
        assert_eq!(interleaved(&lines), 0);
        lines.swap(0, CHILD_LINES as usize);
        assert_eq!(interleaved(&lines), 5);
    }

    #[test]
    fn it_takes_no_arguments() {
        assert_usage_errors("thread-child-main", run, &[&["--fast"]]);
    }
}
