//! Messages larger than the ring whose producer process stops (SIGSTOP) or dies (SIGKILL)
//! in the middle of the stream, with a consumer in the middle of receiving it.
//!
//! What they pin: a get honours its timeout, other consumers are not held up, `close`
//! releases everyone, a stopped producer's message is not lost (it is sent again once the
//! producer runs), and a dead producer's half message is dropped so that others flow.
//! Every child is reaped (the `Child` guard kills a stopped one too) and every wait is
//! bounded.

mod support;

use std::time::Duration;

use mp_ipc::{Error, Queue, QueueBuilder};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use support::{find, segment_of};
use test_support::threads::join_within;
use test_support::{Child, PATIENCE, holds_within, spawn_child};

const SIZE: usize = 100_000;

fn small_ring_queue() -> Queue<Vec<u8>> {
    QueueBuilder::new()
        .ring_bytes(4096)
        .queue::<Vec<u8>>()
        .unwrap()
}

fn message() -> Vec<u8> {
    vec![0xc3; SIZE]
}

/// Forks a child that streams [`message`] into `queue` (which nobody reads yet, so it
/// waits once the ring is full) and exits with 0 if its put ends as `expected` says
/// (`Ok` for `None`, that error otherwise). Returns it stopped, once the stream has begun.
fn stopped_producer_mid_stream(queue: &Queue<Vec<u8>>, expect_closed: bool) -> Child {
    let child = spawn_child({
        let queue = queue.clone();
        move || match (queue.put(&message()), expect_closed) {
            (Ok(()), false) | (Err(Error::Closed), true) => Ok(()),
            _ => Err(1),
        }
    });
    // The first chunk announces the total: the message and its length prefix.
    let announced = (SIZE as u64 + 3).to_le_bytes();
    let segment = segment_of(queue);
    assert!(holds_within(
        || find(&segment, &announced).is_some(),
        PATIENCE
    ));
    signal(&child, Signal::SIGSTOP);
    child
}

fn signal(child: &Child, signal: Signal) {
    kill(Pid::from_raw(child.pid()), signal).expect("signal the child");
}

#[test]
fn a_get_in_a_stopped_producers_stream_honours_its_timeout_and_the_message_comes_later() {
    let queue = small_ring_queue();
    let mut producer = stopped_producer_mid_stream(&queue, false);
    // This get takes the first chunks, then the stream stands still.
    let stalled = {
        let queue = queue.clone();
        std::thread::spawn(move || queue.get_timeout(Duration::from_millis(200)))
    };
    assert!(matches!(join_within(stalled), Err(Error::Empty)));
    // Other consumers are not held up: nothing whole is queued, and they hear so at once.
    assert!(matches!(queue.try_get(), Err(Error::Empty)));
    assert!(matches!(
        queue.get_timeout(Duration::from_millis(50)),
        Err(Error::Empty)
    ));
    // The message was given back, not lost: once its producer runs again it is sent
    // again from the start, and arrives whole.
    signal(&producer, Signal::SIGCONT);
    assert_eq!(queue.get_timeout(PATIENCE).unwrap(), message());
    assert_eq!(producer.join(), 0, "the put succeeded");
    assert!(queue.empty());
    queue.put(&vec![1]).unwrap();
    assert_eq!(queue.get_timeout(PATIENCE).unwrap(), [1]);
}

#[test]
fn a_producer_killed_while_a_consumer_receives_its_stream_lets_others_flow() {
    let queue = small_ring_queue();
    let mut producer = stopped_producer_mid_stream(&queue, false);
    let consumer = {
        let queue = queue.clone();
        std::thread::spawn(move || queue.get_timeout(PATIENCE))
    };
    // Let the consumer take the first chunks, then kill the producer under it.
    std::thread::sleep(Duration::from_millis(50));
    producer.kill_and_reap();
    // The consumer finds the producer dead, drops the half message and takes the next.
    queue.put_timeout(&vec![5], PATIENCE).unwrap();
    assert_eq!(join_within(consumer).unwrap(), [5]);
    assert!(queue.empty());
}

#[test]
fn a_blocked_get_in_a_stopped_producers_stream_is_released_by_close() {
    let queue = small_ring_queue();
    let mut producer = stopped_producer_mid_stream(&queue, true);
    let consumer = {
        let queue = queue.clone();
        std::thread::spawn(move || queue.get())
    };
    std::thread::sleep(Duration::from_millis(50));
    // `close` returns although the producer is stopped holding the producer side...
    let closer = {
        let queue = queue.clone();
        std::thread::spawn(move || queue.close())
    };
    join_within(closer);
    // ...and the consumer in the middle of the stream is let go.
    assert!(matches!(join_within(consumer), Err(Error::Closed)));
    assert!(matches!(queue.try_get(), Err(Error::Closed)));
    // The stopped producer, once it runs, is told the queue closed: its put did not
    // happen, and nothing arrives after the close.
    signal(&producer, Signal::SIGCONT);
    assert_eq!(producer.join(), 0, "the put failed with Closed");
    assert!(matches!(
        queue.get_timeout(Duration::from_millis(50)),
        Err(Error::Closed)
    ));
}
