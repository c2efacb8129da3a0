//! 002, subclassing `Thread`: a class `MyThread(threading.Thread)` keeps a number and
//! overrides `run()` to print `Thread num is running`; five are created and started in a
//! loop, then joined, then `All threads have finished.` is printed.
//!
//! In Rust the class is a struct and the subclassing is `impl Run for MyThread`: `start()`
//! moves the value to a new thread and calls `run` there, and `join()` hands the value
//! back, with whatever `run` stored in it.
//!
//! The original does not run: its `__init__` calls `threading.Thread(self)` instead of
//! `super().__init__()`, which makes a second, unrelated `Thread` with `self` as its
//! `group`, and Python stops at the first `MyThread(0)` with `AssertionError: group
//! argument must be None for now`. (Had that line been left out, `start()` would fail with
//! `RuntimeError: thread.__init__() not called`.) There is no such step to forget here.

use mp::threads::{Run, current_thread, get_ident};

use super::support::{JOIN_LIMIT, Started};
use crate::{Context, DemoError, check, check_eq};

#[derive(clap::Parser)]
struct Args {
    /// Threads to start (the original: 5).
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    threads: u32,
}

/// The original's `MyThread`, with two fields that `run` fills in, for the check.
struct MyThread {
    num: u32,
    /// What `run` printed.
    said: Option<String>,
    /// The ident of the thread `run` ran on.
    ran_on: Option<u64>,
}

impl MyThread {
    fn new(num: u32) -> Self {
        Self {
            num,
            said: None,
            ran_on: None,
        }
    }
}

impl Run for MyThread {
    fn run(&mut self) {
        let line = format!("Thread {} is running", self.num);
        println!("{line}");
        self.said = Some(line);
        self.ran_on = Some(current_thread().ident());
    }
}

pub(crate) fn run(ctx: &Context) -> Result<(), DemoError> {
    let args: Args = ctx.parse_args()?;
    println!(
        "(the original stops before any thread runs: its __init__ calls \
         `threading.Thread(self)` instead of `super().__init__()`, and Python raises \
         AssertionError: group argument must be None for now)"
    );

    let started = Started::each(0..args.threads, |num| MyThread::new(num).start());
    let finished = started.join_all(JOIN_LIMIT)?;
    println!("All threads have finished.");

    let me = get_ident();
    for (num, thread) in (0..args.threads).zip(&finished) {
        check_eq(
            format_args!("the line of MyThread({num})"),
            thread.said.as_deref(),
            Some(format!("Thread {num} is running").as_str()),
        )?;
        check(
            thread.ran_on.is_some_and(|ident| ident != me),
            format_args!("MyThread({num}).run() runs on a thread of its own"),
        )?;
    }
    let mut idents: Vec<u64> = finished.iter().filter_map(|t| t.ran_on).collect();
    idents.sort_unstable();
    idents.dedup();
    check_eq(
        "the number of distinct threads that ran",
        idents.len(),
        args.threads as usize,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_instance_runs_on_its_own_thread() {
        run(&Context::new("thread-subclass", vec![])).unwrap();
    }

    #[test]
    fn run_fills_in_the_fields() {
        let mut thread = MyThread::new(7);
        thread.run();
        assert_eq!(thread.said.as_deref(), Some("Thread 7 is running"));
        assert_eq!(thread.ran_on, Some(get_ident()));
    }
}
