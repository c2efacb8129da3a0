//! `Event::wait_async` and mp-sys's reactor under a multi-threaded tokio runtime: many
//! tasks awaiting one event set from a thread and from a forked process, more distinct
//! words than one `futex_waitv` call takes, the polling fallback, and cancellation (a
//! dropped wait leaves nothing registered and releases its waker).
//!
//! Every wait is bounded by [`PATIENCE`]; every child is reaped; the shared mapping is
//! unmapped on drop. Each test uses a reactor of its own, so that the registration counts it
//! checks are not disturbed by the tests running beside it.

use std::future::Future;
use std::ops::Deref;
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use mp_sync::Event;
use mp_sys::reactor::Reactor;
use test_support::{PATIENCE, SharedMapping, ensure, spawn_child};
use tokio::task::JoinSet;

/// Waits (asynchronously) until `condition` holds; panics after [`PATIENCE`].
async fn until(what: &str, mut condition: impl FnMut() -> bool) {
    let waited = tokio::time::timeout(PATIENCE, async {
        while !condition() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "still not true after {PATIENCE:?}: {what}");
}

/// Waits for every task of `tasks` to finish, and checks that they all did.
async fn join_all(mut tasks: JoinSet<()>) -> usize {
    let mut finished = 0;
    let joined = tokio::time::timeout(PATIENCE, async {
        while let Some(outcome) = tasks.join_next().await {
            outcome.expect("a waiting task failed");
            finished += 1;
        }
    })
    .await;
    assert!(
        joined.is_ok(),
        "only {finished} tasks finished within {PATIENCE:?}"
    );
    finished
}

/// `count` tasks, each awaiting `event` through `reactor`.
fn awaiters<E>(count: usize, event: &Arc<E>, reactor: &Arc<Reactor>) -> JoinSet<()>
where
    E: Deref<Target = Event> + Send + Sync + 'static,
{
    let mut tasks = JoinSet::new();
    for _ in 0..count {
        let event = Arc::clone(event);
        let reactor = Arc::clone(reactor);
        tasks.spawn(async move { event.wait_async_on(&reactor).await });
    }
    tasks
}

/// Drops `reactor` (joining its thread) on another thread, failing if that takes too long.
fn drop_within_patience(reactor: Arc<Reactor>) {
    let reactor = Arc::into_inner(reactor).expect("no task holds the reactor any more");
    let (done, dropped) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        drop(reactor);
        let _ = done.send(());
    });
    dropped
        .recv_timeout(PATIENCE)
        .expect("the reactor's thread stops when it is dropped");
}

/// How many threads this process has.
fn threads_of_this_process() -> usize {
    std::fs::read_dir("/proc/self/task").map_or(0, Iterator::count)
}

/// An `Event` held in an `Arc` derefs to itself.
struct Plain(Event);

