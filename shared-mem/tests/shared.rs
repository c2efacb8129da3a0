//! `Shared<T>` and `ShmSafe`: mp-sync primitives and user types shared with forked
//! children, type checks, and serialization outside of `transfer`.

use std::sync::atomic::{AtomicU64, Ordering};

use bytemuck::{Pod, Zeroable};
use mp_shared_mem::{Error, Segment, Shared, ShmSafe};
use mp_sync::{Barrier, BoundedSemaphore, Condition, Event, Lock, Mutex, RLock, Semaphore};
use test_support::{ChildResult, PATIENCE, ensure, holds_within, spawn_child};

#[derive(Clone, Copy, Debug, PartialEq, Pod, Zeroable)]
#[repr(C)]
struct Point {
    x: i32,
    y: i32,
}
mp_shared_mem::shm_safe_pod!(Point);

#[repr(C)]
struct Board {
    moves: AtomicU64,
    cursor: Mutex<Point>,
    done: Event,
}
// SAFETY: `#[repr(C)]` and made only of `ShmSafe` fields (an atomic, a mp-sync mutex over a
// `Pod` struct, an event): no pointers, no descriptors, nothing to drop.
unsafe impl ShmSafe for Board {}

fn assert_shm_safe<T: ShmSafe>() {}

#[test]
fn every_mp_sync_primitive_is_shm_safe() {
    assert_shm_safe::<Lock>();
    assert_shm_safe::<RLock>();
    assert_shm_safe::<Mutex<[u8; 16]>>();
    assert_shm_safe::<Condition<u32>>();
    assert_shm_safe::<Condition>();
    assert_shm_safe::<Semaphore>();
    assert_shm_safe::<BoundedSemaphore>();
    assert_shm_safe::<Event>();
    assert_shm_safe::<Barrier>();
    assert_shm_safe::<[std::sync::atomic::AtomicBool; 3]>();
    assert_shm_safe::<Point>();
}

#[test]
fn deref_clone_and_ptr_eq() {
    let point = Shared::new(Point { x: 1, y: 2 }).unwrap();
    let clone = point.clone();
    assert!(Shared::ptr_eq(&point, &clone));
    assert_eq!(*clone, Point { x: 1, y: 2 });
    assert_eq!(format!("{point:?}"), "Shared(Point { x: 1, y: 2 })");

    let unit = Shared::new(()).unwrap();
    assert_eq!(*unit, ());
    let big = Shared::new([0u64; 4096]).unwrap();
    assert!(big.iter().all(|&x| x == 0));
}

#[test]
fn a_user_struct_is_shared_with_forked_children() {
    let board = Shared::new(Board {
        moves: AtomicU64::new(0),
        cursor: Mutex::new(Point { x: 0, y: 0 }),
        done: Event::new(),
    })
    .unwrap();
    let mut children: Vec<_> = (0..3)
        .map(|_| {
            let board = board.clone();
            spawn_child(move || -> ChildResult {
                for _ in 0..1_000 {
                    let mut cursor = board.cursor.lock().map_err(|_| 2u8)?;
                    cursor.x += 1;
                    cursor.y -= 1;
                    board.moves.fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            })
        })
        .collect();
    for child in &mut children {
        assert_eq!(child.join(), 0);
    }
    assert_eq!(board.moves.load(Ordering::Relaxed), 3_000);
    assert_eq!(
        *board.cursor.lock().unwrap(),
        Point {
            x: 3_000,
            y: -3_000
        }
    );
}

#[test]
fn a_lock_and_a_barrier_work_across_processes() {
    let lock = Shared::new(Lock::new()).unwrap();
    let barrier = Shared::new(Barrier::new(3).unwrap()).unwrap();
    let done = Shared::new(Event::new()).unwrap();
    let inside = Shared::new(AtomicU64::new(0)).unwrap();

    // The parent holds the lock; a child releases it (a Python Lock is not owned).
    lock.acquire().unwrap();
    let mut releaser = spawn_child({
        let lock = lock.clone();
        move || -> ChildResult { lock.release().map_err(|_| 2u8) }
    });
    assert_eq!(releaser.join(), 0);
    assert!(!lock.locked());

    let mut children: Vec<_> = (0..2)
        .map(|_| {
            let (barrier, done, inside) = (barrier.clone(), done.clone(), inside.clone());
            spawn_child(move || -> ChildResult {
                barrier.wait_timeout(PATIENCE).map_err(|_| 3u8)?;
                inside.fetch_add(1, Ordering::SeqCst);
                ensure(done.wait_timeout(PATIENCE).is_ok(), 4)
            })
        })
        .collect();
    let arrival = barrier.wait_timeout(PATIENCE).unwrap();
    assert!(arrival < 3);
    assert!(holds_within(
        || inside.load(Ordering::SeqCst) == 2,
        PATIENCE
    ));
    done.set();
    for child in &mut children {
        assert_eq!(child.join(), 0);
    }
}

#[test]
fn a_segment_of_another_type_is_refused() {
    let number = Shared::new(1u64).unwrap();
    let err = Shared::<i64>::from_segment(number.segment().clone()).unwrap_err();
    assert_eq!(
        err,
        Error::TypeMismatch {
            expected: "Shared<i64>".into(),
            found: "Shared<u64> (size 8, align 8)".into(),
        }
    );
    assert!(matches!(
        Shared::<[u64; 2]>::from_segment(number.segment().clone()),
        Err(Error::TypeMismatch { .. })
    ));
    let blank = Segment::new(4096).unwrap();
    assert!(matches!(
        Shared::<u64>::from_segment(blank),
        Err(Error::NotASegment { .. })
    ));

    // A header that claims more than the segment holds is caught too.
    let truncated = Segment::new(300).unwrap();
    let big = Shared::new([7u8; 4000]).unwrap();
    let mut header = [0u8; 256];
    big.segment().read_at(0, &mut header).unwrap();
    truncated.write_at(0, &header).unwrap();
    assert_eq!(
        Shared::<[u8; 4000]>::from_segment(truncated).unwrap_err(),
        Error::SizeMismatch {
            expected: 4256,
            found: 300
        }
    );
}

#[test]
fn serializing_a_handle_outside_transfer_is_a_clear_error() {
    let shared = Shared::new(AtomicU64::new(0)).unwrap();
    let err = serde_json::to_string(&shared).unwrap_err();
    assert!(
        err.to_string().contains("mp_shared_mem::transfer::encode"),
        "{err}"
    );
    let err = serde_json::from_str::<Shared<AtomicU64>>("0").unwrap_err();
    assert!(
        err.to_string().contains("mp_shared_mem::transfer::decode"),
        "{err}"
    );
}
