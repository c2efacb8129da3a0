//! The mp-sync primitives between processes: each test places them in an anonymous
//! `MAP_SHARED` mapping and forks children that use them, and the owner-death tests kill a
//! child that holds a lock and check that the next acquirer gets it, told that the holder died.
//!
//! Nothing outlives a test: every mapping is unmapped by [`SharedMapping`]'s `Drop`, and
//! every child is reaped by [`Child`], whose `Drop` kills and reaps a child still running
//! (so a failing assertion in the parent cannot leak a process). Every wait is bounded.

use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use mp_sync::{Barrier, Condition, Event, Lock, Mutex, RLock, Semaphore, TryLockError};
use test_support::procfs::{blocked_in_futex, current_pid, current_tid, process_state};
use test_support::{
    Child, ChildResult, PATIENCE, SharedMapping, ensure, for_each_case, holds_within, spawn_child,
};

/// How long an acquirer may wait for a dead holder's lock before the test fails. The design
/// promises well under a second; this bound only keeps a bug from hanging the test.
const TAKEOVER_BOUND: Duration = Duration::from_secs(5);

// ---------------------------------------------------------------------------------------
// Test machinery: children that cannot outlive the test
// ---------------------------------------------------------------------------------------

/// Forks `count` children, each running `body` with its index.
fn spawn_children(count: usize, body: impl Fn(usize) -> ChildResult) -> Vec<Child> {
    (0..count)
        .map(|index| spawn_child(|| body(index)))
        .collect()
}

/// Joins every child and checks that each exited with 0.
fn join_all(children: &mut [Child]) {
    let codes: Vec<i32> = children.iter_mut().map(Child::join).collect();
    assert!(codes.iter().all(|&c| c == 0), "child exit codes: {codes:?}");
}

/// Waits until the child `pid` sleeps in a futex wait.
fn wait_until_child_asleep(pid: i32) {
    assert!(
        holds_within(|| blocked_in_futex(pid, pid), PATIENCE),
        "child {pid} never went to sleep"
    );
}

/// Keeps a child that holds a lock alive until the parent kills it; if the parent never
/// does (its test failed), the child leaves on its own after a while.
fn hold_until_killed() -> ChildResult {
    std::thread::sleep(PATIENCE * 2);
    Err(99)
}

// ---------------------------------------------------------------------------------------
// Counting under a lock
// ---------------------------------------------------------------------------------------

const COUNTING_CHILDREN: usize = 4;
const INCREMENTS: u64 = 5_000;

/// A counter updated by a separate load and store: lost updates show a broken exclusion.
#[repr(C)]
struct Counted<L> {
    lock: L,
    counter: AtomicU64,
}

impl<L> Counted<L> {
    fn increment(&self) {
        let value = self.counter.load(Ordering::Relaxed);
        now_and_then_yield(value);
        self.counter.store(value + 1, Ordering::Relaxed);
    }
}

/// Gives the CPU away in the middle of a critical section now and then, so that waiters
/// outlast their spinning and go to sleep: the counting then covers the futex paths too.
fn now_and_then_yield(value: u64) {
    if value.is_multiple_of(16) {
        std::thread::yield_now();
    } else {
        std::hint::spin_loop();
    }
}

#[test]
fn lock_counter_across_processes_is_exact() {
    let shared = SharedMapping::new(Counted {
        lock: Lock::new(),
        counter: AtomicU64::new(0),
    });
    let mut children = spawn_children(COUNTING_CHILDREN, |child| {
        for i in 0..INCREMENTS {
            if (child as u64 + i).is_multiple_of(2) {
                let _guard = shared.lock.lock().map_err(|_| 2)?;
                shared.increment();
            } else {
                shared.lock.acquire_timeout(PATIENCE).map_err(|_| 3)?;
                shared.increment();
                shared.lock.release().map_err(|_| 4)?;
            }
        }
        Ok(())
    });
    join_all(&mut children);
    assert_eq!(
        shared.counter.load(Ordering::Relaxed),
        COUNTING_CHILDREN as u64 * INCREMENTS
    );
    assert!(!shared.lock.locked());
    assert!(!shared.lock.is_poisoned());
}

#[test]
fn mutex_counter_across_processes_is_exact() {
    let shared = SharedMapping::new(Mutex::new(0u64));
    let mut children = spawn_children(COUNTING_CHILDREN, |_| {
        for _ in 0..INCREMENTS {
            let mut guard = shared.lock_timeout(PATIENCE).map_err(|_| 2)?;
            let value = *guard;
            now_and_then_yield(value);
            *guard = value + 1;
        }
        Ok(())
    });
    // The parent takes part too, from one of its threads.
    for _ in 0..INCREMENTS {
        *shared.lock().expect("clean") += 1;
    }
    join_all(&mut children);
    assert_eq!(
        *shared.lock().expect("clean"),
        (COUNTING_CHILDREN as u64 + 1) * INCREMENTS
    );
}

