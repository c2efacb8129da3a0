//! `Value` and `Array` between processes: forked children update them under the lock and
//! the totals are exact; a child killed while holding the lock is reported to the next
//! locker; type checks on receipt.

use std::time::Duration;

use mp_shared_mem::{Array, Error, Shared, Value, transfer};
use mp_sync::{Event, TryLockError};
use test_support::{ChildResult, PATIENCE, ensure, spawn_child};

/// How long the parent may wait for a dead holder's lock (the design promises well under a
/// second; this only keeps a bug from hanging the test).
const TAKEOVER_BOUND: Duration = Duration::from_secs(10);

#[test]
fn value_get_set_and_compound_updates() {
    let value = Value::new(5i64).unwrap();
    assert_eq!(value.get().unwrap(), 5);
    value.set(-3).unwrap();
    {
        let mut guard = value.lock().unwrap();
        *guard *= 4;
        *guard += 1;
    }
    assert_eq!(value.get().unwrap(), -11);
    let held = value.lock().unwrap();
    assert!(matches!(value.try_lock(), Err(TryLockError::WouldBlock)));
    drop(held);
    assert!(value.try_lock().is_ok());
    assert!(!value.is_poisoned());
    assert_eq!(
        format!("{value:?}"),
        "Value(Mutex { data: -11, poisoned: false })"
    );
}

#[test]
fn lock_timeouts_of_value_and_array_poll_once_at_zero_and_wait_at_max() {
    let value = Value::new(1u32).unwrap();
    let array = Array::<u8>::zeroed(2).unwrap();
    let (held_value, held_array) = (value.lock().unwrap(), array.lock().unwrap());
    let waiting = Event::new();
    std::thread::scope(|s| {
        let waiter = s.spawn(|| {
            assert!(matches!(value.try_lock(), Err(TryLockError::WouldBlock)));
            assert!(matches!(
                value.lock_timeout(Duration::ZERO),
                Err(TryLockError::TimedOut)
            ));
            assert!(matches!(array.try_lock(), Err(TryLockError::WouldBlock)));
            assert!(matches!(
                array.lock_timeout(Duration::ZERO),
                Err(TryLockError::TimedOut)
            ));
            waiting.set();
            // Released only after this thread said it waits: Duration::MAX waits for it.
            let got_value = value.lock_timeout(Duration::MAX).map(|mut v| *v += 1);
            let got_array = array.lock_timeout(Duration::MAX).map(|mut a| a[0] = 7);
            (got_value.is_ok(), got_array.is_ok())
        });
        assert_eq!(waiting.wait_timeout(PATIENCE), Ok(()));
        drop((held_value, held_array));
        assert_eq!(waiter.join().unwrap(), (true, true));
    });
    assert_eq!(value.get().unwrap(), 2);
    assert_eq!(array.get(0).unwrap(), 7);
}

#[test]
fn array_constructors_accessors_and_errors() {
    let array = Array::from_slice(&[1.0f64, 2.0, 3.0]).unwrap();
    assert_eq!(array.len(), 3);
    assert!(!array.is_empty());
    assert_eq!(array.get(2).unwrap(), 3.0);
    array.set(0, 10.0).unwrap();
    assert_eq!(array.to_vec().unwrap(), [10.0, 2.0, 3.0]);
    assert_eq!(
        array.get(3),
        Err(Error::IndexOutOfRange { index: 3, len: 3 })
    );
    assert_eq!(
        array.set(usize::MAX, 0.0),
        Err(Error::IndexOutOfRange {
            index: usize::MAX,
            len: 3
        })
    );

    let zeros = Array::<u32>::zeroed(1000).unwrap();
    assert!(zeros.to_vec().unwrap().iter().all(|&x| x == 0));

    let empty = Array::<u8>::zeroed(0).unwrap();
    assert!(empty.is_empty());
    assert!(empty.to_vec().unwrap().is_empty());
    assert_eq!(empty.lock().unwrap().len(), 0);
    assert!(Array::<u16>::from_slice(&[]).unwrap().is_empty());

    assert!(matches!(
        Array::<u64>::zeroed(usize::MAX / 2),
        Err(Error::TooLarge { .. })
    ));
    assert_eq!(
        format!("{:?}", Array::from_slice(&[1u8, 2]).unwrap()),
        "Array { len: 2, elements: [1, 2] }"
    );
}

