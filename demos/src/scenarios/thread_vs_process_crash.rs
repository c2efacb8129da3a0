//! 004 §1, the two models' strengths and weaknesses: a thread that crashes takes its
//! whole process down (threads share one address space, so the kernel kills them all),
//! while a child process that crashes takes only itself ("一個子進程崩潰了，不會影響主
//! 進程和其他子進程").
//!
//! Both are shown without risking the demo: the thread's crash happens inside a child
//! process of its own. That child starts a worker thread which segfaults (a real
//! `SIGSEGV`), while its main thread is about to return a value: the value never
//! comes, the child dies by the signal. Then two sibling processes run side by side, one
//! of which segfaults: it alone dies, its sibling returns its value, and this process
//! goes on. Core dumps are switched off in the crashing processes, so nothing is left
//! behind.

use std::time::Duration;

use mp::processes::{Error as ProcessError, Process, StartMethod};

use super::process_support::CHILD_LIMIT;
use crate::{Context, DemoError, NoArgs, check};

/// Ends the calling process with a segmentation fault, as a crash in native code would.
fn segfault() -> ! {
    // No core file: the demo leaves nothing behind.
    let _ = nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_CORE, 0, 0);
    // Rust's runtime handles SIGSEGV to report stack overflows, and lets a signal it was
    // sent (rather than a fault) go: the kernel's default action is what a crash gets.
    // SAFETY: restoring the default disposition installs no handler code.
    let _ = unsafe {
        nix::sys::signal::signal(
            nix::sys::signal::Signal::SIGSEGV,
            nix::sys::signal::SigHandler::SigDfl,
        )
    };
    let _ = nix::sys::signal::raise(nix::sys::signal::Signal::SIGSEGV);
    // SIGSEGV's default action ends the process; were it blocked, abort is the end too.
    std::process::abort()
}

/// A process whose worker thread crashes while its main thread works on.
fn process_with_a_crashing_thread() -> u32 {
    let _crasher = std::thread::spawn(|| segfault());
    // The main thread's own work: it would return after this, were the process still
    // there.
    std::thread::sleep(Duration::from_secs(5));
    42
}

/// A process that crashes itself.
fn crashing_process() -> u32 {
    segfault()
}

/// A process that does its work and returns.
fn sound_process(n: u32) -> u32 {
    std::thread::sleep(Duration::from_millis(50));
    n * 2
}

fn died_of_segfault(outcome: &Result<u32, ProcessError>) -> bool {
    matches!(outcome, Err(ProcessError::Signaled { signal, .. }) if *signal == libc_sigsegv())
}

fn libc_sigsegv() -> i32 {
    nix::sys::signal::Signal::SIGSEGV as i32
}

pub(crate) fn run(ctx: &Context) -> Result<(), DemoError> {
    let _: NoArgs = ctx.parse_args()?;
    let start = |process: Process<u32>| {
        process
            .start_method(StartMethod::Fork)
            .start()
    };

    let threaded = start(Process::new(process_with_a_crashing_thread, ()))?;
    let threaded_outcome = threaded.join_timeout(CHILD_LIMIT);
    println!(
        "a process whose worker thread segfaults: {} (its main thread's 42 never came)",
        describe(&threaded_outcome)
    );

    let crashing = start(Process::new(crashing_process, ()))?;
    let sibling = start(Process::new(sound_process, (21,)))?;
    let crashing_outcome = crashing.join_timeout(CHILD_LIMIT);
    let sibling_outcome = sibling.join_timeout(CHILD_LIMIT);
    println!(
        "two sibling processes, one segfaults: {}; the other {}",
        describe(&crashing_outcome),
        describe(&sibling_outcome)
    );
    println!("and this process, their parent, goes on");

    check(
        died_of_segfault(&threaded_outcome),
        "a thread's crash took its whole process down (SIGSEGV, no value)",
    )?;
    check(
        died_of_segfault(&crashing_outcome),
        "the crashing process died by SIGSEGV",
    )?;
    check(
        matches!(sibling_outcome, Ok(42)),
        "its sibling process returned its value (42), untouched",
    )
}

fn describe(outcome: &Result<u32, ProcessError>) -> String {
    match outcome {
        Ok(value) => format!("returned {value}"),
        Err(ProcessError::Signaled { signal_name, .. }) => format!("died of {signal_name}"),
        Err(other) => format!("failed: {other}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crashing_thread_takes_its_process_and_a_crashing_process_only_itself() {
        run(&Context::new("thread-vs-process-crash", vec![])).unwrap();
    }
}
