//! Local<T>: Python's threading.local.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use mp_threads::{Error, Local, Thread, current_thread};

const LIMIT: Duration = Duration::from_secs(10);

#[test]
fn each_thread_sees_only_its_own_value() -> Result<(), Error> {
    let school = Arc::new(Local::<String>::new());
    let greet = |school: Arc<Local<String>>, student: &'static str| {
        assert_eq!(school.get(), None, "a new thread starts without a value");
        school.set(student.to_owned());
        std::thread::sleep(Duration::from_millis(5));
        format!(
            "Hello, {} (in {})",
            school.get().unwrap_or_default(),
            current_thread().name()
        )
    };
    let a = Thread::new(greet, (Arc::clone(&school), "A"))
        .name("Thread-A")
        .start()?;
    let b = Thread::new(greet, (Arc::clone(&school), "B"))
        .name("Thread-B")
        .start()?;
    assert_eq!(a.join_timeout(LIMIT)?, "Hello, A (in Thread-A)");
    assert_eq!(b.join_timeout(LIMIT)?, "Hello, B (in Thread-B)");
    assert_eq!(school.get(), None);
    Ok(())
}

#[test]
fn set_take_and_is_set() {
    let local = Local::new();
    assert!(!local.is_set());
    assert_eq!(local.set(1), None);
    assert!(local.is_set());
    assert_eq!(local.set(2), Some(1));
    assert_eq!(local.take(), Some(2));
    assert!(!local.is_set());
    assert_eq!(local.take(), None);
    assert_eq!(local.with(|n: &mut i32| *n), None);
}

#[test]
fn with_init_gives_every_thread_a_fresh_value() -> Result<(), Error> {
    let inits = Arc::new(AtomicUsize::new(0));
    let counter = {
        let inits = Arc::clone(&inits);
        Arc::new(Local::with_init(move || {
            inits.fetch_add(1, Ordering::SeqCst);
            0_u32
        }))
    };
    counter.with(|n| *n += 3);
    counter.with(|n| *n += 4);
    assert_eq!(counter.get(), Some(7));
    let other = Arc::clone(&counter);
    let seen = Thread::new(
        move || {
            other.with(|n| *n += 1);
            other.get()
        },
        (),
    )
    .start()?
    .join()?;
    assert_eq!(seen, Some(1));
    assert_eq!(counter.get(), Some(7));
    assert_eq!(inits.load(Ordering::SeqCst), 2);
    // take() then use again: initialised again.
    assert_eq!(counter.take(), Some(7));
    assert_eq!(counter.get(), Some(0));
    assert_eq!(inits.load(Ordering::SeqCst), 3);
    Ok(())
}

#[test]
fn nested_use_sees_the_value_lent_out_and_never_panics() {
    let local = Local::new();
    local.set(10);
    let inner = local.with(|outer| {
        *outer += 1;
        // The value is lent to the outer closure: the nested use sees none,
        // and what it sets is replaced when the outer value goes back.
        let nested_view = local.get();
        let replaced = local.set(99);
        (nested_view, replaced)
    });
    assert_eq!(inner, Some((None, None)));
    assert_eq!(local.get(), Some(11));
}

#[test]
fn a_panic_inside_with_drops_the_value_and_leaves_the_local_usable() {
    let local = Local::new();
    local.set(String::from("lost"));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        local.with(|_| panic!("inside with"));
    }));
    assert!(outcome.is_err());
    assert_eq!(local.get(), None);
    local.set(String::from("again"));
    assert_eq!(local.get().as_deref(), Some("again"));
}

#[test]
fn a_new_thread_never_inherits_the_value_of_an_exited_thread() -> Result<(), Error> {
    // The thread_local crate reuses a slot of an exited thread for the next
    // thread; Local must not show that thread the old value.
    let local = Arc::new(Local::<u32>::new());
    for round in 0..50 {
        let local = Arc::clone(&local);
        let seen = Thread::new(
            move || {
                let before = local.get();
                local.set(round);
                before
            },
            (),
        )
        .start()?
        .join()?;
        assert_eq!(seen, None, "round {round} saw an old value");
    }
    // Every value set is still accounted for, exited threads included.
    let mut values = Arc::into_inner(local)
        .expect("every thread has finished")
        .into_values();
    values.sort_unstable();
    assert_eq!(values, (0..50).collect::<Vec<_>>());
    Ok(())
}

#[test]
fn values_mut_sums_per_thread_counters() -> Result<(), Error> {
    let counts = Arc::new(Local::with_init(|| 0_u64));
    let workers: Vec<_> = (0..8)
        .map(|_| {
            let counts = Arc::clone(&counts);
            Thread::new(
                move || {
                    for _ in 0..1000 {
                        counts.with(|n| *n += 1);
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
    let mut counts = Arc::into_inner(counts).expect("every worker has finished");
    assert_eq!(counts.values_mut().map(|n| *n).sum::<u64>(), 8000);
    for value in counts.values_mut() {
        *value = 1;
    }
    assert_eq!(counts.into_values().into_iter().sum::<u64>(), 8);
    Ok(())
}

#[test]
fn values_are_dropped_with_the_local() -> Result<(), Error> {
    struct Tracked(Arc<AtomicUsize>);
    impl Drop for Tracked {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let drops = Arc::new(AtomicUsize::new(0));
    let local = Arc::new(Local::new());
    local.set(Tracked(Arc::clone(&drops)));
    for _ in 0..3 {
        let local = Arc::clone(&local);
        let drops = Arc::clone(&drops);
        Thread::new(move || local.set(Tracked(drops)).is_none(), ())
            .start()?
            .join()?;
    }
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    drop(local);
    assert_eq!(drops.load(Ordering::SeqCst), 4);
    Ok(())
}
