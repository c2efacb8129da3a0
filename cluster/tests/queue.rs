//! `Queue` against a real redis-server: order, the blocking families, sizes, closing,
//! limits, types, restarts, and many processes at once.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use common::{assert_nothing_left, cluster, server};
use mp_cluster::{Cluster, Error, Queue};
use test_support::{PATIENCE, spawn_child};

#[test]
fn messages_come_out_in_the_order_they_went_in() {
    let server = server();
    let queue = cluster(&server).queue::<String>("order").expect("open");
    for n in 0..20 {
        queue.put(&format!("message {n}")).expect("put");
    }
    for n in 0..20 {
        assert_eq!(queue.get().expect("get"), format!("message {n}"));
    }
    assert!(matches!(queue.try_get(), Err(Error::Empty)));
    queue.destroy().expect("destroy");
    assert_nothing_left(&server);
}

#[test]
fn try_get_and_get_timeout_on_an_empty_queue_say_empty() {
    let server = server();
    let queue = cluster(&server).queue::<u64>("empty").expect("open");
    assert!(matches!(queue.try_get(), Err(Error::Empty)));
    assert!(matches!(
        queue.get_timeout(Duration::ZERO),
        Err(Error::Empty)
    ));
    assert!(matches!(
        queue.get_timeout(Duration::from_millis(50)),
        Err(Error::Empty)
    ));
    // Zero looks once, and finds what is there.
    queue.put(&5).expect("put");
    assert_eq!(queue.get_timeout(Duration::ZERO).expect("poll once"), 5);
    queue.destroy().expect("destroy");
    assert_nothing_left(&server);
}

#[test]
fn a_blocked_get_returns_what_another_process_puts() {
    let server = server();
    let url = server.url();
    let queue = cluster(&server).queue::<u64>("blocked").expect("open");
    let mut producer = spawn_child(move || {
        let cluster = Cluster::connect(&url).map_err(|_| 10u8)?;
        let queue = cluster.queue::<u64>("blocked").map_err(|_| 11u8)?;
        std::thread::sleep(Duration::from_millis(100));
        queue.put(&42).map_err(|_| 12u8)
    });
    assert_eq!(queue.get_timeout(PATIENCE).expect("get"), 42);
    assert_eq!(producer.join(), 0);
    queue.destroy().expect("destroy");
    assert_nothing_left(&server);
}

#[test]
fn qsize_and_empty_count_what_waits() {
    let server = server();
    let queue = cluster(&server).queue::<u8>("sizes").expect("open");
    assert!(queue.empty().expect("empty"));
    for n in 0..3 {
        queue.put(&n).expect("put");
    }
    assert_eq!(queue.qsize().expect("qsize"), 3);
    queue.get().expect("get");
    assert_eq!(queue.qsize().expect("qsize"), 2);
    assert!(!queue.empty().expect("empty"));
    queue.destroy().expect("destroy");
    assert_nothing_left(&server);
}

#[test]
fn a_closed_handle_puts_and_takes_nothing_while_others_go_on() {
    let server = server();
    let cluster = cluster(&server);
    let closed = cluster.queue::<u8>("closing").expect("open");
    let other = cluster.queue::<u8>("closing").expect("open again");
    closed.put(&1).expect("put");
    closed.close();
    assert!(matches!(closed.put(&2), Err(Error::Closed)));
    assert!(matches!(closed.get(), Err(Error::Closed)));
    assert!(matches!(closed.try_get(), Err(Error::Closed)));
    assert_eq!(other.get().expect("get"), 1);
    other.destroy().expect("destroy");
    assert_nothing_left(&server);
}

#[test]
fn a_message_over_the_limit_is_refused_at_put() {
    let server = server();
    let queue = cluster(&server)
        .queue_builder("limited")
        .max_message_len(16)
        .queue::<Vec<u8>>()
        .expect("open");
    match queue.put(&vec![7; 100]) {
        Err(Error::MessageTooLarge { len, max }) => {
            assert!(len > 100);
            assert_eq!(max, 16);
        }
        other => panic!("expected MessageTooLarge, got {other:?}"),
    }
    assert_eq!(queue.qsize().expect("qsize"), 0);
    queue.put(&vec![7; 8]).expect("a message under the limit");
    assert_eq!(queue.get().expect("get"), vec![7; 8]);
    queue.destroy().expect("destroy");
    assert_nothing_left(&server);
}

