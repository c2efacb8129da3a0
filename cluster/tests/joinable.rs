//! `JoinableQueue` against a real redis-server: task_done and join, and at-least-once
//! delivery when a consumer process is killed holding a message.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::{assert_nothing_left, cluster, server};
use mp_cluster::{Cluster, Error};
use test_support::{PATIENCE, spawn_child};

/// Short enough for a test, long enough that a live consumer keeps its message.
const LEASE: Duration = Duration::from_millis(300);
/// The lease of a test whose consumers must never be taken for dead: only a consumer
/// that stalls this long between get and task_done would have its message done twice.
const CREW_LEASE: Duration = Duration::from_secs(1);

#[test]
fn join_returns_once_every_message_is_done() {
    let server = server();
    let tasks = cluster(&server)
        .joinable_queue::<u32>("tasks")
        .expect("open");
    tasks
        .join_timeout(Duration::ZERO)
        .expect("nothing put: joined");
    for n in 0..3 {
        tasks.put(&n).expect("put");
    }
    assert!(matches!(
        tasks.join_timeout(Duration::ZERO),
        Err(Error::TimedOut)
    ));
    for n in 0..3 {
        assert_eq!(tasks.get().expect("get"), n);
    }
    // Taken is not done.
    assert_eq!(tasks.unfinished_tasks().expect("unfinished"), 3);
    assert!(matches!(
        tasks.join_timeout(Duration::from_millis(50)),
        Err(Error::TimedOut)
    ));
    for _ in 0..3 {
        tasks.task_done().expect("task_done");
    }
    tasks.join().expect("join");
    assert!(matches!(
        tasks.task_done(),
        Err(Error::TaskDoneTooManyTimes)
    ));
    tasks.destroy().expect("destroy");
    assert_nothing_left(&server);
}

#[test]
fn qsize_counts_what_waits_and_unfinished_what_join_waits_for() {
    let server = server();
    let tasks = cluster(&server)
        .joinable_queue::<u8>("sizes")
        .expect("open");
    tasks.put(&1).expect("put");
    tasks.put(&2).expect("put");
    tasks.get().expect("get");
    assert_eq!(tasks.qsize().expect("qsize"), 1);
    assert_eq!(tasks.unfinished_tasks().expect("unfinished"), 2);
    tasks.task_done().expect("task_done");
    assert_eq!(tasks.unfinished_tasks().expect("unfinished"), 1);
    tasks.destroy().expect("destroy");
    assert_nothing_left(&server);
}

#[test]
fn join_in_one_process_waits_for_task_done_in_another() {
    let server = server();
    let url = server.url();
    let tasks = cluster(&server)
        .joinable_queue::<u32>("remote")
        .expect("open");
    for n in 0..10 {
        tasks.put(&n).expect("put");
    }
    let mut worker = spawn_child(move || {
        let cluster = Cluster::connect(&url).map_err(|_| 10u8)?;
        let tasks = cluster.joinable_queue::<u32>("remote").map_err(|_| 11u8)?;
        while let Ok(_task) = tasks.try_get() {
            tasks.task_done().map_err(|_| 12u8)?;
        }
        Ok(())
    });
    tasks.join_timeout(PATIENCE).expect("join");
    assert_eq!(worker.join(), 0);
    tasks.destroy().expect("destroy");
    assert_nothing_left(&server);
}

/// A consumer SIGKILLed between get and task_done: its message goes to another consumer
/// after the lease, join returns once that one is done, and nobody sees it again.
#[test]
fn a_message_held_by_a_killed_consumer_is_delivered_again_after_the_lease() {
    let server = server();
    let cluster = cluster(&server);
    let open = |cluster: &Cluster| {
        cluster
            .queue_builder("leased")
            .visibility_timeout(LEASE)
            .joinable_queue::<String>()
    };
    let tasks = open(&cluster).expect("open");
    let taken = cluster.queue::<String>("taken").expect("open");
    tasks.put(&"the job".to_string()).expect("put");

    let url = server.url();
    let mut doomed = spawn_child(move || {
        let cluster = Cluster::connect(&url).map_err(|_| 10u8)?;
        let tasks = open(&cluster).map_err(|_| 11u8)?;
        let taken = cluster.queue::<String>("taken").map_err(|_| 12u8)?;
        let job = tasks.get_timeout(PATIENCE).map_err(|_| 13u8)?;
        taken.put(&job).map_err(|_| 14u8)?;
        // Killed here, before task_done.
        std::thread::sleep(PATIENCE);
        Err(15)
    });
    assert_eq!(
        taken.get_timeout(PATIENCE).expect("the first take"),
        "the job"
    );
    doomed.kill_and_reap();

    // Not done: join waits, and the message is nobody's to take until the lease ends.
    assert!(matches!(
        tasks.join_timeout(Duration::ZERO),
        Err(Error::TimedOut)
    ));
    let again = tasks
        .get_timeout(PATIENCE)
        .expect("the message, delivered again");
    assert_eq!(again, "the job");
    tasks.task_done().expect("task_done");
    tasks.join_timeout(PATIENCE).expect("join");

    // Finished: never seen again, not even after several leases.
    assert!(matches!(tasks.get_timeout(LEASE * 3), Err(Error::Empty)));
    tasks.destroy().expect("destroy");
    taken.destroy().expect("destroy");
    assert_nothing_left(&server);
}

