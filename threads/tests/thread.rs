//! Thread, JoinHandle, Run, current_thread and the registry functions.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use mp_threads::{
    Error, Run, Thread, active_count, current_thread, enumerate, get_ident, get_native_id,
    main_thread,
};

/// Every wait in these tests is bounded by this, so a bug fails a test instead of hanging it.
const LIMIT: Duration = Duration::from_secs(10);

#[test]
fn join_returns_the_targets_value_for_every_arity() -> Result<(), Error> {
    fn concat(a: &str, b: String, c: char) -> String {
        format!("{a}{b}{c}")
    }
    assert_eq!(Thread::new(|| 1, ()).start()?.join()?, 1);
    assert_eq!(Thread::new(|a: u8| a + 1, (1,)).start()?.join()?, 2);
    assert_eq!(
        Thread::new(concat, ("x", "y".to_owned(), 'z'))
            .start()?
            .join()?,
        "xyz"
    );
    let eight = Thread::new(
        |a: u8, b: u8, c: u8, d: u8, e: u8, f: u8, g: u8, h: u8| [a, b, c, d, e, f, g, h],
        (1, 2, 3, 4, 5, 6, 7, 8),
    )
    .start()?
    .join()?;
    assert_eq!(eight, [1, 2, 3, 4, 5, 6, 7, 8]);
    Ok(())
}

#[test]
fn capturing_closures_move_their_captures() -> Result<(), Error> {
    let data = String::from("abc");
    let sum = Thread::new(move || data.len(), ()).start()?.join()?;
    assert_eq!(sum, 3);
    Ok(())
}

#[test]
fn a_panic_comes_back_with_its_message_and_thread_name() -> Result<(), Error> {
    let static_str = Thread::new(|| -> () { panic!("static message") }, ())
        .name("panicker")
        .start()?
        .join();
    match static_str {
        Err(Error::Panicked {
            thread,
            message,
            location,
            ..
        }) => {
            assert_eq!(thread, "panicker");
            assert_eq!(message, "static message");
            let location = location.expect("a thread's panic keeps where it happened");
            assert!(
                location.starts_with("threads/tests/thread.rs:"),
                "{location}"
            );
        }
        other => panic!("expected Panicked, got {other:?}"),
    }
    let formatted = Thread::new(|n: u32| -> u32 { panic!("formatted {n}") }, (7,))
        .start()?
        .join();
    assert!(matches!(formatted, Err(Error::Panicked { message, .. }) if message == "formatted 7"));
    let other_payload = Thread::new(|| std::panic::panic_any(42_u64), ())
        .start()?
        .join();
    assert!(
        matches!(other_payload, Err(Error::Panicked { message, .. }) if message == "non-string panic payload")
    );
    Ok(())
}

#[test]
fn join_timeout_of_duration_max_waits_as_join() -> Result<(), Error> {
    let (release, gate) = mpsc::channel::<u32>();
    let running = Thread::new(move || gate.recv_timeout(LIMIT).map(|n| n * 2), ()).start()?;
    release.send(21).expect("the thread waits for it");
    assert_eq!(running.join_timeout(Duration::MAX)?, Ok(42));
    assert!(matches!(
        running.join_timeout(Duration::MAX),
        Err(Error::AlreadyTaken)
    ));
    let finished = Thread::new(|| "done", ()).start()?;
    assert_eq!(
        finished.join_timeout(Duration::from_secs(u64::MAX / 2))?,
        "done"
    );
    Ok(())
}

#[test]
fn join_timeout_keeps_the_value_until_the_thread_is_done() -> Result<(), Error> {
    let (release, gate) = mpsc::channel::<u32>();
    let handle = Thread::new(move || gate.recv_timeout(LIMIT).map(|n| n * 2), ()).start()?;
    assert!(matches!(
        handle.join_timeout(Duration::from_millis(20)),
        Err(Error::TimedOut)
    ));
    assert!(handle.is_alive());
    assert!(!handle.is_finished());
    release.send(21).expect("the thread waits for it");
    assert_eq!(handle.join_timeout(LIMIT)?, Ok(42));
    assert!(!handle.is_alive());
    assert!(handle.is_finished());
    // The value was handed out once.
    assert!(matches!(
        handle.join_timeout(LIMIT),
        Err(Error::AlreadyTaken)
    ));
    assert!(matches!(handle.join(), Err(Error::AlreadyTaken)));
    Ok(())
}

