//! A process made from a value (Python's `Process` subclass with `run()`), under every
//! start method: the value goes to the child, `run` changes it there, `join` brings it
//! back; a panicking `run` fails the join alone.

use mp_processes::{Error, Process, Run, StartMethod};
use serde::{Deserialize, Serialize};
use test_support::PATIENCE;

#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Collatz {
    start: u64,
    steps: u32,
    ran_in: u32,
}

impl Run for Collatz {
    fn run(&mut self) {
        let mut n = self.start;
        while n != 1 {
            n = if n.is_multiple_of(2) {
                n / 2
            } else {
                3 * n + 1
            };
            self.steps += 1;
        }
        self.ran_in = std::process::id();
    }
}

#[derive(Serialize, Deserialize)]
struct Doomed;

impl Run for Doomed {
    fn run(&mut self) {
        panic!("run failed");
    }
}

#[test]
fn the_value_comes_back_as_run_left_it_under_every_start_method() {
    for method in [
        StartMethod::Fork,
        StartMethod::Forkserver,
        StartMethod::Spawn,
    ] {
        let child = Process::from_run(Collatz {
            start: 27,
            steps: 0,
            ran_in: 0,
        })
        .name("collatz")
        .start_method(method)
        .start()
        .expect("the child starts");
        let pid = child.pid();
        let done = child.join_timeout(PATIENCE).expect("the value comes back");
        assert_eq!(done.steps, 111, "{method:?}");
        assert_eq!(done.ran_in, pid, "{method:?}: run ran in the child");
        assert_ne!(done.ran_in, std::process::id());
    }
}

#[test]
fn a_panicking_run_fails_its_join_alone() {
    let child = Doomed.start().expect("the child starts");
    match child.join_timeout(PATIENCE) {
        Err(Error::Panicked { message, .. }) => assert_eq!(message, "run failed"),
        other => panic!("expected a panic, got {:?}", other.map(|_| ())),
    }
    assert_eq!(child.exitcode(), Some(1));
}
