//! Every operation of `Process` and `ProcessHandle`, and every way a child can end, put
//! through each start method by the same test functions (see `for_each_method!` at the
//! bottom).

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::{Guarded, start};
use mp_processes::{Error, Process, StartMethod, active_children, current_process, parent_process};
use mp_shared_mem::{Array, RawArray, RawSlice, Shared, Value};
use mp_sync::{Event, Lock};
use test_support::descriptors::{ended_now, ended_within, kill_pidfd, pidfd_open, raise_fd_limit};
use test_support::{PATIENCE, holds_within};

fn add(a: i32, b: i32) -> i32 {
    a + b
}

#[allow(clippy::too_many_arguments)] // eight is the most a target takes
fn eight(a: u8, b: u16, c: u32, d: u64, e: i8, f: i16, g: i32, h: String) -> String {
    format!("{a} {b} {c} {d} {e} {f} {g} {h}")
}

fn returns_values_of_every_shape(method: StartMethod) {
    let sum = start(Process::new(add, (2, 40)).start_method(method));
    let none = start(Process::new(|| (), ()).start_method(method));
    let many = start(
        Process::new(eight, (1, 2, 3, 4, -5, -6, -7, "eight".to_owned())).start_method(method),
    );
    let list =
        start(Process::new(|n: u64| (0..n).collect::<Vec<u64>>(), (5,)).start_method(method));
    let result = start(
        Process::new(
            |ok: bool| if ok { Ok(1u8) } else { Err("no".to_owned()) },
            (false,),
        )
        .start_method(method),
    );
    assert_eq!(sum.join().unwrap(), 42);
    none.join().unwrap();
    assert_eq!(many.join().unwrap(), "1 2 3 4 -5 -6 -7 eight");
    assert_eq!(list.join().unwrap(), vec![0, 1, 2, 3, 4]);
    assert_eq!(result.join().unwrap(), Err("no".to_owned()));
    assert_eq!(sum.exitcode(), Some(0));
}

fn increment_under_lock(lock: Shared<Lock>, counter: Shared<AtomicU64>, times: u32) {
    for _ in 0..times {
        let _guard = lock.lock().unwrap();
        // A read-modify-write that only the lock keeps from losing updates.
        let seen = counter.load(Ordering::Relaxed);
        std::hint::black_box(seen);
        counter.store(seen + 1, Ordering::Relaxed);
    }
}

fn add_into(total: Value<u64>, samples: Array<u32>, index: usize) -> u64 {
    *total.lock().unwrap() += 10;
    samples.lock().unwrap()[index] += index as u32 + 10;
    total.get().unwrap()
}

fn shared_memory_and_locks_reach_children(method: StartMethod) {
    let lock = Shared::new(Lock::new()).unwrap();
    let counter = Shared::new(AtomicU64::new(0)).unwrap();
    let workers: Vec<_> = (0..4)
        .map(|_| {
            start(
                Process::new(increment_under_lock, (lock.clone(), counter.clone(), 2000))
                    .start_method(method),
            )
        })
        .collect();
    for worker in &workers {
        worker.join().unwrap();
    }
    assert_eq!(counter.load(Ordering::SeqCst), 8000);

    let total = Value::new(0u64).unwrap();
    let samples = Array::from_slice(&[1u32, 2, 3, 4, 5]).unwrap();
    let adders: Vec<_> = (0..5)
        .map(|i| {
            start(Process::new(add_into, (total.clone(), samples.clone(), i)).start_method(method))
        })
        .collect();
    for adder in &adders {
        let seen = adder.join().unwrap();
        assert!((10..=50).contains(&seen));
    }
    assert_eq!(total.get().unwrap(), 50);
    assert_eq!(samples.to_vec().unwrap(), [11, 13, 15, 17, 19]);
}

/// Fills its own part of a `RawArray` (element `i` of the array gets `i + 1`) and returns
/// the part's sum.
fn fill_part(mut part: RawSlice<u64>) -> u64 {
    let first = part.start() as u64;
    part.with_mut(|elements| {
        for (i, x) in elements.iter_mut().enumerate() {
            *x = first + i as u64 + 1;
        }
        elements.iter().sum()
    })
}

fn raw_array_slices_are_filled_by_their_children(method: StartMethod) {
    const LEN: u64 = 10_001;
    let array = RawArray::<u64>::zeroed(LEN as usize).unwrap();
    let fillers: Vec<_> = array
        .split(3)
        .unwrap()
        .into_iter()
        .map(|part| start(Process::new(fill_part, (part,)).start_method(method)))
        .collect();
    let sums: u64 = fillers.iter().map(|filler| filler.join().unwrap()).sum();
    assert_eq!(sums, LEN * (LEN + 1) / 2);
    assert_eq!(array.to_vec().iter().sum::<u64>(), sums);
}

