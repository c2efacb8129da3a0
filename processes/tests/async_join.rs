//! Awaiting children with `ProcessHandle::join_async` (feature `async`) under a
//! multi-threaded tokio runtime: many at once, a panicking child, a dropped await that
//! leaves the handle joinable, and a child killed while awaited. Every await is bounded
//! by a timeout and every child is reaped.

#![cfg(feature = "async")]

use std::time::Duration;

use mp_processes::{Error, Process, StartMethod, active_children};

/// The bound on any wait that is expected to succeed.
const PATIENCE: Duration = Duration::from_secs(60);

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("build the runtime")
}

fn square_after(n: u64, millis: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(millis));
    n * n
}

#[test]
fn fifty_children_awaited_at_once() {
    let handles = (0..50u64)
        .map(|n| {
            Process::new(square_after, (n, 50 + n % 7 * 10))
                .start_method(StartMethod::Fork)
                .start()
        })
        .collect::<Result<Vec<_>, Error>>()
        .expect("start 50 children");
    let pids: Vec<u32> = handles.iter().map(|handle| handle.pid()).collect();
    let values = runtime().block_on(async {
        let joins = handles.into_iter().map(|handle| {
            tokio::spawn(async move {
                let value = handle.join_async().await;
                (value, handle.exitcode())
            })
        });
        let mut values = Vec::new();
        for join in joins {
            let (value, exitcode) = tokio::time::timeout(PATIENCE, join)
                .await
                .expect("the child was awaited in time")
                .expect("the task did not panic");
            assert_eq!(exitcode, Some(0));
            values.push(value.expect("the child returned"));
        }
        values
    });
    assert_eq!(values, (0..50u64).map(|n| n * n).collect::<Vec<_>>());
    let alive: Vec<u32> = active_children().iter().map(|child| child.pid()).collect();
    assert!(pids.iter().all(|pid| !alive.contains(pid)), "all reaped");
}

#[test]
fn a_panicking_child_is_the_panic_error() {
    for method in [
        StartMethod::Fork,
        StartMethod::Spawn,
        StartMethod::Forkserver,
    ] {
        let child = Process::new(|| -> u32 { panic!("bad input") }, ())
            .start_method(method)
            .start()
            .expect("start");
        let result = runtime().block_on(async {
            tokio::time::timeout(PATIENCE, child.join_async())
                .await
                .expect("awaited in time")
        });
        match result {
            Err(Error::Panicked { message, .. }) => assert_eq!(message, "bad input"),
            other => panic!("{method:?}: {other:?}"),
        }
        assert_eq!(child.exitcode(), Some(1));
    }
}

#[test]
fn a_dropped_await_leaves_the_handle_joinable() {
    let child = Process::new(square_after, (9, 400))
        .start_method(StartMethod::Spawn)
        .start()
        .expect("start");
    let runtime = runtime();
    let early = runtime.block_on(async {
        tokio::time::timeout(Duration::from_millis(20), child.join_async()).await
    });
    assert!(early.is_err(), "the child was still running: {early:?}");
    assert!(child.is_alive());
    assert_eq!(child.join_timeout(PATIENCE).expect("joined afterwards"), 81);
    let again = runtime.block_on(async { (&child).await });
    assert!(matches!(again, Err(Error::AlreadyTaken)), "{again:?}");
}

#[test]
fn two_awaits_of_one_handle_give_the_value_once() {
    let child = Process::new(square_after, (4, 100))
        .start_method(StartMethod::Fork)
        .start()
        .expect("start");
    let (first, second) = runtime().block_on(async {
        tokio::time::timeout(PATIENCE, async {
            tokio::join!(child.join_async(), child.join_async())
        })
        .await
        .expect("awaited in time")
    });
    let mut results = [first, second];
    results.sort_by_key(|result| result.is_err());
    assert_eq!(*results[0].as_ref().expect("one gets the value"), 16);
    assert!(
        matches!(results[1], Err(Error::AlreadyTaken)),
        "{:?}",
        results[1]
    );
}

#[test]
fn a_child_killed_while_awaited_is_the_signal_error() {
    let child = Process::new(square_after, (1, 60_000))
        .start_method(StartMethod::Forkserver)
        .start()
        .expect("start");
    let result = runtime().block_on(async {
        let join = child.join_async();
        let kill = async {
            tokio::time::sleep(Duration::from_millis(50)).await;
            child.kill().expect("kill");
        };
        let (result, ()) = tokio::time::timeout(PATIENCE, async { tokio::join!(join, kill) })
            .await
            .expect("awaited in time");
        result
    });
    assert!(
        matches!(result, Err(Error::Signaled { signal: 9, .. })),
        "{result:?}"
    );
    assert_eq!(child.exitcode(), Some(-9));
}
