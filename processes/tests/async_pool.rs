//! Awaiting the process pool's `AsyncResult` (feature `async`) under a multi-threaded
//! tokio runtime: many awaiting tasks at once, and futures dropped before their result
//! came leave the pool consistent.

use std::future::IntoFuture;
use std::time::Duration;

use mp_processes::{Error, Pool, StartMethod};

/// Long enough for a loaded machine, short enough that a bug fails instead of hanging.
const PATIENCE: Duration = Duration::from_secs(60);

fn triple(n: u64) -> u64 {
    n * 3
}

fn nap_then(n: u64, millis: u64) -> u64 {
    std::thread::sleep(Duration::from_millis(millis));
    n
}

fn pool(method: StartMethod) -> Pool {
    Pool::builder()
        .processes(2)
        .start_method(method)
        .build()
        .expect("the pool starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_tasks_await_their_results_at_once() {
    for method in [StartMethod::Forkserver, StartMethod::Spawn] {
        let pool = pool(method);
        let awaiting: Vec<_> = (0..200u64)
            .map(|n| {
                let result = pool.apply_async(triple, (n,)).unwrap();
                tokio::spawn(result.into_future())
            })
            .collect();
        for (n, task) in awaiting.into_iter().enumerate() {
            let value = tokio::time::timeout(PATIENCE, task)
                .await
                .expect("the result came in time")
                .expect("the awaiting task did not panic")
                .expect("the task succeeded");
            assert_eq!(value, 3 * n as u64);
        }
        pool.close();
        pool.join_timeout(PATIENCE).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_task_fails_only_its_own_await() {
    let pool = pool(StartMethod::Forkserver);
    let failing = pool
        .apply_async(|| -> u8 { panic!("bad input") }, ())
        .unwrap();
    let fine = pool.apply_async(triple, (14,)).unwrap();
    match tokio::time::timeout(PATIENCE, failing.into_future())
        .await
        .unwrap()
    {
        Err(Error::Panicked { message, .. }) => assert_eq!(message, "bad input"),
        other => panic!("expected the panic, got {other:?}"),
    }
    assert_eq!(
        tokio::time::timeout(PATIENCE, fine.into_future())
            .await
            .unwrap()
            .unwrap(),
        42
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_awaits_leave_the_pool_consistent() {
    let pool = pool(StartMethod::Forkserver);
    // Futures given up on before their tasks end: the tasks still run to the end, and
    // their values, with nobody to take them, are dropped.
    for n in 0..8u64 {
        let slow = pool.apply_async(nap_then, (n, 200)).unwrap();
        let gave_up = tokio::time::timeout(Duration::from_millis(5), slow.into_future()).await;
        assert!(gave_up.is_err(), "a 200 ms task was done within 5 ms");
    }
    // The pool goes on: new tasks are awaited and mapped as usual, every worker usable.
    let again = pool.apply_async(triple, (5,)).unwrap();
    assert_eq!(
        tokio::time::timeout(PATIENCE, again.into_future())
            .await
            .unwrap()
            .unwrap(),
        15
    );
    let squares = tokio::task::spawn_blocking(move || {
        let squares = pool.map(|n: u64| n * n, 0..50u64);
        pool.close();
        pool.join_timeout(PATIENCE).map(|()| squares)
    })
    .await
    .unwrap()
    .unwrap()
    .unwrap();
    assert_eq!(squares, (0..50u64).map(|n| n * n).collect::<Vec<_>>());
}