#[test]
fn forked_children_increment_a_value_under_its_lock_exactly() {
    const CHILDREN: u64 = 4;
    const ROUNDS: u64 = 5_000;
    let counter = Value::new(0u64).unwrap();
    let mut children: Vec<_> = (0..CHILDREN)
        .map(|_| {
            let counter = counter.clone();
            spawn_child(move || -> ChildResult {
                for _ in 0..ROUNDS {
                    // A read-modify-write in two steps: only the lock makes it atomic.
                    let mut guard = counter.lock().map_err(|_| 2u8)?;
                    let seen = *guard;
                    std::hint::black_box(&seen);
                    *guard = seen + 1;
                }
                Ok(())
            })
        })
        .collect();
    for _ in 0..ROUNDS {
        *counter.lock().unwrap() += 1;
    }
    for child in &mut children {
        assert_eq!(child.join(), 0);
    }
    assert_eq!(counter.get().unwrap(), (CHILDREN + 1) * ROUNDS);
}

#[test]
fn forked_children_update_a_whole_array_under_its_lock_exactly() {
    const CHILDREN: u32 = 3;
    const ROUNDS: u32 = 1_000;
    let array = Array::<u32>::zeroed(257).unwrap();
    let mut children: Vec<_> = (0..CHILDREN)
        .map(|child| {
            let array = array.clone();
            spawn_child(move || -> ChildResult {
                for _ in 0..ROUNDS {
                    let mut guard = array.lock().map_err(|_| 2u8)?;
                    for x in guard.iter_mut() {
                        *x += 1;
                    }
                    // Each child also owns one element of its own.
                    guard[child as usize] += 1000;
                }
                Ok(())
            })
        })
        .collect();
    for child in &mut children {
        assert_eq!(child.join(), 0);
    }
    let values = array.to_vec().unwrap();
    for (i, &x) in values.iter().enumerate() {
        let own = if (i as u32) < CHILDREN {
            1000 * ROUNDS
        } else {
            0
        };
        assert_eq!(x, CHILDREN * ROUNDS + own, "element {i}");
    }
}

/// The "shared-value-array" scenario: five processes add into one `Value` and one `Array`.
/// Process `i` adds `i` to the value and 2 to every element.
#[test]
fn five_processes_add_into_a_value_and_an_array() {
    let total = Value::new(0i32).unwrap();
    let numbers = Array::from_slice(&[1i32, 2, 3, 4, 5]).unwrap();
    let mut children: Vec<_> = (0..5)
        .map(|i| {
            let (total, numbers) = (total.clone(), numbers.clone());
            spawn_child(move || -> ChildResult {
                *total.lock().map_err(|_| 2u8)? += i;
                for x in numbers.lock().map_err(|_| 3u8)?.iter_mut() {
                    *x += 2;
                }
                Ok(())
            })
        })
        .collect();
    for child in &mut children {
        assert_eq!(child.join(), 0);
    }
    assert_eq!(total.get().unwrap(), 10);
    assert_eq!(numbers.to_vec().unwrap(), [11, 12, 13, 14, 15]);
}

