//! Pipe and Connection between processes: forked children that echo, receive handles and
//! connections, run out of descriptors, and die (SIGKILL) in the middle of a message.

mod support;

use std::os::fd::AsFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use mp_ipc::{Connection, Error, pipe};
use mp_shared_mem::Shared;
use nix::sys::signal::Signal;
use support::{raw, recv_bytes_within, recv_within, write_raw};
use test_support::{Ended, PATIENCE, ensure, spawn_child_keeping};

#[test]
fn a_child_echoes_messages_until_the_parent_closes() {
    let (parent, child_end) = pipe::<(u32, String)>(true).unwrap();
    let mut child = spawn_child_keeping(&[raw(&child_end)], || {
        loop {
            match child_end.recv() {
                Ok((n, text)) => child_end
                    .send(&(n * 2, text.to_uppercase()))
                    .map_err(|_| 2u8)?,
                Err(Error::PeerClosed) => return Ok(()),
                Err(_) => return Err(3),
            }
        }
    });
    drop(child_end);
    for n in 0..100 {
        parent.send(&(n, format!("message {n}"))).unwrap();
        assert_eq!(
            recv_within(&parent).unwrap(),
            (n * 2, format!("MESSAGE {n}"))
        );
    }
    drop(parent);
    assert_eq!(child.join(), 0);
}

#[test]
fn bytes_and_large_messages_cross_processes_whole() {
    let (parent, child_end) = pipe::<()>(true).unwrap();
    let mut child = spawn_child_keeping(&[raw(&child_end)], || {
        let message = child_end.recv_bytes().map_err(|_| 2u8)?;
        ensure(message.len() == 5 << 20, 3)?;
        ensure(
            message
                .iter()
                .enumerate()
                .all(|(i, &b)| b == (i % 253) as u8),
            4,
        )?;
        child_end.send_bytes(&message[..1000]).map_err(|_| 5u8)
    });
    drop(child_end);
    let big: Vec<u8> = (0..5 << 20).map(|i: usize| (i % 253) as u8).collect();
    parent.send_bytes(&big).unwrap();
    assert_eq!(recv_bytes_within(&parent).unwrap(), &big[..1000]);
    assert_eq!(child.join(), 0);
}

#[test]
fn a_shared_value_sent_to_a_running_child_is_the_same_memory() {
    let (parent, child_end) = pipe::<Shared<AtomicU64>>(true).unwrap();
    let mut child = spawn_child_keeping(&[raw(&child_end)], || {
        let counter = child_end.recv().map_err(|_| 2u8)?;
        counter.fetch_add(41, Ordering::SeqCst);
        child_end.send(&counter).map_err(|_| 3u8)
    });
    drop(child_end);
    // Made after the fork: the child can only have it through the connection.
    let counter = Shared::new(AtomicU64::new(1)).unwrap();
    parent.send(&counter).unwrap();
    let back = recv_within(&parent).unwrap();
    assert_eq!(counter.load(Ordering::SeqCst), 42);
    assert_eq!(back.load(Ordering::SeqCst), 42);
    assert_eq!(child.join(), 0);
}

#[test]
fn a_connection_sent_to_a_running_child_carries_messages() {
    let (parent, child_end) = pipe::<Connection<String>>(true).unwrap();
    let mut child = spawn_child_keeping(&[raw(&child_end)], || {
        let received = child_end.recv().map_err(|_| 2u8)?;
        let question = received.recv().map_err(|_| 3u8)?;
        received
            .send(&format!("answer to {question}"))
            .map_err(|_| 4u8)
    });
    drop(child_end);
    let (here, there) = pipe::<String>(true).unwrap();
    parent.send(&there).unwrap();
    drop(there);
    here.send(&"question".to_string()).unwrap();
    assert_eq!(recv_within(&here).unwrap(), "answer to question");
    assert_eq!(child.join(), 0);
    assert!(matches!(here.recv(), Err(Error::PeerClosed)));
}

