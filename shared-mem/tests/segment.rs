//! `Segment`: sizes, bounds, sealing, descriptors that are not segments, running out of
//! descriptors, and the memory being released by every holder, one killed with SIGKILL
//! included.

use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU32, Ordering};

use mp_shared_mem::{Error, Segment, SegmentFault, Shared, SharedMemory, transfer};
use nix::errno::Errno;
use nix::sys::memfd::{MFdFlags, memfd_create};
use nix::unistd::ftruncate;
use test_support::files::{
    FileId, file_id, in_dev_shm, mapped_in_this_process, open_in_this_process,
};
use test_support::procfs::process_exists;
use test_support::{Child, ChildResult, PATIENCE, ensure, holds_within, spawn_child};

#[test]
fn sizes_are_exact_and_memory_starts_zeroed() {
    for size in [1, 100, 4096, 3 * 4096 + 5] {
        let segment = Segment::new(size).unwrap();
        assert_eq!(segment.size(), size);
        assert_eq!(segment.bytes().len(), size);
        assert!(segment.to_vec().iter().all(|&b| b == 0));
        assert_eq!(segment.as_ptr() as usize % 4096, 0);
    }
}

#[test]
fn bad_sizes_are_refused() {
    assert_eq!(Segment::new(0).unwrap_err(), Error::ZeroSize);
    assert!(matches!(
        Segment::new(usize::MAX),
        Err(Error::TooLarge { .. })
    ));
}

#[test]
fn reads_and_writes_are_bounds_checked() {
    let segment = Segment::new(16).unwrap();
    segment.write_at(0, &[1; 16]).unwrap();
    segment.write_at(16, &[]).unwrap();
    let mut buf = [0u8; 4];
    assert_eq!(
        segment.read_at(13, &mut buf),
        Err(Error::OutOfBounds {
            offset: 13,
            len: 4,
            size: 16
        })
    );
    assert!(matches!(
        segment.write_at(usize::MAX, &[1]),
        Err(Error::OutOfBounds { .. })
    ));
    assert!(matches!(
        segment.read_at(17, &mut []),
        Err(Error::OutOfBounds { .. })
    ));
    segment.read_at(12, &mut buf).unwrap();
    assert_eq!(buf, [1; 4]);
}

#[test]
fn clones_share_the_mapping_and_a_second_mapping_shares_the_memory() {
    let segment = Segment::new(64).unwrap();
    let clone = segment.clone();
    assert_eq!(clone.as_ptr(), segment.as_ptr());

    let fd = segment.as_fd().try_clone_to_owned().unwrap();
    let second = Segment::from_fd(fd).unwrap();
    assert_ne!(second.as_ptr(), segment.as_ptr());
    second.write_at(60, b"abcd").unwrap();
    assert_eq!(&clone.to_vec()[60..], b"abcd");
    assert_eq!(file_id(&second), file_id(&segment));
}

#[test]
fn the_size_is_sealed() {
    let segment = Segment::new(8192).unwrap();
    assert_eq!(ftruncate(segment.as_fd(), 4096), Err(Errno::EPERM));
    assert_eq!(ftruncate(segment.as_fd(), 16384), Err(Errno::EPERM));
    assert_eq!(segment.size(), 8192);
}

#[test]
fn descriptors_that_are_not_segments_are_refused() {
    let null = OwnedFd::from(std::fs::File::open("/dev/null").unwrap());
    assert!(matches!(
        Segment::from_fd(null),
        Err(Error::NotASegment {
            fault: SegmentFault::NotAMemfd
        })
    ));

    let unsealed = memfd_create(c"unsealed", MFdFlags::MFD_CLOEXEC).unwrap();
    ftruncate(&unsealed, 4096).unwrap();
    assert_eq!(
        Segment::from_fd(unsealed).unwrap_err(),
        Error::NotASegment {
            fault: SegmentFault::NotSealed
        }
    );
}

#[test]
fn running_out_of_descriptors_is_an_error() {
    let segment = Segment::new(4096).unwrap();
    let mut child = spawn_child(|| -> ChildResult {
        let _hoard = test_support::descriptors::use_up_descriptors()?;
        let emfile = |result: Result<(), Error>, operation: &str| match result {
            Err(Error::Os {
                errno,
                operation: op,
            }) => errno == Errno::EMFILE && op.contains(operation),
            _ => false,
        };
        ensure(emfile(Segment::new(4096).map(drop), "memfd_create"), 10)?;
        ensure(
            emfile(Shared::new(AtomicU32::new(0)).map(drop), "memfd_create"),
            11,
        )?;
        ensure(emfile(SharedMemory::create(64).map(drop), "shm_open"), 12)?;
        ensure(
            emfile(transfer::encode(&segment).map(drop), "F_DUPFD_CLOEXEC"),
            13,
        )?;
        // The descriptors this child inherited still work.
        segment.write_at(0, b"ok").map_err(|_| 14u8)?;
        Ok(())
    });
    assert_eq!(child.join(), 0);
    assert_eq!(
        &Segment::from_fd(segment.as_fd().try_clone_to_owned().unwrap())
            .unwrap()
            .to_vec()[..2],
        b"ok"
    );
}

#[test]
fn memory_is_released_once_every_holder_has_gone_even_by_sigkill() {
    let counter = Shared::new(AtomicU32::new(0)).unwrap();
    let file: FileId = file_id(counter.segment());

    // One holder increments and exits; another increments, then holds on until killed.
    let mut exits = spawn_child({
        let counter = counter.clone();
        move || {
            counter.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    });
    let mut killed: Child = spawn_child({
        let counter = counter.clone();
        move || {
            counter.fetch_add(100, Ordering::SeqCst);
            loop {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
        }
    });
    assert_eq!(exits.join(), 0);
    assert!(holds_within(
        || counter.load(Ordering::SeqCst) == 101,
        PATIENCE
    ));
    let killed_pid = killed.pid();
    killed.kill();
    killed.reap_killed();
    assert!(!process_exists(killed_pid));

    // The checks below can see the segment while this process holds it...
    assert!(open_in_this_process(file));
    assert!(mapped_in_this_process(file));
    // ...and a memfd never appears in /dev/shm.
    assert!(!in_dev_shm(file));

    drop(counter);
    assert!(!open_in_this_process(file));
    assert!(!mapped_in_this_process(file));
    assert!(!in_dev_shm(file));
}
