//! `Connection::recv_async` and `recv_bytes_async` under a multi-threaded tokio runtime:
//! messages from a forked child, `PeerClosed` when the child ends, many connections
//! awaited at once, a dropped wait that reads nothing, an oversized message skipped, and a
//! wait outside any tokio runtime.
//!
//! Every wait is bounded by `tokio::time::timeout` or the child helpers' patience.

use std::time::Duration;

use mp_ipc::{Error, pipe};
use test_support::{PATIENCE, spawn_child};

#[tokio::test(flavor = "multi_thread")]
async fn messages_from_a_forked_child_then_peer_closed_when_it_ends() {
    let (parent_end, child_end) = pipe::<(u32, String)>(true).unwrap();
    let mut child = spawn_child(move || {
        for n in 0..200u32 {
            child_end
                .send(&(n, format!("message {n}")))
                .map_err(|_| 1u8)?;
            if n % 50 == 0 {
                // Let the parent's wait find an empty socket now and then.
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        Ok(())
    });
    // The parent's copy of the child's end went with the closure, so the child's exit
    // ends the stream.
    for n in 0..200u32 {
        let message = tokio::time::timeout(PATIENCE, parent_end.recv_async())
            .await
            .expect("recv_async did not finish")
            .unwrap();
        assert_eq!(message, (n, format!("message {n}")));
    }
    let end = tokio::time::timeout(PATIENCE, parent_end.recv_async())
        .await
        .expect("recv_async did not see the child end");
    assert!(matches!(end, Err(Error::PeerClosed)), "{end:?}");
    assert_eq!(child.join(), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn many_connections_are_awaited_at_once() {
    const PIPES: usize = 100;
    let (senders, receivers): (Vec<_>, Vec<_>) =
        (0..PIPES).map(|_| pipe::<Vec<u8>>(true).unwrap()).unzip();
    let tasks: Vec<_> = receivers
        .into_iter()
        .map(|receiver| {
            tokio::spawn(async move {
                let first = receiver.recv_bytes_async().await?;
                let second = receiver.recv_async().await?;
                let end = receiver.recv_async().await;
                Ok::<_, Error>((first, second, end))
            })
        })
        .collect();
    let sender = std::thread::spawn(move || {
        // Every task is waiting by now or soon: each gets its two messages later.
        std::thread::sleep(Duration::from_millis(20));
        for (k, sender) in senders.into_iter().enumerate() {
            sender.send_bytes(&[k as u8, 1])?;
            sender.send(&vec![k as u8, 2])?;
        }
        Ok::<(), Error>(())
    });
    for (k, task) in tasks.into_iter().enumerate() {
        let (first, second, end) = tokio::time::timeout(PATIENCE, task)
            .await
            .expect("a receiver did not finish")
            .unwrap()
            .unwrap();
        assert_eq!(first, [k as u8, 1]);
        assert_eq!(second, [k as u8, 2]);
        assert!(matches!(end, Err(Error::PeerClosed)), "{end:?}");
    }
    sender.join().unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dropped_recv_async_reads_nothing() {
    let (a, b) = pipe::<u32>(true).unwrap();
    for _ in 0..20 {
        let outcome = tokio::time::timeout(Duration::from_millis(1), b.recv_async()).await;
        assert!(
            outcome.is_err(),
            "nothing was sent, yet recv_async gave {outcome:?}"
        );
    }
    a.send(&1).unwrap();
    a.send(&2).unwrap();
    assert_eq!(b.recv().unwrap(), 1);
    // The second message may already be in the read-ahead buffer, not the socket.
    assert_eq!(
        tokio::time::timeout(PATIENCE, b.recv_async())
            .await
            .unwrap()
            .unwrap(),
        2
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_oversized_message_is_skipped_by_both_async_receives() {
    let (a, mut b) = pipe::<u32>(true).unwrap();
    b.set_max_message_size(16);
    a.send_bytes(&[0; 17]).unwrap();
    a.send(&5).unwrap();
    a.send_bytes(&[0; 100]).unwrap();
    a.send_bytes(b"raw").unwrap();
    assert!(matches!(
        tokio::time::timeout(PATIENCE, b.recv_async())
            .await
            .unwrap(),
        Err(Error::MessageTooLarge { len: 17, max: 16 })
    ));
    assert_eq!(
        tokio::time::timeout(PATIENCE, b.recv_async())
            .await
            .unwrap()
            .unwrap(),
        5
    );
    assert!(matches!(
        tokio::time::timeout(PATIENCE, b.recv_bytes_async())
            .await
            .unwrap(),
        Err(Error::MessageTooLarge { len: 100, max: 16 })
    ));
    assert_eq!(
        tokio::time::timeout(PATIENCE, b.recv_bytes_async())
            .await
            .unwrap()
            .unwrap(),
        b"raw"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_write_only_end_is_not_readable() {
    let (reader, writer) = pipe::<u8>(false).unwrap();
    assert!(matches!(writer.recv_async().await, Err(Error::NotReadable)));
    drop(reader);
}

#[test]
fn recv_async_needs_no_tokio_runtime() {
    let (a, b) = pipe::<u8>(true).unwrap();
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    let mut wait = std::pin::pin!(b.recv_async());
    assert!(
        std::future::Future::poll(wait.as_mut(), &mut cx).is_pending(),
        "nothing was sent"
    );
    a.send(&7).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if let std::task::Poll::Ready(outcome) = std::future::Future::poll(wait.as_mut(), &mut cx) {
            assert_eq!(outcome.unwrap(), 7);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the message never came"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}
