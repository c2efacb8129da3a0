//! Process pool rows: `map` of a trivial function, one `apply_async` round trip, and
//! a CPU-bound `map` at 1, 2 and every core.
//!
//! Every pool is built and warmed before the clock runs (its workers have all
//! answered once), so the figures are the steady cost of handing work to running
//! workers and getting the values back, never the cost of starting them. Every
//! value that comes back is checked against what the function must return: a lost
//! or misplaced item is an error, never a figure.
//!
//! The contenders:
//!
//! - **ours**: `mp_processes::Pool` with its defaults (the default start method, no
//!   per-task timeout). Its `map` cuts the items into chunks as Python's `Pool.map`
//!   does. A `map` has no timeout of its own, so a
//!   [`Deadline`](deadline::Deadline) terminates the pool if one has not returned
//!   within [`WAIT_LIMIT`](workload::WAIT_LIMIT) (its results then fail); `apply_async` results are taken
//!   with `get_timeout`.
//! - **procspawn's pool**: `procspawn::Pool::spawn` per item (it has no `map`), with
//!   at most [`WINDOW`](workload::WINDOW) items in flight, each joined with `join_timeout` (which waits
//!   on a channel, without polling). Building it blocks until every worker has
//!   connected back; a [`Deadline`](deadline::Deadline) ends the run if that does
//!   not happen within [`WAIT_LIMIT`](workload::WAIT_LIMIT).
//! - **rayon**: `par_iter` on a pool of threads of this process, the same number as
//!   the process pools have workers: the floor, what the work costs without any
//!   process boundary.
//! - **bare map** (`map` only): the same chunks, encoded with mp-wire, to two forked
//!   children over sockets and back, with none of the pool's bookkeeping (see
//!   [`bare_map`]).
//! - **bare relay** and **bare socketpair** (`apply_async` only): a 16-byte message to a
//!   forked child and back through the kernel alone, with the pool's three hops (the
//!   answer read by a second thread, which wakes the caller) and with two (the caller
//!   reads it): the floors of the pool's design and of one where a waiting caller reads
//!   its own result (see [`bare_relay`]).
//! - **Python**: `multiprocessing.Pool` and `concurrent.futures.ProcessPoolExecutor`
//!   with their defaults (chunk sizes included), from `bench/python/pool.py`.

use crate::row::{Contender, Goal, Row, Unit};

mod bare_map;
mod bare_relay;
pub(super) mod deadline;
pub(super) mod ours;
mod procspawn_pool;
mod rayon_floor;
pub(super) mod workload;

/// The process pool rows, in table order.
pub fn rows() -> Vec<Row> {
    vec![map_trivial(), apply_async(), cpu_scaling()]
}

/// The label of Python's `Pool.map`, which the trivial `map` goal names.
const PYTHON_POOL_MAP: &str = "multiprocessing.Pool.map";

/// The label of procspawn's pool, which the `apply_async` goal names.
const PROCSPAWN_POOL: &str = "procspawn::Pool";

fn map_trivial() -> Row {
    Row {
        name: "pool-map-trivial",
        family: "pool",
        what: "one item of a map of a trivial function (u64 doubled) over up to 100 000 items, on a warm pool of 2 workers",
        unit: Unit::TimePer("item"),
        goal: Some(Goal::within(0.1, PYTHON_POOL_MAP)),
        contenders: vec![
            Contender::ours("mp_processes::Pool::map", ours::map_trivial),
            Contender::peer(PROCSPAWN_POOL, procspawn_pool::map_trivial),
            Contender::peer(
                "rayon par_iter, 2 threads (no process boundary)",
                rayon_floor::map_trivial,
            ),
            Contender::peer(
                "bare: the same chunks through mp-wire to 2 forked children and back (no pool)",
                bare_map::map_trivial,
            ),
            Contender::python(PYTHON_POOL_MAP, "pool.py", "map-trivial-pool"),
            Contender::python("ProcessPoolExecutor.map", "pool.py", "map-trivial-executor"),
        ],
    }
}

fn apply_async() -> Row {
    Row {
        name: "pool-apply-async",
        family: "pool",
        what: "submit one trivial task to a warm pool of 2 workers and wait for its value, one task at a time",
        unit: Unit::TimePer("round trip"),
        // The design's "under 30 us, 2x better than procspawn's pool", as the ratio
        // measured in the same run (absolute figures drift between machines).
        goal: Some(Goal::within(0.5, PROCSPAWN_POOL)),
        contenders: vec![
            Contender::ours("mp_processes::Pool::apply_async", ours::apply_round_trip),
            Contender::peer(PROCSPAWN_POOL, procspawn_pool::apply_round_trip),
            Contender::peer(
                "bare relay: socket to a process, read by a thread that wakes the caller (the pool's path)",
                bare_relay::relay_round_trip,
            ),
            Contender::peer(
                "bare socketpair to a process, read by the caller",
                crate::rows::pipe::round_trip_socketpair,
            ),
            Contender::python("multiprocessing.Pool.apply_async", "pool.py", "apply-async"),
        ],
    }
}

fn cpu_scaling() -> Row {
    let cores = mp_processes::cpu_count();
    let mut contenders = vec![Contender::ours(
        "mp_processes::Pool (every core)",
        move |iterations| ours::cpu_map(cores, iterations),
    )];
    // On a 2-core machine "every core" is the 2-worker pool already.
    if cores != 2 {
        contenders.push(Contender::ours(
            "mp_processes::Pool (2 workers)",
            |iterations| ours::cpu_map(2, iterations),
        ));
    }
    contenders.push(Contender::ours(
        "mp_processes::Pool (1 worker)",
        |iterations| ours::cpu_map(1, iterations),
    ));
    contenders.push(Contender::peer(
        "rayon par_iter, every core (threads)",
        move |iterations| rayon_floor::cpu_map(cores, iterations),
    ));
    Row {
        name: "pool-cpu-scaling",
        family: "pool",
        what: "one item of a map of 400 000 dependent additions each (a CPU-bound call of about a tenth of a millisecond), by pools of every core, 2 and 1 workers; the 1-worker line's ratio is the speedup",
        unit: Unit::TimePer("item"),
        // No goal line: the design's "scales with cores" is the 1-worker line's ratio.
        // A goal against that line would also give it a verdict against itself, as
        // the report judges every line of ours.
        goal: None,
        contenders,
    }
}
