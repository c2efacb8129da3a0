//! The daemon flag at process exit: the process waits for non-daemon threads,
//! as Python's interpreter does, and not for daemon threads.
//!
//! Each case re-runs this test binary as a child process in which a single
//! test starts a thread and returns at once; the parent reads what the child
//! printed after its test function had already returned.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use mp_threads::Thread;

const CHILD_MODE: &str = "MP_THREADS_EXIT_TEST_CHILD";
const LIMIT: Duration = Duration::from_secs(20);

/// Only does something when run as the child; a no-op in the normal test run.
#[test]
fn child_starts_a_thread_and_returns() {
    let daemon = match std::env::var(CHILD_MODE).as_deref() {
        Ok("daemon") => true,
        Ok("non-daemon") => false,
        _ => return,
    };
    // A daemon thread that the exit waited for would keep the child alive for
    // an hour, past the parent's limit; a non-daemon one finishes soon after
    // the test function returned, which only a waiting exit lets it do.
    let nap = if daemon {
        Duration::from_secs(3600)
    } else {
        Duration::from_millis(300)
    };
    Thread::new(
        move || {
            std::thread::sleep(nap);
            println!("late thread finished");
        },
        (),
    )
    .daemon(daemon)
    .start()
    .expect("the child can start a thread");
    println!("test function returned");
}

/// Runs the child with a time limit, killing and reaping it if it overstays.
fn run_child(mode: &str) -> String {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut child = Command::new(exe)
        .args([
            "--exact",
            "child_starts_a_thread_and_returns",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_MODE, mode)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the child");
    let deadline = Instant::now() + LIMIT;
    loop {
        match child.try_wait().expect("poll the child") {
            Some(status) => {
                assert!(status.success(), "child failed: {status}");
                break;
            }
            None if Instant::now() >= deadline => {
                child.kill().ok();
                child.wait().ok();
                panic!("the child did not exit within {LIMIT:?}");
            }
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    let mut output = String::new();
    child
        .stdout
        .take()
        .expect("piped stdout")
        .read_to_string(&mut output)
        .expect("read the child's output");
    output
}

#[test]
fn exit_waits_for_non_daemon_threads() {
    let output = run_child("non-daemon");
    assert!(output.contains("test function returned"), "{output}");
    assert!(
        output.contains("late thread finished"),
        "the process exited before its non-daemon thread finished:\n{output}"
    );
}

#[test]
fn exit_does_not_wait_for_daemon_threads() {
    let output = run_child("daemon");
    assert!(output.contains("test function returned"), "{output}");
    assert!(
        !output.contains("late thread finished"),
        "the process waited for a daemon thread:\n{output}"
    );
}
