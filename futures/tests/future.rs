//! The semantics of `Future`, `Promise`, `wait` and `as_completed`, in the manner of
//! CPython's `test_concurrent_futures`: every state, every race, every edge.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, mpsc};
use std::thread;
use std::time::Duration;

use mp_futures::{FutureError, Promise, ReturnWhen, as_completed, wait};

const PATIENCE: Duration = Duration::from_secs(30);

type Task = (
    Promise<u32, FutureError>,
    mp_futures::Future<u32, FutureError>,
);

fn task() -> Task {
    Promise::new()
}

#[test]
fn a_cancel_and_a_start_race_and_exactly_one_wins() {
    for _ in 0..2_000 {
        let (promise, future) = task();
        let start = Arc::new(Barrier::new(2));
        let canceller = {
            let future = future.clone();
            let start = Arc::clone(&start);
            thread::spawn(move || {
                start.wait();
                future.cancel()
            })
        };
        start.wait();
        let started = promise.set_running();
        let cancelled = canceller.join().expect("the canceller returns");
        assert_ne!(started, cancelled, "exactly one of start and cancel wins");
        if started {
            promise.complete(Ok(1));
            assert_eq!(future.result(), Ok(1));
        } else {
            assert_eq!(future.result(), Err(FutureError::Cancelled));
        }
    }
}

#[test]
fn many_waiters_wake_and_exactly_one_takes_the_value() {
    let (promise, future) = task();
    let waiters: Vec<_> = (0..8)
        .map(|_| {
            let future = future.clone();
            thread::spawn(move || future.result_timeout(PATIENCE))
        })
        .collect();
    promise.complete(Ok(7));
    let outcomes: Vec<_> = waiters
        .into_iter()
        .map(|waiter| waiter.join().expect("every waiter returns"))
        .collect();
    assert_eq!(
        outcomes.iter().filter(|outcome| **outcome == Ok(7)).count(),
        1
    );
    assert_eq!(
        outcomes
            .iter()
            .filter(|outcome| **outcome == Err(FutureError::AlreadyTaken))
            .count(),
        7
    );
}

#[test]
fn an_error_is_given_to_every_taker() {
    let (promise, future) = task();
    promise.complete(Err(FutureError::Abandoned));
    assert_eq!(
        future.result_timeout(Duration::ZERO),
        Err(FutureError::Abandoned)
    );
    assert_eq!(future.clone().result(), Err(FutureError::Abandoned));
    assert_eq!(future.exception(), Some(FutureError::Abandoned));
    assert_eq!(future.successful(), Some(false));
}

#[test]
fn timeouts_of_every_size() {
    let (promise, future) = task();
    for timeout in [
        Duration::ZERO,
        Duration::from_nanos(1),
        Duration::from_millis(5),
    ] {
        assert_eq!(future.result_timeout(timeout), Err(FutureError::TimedOut));
        assert_eq!(future.wait_timeout(timeout), Err(FutureError::TimedOut));
    }
    let completer = thread::spawn(move || promise.complete(Ok(3)));
    // Overflowing the clock means "forever".
    assert_eq!(future.result_timeout(Duration::MAX), Ok(3));
    assert_eq!(future.wait_timeout(Duration::MAX), Ok(()));
    assert!(completer.join().expect("the completer returns"));
}

#[test]
fn callbacks_run_once_in_order_and_a_panicking_one_is_ignored() {
    let (promise, future) = task();
    let (seen, order) = mpsc::channel();
    for n in 0..3 {
        let seen = seen.clone();
        let observed = future.clone();
        future.add_done_callback(move |outcome| {
            // A callback may ask its own future whether it is done: no deadlock.
            assert!(observed.done());
            seen.send((n, outcome.copied().map_err(|e| *e))).unwrap();
        });
        if n == 1 {
            future.add_done_callback(|_| panic!("a callback that panics"));
        }
    }
    promise.complete(Ok(5));
    let calls: Vec<_> = order.try_iter().collect();
    assert_eq!(calls, [(0, Ok(5)), (1, Ok(5)), (2, Ok(5))]);
    // Added after the end: runs at once, on this thread; after the value was taken, it
    // is told so.
    assert_eq!(future.clone().result(), Ok(5));
    future.add_done_callback(move |outcome| {
        seen.send((3, outcome.copied().map_err(|e| *e))).unwrap()
    });
    assert_eq!(order.try_recv(), Ok((3, Err(FutureError::AlreadyTaken))));
}

