"""Process pool rows of mp-bench: multiprocessing.Pool and
concurrent.futures.ProcessPoolExecutor, with their defaults.

Every pool has 2 workers and is warm before the clock runs: each worker has answered
a task. A map of a trivial function is cut into calls of at most MAP_LEN items, as the
Rust contenders do, and every value is checked; every wait is bounded by WAIT_LIMIT.
"""

import concurrent.futures
import multiprocessing
import time

import benchlib

# Longest any wait may last, in seconds.
WAIT_LIMIT = 20.0

# Workers of every pool.
WORKERS = 2

# Items of one map call; more iterations make several calls.
MAP_LEN = 100_000


def double(n):
    """The trivial function every map applies."""
    return n * 2


def echo(n):
    """The function of the round trip."""
    return n


def batches(total):
    """Consecutive ranges of at most MAP_LEN items covering range(total)."""
    return [range(first, min(first + MAP_LEN, total)) for first in range(0, total, MAP_LEN)]


def expect_doubled(values, items):
    benchlib.expect(values == [2 * n for n in items], f"map of {len(items)} items gave wrong values")


def map_trivial_pool(iterations):
    with multiprocessing.Pool(WORKERS) as pool:
        warm = range(WORKERS * 4)
        expect_doubled(pool.map_async(double, warm, chunksize=1).get(WAIT_LIMIT), warm)
        elapsed = 0.0
        for items in batches(iterations):
            start = time.perf_counter()
            values = pool.map_async(double, items).get(WAIT_LIMIT)
            elapsed += time.perf_counter() - start
            expect_doubled(values, items)
        return elapsed


def map_trivial_executor(iterations):
    with concurrent.futures.ProcessPoolExecutor(WORKERS) as executor:
        warm = range(WORKERS * 4)
        expect_doubled(list(executor.map(double, warm, timeout=WAIT_LIMIT)), warm)
        elapsed = 0.0
        for items in batches(iterations):
            start = time.perf_counter()
            values = list(executor.map(double, items, timeout=WAIT_LIMIT))
            elapsed += time.perf_counter() - start
            expect_doubled(values, items)
        return elapsed


def apply_async(iterations):
    with multiprocessing.Pool(WORKERS) as pool:
        warm = range(WORKERS * 4)
        expect_doubled(pool.map_async(double, warm, chunksize=1).get(WAIT_LIMIT), warm)
        start = time.perf_counter()
        for n in range(iterations):
            value = pool.apply_async(echo, (n,)).get(WAIT_LIMIT)
            benchlib.expect(value == n, f"apply_async returned {value} instead of {n}")
        return time.perf_counter() - start


if __name__ == "__main__":
    benchlib.main(
        {
            "map-trivial-pool": map_trivial_pool,
            "map-trivial-executor": map_trivial_executor,
            "apply-async": apply_async,
        }
    )
