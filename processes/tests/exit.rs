//! The main process's exit: it waits for its non-daemonic children, as Python's
//! interpreter does, and its daemonic children die with it.
//!
//! Each case runs this test binary again as a child in which a single test starts a
//! process and returns at once; the parent reads what the grandchild printed after the
//! harness had already finished its tests.

mod common;

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

use mp_processes::{Process, StartMethod};
use test_support::PATIENCE;

const CHILD_MODE: &str = "MP_PROCESSES_EXIT_TEST_CHILD";

fn late_print(nap_ms: u64) {
    println!("grandchild pid {}", std::process::id());
    std::thread::sleep(Duration::from_millis(nap_ms));
    println!("late grandchild finished");
}

/// Only does something when run as the child; a no-op in the normal test run.
#[test]
fn child_starts_a_process_and_returns() {
    let Ok(mode) = std::env::var(CHILD_MODE) else {
        return;
    };
    let (daemon, method) = mode.split_once(':').expect("daemon:method");
    let daemon = daemon == "daemon";
    let method: StartMethod = method.parse().expect("a start method");
    // A daemonic grandchild that the exit waited for would sleep for ten minutes, past
    // the parent's patience; a non-daemonic one finishes soon after the test returned,
    // which only a waiting exit lets it do.
    let nap_ms = if daemon { 600_000 } else { 300 };
    let handle = Process::new(late_print, (nap_ms,))
        .daemon(daemon)
        .start_method(method)
        .start()
        .expect("the child starts a process");
    drop(handle);
    println!("test function returned");
}

/// Runs the child (the test binary) and collects its output, bounded: if the output
/// does not end within the patience, whatever still holds it is killed.
fn run_child(mode: &str) -> String {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut child = Command::new(exe)
        .args([
            "--exact",
            "child_starts_a_process_and_returns",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_MODE, mode)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the child");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let (done, output) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        let _ = done.send(text);
    });
    let text = match output.recv_timeout(PATIENCE) {
        Ok(text) => text,
        Err(_) => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the output never ended: a grandchild outlived the test binary");
        }
    };
    let status = child.wait().expect("reap the child");
    assert!(status.success(), "child failed: {status:?}\n{text}");
    text
}

fn exit_waits_for_a_non_daemonic_child(method: &str) {
    let text = run_child(&format!("non-daemon:{method}"));
    let returned = text.find("test function returned").expect(&text);
    let finished = text.find("late grandchild finished").expect(&text);
    assert!(returned < finished, "{text}");
}

fn exit_kills_a_daemonic_child(method: &str) {
    // The daemonic grandchild holds the output pipe: the output ends only if it died
    // with the test binary (run_child fails the test otherwise).
    let text = run_child(&format!("daemon:{method}"));
    assert!(text.contains("test function returned"), "{text}");
    // (It may have been killed before it printed its pid: the test binary can end first.)
    assert!(!text.contains("late grandchild finished"), "{text}");
}

#[test]
fn fork_exit_waits_for_a_non_daemonic_child() {
    exit_waits_for_a_non_daemonic_child("fork");
}

#[test]
fn spawn_exit_waits_for_a_non_daemonic_child() {
    exit_waits_for_a_non_daemonic_child("spawn");
}

#[test]
fn forkserver_exit_waits_for_a_non_daemonic_child() {
    exit_waits_for_a_non_daemonic_child("forkserver");
}

#[test]
fn fork_exit_kills_a_daemonic_child() {
    exit_kills_a_daemonic_child("fork");
}

#[test]
fn spawn_exit_kills_a_daemonic_child() {
    exit_kills_a_daemonic_child("spawn");
}

#[test]
fn forkserver_exit_kills_a_daemonic_child() {
    exit_kills_a_daemonic_child("forkserver");
}
