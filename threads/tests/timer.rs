//! Timer: Python's threading.Timer.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mp_threads::{Error, Timer, current_thread};

const LIMIT: Duration = Duration::from_secs(10);

#[test]
fn fires_after_the_interval_with_its_arguments() -> Result<(), Error> {
    let started = Instant::now();
    let timer = Timer::new(Duration::from_millis(30), |a: u32, b: u32| a + b, (40, 2)).start()?;
    assert_eq!(timer.join_timeout(LIMIT)?, Some(42));
    assert!(
        started.elapsed() >= Duration::from_millis(30),
        "fired early"
    );
    assert!(timer.fired());
    assert!(!timer.cancel(), "cancel after firing reports that it ran");
    Ok(())
}

#[test]
fn cancelled_before_firing_never_runs() -> Result<(), Error> {
    let ran = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&ran);
    let timer = Timer::new(
        Duration::from_secs(3600),
        move || flag.store(true, Ordering::SeqCst),
        (),
    )
    .start()?;
    assert!(timer.is_alive());
    assert!(!timer.fired());
    assert!(timer.cancel());
    assert!(timer.cancel(), "cancelling twice is harmless");
    assert_eq!(timer.join_timeout(LIMIT)?, None);
    assert!(!ran.load(Ordering::SeqCst));
    assert!(!timer.fired());
    assert!(!timer.is_alive());
    Ok(())
}

#[test]
fn join_timeout_leaves_the_timer_usable() -> Result<(), Error> {
    let timer = Timer::new(Duration::from_secs(3600), || "never", ()).start()?;
    assert!(matches!(
        timer.join_timeout(Duration::from_millis(10)),
        Err(Error::TimedOut)
    ));
    assert!(timer.cancel());
    assert_eq!(timer.join_timeout(LIMIT)?, None);
    Ok(())
}

#[test]
fn a_panicking_function_is_reported() -> Result<(), Error> {
    let timer = Timer::new(Duration::ZERO, || -> u8 { panic!("timer failed") }, ())
        .name("doomed")
        .start()?;
    match timer.join_timeout(LIMIT) {
        Err(Error::Panicked {
            thread, message, ..
        }) => {
            assert_eq!(thread, "doomed");
            assert_eq!(message, "timer failed");
        }
        other => panic!("expected Panicked, got {other:?}"),
    }
    Ok(())
}

#[test]
fn runs_on_its_own_named_thread() -> Result<(), Error> {
    let timer = Timer::new(
        Duration::from_millis(1),
        || current_thread().name().to_owned(),
        (),
    )
    .name("alarm")
    .daemon(true)
    .start()?;
    assert_eq!(timer.thread().name(), "alarm");
    assert!(timer.thread().is_daemon());
    assert_eq!(timer.join_timeout(LIMIT)?.as_deref(), Some("alarm"));
    Ok(())
}

#[test]
fn a_huge_interval_is_no_error() -> Result<(), Error> {
    let timer = Timer::new(Duration::MAX, || (), ()).start()?;
    assert!(timer.cancel());
    assert_eq!(timer.join_timeout(LIMIT)?, None);
    Ok(())
}

#[test]
fn join_timeout_of_duration_max_waits_for_the_timer() -> Result<(), Error> {
    let fired = Timer::new(Duration::ZERO, |n: u8| n + 1, (6,)).start()?;
    assert_eq!(fired.join_timeout(Duration::MAX)?, Some(7));
    let cancelled = Timer::new(Duration::MAX, || (), ()).start()?;
    assert!(cancelled.cancel());
    assert_eq!(cancelled.join_timeout(Duration::MAX)?, None);
    Ok(())
}

#[test]
fn cancel_and_firing_race_to_exactly_one_winner() -> Result<(), Error> {
    for _ in 0..200 {
        let ran = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&ran);
        let timer = Timer::new(
            Duration::ZERO,
            move || flag.store(true, Ordering::SeqCst),
            (),
        )
        .start()?;
        let cancelled = timer.cancel();
        let outcome = timer.join_timeout(LIMIT)?;
        assert_eq!(cancelled, outcome.is_none());
        assert_eq!(cancelled, !ran.load(Ordering::SeqCst));
    }
    Ok(())
}