#[test]
fn joining_itself_reports_an_error_not_a_hang() -> Result<(), Error> {
    let (send_handle, receive_handle) = mpsc::channel::<mp_threads::JoinHandle<bool>>();
    let (send_verdict, receive_verdict) = mpsc::channel::<bool>();
    let handle = Thread::new(
        move || {
            if let Ok(own) = receive_handle.recv_timeout(LIMIT) {
                let refused = matches!(own.join_timeout(LIMIT), Err(Error::JoinCurrentThread));
                send_verdict.send(refused).ok();
            }
            true
        },
        (),
    )
    .start()?;
    let info = handle.thread().clone();
    send_handle
        .send(handle)
        .expect("the thread waits for its handle");
    assert!(receive_verdict.recv_timeout(LIMIT).expect("a verdict"));
    assert!(
        test_support::holds_within(|| !info.is_alive(), LIMIT),
        "thread did not finish"
    );
    Ok(())
}

#[test]
fn default_names_count_up_from_thread_1() -> Result<(), Error> {
    let numbers: Vec<u64> = (0..3)
        .map(|_| -> Result<u64, Error> {
            let name = Thread::new(|| current_thread().name().to_owned(), ())
                .start()?
                .join()?;
            let number = name
                .strip_prefix("Thread-")
                .and_then(|n| n.parse().ok())
                .expect("Thread-N");
            Ok(number)
        })
        .collect::<Result<_, _>>()?;
    assert!(numbers.iter().all(|&n| n >= 1));
    assert!(numbers.windows(2).all(|pair| pair[0] < pair[1]));
    Ok(())
}

#[test]
fn given_names_are_kept_even_with_nul_bytes() -> Result<(), Error> {
    let name = Thread::new(|| current_thread().name().to_owned(), ())
        .name("odd\0name")
        .start()?
        .join()?;
    assert_eq!(name, "odd\0name");
    let std_name = Thread::new(|| std::thread::current().name().map(str::to_owned), ())
        .name("LoopThread")
        .start()?
        .join()?;
    assert_eq!(std_name.as_deref(), Some("LoopThread"));
    Ok(())
}

#[test]
fn idents_and_native_ids_describe_the_running_thread() -> Result<(), Error> {
    let handle = Thread::new(|| (get_ident(), get_native_id(), current_thread()), ()).start()?;
    let (ident, tid, info) = handle.join_timeout(LIMIT)?;
    assert_eq!(handle.ident(), ident);
    assert_eq!(info.ident(), ident);
    assert_eq!(handle.native_id(), Some(tid));
    assert_ne!(tid, get_native_id());
    assert_ne!(ident, get_ident());
    assert_eq!(info, handle.thread().clone());
    Ok(())
}

#[test]
fn main_thread_is_named_and_identified_from_anywhere() -> Result<(), Error> {
    let main = main_thread();
    assert_eq!(main.name(), "MainThread");
    assert!(main.is_main());
    assert!(main.is_alive());
    assert!(!main.is_daemon());
    assert_eq!(main.native_id(), Some(std::process::id() as i32));
    let seen = Thread::new(main_thread, ()).start()?.join()?;
    assert_eq!(seen, main);
    // Test functions run on harness threads, never the main thread.
    assert!(!current_thread().is_main());
    Ok(())
}

#[test]
fn foreign_threads_get_their_std_name_or_a_dummy_name_and_leave_the_registry() {
    let named = std::thread::Builder::new()
        .name("std-named".into())
        .spawn(|| {
            let me = current_thread();
            let listed = enumerate().contains(&me);
            (me, listed)
        })
        .expect("spawn")
        .join()
        .expect("no panic");
    assert_eq!(named.0.name(), "std-named");
    assert!(
        named.0.is_daemon(),
        "threads not started here count as daemons"
    );
    assert!(named.1, "registered while alive");
    assert!(!named.0.is_alive(), "unregistered when it exited");
    assert!(!enumerate().contains(&named.0));

    let unnamed = std::thread::spawn(current_thread).join().expect("no panic");
    assert!(unnamed.name().starts_with("Dummy-"), "{}", unnamed.name());
    assert_eq!(unnamed.ident(), unnamed.ident());
}

#[test]
fn current_thread_is_the_same_record_on_every_call() {
    let first = current_thread();
    let second = current_thread();
    assert_eq!(first, second);
    assert_eq!(first.ident(), get_ident());
}

#[test]
fn enumerate_and_active_count_track_started_threads() -> Result<(), Error> {
    let (release, gate) = mpsc::channel::<()>();
    let handle = Thread::new(move || gate.recv_timeout(LIMIT).is_ok(), ())
        .name("tracked")
        .start()?;
    let info = handle.thread().clone();
    assert!(info.is_alive(), "alive as soon as start() returns");
    assert!(enumerate().contains(&info));
    assert!(active_count() >= 2);
    assert_eq!(enumerate()[0].name(), "MainThread");
    release.send(()).expect("the thread waits");
    assert!(handle.join()?);
    assert!(!info.is_alive(), "dead once joined");
    assert!(!enumerate().contains(&info));
    Ok(())
}

