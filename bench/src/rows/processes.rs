//! Process rows: start a child process running a trivial target, then join it, for
//! each start method of mp-processes; the same for 100 children at once; and a child
//! given 16 MiB and returning 16 MiB.
//!
//! One operation is one child: started, run, ended and reaped. Ours runs
//! `echo(n) -> n` and is joined for its value, so every measurement checks that the
//! argument went in and the value came back. The bare peers and Python have no
//! return value to carry, so their child exits with a code derived from `n` (never
//! 0), which the parent checks: a child that ended without running its target would
//! show up as a wrong outcome.
//!
//! Every contender starts and joins one child before its clock runs, so one-time
//! costs (our forkserver and launcher thread, procspawn's look-up of the binary's
//! image) stay out of the figures. Every wait is bounded by [`WAIT_LIMIT`](workload::WAIT_LIMIT); a child
//! that overstays is killed and reaped, and so is every child already started when
//! a later start fails.
//!
//! `process-start-join-big-parent` starts the same child from a parent holding 1 GiB of
//! written heap, for each start method (see [`big_parent`]).
//!
//! The peers:
//!
//! - **bare fork**: `fork()`, the child `_exit`s at once, the parent waits for it.
//!   The wait is bounded with a pidfd (`pidfd_open`, `poll`, then `waitpid`), which
//!   adds three short system calls to the bare pair.
//! - **bare re-exec**: `std::process::Command` runs this binary again with an
//!   environment variable that makes it exit before `main` (a constructor in
//!   `.init_array`, see the `bare` module), then waits for it: what any start by
//!   `exec` of this binary costs at least.
//! - **procspawn**: `procspawn::spawn(n, echo)`, then `join`, bounded by a watchdog
//!   thread (procspawn's own `join_timeout` sleeps in steps of 1 ms, which would
//!   count in its figure). It re-executes
//!   the binary, which must call `procspawn::init()` first thing in `main` (ours
//!   does; it does nothing unless the process is one of procspawn's children).
//!   Under `cargo test` its children re-run the test binary into a helper test
//!   instead, so the test figures of procspawn include the test harness's start.
//! - **Python**: `multiprocessing` with the same start method, from
//!   `bench/python/processes.py`.
//!
//! `process-args-16mib` moves 16 MiB into a child and 16 MiB back (see [`bulk`]); its
//! bound is the start of the other rows plus two `memcpy`s of 16 MiB, and Python hands
//! its child a `bytearray` and gets it back through a `Pipe` (`send_bytes`, then
//! `recv_bytes_into` the same buffer), the quickest way it has.

use std::time::Duration;

use crate::error::BenchError;
use crate::row::{Contender, Goal, Row, Unit};

mod bare;
mod big_parent;
mod bulk;
mod ours;
mod procspawn_peer;
mod watchdog;
mod workload;

use mp_processes::StartMethod;

/// The process rows, in table order.
pub fn rows() -> Vec<Row> {
    vec![
        start_join_fork(),
        start_join_forkserver(),
        start_join_spawn(),
        start_join_100(),
        start_join_big_parent(),
        args_16mib(),
    ]
}

/// The label of the bare fork peer, which the fork and forkserver goals name.
const BARE_FORK: &str = "bare fork+_exit+waitpid";

/// The label of the bare re-exec peer, which the spawn goal names.
const BARE_REEXEC: &str = "bare re-exec of this binary";

/// The label of the bound of the `process-args-16mib` goal.
const EMPTY_START_AND_COPIES: &str = "start+join with a u64, + 2 memcpy of 16 MiB";

/// The label of procspawn, in every single-child row.
const PROCSPAWN: &str = "procspawn::spawn";

/// What sets one single-child row apart: the start method, the words of the table,
/// and the bare peer its goal is held against. The rest (procspawn, the Python case of
/// the same method) every single-child row has alike.
struct SingleChildRow {
    method: StartMethod,
    name: &'static str,
    what: &'static str,
    ours: &'static str,
    python: &'static str,
    python_case: &'static str,
    goal_ratio: f64,
    bare: &'static str,
    bare_join: fn(u64) -> Result<Duration, BenchError>,
}

impl SingleChildRow {
    fn into_row(self) -> Row {
        let method = self.method;
        Row {
            name: self.name,
            family: "processes",
            what: self.what,
            unit: Unit::TimePer("start+join"),
            goal: Some(Goal::within(self.goal_ratio, self.bare)),
            contenders: vec![
                Contender::ours(self.ours, move |iterations| {
                    ours::start_join(method, iterations)
                }),
                Contender::peer(self.bare, self.bare_join),
                Contender::peer(PROCSPAWN, procspawn_peer::spawn_join),
                Contender::python(self.python, "processes.py", self.python_case),
            ],
        }
    }
}

