"""Thread rows of mp-bench: threading.Thread, ThreadPoolExecutor and the queue module.

Pools have 4 workers, all started (by a warm-up) before the clock runs. Queue
threads are released together at a barrier; every wait is bounded, and the
threads are daemons, so a wrong outcome ends the script instead of hanging it.
"""

import queue
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import benchlib

# Threads of every pool, as the Rust contenders.
WORKERS = 4
# Tasks submitted before the first is waited for, in the batch case.
BATCH = 100
# Items of one map call; fewer iterations make one shorter map.
MAP_LEN = 100_000
# Room of the bounded queues.
CAPACITY = 1024
# Producers and consumers of the 4 x 4 cases.
PEERS = 4
# Longest any single wait may take.
WAIT_LIMIT = 60.0


def plus_one(n):
    return n + 1


def expect_sum(total, iterations):
    expected = iterations * (iterations + 1) // 2
    benchlib.expect(total == expected, f"results add up to {total}, expected {expected}")


def thread_start_join(iterations):
    results = []

    def target(n):
        results.append(plus_one(n))

    start = time.perf_counter()
    for n in range(iterations):
        t = threading.Thread(target=target, args=(n,), daemon=True)
        t.start()
        t.join(WAIT_LIMIT)
    elapsed = time.perf_counter() - start
    benchlib.expect(len(results) == iterations, f"{len(results)} threads of {iterations} finished")
    expect_sum(sum(results), iterations)
    return elapsed


def warm_pool():
    """A pool whose WORKERS threads are all running: the warm-up tasks only pass
    the barrier together."""
    pool = ThreadPoolExecutor(max_workers=WORKERS)
    barrier = threading.Barrier(WORKERS, timeout=WAIT_LIMIT)
    for future in [pool.submit(barrier.wait) for _ in range(WORKERS)]:
        future.result(WAIT_LIMIT)
    return pool


def batches(total, size):
    return (range(first, min(first + size, total)) for first in range(0, total, size))


def pool_submit_result(iterations):
    with warm_pool() as pool:
        total = 0
        start = time.perf_counter()
        for n in range(iterations):
            total += pool.submit(plus_one, n).result(WAIT_LIMIT)
        elapsed = time.perf_counter() - start
    expect_sum(total, iterations)
    return elapsed


def pool_submit_batch(iterations):
    with warm_pool() as pool:
        total = 0
        start = time.perf_counter()
        for batch in batches(iterations, BATCH):
            futures = [pool.submit(plus_one, n) for n in batch]
            for future in futures:
                total += future.result(WAIT_LIMIT)
        elapsed = time.perf_counter() - start
    expect_sum(total, iterations)
    return elapsed


def pool_map(iterations):
    with warm_pool() as pool:
        elapsed = 0.0
        for items in batches(iterations, MAP_LEN):
            start = time.perf_counter()
            results = list(pool.map(plus_one, items, timeout=WAIT_LIMIT))
            elapsed += time.perf_counter() - start
            benchlib.expect(
                results == [plus_one(n) for n in items],
                f"map of {items} returned wrong or misplaced results",
            )
    return elapsed


def released_together(works):
    """Runs each function of ``works`` on a daemon thread, releases them together
    and returns the seconds from the release until the last one finished."""
    start_line = threading.Barrier(len(works) + 1, timeout=WAIT_LIMIT)
    failures = []

    def run(work):
        start_line.wait()
        try:
            work()
        except BaseException as e:  # reported by the main thread
            failures.append(e)

    threads = [threading.Thread(target=run, args=(w,), daemon=True) for w in works]
    for t in threads:
        t.start()
    start_line.wait()
    start = time.perf_counter()
    deadline = time.monotonic() + WAIT_LIMIT
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    elapsed = time.perf_counter() - start
    benchlib.expect(not any(t.is_alive() for t in threads), "a queue thread did not finish")
    if failures:
        raise failures[0]
    return elapsed


def one_to_one(q, iterations):
    """Sends 0..iterations through ``q`` from one thread to another; the consumer
    checks every item arrives, in order."""

    def produce():
        for n in range(iterations):
            q.put(n)

    def consume():
        for expected in range(iterations):
            got = q.get()
            benchlib.expect(got == expected, f"received {got} where {expected} was due")

    return released_together([produce, consume])


def four_by_four(q, iterations):
    """Sends 0..iterations from PEERS producers (a contiguous share each, then a
    None that stops one consumer) to PEERS consumers; checks the count and sum."""
    received = []

    def producer(p):
        def produce():
            for n in range(p * iterations // PEERS, (p + 1) * iterations // PEERS):
                q.put(n)
            q.put(None)

        return produce

    def consume():
        count = total = 0
        while True:
            item = q.get()
            if item is None:
                break
            count += 1
            total += item
        received.append((count, total))

    elapsed = released_together([producer(p) for p in range(PEERS)] + [consume] * PEERS)
    count = sum(c for c, _ in received)
    total = sum(t for _, t in received)
    expected = iterations * (iterations - 1) // 2
    benchlib.expect(
        count == iterations and total == expected,
        f"received {count} items adding up to {total}, expected {iterations} adding up to {expected}",
    )
    return elapsed


if __name__ == "__main__":
    benchlib.main(
        {
            "thread-start-join": thread_start_join,
            "pool-submit-result": pool_submit_result,
            "pool-submit-batch": pool_submit_batch,
            "pool-map": pool_map,
            "queue-1x1-unbounded": lambda n: one_to_one(queue.Queue(), n),
            "queue-1x1-bounded": lambda n: one_to_one(queue.Queue(maxsize=CAPACITY), n),
            "simplequeue-1x1": lambda n: one_to_one(queue.SimpleQueue(), n),
            "queue-4x4-unbounded": lambda n: four_by_four(queue.Queue(), n),
            "queue-4x4-bounded": lambda n: four_by_four(queue.Queue(maxsize=CAPACITY), n),
            "simplequeue-4x4": lambda n: four_by_four(queue.SimpleQueue(), n),
        }
    )