#[test]
fn rlock_counter_across_processes_is_exact() {
    let shared = SharedMapping::new(Counted {
        lock: RLock::new(),
        counter: AtomicU64::new(0),
    });
    let mut children = spawn_children(COUNTING_CHILDREN, |_| {
        for _ in 0..INCREMENTS {
            let _outer = shared.lock.lock_timeout(PATIENCE).map_err(|_| 2)?;
            let _inner = shared.lock.lock().map_err(|_| 3)?;
            ensure(shared.lock.count() == 2, 4)?;
            shared.increment();
        }
        ensure(!shared.lock.is_owned(), 5)
    });
    join_all(&mut children);
    assert_eq!(
        shared.counter.load(Ordering::Relaxed),
        COUNTING_CHILDREN as u64 * INCREMENTS
    );
    assert!(!shared.lock.locked());
}

// ---------------------------------------------------------------------------------------
// Handing locks between processes
// ---------------------------------------------------------------------------------------

#[repr(C)]
struct HandOff<L> {
    lock: L,
    holding: Event,
    released: Event,
}

impl<L> HandOff<L> {
    fn new(lock: L) -> Self {
        Self {
            lock,
            holding: Event::new(),
            released: Event::new(),
        }
    }
}

#[test]
fn lock_acquired_in_one_process_is_released_in_another() {
    let shared = SharedMapping::new(HandOff::new(Lock::new()));

    // Child takes it, parent releases it while the child still lives.
    let mut child = spawn_child(|| {
        shared.lock.acquire().map_err(|_| 2)?;
        shared.holding.set();
        ensure(shared.released.wait_timeout(PATIENCE).is_ok(), 3)?;
        ensure(!shared.lock.locked(), 4)
    });
    assert_eq!(
        shared.holding.wait_timeout(PATIENCE),
        Ok(()),
        "the child never took the lock"
    );
    assert!(shared.lock.locked());
    assert!(matches!(
        shared.lock.try_lock(),
        Err(TryLockError::WouldBlock)
    ));
    assert_eq!(shared.lock.release(), Ok(()));
    shared.released.set();
    assert_eq!(child.join(), 0);
    assert!(!shared.lock.is_poisoned());
    assert!(shared.lock.lock().is_ok());

    // Parent takes it, a child releases it.
    shared.lock.acquire().expect("clean");
    let mut child = spawn_child(|| {
        ensure(shared.lock.locked(), 2)?;
        shared.lock.release().map_err(|_| 3)?;
        ensure(shared.lock.release() == Err(mp_sync::Error::NotLocked), 4)
    });
    assert_eq!(child.join(), 0);
    assert!(!shared.lock.locked());
    assert!(!shared.lock.is_poisoned());
}

#[test]
fn owned_locks_held_by_the_forking_thread_are_not_the_childs() {
    // The child's copy of the forking thread has a new thread id: it must not think it owns
    // the RLock or the Mutex its parent's thread holds.
    let rlock = SharedMapping::new(RLock::new());
    let mutex = SharedMapping::new(Mutex::new(0u32));
    let rlock_guard = rlock.lock().expect("clean");
    let mutex_guard = mutex.lock().expect("clean");
    let mut child = spawn_child(|| {
        ensure(!rlock.is_owned(), 2)?;
        ensure(rlock.count() == 0, 3)?;
        ensure(matches!(rlock.try_lock(), Err(TryLockError::WouldBlock)), 4)?;
        ensure(rlock.release() == Err(mp_sync::Error::NotOwner), 5)?;
        ensure(matches!(mutex.try_lock(), Err(TryLockError::WouldBlock)), 6)
    });
    assert_eq!(child.join(), 0);
    assert_eq!(rlock.count(), 1);
    drop(rlock_guard);
    drop(mutex_guard);
    assert!(!rlock.locked());
}

// ---------------------------------------------------------------------------------------
// Condition, Semaphore, Event, Barrier between processes
// ---------------------------------------------------------------------------------------

const QUEUE_CAPACITY: usize = 8;
const PRODUCERS: usize = 2;
const CONSUMERS: usize = 2;
const PER_PRODUCER: usize = 1_000;
const ITEMS: usize = PRODUCERS * PER_PRODUCER;

/// A bounded ring of items, plain data so it can live in shared memory.
#[repr(C)]
struct Ring {
    items: [u32; QUEUE_CAPACITY],
    head: usize,
    len: usize,
    taken: usize,
}

