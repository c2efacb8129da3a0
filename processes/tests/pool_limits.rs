//! A pool at the edges of its options and of its supervisor: timeouts too large for the
//! clock mean "no timeout", and dropping a pool is bounded whatever its supervisor is
//! doing.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use mp_processes::{Pool, StartMethod};
use test_support::PATIENCE;

fn square(n: u64) -> u64 {
    n * n
}

/// Runs `work` on a thread of its own; fails the test if it takes over `bound`.
fn within<T: Send + 'static>(bound: Duration, work: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, result) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(work());
    });
    result
        .recv_timeout(bound)
        .expect("the pool call did not return in time")
}

#[test]
fn a_task_timeout_past_the_clock_means_no_timeout() {
    for timeout in [Duration::MAX, Duration::from_secs(u64::MAX / 2)] {
        let squares = within(PATIENCE, move || {
            let pool = Pool::builder()
                .processes(2)
                .task_timeout(timeout)
                .start_method(StartMethod::Fork)
                .build()
                .expect("a pool");
            let squares = pool.map(square, 0..20).expect("every task runs");
            let later = pool.apply_async(square, (7,)).expect("submitted");
            assert_eq!(later.get_timeout(PATIENCE).expect("it runs"), 49);
            drop(pool);
            squares
        });
        assert_eq!(
            squares,
            (0..20).map(|n| n * n).collect::<Vec<_>>(),
            "{timeout:?}"
        );
    }
}

#[test]
fn a_drop_does_not_wait_for_a_blocked_supervisor() {
    let (release, gate) = mpsc::channel::<()>();
    let (entered, callback_running) = mpsc::channel::<()>();
    let pool = Pool::builder()
        .processes(1)
        .start_method(StartMethod::Fork)
        .build()
        .expect("a pool");
    let result = pool.apply_async(square, (3,)).expect("submitted");
    // Callbacks run on the supervisor thread: this one holds it until the test ends.
    result.on_success(move |_| {
        let _ = entered.send(());
        let _ = gate.recv_timeout(PATIENCE);
    });
    callback_running
        .recv_timeout(PATIENCE)
        .expect("the callback runs");
    let pids = pool.worker_pids();
    let started = Instant::now();
    within(PATIENCE, move || drop(pool));
    assert!(started.elapsed() < PATIENCE);
    // The workers were killed and reaped by the drop itself.
    for pid in pids {
        assert!(
            !test_support::procfs::process_exists(pid as i32),
            "worker {pid} outlived the dropped pool"
        );
    }
    let _ = release.send(());
}