#[test]
fn daemon_flag_is_set_or_inherited() -> Result<(), Error> {
    // This harness thread is not started by mp-threads, so it counts as a daemon.
    assert!(current_thread().is_daemon());
    let inherited = Thread::new(|| current_thread().is_daemon(), ())
        .start()?
        .join()?;
    assert!(inherited);
    let (inner_daemon, outer_daemon) = Thread::new(
        || -> Result<(bool, bool), Error> {
            let inner = Thread::new(|| current_thread().is_daemon(), ())
                .start()?
                .join()?;
            Ok((inner, current_thread().is_daemon()))
        },
        (),
    )
    .daemon(false)
    .start()?
    .join()??;
    assert!(!outer_daemon);
    assert!(
        !inner_daemon,
        "a non-daemon thread starts non-daemon threads"
    );
    Ok(())
}

#[test]
fn stack_size_is_applied() -> Result<(), Error> {
    // About 6 MiB of frames: more than std's 2 MiB default for spawned
    // threads, so this passes only if the requested 64 MiB is used.
    fn depth(n: u32) -> u32 {
        let padding = std::hint::black_box([0_u8; 1024]);
        if n == 0 {
            u32::from(padding[0])
        } else {
            depth(n - 1) + 1 + u32::from(std::hint::black_box(padding)[1])
        }
    }
    let result = Thread::new(depth, (6000,))
        .stack_size(64 * 1024 * 1024)
        .start()?
        .join()?;
    assert_eq!(result, 6000);
    Ok(())
}

struct Worker {
    number: u32,
    report: String,
}

impl Run for Worker {
    fn run(&mut self) {
        self.report = format!(
            "Thread {} is running in {}",
            self.number,
            current_thread().name()
        );
    }
}

#[test]
fn run_types_start_as_threads_and_come_back_from_join() -> Result<(), Error> {
    let handles: Vec<_> = (0..5)
        .map(|number| {
            Worker {
                number,
                report: String::new(),
            }
            .start()
        })
        .collect::<Result<_, _>>()?;
    for (number, handle) in handles.into_iter().enumerate() {
        let worker = handle.join()?;
        assert_eq!(worker.number as usize, number);
        assert!(
            worker
                .report
                .starts_with(&format!("Thread {number} is running in Thread-"))
        );
    }
    let named = Thread::from_run(Worker {
        number: 9,
        report: String::new(),
    })
    .name("custom")
    .start()?
    .join()?;
    assert_eq!(named.report, "Thread 9 is running in custom");
    Ok(())
}

struct Panicker;

impl Run for Panicker {
    fn run(&mut self) {
        panic!("run failed");
    }
}

#[test]
fn a_panicking_run_is_reported() -> Result<(), Error> {
    assert!(matches!(
        Panicker.start()?.join(),
        Err(Error::Panicked { message, .. }) if message == "run failed"
    ));
    Ok(())
}

#[test]
fn many_threads_all_run_once() -> Result<(), Error> {
    let counter = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..200)
        .map(|_| {
            let counter = Arc::clone(&counter);
            Thread::new(move || counter.fetch_add(1, Ordering::SeqCst), ()).start()
        })
        .collect::<Result<_, _>>()?;
    let mut seen: Vec<usize> = Vec::new();
    for handle in handles {
        seen.push(handle.join_timeout(LIMIT)?);
    }
    seen.sort_unstable();
    assert_eq!(seen, (0..200).collect::<Vec<_>>());
    Ok(())
}

#[test]
fn errors_display_clearly() {
    let panicked = Error::Panicked {
        thread: "Thread-1".into(),
        message: "boom".into(),
        location: Some("src/main.rs:3:5".into()),
        backtrace: None,
    };
    assert_eq!(panicked.to_string(), "thread \"Thread-1\" panicked: boom");
    assert!(Error::TimedOut.to_string().starts_with("timed out"));
    assert!(
        Error::TaskDoneTooManyTimes
            .to_string()
            .starts_with("task_done() called too many times")
    );
}

#[test]
fn threads_with_the_reexported_lock_count_exactly() -> Result<(), Error> {
    use std::sync::atomic::AtomicU64;
    // A read-then-write increment: correct only because the lock serialises it.
    let lock = Arc::new(mp_threads::Lock::new());
    let counter = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..2)
        .map(|_| {
            let lock = Arc::clone(&lock);
            let counter = Arc::clone(&counter);
            Thread::new(
                move || {
                    for _ in 0..20_000 {
                        let _guard = lock.lock();
                        let value = counter.load(Ordering::Relaxed);
                        std::hint::black_box(());
                        counter.store(value + 1, Ordering::Relaxed);
                    }
                },
                (),
            )
            .start()
        })
        .collect::<Result<_, _>>()?;
    for worker in workers {
        worker.join_timeout(LIMIT)?;
    }
    assert_eq!(counter.load(Ordering::SeqCst), 40_000);
    Ok(())
}
