"""Pipe rows of mp-bench: multiprocessing.Pipe round trip and 1 MiB send_bytes throughput
between two processes."""

import multiprocessing
import os
import socket
import struct
import time

import benchlib

# Longest either process waits for the other in one read.
WAIT_LIMIT = 5

SMALL = b"sixteen bytes..!"
BIG = 1 << 20


def bound_reads(connection):
    """Gives the connection's socket a receive timeout, so a lost peer ends a read with an
    error instead of hanging (as the Rust contenders do)."""
    sock = socket.socket(fileno=os.dup(connection.fileno()))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", WAIT_LIMIT, 0))
    sock.close()


def echo(connection, round_trips):
    bound_reads(connection)
    for _ in range(round_trips):
        message = connection.recv()
        if message != SMALL:
            raise SystemExit(3)
        connection.send(message)


def sink(connection, messages):
    bound_reads(connection)
    buf = bytearray(BIG)
    for _ in range(messages):
        n = connection.recv_bytes_into(buf)
        if n != BIG or buf[BIG - 1] != (BIG - 1) % 251:
            raise SystemExit(3)
    connection.send_bytes(b"done")


def run_child(target, args, measure):
    context = multiprocessing.get_context("fork")
    parent_end, child_end = context.Pipe(duplex=True)
    bound_reads(parent_end)
    child = context.Process(target=target, args=(child_end, *args), daemon=True)
    child.start()
    child_end.close()
    with benchlib.reaped(child, WAIT_LIMIT):
        elapsed = measure(parent_end)
    return elapsed


def multiprocessing_pipe_roundtrip(iterations):
    """One operation is a send and the reply's recv; fork and one warm-up round trip are
    outside the timed loop."""

    def measure(connection):
        connection.send(SMALL)
        benchlib.expect(connection.recv() == SMALL, "wrong reply")
        start = time.perf_counter()
        for _ in range(iterations):
            connection.send(SMALL)
            benchlib.expect(connection.recv() == SMALL, "wrong reply")
        return time.perf_counter() - start

    return run_child(echo, (iterations + 1,), measure)


def multiprocessing_pipe_send_bytes_1mib(iterations):
    """One operation is one 1 MiB send_bytes; the timed part ends with the child's
    acknowledgement of the last one."""
    message = bytes(i % 251 for i in range(BIG))

    def measure(connection):
        connection.send_bytes(message)
        start = time.perf_counter()
        for _ in range(iterations):
            connection.send_bytes(message)
        benchlib.expect(connection.recv_bytes() == b"done", "no acknowledgement")
        return time.perf_counter() - start

    return run_child(sink, (iterations + 1,), measure)


if __name__ == "__main__":
    benchlib.main(
        {
            "multiprocessing-pipe-roundtrip": multiprocessing_pipe_roundtrip,
            "multiprocessing-pipe-send-bytes-1mib": multiprocessing_pipe_send_bytes_1mib,
        }
    )
