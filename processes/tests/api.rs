//! `Process::fork` with capturing closures, `Context`, handles crossing back, and the
//! error paths of arguments and return values that cannot cross.

mod common;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use common::start;
use mp_processes::{Context, Error, Process, SendFault, StartFault, StartMethod, active_children};
use mp_shared_mem::{Shared, Value};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use test_support::descriptors::{ended_now, ended_within, pidfd_open};
use test_support::{PATIENCE, holds_within};

#[test]
fn fork_runs_a_capturing_closure() {
    let words = ["captured".to_owned(), "state".to_owned()];
    let hits = Shared::new(AtomicU64::new(0)).unwrap();
    let in_child = hits.clone();
    let child = start(Process::fork(move || {
        in_child.fetch_add(1, Ordering::SeqCst);
        words.join(" ")
    }));
    assert_eq!(child.start_method(), StartMethod::Fork);
    assert_eq!(child.join().unwrap(), "captured state");
    assert_eq!(hits.load(Ordering::SeqCst), 1);
}

#[test]
fn a_fork_closure_panic_comes_back() {
    let limit = 3;
    let child = start(Process::fork(move || -> u32 {
        panic!("over the limit of {limit}")
    }));
    assert!(matches!(
        child.join(),
        Err(Error::Panicked { message, .. }) if message == "over the limit of 3"
    ));
}

#[test]
fn a_capturing_closure_needs_the_fork_method() {
    for method in [StartMethod::Spawn, StartMethod::Forkserver] {
        let name = String::from("captured");
        let refused = Process::fork(move || name.len())
            .start_method(method)
            .start();
        match refused {
            Err(Error::NeedsFork { method: asked }) => assert_eq!(asked, method),
            other => panic!("expected NeedsFork, got {other:?}"),
        }
    }
}

#[test]
fn a_context_chooses_the_method() {
    for method in StartMethod::all() {
        let ctx = Context::new(method);
        let child = start(ctx.process(|a: u8, b: u8| a * b, (6, 7)));
        assert_eq!(child.start_method(), method);
        assert_eq!(child.join().unwrap(), 42);
    }
}

fn make_value(start: u64) -> Value<u64> {
    Value::new(start).expect("the child makes a Value")
}

#[test]
fn a_handle_made_in_the_child_comes_back() {
    for method in StartMethod::all() {
        let child = start(Process::new(make_value, (41,)).start_method(method));
        let value = child.join().unwrap();
        *value.lock().unwrap() += 1;
        assert_eq!(value.get().unwrap(), 42, "{method}");
    }
}

/// Serializes to an error: a value that cannot cross.
#[derive(Debug)]
struct Unserializable;

impl Serialize for Unserializable {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom(
            "this value refuses to be serialized",
        ))
    }
}

impl<'de> Deserialize<'de> for Unserializable {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        u8::deserialize(deserializer).map(|_| Unserializable)
    }
}

/// Serializes fine, but refuses to be deserialized.
#[derive(Debug)]
struct Undeserializable;

impl Serialize for Undeserializable {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u8(0)
    }
}

impl<'de> Deserialize<'de> for Undeserializable {
    fn deserialize<D: Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        Err(serde::de::Error::custom(
            "this value refuses to be deserialized",
        ))
    }
}

#[test]
fn arguments_that_cannot_be_serialized_fail_before_any_child_starts() {
    for method in [StartMethod::Spawn, StartMethod::Forkserver] {
        let refused = Process::new(|_: Unserializable| (), (Unserializable,))
            .start_method(method)
            .start();
        match refused {
            // (postcard reports a custom serde error without its text)
            Err(Error::Transfer(mp_shared_mem::Error::Encode { .. })) => {}
            other => panic!("expected an encode error, got {other:?}"),
        }
    }
}

#[test]
fn arguments_the_child_cannot_decode_are_a_start_error() {
    for method in [StartMethod::Spawn, StartMethod::Forkserver] {
        let child = start(
            Process::new(|_: Undeserializable| 1u8, (Undeserializable,)).start_method(method),
        );
        match child.join() {
            Err(Error::Start {
                fault: StartFault::ArgumentsUndecodable { detail },
                ..
            }) => assert!(detail.contains("cannot decode"), "{detail}"),
            other => panic!("expected a start error, got {other:?}"),
        }
        assert_eq!(child.exitcode(), Some(1));
    }
}