fn a_panic_comes_back_with_its_message(method: StartMethod) {
    let child = start(
        Process::new(|n: u32| -> u32 { panic!("boom {n}") }, (7,))
            .name("panicker")
            .start_method(method),
    );
    match child.join() {
        Err(Error::Panicked {
            name,
            message,
            location,
            ..
        }) => {
            assert_eq!(name, "panicker");
            assert_eq!(message, "boom 7");
            // The child's panic hook saw where; the parent's error keeps it.
            let location = location.expect("the location crosses with the panic");
            assert!(
                location.starts_with("processes/tests/process.rs:"),
                "{location}"
            );
        }
        other => panic!("expected a panic, got {other:?}"),
    }
    assert_eq!(child.exitcode(), Some(1));
}

fn an_exit_without_a_value_gives_its_code(method: StartMethod) {
    let child = start(Process::new(|| -> u8 { std::process::exit(5) }, ()).start_method(method));
    assert!(matches!(child.join(), Err(Error::Exited { code: 5, .. })));
    assert_eq!(child.exitcode(), Some(5));
}

fn sleep_long() {
    std::thread::sleep(Duration::from_secs(600));
}

fn terminate_and_kill_give_the_signal(method: StartMethod) {
    let terminated = start(Process::new(sleep_long, ()).start_method(method));
    let killed = start(Process::new(sleep_long, ()).start_method(method));
    assert!(terminated.is_alive());
    assert_eq!(terminated.exitcode(), None);
    terminated.terminate().unwrap();
    killed.kill().unwrap();
    match terminated.join() {
        Err(Error::Signaled {
            signal,
            signal_name,
            ..
        }) => {
            assert_eq!((signal, signal_name.as_str()), (15, "SIGTERM"));
        }
        other => panic!("expected SIGTERM, got {other:?}"),
    }
    let outcome = killed.join();
    assert!(
        matches!(outcome, Err(Error::Signaled { signal: 9, .. })),
        "{outcome:?}"
    );
    assert_eq!(terminated.exitcode(), Some(-15));
    assert_eq!(killed.exitcode(), Some(-9));
    // Signalling a process that has ended and been reaped is not an error (as Python).
    terminated.terminate().unwrap();
    killed.kill().unwrap();
}

fn a_crash_in_the_child_is_a_signal(method: StartMethod) {
    let child = start(Process::new(|| -> u8 { std::process::abort() }, ()).start_method(method));
    let error = child.join().unwrap_err();
    assert!(
        matches!(error, Error::Signaled { signal: 6, .. }),
        "{error:?}"
    );
    assert!(error.to_string().contains("SIGABRT"), "{error}");
    assert_eq!(child.exitcode(), Some(-6));
}

fn wait_for(event: Shared<Event>) -> String {
    assert_eq!(
        event.wait_timeout(Duration::from_secs(60)),
        Ok(()),
        "never set"
    );
    "released".to_owned()
}

fn join_timeout_keeps_the_child_joinable(method: StartMethod) {
    let event = Shared::new(Event::new()).unwrap();
    let child = start(Process::new(wait_for, (event.clone(),)).start_method(method));
    assert!(matches!(
        child.join_timeout(Duration::from_millis(20)),
        Err(Error::TimedOut)
    ));
    assert!(child.is_alive());
    assert!(!child.sentinel().is_ready());
    assert!(matches!(
        child.sentinel().wait_timeout(Duration::ZERO),
        Err(Error::TimedOut)
    ));
    assert_eq!(child.exitcode(), None);
    assert!(
        active_children()
            .iter()
            .any(|info| info.pid() == child.pid())
    );
    event.set();
    // Forever: the child ends once it sees the event.
    assert!(matches!(
        child.sentinel().wait_timeout(Duration::MAX),
        Ok(())
    ));
    assert!(!child.is_alive());
    // The exit code is known before `join` took the value (from the forkserver a moment
    // after the end, which a loaded machine may stretch).
    assert!(holds_within(|| child.exitcode() == Some(0), PATIENCE));
    assert_eq!(child.join_timeout(PATIENCE).unwrap(), "released");
    assert!(matches!(child.join(), Err(Error::AlreadyTaken)));
    assert!(
        !active_children()
            .iter()
            .any(|info| info.pid() == child.pid())
    );
}

