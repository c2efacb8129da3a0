//! The futex calls emulated on loom's primitives, for loom models of the crates above.

use super::{AtomicU32, Ordering};
use crate::Deadline;
use loom::sync::{Condvar, Mutex};

struct Sleepers {
    /// (address of the word, ticket), in the order they went to sleep.
    queue: Vec<(usize, u64)>,
    next_ticket: u64,
}

loom::lazy_static! {
    static ref SLEEPERS: Mutex<Sleepers> = Mutex::new(Sleepers { queue: Vec::new(), next_ticket: 0 });
    static ref WOKEN: Condvar = Condvar::new();
}

fn address_of(word: &AtomicU32) -> usize {
    word as *const AtomicU32 as usize
}

pub(super) fn wait(word: &AtomicU32, expected: u32, deadline: Deadline) -> bool {
    let address = address_of(word);
    let mut sleepers = SLEEPERS.lock().expect("loom futex table");
    if word.load(Ordering::SeqCst) != expected {
        return true;
    }
    if !deadline.is_never() {
        return false;
    }
    let ticket = sleepers.next_ticket;
    sleepers.next_ticket += 1;
    sleepers.queue.push((address, ticket));
    while sleepers.queue.iter().any(|&(_, t)| t == ticket) {
        sleepers = WOKEN.wait(sleepers).expect("loom futex table");
    }
    true
}

pub(super) fn wake(word: &AtomicU32, count: u32) -> usize {
    let mut sleepers = SLEEPERS.lock().expect("loom futex table");
    let woken = dequeue(&mut sleepers, address_of(word), count);
    WOKEN.notify_all();
    woken
}

/// Takes at most `count` sleepers of `address` off the queue, oldest first; how many.
fn dequeue(sleepers: &mut Sleepers, address: usize, count: u32) -> usize {
    let mut woken = 0usize;
    sleepers.queue.retain(|&(a, _)| {
        if a == address && woken < count as usize {
            woken += 1;
            false
        } else {
            true
        }
    });
    woken
}

pub(super) fn requeue(
    from: &AtomicU32,
    expected: u32,
    wake: u32,
    to: &AtomicU32,
    requeue: u32,
) -> Option<usize> {
    let (from_address, to_address) = (address_of(from), address_of(to));
    let mut sleepers = SLEEPERS.lock().expect("loom futex table");
    if from.load(Ordering::SeqCst) != expected {
        return None;
    }
    let woken = dequeue(&mut sleepers, from_address, wake);
    let mut moved = 0usize;
    for entry in sleepers.queue.iter_mut() {
        if entry.0 == from_address && moved < requeue as usize {
            entry.0 = to_address;
            moved += 1;
        }
    }
    WOKEN.notify_all();
    Some(woken + moved)
}
