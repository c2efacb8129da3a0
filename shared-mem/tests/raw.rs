//! `RawValue`, `RawArray` and `RawSlice` between processes: forked children fill disjoint
//! slices without a lock and the parent's sums are exact; a raw value updated under a lock
//! kept beside it is exact; elements are never torn; slices cross processes by transfer
//! and are checked on receipt.

use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicBool, Ordering};

use mp_shared_mem::{Array, Error, RawArray, RawSlice, RawValue, Shared, transfer};
use mp_sync::{Event, Lock};
use test_support::{ChildResult, PATIENCE, ensure, spawn_child};

#[test]
fn raw_value_get_set_clone_and_debug() {
    let value = RawValue::new(1.5f64).unwrap();
    let other = value.clone();
    other.set(-2.25);
    assert_eq!(value.get(), -2.25);
    assert_eq!(format!("{value:?}"), "RawValue(-2.25)");

    let pair = RawValue::new([1u32, 2, 3]).unwrap();
    pair.set([4, 5, 6]);
    assert_eq!(pair.get(), [4, 5, 6]);
}

#[test]
fn forked_children_update_a_raw_value_under_a_lock_of_their_own() {
    const CHILDREN: u64 = 4;
    const ROUNDS: u64 = 2_000;
    let counter = RawValue::new(0u64).unwrap();
    let lock = Shared::new(Lock::new()).unwrap();
    let mut children: Vec<_> = (0..CHILDREN)
        .map(|_| {
            let (counter, lock) = (counter.clone(), lock.clone());
            spawn_child(move || -> ChildResult {
                for _ in 0..ROUNDS {
                    let _held = lock.lock().map_err(|_| 2u8)?;
                    counter.set(counter.get() + 1);
                }
                Ok(())
            })
        })
        .collect();
    for child in &mut children {
        assert_eq!(child.join(), 0);
    }
    assert_eq!(counter.get(), CHILDREN * ROUNDS);
}

#[test]
fn raw_array_accessors_and_errors() {
    let array = RawArray::from_slice(&[1i32, 2, 3, 4, 5]).unwrap();
    assert_eq!(array.len(), 5);
    assert!(!array.is_empty());
    array.set(4, 50).unwrap();
    assert_eq!(array.get(4).unwrap(), 50);
    assert_eq!(
        array.get(5),
        Err(Error::IndexOutOfRange { index: 5, len: 5 })
    );
    assert_eq!(
        array.set(usize::MAX, 0),
        Err(Error::IndexOutOfRange {
            index: usize::MAX,
            len: 5
        })
    );
    let mut three = [0; 3];
    array.read_at(2, &mut three).unwrap();
    assert_eq!(three, [3, 4, 50]);
    assert_eq!(
        array.read_at(3, &mut three),
        Err(Error::RangeOutOfBounds {
            start: 3,
            count: 3,
            len: 5
        })
    );
    assert!(matches!(
        array.write_at(usize::MAX, &[1]),
        Err(Error::RangeOutOfBounds { .. })
    ));
    array.write_at(0, &[]).unwrap();
    array.write_at(5, &[]).unwrap();
    assert_eq!(array.to_vec(), [1, 2, 3, 4, 50]);
    assert_eq!(
        format!("{:?}", RawArray::from_slice(&[1u8, 2]).unwrap()),
        "RawArray { len: 2, elements: [1, 2] }"
    );

    let empty = RawArray::<u64>::zeroed(0).unwrap();
    assert!(empty.is_empty());
    assert!(empty.to_vec().is_empty());
    assert!(empty.chunks(3).unwrap().is_empty());
    assert_eq!(empty.split(2).unwrap().len(), 2);
    assert!(matches!(
        RawArray::<u64>::zeroed(usize::MAX / 2),
        Err(Error::TooLarge { .. })
    ));
}