#[repr(C)]
struct ProducerConsumer {
    ring: Condition<Ring>,
    seen: [AtomicU32; ITEMS],
}

#[test]
fn condition_producers_and_consumers_across_processes_deliver_each_item_once() {
    let shared = SharedMapping::new(ProducerConsumer {
        ring: Condition::new(Ring {
            items: [0; QUEUE_CAPACITY],
            head: 0,
            len: 0,
            taken: 0,
        }),
        seen: [const { AtomicU32::new(0) }; ITEMS],
    });
    let mut children = Vec::new();
    for producer in 0..PRODUCERS {
        let shared = &shared;
        children.push(spawn_child(move || {
            for i in 0..PER_PRODUCER {
                let mut ring = shared.ring.lock().map_err(|_| 2)?;
                ring.wait_for_timeout(|r| r.len < QUEUE_CAPACITY, PATIENCE)
                    .map_err(|_| 3)?;
                let slot = (ring.head + ring.len) % QUEUE_CAPACITY;
                ring.items[slot] = u32::try_from(producer * PER_PRODUCER + i).map_err(|_| 5)?;
                ring.len += 1;
                ring.notify_all();
            }
            Ok(())
        }));
    }
    for _ in 0..CONSUMERS {
        let shared = &shared;
        children.push(spawn_child(move || {
            loop {
                let mut ring = shared.ring.lock().map_err(|_| 2)?;
                ring.wait_for_timeout(|r| r.len > 0 || r.taken == ITEMS, PATIENCE)
                    .map_err(|_| 3)?;
                if ring.len == 0 {
                    return Ok(()); // everything was taken
                }
                let item = ring.items[ring.head] as usize;
                ring.head = (ring.head + 1) % QUEUE_CAPACITY;
                ring.len -= 1;
                ring.taken += 1;
                ring.notify_all();
                drop(ring);
                shared
                    .seen
                    .get(item)
                    .ok_or(5)?
                    .fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    join_all(&mut children);
    let wrong: Vec<usize> = (0..ITEMS)
        .filter(|&i| shared.seen[i].load(Ordering::Relaxed) != 1)
        .collect();
    assert!(
        wrong.is_empty(),
        "items not delivered exactly once: {wrong:?}"
    );
    let ring = shared.ring.lock().expect("clean");
    assert_eq!((ring.taken, ring.len), (ITEMS, 0));
}

/// Child processes of one `notify(n)` round: each records its pid and counts itself in
/// `waiting` under the lock, waits once, and sets its bit in `returned`.
#[repr(C)]
#[derive(Default)]
struct NotifyRound {
    pids: [i32; ROUND_WAITERS],
    waiting: u32,
    returned: u32,
}

const ROUND_WAITERS: usize = 5;
const ROUNDS: usize = 30;

/// CPython's `lock_tests` check between processes: five waiting children, `notify(3)`
/// wakes exactly three and `notify(2)` the other two, over many rounds. The notify comes
/// as soon as the fifth child counted itself, while it may still be on its way to sleep.
#[test]
fn condition_notify_n_wakes_exactly_n_waiting_processes() {
    for _ in 0..ROUNDS {
        let cond = SharedMapping::new(Condition::new(NotifyRound::default()));
        let mut children = spawn_children(ROUND_WAITERS, |index| {
            let mut guard = cond.lock().map_err(|_| 2)?;
            guard.pids[index] = current_pid();
            guard.waiting += 1;
            let notified = guard.wait_timeout(PATIENCE);
            guard.returned |= 1 << index;
            match notified {
                Ok(()) => Ok(()),
                Err(mp_sync::Error::TimedOut) => Err(4),
                Err(_) => Err(3),
            }
        });
        notify_as_soon_as_counted(&cond, 3);
        assert_eq!(returned_once_the_rest_sleep(&cond, 3), 3);
        cond.lock_timeout(PATIENCE).expect("in time").notify(2);
        assert_eq!(returned_once_the_rest_sleep(&cond, 5), 5);
        join_all(&mut children);
    }
}

/// Takes the lock again and again without pausing until every waiter counted itself, then
/// notifies `count` under it: the last waiter has only just released the lock.
fn notify_as_soon_as_counted(cond: &Condition<NotifyRound>, count: usize) {
    let deadline = mp_sys::Deadline::after(PATIENCE);
    loop {
        let guard = cond.lock_timeout(PATIENCE).expect("in time");
        if guard.waiting as usize == ROUND_WAITERS {
            guard.notify(count);
            return;
        }
        drop(guard);
        assert!(!deadline.has_passed(), "the waiters never all waited");
        std::thread::yield_now();
    }
}

/// How many waiters have returned once at least `expected` have and every other one is
/// seen asleep, with the count unchanged around that look.
fn returned_once_the_rest_sleep(cond: &Condition<NotifyRound>, expected: u32) -> u32 {
    let mut returned = 0;
    let settled = holds_within(
        || {
            let (mask, sleepers) = {
                let guard = cond.lock_timeout(PATIENCE).expect("in time");
                let sleepers: Vec<i32> = (0..ROUND_WAITERS)
                    .filter(|index| guard.returned & (1 << index) == 0)
                    .map(|index| guard.pids[index])
                    .collect();
                (guard.returned, sleepers)
            };
            returned = mask.count_ones();
            returned >= expected
                && sleepers.iter().all(|&pid| blocked_in_futex(pid, pid))
                && cond.lock_timeout(PATIENCE).expect("in time").returned == mask
        },
        PATIENCE,
    );
    assert!(settled, "{returned} returned, expected {expected}");
    returned
}

#[repr(C)]
struct Limited {
    slots: Semaphore,
    inside: AtomicU32,
    most: AtomicU32,
}

#[test]
fn semaphore_limits_concurrency_across_processes() {
    const PERMITS: u32 = 2;
    const CHILDREN: usize = 5;
    const ROUNDS: usize = 300;
    let shared = SharedMapping::new(Limited {
        slots: Semaphore::new(PERMITS),
        inside: AtomicU32::new(0),
        most: AtomicU32::new(0),
    });
    let mut children = spawn_children(CHILDREN, |child| {
        for round in 0..ROUNDS {
            if (child + round).is_multiple_of(2) {
                ensure(shared.slots.acquire_timeout(PATIENCE).is_ok(), 2)?;
            } else {
                while shared.slots.try_acquire().is_err() {
                    std::thread::yield_now();
                }
            }
            let now = shared.inside.fetch_add(1, Ordering::SeqCst) + 1;
            shared.most.fetch_max(now, Ordering::SeqCst);
            std::thread::yield_now();
            shared.inside.fetch_sub(1, Ordering::SeqCst);
            shared.slots.release(1).map_err(|_| 3)?;
        }
        Ok(())
    });
    join_all(&mut children);
    let most = shared.most.load(Ordering::SeqCst);
    assert!(
        (1..=PERMITS).contains(&most),
        "{most} processes inside at once"
    );
    assert_eq!(shared.slots.value(), PERMITS);
}

#[test]
fn semaphore_release_in_one_process_wakes_a_waiter_in_another() {
    let shared = SharedMapping::new(Semaphore::new(0));
    let mut waiter = spawn_child(|| ensure(shared.acquire_timeout(PATIENCE).is_ok(), 2));
    wait_until_child_asleep(waiter.pid());
    let mut releaser = spawn_child(|| shared.release(1).map_err(|_| 2));
    assert_eq!(releaser.join(), 0);
    assert_eq!(waiter.join(), 0);
    assert_eq!(shared.value(), 0);
}

#[test]
fn event_set_in_one_process_wakes_waiters_in_several() {
    const WAITERS: usize = 3;
    let shared = SharedMapping::new(Event::new());
    let mut waiters = spawn_children(WAITERS, |i| {
        if i == 0 {
            // The untimed form; the child is killed on drop if it never returns.
            shared.wait();
            ensure(shared.is_set(), 2)
        } else {
            ensure(shared.wait_timeout(PATIENCE).is_ok(), 3)
        }
    });
    for waiter in &waiters {
        wait_until_child_asleep(waiter.pid());
    }
    assert!(!shared.is_set());
    let mut setter = spawn_child(|| {
        shared.set();
        Ok(())
    });
    assert_eq!(setter.join(), 0);
    join_all(&mut waiters);
    assert!(shared.is_set());
}

#[test]
fn event_set_and_cleared_at_once_still_wakes_waiting_processes() {
    const WAITERS: usize = 2;
    let shared = SharedMapping::new(Event::new());
    let mut waiters: Vec<Child> = (0..WAITERS)
        .map(|_| spawn_child(|| ensure(shared.wait_timeout(PATIENCE).is_ok(), 2)))
        .collect();
    for waiter in &waiters {
        wait_until_child_asleep(waiter.pid());
    }
    shared.set();
    shared.clear();
    join_all(&mut waiters);
    assert!(!shared.is_set());
}

const BARRIER_PARTIES: usize = 3;
const BARRIER_ROUNDS: usize = 40;

#[repr(C)]
struct Rounds {
    barrier: Barrier,
    arrivals: [AtomicU32; BARRIER_ROUNDS],
    /// `indices[round][i]`: how many parties got index `i` in that round.
    indices: [[AtomicU32; BARRIER_PARTIES]; BARRIER_ROUNDS],
}

#[test]
fn barrier_across_processes_gives_consistent_rounds() {
    let shared = SharedMapping::new(Rounds {
        barrier: Barrier::new(BARRIER_PARTIES as u32).expect("parties"),
        arrivals: [const { AtomicU32::new(0) }; BARRIER_ROUNDS],
        indices: [const { [const { AtomicU32::new(0) }; BARRIER_PARTIES] }; BARRIER_ROUNDS],
    });
    let mut children = spawn_children(BARRIER_PARTIES, |_| {
        for round in 0..BARRIER_ROUNDS {
            shared.arrivals[round].fetch_add(1, Ordering::SeqCst);
            let index = match shared.barrier.wait_timeout(PATIENCE) {
                Ok(index) => index as usize,
                Err(_) => {
                    shared.barrier.abort();
                    return Err(2);
                }
            };
            let everyone = shared.arrivals[round].load(Ordering::SeqCst);
            ensure(everyone == BARRIER_PARTIES as u32, 3)?;
            shared.indices[round]
                .get(index)
                .ok_or(4)?
                .fetch_add(1, Ordering::SeqCst);
        }
        Ok(())
    });
    join_all(&mut children);
    for (round, indices) in shared.indices.iter().enumerate() {
        let counts: Vec<u32> = indices.iter().map(|n| n.load(Ordering::SeqCst)).collect();
        assert_eq!(counts, [1; BARRIER_PARTIES], "round {round}");
    }
    assert!(!shared.barrier.broken());
    assert_eq!(shared.barrier.n_waiting(), 0);
}

#[test]
fn barrier_abort_in_one_process_breaks_it_in_others() {
    let shared = SharedMapping::new(Barrier::new(3).expect("parties"));
    let mut waiters: Vec<Child> = (0..2)
        .map(|_| {
            spawn_child(|| {
                let outcome = shared.wait_timeout(PATIENCE);
                ensure(outcome == Err(mp_sync::Error::BrokenBarrier), 2)
            })
        })
        .collect();
    assert!(holds_within(|| shared.n_waiting() == 2, PATIENCE));
    let mut aborter = spawn_child(|| {
        shared.abort();
        Ok(())
    });
    assert_eq!(aborter.join(), 0);
    join_all(&mut waiters);
    assert!(shared.broken());
    shared.reset();
    assert!(!shared.broken());
}

// ---------------------------------------------------------------------------------------
// Owner death
// ---------------------------------------------------------------------------------------

/// Whether the child is reaped before the parent tries the lock: unreaped, it is a zombie.
#[derive(Clone, Copy, Debug)]
enum Reap {
    Before,
    After,
}

/// Runs an owner-death check for a holder reaped after the takeover (a zombie while the
/// lock is taken over) and for one reaped before it.
fn for_each_reap(check: fn(Reap)) {
    for_each_case(
        [Reap::After, Reap::Before].map(|reap| (format!("{reap:?}"), reap)),
        check,
    );
}

/// Forks a child that takes a lock with `take`, says so, and holds it until killed; then
/// kills it (reaping it before or after) and returns the parent's acquisition, bounded by
/// [`TAKEOVER_BOUND`].
fn kill_holder_then<L, R>(
    shared: &SharedMapping<HandOff<L>>,
    take: impl FnOnce(&L) -> ChildResult,
    reap: Reap,
    acquire: impl FnOnce(&L) -> R,
) -> R {
    let mut child = spawn_child(|| {
        take(&shared.lock)?;
        shared.holding.set();
        hold_until_killed()
    });
    assert_eq!(
        shared.holding.wait_timeout(PATIENCE),
        Ok(()),
        "the child never took the lock"
    );
    match reap {
        Reap::Before => {
            child.kill();
            child.reap_killed();
        }
        Reap::After => child.kill(),
    }
    let acquired = acquire(&shared.lock);
    if let Reap::After = reap {
        child.reap_killed();
    }
    acquired
}

fn lock_owner_death(reap: Reap) {
    let shared = SharedMapping::new(HandOff::new(Lock::new()));
    let outcome = kill_holder_then(
        &shared,
        |lock| lock.acquire().map_err(|_| 2),
        reap,
        |lock| match lock.lock_timeout(TAKEOVER_BOUND) {
            Err(TryLockError::OwnerDied(died)) => {
                let held = lock.locked();
                drop(died.into_inner());
                Ok(held)
            }
            Ok(_) => Err("acquired without being told the holder died"),
            Err(_) => Err("the dead holder was never detected"),
        },
    );
    assert_eq!(outcome, Ok(true), "{reap:?}");
    let lock = &shared.lock;
    assert!(!lock.locked());
    assert!(lock.is_poisoned());
    assert!(lock.lock().is_err(), "poisoning is sticky");
    assert!(lock.acquire().is_err(), "poisoning is sticky");
    lock.release().expect("held");
    assert!(matches!(lock.try_lock(), Err(TryLockError::OwnerDied(_))));
    lock.clear_poison();
    assert!(!lock.is_poisoned());
    assert!(lock.lock().is_ok());
    assert!(lock.try_acquire().is_ok());
    lock.release().expect("held");
}

#[test]
fn lock_of_a_killed_holder_is_taken_over() {
    for_each_reap(lock_owner_death);
}

fn rlock_owner_death(reap: Reap) {
    let shared = SharedMapping::new(HandOff::new(RLock::new()));
    let count_after_takeover = kill_holder_then(
        &shared,
        |lock| {
            lock.acquire().map_err(|_| 2)?;
            lock.acquire().map_err(|_| 3)?;
            ensure(lock.count() == 2, 4)
        },
        reap,
        |lock| match lock.lock_timeout(TAKEOVER_BOUND) {
            Err(TryLockError::OwnerDied(died)) => {
                let count = lock.count();
                drop(died);
                Some(count)
            }
            _ => None,
        },
    );
    assert_eq!(count_after_takeover, Some(1), "{reap:?}");
    let lock = &shared.lock;
    assert!(!lock.locked());
    assert!(lock.is_poisoned());
    assert!(lock.lock().is_err());
    lock.clear_poison();
    assert!(lock.lock().is_ok());
}

#[test]
fn rlock_of_a_killed_holder_is_taken_over() {
    for_each_reap(rlock_owner_death);
}

fn mutex_owner_death(reap: Reap) {
    let shared = SharedMapping::new(HandOff::new(Mutex::new(0u64)));
    let value_seen = kill_holder_then(
        &shared,
        |mutex| {
            let mut guard = mutex.lock().map_err(|_| 2)?;
            *guard = 17;
            std::mem::forget(guard); // held until the kill
            Ok(())
        },
        reap,
        |mutex| match mutex.lock_timeout(TAKEOVER_BOUND) {
            Err(TryLockError::OwnerDied(died)) => {
                let mut guard = died.into_inner();
                let seen = *guard;
                *guard = 18; // the repair
                Some(seen)
            }
            _ => None,
        },
    );
    assert_eq!(value_seen, Some(17), "{reap:?}");
    let mutex = &shared.lock;
    assert!(mutex.is_poisoned());
    match mutex.lock() {
        Err(died) => assert_eq!(**died.get_ref(), 18),
        Ok(_) => panic!("poisoning is sticky"),
    }
    mutex.clear_poison();
    assert_eq!(*mutex.lock().expect("clean after clear_poison"), 18);
}

#[test]
fn mutex_of_a_killed_holder_is_taken_over() {
    for_each_reap(mutex_owner_death);
}

fn condition_owner_death(reap: Reap) {
    let shared = SharedMapping::new(HandOff::new(Condition::new(0u32)));
    let value_seen = kill_holder_then(
        &shared,
        |cond| {
            let mut guard = cond.lock().map_err(|_| 2)?;
            *guard = 5;
            std::mem::forget(guard);
            Ok(())
        },
        reap,
        |cond| match cond.lock_timeout(TAKEOVER_BOUND) {
            Err(TryLockError::OwnerDied(died)) => Some(*died.into_inner()),
            _ => None,
        },
    );
    assert_eq!(value_seen, Some(5), "{reap:?}");
    let cond = &shared.lock;
    assert!(cond.is_poisoned());
    assert!(cond.lock().is_err());
    cond.clear_poison();
    assert!(cond.lock().is_ok());
}

#[test]
fn condition_lock_of_a_killed_holder_is_taken_over() {
    for_each_reap(condition_owner_death);
}

#[test]
fn lock_waiter_already_blocked_gets_the_lock_when_the_holder_is_killed() {
    let shared = SharedMapping::new(HandOff::new(Lock::new()));
    let mut holder = spawn_child(|| {
        shared.lock.acquire().map_err(|_| 2)?;
        shared.holding.set();
        hold_until_killed()
    });
    assert_eq!(shared.holding.wait_timeout(PATIENCE), Ok(()));
    let waiter_tid = AtomicI32::new(0);
    let outcome = std::thread::scope(|s| {
        let waiter = s.spawn(|| {
            waiter_tid.store(current_tid(), Ordering::SeqCst);
            match shared.lock.lock_timeout(TAKEOVER_BOUND) {
                Err(TryLockError::OwnerDied(_)) => "owner died",
                Ok(_) => "clean",
                Err(_) => "timed out",
            }
        });
        // The waiter is asleep on the lock word before the holder dies.
        let asleep = holds_within(
            || {
                let tid = waiter_tid.load(Ordering::SeqCst);
                tid != 0 && blocked_in_futex(current_pid(), tid)
            },
            PATIENCE,
        );
        holder.kill();
        assert!(asleep, "the waiter never blocked");
        waiter.join().expect("waiter")
    });
    holder.reap_killed();
    assert_eq!(outcome, "owner died");
    assert!(shared.lock.is_poisoned());
    assert!(!shared.lock.locked());
}

#[test]
fn mutex_waiter_process_already_blocked_gets_the_lock_when_the_holder_is_killed() {
    let shared = SharedMapping::new(HandOff::new(Mutex::new(0u32)));
    let mut holder = spawn_child(|| {
        let mut guard = shared.lock.lock().map_err(|_| 2)?;
        *guard = 3;
        shared.holding.set();
        let result = hold_until_killed();
        drop(guard);
        result
    });
    assert_eq!(shared.holding.wait_timeout(PATIENCE), Ok(()));
    let mut waiter = spawn_child(|| match shared.lock.lock_timeout(TAKEOVER_BOUND) {
        Err(TryLockError::OwnerDied(died)) => {
            let mut guard = died.into_inner();
            ensure(*guard == 3, 3)?;
            *guard = 4;
            Ok(())
        }
        Ok(_) => Err(4),
        Err(_) => Err(5),
    });
    wait_until_child_asleep(waiter.pid());
    holder.kill();
    assert_eq!(waiter.join(), 0);
    holder.reap_killed();
    assert!(shared.lock.is_poisoned());
    match shared.lock.lock() {
        Err(died) => assert_eq!(**died.get_ref(), 4),
        Ok(_) => panic!("poisoning is sticky"),
    }
}

#[test]
fn lock_of_a_child_that_exited_holding_it_is_taken_over() {
    let shared = SharedMapping::new(Lock::new());
    let mut child = spawn_child(|| shared.acquire().map_err(|_| 2));
    // The child is left a zombie until after the takeover.
    assert!(
        holds_within(|| process_state(child.pid()) == Some('Z'), PATIENCE),
        "the child never exited"
    );
    assert!(shared.locked());
    match shared.lock_timeout(TAKEOVER_BOUND) {
        Err(TryLockError::OwnerDied(died)) => drop(died),
        Ok(_) => panic!("acquired without being told the holder died"),
        Err(_) => panic!("the exited holder was never detected"),
    }
    assert_eq!(child.join(), 0);
    assert!(shared.is_poisoned());
    assert!(matches!(shared.try_lock(), Err(TryLockError::OwnerDied(_))));
    shared.clear_poison();
    assert!(shared.try_lock().is_ok());
}

#[test]
fn lock_poisoned_in_one_process_is_seen_poisoned_in_another() {
    let shared = SharedMapping::new(HandOff::new(Lock::new()));
    let taken_over = kill_holder_then(
        &shared,
        |lock| lock.acquire().map_err(|_| 2),
        Reap::Before,
        |lock| {
            lock.lock_timeout(TAKEOVER_BOUND)
                .is_err_and(|e| matches!(e, TryLockError::OwnerDied(_)))
        },
    );
    assert!(taken_over);
    let mut child = spawn_child(|| {
        ensure(shared.lock.is_poisoned(), 2)?;
        ensure(shared.lock.lock().is_err(), 3)?;
        shared.lock.clear_poison();
        ensure(shared.lock.lock().is_ok(), 4)
    });
    assert_eq!(child.join(), 0);
    assert!(
        !shared.lock.is_poisoned(),
        "clear_poison in a child clears it for all"
    );
}

#[repr(C)]
struct LeaderExit<L> {
    lock: L,
    holding: Event,
    release_now: Event,
}

impl<L> LeaderExit<L> {
    fn new(lock: L) -> Self {
        Self {
            lock,
            holding: Event::new(),
            release_now: Event::new(),
        }
    }
}

/// The second thread of a child whose main thread exits holding a `Lock`: releases the
/// lock its process holds when the parent says so, then ends the child.
extern "C" fn release_lock_when_told(shared: *mut libc::c_void) -> *mut libc::c_void {
    // SAFETY: `shared` is the address of a `LeaderExit<Lock>` in the shared mapping, which
    // the child never unmaps: it stays valid until the child process ends.
    let shared = unsafe { &*shared.cast::<LeaderExit<Lock>>() };
    let code = if shared.release_now.wait_timeout(PATIENCE).is_err() {
        2
    } else if shared.lock.release().is_err() {
        3
    } else {
        0
    };
    // SAFETY: ends the whole child process at once, as every child of these tests leaves.
    unsafe { libc::_exit(code) }
}

/// The second thread of a child whose main thread exits holding a `Mutex`: keeps the
/// process alive until the parent says so.
extern "C" fn exit_when_told(shared: *mut libc::c_void) -> *mut libc::c_void {
    // SAFETY: as in `release_lock_when_told`, for a `LeaderExit<Mutex<u32>>`.
    let shared = unsafe { &*shared.cast::<LeaderExit<Mutex<u32>>>() };
    let code = if shared.release_now.wait_timeout(PATIENCE).is_ok() {
        0
    } else {
        2
    };
    // SAFETY: ends the whole child process at once, as every child of these tests leaves.
    unsafe { libc::_exit(code) }
}

/// In a child: starts a second thread running `second` on `shared`, says the lock is held,
/// and ends the main thread alone, so the process lives on in the second thread.
fn end_main_thread_after_starting<L>(
    shared: &LeaderExit<L>,
    second: extern "C" fn(*mut libc::c_void) -> *mut libc::c_void,
) -> ChildResult {
    let mut thread: libc::pthread_t = 0;
    let address: *const LeaderExit<L> = shared;
    // SAFETY: starts a thread running `second` on the shared struct, which stays mapped for
    // the life of this process; the thread is never joined, it ends the process itself.
    let rc = unsafe {
        libc::pthread_create(
            &mut thread,
            std::ptr::null(),
            second,
            address.cast_mut().cast(),
        )
    };
    ensure(rc == 0, 10)?;
    shared.holding.set();
    // SAFETY: the raw `exit` system call ends only the calling thread (the child's main
    // thread); the process lives on in the thread started above, which uses nothing of this
    // thread's stack.
    unsafe { libc::syscall(libc::SYS_exit, 0) };
    Err(11)
}

#[test]
fn lock_of_a_process_whose_main_thread_exited_is_not_taken_over() {
    // `Lock` belongs to a process, and any thread of that process may release it. When a
    // process's main thread exits while another thread runs on, `/proc/PID/stat` shows the
    // process as a zombie ("Z"), yet the process lives and may still release the lock: it
    // must not be taken over.
    let shared = SharedMapping::new(LeaderExit::new(Lock::new()));
    let mut child = spawn_child(|| {
        shared.lock.acquire().map_err(|_| 2)?;
        end_main_thread_after_starting(&shared, release_lock_when_told)
    });
    assert_eq!(
        shared.holding.wait_timeout(PATIENCE),
        Ok(()),
        "the child never took the lock"
    );
    assert!(
        holds_within(|| process_state(child.pid()) == Some('Z'), PATIENCE),
        "the child's main thread never exited"
    );
    // Several liveness checks happen within this wait.
    let outcome = match shared.lock.lock_timeout(Duration::from_millis(400)) {
        Err(TryLockError::TimedOut) => "still held",
        Err(TryLockError::OwnerDied(_)) => "taken over from a living process",
        Ok(_) => "acquired cleanly while held",
        Err(_) => "an unexpected error",
    };
    shared.release_now.set();
    let exit_code = child.join();
    assert_eq!(outcome, "still held");
    assert_eq!(
        exit_code, 0,
        "the child's second thread could not release the lock"
    );
    assert!(!shared.lock.locked());
    assert!(!shared.lock.is_poisoned());
}

#[test]
fn mutex_of_a_main_thread_that_exited_is_taken_over_while_its_process_lives() {
    // The other side of the test above: `Mutex` belongs to a thread, so a main thread that
    // exits holding it is dead for the mutex even though its process runs on.
    let shared = SharedMapping::new(LeaderExit::new(Mutex::new(0u32)));
    let mut child = spawn_child(|| {
        let mut guard = shared.lock.lock().map_err(|_| 2)?;
        *guard = 8;
        std::mem::forget(guard);
        end_main_thread_after_starting(&shared, exit_when_told)
    });
    assert_eq!(
        shared.holding.wait_timeout(PATIENCE),
        Ok(()),
        "the child never took the mutex"
    );
    let seen = match shared.lock.lock_timeout(TAKEOVER_BOUND) {
        Err(TryLockError::OwnerDied(died)) => Some(*died.into_inner()),
        _ => None,
    };
    // The second thread waits for `release_now`, so "Z" here means: main thread gone,
    // process running.
    let main_thread_gone = process_state(child.pid()) == Some('Z');
    shared.release_now.set();
    assert_eq!(child.join(), 0);
    assert!(main_thread_gone, "the child's main thread had not exited");
    assert_eq!(seen, Some(8));
    assert!(shared.lock.is_poisoned());
}