/// Consumers in other processes, one of them killed mid-task: every message is done, the
/// killed one's message by someone else, and join returns.
#[test]
fn with_a_consumer_killed_mid_task_every_message_is_still_done() {
    const MESSAGES: u32 = 60;
    let server = server();
    let cluster = cluster(&server);
    let open = |cluster: &Cluster| {
        cluster
            .queue_builder("crew")
            .visibility_timeout(CREW_LEASE)
            .joinable_queue::<u32>()
    };
    let tasks = open(&cluster).expect("open");
    let done = cluster.queue::<u32>("done").expect("open");
    let holding = cluster.queue::<u32>("holding").expect("open");
    for n in 0..MESSAGES {
        tasks.put(&n).expect("put");
    }

    let url = server.url();
    let mut doomed = spawn_child(move || {
        let cluster = Cluster::connect(&url).map_err(|_| 10u8)?;
        let tasks = open(&cluster).map_err(|_| 11u8)?;
        let holding = cluster.queue::<u32>("holding").map_err(|_| 12u8)?;
        let n = tasks.get_timeout(PATIENCE).map_err(|_| 13u8)?;
        holding.put(&n).map_err(|_| 14u8)?;
        std::thread::sleep(PATIENCE);
        Err(15)
    });
    let held = holding
        .get_timeout(PATIENCE)
        .expect("the doomed consumer's message");
    doomed.kill_and_reap();

    let workers: Vec<_> = (0..2)
        .map(|_| {
            let url = server.url();
            spawn_child(move || {
                let cluster = Cluster::connect(&url).map_err(|_| 20u8)?;
                let tasks = open(&cluster).map_err(|_| 21u8)?;
                let done = cluster.queue::<u32>("done").map_err(|_| 22u8)?;
                // Until every message is done: the killed consumer's included, which
                // one of them takes over once its lease has run out.
                loop {
                    match tasks.get_timeout(LEASE) {
                        Ok(n) => {
                            done.put(&n).map_err(|_| 23u8)?;
                            tasks.task_done().map_err(|_| 24u8)?;
                        }
                        Err(Error::Empty) => {
                            if tasks.unfinished_tasks().map_err(|_| 25u8)? == 0 {
                                return Ok(());
                            }
                        }
                        Err(_) => return Err(26),
                    }
                }
            })
        })
        .collect();
    tasks.join_timeout(PATIENCE).expect("join");
    for mut worker in workers {
        assert_eq!(worker.join(), 0);
    }
    let mut seen = BTreeSet::new();
    while let Ok(n) = done.try_get() {
        assert!(seen.insert(n), "{n} was done twice");
    }
    assert_eq!(seen.len() as u32, MESSAGES);
    assert!(seen.contains(&held));
    for queue in ["crew", "done", "holding"] {
        cluster
            .queue::<u32>(queue)
            .expect("open")
            .destroy()
            .expect("destroy");
    }
    assert_nothing_left(&server);
}

#[test]
fn a_closed_handle_still_finishes_what_it_took() {
    let server = server();
    let tasks = cluster(&server)
        .joinable_queue::<u8>("closing")
        .expect("open");
    tasks.put(&1).expect("put");
    tasks.get().expect("get");
    tasks.close();
    assert!(matches!(tasks.get(), Err(Error::Closed)));
    assert!(matches!(tasks.put(&2), Err(Error::Closed)));
    tasks.task_done().expect("task_done after close");
    tasks.join().expect("join after close");
    tasks.destroy().expect("destroy");
    assert_nothing_left(&server);
}

/// A dropped handle's consumer leaves the group, unless it holds an unfinished message
/// (which must stay claimable by another consumer).
#[test]
fn a_dropped_handle_leaves_the_group_unless_it_holds_unfinished_work() {
    let server = server();
    let cluster = cluster(&server);
    let consumers = || match server.command(&["XINFO", "CONSUMERS", "mp:queue:{members}", "mp"]) {
        Ok(test_support::redis::Reply::Array(Some(consumers))) => consumers.len(),
        other => panic!("XINFO CONSUMERS: {other:?}"),
    };
    let tasks = cluster.joinable_queue::<u8>("members").expect("open");
    tasks.put(&1).expect("put");
    tasks.put(&2).expect("put");

    let finished = cluster.joinable_queue::<u8>("members").expect("open");
    finished.get().expect("get");
    finished.task_done().expect("task_done");
    assert_eq!(consumers(), 1);
    drop(finished);
    assert_eq!(consumers(), 0);

    let holding = cluster
        .queue_builder("members")
        .visibility_timeout(LEASE)
        .joinable_queue::<u8>()
        .expect("open");
    assert_eq!(holding.get().expect("get"), 2);
    drop(holding);
    assert_eq!(consumers(), 1);
    // Still there for another consumer, after the lease.
    let taker = cluster
        .queue_builder("members")
        .visibility_timeout(LEASE)
        .joinable_queue::<u8>()
        .expect("open");
    assert_eq!(taker.get_timeout(PATIENCE).expect("taken over"), 2);
    taker.task_done().expect("task_done");
    tasks.join_timeout(PATIENCE).expect("join");
    tasks.destroy().expect("destroy");
    assert_nothing_left(&server);
}
