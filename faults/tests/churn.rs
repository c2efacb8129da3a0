//! Churn: every handle type, and a process under every start method, created, used and
//! dropped many times; this process's descriptors, zombie children, `/dev/shm` entries
//! and resident memory must be the same before and after (memory within a slack for
//! allocator caches).

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use mp_faults::{Resources, Tally, exclusive, scaled};
use mp_ipc::{JoinableQueue, Queue, SimpleQueue};
use mp_processes::{Pool, Process, StartMethod};
use mp_shared_mem::{Segment, Shared, SharedMemory, Value};
use mp_sync::Lock;

const HANDLE_CYCLES: u64 = 300;
const PROCESS_CYCLES: u64 = 25;
const POOL_CYCLES: u64 = 4;
const MEMORY_SLACK_KIB: u64 = 16 * 1024;
const BOUND: Duration = Duration::from_secs(30);

/// Runs `cycle` `cycles` times between two counts of resources; `cycle` returns false
/// if the use failed (counted as corrupted) and the tally is reported.
fn churn(name: &str, cycles: u64, mut cycle: impl FnMut() -> bool) {
    let _only_me = exclusive();
    let mut tally = Tally::new(name);
    // One cycle first: what stays for the process's lifetime (a forkserver, lazily
    // built statics) is not a leak.
    let _ = cycle();
    let before = Resources::now();
    for _ in 0..scaled(cycles) {
        tally.tries += 1;
        if !cycle() {
            tally.corrupted += 1;
        }
    }
    let after = Resources::now();
    tally.leaked = before.leaked_by(&after, MEMORY_SLACK_KIB);
    if tally.leaked > 0 {
        eprintln!("fault-suite | {name} | before {before:?}, after {after:?}");
    }
    tally.report();
}

#[test]
fn segment_churn() {
    churn("segment-churn", HANDLE_CYCLES, || {
        Segment::new(1 << 16).is_ok_and(|segment| segment.write_at(100, b"x").is_ok())
    });
}

#[test]
fn shared_and_value_churn() {
    churn("shared-value-churn", HANDLE_CYCLES, || {
        let shared = Shared::new(Lock::new()).is_ok_and(|lock| lock.lock().is_ok());
        let counter = Shared::new(AtomicU64::new(1))
            .is_ok_and(|c| c.clone().fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 1);
        let value = Value::new(7u64).is_ok_and(|value| value.get().ok() == Some(7));
        shared && counter && value
    });
}

#[test]
fn shared_memory_churn() {
    churn("shared-memory-churn", HANDLE_CYCLES, || {
        SharedMemory::create(4096).is_ok()
    });
}

#[test]
fn queue_churn() {
    churn("queue-churn", HANDLE_CYCLES, || {
        let queue = Queue::<u64>::new()
            .is_ok_and(|q| q.put(&1).is_ok() && q.get_timeout(BOUND).ok() == Some(1));
        let joinable = JoinableQueue::<u64>::new().is_ok_and(|q| {
            q.put(&2).is_ok() && q.get_timeout(BOUND).ok() == Some(2) && q.task_done().is_ok()
        });
        let simple =
            SimpleQueue::<u64>::new().is_ok_and(|q| q.put(&3).is_ok() && q.get().ok() == Some(3));
        queue && joinable && simple
    });
}

#[test]
fn pipe_churn() {
    churn("pipe-churn", HANDLE_CYCLES, || {
        mp_ipc::pipe::<u64>(true).is_ok_and(|(a, b)| a.send(&5).is_ok() && b.recv().ok() == Some(5))
    });
}

#[test]
fn listener_churn() {
    let key = b"fault-suite key";
    churn("listener-churn", HANDLE_CYCLES / 3, || {
        let address = mp_ipc::Address::Tcp(std::net::SocketAddr::from(([127, 0, 0, 1], 0)));
        let Ok(listener) = mp_ipc::Listener::bind(&address, Some(key)) else {
            return false;
        };
        let bound = listener.address().clone();
        // A client that fails still connects once, plainly, so that `accept` returns
        // (with a failed handshake) instead of waiting for it.
        let client = std::thread::spawn(move || {
            let sent = mp_ipc::Client::connect::<u64>(&bound, Some(key))
                .is_ok_and(|conn| conn.send(&9).is_ok());
            if !sent && let mp_ipc::Address::Tcp(socket) = bound {
                let _ = std::net::TcpStream::connect(socket);
            }
            sent
        });
        let served = listener
            .accept::<u64>()
            .is_ok_and(|conn| conn.recv().ok() == Some(9));
        client.join().unwrap_or(false) && served
    });
}

#[test]
fn array_churn() {
    churn("array-churn", HANDLE_CYCLES, || {
        mp_shared_mem::Array::<u32>::from_slice(&[1, 2, 3]).is_ok_and(|array| array.len() == 3)
    });
}

fn double(x: u64) -> u64 {
    x * 2
}

fn process_churn(name: &str, method: StartMethod) {
    churn(name, PROCESS_CYCLES, || {
        Process::new(double, (21,))
            .start_method(method)
            .start()
            .is_ok_and(|child| child.join_timeout(BOUND).ok() == Some(42))
    });
}

#[test]
fn fork_churn() {
    process_churn("process-fork-churn", StartMethod::Fork);
}

#[test]
fn spawn_churn() {
    process_churn("process-spawn-churn", StartMethod::Spawn);
}

#[test]
fn forkserver_churn() {
    process_churn("process-forkserver-churn", StartMethod::Forkserver);
}

#[test]
fn pool_churn() {
    churn("pool-churn", POOL_CYCLES, || {
        Pool::builder().processes(2).build().is_ok_and(|pool| {
            pool.map(double, 0..8u64).ok() == Some((0..8).map(|x| x * 2).collect())
        })
    });
}
