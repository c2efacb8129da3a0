"""mp-bench cluster rows, Python side: Ray's multiprocessing Pool and RQ over Redis.

Neither is in the standard library: each case imports what it needs first and, when
that is not installed, tells mp-bench so (``benchlib.Unavailable``), which shows
"not installed" in the contender's line. The RQ cases start a ``redis-server`` of their
own on a free loopback port (no persistence, a temporary folder), as the Rust side
does, and RQ worker processes on it; everything is stopped before the case returns.
"""

import contextlib
import multiprocessing
import os
import shutil
import socket
import subprocess
import tempfile
import time

import benchlib

WAIT_LIMIT = 60.0
MAP_LEN = 100_000
CPU_STEPS = 400_000


def double(n):
    return n * 2


def echo(n):
    return n


def cpu_bound(seed):
    total = 0
    for _ in range(CPU_STEPS):
        total += seed
    return total


def batches(total, size):
    for first in range(0, total, size):
        yield range(first, min(first + size, total))


# --- Ray --------------------------------------------------------------------------


@contextlib.contextmanager
def ray_pool(processes):
    ray = benchlib.require("ray", "pip install 'ray[default]'")
    from ray.util.multiprocessing import Pool

    ray.init(num_cpus=processes, include_dashboard=False, log_to_driver=False)
    try:
        pool = Pool(processes=processes)
        try:
            warm = pool.map(double, range(processes * 4))
            benchlib.expect(warm == [double(n) for n in range(processes * 4)], "warm-up")
            yield pool
        finally:
            pool.terminate()
    finally:
        ray.shutdown()


def ray_map_trivial(iterations):
    with ray_pool(2) as pool:
        elapsed = 0.0
        for items in batches(iterations, MAP_LEN):
            start = time.perf_counter()
            values = pool.map(double, items)
            elapsed += time.perf_counter() - start
            benchlib.expect(values == [double(n) for n in items], "wrong map values")
        return elapsed


def ray_cpu_map(iterations):
    with ray_pool(2) as pool:
        start = time.perf_counter()
        values = pool.map(cpu_bound, range(iterations))
        elapsed = time.perf_counter() - start
        benchlib.expect(values == [n * CPU_STEPS for n in range(iterations)], "wrong values")
        return elapsed


def ray_apply_async(iterations):
    with ray_pool(2) as pool:
        start = time.perf_counter()
        for n in range(iterations):
            value = pool.apply_async(echo, (n,)).get(timeout=WAIT_LIMIT)
            benchlib.expect(value == n, f"apply_async returned {value} instead of {n}")
        return time.perf_counter() - start


# --- RQ ---------------------------------------------------------------------------


@contextlib.contextmanager
def redis_server():
    """A redis-server on a free loopback port, in a temporary folder; its URL."""
    program = shutil.which("redis-server")
    if program is None:
        raise benchlib.Unavailable(
            "not installed: redis-server (sudo apt-get install -y redis-server)"
        )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    folder = tempfile.mkdtemp(prefix="mp-bench-redis-")
    server = subprocess.Popen(
        [program, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", folder],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 5
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            benchlib.expect(time.monotonic() < deadline, "redis-server did not answer")
            time.sleep(0.01)
        yield f"redis://127.0.0.1:{port}/"
    finally:
        server.kill()
        server.wait(WAIT_LIMIT)
        shutil.rmtree(folder, ignore_errors=True)


def importable():
    """This module under its importable name, not ``__main__``.

    RQ refuses functions whose module is ``__main__`` (a worker could not import them),
    so the RQ cases enqueue the functions of this module imported as ``cluster``; the
    forked workers inherit this script's folder on ``sys.path`` and import it the same way.
    """
    import cluster

    return cluster


def rq_work(url):
    from redis import Redis
    from rq import Queue, Worker

    connection = Redis.from_url(url)
    Worker([Queue("bench", connection=connection)], connection=connection).work()


@contextlib.contextmanager
def rq_queue(workers):
    rq = benchlib.require("rq", "pip install rq")
    benchlib.require("redis", "pip install redis")
    from redis import Redis

    with redis_server() as url:
        context = multiprocessing.get_context("fork")
        processes = [context.Process(target=rq_work, args=(url,)) for _ in range(workers)]
        for process in processes:
            process.start()
        try:
            queue = rq.Queue("bench", connection=Redis.from_url(url))
            warm = [queue.enqueue(importable().echo, n) for n in range(workers * 4)]
            benchlib.expect([rq_result(job) for job in warm] == list(range(workers * 4)), "warm-up")
            yield queue
        finally:
            for process in processes:
                process.kill()
                process.join(WAIT_LIMIT)


def rq_result(job):
    result = job.latest_result(timeout=int(WAIT_LIMIT))  # redis-py 8 wants whole milliseconds
    benchlib.expect(result is not None and result.type == result.Type.SUCCESSFUL,
                    f"job {job.id} failed or timed out")
    return result.return_value


def rq_map_trivial(iterations):
    with rq_queue(1) as queue:
        elapsed = 0.0
        for items in batches(iterations, MAP_LEN):
            start = time.perf_counter()
            jobs = queue.enqueue_many([queue.prepare_data(importable().double, (n,)) for n in items])
            values = [rq_result(job) for job in jobs]
            elapsed += time.perf_counter() - start
            benchlib.expect(values == [double(n) for n in items], "wrong map values")
        return elapsed


def rq_apply_async(iterations):
    with rq_queue(1) as queue:
        start = time.perf_counter()
        for n in range(iterations):
            value = rq_result(queue.enqueue(importable().echo, n))
            benchlib.expect(value == n, f"job returned {value} instead of {n}")
        return time.perf_counter() - start


if __name__ == "__main__":
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    benchlib.main({
        "ray-map-trivial": ray_map_trivial,
        "ray-cpu-map": ray_cpu_map,
        "ray-apply-async": ray_apply_async,
        "rq-map-trivial": rq_map_trivial,
        "rq-apply-async": rq_apply_async,
    })
