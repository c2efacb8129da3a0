//! `close` while the producer lock is held by a process that is alive but stopped
//! (SIGSTOP): `close` returns (it seals the queue's tail after a bound instead of waiting
//! for the lock for ever), nothing arrives after it, and the stopped put, once its process
//! goes on, fails with `Closed`: its message was never delivered, so nothing is lost.
//!
//! Every child is reaped (the `Child` guard kills one a failing assertion left behind;
//! the `Stopped` guard continues it) and every wait is bounded.

use mp_ipc::{Error, Queue, QueueBuilder};
use test_support::procfs::blocked_in_futex;
use test_support::stopping::Stopped;
use test_support::threads::join_within;
use test_support::{Child, PATIENCE, holds_within, spawn_child};

/// A queue of one slot, full; a child whose put of `2` waits for the slot, holding the
/// producer lock, and exits with 0 if that put ends with `Closed`.
fn full_queue_and_a_waiting_producer() -> (Queue<u32>, Child) {
    let queue = QueueBuilder::new().maxsize(1).queue::<u32>().unwrap();
    queue.put(&1).unwrap();
    let producer = spawn_child({
        let queue = queue.clone();
        move || match queue.put(&2) {
            Err(Error::Closed) => Ok(()),
            _ => Err(1),
        }
    });
    let pid = producer.pid();
    assert!(holds_within(|| blocked_in_futex(pid, pid), PATIENCE));
    (queue, producer)
}

#[test]
fn close_returns_while_a_stopped_producer_holds_the_lock_and_its_put_fails_closed() {
    let (queue, mut producer) = full_queue_and_a_waiting_producer();
    let stopped = Stopped::stop(producer.pid());
    let closing = {
        let queue = queue.clone();
        std::thread::spawn(move || queue.close())
    };
    join_within(closing);
    assert!(queue.is_closed());
    assert!(matches!(queue.put(&3), Err(Error::Closed)));
    stopped.resume();
    assert_eq!(producer.join(), 0, "the stopped put failed with Closed");
    // What was queued before the close is there; nothing arrived after it.
    assert_eq!(queue.get_timeout(PATIENCE).unwrap(), 1);
    assert!(matches!(queue.get_timeout(PATIENCE), Err(Error::Closed)));
}

#[test]
fn a_queue_whose_close_sealed_it_still_drains_and_closes_again_at_once() {
    let (queue, mut producer) = full_queue_and_a_waiting_producer();
    let stopped = Stopped::stop(producer.pid());
    queue.close();
    stopped.resume();
    assert_eq!(producer.join(), 0);
    // A second close finds the lock free (the put gave it back) and returns.
    join_within({
        let queue = queue.clone();
        std::thread::spawn(move || queue.close())
    });
    assert_eq!(queue.try_get().unwrap(), 1);
    assert!(matches!(queue.try_get(), Err(Error::Closed)));
}
