//! `wait()` over connections, raw descriptors, process sentinels (pidfds) and objects
//! without a descriptor, within a process and across processes.

mod support;

use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use mp_ipc::{Waitable, pipe, wait};
use support::raw;
use test_support::descriptors::pidfd_open;
use test_support::{PATIENCE, spawn_child_keeping};

#[test]
fn only_the_ready_connections_are_returned_in_order() {
    let (a_in, a_out) = pipe::<u8>(true).unwrap();
    let (b_in, _b_out) = pipe::<u8>(true).unwrap();
    let (c_in, c_out) = pipe::<u8>(true).unwrap();
    a_out.send(&1).unwrap();
    c_out.send(&3).unwrap();
    assert_eq!(
        wait(&[&a_in, &b_in, &c_in], Some(PATIENCE)).unwrap(),
        [0, 2]
    );
    assert_eq!(a_in.recv().unwrap(), 1);
    assert_eq!(wait(&[&a_in, &b_in, &c_in], Some(PATIENCE)).unwrap(), [2]);
}

#[test]
fn a_timeout_with_nothing_ready_returns_nothing() {
    let (a_in, _a_out) = pipe::<u8>(true).unwrap();
    assert!(wait(&[&a_in], Some(Duration::ZERO)).unwrap().is_empty());
    assert!(
        wait(&[&a_in], Some(Duration::from_millis(30)))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn an_empty_list_returns_at_once() {
    assert!(wait(&[], None).unwrap().is_empty());
    assert!(wait(&[], Some(PATIENCE)).unwrap().is_empty());
}

#[test]
fn a_closed_peer_makes_a_connection_ready() {
    let (a_in, a_out) = pipe::<u8>(true).unwrap();
    drop(a_out);
    assert!(a_in.is_ready());
    assert_eq!(wait(&[&a_in], None).unwrap(), [0]);
}

#[test]
fn a_message_from_another_thread_wakes_the_wait() {
    let (a_in, a_out) = pipe::<u8>(true).unwrap();
    let (b_in, b_out) = pipe::<u8>(true).unwrap();
    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        b_out.send(&2).unwrap();
        b_out
    });
    assert_eq!(wait(&[&a_in, &b_in], Some(PATIENCE)).unwrap(), [1]);
    drop(sender.join().unwrap());
    drop(a_out);
}

#[test]
fn raw_descriptors_wait_like_connections() {
    let (reader, writer) = std::io::pipe().unwrap();
    let reader = OwnedFd::from(reader);
    assert!(wait(&[&reader], Some(Duration::ZERO)).unwrap().is_empty());
    std::io::Write::write_all(&mut &writer, b"x").unwrap();
    assert_eq!(wait(&[&reader], Some(PATIENCE)).unwrap(), [0]);
    let borrowed: BorrowedFd<'_> = reader.as_fd();
    assert_eq!(wait(&[&borrowed], Some(PATIENCE)).unwrap(), [0]);
}

/// Ready once a flag is set; no descriptor, so `wait` checks it with its backoff.
struct Flag(Arc<AtomicBool>);

impl Waitable for Flag {
    fn is_ready(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    fn readiness_fd(&self) -> Option<BorrowedFd<'_>> {
        None
    }
}

#[test]
fn objects_without_a_descriptor_are_noticed() {
    let flag = Arc::new(AtomicBool::new(false));
    let waitable = Flag(Arc::clone(&flag));
    let (c_in, _c_out) = pipe::<u8>(true).unwrap();
    assert!(
        wait(&[&c_in, &waitable], Some(Duration::from_millis(10)))
            .unwrap()
            .is_empty()
    );
    let setter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        flag.store(true, Ordering::Release);
    });
    assert_eq!(wait(&[&c_in, &waitable], Some(PATIENCE)).unwrap(), [1]);
    setter.join().unwrap();
}

/// A descriptor that always polls readable while the object says it is not ready (a
/// message another reader took first, say).
struct AlwaysReadableNotReady {
    readable: OwnedFd,
    flag: Arc<AtomicBool>,
}

impl Waitable for AlwaysReadableNotReady {
    fn is_ready(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }

    fn readiness_fd(&self) -> Option<BorrowedFd<'_>> {
        Some(self.readable.as_fd())
    }
}