#[test]
fn split_and_chunks_cover_the_array_in_order_without_overlap() {
    let array = RawArray::<u16>::zeroed(11).unwrap();
    assert_eq!(array.split(0).unwrap_err(), Error::ZeroPieces);
    assert_eq!(array.chunks(0).unwrap_err(), Error::ZeroPieces);
    for parts in 1..=13 {
        let slices = array.split(parts).unwrap();
        assert_eq!(slices.len(), parts);
        let mut next = 0;
        for slice in &slices {
            assert_eq!(slice.start(), next);
            assert_eq!(slice.range(), next..next + slice.len());
            next += slice.len();
        }
        assert_eq!(next, 11);
        let (shortest, longest) = slices.iter().fold((usize::MAX, 0), |(lo, hi), s| {
            (lo.min(s.len()), hi.max(s.len()))
        });
        assert!(longest - shortest <= 1, "{parts} parts");
    }
    let chunks = array.chunks(4).unwrap();
    let ranges: Vec<_> = chunks.iter().map(RawSlice::range).collect();
    assert_eq!(ranges, [0..4, 4..8, 8..11]);
    assert_eq!(array.chunks(11).unwrap().len(), 1);
    assert_eq!(array.chunks(usize::MAX).unwrap().len(), 1);

    // A slice reaches only its own elements.
    let last = &chunks[2];
    assert_eq!(
        last.get(3),
        Err(Error::IndexOutOfRange { index: 3, len: 3 })
    );
    assert!(matches!(
        last.write_at(2, &[1, 2]),
        Err(Error::RangeOutOfBounds { .. })
    ));
    last.write_at(0, &[7, 8, 9]).unwrap();
    assert_eq!(&array.to_vec()[7..], [0, 7, 8, 9]);
}

#[test]
fn with_mut_stores_back_what_the_closure_left() {
    let array = RawArray::from_slice(&[1u32, 2, 3, 4, 5, 6]).unwrap();
    let mut parts = array.split(2).unwrap();
    let doubled_sum = parts[1].with_mut(|xs| {
        assert_eq!(xs, [4, 5, 6]);
        xs.iter_mut().for_each(|x| *x *= 2);
        xs.iter().sum::<u32>()
    });
    assert_eq!(doubled_sum, 30);
    assert_eq!(array.to_vec(), [1, 2, 3, 8, 10, 12]);
    assert_eq!(parts[0].to_vec(), [1, 2, 3]);
}

#[test]
fn forked_children_fill_disjoint_slices_and_the_parent_sums_them() {
    const LEN: usize = 100_003;
    const CHILDREN: usize = 4;
    let array = RawArray::<u64>::zeroed(LEN).unwrap();
    let mut children: Vec<_> = array
        .split(CHILDREN)
        .unwrap()
        .into_iter()
        .map(|mut slice| {
            // The slice moves into the child: only that process writes its elements.
            spawn_child(move || -> ChildResult {
                let first = slice.start() as u64;
                slice.with_mut(|elements| {
                    for (i, x) in elements.iter_mut().enumerate() {
                        *x = first + i as u64 + 1;
                    }
                });
                Ok(())
            })
        })
        .collect();
    for child in &mut children {
        assert_eq!(child.join(), 0);
    }
    let n = LEN as u64;
    assert_eq!(array.to_vec().iter().sum::<u64>(), n * (n + 1) / 2);
    // SAFETY: every writer has been joined; nothing writes the array any more.
    let plain = unsafe { array.as_slice() };
    assert!(plain.iter().enumerate().all(|(i, &x)| x == i as u64 + 1));
}

#[test]
fn forked_children_set_elements_of_their_chunks_one_by_one() {
    let array = RawArray::<f64>::zeroed(1000).unwrap();
    let mut children: Vec<_> = array
        .chunks(300)
        .unwrap()
        .into_iter()
        .map(|chunk| {
            spawn_child(move || -> ChildResult {
                for i in 0..chunk.len() {
                    chunk.set(i, 0.5).map_err(|_| 2u8)?;
                }
                ensure(chunk.set(chunk.len(), 0.5).is_err(), 3)
            })
        })
        .collect();
    for child in &mut children {
        assert_eq!(child.join(), 0);
    }
    assert_eq!(array.to_vec().iter().sum::<f64>(), 500.0);
}

