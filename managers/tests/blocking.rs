//! The blocking proxies (lock, semaphore, event, queue) between processes, and a call
//! blocked on the server when the server dies.

use std::sync::mpsc;
use std::time::Duration;

use mp_managers::{Dict, Error, Event, Lock, Manager, Queue, Refusal};
use mp_processes::{Process, ProcessHandle};
use test_support::PATIENCE;

const CHILDREN: usize = 4;
const ROUNDS: u64 = 25;

fn join_all(children: Vec<ProcessHandle<Result<(), String>>>) {
    for child in children {
        let outcome = child.join_timeout(PATIENCE);
        if outcome.is_err() {
            let _ = child.kill();
            let _ = child.join_timeout(PATIENCE);
        }
        outcome
            .expect("the child ends")
            .expect("the child's calls succeed");
    }
}

fn text(err: Error) -> String {
    err.to_string()
}

fn add_under_lock(lock: Lock, dict: Dict<u8, u64>) -> Result<(), String> {
    for _ in 0..ROUNDS {
        lock.acquire().map_err(text)?;
        let n = dict.get(&0).map_err(text)?.unwrap_or(0);
        dict.set(&0, &(n + 1)).map_err(text)?;
        lock.release().map_err(text)?;
    }
    Ok(())
}

#[test]
fn a_lock_makes_get_and_set_exact_across_processes() {
    let manager = Manager::start().unwrap();
    let lock = manager.lock().unwrap();
    let dict = manager.dict::<u8, u64>().unwrap();
    let children = (0..CHILDREN)
        .map(|_| {
            Process::new(add_under_lock, (lock.clone(), dict.clone()))
                .start()
                .unwrap()
        })
        .collect();
    join_all(children);
    assert_eq!(dict.get(&0).unwrap(), Some(CHILDREN as u64 * ROUNDS));
    lock.try_acquire().unwrap();
}

fn produce(queue: Queue<u64>, first: u64) -> Result<(), String> {
    for n in first..first + ROUNDS {
        queue.put(&n).map_err(text)?;
    }
    Ok(())
}

#[test]
fn a_bounded_queue_carries_every_value_from_many_producers() {
    let manager = Manager::start().unwrap();
    let queue = manager.queue::<u64>(Some(3)).unwrap();
    let children = (0..CHILDREN as u64)
        .map(|i| {
            Process::new(produce, (queue.clone(), i * ROUNDS))
                .start()
                .unwrap()
        })
        .collect::<Vec<_>>();
    let mut seen: Vec<u64> = (0..CHILDREN as u64 * ROUNDS)
        .map(|_| queue.get_timeout(PATIENCE).unwrap())
        .collect();
    join_all(children);
    seen.sort_unstable();
    assert_eq!(seen, (0..CHILDREN as u64 * ROUNDS).collect::<Vec<_>>());
    assert!(matches!(queue.try_get(), Err(Error::Empty)));
}

fn wait_then_answer(go: Event, done: Event) -> Result<(), String> {
    go.wait_timeout(PATIENCE)
        .map_err(|e| format!("never told to go: {e}"))?;
    done.set().map_err(text)
}

#[test]
fn events_signal_between_processes() {
    let manager = Manager::start().unwrap();
    let go = manager.event().unwrap();
    let done = manager.event().unwrap();
    let child = Process::new(wait_then_answer, (go.clone(), done.clone()))
        .start()
        .unwrap();
    assert!(!done.is_set().unwrap());
    go.set().unwrap();
    done.wait_timeout(PATIENCE).unwrap();
    join_all(vec![child]);
}

#[test]
fn a_semaphore_wait_is_woken_by_a_release() {
    let manager = Manager::start().unwrap();
    let semaphore = manager.semaphore(0).unwrap();
    let waiter = semaphore.clone();
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || sender.send(waiter.acquire_timeout(PATIENCE)));
    semaphore.release().unwrap();
    let acquired = receiver.recv_timeout(PATIENCE).expect("the waiter returns");
    acquired.unwrap();
    assert!(matches!(semaphore.try_acquire(), Err(Error::WouldBlock)));
}