#[test]
fn a_descriptor_that_lies_does_not_end_the_wait_early() {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(writer); // at end of file: readable for ever
    let flag = Arc::new(AtomicBool::new(false));
    let object = AlwaysReadableNotReady {
        readable: reader.into(),
        flag: Arc::clone(&flag),
    };
    assert!(
        wait(&[&object], Some(Duration::from_millis(30)))
            .unwrap()
            .is_empty()
    );
    let setter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        flag.store(true, Ordering::Release);
    });
    assert_eq!(wait(&[&object], Some(PATIENCE)).unwrap(), [0]);
    setter.join().unwrap();
}

#[test]
fn a_process_sentinel_is_ready_when_the_process_ends() {
    let (release, child_end) = pipe::<u8>(true).unwrap();
    let mut child = spawn_child_keeping(&[raw(&child_end)], || {
        child_end.recv().map(drop).map_err(|_| 2u8)
    });
    drop(child_end);
    let sentinel = pidfd_open(child.pid());
    let (other_in, _other_out) = pipe::<u8>(true).unwrap();
    assert!(
        wait(&[&other_in, &sentinel], Some(Duration::ZERO))
            .unwrap()
            .is_empty()
    );
    release.send(&0).unwrap();
    assert_eq!(wait(&[&other_in, &sentinel], Some(PATIENCE)).unwrap(), [1]);
    assert_eq!(child.join(), 0);
}

#[test]
fn messages_from_several_children_are_all_collected() {
    let mut children = Vec::new();
    let mut readers = Vec::new();
    for n in 0..3u32 {
        let (reader, writer) = pipe::<u32>(false).unwrap();
        children.push(spawn_child_keeping(&[raw(&writer)], || {
            std::thread::sleep(Duration::from_millis(u64::from(n) * 10));
            writer.send(&(n * 100)).map_err(|_| 2u8)
        }));
        drop(writer);
        readers.push(reader);
    }
    let mut received = Vec::new();
    let mut open: Vec<usize> = (0..readers.len()).collect();
    while !open.is_empty() {
        let objects: Vec<&dyn Waitable> =
            open.iter().map(|&i| &readers[i] as &dyn Waitable).collect();
        let ready = wait(&objects, Some(PATIENCE)).unwrap();
        assert!(!ready.is_empty(), "nothing within {PATIENCE:?}");
        let mut finished = Vec::new();
        for index in ready {
            let reader = &readers[open[index]];
            match reader.recv() {
                Ok(value) => received.push(value),
                Err(mp_ipc::Error::PeerClosed) => finished.push(open[index]),
                Err(other) => panic!("{other}"),
            }
        }
        open.retain(|i| !finished.contains(i));
    }
    received.sort_unstable();
    assert_eq!(received, [0, 100, 200]);
    for mut child in children {
        assert_eq!(child.join(), 0);
    }
}

#[test]
fn connections_queues_and_sentinels_are_waited_on_together() {
    let (conn_in, _conn_out) = pipe::<u8>(true).unwrap();
    let queue = mp_ipc::Queue::<u32>::new().unwrap();
    let (release, child_end) = pipe::<u8>(true).unwrap();
    let mut child = spawn_child_keeping(&[raw(&child_end)], || {
        // The queue's memory was mapped before the fork: the child shares it.
        child_end.recv().map_err(|_| 2u8)?;
        queue.put(&7).map_err(|_| 3u8)
    });
    drop(child_end);
    let sentinel = pidfd_open(child.pid());
    let objects: [&dyn Waitable; 3] = [&conn_in, &queue, &sentinel];
    assert!(wait(&objects, Some(Duration::ZERO)).unwrap().is_empty());
    release.send(&0).unwrap();
    // The child puts, then ends: the queue and then the sentinel become ready.
    let ready = wait(&objects, Some(PATIENCE)).unwrap();
    assert!(ready.contains(&1) || ready.contains(&2), "{ready:?}");
    assert_eq!(child.join(), 0);
    assert_eq!(wait(&objects, Some(PATIENCE)).unwrap(), [1, 2]);
    assert_eq!(queue.get().unwrap(), 7);
    assert_eq!(wait(&objects, Some(Duration::ZERO)).unwrap(), [2]);
}