fn start_join_fork() -> Row {
    SingleChildRow {
        method: StartMethod::Fork,
        name: "process-start-join-fork",
        what: "start a child by fork running a trivial target with one argument, then join it",
        ours: "mp_processes::Process (fork)",
        python: "multiprocessing.Process (fork)",
        python_case: "start-join-fork",
        goal_ratio: 1.5,
        bare: BARE_FORK,
        bare_join: bare::fork_join,
    }
    .into_row()
}

fn start_join_forkserver() -> Row {
    SingleChildRow {
        method: StartMethod::Forkserver,
        name: "process-start-join-forkserver",
        what: "start a child through the forkserver running a trivial target with one argument, then join it",
        ours: "mp_processes::Process (forkserver)",
        python: "multiprocessing.Process (forkserver)",
        python_case: "start-join-forkserver",
        goal_ratio: 3.0,
        bare: BARE_FORK,
        bare_join: bare::fork_join,
    }
    .into_row()
}

fn start_join_spawn() -> Row {
    SingleChildRow {
        method: StartMethod::Spawn,
        name: "process-start-join-spawn",
        what: "start a child by re-executing the binary, running a trivial target with one argument, then join it",
        ours: "mp_processes::Process (spawn)",
        python: "multiprocessing.Process (spawn)",
        python_case: "start-join-spawn",
        goal_ratio: 1.3,
        bare: BARE_REEXEC,
        bare_join: bare::reexec_join,
    }
    .into_row()
}

fn start_join_100() -> Row {
    Row {
        name: "process-start-join-100",
        family: "processes",
        what: "one child of a wave of 100 started before any is joined (the last wave holds the remainder)",
        unit: Unit::TimePer("process"),
        goal: None,
        contenders: vec![
            Contender::ours("mp_processes::Process (forkserver)", |iterations| {
                ours::start_join_waves(StartMethod::Forkserver, iterations)
            }),
            Contender::ours("mp_processes::Process (fork)", |iterations| {
                ours::start_join_waves(StartMethod::Fork, iterations)
            }),
            Contender::ours("mp_processes::Process (spawn)", |iterations| {
                ours::start_join_waves(StartMethod::Spawn, iterations)
            }),
            Contender::peer(BARE_FORK, bare::fork_join_waves),
            Contender::python(
                "multiprocessing.Process (forkserver)",
                "processes.py",
                "start-join-100-forkserver",
            ),
            Contender::python(
                "multiprocessing.Process (fork)",
                "processes.py",
                "start-join-100-fork",
            ),
        ],
    }
}

fn start_join_big_parent() -> Row {
    let ours = |method| {
        move |iterations| big_parent::with_big_heap(|| ours::start_join(method, iterations))
    };
    Row {
        name: "process-start-join-big-parent",
        family: "processes",
        what: "start+join of one child running a trivial target, from a parent holding 1 GiB of written heap (a fork copies its page tables; spawn and the forkserver's children do not)",
        unit: Unit::TimePer("start+join"),
        goal: None,
        contenders: vec![
            Contender::ours(
                "mp_processes::Process (forkserver)",
                ours(StartMethod::Forkserver),
            ),
            Contender::ours("mp_processes::Process (spawn)", ours(StartMethod::Spawn)),
            Contender::ours("mp_processes::Process (fork)", ours(StartMethod::Fork)),
            Contender::peer(BARE_FORK, |iterations| {
                big_parent::with_big_heap(|| bare::fork_join(iterations))
            }),
            Contender::python(
                "multiprocessing.Process (forkserver)",
                "processes.py",
                "start-join-big-parent-forkserver",
            ),
            Contender::python(
                "multiprocessing.Process (spawn)",
                "processes.py",
                "start-join-big-parent-spawn",
            ),
            Contender::python(
                "multiprocessing.Process (fork)",
                "processes.py",
                "start-join-big-parent-fork",
            ),
        ],
    }
}

fn args_16mib() -> Row {
    Row {
        name: "process-args-16mib",
        family: "processes",
        what: "start a child with the default start method, hand it a 16 MiB byte vector, join it for a 16 MiB byte vector",
        unit: Unit::TimePer("start+join"),
        goal: Some(Goal::within(1.5, EMPTY_START_AND_COPIES)),
        contenders: vec![
            Contender::ours(
                "mp_processes::Process (forkserver), Vec<u8> in and out",
                bulk::args_round_trip,
            ),
            Contender::peer(EMPTY_START_AND_COPIES, bulk::start_join_and_two_copies),
            Contender::peer(
                "start+join with a u64, + 16 MiB both ways through a sealed memfd by mp-sys's calls alone",
                bulk::start_join_and_two_sealed_transfers,
            ),
            Contender::python(
                "multiprocessing.Process (forkserver), bytearray in, Pipe out",
                "processes.py",
                "args-16mib-forkserver",
            ),
            Contender::python(
                "multiprocessing.Process (fork), bytearray in, Pipe out",
                "processes.py",
                "args-16mib-fork",
            ),
        ],
    }
}