#[test]
fn a_child_killed_holding_the_value_lock_is_reported() {
    let value = Value::new(7u32).unwrap();
    let locked = Shared::new(Event::new()).unwrap();
    let mut child = spawn_child({
        let (value, locked) = (value.clone(), locked.clone());
        move || -> ChildResult {
            let mut guard = value.lock().map_err(|_| 2u8)?;
            *guard = 8; // half of an update that never finishes
            locked.set();
            loop {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    });
    assert_eq!(
        locked.wait_timeout(PATIENCE),
        Ok(()),
        "the child never took the lock"
    );
    child.kill();
    child.reap_killed();

    match value.lock_timeout(TAKEOVER_BOUND) {
        Err(TryLockError::OwnerDied(died)) => {
            let mut guard = died.into_inner();
            assert_eq!(*guard, 8);
            *guard = 7; // repair
        }
        Err(_) => panic!("the dead holder's lock was never taken over"),
        Ok(_) => panic!("the death of the holder was not reported"),
    }
    assert!(value.is_poisoned());
    assert_eq!(value.get(), Err(Error::Lock(mp_sync::Error::OwnerDied)));
    assert_eq!(value.set(1), Err(Error::Lock(mp_sync::Error::OwnerDied)));
    value.clear_poison();
    assert_eq!(value.get().unwrap(), 7);
}

#[test]
fn a_child_killed_holding_the_array_lock_is_reported() {
    let array = Array::from_slice(&[1u8, 2, 3]).unwrap();
    let locked = Shared::new(Event::new()).unwrap();
    let mut child = spawn_child({
        let (array, locked) = (array.clone(), locked.clone());
        move || -> ChildResult {
            let mut guard = array.lock().map_err(|_| 2u8)?;
            guard[0] = 100;
            locked.set();
            loop {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    });
    assert_eq!(
        locked.wait_timeout(PATIENCE),
        Ok(()),
        "the child never took the lock"
    );
    child.kill();
    child.reap_killed();

    match array.lock_timeout(TAKEOVER_BOUND) {
        Err(TryLockError::OwnerDied(died)) => assert_eq!(&**died.get_ref(), &[100, 2, 3]),
        Err(_) => panic!("the dead holder's lock was never taken over"),
        Ok(_) => panic!("the death of the holder was not reported"),
    }
    assert_eq!(array.to_vec(), Err(Error::Lock(mp_sync::Error::OwnerDied)));
    assert!(matches!(array.try_lock(), Err(TryLockError::OwnerDied(_))));
    array.clear_poison();
    assert_eq!(array.to_vec().unwrap(), [100, 2, 3]);
}

#[test]
fn received_handles_are_checked_against_their_type() {
    let value = Value::new(1u32).unwrap();
    let array = Array::from_slice(&[1u32, 2]).unwrap();

    let (bytes, fds) = transfer::encode(&value).unwrap();
    let as_array = transfer::decode::<Array<u32>>(&bytes, fds);
    assert!(
        matches!(&as_array, Err(Error::TypeMismatch { expected, found })
            if expected == "Array<u32>" && found.starts_with("Value<u32>")),
        "{as_array:?}"
    );

    let (bytes, fds) = transfer::encode(&array).unwrap();
    assert!(matches!(
        transfer::decode::<Array<i32>>(&bytes, fds),
        Err(Error::TypeMismatch { .. })
    ));
    let (bytes, fds) = transfer::encode(&array).unwrap();
    assert!(matches!(
        transfer::decode::<Value<u32>>(&bytes, fds),
        Err(Error::TypeMismatch { .. })
    ));
    let (bytes, fds) = transfer::encode(&value).unwrap();
    assert!(matches!(
        transfer::decode::<Shared<u32>>(&bytes, fds),
        Err(Error::TypeMismatch { .. })
    ));

    // The right types map the same memory again.
    let (bytes, fds) = transfer::encode(&(value.clone(), array.clone())).unwrap();
    let (value2, array2): (Value<u32>, Array<u32>) = transfer::decode(&bytes, fds).unwrap();
    value2.set(9).unwrap();
    array2.set(1, 20).unwrap();
    assert_eq!(value.get().unwrap(), 9);
    assert_eq!(array.to_vec().unwrap(), [1, 20]);
    assert_eq!(array2.len(), 2);
}

#[test]
fn a_value_received_in_another_process_shares_the_lock() {
    let value = Value::new(0u64).unwrap();
    let (parent_end, child_end) = std::os::unix::net::UnixStream::pair().unwrap();
    let mut child = spawn_child(move || -> ChildResult {
        let received: Value<u64> = transfer::recv_value(&child_end, 1024).map_err(|_| 2u8)?;
        for _ in 0..2_000 {
            *received.lock().map_err(|_| 3u8)? += 1;
        }
        ensure(received.get().map_err(|_| 4u8)? >= 2_000, 5)
    });
    transfer::send_value(&parent_end, &value).unwrap();
    for _ in 0..2_000 {
        *value.lock().unwrap() += 1;
    }
    assert_eq!(child.join(), 0);
    assert_eq!(value.get().unwrap(), 4_000);
}