#[test]
fn a_waiter_that_returns_sees_what_the_callbacks_did() {
    for _ in 0..200 {
        let (promise, future) = task();
        let effect = Arc::new(AtomicUsize::new(0));
        let written = Arc::clone(&effect);
        future.add_done_callback(move |_| {
            thread::yield_now();
            written.store(1, Ordering::SeqCst);
        });
        let waiter = {
            let future = future.clone();
            let effect = Arc::clone(&effect);
            thread::spawn(move || {
                future.wait();
                effect.load(Ordering::SeqCst)
            })
        };
        promise.complete(Ok(0));
        assert_eq!(waiter.join().expect("the waiter returns"), 1);
    }
}

#[test]
fn wait_first_exception_ignores_cancellations_and_returns_on_a_failure() {
    let (_cancelled_promise, cancelled) = task();
    let (failing, failed) = task();
    let (_running, running) = task();
    assert!(cancelled.cancel());
    let waited = wait(
        vec![cancelled.clone(), running.clone()],
        ReturnWhen::FirstException,
        Some(Duration::from_millis(20)),
    );
    assert_eq!(
        waited.done,
        std::slice::from_ref(&cancelled),
        "a cancellation is not an exception"
    );
    assert_eq!(waited.not_done, std::slice::from_ref(&running));

    let failer = thread::spawn(move || failing.complete(Err(FutureError::Abandoned)));
    let waited = wait(
        vec![running.clone(), failed.clone()],
        ReturnWhen::FirstException,
        Some(PATIENCE),
    );
    assert_eq!(waited.done, [failed]);
    assert_eq!(waited.not_done, [running]);
    failer.join().expect("the failer returns");
}

#[test]
fn wait_on_nothing_returns_at_once_for_every_rule() {
    for rule in [
        ReturnWhen::FirstCompleted,
        ReturnWhen::FirstException,
        ReturnWhen::AllCompleted,
    ] {
        let waited = wait(
            Vec::<mp_futures::Future<u8, FutureError>>::new(),
            rule,
            None,
        );
        assert!(waited.done.is_empty() && waited.not_done.is_empty());
    }
}

#[test]
fn as_completed_yields_in_completion_order_each_once() {
    let tasks: Vec<Task> = (0..5).map(|_| task()).collect();
    let (promises, futures): (Vec<_>, Vec<_>) = tasks.into_iter().unzip();
    let ids: Vec<_> = futures.iter().map(|future| future.id()).collect();
    let mut completed = as_completed(futures);
    for index in [3usize, 0, 4, 1, 2] {
        promises[index].complete(Ok(index as u32));
        let next = completed
            .next_timeout(PATIENCE)
            .expect("in time")
            .expect("one more");
        assert_eq!(next.id(), ids[index]);
        assert_eq!(next.result(), Ok(index as u32));
    }
    assert_eq!(completed.next_timeout(Duration::ZERO), Ok(None));
}

#[test]
fn an_abandoned_as_completed_leaves_no_callback_behind() {
    let (promise, future) = task();
    let counted = Arc::new(AtomicUsize::new(0));
    {
        let mut completed = as_completed(vec![future.clone()]);
        assert_eq!(
            completed.next_timeout(Duration::from_millis(1)).err(),
            Some(FutureError::TimedOut)
        );
    }
    let count = Arc::clone(&counted);
    future.add_done_callback(move |_| {
        count.fetch_add(1, Ordering::SeqCst);
    });
    promise.complete(Ok(1));
    assert_eq!(
        counted.load(Ordering::SeqCst),
        1,
        "only the live callback ran"
    );
}

#[test]
// A future's hash is its task id, which never changes: the interior mutability clippy
// sees (the shared state) takes no part in it.
#[allow(clippy::mutable_key_type)]
fn futures_are_told_apart_by_their_task() {
    use std::collections::HashSet;
    let (_a, first) = task();
    let (_b, second) = task();
    let set: HashSet<_> = [first.clone(), first.clone(), second.clone()]
        .into_iter()
        .collect();
    assert_eq!(set.len(), 2);
    assert!(first < second, "ids follow submission order");
    assert_eq!(first.id().to_string(), format!("task-{}", first.id().get()));
}
