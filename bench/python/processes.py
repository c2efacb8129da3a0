"""Process rows of mp-bench: multiprocessing.Process start+join, per start method,
one at a time and in waves of 100.

A Process has no return value, so each child exits with a code derived from its
argument (1 to 100, never the 0 of a child that did nothing), and the parent checks
it. One process is started and joined before the clock runs, so one-time costs (the
forkserver, imports) stay outside the figure, as they do for the Rust contenders.
"""

import multiprocessing
import sys
import time

import benchlib

# Longest a child may take to start, run and end.
WAIT_LIMIT = 20.0

# Children started before any is joined, in the wave cases.
WAVE = 100


def exit_with(code):
    """The child's target: ends the child with ``code``."""
    sys.exit(code)


def code_for(n):
    return n % 100 + 1


def finish(child, code):
    """Joins ``child`` (killing it past WAIT_LIMIT) and checks its exit code."""
    child.join(WAIT_LIMIT)
    if child.is_alive():
        child.kill()
        child.join()
        raise RuntimeError(f"child {child.pid} still running after {WAIT_LIMIT} s")
    benchlib.expect(child.exitcode == code, f"child exited with {child.exitcode}, expected {code}")


def stop_all(children):
    """Kills and reaps children on a failed run."""
    for child, _ in children:
        if child.is_alive():
            child.kill()
        child.join()


def start_join(method):
    def case(iterations):
        context = multiprocessing.get_context(method)
        warm_up = context.Process(target=exit_with, args=(1,))
        warm_up.start()
        finish(warm_up, 1)
        start = time.perf_counter()
        for n in range(iterations):
            code = code_for(n)
            child = context.Process(target=exit_with, args=(code,))
            child.start()
            finish(child, code)
        return time.perf_counter() - start

    return case


def start_join_waves(method):
    def case(iterations):
        context = multiprocessing.get_context(method)
        warm_up = context.Process(target=exit_with, args=(1,))
        warm_up.start()
        finish(warm_up, 1)
        start = time.perf_counter()
        first = 0
        while first < iterations:
            size = min(WAVE, iterations - first)
            wave = []
            try:
                for n in range(first, first + size):
                    code = code_for(n)
                    child = context.Process(target=exit_with, args=(code,))
                    child.start()
                    wave.append((child, code))
                for child, code in wave:
                    finish(child, code)
            except BaseException:
                stop_all(wave)
                raise
            first += size
        return time.perf_counter() - start

    return case


if __name__ == "__main__":
    benchlib.main(
        {
            "start-join-fork": start_join("fork"),
            "start-join-forkserver": start_join("forkserver"),
            "start-join-spawn": start_join("spawn"),
            "start-join-100-fork": start_join_waves("fork"),
            "start-join-100-forkserver": start_join_waves("forkserver"),
        }
    )
