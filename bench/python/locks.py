"""Lock rows of mp-bench: Python's threading.Lock and multiprocessing.Lock."""

import multiprocessing
import threading
import time

import benchlib

# Longest the contended case waits for its threads.
JOIN_TIMEOUT = 60.0


def lock_uncontended(lock, iterations):
    start = time.perf_counter()
    for _ in range(iterations):
        with lock:
            pass
    elapsed = time.perf_counter() - start
    benchlib.expect(lock.acquire(False), "the lock was left held")
    lock.release()
    return elapsed


def threading_lock(iterations):
    return lock_uncontended(threading.Lock(), iterations)


def multiprocessing_lock(iterations):
    return lock_uncontended(multiprocessing.Lock(), iterations)


def threading_lock_contended(iterations):
    """Two threads each add 1 to a shared counter under the lock; together they do
    ``iterations`` increments."""
    lock = threading.Lock()
    counter = [0]
    start_line = threading.Barrier(3, timeout=JOIN_TIMEOUT)

    def work(share):
        start_line.wait()
        for _ in range(share):
            with lock:
                counter[0] += 1

    first = iterations // 2
    threads = [
        threading.Thread(target=work, args=(first,), daemon=True),
        threading.Thread(target=work, args=(iterations - first,), daemon=True),
    ]
    for t in threads:
        t.start()
    start_line.wait()
    start = time.perf_counter()
    for t in threads:
        t.join(JOIN_TIMEOUT)
    elapsed = time.perf_counter() - start
    benchlib.expect(not any(t.is_alive() for t in threads), "a worker thread did not finish")
    benchlib.expect(counter[0] == iterations, f"counter reached {counter[0]}, expected {iterations}")
    return elapsed


if __name__ == "__main__":
    benchlib.main(
        {
            "threading-lock": threading_lock,
            "multiprocessing-lock": multiprocessing_lock,
            "threading-lock-contended": threading_lock_contended,
        }
    )