fn who_am_i() -> (String, u32, bool, Option<(String, u32)>) {
    let me = current_process();
    let parent = parent_process().map(|p| (p.name().to_owned(), p.pid()));
    (me.name().to_owned(), me.pid(), me.daemon(), parent)
}

fn names_pids_and_parents(method: StartMethod) {
    let plain = start(Process::new(who_am_i, ()).start_method(method));
    let named = start(
        Process::new(who_am_i, ())
            .name("worker")
            .daemon(true)
            .start_method(method),
    );
    let (name, pid, daemon, parent) = plain.join().unwrap();
    assert_eq!(name, plain.name());
    assert!(name.starts_with("Process-"), "{name}");
    assert!(name["Process-".len()..].parse::<u32>().is_ok(), "{name}");
    assert_eq!(pid, plain.pid());
    assert_ne!(pid, std::process::id());
    assert!(!daemon && !plain.daemon());
    assert_eq!(parent, Some(("MainProcess".to_owned(), std::process::id())));
    let (name, _, daemon, _) = named.join().unwrap();
    assert_eq!((name.as_str(), daemon), ("worker", true));
    assert!(named.daemon());
    assert_eq!(named.start_method(), method);
    assert_eq!(current_process().name(), "MainProcess");
}

fn start_a_child(method: StartMethod) -> Result<(u32, String, Option<String>), String> {
    let grandchild = Process::new(
        || {
            (
                add(20, 22),
                current_process().name().to_owned(),
                parent_process().map(|p| p.name().to_owned()),
            )
        },
        (),
    )
    .start_method(method)
    .start()
    .map_err(|err| err.to_string())?;
    let (value, name, parent) = grandchild.join().map_err(|err| err.to_string())?;
    Ok((value as u32, name, parent))
}

fn a_child_starts_its_own_child(method: StartMethod) {
    let child = start(Process::new(start_a_child, (method,)).start_method(method));
    let (value, name, parent) = child.join().unwrap().unwrap();
    assert_eq!(value, 42);
    // Python's numbering: the first child of Process-N is Process-N:1.
    assert_eq!(name, format!("{}:1", child.name()));
    assert_eq!(parent.as_deref(), Some(child.name()));
}

fn a_daemonic_child_may_not_start_children(method: StartMethod) {
    let child = start(
        Process::new(start_a_child, (method,))
            .daemon(true)
            .start_method(method),
    );
    let refusal = child.join().unwrap().unwrap_err();
    assert_eq!(refusal, Error::DaemonicParent.to_string());
}

fn square(n: u64) -> u64 {
    n * n
}

fn two_hundred_children_at_once(method: StartMethod) {
    raise_fd_limit();
    let children: Vec<Guarded<u64>> = (0..200u64)
        .map(|n| start(Process::new(square, (n,)).start_method(method)))
        .collect();
    let pids: std::collections::HashSet<u32> = children.iter().map(|child| child.pid()).collect();
    assert_eq!(pids.len(), 200);
    let total: u64 = children.iter().map(|child| child.join().unwrap()).sum();
    assert_eq!(total, (0..200u64).map(square).sum());
}

fn starts_from_many_threads_at_once(method: StartMethod) {
    let threads: Vec<_> = (0..8u64)
        .map(|t| {
            std::thread::spawn(move || {
                let children: Vec<_> = (0..5u64)
                    .map(|n| start(Process::new(square, (t * 5 + n,)).start_method(method)))
                    .collect();
                children
                    .iter()
                    .map(|child| child.join().unwrap())
                    .sum::<u64>()
            })
        })
        .collect();
    let total: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(total, (0..40u64).map(square).sum());
}

fn open_until_exhausted_then_start(method: StartMethod) -> String {
    use nix::sys::resource::{Resource, getrlimit, setrlimit};
    let (_, hard) = getrlimit(Resource::RLIMIT_NOFILE).unwrap();
    setrlimit(Resource::RLIMIT_NOFILE, 64, hard).unwrap();
    let mut files = Vec::new();
    loop {
        match std::fs::File::open("/dev/null") {
            Ok(file) => files.push(file),
            Err(err) => {
                assert_eq!(err.raw_os_error(), Some(libc::EMFILE));
                break;
            }
        }
    }
    let outcome = Process::new(|| (), ())
        .start_method(method)
        .start()
        .map(|_| ());
    drop(files);
    match outcome {
        Ok(()) => "started without descriptors".to_owned(),
        Err(err) => err.to_string(),
    }
}

