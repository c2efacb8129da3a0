//! Cluster rows: mp-cluster's `Pool` and queues through a `redis-server` on loopback,
//! beside the local mp-processes `Pool` doing the same work: the difference is what
//! crossing Redis costs.
//!
//! Every measurement starts its own server (a free loopback port, no persistence, a
//! temporary folder: test-support's fixture) and, for the pool rows, its own worker
//! processes: this very executable started again with `MP_CLUSTER_WORKER`,
//! `MP_REDIS_URL` and `MP_CLUSTER_PROCESSES`, which mp-cluster picks up before `main`.
//! The workers are warm before the clock runs (each has run a task), and they and the
//! server are killed and reaped before the measurement returns, on its error paths
//! too. Without `redis-server` the rows are skipped, with a line saying how to install
//! it.
//!
//! The Python lines run Ray's `ray.util.multiprocessing.Pool` and RQ (on a
//! `redis-server` of their own, started the same way) from `bench/python/cluster.py`
//! when `import ray` / `import rq` work; otherwise they say "not installed".

use std::time::Duration;

use crate::error::BenchError;
use crate::row::{Contender, Goal, Row, Unit};

use super::pool::ours as local;

mod loopback;
mod ours;

/// The cluster rows, in table order.
pub fn rows() -> Vec<Row> {
    vec![map_trivial(), cpu_map(), apply_async(), queue_1x1()]
}

/// The fewest items one `cluster-map-cpu` measurement maps.
///
/// A map across processes has a fixed latency (the tasks reach idle workers, the last
/// results come back) that a map of a few milliseconds is made of; the speedup the row
/// reports is the one a map of a second or so sees.
const CPU_MAP_MIN_ITEMS: u64 = 2_000;

/// `measure` over at least [`CPU_MAP_MIN_ITEMS`] items, its time scaled back to
/// `iterations` (the time per item is what the row shows).
fn long_map(
    iterations: u64,
    measure: impl Fn(u64) -> Result<Duration, BenchError>,
) -> Result<Duration, BenchError> {
    let items = iterations.max(CPU_MAP_MIN_ITEMS);
    let elapsed = measure(items)?;
    Ok(elapsed.mul_f64(iterations as f64 / items as f64))
}

/// The label of Ray's `Pool.map`, which the trivial `map` goal names.
const RAY_POOL_MAP: &str = "ray.util.multiprocessing.Pool.map";

fn map_trivial() -> Row {
    Row {
        name: "cluster-map-trivial",
        family: "cluster",
        what: "one item of Pool::map of a trivial function (u64 doubled) over up to 100 000 items, default chunking, through a loopback redis-server to 1 worker process of 2 local processes (design goal: at least 100 000 items/s, 10 us per item)",
        unit: Unit::TimePer("item"),
        goal: Some(Goal::within(0.1, RAY_POOL_MAP)),
        contenders: vec![
            Contender::ours("mp_cluster::Pool::map", ours::map_trivial),
            Contender::ours(
                "mp_processes::Pool::map, 2 processes (no Redis)",
                local::map_trivial,
            ),
            Contender::python(RAY_POOL_MAP, "cluster.py", "ray-map-trivial"),
            Contender::python("rq enqueue_many + results", "cluster.py", "rq-map-trivial"),
        ],
    }
}

fn cpu_map() -> Row {
    Row {
        name: "cluster-map-cpu",
        family: "cluster",
        what: "one item of Pool::map of 400 000 dependent additions each (a fraction of a millisecond), by 2, 1 and 3 worker processes of 1 local process each, in maps of at least 2000 items; the 1w line's ratio is the speedup of 2 workers over 1 (design goal: 1.8x); on a 2-core machine 3 workers cannot beat 2",
        unit: Unit::TimePer("item"),
        // No goal line: the speedup is the 1w line's ratio (as in pool-cpu-scaling).
        goal: None,
        contenders: vec![
            Contender::ours("mp_cluster::Pool, 2 workers (2w)", |n| {
                long_map(n, |items| ours::cpu_map(2, items))
            }),
            Contender::ours("mp_cluster::Pool, 1 worker (1w)", |n| {
                long_map(n, |items| ours::cpu_map(1, items))
            }),
            Contender::ours("mp_cluster::Pool, 3 workers (3w)", |n| {
                long_map(n, |items| ours::cpu_map(3, items))
            }),
            Contender::ours("mp_processes::Pool, 2 processes (no Redis)", |n| {
                long_map(n, |items| local::cpu_map(2, items))
            }),
            Contender::python(
                "ray.util.multiprocessing.Pool(2).map (the same additions in Python: its ratio compares the languages, not the pools)",
                "cluster.py",
                "ray-cpu-map",
            ),
        ],
    }
}

fn apply_async() -> Row {
    Row {
        name: "cluster-apply-async",
        family: "cluster",
        what: "submit one trivial task through a loopback redis-server to 1 worker process of 2 local processes and wait for its value, one task at a time (design goal: under 1 ms)",
        unit: Unit::TimePer("round trip"),
        goal: None,
        contenders: vec![
            Contender::ours("mp_cluster::Pool::apply_async", ours::apply_round_trip),
            Contender::ours(
                "mp_processes::Pool::apply_async, 2 processes (no Redis)",
                local::apply_round_trip,
            ),
            Contender::python(
                "ray.util.multiprocessing.Pool.apply_async",
                "cluster.py",
                "ray-apply-async",
            ),
            Contender::python("rq enqueue + result", "cluster.py", "rq-apply-async"),
        ],
    }
}

fn queue_1x1() -> Row {
    Row {
        name: "cluster-queue-1x1",
        family: "cluster",
        what: "one 16-byte message put by one thread and got by another, through a loopback redis-server",
        unit: Unit::Rate("msg"),
        goal: None,
        contenders: vec![
            Contender::ours("mp_cluster::Queue", ours::queue_1x1),
            Contender::ours(
                "mp_cluster::JoinableQueue (get + task_done)",
                ours::joinable_queue_1x1,
            ),
        ],
    }
}
