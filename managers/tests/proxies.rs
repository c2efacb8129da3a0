//! Each proxy against a started server, proxies passed to child processes, updates from
//! many processes, and what a proxy does once its server is gone.

use std::sync::mpsc;

use mp_managers::{Dict, Error, List, Manager, Refusal};
use mp_processes::{Process, ProcessHandle};
use test_support::PATIENCE;

const CHILDREN: usize = 4;
const ROUNDS: u64 = 50;

fn join_all(children: Vec<ProcessHandle<Result<(), String>>>) {
    for child in children {
        let outcome = child.join_timeout(PATIENCE);
        if outcome.is_err() {
            let _ = child.kill();
            let _ = child.join_timeout(PATIENCE);
        }
        outcome
            .expect("the child ends")
            .expect("the child's calls succeed");
    }
}

#[test]
fn dict_calls() {
    let manager = Manager::start().unwrap();
    let dict = manager.dict::<String, Vec<u32>>().unwrap();
    assert!(dict.is_empty().unwrap());
    dict.set(&"a".into(), &vec![1, 2]).unwrap();
    dict.set(&"b".into(), &vec![]).unwrap();
    assert_eq!(dict.get(&"a".into()).unwrap(), Some(vec![1, 2]));
    assert_eq!(dict.len().unwrap(), 2);
    let mut items = dict.items().unwrap();
    items.sort();
    assert_eq!(
        items,
        [("a".to_owned(), vec![1, 2]), ("b".to_owned(), vec![])]
    );
    assert_eq!(dict.remove(&"b".into()).unwrap(), Some(vec![]));
    assert_eq!(dict.get(&"b".into()).unwrap(), None);
    dict.update(&"a".into(), |v| {
        let mut v = v.unwrap_or_default();
        v.push(3);
        v
    })
    .unwrap();
    assert_eq!(dict.get(&"a".into()).unwrap(), Some(vec![1, 2, 3]));
}

#[test]
fn list_calls() {
    let manager = Manager::start().unwrap();
    let list = manager.list::<(u8, String)>().unwrap();
    list.append(&(1, "one".into())).unwrap();
    list.append(&(2, "two".into())).unwrap();
    assert_eq!(list.len().unwrap(), 2);
    assert_eq!(list.get(1).unwrap(), (2, "two".into()));
    list.set(0, &(0, "zero".into())).unwrap();
    assert!(matches!(
        list.get(5),
        Err(Error::Refused(Refusal::IndexOutOfRange {
            index: 5,
            len: 2
        }))
    ));
    assert_eq!(list.pop().unwrap(), Some((2, "two".into())));
    assert_eq!(list.to_vec().unwrap(), [(0, "zero".into())]);
}

#[test]
fn named_objects_are_shared_and_kinds_are_checked() {
    let manager = Manager::start().unwrap();
    manager
        .named_dict::<u8, u8>("d")
        .unwrap()
        .set(&1, &1)
        .unwrap();
    assert_eq!(
        manager.named_dict::<u8, u8>("d").unwrap().get(&1).unwrap(),
        Some(1)
    );
    assert!(matches!(
        manager.named_list::<u8>("d"),
        Err(Error::Refused(Refusal::WrongKind { .. }))
    ));
}

fn add_by_update(dict: Dict<String, u64>) -> Result<(), String> {
    for _ in 0..ROUNDS {
        dict.update(&"n".into(), |n| n.unwrap_or(0) + 1)
            .map_err(|err| err.to_string())?;
    }
    Ok(())
}

fn add_by_get_and_set(dict: Dict<String, u64>) -> Result<(), String> {
    for _ in 0..ROUNDS {
        let n = dict.get(&"n".into()).map_err(|err| err.to_string())?;
        dict.set(&"n".into(), &(n.unwrap_or(0) + 1))
            .map_err(|err| err.to_string())?;
    }
    Ok(())
}

fn log_from(list: List<u32>) -> Result<(), String> {
    list.append(&std::process::id())
        .map_err(|err| err.to_string())
}

#[test]
fn updates_from_many_processes_lose_nothing() {
    let manager = Manager::start().unwrap();
    let dict = manager.dict::<String, u64>().unwrap();
    let children = (0..CHILDREN)
        .map(|_| {
            Process::new(add_by_update, (dict.clone(),))
                .start()
                .unwrap()
        })
        .collect();
    join_all(children);
    assert_eq!(
        dict.get(&"n".into()).unwrap(),
        Some(CHILDREN as u64 * ROUNDS)
    );
}

