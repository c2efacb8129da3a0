//! `task_done` while other threads and processes put, take and mark tasks done at full
//! speed: it never fails while the caller holds a task it took, and `join` then reports
//! nothing lost.
//!
//! `task_done` refuses a call when no task is unfinished, and the unfinished count is the
//! messages put minus the tasks every account counts done, read one after the other. Read
//! in the wrong order (the puts first), a burst of puts and `task_done`s elsewhere between
//! the two reads made the count look negative, the call failed, and the caller's task
//! stayed unfinished: `join` later counted it lost with its process. The race needs the
//! caller to be preempted between two loads, so these tests make many tries.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use mp_ipc::JoinableQueue;
use test_support::threads::join_within;
use test_support::{Ended, PATIENCE, spawn_child};

const THREADS: usize = 4;
const ROUNDS: u64 = 50_000;

/// Puts, takes and marks done `ROUNDS` tasks; counts the `task_done`s that failed.
fn churn(queue: &JoinableQueue<u64>, refused: &AtomicU64) {
    for round in 0..ROUNDS {
        queue.put(&round).expect("put");
        queue.get_timeout(PATIENCE).expect("get");
        if queue.task_done().is_err() {
            refused.fetch_add(1, Ordering::SeqCst);
        }
    }
}

#[test]
fn task_done_never_fails_for_a_task_held_while_threads_churn() {
    let queue = JoinableQueue::<u64>::new().unwrap();
    let refused = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let (queue, refused) = (queue.clone(), Arc::clone(&refused));
            std::thread::spawn(move || churn(&queue, &refused))
        })
        .collect();
    for thread in threads {
        join_within(thread);
    }
    assert_eq!(refused.load(Ordering::SeqCst), 0);
    assert_eq!(queue.unfinished_tasks(), 0);
    queue.join_timeout(PATIENCE).unwrap();
}

#[test]
fn task_done_never_fails_for_a_task_held_while_processes_churn() {
    let queue = JoinableQueue::<u64>::new().unwrap();
    let mut children: Vec<_> = (0..THREADS)
        .map(|_| {
            let queue = queue.clone();
            spawn_child(move || {
                let refused = AtomicU64::new(0);
                churn(&queue, &refused);
                if refused.load(Ordering::SeqCst) == 0 {
                    Ok(())
                } else {
                    Err(1)
                }
            })
        })
        .collect();
    for child in &mut children {
        assert_eq!(child.wait_timeout(PATIENCE), Some(Ended::Exited(0)));
    }
    assert_eq!(queue.unfinished_tasks(), 0);
    queue.join_timeout(PATIENCE).unwrap();
}
