//! The async wake-up layer: cancellation leaves nothing behind, many waiters of one word
//! wake together, a word woken from another process, descriptor readiness, the polling
//! fallback, a forked child that waits through the reactor its parent already used, and
//! one forked while another thread of the parent was inside the reactor.

use std::future::Future;
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;
use std::time::{Duration, Instant};

use mp_sys::futex;
use mp_sys::reactor::{Reactor, Waiter};
use test_support::{SharedMapping, ensure, eventually, holds_within, spawn_child};

const BOUND: Duration = Duration::from_secs(10);

/// Wakes the thread that blocks on the future.
struct Unpark(Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Drives `future` on this thread, sleeping between polls until woken; `None` if it is
/// not done within `bound`.
fn block_on_within<F: Future>(future: F, bound: Duration) -> Option<F::Output> {
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    drive(pin!(future), &mut Context::from_waker(&waker), bound)
}

/// Drives `future` as [`block_on_within`] does, but runs `release` (what makes it ready)
/// only once its first poll has registered it: the reactor's wake-up, not a race won by
/// chance, is what completes it.
fn block_on_released<F: Future>(
    future: F,
    release: impl FnOnce(),
    bound: Duration,
) -> Option<F::Output> {
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    assert!(
        future.as_mut().poll(&mut cx).is_pending(),
        "ready before it was released"
    );
    release();
    drive(future, &mut cx, bound)
}

fn drive<F: Future>(
    mut future: Pin<&mut F>,
    cx: &mut Context<'_>,
    bound: Duration,
) -> Option<F::Output> {
    let end = Instant::now() + bound;
    loop {
        if let Poll::Ready(value) = future.as_mut().poll(cx) {
            return Some(value);
        }
        let left = end.checked_duration_since(Instant::now())?;
        std::thread::park_timeout(left);
    }
}

/// Awaits `word` until it no longer holds `from`.
async fn changed(reactor: &Reactor, word: &AtomicU32, from: u32) {
    while word.load(Ordering::Acquire) == from {
        reactor.wait(word, from).await;
    }
}

/// In a forked child: a fresh word woken by a store and a wake, then a fresh socket made
/// readable, both waited on through `reactor` within the bound. `Err(code)` names the
/// step that failed: `first_code` and the three after it.
fn waits_on_a_fresh_word_and_socket(reactor: &Reactor, first_code: u8) -> Result<(), u8> {
    let word = AtomicU32::new(0);
    let wake_word = || {
        word.store(1, Ordering::Release);
        futex::wake_all(&word);
    };
    ensure(
        block_on_released(changed(reactor, &word, 0), wake_word, BOUND).is_some(),
        first_code,
    )?;
    let (socket, mut peer) = UnixStream::pair().map_err(|_| first_code + 1)?;
    let mut written = Ok(());
    let write = || written = peer.write_all(b"x");
    let ready = block_on_released(reactor.readable(socket.as_fd()), write, BOUND);
    ensure(written.is_ok(), first_code + 2)?;
    ensure(matches!(ready, Some(Ok(()))), first_code + 3)
}

/// Counts its wakes.
struct Count(AtomicUsize);

impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn dropped_waits_leave_nothing_registered() {
    let reactor = Reactor::new();
    let word = AtomicU32::new(0);
    let (socket, _peer) = UnixStream::pair().unwrap();
    let waker = Waker::noop();
    let mut cx = Context::from_waker(waker);
    {
        let mut on_word = pin!(reactor.wait(&word, 0));
        let mut on_socket = pin!(reactor.readable(socket.as_fd()));
        assert!(on_word.as_mut().poll(&mut cx).is_pending());
        assert!(on_socket.as_mut().poll(&mut cx).is_pending());
        assert_eq!(reactor.registered(), 2);
    }
    assert_eq!(reactor.registered(), 0);
    // A waiter moved from a word to a descriptor keeps one registration.
    let mut waiter = Waiter::new(&reactor);
    assert!(waiter.poll_word(&mut cx, &word, 0).is_pending());
    assert!(waiter.poll_readable(&mut cx, socket.as_fd()).is_pending());
    assert_eq!(reactor.registered(), 1);
    drop(waiter);
    assert_eq!(reactor.registered(), 0);
}

#[test]
fn many_waiters_of_one_word_all_wake() {
    let reactor = Reactor::new();
    let word = AtomicU32::new(0);
    let count = Arc::new(Count(AtomicUsize::new(0)));
    let waker = Waker::from(Arc::clone(&count));
    let mut cx = Context::from_waker(&waker);
    let mut waiters: Vec<Waiter<'_>> = (0..200).map(|_| Waiter::new(&reactor)).collect();
    for waiter in &mut waiters {
        assert!(waiter.poll_word(&mut cx, &word, 0).is_pending());
    }
    assert_eq!(reactor.registered(), 200);
    word.store(1, Ordering::Release);
    futex::wake_all(&word);
    eventually(|| count.0.load(Ordering::SeqCst) == 200, BOUND);
    for waiter in &mut waiters {
        assert!(waiter.poll_word(&mut cx, &word, 0).is_ready());
    }
    assert_eq!(reactor.registered(), 0);
}

#[test]
fn a_word_woken_by_another_process_wakes_the_task() {
    let word = SharedMapping::new(AtomicU32::new(0));
    let go = SharedMapping::new(AtomicU32::new(0));
    let reactor = Reactor::new();
    let mut child = spawn_child(|| {
        // Only once the parent's wait is registered.
        ensure(holds_within(|| go.load(Ordering::Acquire) == 1, BOUND), 1)?;
        word.store(1, Ordering::Release);
        futex::wake_all(&word);
        Ok(())
    });
    let waited = block_on_released(
        changed(&reactor, &word, 0),
        || go.store(1, Ordering::Release),
        BOUND,
    );
    assert_eq!(child.join(), 0);
    assert!(waited.is_some(), "not woken by the child");
    assert_eq!(reactor.registered(), 0);
}

#[test]
fn the_polling_fallback_still_wakes() {
    let reactor = Reactor::polling();
    let word = AtomicU32::new(0);
    // No futex wake at all: the polling reactor finds the change by itself.
    let release = || word.store(1, Ordering::Release);
    assert!(block_on_released(changed(&reactor, &word, 0), release, BOUND).is_some());
}

#[test]
fn a_descriptor_turning_readable_wakes_the_task() {
    let reactor = Reactor::new();
    let (socket, mut peer) = UnixStream::pair().unwrap();
    for round in 0..3u8 {
        let release = || peer.write_all(&[round]).unwrap();
        let ready = block_on_released(reactor.readable(socket.as_fd()), release, BOUND);
        assert!(matches!(ready, Some(Ok(()))), "round {round}: {ready:?}");
        let mut byte = [0u8];
        std::io::Read::read_exact(&mut &socket, &mut byte).unwrap();
        assert_eq!(byte, [round]);
    }
    assert_eq!(reactor.registered(), 0);
}

#[test]
fn a_waiter_rearms_its_descriptor_between_wakes() {
    let reactor = Reactor::new();
    let (socket, mut peer) = UnixStream::pair().unwrap();
    let count = Arc::new(Count(AtomicUsize::new(0)));
    let waker = Waker::from(Arc::clone(&count));
    let mut cx = Context::from_waker(&waker);
    let mut waiter = Waiter::new(&reactor);
    assert!(waiter.poll_readable(&mut cx, socket.as_fd()).is_pending());
    peer.write_all(b"a").unwrap();
    eventually(|| count.0.load(Ordering::SeqCst) == 1, BOUND);
    assert!(matches!(
        waiter.poll_readable(&mut cx, socket.as_fd()),
        Poll::Ready(Ok(()))
    ));
    // Still readable (nobody read): armed again, it reports again.
    assert!(waiter.poll_readable(&mut cx, socket.as_fd()).is_pending());
    eventually(|| count.0.load(Ordering::SeqCst) == 2, BOUND);
}

#[test]
fn a_forked_child_waits_through_a_reactor_its_parent_used() {
    let reactor = Reactor::global();
    // Start both of the parent's threads before the fork.
    let word = AtomicU32::new(0);
    let waker = Waker::noop();
    let mut cx = Context::from_waker(waker);
    let mut on_word = pin!(reactor.wait(&word, 0));
    assert!(on_word.as_mut().poll(&mut cx).is_pending());
    let (socket, peer) = UnixStream::pair().unwrap();
    let mut on_socket = pin!(reactor.readable(socket.as_fd()));
    assert!(on_socket.as_mut().poll(&mut cx).is_pending());

    let mut child = spawn_child(|| {
        // The wait the parent registered, polled here: registered anew in the child's own
        // epoll set, and woken there.
        (&peer).write_all(b"y").map_err(|_| 15u8)?;
        let woken = block_on_within(on_socket.as_mut(), BOUND);
        ensure(matches!(woken, Some(Ok(()))), 16)?;
        let mut byte = [0u8];
        std::io::Read::read_exact(&mut &socket, &mut byte).map_err(|_| 17u8)?;
        waits_on_a_fresh_word_and_socket(reactor, 10)
    });
    assert_eq!(child.join(), 0);
    // The parent's registrations survived the child's waits (its own and the one it
    // inherited), and still work.
    assert!(on_socket.as_mut().poll(&mut cx).is_pending());
    word.store(1, Ordering::Release);
    futex::wake_all(&word);
    assert!(block_on_within(on_word, BOUND).is_some());
}

#[test]
fn a_child_forked_while_another_thread_holds_the_reactor_still_waits() {
    let reactor = Reactor::global();
    // The parent's reactor in use: both of its threads started, a waiter of each kind.
    let word = AtomicU32::new(0);
    let (socket, _peer) = UnixStream::pair().unwrap();
    let waker = Waker::noop();
    let mut cx = Context::from_waker(waker);
    let mut on_word = pin!(reactor.wait(&word, 0));
    assert!(on_word.as_mut().poll(&mut cx).is_pending());
    let mut on_socket = pin!(reactor.readable(socket.as_fd()));
    assert!(on_socket.as_mut().poll(&mut cx).is_pending());

    // Another thread holds every lock of the reactor's tables while this one forks: the
    // child inherits them held, with no thread that would ever release them.
    let (held, held_now) = mpsc::channel();
    let (release, released) = mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        reactor.with_tables_held(|| {
            let _ = held.send(());
            // Until the fork is done; bounded, should the test fail before it says so.
            let _ = released.recv_timeout(BOUND);
        });
    });
    held_now
        .recv_timeout(BOUND)
        .expect("the holder took the locks");
    let mut child = spawn_child(|| {
        // The child's reactor starts empty: the parent's waiters are not here...
        ensure(reactor.registered() == 0, 10)?;
        // ...and one it inherited registers anew, in the child's own table.
        ensure(on_word.as_mut().poll(&mut cx).is_pending(), 11)?;
        ensure(reactor.registered() == 1, 12)?;
        waits_on_a_fresh_word_and_socket(reactor, 13)?;
        ensure(reactor.registered() == 1, 17)
    });
    let _ = release.send(());
    holder.join().unwrap();
    assert_eq!(child.join(), 0);
    // The parent's own waiters are untouched and still work.
    assert!(on_socket.as_mut().poll(&mut cx).is_pending());
    word.store(1, Ordering::Release);
    futex::wake_all(&word);
    assert!(block_on_within(on_word, BOUND).is_some());
}