#[test]
fn get_then_set_can_lose_updates() {
    // Nothing makes the read and the write one step: in principle updates are lost. A
    // test cannot insist that a race happened, only that nothing is over-counted.
    let manager = Manager::start().unwrap();
    let dict = manager.dict::<String, u64>().unwrap();
    let children = (0..CHILDREN)
        .map(|_| {
            Process::new(add_by_get_and_set, (dict.clone(),))
                .start()
                .unwrap()
        })
        .collect();
    join_all(children);
    let total = dict.get(&"n".into()).unwrap().unwrap();
    assert!((1..=CHILDREN as u64 * ROUNDS).contains(&total));
}

#[test]
fn a_list_passed_to_children_collects_from_each() {
    let manager = Manager::start().unwrap();
    let list = manager.list::<u32>().unwrap();
    let children: Vec<_> = (0..CHILDREN)
        .map(|_| Process::new(log_from, (list.clone(),)).start().unwrap())
        .collect();
    let mut pids: Vec<u32> = children.iter().map(ProcessHandle::pid).collect();
    join_all(children);
    let mut logged = list.to_vec().unwrap();
    pids.sort_unstable();
    logged.sort_unstable();
    assert_eq!(logged, pids);
}

#[test]
fn a_panic_inside_update_releases_the_dict() {
    let manager = Manager::start().unwrap();
    let dict = manager.dict::<u8, u8>().unwrap();
    let in_thread = dict.clone();
    let panicked = std::thread::spawn(move || {
        let _ = in_thread.update(&1, |_| panic!("the change fails"));
    })
    .join();
    assert!(panicked.is_err());
    // Bounded: a dict left locked would make this wait for good.
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || sender.send(dict.update(&1, |v| v.unwrap_or(0) + 1)));
    receiver
        .recv_timeout(PATIENCE)
        .expect("the dict was released")
        .unwrap();
}

#[test]
fn every_proxy_fails_promptly_once_the_server_is_killed() {
    let manager = Manager::start().unwrap();
    let dict = manager.dict::<u8, u8>().unwrap();
    let list = manager.list::<u8>().unwrap();
    dict.set(&1, &1).unwrap();
    let pid = manager.server_pid().unwrap() as libc::pid_t;
    // SAFETY: kill(2) with a pid this test's manager started and has not reaped (the
    // manager reaps it only when dropped, after this call).
    assert_eq!(unsafe { libc::kill(pid, libc::SIGKILL) }, 0);
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send((
            dict.get(&1),
            list.len(),
            dict.update(&1, |v| v.unwrap_or(0)),
        ));
    });
    let (get, len, update) = receiver.recv_timeout(PATIENCE).expect("no call hangs");
    assert!(matches!(get, Err(Error::ServerGone { .. })), "{get:?}");
    assert!(matches!(len, Err(Error::ServerGone { .. })), "{len:?}");
    assert!(
        matches!(update, Err(Error::ServerGone { .. })),
        "{update:?}"
    );
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
struct Tally {
    done: u64,
    last: String,
}

fn tally(value: mp_managers::Value<Tally>, name: String) -> Result<(), String> {
    for _ in 0..ROUNDS {
        value
            .update(|mut tally| {
                tally.done += 1;
                tally.last = name.clone();
                tally
            })
            .map_err(|err| err.to_string())?;
    }
    Ok(())
}

#[test]
fn a_value_updated_from_many_processes() {
    let manager = Manager::start().unwrap();
    let value = manager
        .value(&Tally {
            done: 0,
            last: String::new(),
        })
        .unwrap();
    let children = (0..CHILDREN)
        .map(|i| {
            Process::new(tally, (value.clone(), format!("child {i}")))
                .start()
                .unwrap()
        })
        .collect();
    join_all(children);
    let seen = value.get().unwrap();
    assert_eq!(seen.done, CHILDREN as u64 * ROUNDS);
    assert!(seen.last.starts_with("child "));
    value
        .set(&Tally {
            done: 1,
            last: "parent".into(),
        })
        .unwrap();
    assert_eq!(value.get().unwrap().last, "parent");
}
