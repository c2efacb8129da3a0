"""Async rows of mp-bench: asyncio awaiting a thread's event, a pool task, and a child
process's join.

An asyncio loop runs in a thread of its own for the event round trip, as the Rust
side's runtime does; every wait is bounded, and the threads are daemons, so a wrong
outcome ends the script instead of hanging it.
"""

import asyncio
import multiprocessing
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import benchlib

# Threads of the pool, as the Rust contenders.
WORKERS = 4
# Longest any single wait may take.
WAIT_LIMIT = 10.0


def plus_one(n):
    return n + 1


def event_async_wake(iterations):
    """A thread wakes an asyncio task (asyncio.Event set through call_soon_threadsafe);
    the task answers through a threading.Event the thread waits on."""
    pong = threading.Event()
    ready = threading.Event()
    state = {}

    async def serve():
        ping = asyncio.Event()
        state["loop"] = asyncio.get_running_loop()
        state["ping"] = ping
        ready.set()
        for _ in range(iterations):
            await asyncio.wait_for(ping.wait(), WAIT_LIMIT)
            ping.clear()
            pong.set()

    server = threading.Thread(target=lambda: asyncio.run(serve()), daemon=True)
    server.start()
    benchlib.expect(ready.wait(WAIT_LIMIT), "the asyncio loop started")
    loop, ping = state["loop"], state["ping"]
    rounds = 0
    start = time.perf_counter()
    for _ in range(iterations):
        loop.call_soon_threadsafe(ping.set)
        if not pong.wait(WAIT_LIMIT):
            break
        pong.clear()
        rounds += 1
    elapsed = time.perf_counter() - start
    server.join(WAIT_LIMIT)
    benchlib.expect(rounds == iterations, f"{rounds} of {iterations} round trips")
    return elapsed


def thread_pool_submit_await(iterations):
    async def main():
        loop = asyncio.get_running_loop()
        with ThreadPoolExecutor(max_workers=WORKERS) as pool:
            # Every worker started before the clock runs.
            barrier = threading.Barrier(WORKERS, timeout=WAIT_LIMIT)
            await asyncio.gather(*(loop.run_in_executor(pool, barrier.wait) for _ in range(WORKERS)))
            total = 0
            start = time.perf_counter()
            for n in range(iterations):
                total += await asyncio.wait_for(loop.run_in_executor(pool, plus_one, n), WAIT_LIMIT)
            elapsed = time.perf_counter() - start
        expected = iterations * (iterations + 1) // 2
        benchlib.expect(total == expected, f"results add up to {total}, expected {expected}")
        return elapsed

    return asyncio.run(main())


def echo_exit():
    """The child's target: returns at once (exit code 0)."""


def process_join_async(iterations):
    """An asyncio task starts a forked child and awaits its join in the default
    executor, as asyncio code without a process-aware loop does."""
    context = multiprocessing.get_context("fork")

    async def start_and_await():
        child = context.Process(target=echo_exit)
        child.start()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, child.join, WAIT_LIMIT)
        if child.is_alive():
            child.kill()
            child.join()
            raise RuntimeError(f"child {child.pid} still running after {WAIT_LIMIT} s")
        benchlib.expect(child.exitcode == 0, f"child exited with {child.exitcode}")

    async def main():
        await start_and_await()
        start = time.perf_counter()
        for _ in range(iterations):
            await start_and_await()
        return time.perf_counter() - start

    return asyncio.run(main())


benchlib.main(
    {
        "event-async-wake": event_async_wake,
        "thread-pool-submit-await": thread_pool_submit_await,
        "process-join-async": process_join_async,
    }
)
