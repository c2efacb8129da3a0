"""Event rows of mp-bench: multiprocessing.Event ping-pong between two processes."""

import multiprocessing
import time

import benchlib

# Longest either process waits for the other.
WAIT_LIMIT = 5.0


def pong(ping, pong_event, round_trips):
    """The child: waits for ping, clears it, sets pong; exits 2 if a ping never comes."""
    for _ in range(round_trips):
        if not ping.wait(WAIT_LIMIT):
            raise SystemExit(2)
        ping.clear()
        pong_event.set()


def round_trip(ping, pong_event):
    ping.set()
    benchlib.expect(pong_event.wait(WAIT_LIMIT), "no pong from the child")
    pong_event.clear()


def multiprocessing_event_pingpong(iterations):
    """One operation is one round trip; fork and the first (warm-up) round trip are
    outside the timed loop."""
    context = multiprocessing.get_context("fork")
    ping, pong_event = context.Event(), context.Event()
    child = context.Process(target=pong, args=(ping, pong_event, iterations + 1), daemon=True)
    child.start()
    with benchlib.reaped(child, WAIT_LIMIT):
        round_trip(ping, pong_event)
        start = time.perf_counter()
        for _ in range(iterations):
            round_trip(ping, pong_event)
        elapsed = time.perf_counter() - start
    return elapsed


if __name__ == "__main__":
    benchlib.main({"multiprocessing-event-pingpong": multiprocessing_event_pingpong})