fn running_out_of_descriptors_is_an_error(method: StartMethod) {
    // In a child, so that the test harness keeps its descriptors.
    let child =
        start(Process::new(open_until_exhausted_then_start, (method,)).start_method(method));
    let message = child.join().unwrap();
    assert!(
        message.contains("could not start") && message.contains("Too many open files"),
        "{message}"
    );
}

fn daemon_reporting_pid(slot: Value<i32>, daemon: bool, method: StartMethod) {
    let grandchild = Process::new(sleep_long, ())
        .daemon(daemon)
        .start_method(method)
        .start()
        .expect("grandchild starts");
    slot.set(grandchild.pid() as i32).unwrap();
    sleep_long();
}

/// Starts a middle child that starts a grandchild and reports its pid, then kills the
/// middle child with SIGKILL. The grandchild's pidfd.
fn grandchild_of_killed_parent(method: StartMethod, daemon: bool) -> std::os::fd::OwnedFd {
    let slot = Value::new(0i32).unwrap();
    // The middle child is spawned: it has threads of its own (the launcher), as a real
    // program would.
    let middle = start(
        Process::new(daemon_reporting_pid, (slot.clone(), daemon, method))
            .start_method(StartMethod::Spawn),
    );
    assert!(
        holds_within(|| slot.get().unwrap() != 0, PATIENCE),
        "no grandchild pid"
    );
    let grandchild = pidfd_open(slot.get().unwrap());
    middle.kill().unwrap();
    assert!(matches!(
        middle.join(),
        Err(Error::Signaled { signal: 9, .. })
    ));
    grandchild
}

fn a_daemon_dies_when_its_parent_is_killed(method: StartMethod) {
    let grandchild = grandchild_of_killed_parent(method, true);
    assert!(
        ended_within(&grandchild, PATIENCE),
        "the daemonic grandchild outlived its SIGKILLed parent"
    );
}

fn a_non_daemon_outlives_its_killed_parent(method: StartMethod) {
    let grandchild = grandchild_of_killed_parent(method, false);
    // As in Python, a non-daemonic child keeps running when its parent is killed.
    assert!(!ended_now(&grandchild));
    kill_pidfd(&grandchild);
    assert!(ended_within(&grandchild, PATIENCE));
}

fn leave_children_behind(
    release: Shared<Event>,
    done: Value<u32>,
    daemon_pid: Value<i32>,
    method: StartMethod,
) {
    // A non-daemonic grandchild that ends only when the test releases it, and a daemonic
    // one that would sleep for ten minutes.
    let waiter = Process::new(
        |release: Shared<Event>, done: Value<u32>| {
            assert_eq!(release.wait_timeout(Duration::from_secs(60)), Ok(()));
            done.set(1).unwrap();
        },
        (release, done),
    )
    .start_method(method)
    .start()
    .expect("non-daemonic grandchild");
    let daemon = Process::new(sleep_long, ())
        .daemon(true)
        .start_method(method)
        .start()
        .expect("daemonic grandchild");
    drop(waiter);
    daemon_pid.set(daemon.pid() as i32).unwrap();
}

fn a_child_waits_for_its_non_daemonic_children(method: StartMethod) {
    let release = Shared::new(Event::new()).unwrap();
    let done = Value::new(0u32).unwrap();
    let daemon_pid = Value::new(0i32).unwrap();
    let child = start(
        Process::new(
            leave_children_behind,
            (release.clone(), done.clone(), daemon_pid.clone(), method),
        )
        .start_method(method),
    );
    assert!(holds_within(|| daemon_pid.get().unwrap() != 0, PATIENCE));
    let daemon = pidfd_open(daemon_pid.get().unwrap());
    // The target has returned, but the child does not end before its non-daemonic
    // child, which waits for `release`. (A child that did not wait would end at once.)
    assert!(matches!(
        child.sentinel().wait_timeout(Duration::from_millis(200)),
        Err(Error::TimedOut)
    ));
    release.set();
    child.join().unwrap();
    assert_eq!(
        done.get().unwrap(),
        1,
        "the child ended before its non-daemonic child"
    );
    assert_eq!(child.exitcode(), Some(0));
    // Its daemonic child died with it.
    assert!(ended_within(&daemon, PATIENCE));
}

fn reverse_bytes(mut bytes: Vec<u8>) -> Vec<u8> {
    bytes.reverse();
    bytes
}