#[test]
fn a_reader_of_the_wrong_type_gets_a_decode_error_and_the_message_stays() {
    let server = server();
    let cluster = cluster(&server);
    let strings = cluster.queue::<String>("typed").expect("open");
    let numbers = cluster.queue::<u64>("typed").expect("open as u64");
    strings.put(&"not a number".to_string()).expect("put");
    match numbers.get_timeout(PATIENCE) {
        Err(Error::Decode {
            queue, type_name, ..
        }) => {
            assert_eq!(queue, "typed");
            assert_eq!(type_name, "u64");
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
    assert_eq!(strings.get_timeout(PATIENCE).expect("get"), "not a number");
    assert!(matches!(strings.try_get(), Err(Error::Empty)));
    strings.destroy().expect("destroy");
    assert_nothing_left(&server);
}

#[test]
fn every_key_expires_unless_told_otherwise() {
    let server = server();
    let cluster = cluster(&server);
    let expiring = cluster
        .queue_builder("expiring")
        .expire_after(Duration::from_secs(600))
        .queue::<u8>()
        .expect("open");
    expiring.put(&1).expect("put");
    let ttl = server
        .command(&["PTTL", "mp:queue:{expiring}"])
        .expect("PTTL")
        .as_integer();
    assert!(ttl.is_some_and(|ms| ms > 0 && ms <= 600_000), "{ttl:?}");

    let kept = cluster
        .queue_builder("kept")
        .expire_after(Duration::MAX)
        .queue::<u8>()
        .expect("open");
    kept.put(&1).expect("put");
    let ttl = server.command(&["PTTL", "mp:queue:{kept}"]).expect("PTTL");
    assert_eq!(ttl.as_integer(), Some(-1));

    expiring.destroy().expect("destroy");
    kept.destroy().expect("destroy");
    assert_nothing_left(&server);
}

#[test]
fn after_a_restart_the_next_call_reconnects() {
    let mut server = server();
    let queue = cluster(&server).queue::<u8>("restarted").expect("open");
    queue.put(&1).expect("put");
    server.restart().expect("restart");
    // The server came back empty (no persistence): the queue is created again.
    assert!(matches!(queue.try_get(), Err(Error::Empty)));
    queue.put(&2).expect("put after the restart");
    assert_eq!(queue.get_timeout(PATIENCE).expect("get"), 2);
    queue.destroy().expect("destroy");
    assert_nothing_left(&server);
}

#[test]
fn with_the_server_gone_a_call_fails_clearly_instead_of_hanging() {
    let mut server = server();
    let cluster = Cluster::builder(&server.url())
        .reconnect_for(Duration::from_millis(200))
        .connect()
        .expect("connect");
    let queue = cluster.queue::<u8>("gone").expect("open");
    server.stop();
    match queue.put(&1) {
        Err(err @ Error::Unreachable { .. }) => {
            assert!(err.to_string().contains("unreachable"), "{err}");
        }
        other => panic!("expected Unreachable, got {other:?}"),
    }
    assert!(matches!(queue.get(), Err(Error::Unreachable { .. })));
    server.restart().expect("restart");
    queue.put(&3).expect("put once the server is back");
    assert_eq!(queue.get().expect("get"), 3);
    queue.destroy().expect("destroy");
    assert_nothing_left(&server);
}

#[test]
fn a_url_without_a_server_is_unreachable() {
    let server = server();
    let url = server.url();
    drop(server);
    let refused = Cluster::builder(&url)
        .reconnect_for(Duration::from_millis(50))
        .connect();
    assert!(
        matches!(refused, Err(Error::Unreachable { .. })),
        "{refused:?}"
    );
}

/// Producers and consumers in separate processes: every message exactly once.
#[test]
fn many_producers_and_consumers_in_other_processes_see_each_message_once() {
    const PRODUCERS: u32 = 3;
    const CONSUMERS: u32 = 3;
    const EACH: u32 = 100;
    let server = server();
    let cluster = cluster(&server);
    let work = cluster.queue::<Option<(u32, u32)>>("work").expect("open");
    let results = cluster.queue::<(u32, u32, u32)>("results").expect("open");

    let consumers: Vec<_> = (0..CONSUMERS)
        .map(|consumer| {
            let url = server.url();
            spawn_child(move || {
                let cluster = Cluster::connect(&url).map_err(|_| 10u8)?;
                let work = cluster
                    .queue::<Option<(u32, u32)>>("work")
                    .map_err(|_| 11u8)?;
                let results = cluster
                    .queue::<(u32, u32, u32)>("results")
                    .map_err(|_| 12u8)?;
                while let Some((producer, n)) = work.get_timeout(PATIENCE).map_err(|_| 13u8)? {
                    results.put(&(consumer, producer, n)).map_err(|_| 14u8)?;
                }
                Ok(())
            })
        })
        .collect();
    let producers: Vec<_> = (0..PRODUCERS)
        .map(|producer| {
            // A handle inherited through fork: the child opens its own connections.
            let work: Queue<Option<(u32, u32)>> = cluster.queue("work").expect("open");
            spawn_child(move || {
                for n in 0..EACH {
                    work.put(&Some((producer, n))).map_err(|_| 20u8)?;
                }
                Ok(())
            })
        })
        .collect();
    for mut producer in producers {
        assert_eq!(producer.join(), 0);
    }
    for _ in 0..CONSUMERS {
        work.put(&None).expect("put a stop message");
    }
    let mut seen = BTreeMap::new();
    for _ in 0..PRODUCERS * EACH {
        let (consumer, producer, n) = results.get_timeout(PATIENCE).expect("a result");
        assert!(consumer < CONSUMERS);
        *seen.entry((producer, n)).or_insert(0) += 1;
    }
    for mut consumer in consumers {
        assert_eq!(consumer.join(), 0);
    }
    assert!(matches!(results.try_get(), Err(Error::Empty)));
    assert_eq!(seen.len(), (PRODUCERS * EACH) as usize);
    assert!(seen.values().all(|&count| count == 1));
    work.destroy().expect("destroy");
    results.destroy().expect("destroy");
    assert_nothing_left(&server);
}

/// A blocking read longer than the command timeout is a wait, not a dead connection.
#[test]
fn a_wait_longer_than_the_command_timeout_is_not_taken_for_a_dead_connection() {
    let server = server();
    // Short enough to be far below the waits, long enough for any command on a loaded
    // machine; with no reconnection, a wait taken for a dead connection would fail.
    let cluster = Cluster::builder(&server.url())
        .command_timeout(Duration::from_millis(300))
        .reconnect_for(Duration::ZERO)
        .connect()
        .expect("connect");
    let queue = cluster.queue::<u8>("patient").expect("open");
    match queue.get_timeout(Duration::from_millis(900)) {
        Err(Error::Empty) => {}
        other => panic!("expected Empty, got {other:?}"),
    }
    let url = server.url();
    let mut producer = spawn_child(move || {
        let queue = Cluster::connect(&url)
            .and_then(|cluster| cluster.queue::<u8>("patient"))
            .map_err(|_| 10u8)?;
        std::thread::sleep(Duration::from_millis(700));
        queue.put(&9).map_err(|_| 11u8)
    });
    assert_eq!(queue.get().expect("get"), 9);
    assert_eq!(producer.join(), 0);
    queue.destroy().expect("destroy");
    assert_nothing_left(&server);
}

#[test]
fn user_and_password_come_from_the_url() {
    let server = server();
    server
        .command(&[
            "ACL", "SETUSER", "worker", "on", ">secret", "~*", "&*", "+@all",
        ])
        .expect("ACL SETUSER");
    let url = format!("redis://worker:secret@127.0.0.1:{}/", server.port());
    let cluster = Cluster::connect(&url).expect("connect as worker");
    assert!(!cluster.url().contains("secret"));
    let queue = cluster.queue::<u8>("private").expect("open");
    queue.put(&1).expect("put");
    assert_eq!(queue.get().expect("get"), 1);
    queue.destroy().expect("destroy");

    let wrong = format!("redis://worker:wrong@127.0.0.1:{}/", server.port());
    match Cluster::connect(&wrong) {
        Err(err @ Error::Redis { .. }) => assert!(!err.to_string().contains("wrong"), "{err}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_nothing_left(&server);
}
