//! A pool's results as mp-futures' `Future`: cancellation before a worker is sent the
//! task (it never runs), `as_completed` and `wait` over pool results, telling results
//! apart by id, and awaiting many at once.

use std::collections::HashMap;
use std::time::Duration;

use mp_futures::{ReturnWhen, as_completed, wait};
use mp_processes::{Error, Pool, StartMethod};
use mp_shared_mem::{Shared, Value};
use mp_sync::Event;
use test_support::PATIENCE;

fn hold_until(gate: Shared<Event>) -> bool {
    gate.wait_timeout(PATIENCE).is_ok()
}

fn count_run(runs: Value<u32>) -> u32 {
    let mut runs = runs.lock().expect("no holder died");
    *runs += 1;
    *runs
}

fn square(n: u64) -> u64 {
    n * n
}

fn one_worker(method: StartMethod) -> Pool {
    Pool::builder()
        .processes(1)
        .start_method(method)
        .build()
        .expect("a pool of one")
}

#[test]
fn a_result_cancelled_while_queued_never_runs() {
    for method in [StartMethod::Fork, StartMethod::Forkserver] {
        let pool = one_worker(method);
        let gate = Shared::new(Event::new()).expect("an event in shared memory");
        let runs = Value::new(0u32).expect("a shared counter");
        let busy = pool.submit(hold_until, (gate.clone(),)).expect("submitted");
        let queued = pool.submit(count_run, (runs.clone(),)).expect("submitted");
        assert!(
            queued.cancel(),
            "{method:?}: a queued task can be cancelled"
        );
        assert!(queued.cancelled() && queued.done());
        gate.set();
        assert!(busy.result_timeout(PATIENCE).expect("the busy task ends"));
        // The worker is free again: a task sent after the cancelled one runs first.
        let after = pool.submit(count_run, (runs.clone(),)).expect("submitted");
        assert_eq!(after.result_timeout(PATIENCE).expect("it runs"), 1);
        assert!(matches!(queued.result(), Err(Error::Cancelled)));
        assert_eq!(
            runs.get().expect("readable"),
            1,
            "{method:?}: the cancelled task ran"
        );
        pool.shutdown(true, false);
    }
}

#[test]
fn a_running_result_cannot_be_cancelled() {
    let pool = one_worker(StartMethod::Fork);
    let gate = Shared::new(Event::new()).expect("an event in shared memory");
    let busy = pool.submit(hold_until, (gate.clone(),)).expect("submitted");
    // Sent to the worker at once (it is idle), so it counts as running.
    test_support::eventually(|| busy.running(), PATIENCE);
    assert!(!busy.cancel());
    gate.set();
    assert!(busy.result_timeout(PATIENCE).expect("the task ends"));
    pool.shutdown(true, false);
}

#[test]
fn as_completed_yields_every_result_once_and_ids_name_them() {
    let pool = Pool::new(2).expect("a pool");
    let futures: Vec<_> = (1..=8u64)
        .map(|n| pool.submit(square, (n,)).expect("submitted"))
        .collect();
    let inputs: HashMap<_, _> = futures
        .iter()
        .zip(1..=8u64)
        .map(|(f, n)| (f.id(), n))
        .collect();
    let mut seen = Vec::new();
    for future in as_completed(futures) {
        let n = inputs[&future.id()];
        assert_eq!(future.result_timeout(PATIENCE).expect("a square"), n * n);
        seen.push(n);
    }
    seen.sort_unstable();
    assert_eq!(seen, (1..=8).collect::<Vec<_>>());
}

#[test]
fn wait_for_all_splits_done_from_not_done() {
    let pool = one_worker(StartMethod::Fork);
    let gate = Shared::new(Event::new()).expect("an event in shared memory");
    let quick = pool.submit(square, (3,)).expect("submitted");
    let held = pool.submit(hold_until, (gate.clone(),)).expect("submitted");
    let waited = wait(
        vec![quick.clone()],
        ReturnWhen::AllCompleted,
        Some(PATIENCE),
    );
    assert_eq!(waited.done, std::slice::from_ref(&quick));
    let held_only = wait(
        vec![held.clone()],
        ReturnWhen::FirstCompleted,
        Some(Duration::from_millis(50)),
    );
    assert_eq!(
        held_only.not_done,
        std::slice::from_ref(&held),
        "the held task is still running"
    );
    gate.set();
    assert!(held.result_timeout(PATIENCE).expect("released"));
    assert_eq!(quick.result().expect("taken once"), 9);
}

#[tokio::test(flavor = "current_thread")]
async fn many_results_awaited_together() {
    let pool = Pool::new(2).expect("a pool");
    let futures: Vec<_> = (0..20u64)
        .map(|n| pool.submit(square, (n,)).expect("submitted"))
        .collect();
    let mut total = 0;
    for future in futures {
        total += tokio::time::timeout(PATIENCE, future)
            .await
            .expect("in time")
            .expect("a square");
    }
    assert_eq!(total, (0..20u64).map(|n| n * n).sum::<u64>());
}
