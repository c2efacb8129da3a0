//! 003, using processes: one process runs `print_numbers`, which prints 0 to 4; the main
//! process starts it, joins it, then prints `进程执行完毕` ("the process has finished").
//!
//! The child also returns the numbers it printed, in the order it printed them, and the
//! scenario checks them: 0, 1, 2, 3, 4, and that the child ran in a process of its own.

use mp::processes::Process;

use super::process_support::{CHILD_LIMIT, Children};
use crate::{Context, DemoError, NoArgs, check, check_eq};

/// The original's `print_numbers`; returns what it printed.
fn print_numbers() -> (u32, Vec<u32>) {
    let printed: Vec<u32> = (0..5)
        .inspect(|i| println!("{i}"))
        .collect();
    (std::process::id(), printed)
}

pub(crate) fn run(ctx: &Context) -> Result<(), DemoError> {
    ctx.parse_args::<NoArgs>()?;
    let mut children = Children::new();
    children.start(Process::new(print_numbers, ()))?;
    let mut outcomes = children.join_all(CHILD_LIMIT)?;
    println!("进程执行完毕 (the process has finished)");

    let Some((pid, printed)) = outcomes.pop() else {
        return Err(DemoError::CheckFailed("the child handed back nothing".into()));
    };
    check(
        pid != std::process::id(),
        "the numbers were printed by another process",
    )?;
    check_eq("the numbers the child printed", printed, vec![0, 1, 2, 3, 4])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::support::assert_usage_errors;

    #[test]
    fn the_child_prints_zero_to_four() {
        run(&Context::new("process-print-numbers", vec![])).unwrap();
    }

    #[test]
    fn arguments_are_refused() {
        assert_usage_errors("process-print-numbers", run, &[&["5"]]);
    }
}
