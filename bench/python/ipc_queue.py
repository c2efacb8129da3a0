"""Queue rows of mp-bench: multiprocessing.Queue between processes, 16-byte and 64 KiB
messages from 1 producer to 1 consumer, and 16-byte messages from 2 producers to 2
consumers."""

import multiprocessing
import struct
import time

import benchlib

# Longest any one wait may take.
WAIT_LIMIT = 10

BIG = 64 * 1024
SMALL_TAIL = b"sixteen!"
BIG_TAIL = bytes(i % 256 for i in range(8, BIG))


def small(index):
    return struct.pack("<Q", index) + SMALL_TAIL


def big(index):
    return struct.pack("<Q", index) + BIG_TAIL


def index_of(message):
    return struct.unpack_from("<Q", message)[0]


def produce(queue, go, make, indices):
    go.wait(WAIT_LIMIT)
    for index in indices:
        queue.put(make(index))


def consume(queue, go, received, slot, producers):
    go.wait(WAIT_LIMIT)
    count = 0
    sum_ = 0
    sentinels = 0
    first = None
    while sentinels < producers:
        message = queue.get(timeout=WAIT_LIMIT)
        if first is None:
            first = time.perf_counter()
        if message is None:
            sentinels += 1
            continue
        count += 1
        sum_ += index_of(message)
    finished = time.perf_counter()
    with received.get_lock():
        received[0] += count
        received[1] += sum_
        received[2 + slot] = finished
        received[4 + slot] = first


def produce_then_stop(queue, go, indices, consumers):
    produce(queue, go, small, indices)
    # Each producer ends its items with one sentinel per consumer; a consumer stops after
    # one sentinel per producer, so both stop only once every item was taken.
    for _ in range(consumers):
        queue.put(None)


def one_to_one(iterations, make, size):
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    go = context.Event()
    producer = context.Process(target=produce, args=(queue, go, make, range(iterations)), daemon=True)
    producer.start()
    start = time.perf_counter()
    go.set()
    for expected in range(iterations):
        message = queue.get(timeout=WAIT_LIMIT)
        benchlib.expect(len(message) == size and index_of(message) == expected, f"message {expected} differs")
    elapsed = time.perf_counter() - start
    producer.join(WAIT_LIMIT)
    benchlib.expect(producer.exitcode == 0, f"the producer ended with {producer.exitcode}")
    return elapsed


def two_by_two(iterations):
    """Timed from the first item a consumer took to the moment the last consumer has taken
    its last item (CLOCK_MONOTONIC, the same clock in every process). Process start-up,
    the wake-up of four processes sleeping on an Event (tens of milliseconds on a loaded
    machine, which would swamp a short run) and the joins are outside."""
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    go = context.Event()
    received = context.Array("d", 6)
    producers = [
        context.Process(target=produce_then_stop, args=(queue, go, range(p, iterations, 2), 2), daemon=True)
        for p in range(2)
    ]
    consumers = [
        context.Process(target=consume, args=(queue, go, received, c, 2), daemon=True) for c in range(2)
    ]
    for process in producers + consumers:
        process.start()
    go.set()
    for process in producers + consumers:
        process.join(WAIT_LIMIT)
        benchlib.expect(process.exitcode == 0, f"a child ended with {process.exitcode}")
    elapsed = max(received[2], received[3]) - min(received[4], received[5])
    count, sum_ = int(received[0]), int(received[1])
    benchlib.expect(count == iterations and sum_ == iterations * (iterations - 1) // 2,
                    f"consumers got {count} items adding up to {sum_}")
    return elapsed


benchlib.main({
    "multiprocessing-queue-1x1-16b": lambda n: one_to_one(n, small, 16),
    "multiprocessing-queue-1x1-64k": lambda n: one_to_one(n, big, BIG),
    "multiprocessing-queue-2x2-16b": two_by_two,
})