#[test]
fn a_return_value_that_cannot_be_sent_is_reported() {
    for method in StartMethod::all() {
        let child = start(Process::new(|| Unserializable, ()).start_method(method));
        match child.join() {
            Err(Error::ResultNotSent {
                fault: SendFault::Unencodable { detail },
                ..
            }) => assert!(!detail.is_empty()),
            other => panic!("expected ResultNotSent, got {other:?}"),
        }
        assert_eq!(child.exitcode(), Some(1), "{method}");
    }
}

#[test]
fn a_dropped_handle_leaves_the_child_running_and_active_children_reaps_it() {
    for method in StartMethod::all() {
        let release = Shared::new(mp_sync::Event::new()).unwrap();
        let child = Process::new(
            |release: Shared<mp_sync::Event>| {
                assert_eq!(release.wait_timeout(Duration::from_secs(60)), Ok(()));
            },
            (release.clone(),),
        )
        .name(format!("dropped-{method}"))
        .start_method(method)
        .start()
        .unwrap();
        let pidfd = pidfd_open(child.pid() as i32);
        drop(child);
        let listed = |name: &str| active_children().iter().any(|info| info.name() == name);
        assert!(listed(&format!("dropped-{method}")));
        assert!(!ended_now(&pidfd), "dropping the handle killed the child");
        release.set();
        assert!(ended_within(&pidfd, PATIENCE));
        assert!(
            holds_within(|| !listed(&format!("dropped-{method}")), PATIENCE),
            "an ended child stays in active_children"
        );
    }
    let _ = PATIENCE;
}

/// The parent (in `/proc/PID/stat`, the field after the name) of a process.
fn parent_of(pid: u32) -> i32 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("stat");
    let after_name = &stat[stat.rfind(')').expect("name") + 2..];
    after_name
        .split(' ')
        .nth(1)
        .expect("ppid")
        .parse()
        .expect("a pid")
}

fn sleep_long() {
    std::thread::sleep(Duration::from_secs(600));
}

/// Kills this process's forkserver while one of its children runs; what `join` then
/// says, and what a start after that gives.
fn kill_my_forkserver_mid_child() -> (String, u8) {
    let child = Process::new(sleep_long, ())
        .start_method(StartMethod::Forkserver)
        .start()
        .expect("starts");
    let server = nix::unistd::Pid::from_raw(parent_of(child.pid()));
    assert_ne!(server.as_raw(), std::process::id() as i32);
    let server_pidfd = pidfd_open(server.as_raw());
    nix::sys::signal::kill(server, nix::sys::signal::Signal::SIGKILL).expect("kill the server");
    assert!(ended_within(&server_pidfd, PATIENCE));
    // The child is not daemonic: it outlives the server. End it.
    child.kill().expect("kill the child");
    let lost = child.join().expect_err("no status without the server");
    let again = Process::new(|| 7u8, ())
        .start_method(StartMethod::Forkserver)
        .start()
        .expect("a fresh forkserver")
        .join_timeout(Duration::from_secs(30))
        .expect("the fresh forkserver's child returns");
    (lost.to_string(), again)
}

#[test]
fn a_dead_forkserver_loses_the_status_and_is_replaced() {
    // In a spawned child, which has a forkserver of its own to kill.
    let child =
        start(Process::new(kill_my_forkserver_mid_child, ()).start_method(StartMethod::Spawn));
    let (lost, again) = child.join().unwrap();
    assert!(lost.contains("was lost with the forkserver"), "{lost}");
    assert_eq!(again, 7);
}

