//! The `_async` forms of `Queue` and `JoinableQueue` against a real redis-server: under
//! tokio and under a bare executor, waiting for a later put, many futures on one
//! handle, dropped futures losing nothing, join, limits, and a server restart.

mod common;

use std::collections::BTreeSet;
use std::future::Future;
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::Thread;
use std::time::Duration;

use common::{assert_nothing_left, cluster, server};
use mp_cluster::{Cluster, Error};
use test_support::PATIENCE;

/// Awaits `future` on this thread, with no runtime at all: the thread parks until the
/// future's waker unparks it.
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut context = Context::from_waker(&waker);
    let mut future = pin!(future);
    let deadline = std::time::Instant::now() + PATIENCE;
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut context) {
            return output;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the future was not ready in time"
        );
        std::thread::park_timeout(Duration::from_millis(100));
    }
}

/// Waits, at most [`PATIENCE`], until `holds` says yes on a connection of its own to
/// the server at `url`.
fn wait_for(
    url: &str,
    what: &str,
    mut holds: impl FnMut(&mut redis::Connection) -> redis::RedisResult<bool>,
) {
    let mut connection = redis::Client::open(url)
        .and_then(|client| client.get_connection())
        .expect("a connection of the test's own");
    let deadline = std::time::Instant::now() + PATIENCE;
    while !holds(&mut connection).expect("ask the server") {
        assert!(std::time::Instant::now() < deadline, "{what}: not in time");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Whether a client of the server waits in a blocking command.
fn blocked_client(connection: &mut redis::Connection) -> redis::RedisResult<bool> {
    let info: String = redis::cmd("INFO").arg("clients").query(connection)?;
    Ok(info
        .lines()
        .filter_map(|line| line.strip_prefix("blocked_clients:"))
        .any(|count| count.trim() != "0"))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .expect("runtime")
}

#[test]
fn get_async_waits_for_a_put_from_another_thread_under_tokio() {
    let server = server();
    let url = server.url();
    let queue = cluster(&server).queue::<u64>("tokio-wait").expect("open");
    let waiting = queue.get_async();
    wait_for(&url, "the get_async blocked on the server", blocked_client);
    let producer = std::thread::spawn(move || {
        let queue = Cluster::connect(&url)?.queue::<u64>("tokio-wait")?;
        queue.put(&42)
    });
    let got = runtime().block_on(async {
        tokio::time::timeout(PATIENCE, waiting)
            .await
            .expect("in time")
    });
    assert_eq!(got.expect("get_async"), 42);
    producer.join().expect("producer").expect("put");
    queue.destroy().expect("destroy");
    drop(queue);
    assert_nothing_left(&server);
}

#[test]
fn the_async_forms_work_without_any_runtime() {
    let server = server();
    let queue = cluster(&server).queue::<String>("bare").expect("open");
    block_on(queue.put_async(&"one".to_string())).expect("put_async");
    block_on(queue.put_async(&"two".to_string())).expect("put_async");
    assert_eq!(block_on(queue.get_async()).expect("get_async"), "one");
    assert_eq!(block_on(queue.get_async()).expect("get_async"), "two");
    // Acknowledged right after it was returned: nothing stays in the stream.
    let deadline = std::time::Instant::now() + PATIENCE;
    while queue.qsize().expect("qsize") != 0 {
        assert!(std::time::Instant::now() < deadline, "never acknowledged");
        std::thread::sleep(Duration::from_millis(5));
    }
    queue.destroy().expect("destroy");
    drop(queue);
    assert_nothing_left(&server);
}

#[test]
fn many_futures_on_one_handle_each_get_one_message() {
    let server = server();
    let queue = cluster(&server).queue::<u64>("many").expect("open");
    let got: Vec<u64> = runtime().block_on(async {
        let waiting: Vec<_> = (0..16).map(|_| queue.get_async()).collect();
        for n in 0..16 {
            queue.put_async(&n).await.expect("put_async");
        }
        let mut got = Vec::new();
        for future in waiting {
            got.push(
                tokio::time::timeout(PATIENCE, future)
                    .await
                    .expect("in time")
                    .expect("get_async"),
            );
        }
        got
    });
    // Served in the order the futures were made, so in the order of the puts.
    assert_eq!(got, (0..16).collect::<Vec<_>>());
    queue.destroy().expect("destroy");
    drop(queue);
    assert_nothing_left(&server);
}

#[test]
fn dropped_get_futures_lose_nothing() {
    let server = server();
    let queue = cluster(&server).queue::<u64>("dropped").expect("open");
    for n in 0..40 {
        queue.put(&n).expect("put");
    }
    let mut seen = BTreeSet::new();
    let runtime = runtime();
    for round in 0..20u64 {
        // Some futures are dropped before they are polled, some while they wait, some
        // after their message has arrived but before it was returned.
        let first = queue.get_async();
        let second = queue.get_async();
        if round % 3 == 0 {
            drop(first);
        } else {
            std::thread::sleep(Duration::from_millis(round % 4));
            drop(first);
        }
        let got = runtime
            .block_on(async { tokio::time::timeout(PATIENCE, second).await })
            .expect("in time")
            .expect("get_async");
        assert!(seen.insert(got), "{got} delivered twice");
    }
    while let Ok(n) = queue.get_timeout(Duration::from_millis(200)) {
        assert!(seen.insert(n), "{n} delivered twice");
    }
    assert_eq!(seen, (0..40).collect::<BTreeSet<_>>());
    queue.destroy().expect("destroy");
    drop(queue);
    assert_nothing_left(&server);
}

#[test]
fn a_handle_dropped_with_a_kept_message_puts_it_back() {
    let server = server();
    let cluster = cluster(&server);
    let queue = cluster.queue::<u64>("kept").expect("open");
    queue.put(&7).expect("put");
    {
        let future = queue.get_async();
        // Once the thread has taken the message for it (pending in the group), drop it
        // unread.
        wait_for(&server.url(), "the message taken", |connection| {
            let pending: redis::Value = redis::cmd("XPENDING")
                .arg("mp:queue:{kept}")
                .arg("mp")
                .query(connection)?;
            Ok(matches!(pending, redis::Value::Array(ref summary)
                if matches!(summary.first(), Some(redis::Value::Int(1)))))
        });
        drop(future);
    }
    drop(queue);
    let other = cluster.queue::<u64>("kept").expect("open again");
    assert_eq!(other.get_timeout(PATIENCE).expect("given back"), 7);
    other.destroy().expect("destroy");
    drop(other);
    assert_nothing_left(&server);
}

#[test]
fn joinable_get_async_leases_until_task_done_and_join_async_waits() {
    let server = server();
    let tasks = cluster(&server)
        .joinable_queue::<u64>("joinable-async")
        .expect("open");
    runtime().block_on(async {
        for n in 0..5 {
            tasks.put_async(&n).await.expect("put_async");
        }
        let mut joined = std::pin::pin!(tasks.join_async());
        for n in 0..5 {
            assert_eq!(tasks.get_async().await.expect("get_async"), n);
            // Not joined while a task is unfinished.
            assert!(
                tokio::time::timeout(Duration::from_millis(20), joined.as_mut())
                    .await
                    .is_err()
            );
            tasks.task_done().expect("task_done");
        }
        tokio::time::timeout(PATIENCE, joined)
            .await
            .expect("in time")
            .expect("join_async");
    });
    assert!(matches!(
        tasks.task_done(),
        Err(Error::TaskDoneTooManyTimes)
    ));
    tasks.destroy().expect("destroy");
    drop(tasks);
    assert_nothing_left(&server);
}

#[test]
fn dropped_joinable_get_futures_lose_nothing_and_join_waits_for_every_task() {
    let server = server();
    let tasks = cluster(&server)
        .joinable_queue::<u64>("dropped-joinable")
        .expect("open");
    for n in 0..12 {
        tasks.put(&n).expect("put");
    }
    let runtime = runtime();
    let mut seen = BTreeSet::new();
    for round in 0..6u64 {
        let dropped = tasks.get_async();
        std::thread::sleep(Duration::from_millis(round * 60));
        drop(dropped);
        let got = runtime
            .block_on(async { tokio::time::timeout(PATIENCE, tasks.get_async()).await })
            .expect("in time")
            .expect("get_async");
        assert!(seen.insert(got), "{got} delivered twice");
        tasks.task_done().expect("task_done");
    }
    // Entries kept for the dropped futures come back to this handle's blocking get.
    while let Ok(n) = tasks.get_timeout(Duration::from_millis(300)) {
        assert!(seen.insert(n), "{n} delivered twice");
        // Not joined while a task taken is unfinished.
        assert!(matches!(
            tasks.join_timeout(Duration::from_millis(10)),
            Err(Error::TimedOut)
        ));
        tasks.task_done().expect("task_done");
    }
    assert_eq!(seen, (0..12).collect::<BTreeSet<_>>());
    runtime
        .block_on(async { tokio::time::timeout(PATIENCE, tasks.join_async()).await })
        .expect("in time")
        .expect("join_async");
    tasks.destroy().expect("destroy");
    drop(tasks);
    assert_nothing_left(&server);
}

#[test]
fn put_async_over_the_limit_fails_before_anything_is_sent() {
    let server = server();
    let cluster = cluster(&server);
    let queue = cluster
        .queue_builder("small")
        .max_message_len(64)
        .queue::<Vec<u8>>()
        .expect("open");
    let refused = block_on(queue.put_async(&vec![0u8; 1000]));
    assert!(
        matches!(refused, Err(Error::MessageTooLarge { max: 64, .. })),
        "{refused:?}"
    );
    assert_eq!(queue.qsize().expect("qsize"), 0);
    queue.close();
    assert!(matches!(
        block_on(queue.put_async(&vec![1])),
        Err(Error::Closed)
    ));
    assert!(matches!(block_on(queue.get_async()), Err(Error::Closed)));
    queue.destroy().expect("destroy");
    drop(queue);
    assert_nothing_left(&server);
}

#[test]
fn a_wrong_type_fails_the_future_and_the_message_waits_for_a_right_reader() {
    let server = server();
    let cluster = cluster(&server);
    let writer = cluster.queue::<String>("typed").expect("open");
    let reader = cluster.queue::<u64>("typed").expect("open");
    writer.put(&"not a number".to_string()).expect("put");
    let wrong = block_on(reader.get_async());
    assert!(matches!(wrong, Err(Error::Decode { .. })), "{wrong:?}");
    assert_eq!(
        writer.get_timeout(PATIENCE).expect("given back"),
        "not a number"
    );
    writer.destroy().expect("destroy");
    drop((writer, reader));
    assert_nothing_left(&server);
}

#[test]
fn a_get_async_waiting_through_a_server_restart_still_gets_its_message() {
    let mut server = server();
    let url = server.url();
    let queue = cluster(&server)
        .queue::<u64>("restart-async")
        .expect("open");
    let runtime = runtime();
    let waiting = queue.get_async();
    wait_for(&url, "the get_async blocked on the server", blocked_client);
    server.restart().expect("restart");
    let putter = Cluster::builder(&url)
        .reconnect_for(Duration::from_secs(5))
        .connect()
        .expect("connect")
        .queue::<u64>("restart-async")
        .expect("open");
    putter.put(&11).expect("put after the restart");
    let got = runtime
        .block_on(async { tokio::time::timeout(PATIENCE, waiting).await })
        .expect("in time, never a hang");
    assert_eq!(got.expect("get_async after the restart"), 11);
    queue.destroy().expect("destroy");
    drop((queue, putter));
    assert_nothing_left(&server);
}