#[test]
fn elements_written_by_another_process_are_never_torn() {
    const READS: usize = 200_000;
    let array = RawArray::<u64>::zeroed(8).unwrap();
    let done = Shared::new(AtomicBool::new(false)).unwrap();
    let started = Shared::new(Event::new()).unwrap();
    let mut writer = spawn_child({
        let (array, done, started) = (array.clone(), done.clone(), started.clone());
        move || -> ChildResult {
            started.set();
            let mut pattern = u64::MAX;
            while !done.load(Ordering::Relaxed) {
                array.write_at(0, &[pattern; 8]).map_err(|_| 2u8)?;
                pattern = !pattern;
            }
            Ok(())
        }
    });
    assert_eq!(
        started.wait_timeout(PATIENCE),
        Ok(()),
        "the writer never started"
    );
    let mut elements = [0u64; 8];
    let torn = (0..READS)
        .filter(|_| {
            array.read_at(0, &mut elements).is_err()
                || elements.iter().any(|&x| x != 0 && x != u64::MAX)
        })
        .count();
    done.store(true, Ordering::Relaxed);
    assert_eq!(writer.join(), 0);
    assert_eq!(torn, 0);
}

#[test]
fn a_slice_sent_to_another_process_writes_only_its_part() {
    let (parent_end, child_end) = UnixStream::pair().unwrap();
    let array = RawArray::<i32>::zeroed(6).unwrap();
    let mut child = spawn_child(move || -> ChildResult {
        let mut slice: RawSlice<i32> = transfer::recv_value(&child_end, 4096).map_err(|_| 2u8)?;
        ensure(slice.range() == (3..6), 3)?;
        slice.with_mut(|xs| xs.fill(-1));
        Ok(())
    });
    let slices = array.split(2).unwrap();
    transfer::send_value(&parent_end, &slices[1]).unwrap();
    drop(slices); // the sender keeps no copy
    assert_eq!(child.join(), 0);
    assert_eq!(array.to_vec(), [0, 0, 0, -1, -1, -1]);
}

#[test]
fn raw_handles_are_type_checked_on_receipt() {
    let array = RawArray::from_slice(&[1u64, 2, 3, 4]).unwrap();
    let (bytes, fds) = transfer::encode(&array.split(2).unwrap()[1]).unwrap();
    let slice: RawSlice<u64> = transfer::decode(&bytes, fds).unwrap();
    assert_eq!((slice.range(), slice.to_vec()), (2..4, vec![3, 4]));

    let (bytes, fds) = transfer::encode(&array.split(2).unwrap()[1]).unwrap();
    let wrong = transfer::decode::<RawSlice<u32>>(&bytes, fds);
    assert!(
        matches!(wrong, Err(Error::TypeMismatch { .. })),
        "{wrong:?}"
    );

    // A range that the array does not have is refused, not trusted.
    let forged = (array.segment().clone(), 3u64, 2u64);
    let (bytes, fds) = transfer::encode(&forged).unwrap();
    assert_eq!(
        transfer::decode::<RawSlice<u64>>(&bytes, fds).unwrap_err(),
        Error::RangeOutOfBounds {
            start: 3,
            count: 2,
            len: 4
        }
    );
    let forged = (array.segment().clone(), u64::MAX, 2u64);
    let (bytes, fds) = transfer::encode(&forged).unwrap();
    assert!(matches!(
        transfer::decode::<RawSlice<u64>>(&bytes, fds),
        Err(Error::RangeOutOfBounds { .. })
    ));

    let (bytes, fds) = transfer::encode(&array).unwrap();
    let locked = transfer::decode::<Array<u64>>(&bytes, fds);
    assert!(
        matches!(locked, Err(Error::TypeMismatch { .. })),
        "{locked:?}"
    );
    let (bytes, fds) = transfer::encode(&array).unwrap();
    let again: RawArray<u64> = transfer::decode(&bytes, fds).unwrap();
    again.set(0, 10).unwrap();
    assert_eq!(array.get(0).unwrap(), 10);

    let value = RawValue::new(5u8).unwrap();
    let (bytes, fds) = transfer::encode(&value).unwrap();
    let received: RawValue<u8> = transfer::decode(&bytes, fds).unwrap();
    received.set(6);
    assert_eq!(value.get(), 6);
    let (bytes, fds) = transfer::encode(&value).unwrap();
    assert!(matches!(
        transfer::decode::<RawArray<u8>>(&bytes, fds),
        Err(Error::TypeMismatch { .. })
    ));
}
