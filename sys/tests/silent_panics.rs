//! `catch_silently` prints nothing for the panics it catches and leaves every other panic
//! to the hook installed before it. Panic hooks are global to the process, so this binary
//! holds one test, which owns the hook.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use mp_sys::panic::{catch_reporting, catch_silently};

#[test]
fn caught_panics_skip_the_hook_and_the_others_reach_it() {
    let printed = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&printed);
    // Stands for the default hook, which would print: it counts what it would print.
    std::panic::set_hook(Box::new(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    }));

    let caught = catch_silently(|| -> u8 { panic!("a task's panic") }).unwrap_err();
    assert_eq!(caught.message, "a task's panic");
    assert_eq!(
        printed.load(Ordering::SeqCst),
        0,
        "a silent catch reached the hook"
    );

    // Outside a silent catch, on this thread: the previous hook sees it.
    let _ = std::panic::catch_unwind(|| panic!("not silenced"));
    assert_eq!(printed.load(Ordering::SeqCst), 1);

    // Another thread's panic while this one is inside a silent catch: still seen.
    let seen_inside = catch_silently(|| {
        let other = std::thread::spawn(|| panic!("another thread's"));
        assert!(other.join().is_err());
        printed.load(Ordering::SeqCst)
    })
    .expect("the closure does not panic");
    assert_eq!(seen_inside, 2);

    // Many threads catching silently at once: none reaches the hook, each gets its own.
    let threads: Vec<_> = (0..8)
        .map(|i| {
            std::thread::spawn(move || {
                let caught = catch_silently(move || -> () { panic!("task {i}") }).unwrap_err();
                assert_eq!(caught.message, format!("task {i}"));
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("every silent catch returns");
    }
    assert_eq!(printed.load(Ordering::SeqCst), 2);

    // A reporting catch records and still prints, even inside a silent one.
    let reported = catch_silently(|| catch_reporting(|| -> () { panic!("reported") }))
        .expect("the inner catch returns")
        .unwrap_err();
    assert_eq!(reported.message, "reported");
    assert!(reported.location.is_some());
    assert_eq!(printed.load(Ordering::SeqCst), 3);
}
