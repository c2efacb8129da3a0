"""Async rows of mp-bench: asyncio awaiting a thread's event, and awaiting a pool task.

An asyncio loop runs in a thread of its own for the event round trip, as the Rust
side's runtime does; every wait is bounded, and the threads are daemons, so a wrong
outcome ends the script instead of hanging it.
"""

import asyncio
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


benchlib.main(
    {
        "event-async-wake": event_async_wake,
        "thread-pool-submit-await": thread_pool_submit_await,
    }
)
