//! Lock rows: acquire+release on a free lock, and two threads fighting over one.

use std::hint::black_box;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::error::BenchError;
use crate::row::{Contender, Goal, Row, Unit};

/// The lock rows.
pub fn rows() -> Vec<Row> {
    vec![uncontended(), contended()]
}

fn uncontended() -> Row {
    Row {
        name: "lock-uncontended",
        family: "locks",
        what: "acquire then release a free lock, one thread",
        unit: Unit::TimePer("acquire+release"),
        goal: Some(Goal::within(1.5, "parking_lot::Mutex<u64>")),
        contenders: vec![
            Contender::ours("mp_sync::Lock (guard)", uncontended_mp_lock),
            Contender::ours("mp_sync::Mutex<u64>", uncontended_mp_mutex),
            Contender::peer("parking_lot::Mutex<u64>", uncontended_parking_lot),
            Contender::peer("std::sync::Mutex<u64>", uncontended_std),
            Contender::python("threading.Lock", "locks.py", "threading-lock"),
            Contender::python("multiprocessing.Lock", "locks.py", "multiprocessing-lock"),
        ],
    }
}

fn contended() -> Row {
    Row {
        name: "lock-contended",
        family: "locks",
        what: "two threads each add 1 to a shared counter under the lock, N/2 times",
        unit: Unit::TimePer("increment"),
        goal: None,
        contenders: vec![
            Contender::ours("mp_sync::Mutex<u64>", contended_mp_mutex),
            Contender::ours("mp_sync::Lock (guard)", contended_mp_lock),
            Contender::peer("parking_lot::Mutex<u64>", contended_parking_lot),
            Contender::peer("std::sync::Mutex<u64>", contended_std),
            Contender::python("threading.Lock", "locks.py", "threading-lock-contended"),
        ],
    }
}

fn uncontended_mp_lock(iterations: u64) -> Result<Duration, BenchError> {
    let lock = mp_sync::Lock::new();
    let mut count = 0u64;
    let start = Instant::now();
    for _ in 0..iterations {
        let guard = lock.lock().map_err(mp_sync::Error::from)?;
        count = black_box(count) + 1;
        drop(guard);
    }
    let elapsed = start.elapsed();
    expect_count(count, iterations)?;
    Ok(elapsed)
}

fn uncontended_mp_mutex(iterations: u64) -> Result<Duration, BenchError> {
    let mutex = mp_sync::Mutex::new(0u64);
    let start = Instant::now();
    for _ in 0..iterations {
        *mutex.lock().map_err(mp_sync::Error::from)? += 1;
    }
    let elapsed = start.elapsed();
    let count = *mutex.lock().map_err(mp_sync::Error::from)?;
    expect_count(count, iterations)?;
    Ok(elapsed)
}

fn uncontended_parking_lot(iterations: u64) -> Result<Duration, BenchError> {
    let mutex = parking_lot::Mutex::new(0u64);
    let start = Instant::now();
    for _ in 0..iterations {
        *mutex.lock() += 1;
    }
    let elapsed = start.elapsed();
    expect_count(mutex.into_inner(), iterations)?;
    Ok(elapsed)
}

fn uncontended_std(iterations: u64) -> Result<Duration, BenchError> {
    let mutex = std::sync::Mutex::new(0u64);
    let start = Instant::now();
    for _ in 0..iterations {
        *mutex.lock().map_err(|_| BenchError::Poisoned)? += 1;
    }
    let elapsed = start.elapsed();
    expect_count(
        mutex.into_inner().map_err(|_| BenchError::Poisoned)?,
        iterations,
    )?;
    Ok(elapsed)
}

fn contended_mp_mutex(iterations: u64) -> Result<Duration, BenchError> {
    let mutex = mp_sync::Mutex::new(0u64);
    let elapsed = two_threads(iterations, &mutex, |m| {
        *m.lock().map_err(mp_sync::Error::from)? += 1;
        Ok(())
    })?;
    let count = *mutex.lock().map_err(mp_sync::Error::from)?;
    expect_count(count, iterations)?;
    Ok(elapsed)
}

