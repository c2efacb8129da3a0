//! mp-ipc's queues and connections handed to children as `Process` arguments, through
//! each start method (see `for_each_method!` at the bottom): a handle that crosses into a
//! fresh run of the binary (spawn, forkserver) must reach the same ring or socket as one
//! inherited by a fork.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use common::start;
use mp_ipc::{Connection, Error as IpcError, JoinableQueue, Queue, SimpleQueue, Waitable};
use mp_processes::{Process, StartMethod};
use test_support::PATIENCE;

const ITEMS_PER_PRODUCER: u64 = 500;

fn produce(queue: Queue<(u32, u64)>, producer: u32, count: u64) -> u64 {
    for item in 0..count {
        queue.put(&(producer, item)).unwrap();
    }
    count
}

fn consume_until_closed(queue: Queue<u64>) -> u64 {
    let mut sum = 0;
    loop {
        match queue.get_timeout(PATIENCE) {
            Ok(item) => sum += item,
            Err(IpcError::Closed) => return sum,
            Err(other) => panic!("the consumer child got {other:?}"),
        }
    }
}

fn queues_carry_items_both_ways(method: StartMethod) {
    // Two producer children, the parent consumes: every item exactly once, each
    // producer's items in order.
    let queue = Queue::<(u32, u64)>::with_maxsize(64).unwrap();
    let producers: Vec<_> = (0..2)
        .map(|producer| {
            start(
                Process::new(produce, (queue.clone(), producer, ITEMS_PER_PRODUCER))
                    .start_method(method),
            )
        })
        .collect();
    let mut next = [0u64; 2];
    let mut seen = HashSet::new();
    for _ in 0..2 * ITEMS_PER_PRODUCER {
        let (producer, item) = queue.get_timeout(PATIENCE).unwrap();
        assert_eq!(
            item, next[producer as usize],
            "producer {producer} out of order"
        );
        next[producer as usize] += 1;
        assert!(
            seen.insert((producer, item)),
            "{producer}/{item} came twice"
        );
    }
    for producer in &producers {
        assert_eq!(producer.join().unwrap(), ITEMS_PER_PRODUCER);
    }
    assert!(queue.empty());

    // The parent produces, a child consumes until the queue is closed.
    let queue = Queue::<u64>::new().unwrap();
    let consumer = start(Process::new(consume_until_closed, (queue.clone(),)).start_method(method));
    for item in 1..=100 {
        queue.put(&item).unwrap();
    }
    queue.close();
    assert_eq!(consumer.join().unwrap(), 5050);
}

fn work_through(tasks: JoinableQueue<u32>, results: SimpleQueue<u32>) -> u32 {
    let mut done = 0;
    loop {
        match tasks.get_timeout(PATIENCE) {
            Ok(task) => {
                results.put(&(task * task)).unwrap();
                tasks.task_done().unwrap();
                done += 1;
            }
            Err(IpcError::Closed) => return done,
            Err(other) => panic!("the worker child got {other:?}"),
        }
    }
}

fn a_joinable_queue_is_joined_after_children_mark_tasks_done(method: StartMethod) {
    let tasks = JoinableQueue::<u32>::new().unwrap();
    let results = SimpleQueue::<u32>::new().unwrap();
    let workers: Vec<_> = (0..2)
        .map(|_| {
            start(Process::new(work_through, (tasks.clone(), results.clone())).start_method(method))
        })
        .collect();
    for task in 0..50 {
        tasks.put(&task).unwrap();
    }
    tasks.join_timeout(PATIENCE).unwrap();
    assert_eq!(tasks.unfinished_tasks(), 0);
    tasks.close();
    let done: u32 = workers.iter().map(|worker| worker.join().unwrap()).sum();
    assert_eq!(done, 50);
    let mut squares: Vec<u32> = (0..50)
        .map(|_| results.get_timeout(PATIENCE).unwrap())
        .collect();
    squares.sort_unstable();
    assert_eq!(squares, (0..50).map(|task| task * task).collect::<Vec<_>>());
    assert_eq!(
        tasks.task_done().unwrap_err().to_string(),
        IpcError::TaskDoneTooManyTimes.to_string()
    );
}

