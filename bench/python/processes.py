"""Process rows of mp-bench: multiprocessing.Process start+join, per start method,
one at a time and in waves of 100; and a child handed 16 MiB that sends 16 MiB back.

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

# The size of the argument and of the result of the args-16mib cases.
PAYLOAD_LEN = 16 << 20


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


BIG_HEAP = 1 << 30


def start_join_big_parent(method):
    """start_join from a parent holding 1 GiB of written heap, freed after."""
    plain = start_join(method)

    def case(iterations):
        heap = bytearray(b"\x01") * BIG_HEAP  # every page written, as the Rust side
        try:
            return plain(iterations)
        finally:
            del heap

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


def bump_and_send_back(connection, data):
    """The child's target in the args-16mib cases: bumps the first byte of ``data``
    (a bytearray, so in place) and sends all of it back."""
    data[0] = (data[0] + 1) % 256
    connection.send_bytes(data)


def args_16mib(method):
    """A child handed a 16 MiB bytearray as its argument sends it back, first byte
    bumped, through a Pipe made once; the parent receives it into the same buffer,
    which the next child gets: no copy outside multiprocessing."""

    def case(iterations):
        context = multiprocessing.get_context(method)
        here, there = context.Pipe()
        data = bytearray(b"\x07" * PAYLOAD_LEN)

        def round_trip():
            expected = (data[0] + 1) % 256
            child = context.Process(target=bump_and_send_back, args=(there, data))
            child.start()
            with benchlib.reaped(child, WAIT_LIMIT):
                benchlib.expect(here.poll(WAIT_LIMIT), f"no result from child {child.pid} within {WAIT_LIMIT} s")
                received = here.recv_bytes_into(data)
            benchlib.expect(received == PAYLOAD_LEN, f"received {received} bytes, expected {PAYLOAD_LEN}")
            benchlib.expect(data[0] == expected, f"first byte {data[0]}, expected {expected}")

        round_trip()
        start = time.perf_counter()
        for _ in range(iterations):
            round_trip()
        return time.perf_counter() - start

    return case


if __name__ == "__main__":
    benchlib.main(
        {
            "start-join-fork": start_join("fork"),
            "start-join-forkserver": start_join("forkserver"),
            "start-join-spawn": start_join("spawn"),
            "start-join-100-fork": start_join_waves("fork"),
            "start-join-big-parent-fork": start_join_big_parent("fork"),
            "start-join-big-parent-forkserver": start_join_big_parent("forkserver"),
            "start-join-big-parent-spawn": start_join_big_parent("spawn"),
            "start-join-100-forkserver": start_join_waves("forkserver"),
            "args-16mib-forkserver": args_16mib("forkserver"),
            "args-16mib-fork": args_16mib("fork"),
        }
    )
