//! `.await` on ThreadPool futures (the `async` feature) under tokio: many concurrent
//! awaiters on a multi-threaded runtime, errors and cancellation, awaiting without
//! blocking the runtime's thread, and dropped awaits (the task goes on, no waker is left).

use std::future::{Future as _, IntoFuture};
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use mp_threads::{Error, ThreadPool};

const LIMIT: Duration = Duration::from_secs(10);

/// A task body that blocks until released (or until LIMIT, so nothing can hang).
fn gate() -> (mpsc::Sender<()>, impl FnOnce() -> bool + Send + 'static) {
    let (release, gate) = mpsc::channel::<()>();
    (release, move || gate.recv_timeout(LIMIT).is_ok())
}

/// Counts how often it was woken; its `Arc`'s strong count tells how many clones live.
#[derive(Default)]
struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_hundred_tasks_await_their_results() -> Result<(), Error> {
    let pool = Arc::new(ThreadPool::new(4)?);
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..500u64 {
        let future = pool.submit(
            |n: u64| {
                std::thread::yield_now();
                n * n
            },
            (n,),
        )?;
        tasks.spawn(async move { (n, future.await) });
    }
    let mut seen = 0;
    let joined = tokio::time::timeout(LIMIT, async {
        while let Some(joined) = tasks.join_next().await {
            let (n, result) = joined.expect("an awaiting task failed");
            assert_eq!(result.expect("the pool task succeeds"), n * n);
            seen += 1;
        }
    })
    .await;
    assert!(
        joined.is_ok(),
        "only {seen} of 500 awaits completed within {LIMIT:?}"
    );
    assert_eq!(seen, 500);
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn panics_and_cancellations_come_back_as_errors() -> Result<(), Error> {
    let pool = ThreadPool::new(1)?;
    let failing = pool.submit(|| -> u32 { panic!("no luck") }, ())?;
    let failed = tokio::time::timeout(LIMIT, failing)
        .await
        .expect("within LIMIT");
    assert!(
        matches!(&failed, Err(Error::Panicked { message, .. }) if message == "no luck"),
        "{failed:?}"
    );

    let (release, blocked) = gate();
    let busy = pool.submit(blocked, ())?;
    // Running, so that the shutdown below cancels only the tasks queued behind it.
    let deadline = std::time::Instant::now() + LIMIT;
    while !busy.running() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    assert!(busy.running());
    let queued = pool.submit(|| 7, ())?.into_future();
    let waiting = tokio::spawn(queued);
    // Cancelled while an async task awaits it: that task is woken with the error.
    let cancel_what = pool.submit(|| 8, ())?;
    assert!(cancel_what.cancel());
    assert!(matches!(cancel_what.await, Err(Error::Cancelled)));
    pool.shutdown(false, true);
    let cancelled = tokio::time::timeout(LIMIT, waiting)
        .await
        .expect("within LIMIT");
    assert!(matches!(
        cancelled.expect("the task ran"),
        Err(Error::Cancelled)
    ));
    release.send(()).expect("the busy task waits");
    assert!(
        tokio::time::timeout(LIMIT, busy)
            .await
            .expect("within LIMIT")?
    );
    Ok(())
}

#[tokio::test(flavor = "current_thread")]
async fn awaiting_leaves_the_runtime_thread_free() -> Result<(), Error> {
    // The pool task waits for a message that another task of this one-thread runtime sends:
    // had the await blocked the thread, that task could not run and the pool task would
    // time out, returning false.
    let pool = ThreadPool::new(1)?;
    let (release, blocked) = gate();
    let waiting = pool.submit(blocked, ())?;
    let sender = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(10)).await;
        release.send(()).is_ok()
    });
    assert!(
        waiting.await?,
        "the pool task was released by the other async task"
    );
    assert!(sender.await.expect("the sender task ran"));
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_await_does_not_cancel_the_task() -> Result<(), Error> {
    let pool = ThreadPool::new(1)?;
    let (release, blocked) = gate();
    let busy = pool.submit(blocked, ())?;
    let ran = Arc::new(AtomicUsize::new(0));
    let counted = {
        let ran = Arc::clone(&ran);
        pool.submit(move || ran.fetch_add(1, Ordering::SeqCst) + 1, ())?
    };
    // Given up after a moment, while the task still waits for the busy worker.
    let given_up = tokio::time::timeout(Duration::from_millis(20), counted).await;
    assert!(given_up.is_err(), "the task cannot have run yet");
    release.send(()).expect("the busy task waits");
    assert!(busy.await?);
    pool.shutdown(true, false);
    assert_eq!(
        ran.load(Ordering::SeqCst),
        1,
        "the dropped await's task still ran"
    );
    Ok(())
}

#[test]
fn a_dropped_await_releases_its_waker() -> Result<(), Error> {
    let pool = ThreadPool::new(1)?;
    let (release, blocked) = gate();
    let token = Arc::new(CountingWaker::default());
    let waker = Waker::from(Arc::clone(&token));
    {
        let mut awaited = pin!(pool.submit(blocked, ())?.into_future());
        assert!(
            awaited
                .as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending()
        );
        assert_eq!(
            Arc::strong_count(&token),
            3,
            "the task holds a clone of the waker"
        );
        assert!(format!("{awaited:?}").contains("awaiting_tasks: 1"));
    }
    assert_eq!(
        Arc::strong_count(&token),
        2,
        "only `token` and `waker` are left"
    );
    release.send(()).expect("the task waits");
    pool.shutdown(true, false);
    assert_eq!(
        token.0.load(Ordering::SeqCst),
        0,
        "a dropped await is never woken"
    );
    Ok(())
}

#[test]
fn only_the_waker_of_the_latest_poll_is_woken() -> Result<(), Error> {
    let pool = ThreadPool::new(1)?;
    let (release, blocked) = gate();
    let first = Arc::new(CountingWaker::default());
    let second = Arc::new(CountingWaker::default());
    let mut awaited = pin!(pool.submit(blocked, ())?.into_future());
    let first_waker = Waker::from(Arc::clone(&first));
    assert!(
        awaited
            .as_mut()
            .poll(&mut Context::from_waker(&first_waker))
            .is_pending()
    );
    let second_waker = Waker::from(Arc::clone(&second));
    assert!(
        awaited
            .as_mut()
            .poll(&mut Context::from_waker(&second_waker))
            .is_pending()
    );
    release.send(()).expect("the task waits");
    let deadline = std::time::Instant::now() + LIMIT;
    while second.0.load(Ordering::SeqCst) == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    assert_eq!(second.0.load(Ordering::SeqCst), 1);
    assert_eq!(first.0.load(Ordering::SeqCst), 0);
    assert!(matches!(
        awaited
            .as_mut()
            .poll(&mut Context::from_waker(&second_waker)),
        Poll::Ready(Ok(true))
    ));
    Ok(())
}
