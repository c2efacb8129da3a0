//! Running one test of the current test binary again, in a child process, to watch
//! what only a whole process shows: what happens after its test function returned, as
//! the process exits (threads or processes it started that must, or must not, finish
//! first).
//!
//! The child is told by an environment variable that it is the child (the same test,
//! run normally, sees no variable and does nothing). Its output is read until it ends,
//! under a bound: a grandchild that outlives the child holds the pipe open, and then
//! the child is killed and the test fails instead of hanging.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Runs test `test` of this test binary alone in a child process, with `variable` set
/// to `value`, and returns what it printed on stdout. Fails the test (panics) if the
/// output does not end within `bound` (the child is then killed and reaped) or the
/// child does not succeed.
///
/// ```no_run
/// // In a test binary: the test that does the work when it runs as the child...
/// #[test]
/// fn prints_when_told() {
///     if std::env::var("EXAMPLE_CHILD").is_ok() {
///         println!("run as the child");
///     }
/// }
///
/// // ...and the test that runs it so.
/// #[test]
/// fn the_child_prints() {
///     let output = test_support::rerun::run_test_in_child(
///         "prints_when_told",
///         ("EXAMPLE_CHILD", "yes"),
///         test_support::PATIENCE,
///     );
///     assert!(output.contains("run as the child"));
/// }
/// ```
pub fn run_test_in_child(test: &str, (variable, value): (&str, &str), bound: Duration) -> String {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut child = Command::new(exe)
        .args([test, "--exact", "--nocapture", "--test-threads=1"])
        .env(variable, value)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the test binary again");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let (done, output) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        let _ = done.send(text);
    });
    let Ok(text) = output.recv_timeout(bound) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "the output of {test} did not end within {bound:?}: something it started outlived it"
        );
    };
    // The output ended, so the child is exiting; a child that still does not end is
    // killed rather than waited for.
    let status = crate::commands::wait_or_kill(&mut child, bound)
        .unwrap_or_else(|| panic!("{test} did not exit within {bound:?} of closing its output"));
    assert!(status.success(), "{test} failed: {status}\n{text}");
    text
}