impl Deref for Plain {
    type Target = Event;
    fn deref(&self) -> &Event {
        &self.0
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_tasks_wake_on_one_set_from_a_thread() {
    let reactor = Arc::new(Reactor::new());
    let event = Arc::new(Plain(Event::new()));
    let threads_before = threads_of_this_process();
    let tasks = awaiters(500, &event, &reactor);
    until("500 waits registered", || reactor.registered() == 500).await;
    assert_eq!(tasks.len(), 500, "no task finished before the set");
    // One reactor thread for all of them (the margin is for the tests running beside).
    let threads_waiting = threads_of_this_process();
    assert!(
        threads_waiting < threads_before + 100,
        "{threads_before} threads before, {threads_waiting} with 500 waits pending"
    );

    let setter = {
        let event = Arc::clone(&event);
        std::thread::spawn(move || event.set())
    };
    assert_eq!(join_all(tasks).await, 500);
    setter.join().expect("the setter thread");
    assert_eq!(reactor.registered(), 0);
    drop_within_patience(reactor);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_tasks_wake_when_a_forked_process_sets_the_event() {
    let reactor = Arc::new(Reactor::new());
    let event = Arc::new(SharedMapping::new(Event::new()));
    let tasks = awaiters(500, &event, &reactor);
    until("500 waits registered", || reactor.registered() == 500).await;

    let mut child = spawn_child(|| {
        event.set();
        Ok(())
    });
    assert_eq!(child.join(), 0);
    assert_eq!(join_all(tasks).await, 500);
    assert!(event.is_set());
    assert_eq!(reactor.registered(), 0);
    drop_within_patience(reactor);
}

/// Wakes the thread that blocks on a future, for a minimal executor without a runtime.
struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `future` on this thread until it completes or `limit` passes; `true` if it did.
/// Calls `pending` once, after the first poll that found the future pending.
fn block_on_within<F: Future>(future: F, limit: Duration, pending: impl FnOnce()) -> bool {
    let deadline = std::time::Instant::now() + limit;
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    let mut pending = Some(pending);
    loop {
        if future.as_mut().poll(&mut cx).is_ready() {
            return true;
        }
        if let Some(pending) = pending.take() {
            pending();
        }
        let now = std::time::Instant::now();
        if now >= deadline {
            return false;
        }
        std::thread::park_timeout(deadline - now);
    }
}

#[test]
fn a_forked_child_awaits_through_a_reactor_thread_of_its_own() {
    // The reactor's thread runs in the parent; the child has none until its first wait.
    let reactor = Reactor::new();
    let warm_up = Event::new();
    let waker = Waker::noop();
    assert!(
        pin!(warm_up.wait_async_on(&reactor))
            .poll(&mut Context::from_waker(waker))
            .is_pending()
    );
    assert_eq!(
        reactor.registered(),
        0,
        "the dropped wait took its registration out"
    );

    let go = SharedMapping::new(Event::new());
    let child_waiting = SharedMapping::new(Event::new());
    // No other thread uses `reactor` (its table's lock is free at the fork); the reactor
    // starts a thread in the child, which a forked child may do once glibc's fork handlers
    // made malloc usable.
    let mut child = spawn_child(|| {
        let woken = block_on_within(go.wait_async_on(&reactor), PATIENCE, || child_waiting.set());
        ensure(woken && go.is_set(), 1)
    });
    let child_registered = child_waiting.wait_timeout(PATIENCE);
    go.set();
    assert_eq!(child_registered, Ok(()), "the child reached its await");
    assert_eq!(child.join(), 0, "the child was woken by the parent's set");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn aborted_and_timed_out_waits_leave_nothing_registered() {
    let reactor = Arc::new(Reactor::new());
    let event = Arc::new(Plain(Event::new()));
    let mut tasks = awaiters(200, &event, &reactor);
    until("200 waits registered", || reactor.registered() == 200).await;
    tasks.abort_all();
    let mut cancelled = 0;
    while let Some(outcome) = tasks.join_next().await {
        assert!(outcome.expect_err("aborted before the set").is_cancelled());
        cancelled += 1;
    }
    assert_eq!(cancelled, 200);
    assert_eq!(reactor.registered(), 0);

    let timed_out =
        tokio::time::timeout(Duration::from_millis(20), event.wait_async_on(&reactor)).await;
    assert!(timed_out.is_err(), "nobody set the event");
    assert_eq!(reactor.registered(), 0);

    // The event still works for the next waiter.
    let tasks = awaiters(3, &event, &reactor);
    until("3 waits registered", || reactor.registered() == 3).await;
    event.set();
    assert_eq!(join_all(tasks).await, 3);
    assert_eq!(reactor.registered(), 0);
    drop_within_patience(reactor);
}

/// Counts the clones of a waker still alive (the `Arc`'s strong count).
struct Counted;

impl Wake for Counted {
    fn wake(self: Arc<Self>) {}
}

#[test]
fn a_dropped_wait_releases_its_waker() {
    let reactor = Reactor::new();
    let event = Event::new();
    let token = Arc::new(Counted);
    let waker = Waker::from(Arc::clone(&token));
    let mut cx = Context::from_waker(&waker);
    {
        let mut wait = pin!(event.wait_async_on(&reactor));
        assert!(wait.as_mut().poll(&mut cx).is_pending());
        assert_eq!(reactor.registered(), 1);
        assert!(
            Arc::strong_count(&token) > 2,
            "the reactor holds a clone of the waker"
        );
    }
    assert_eq!(reactor.registered(), 0);
    assert_eq!(
        Arc::strong_count(&token),
        2,
        "only `token` and `waker` are left"
    );
}

#[test]
fn an_event_already_set_completes_without_registering() {
    let reactor = Reactor::new();
    let event = Event::new();
    event.set();
    let waker = Waker::noop();
    let mut wait = pin!(event.wait_async_on(&reactor));
    assert_eq!(
        wait.as_mut().poll(&mut Context::from_waker(waker)),
        Poll::Ready(())
    );
    assert_eq!(reactor.registered(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_set_then_clear_after_the_call_still_completes() {
    let reactor = Arc::new(Reactor::new());
    let event = Arc::new(Plain(Event::new()));
    let mut tasks = awaiters(10, &event, &reactor);
    until("10 waits registered", || reactor.registered() == 10).await;
    event.set();
    event.clear();
    assert_eq!(join_all(std::mem::take(&mut tasks)).await, 10);
    assert!(!event.is_set());

    // Set and cleared between the call and the first poll: it counts too.
    let wait = event.wait_async_on(&reactor);
    event.set();
    event.clear();
    tokio::time::timeout(PATIENCE, wait)
        .await
        .expect("the set counts");
    assert_eq!(reactor.registered(), 0);
    drop_within_patience(reactor);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_distinct_words_than_one_futex_waitv_call_takes() {
    // 127 words fit in one call beside the doorbell; the rest are polled.
    let reactor = Arc::new(Reactor::new());
    let events: Vec<Arc<Plain>> = (0..300).map(|_| Arc::new(Plain(Event::new()))).collect();
    let mut tasks = JoinSet::new();
    for event in &events {
        let event = Arc::clone(event);
        let reactor = Arc::clone(&reactor);
        tasks.spawn(async move { event.wait_async_on(&reactor).await });
    }
    until("300 waits registered", || reactor.registered() == 300).await;
    let setter = {
        let events = events.clone();
        std::thread::spawn(move || events.iter().for_each(|event| event.set()))
    };
    assert_eq!(join_all(tasks).await, 300);
    setter.join().expect("the setter thread");
    assert_eq!(reactor.registered(), 0);
    drop_within_patience(reactor);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_polling_fallback_wakes_every_waiter() {
    let reactor = Arc::new(Reactor::polling());
    assert!(reactor.is_polling());
    let event = Arc::new(Plain(Event::new()));
    let tasks = awaiters(50, &event, &reactor);
    until("50 waits registered", || reactor.registered() == 50).await;
    let setter = {
        let event = Arc::clone(&event);
        std::thread::spawn(move || event.set())
    };
    assert_eq!(join_all(tasks).await, 50);
    setter.join().expect("the setter thread");
    assert_eq!(reactor.registered(), 0);
    drop_within_patience(reactor);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ping_pong_with_a_thread_loses_no_wake_up() {
    // Each side waits for its event, clears it and sets the other's: a lost wake-up
    // stops the game, and the bounded wait fails the test.
    const ROUNDS: usize = 300;
    let ping = Arc::new(Plain(Event::new()));
    let pong = Arc::new(Plain(Event::new()));
    let rounds_played = Arc::new(AtomicUsize::new(0));
    let player = {
        let (ping, pong) = (Arc::clone(&ping), Arc::clone(&pong));
        let rounds_played = Arc::clone(&rounds_played);
        std::thread::spawn(move || {
            for _ in 0..ROUNDS {
                if ping.wait_timeout(PATIENCE).is_err() {
                    return;
                }
                ping.clear();
                rounds_played.fetch_add(1, Ordering::SeqCst);
                pong.set();
            }
        })
    };
    let played = tokio::time::timeout(PATIENCE, async {
        for _ in 0..ROUNDS {
            ping.set();
            pong.wait_async().await;
            pong.clear();
        }
    })
    .await;
    assert!(
        played.is_ok(),
        "stuck after {} rounds",
        rounds_played.load(Ordering::SeqCst)
    );
    player.join().expect("the player thread");
    assert_eq!(rounds_played.load(Ordering::SeqCst), ROUNDS);
}