#[test]
fn a_call_blocked_on_the_server_fails_when_the_server_is_killed() {
    let manager = Manager::start().unwrap();
    let never = manager.event().unwrap();
    let queue = manager.queue::<u8>(None).unwrap();
    let (sender, receiver) = mpsc::channel();
    let waiter = never.clone();
    std::thread::spawn(move || sender.send(waiter.wait()));
    // The event is checked (so the connection and the wait are set up) before the kill.
    assert!(!never.is_set().unwrap());
    let pid = manager.server_pid().unwrap() as libc::pid_t;
    // SAFETY: kill(2) with a pid this test's manager started and has not reaped (the
    // manager reaps it only when dropped, after this call).
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    let waited = receiver
        .recv_timeout(PATIENCE)
        .expect("the blocked call returns");
    assert!(
        matches!(waited, Err(Error::ServerGone { .. })),
        "{waited:?}"
    );
    let got = queue.get_timeout(Duration::ZERO);
    assert!(matches!(got, Err(Error::ServerGone { .. })), "{got:?}");
}

fn meet(barrier: mp_managers::Barrier) -> Result<(), String> {
    barrier.wait_timeout(PATIENCE).map(drop).map_err(text)
}

#[test]
fn a_barrier_lets_processes_through_together() {
    let manager = Manager::start().unwrap();
    let barrier = manager.barrier(CHILDREN + 1).unwrap();
    let children = (0..CHILDREN)
        .map(|_| Process::new(meet, (barrier.clone(),)).start().unwrap())
        .collect();
    let index = barrier.wait_timeout(PATIENCE).unwrap();
    assert!(index <= CHILDREN as u32);
    join_all(children);
}

fn wait_for_go(
    condition: mp_managers::Condition,
    go: mp_managers::Value<bool>,
) -> Result<(), String> {
    condition.acquire().map_err(text)?;
    while !go.get().map_err(text)? {
        condition
            .wait_timeout(PATIENCE)
            .map_err(|e| format!("never notified: {e}"))?;
    }
    condition.release().map_err(text)
}

#[test]
fn a_condition_wakes_waiters_in_other_processes() {
    let manager = Manager::start().unwrap();
    let condition = manager.condition(None).unwrap();
    let go = manager.value(&false).unwrap();
    let children = (0..CHILDREN)
        .map(|_| {
            Process::new(wait_for_go, (condition.clone(), go.clone()))
                .start()
                .unwrap()
        })
        .collect();
    condition.acquire().unwrap();
    go.set(&true).unwrap();
    condition.notify_all().unwrap();
    condition.release().unwrap();
    join_all(children);
    // Every waiter gave the lock back.
    condition.lock().try_acquire().unwrap();
}

#[test]
fn timeouts_zero_poll_once_and_max_waits_for_the_other_side() {
    let manager = Manager::start().unwrap();
    let semaphore = manager.semaphore(1).unwrap();
    semaphore.acquire_timeout(Duration::ZERO).unwrap();
    assert!(matches!(semaphore.try_acquire(), Err(Error::WouldBlock)));
    assert!(matches!(
        semaphore.acquire_timeout(Duration::ZERO),
        Err(Error::TimedOut)
    ));
    let event = manager.event().unwrap();
    assert!(matches!(
        event.wait_timeout(Duration::ZERO),
        Err(Error::TimedOut)
    ));
    let (sender, receiver) = mpsc::channel();
    let (waiting_semaphore, waiting_event) = (semaphore.clone(), event.clone());
    std::thread::spawn(move || {
        let acquired = waiting_semaphore
            .acquire_timeout(Duration::MAX)
            .map_err(text);
        let set = waiting_event.wait_timeout(Duration::MAX).map_err(text);
        sender.send((acquired, set))
    });
    semaphore.release().unwrap();
    event.set().unwrap();
    let (acquired, set) = receiver.recv_timeout(PATIENCE).expect("the waiter returns");
    acquired.unwrap();
    set.unwrap();

    let condition = manager.condition(None).unwrap();
    condition.acquire().unwrap();
    assert!(matches!(
        condition.wait_timeout(Duration::ZERO),
        Err(Error::TimedOut)
    ));
    condition.release().expect("held again after the timeout");
}

#[test]
fn a_barrier_timeout_is_timed_out_for_its_caller_and_broken_for_the_others() {
    let manager = Manager::start().unwrap();
    let barrier = manager.barrier(3).unwrap();
    let (sender, receiver) = mpsc::channel();
    let other = barrier.clone();
    std::thread::spawn(move || sender.send(other.wait()));
    assert!(matches!(
        barrier.wait_timeout(Duration::from_millis(50)),
        Err(Error::TimedOut)
    ));
    let other = receiver
        .recv_timeout(PATIENCE)
        .expect("the other party returns");
    assert!(
        matches!(other, Err(Error::Refused(Refusal::BrokenBarrier))),
        "{other:?}"
    );
}