/// A `Lock` guards no data, so the counter is an atomic updated with a plain load
/// and store: only the lock's mutual exclusion keeps increments from being lost,
/// which the final count checks.
fn contended_mp_lock(iterations: u64) -> Result<Duration, BenchError> {
    let shared = (mp_sync::Lock::new(), AtomicU64::new(0));
    let elapsed = two_threads(iterations, &shared, |(lock, counter)| {
        let guard = lock.lock().map_err(mp_sync::Error::from)?;
        counter.store(counter.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
        drop(guard);
        Ok(())
    })?;
    expect_count(shared.1.load(Ordering::Relaxed), iterations)?;
    Ok(elapsed)
}

fn contended_parking_lot(iterations: u64) -> Result<Duration, BenchError> {
    let mutex = parking_lot::Mutex::new(0u64);
    let elapsed = two_threads(iterations, &mutex, |m| {
        *m.lock() += 1;
        Ok(())
    })?;
    expect_count(mutex.into_inner(), iterations)?;
    Ok(elapsed)
}

fn contended_std(iterations: u64) -> Result<Duration, BenchError> {
    let mutex = std::sync::Mutex::new(0u64);
    let elapsed = two_threads(iterations, &mutex, |m| {
        *m.lock().map_err(|_| BenchError::Poisoned)? += 1;
        Ok(())
    })?;
    expect_count(
        mutex.into_inner().map_err(|_| BenchError::Poisoned)?,
        iterations,
    )?;
    Ok(elapsed)
}

/// Longest the workers may take to report ready.
const START_LIMIT: Duration = Duration::from_secs(10);

/// Runs `increment` `iterations` times split over two threads, and times from the
/// moment both threads are ready to the moment both are done.
fn two_threads<S: Sync>(
    iterations: u64,
    shared: &S,
    increment: impl Fn(&S) -> Result<(), BenchError> + Sync,
) -> Result<Duration, BenchError> {
    let ready = AtomicU32::new(0);
    let go = AtomicBool::new(false);
    let abort = AtomicBool::new(false);
    let worker = |share: u64| -> Result<(), BenchError> {
        ready.fetch_add(1, Ordering::AcqRel);
        while !go.load(Ordering::Acquire) {
            if abort.load(Ordering::Acquire) {
                return Ok(());
            }
            thread::yield_now();
        }
        for _ in 0..share {
            increment(shared)?;
        }
        Ok(())
    };
    let first_share = iterations / 2;
    let second_share = iterations - first_share;
    thread::scope(|scope| {
        let spawn = |share: u64| {
            thread::Builder::new()
                .name("bench-worker".into())
                .spawn_scoped(scope, move || worker(share))
        };
        let first = spawn(first_share).map_err(BenchError::Thread)?;
        let second = match spawn(second_share) {
            Ok(second) => second,
            Err(e) => {
                // Release the worker that did start; the scope then joins it.
                abort.store(true, Ordering::Release);
                return Err(BenchError::Thread(e));
            }
        };
        let deadline = Instant::now() + START_LIMIT;
        while ready.load(Ordering::Acquire) < 2 {
            if Instant::now() >= deadline {
                abort.store(true, Ordering::Release);
                return Err(BenchError::TimedOut {
                    what: "worker threads to start",
                    timeout: START_LIMIT,
                });
            }
            thread::yield_now();
        }
        let start = Instant::now();
        go.store(true, Ordering::Release);
        let first = first.join();
        let second = second.join();
        let elapsed = start.elapsed();
        for outcome in [first, second] {
            outcome.map_err(|_| BenchError::WrongOutcome("a worker thread panicked".into()))??;
        }
        Ok(elapsed)
    })
}

fn expect_count(count: u64, iterations: u64) -> Result<(), BenchError> {
    if count == iterations {
        Ok(())
    } else {
        Err(BenchError::WrongOutcome(format!(
            "counter reached {count}, expected {iterations}"
        )))
    }
}