#[test]
fn a_child_killed_mid_message_gives_a_truncated_message() {
    let (parent, child_end) = pipe::<Vec<u8>>(true).unwrap();
    let mut child = spawn_child_keeping(&[raw(&child_end)], || {
        // A frame announcing 1000 bytes, of which 10 come; then wait to be killed.
        let mut partial = 1000u32.to_be_bytes().to_vec();
        partial.extend_from_slice(&[7; 10]);
        write_raw(child_end.as_fd(), &partial);
        std::thread::sleep(PATIENCE);
        Err(2)
    });
    drop(child_end);
    assert!(parent.poll(Some(PATIENCE)).unwrap());
    child.kill();
    child.reap_killed();
    match parent.recv() {
        Err(Error::Truncated { expected, received }) => {
            assert_eq!((expected, received), (1004, 14));
        }
        other => panic!("expected Truncated, got {other:?}"),
    }
    assert!(matches!(parent.recv(), Err(Error::OutOfSync)));
}

#[test]
fn a_child_killed_while_the_parent_waits_is_the_end_of_the_stream() {
    let (parent, child_end) = pipe::<u8>(true).unwrap();
    let mut child = spawn_child_keeping(&[raw(&child_end)], || {
        std::thread::sleep(PATIENCE);
        Err(2)
    });
    drop(child_end);
    let pid = child.pid();
    let killer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGKILL)
    });
    assert!(
        parent.poll(Some(PATIENCE)).unwrap(),
        "the death polls ready"
    );
    assert!(matches!(parent.recv(), Err(Error::PeerClosed)));
    killer.join().unwrap().unwrap();
    assert_eq!(
        child.wait_timeout(PATIENCE),
        Some(Ended::Killed(Signal::SIGKILL))
    );
}

#[test]
fn a_child_killed_while_the_parent_sends_ends_the_send() {
    let (parent, child_end) = pipe::<()>(true).unwrap();
    let mut child = spawn_child_keeping(&[raw(&child_end)], || {
        // Read a little of the big message, then stall until killed.
        let mut some = [0u8; 4096];
        support::read_raw(child_end.as_fd(), &mut some);
        child_end.send_bytes(b"started").map_err(|_| 2u8)?;
        std::thread::sleep(PATIENCE);
        Err(3)
    });
    drop(child_end);
    let (done, outcome) = mpsc::channel();
    let parent = std::sync::Arc::new(parent);
    let sender = {
        let parent = std::sync::Arc::clone(&parent);
        std::thread::spawn(move || {
            let _ = done.send(parent.send_bytes(&vec![0u8; 64 << 20]));
        })
    };
    // The child's "started" proves the send is under way (and blocked: 64 MiB does not
    // fit in a socket buffer).
    let mut started = [0u8; 11];
    support::read_raw(parent.as_fd(), &mut started);
    assert_eq!(&started[4..], b"started");
    child.kill();
    child.reap_killed();
    let result = outcome.recv_timeout(PATIENCE).expect("the send ended");
    assert!(matches!(result, Err(Error::PeerClosed)), "{result:?}");
    sender.join().unwrap();
}

#[test]
fn a_receiver_out_of_descriptors_gets_an_error_and_stays_in_step() {
    #[derive(serde::Serialize, serde::Deserialize)]
    struct Handles(Vec<Shared<AtomicU64>>);

    let (parent, child_end) = pipe::<Option<Handles>>(true).unwrap();
    let (report, child_report) = pipe::<u8>(true).unwrap();
    let mut child = spawn_child_keeping(&[raw(&child_end), raw(&child_report)], || {
        let hoard = test_support::descriptors::use_up_descriptors()?;
        child_report.send(&1).map_err(|_| 10u8)?;
        // Eight descriptors come, none can be installed.
        match child_end.recv() {
            Err(Error::FdsTruncated) => {}
            Err(_) => return Err(11),
            Ok(_) => return Err(12),
        }
        // The next message is read whole.
        match child_end.recv() {
            Ok(None) => {}
            _ => return Err(13),
        }
        drop(hoard);
        Ok(())
    });
    drop(child_end);
    drop(child_report);
    assert_eq!(recv_within(&report).unwrap(), 1);
    let handles: Vec<_> = (0..8)
        .map(|_| Shared::new(AtomicU64::new(0)).unwrap())
        .collect();
    parent.send(&Some(Handles(handles))).unwrap();
    parent.send(&None).unwrap();
    assert_eq!(child.join(), 0);
}
