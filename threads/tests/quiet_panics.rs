//! A pool task's panic is kept for `result()` and not printed (as `concurrent.futures`
//! keeps a task's exception); a thread's panic is printed (as `threading.excepthook`
//! prints it) and kept for `join()`. Panic hooks are global to the process, so this
//! binary holds one test, which owns the hook.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use mp_threads::{Error, Thread, ThreadPool};

const LIMIT: Duration = Duration::from_secs(30);

fn failing_task(n: u32) -> u32 {
    if n == 3 {
        panic!("item {n} is bad");
    }
    n
}

#[test]
fn pool_panics_are_quiet_and_thread_panics_are_printed() -> Result<(), Error> {
    let printed = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&printed);
    // Stands for the default hook, which would print: it counts what it would print.
    std::panic::set_hook(Box::new(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    }));

    let pool = ThreadPool::new(2)?;
    let failed = pool.submit(failing_task, (3,))?.result_timeout(LIMIT);
    assert!(
        matches!(failed, Err(Error::Panicked { ref message, .. }) if message == "item 3 is bad")
    );
    let mapped: Vec<_> = pool.map(failing_task, 0..6)?.collect();
    assert!(matches!(&mapped[3], Err(Error::Panicked { .. })));
    assert_eq!(mapped.iter().filter(|outcome| outcome.is_ok()).count(), 5);
    assert_eq!(
        printed.load(Ordering::SeqCst),
        0,
        "a pool task's panic was printed"
    );

    let joined = Thread::new(failing_task, (3,)).start()?.join();
    assert!(matches!(joined, Err(Error::Panicked { .. })));
    assert_eq!(
        printed.load(Ordering::SeqCst),
        1,
        "a thread's panic was not printed"
    );
    pool.shutdown(true, false);
    Ok(())
}
