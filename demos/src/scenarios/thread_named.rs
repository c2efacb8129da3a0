//! 004 3.1, using threads: the main thread prints its name, starts a thread named
//! `LoopThread` that prints its own name, sleeps two seconds and says it ended, joins it,
//! and says that it ended itself.
//!
//! The names come from `current_thread()`, as in Python: `MainThread` for the program's
//! first thread, the given name for the other. (Run inside a test harness, the scenario is
//! not on the process's main thread, and says so.)

use std::time::Duration;

use mp::threads::{Thread, current_thread, main_thread};

use super::support::{JOIN_LIMIT, join_within};
use crate::{Context, DemoError, NoArgs, check, check_eq, scaled};

const CHILD_NAME: &str = "LoopThread";

/// The child thread's task (the original's `loop`); returns the name it found itself running under.
fn loop_task(pause: Duration) -> String {
    let name = current_thread().name().to_owned();
    println!("thread {name} is running...");
    std::thread::sleep(pause);
    println!("thread {name} ended.");
    name
}

pub(crate) fn run(ctx: &Context) -> Result<(), DemoError> {
    ctx.parse_args::<NoArgs>()?;
    let me = current_thread();
    println!("thread {} is running...", me.name());

    let t = Thread::new(loop_task, (scaled(2.0),))
        .name(CHILD_NAME)
        .start()?;
    let child = t.thread().clone();
    let child_said = join_within(t, JOIN_LIMIT)?;
    println!("thread {} ended.", me.name());

    check_eq("the name the child thread found", child_said.as_str(), CHILD_NAME)?;
    check_eq("the child thread's name", child.name(), CHILD_NAME)?;
    check(!child.is_alive(), "the child thread is not alive after join")?;
    check_eq("the main thread's name", main_thread().name(), "MainThread")?;
    if me.is_main() {
        check_eq("this thread's name", me.name(), "MainThread")
    } else {
        println!(
            "(not on the process's main thread, which is called {})",
            main_thread().name()
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_names_are_the_given_ones() {
        crate::set_scale(0.01).unwrap();
        run(&Context::new("thread-named", vec![])).unwrap();
    }
}
