//! Joining a scenario's thread without waiting forever, and with its panic as an error.

use std::any::Any;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::DemoError;

/// How often [`join_thread`] looks whether the thread has finished. Short enough not to
/// show in a scenario's timings, long enough to cost nothing.
const POLL: Duration = Duration::from_millis(1);

/// Python's `t.join()`, bounded: waits up to `limit` for the thread, then returns its value.
///
/// A panic in the thread becomes [`DemoError::ThreadPanicked`] with its message; a thread
/// still running after `limit` becomes [`DemoError::ThreadTimedOut`] (it is left running: a
/// thread cannot be killed, but the scenario fails, and its process exits).
///
/// ```
/// use std::time::Duration;
/// use mp_demos::{join_thread, DemoError};
///
/// let worker = std::thread::spawn(|| 6 * 7);
/// assert_eq!(join_thread(worker, Duration::from_secs(10)).unwrap(), 42);
///
/// let failing = std::thread::Builder::new()
///     .name("worker-1".into())
///     .spawn(|| -> u32 { panic!("out of range") })
///     .unwrap();
/// let err = join_thread(failing, Duration::from_secs(10)).unwrap_err();
/// assert_eq!(err.to_string(), "thread `worker-1` panicked: out of range");
/// ```
pub fn join_thread<T>(handle: JoinHandle<T>, limit: Duration) -> Result<T, DemoError> {
    let name = handle.thread().name().unwrap_or("<unnamed>").to_owned();
    // A limit past the clock's end is no limit.
    let deadline = mp::sys::Deadline::after(limit);
    while !handle.is_finished() {
        if deadline.has_passed() {
            return Err(DemoError::ThreadTimedOut { name, limit });
        }
        std::thread::sleep(POLL);
    }
    handle.join().map_err(|payload| DemoError::ThreadPanicked {
        name,
        message: panic_message(payload.as_ref()),
    })
}

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(message) = payload.downcast_ref::<&str>() {
        (*message).to_owned()
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else {
        "(a panic payload that is not a string)".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_past_the_clock_is_no_limit() {
        let quick = std::thread::spawn(|| 5);
        assert_eq!(join_thread(quick, Duration::MAX).unwrap(), 5);
    }

    #[test]
    fn a_thread_past_its_limit_is_an_error_not_a_hang() {
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let (done, finished) = std::sync::mpsc::channel::<()>();
        let late = std::thread::Builder::new()
            .name("late".into())
            .spawn(move || {
                let _ = wait.recv_timeout(Duration::from_secs(10));
                let _ = done.send(());
            })
            .unwrap();
        let err = join_thread(late, Duration::from_millis(20)).unwrap_err();
        assert!(matches!(err, DemoError::ThreadTimedOut { ref name, .. } if name == "late"));
        // The handle is gone with the error: let the thread end, and see that it did.
        release.send(()).unwrap();
        finished.recv_timeout(Duration::from_secs(10)).unwrap();
    }

    #[test]
    fn a_panic_with_a_formatted_message_keeps_it() {
        let worker = std::thread::spawn(|| -> () { panic!("item {} of {}", 3, 5) });
        let err = join_thread(worker, Duration::from_secs(10)).unwrap_err();
        assert_eq!(err.to_string(), "thread `<unnamed>` panicked: item 3 of 5");
    }
}