fn large_arguments_and_values_cross(method: StartMethod) {
    // Far larger than a socket's buffer, both ways: neither side may wait for the other.
    // Half a MiB goes through the socket, 4 MiB through a sealed memfd.
    for len in [512u32 << 10, 4 << 20] {
        let bytes: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
        let child = start(Process::new(reverse_bytes, (bytes.clone(),)).start_method(method));
        let mut back = child.join().unwrap();
        back.reverse();
        assert!(back == bytes, "{len} bytes came back changed");
    }
}

fn keep_large_bytes_and_a_value(bytes: Vec<u8>, total: Value<u64>) -> (Vec<u8>, Value<u64>) {
    *total.lock().unwrap() += bytes.len() as u64;
    (bytes, total)
}

fn descriptors_ride_with_large_payloads(method: StartMethod) {
    // A memfd carries the bytes, and the value's own descriptors come after it.
    let total = Value::new(0u64).unwrap();
    let bytes = vec![3u8; 2 << 20];
    let child = start(
        Process::new(keep_large_bytes_and_a_value, (bytes.clone(), total.clone()))
            .start_method(method),
    );
    let (back, returned_total) = child.join().unwrap();
    assert!(back == bytes);
    assert_eq!(total.get().unwrap(), 2 << 20);
    *returned_total.lock().unwrap() += 1;
    assert_eq!(
        total.get().unwrap(),
        (2 << 20) + 1,
        "the same shared value came back"
    );
}

/// What a child has open above stdio: each descriptor and what it points to, leaving
/// out the directory listing itself.
fn open_descriptors() -> Vec<(u32, String)> {
    let listing = std::fs::read_dir("/proc/self/fd").expect("/proc/self/fd");
    let mut open: Vec<(u32, String)> = listing
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let fd: u32 = entry.file_name().to_str()?.parse().ok()?;
            let target = std::fs::read_link(entry.path()).ok()?;
            Some((fd, target.to_string_lossy().into_owned()))
        })
        .filter(|(fd, target)| *fd > 2 && !target.ends_with("/fd"))
        .collect();
    open.sort();
    open
}

/// The descriptors of this process that any `exec` passes on: those without
/// `O_CLOEXEC` (`/proc/self/fdinfo` gives the flags in octal), such as what the test
/// harness itself was given.
fn inheritable_descriptors() -> Vec<u32> {
    open_descriptors()
        .into_iter()
        .map(|(fd, _)| fd)
        .filter(|fd| {
            let info =
                std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}")).unwrap_or_default();
            let flags = info
                .lines()
                .find_map(|line| line.strip_prefix("flags:"))
                .and_then(|flags| u32::from_str_radix(flags.trim(), 8).ok());
            flags.is_some_and(|flags| flags & libc::O_CLOEXEC as u32 == 0)
        })
        .collect()
}

#[test]
fn a_spawned_child_inherits_only_its_socket() {
    // Descriptors the parent holds, which the child must not get: a file, a socket pair.
    let _file = std::fs::File::open("Cargo.toml").expect("open a file");
    let _pair = std::os::unix::net::UnixStream::pair().expect("socketpair");
    let inherited_by_any_program = inheritable_descriptors();
    let child = start(Process::new(open_descriptors, ()).start_method(StartMethod::Spawn));
    let open: Vec<(u32, String)> = child
        .join()
        .unwrap()
        .into_iter()
        .filter(|(fd, _)| !inherited_by_any_program.contains(fd))
        .collect();
    assert_eq!(open.len(), 1, "more than its socket crossed: {open:?}");
    assert!(open[0].1.starts_with("socket:"), "{open:?}");
}

common::for_each_method!(
    returns_values_of_every_shape,
    shared_memory_and_locks_reach_children,
    raw_array_slices_are_filled_by_their_children,
    a_panic_comes_back_with_its_message,
    an_exit_without_a_value_gives_its_code,
    terminate_and_kill_give_the_signal,
    a_crash_in_the_child_is_a_signal,
    join_timeout_keeps_the_child_joinable,
    names_pids_and_parents,
    a_child_starts_its_own_child,
    a_daemonic_child_may_not_start_children,
    two_hundred_children_at_once,
    starts_from_many_threads_at_once,
    running_out_of_descriptors_is_an_error,
    a_daemon_dies_when_its_parent_is_killed,
    a_non_daemon_outlives_its_killed_parent,
    a_child_waits_for_its_non_daemonic_children,
    large_arguments_and_values_cross,
    descriptors_ride_with_large_payloads,
);
