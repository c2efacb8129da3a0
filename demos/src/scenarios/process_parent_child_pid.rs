//! 004 2.1, using processes: the parent prints its pid, starts a child running
//! `run_proc('test')`, which prints its own pid, joins it, and prints that it ended.
//!
//! The scenario checks the relation the original prints: the child's parent is the
//! parent. The child reports its pid and its parent as `parent_process()` (Python's
//! `multiprocessing.parent_process()`) gives it, and also `getppid()` (Python's
//! `os.getppid()`); the parent checks that the child's pid is the one its handle reports,
//! differs from its own, and that the child's parent pid is its own.
//!
//! It does so once per start method (fork, spawn, forkserver, or only the one asked for),
//! because they differ in one place worth seeing: under forkserver the child is forked
//! by the server, so `getppid()` names the server, while `parent_process()` still names
//! the process that called `start()`, as Python's does. Under fork and spawn both name
//! the parent, and the scenario checks that too.

use mp::processes::{Process, StartMethod, parent_process};
use serde::{Deserialize, Serialize};

use super::process_support::{CHILD_LIMIT, Children};
use crate::{Context, DemoError, check, check_eq};

#[derive(clap::Parser)]
struct Args {
    /// Only this start method (fork, spawn or forkserver) [default: each in turn].
    #[arg(long, value_name = "METHOD")]
    start_method: Option<StartMethod>,
}

/// What the child saw of itself and its parent.
#[derive(Debug, Serialize, Deserialize)]
struct ChildView {
    /// `os.getpid()`.
    pid: u32,
    /// `multiprocessing.parent_process().pid`, if it has a parent process.
    parent_process: Option<u32>,
    /// `os.getppid()`: whoever created the process.
    getppid: u32,
}

/// The original's `run_proc`: "the child process's function".
fn run_proc(name: String) -> ChildView {
    let pid = std::process::id();
    println!("Run child process {name}: {pid}...");
    ChildView {
        pid,
        parent_process: parent_process().map(|parent| parent.pid()),
        getppid: nix::unistd::getppid().as_raw().unsigned_abs(),
    }
}

fn run_with(method: StartMethod) -> Result<(), DemoError> {
    let parent = std::process::id();
    println!("[start method: {method}]");
    println!("Parent process: {parent}.");
    let process = Process::new(run_proc, ("test".to_owned(),)).start_method(method);
    println!("Child process will start.");
    let mut children = Children::new();
    let handle_pid = children.start(process)?.pid();
    let view = children
        .join_all(CHILD_LIMIT)?
        .pop()
        .ok_or_else(|| DemoError::CheckFailed("the child handed back nothing".into()))?;
    println!("Child process end.");
    println!(
        "the child {} says: parent_process() is {:?}, getppid() is {}",
        view.pid, view.parent_process, view.getppid
    );

    check_eq("the child's pid, as it saw it", view.pid, handle_pid)?;
    check(view.pid != parent, "the child is another process than the parent")?;
    check_eq(
        format_args!("the child's parent_process() pid under {method}"),
        view.parent_process,
        Some(parent),
    )?;
    if method == StartMethod::Forkserver {
        println!(
            "(under forkserver getppid() names the server that forked the child; \
             parent_process() names the process that started it)"
        );
    } else {
        check_eq(
            format_args!("the child's getppid() under {method}"),
            view.getppid,
            parent,
        )?;
    }
    Ok(())
}

pub(crate) fn run(ctx: &Context) -> Result<(), DemoError> {
    let args: Args = ctx.parse_args()?;
    let methods = match args.start_method {
        Some(method) => vec![method],
        None => StartMethod::all().to_vec(),
    };
    for method in methods {
        run_with(method)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenarios::support::assert_usage_errors;

    #[test]
    fn the_childs_parent_is_the_parent_under_every_start_method() {
        run(&Context::new("process-parent-child-pid", vec![])).unwrap();
    }

    #[test]
    fn one_start_method_can_be_chosen() {
        let ctx = Context::new("process-parent-child-pid", vec!["--start-method=spawn".into()]);
        run(&ctx).unwrap();
    }

    #[test]
    fn an_unknown_start_method_is_a_usage_error() {
        assert_usage_errors("process-parent-child-pid", run, &[&["--start-method=clone"]]);
    }
}