const STOP: &str = "stop";

fn echo_upper(connection: Connection<String>) -> usize {
    let mut answered = 0;
    loop {
        match connection.recv() {
            Ok(text) if text == STOP => return answered,
            Ok(text) => {
                connection.send(&text.to_uppercase()).unwrap();
                answered += 1;
            }
            Err(IpcError::PeerClosed) => return answered,
            Err(other) => panic!("the echo child got {other:?}"),
        }
    }
}

fn a_connection_reaches_a_child_and_its_closing_ends_it(method: StartMethod) {
    let (here, there) = mp_ipc::pipe::<String>(true).unwrap();
    let child = start(Process::new(echo_upper, (there,)).start_method(method));
    for word in ["one", "two", "three"] {
        here.send(&word.to_owned()).unwrap();
        assert!(here.poll(Some(PATIENCE)).unwrap(), "no answer to {word}");
        assert_eq!(here.recv().unwrap(), word.to_uppercase());
    }
    if method == StartMethod::Fork {
        // A forked child holds a copy of every descriptor of its parent, our end of the
        // pipe included, so closing ours would not end its stream (as in Python).
        here.send(&STOP.to_owned()).unwrap();
    } else {
        here.close();
    }
    assert_eq!(child.join().unwrap(), 3);
}

fn answer_after(connection: Connection<u8>, delay_ms: u64) {
    std::thread::sleep(Duration::from_millis(delay_ms));
    connection.send(&7).unwrap();
}

fn wait_sees_a_connection_and_a_sentinel(method: StartMethod) {
    let (here, there) = mp_ipc::pipe::<u8>(true).unwrap();
    let sleeper = start(Process::new(answer_after, (there, 50)).start_method(method));
    let quiet_queue = Queue::<u8>::new().unwrap();
    // The sentinel itself is waitable, as Python's `wait([queue, conn, p.sentinel])`.
    let objects: [&dyn Waitable; 3] = [&quiet_queue, &here, sleeper.sentinel()];

    let ready = mp_ipc::wait(&objects, Some(PATIENCE)).unwrap();
    assert!(
        ready.contains(&1),
        "the connection was not reported: {ready:?}"
    );
    assert!(!ready.contains(&0), "an empty queue was reported ready");
    assert_eq!(here.recv().unwrap(), 7);

    sleeper.join().unwrap();
    let ready = mp_ipc::wait(&objects, Some(PATIENCE)).unwrap();
    assert!(
        ready.contains(&2),
        "the ended child's sentinel was not reported: {ready:?}"
    );
    assert_eq!(
        mp_ipc::wait(&[&quiet_queue], Some(Duration::from_millis(20))).unwrap(),
        Vec::<usize>::new()
    );
}

fn exit_without_answering() {
    std::process::exit(3)
}

fn wait_sees_a_child_that_dies_without_answering(method: StartMethod) {
    // The reason to wait on a connection and a sentinel together: a child that dies
    // before it answers must not leave the parent blocked on the connection. The other
    // end stays open here, so the connection never reads end-of-stream: only the
    // sentinel can end the wait.
    let (here, _unanswered) = mp_ipc::pipe::<u8>(true).unwrap();
    let child = start(Process::new(exit_without_answering, ()).start_method(method));
    assert_eq!(
        mp_ipc::wait(&[&here, child.sentinel()], Some(PATIENCE)).unwrap(),
        [1],
        "only the ended child's sentinel is ready"
    );
    assert!(
        matches!(
            child.join(),
            Err(mp_processes::Error::Exited { code: 3, .. })
        ),
        "the child did not exit with its code"
    );
    assert!(
        !here.poll(Some(Duration::ZERO)).unwrap(),
        "nothing was sent on the connection"
    );
}

common::for_each_method!(
    queues_carry_items_both_ways,
    a_joinable_queue_is_joined_after_children_mark_tasks_done,
    a_connection_reaches_a_child_and_its_closing_ends_it,
    wait_sees_a_connection_and_a_sentinel,
    wait_sees_a_child_that_dies_without_answering,
);