#[test]
fn a_handle_is_shared_between_threads() {
    for method in StartMethod::all() {
        let release = Shared::new(mp_sync::Event::new()).unwrap();
        let child = std::sync::Arc::new(start(
            Process::new(
                |release: Shared<mp_sync::Event>| {
                    assert_eq!(release.wait_timeout(Duration::from_secs(60)), Ok(()));
                    method_name()
                },
                (release.clone(),),
            )
            .start_method(method),
        ));
        let joiner = {
            let child = std::sync::Arc::clone(&child);
            std::thread::spawn(move || child.join())
        };
        // While another thread is blocked in `join`, the others do not block.
        assert_eq!(child.exitcode(), None);
        assert!(child.is_alive());
        release.set();
        assert_eq!(joiner.join().unwrap().unwrap(), "child");
        assert!(
            holds_within(|| child.exitcode() == Some(0), PATIENCE),
            "{method}"
        );
    }
}

fn method_name() -> String {
    "child".to_owned()
}

#[test]
fn fork_children_may_panic_while_other_threads_panic() {
    // Another thread printing a panic at the instant of a fork must not leave the
    // child's panic hook locked out.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let noise: Vec<_> = (0..3)
        .map(|_| {
            let stop = std::sync::Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut count = 0;
                while !stop.load(Ordering::Relaxed) && count < 2000 {
                    let _ = std::panic::catch_unwind(|| panic!("noise"));
                    count += 1;
                }
            })
        })
        .collect();
    for round in 0..30u32 {
        let child = start(Process::fork(move || -> u32 { panic!("round {round}") }));
        match child.join() {
            Err(Error::Panicked { message, .. }) => assert_eq!(message, format!("round {round}")),
            other => panic!("expected a panic, got {other:?}"),
        }
    }
    stop.store(true, Ordering::Relaxed);
    for thread in noise {
        thread.join().unwrap();
    }
}

/// Panics when serialized or deserialized: a broken `serde` impl.
#[derive(Debug)]
struct Explosive;

impl Serialize for Explosive {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        panic!("serialize exploded")
    }
}

impl<'de> Deserialize<'de> for Explosive {
    fn deserialize<D: Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        panic!("deserialize exploded")
    }
}

#[test]
fn a_panicking_serialize_in_the_child_is_reported_not_hung() {
    for method in StartMethod::all() {
        let child = start(Process::new(|| Explosive, ()).start_method(method));
        match child.join() {
            Err(Error::ResultNotSent {
                fault: SendFault::SerializePanicked { message },
                ..
            }) => assert!(message.contains("serialize exploded"), "{message}"),
            other => panic!("expected ResultNotSent, got {other:?}"),
        }
        assert_eq!(child.exitcode(), Some(1), "{method}");
    }
}

/// Serializes fine, panics when deserialized.
#[derive(Debug)]
struct FragileArgument;

impl Serialize for FragileArgument {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u8(0)
    }
}

impl<'de> Deserialize<'de> for FragileArgument {
    fn deserialize<D: Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        panic!("deserialize exploded")
    }
}

#[test]
fn a_panicking_deserialize_in_the_child_is_a_start_error() {
    for method in [StartMethod::Spawn, StartMethod::Forkserver] {
        let child =
            start(Process::new(|_: FragileArgument| (), (FragileArgument,)).start_method(method));
        match child.join() {
            Err(Error::Start {
                fault: StartFault::ArgumentsPanicked { message },
                ..
            }) => assert!(message.contains("deserialize exploded"), "{message}"),
            other => panic!("expected a start error, got {other:?}"),
        }
    }
}

#[test]
fn only_the_parent_joins() {
    let sibling = std::sync::Arc::new(start(
        Process::new(|| std::thread::sleep(Duration::from_secs(600)), ())
            .start_method(StartMethod::Spawn),
    ));
    let copy = std::sync::Arc::clone(&sibling);
    // A forked child holds a copy of the handle: it may not join (or reap) its sibling.
    let child = start(Process::fork(move || {
        let refused = copy.join_timeout(Duration::from_secs(5));
        (
            matches!(refused, Err(Error::NotParent { .. })),
            copy.exitcode(),
        )
    }));
    assert_eq!(child.join().unwrap(), (true, None));
    assert!(sibling.is_alive());
    sibling.kill().unwrap();
    assert!(matches!(
        sibling.join(),
        Err(Error::Signaled { signal: 9, .. })
    ));
}
