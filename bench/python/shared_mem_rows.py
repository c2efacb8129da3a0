"""Shared-memory rows of mp-bench: multiprocessing.Array, RawArray and Value, named
SharedMemory, and pickle as the codec Python uses between processes."""

import multiprocessing
import pickle
import time
from multiprocessing import shared_memory

import benchlib

# Bytes the Array row writes, then reads back, per operation (as the Rust row).
ARRAY_BYTES = 16 << 20
# Longest the parent waits for a child.
JOIN_TIMEOUT = 300.0


def _join(child):
    child.join(JOIN_TIMEOUT)
    if child.is_alive():
        child.kill()
        child.join()
    benchlib.expect(child.exitcode == 0, f"child exited with {child.exitcode}")


def _array_child(array, seconds, iterations):
    """Writes a 16 MiB pattern into the array under its lock, then reads it back
    under the lock, ``iterations`` times after one warm-up; times itself."""
    source = bytes(range(256)) * (ARRAY_BYTES // 256)
    target = bytearray(ARRAY_BYTES)
    view = memoryview(array.get_obj()).cast("B")

    def once():
        with array.get_lock():
            view[:] = source
        with array.get_lock():
            target[:] = view

    once()
    start = time.perf_counter()
    for _ in range(iterations):
        once()
    seconds.value = time.perf_counter() - start
    if target != source:
        raise SystemExit(3)


def array_bulk_child(iterations):
    """multiprocessing.Array('B') written and read through a memoryview (the fastest
    way Python offers) by a forked child."""
    context = multiprocessing.get_context("fork")
    array = context.Array("B", ARRAY_BYTES)
    seconds = context.Value("d", 0.0)
    child = context.Process(target=_array_child, args=(array, seconds, iterations), daemon=True)
    child.start()
    _join(child)
    return seconds.value


# Bytes of the array of the halves row (as the Rust row).
HALVES_BYTES = ARRAY_BYTES // 4


def _fill_half(array, start_line, finish_line, half, iterations):
    """Writes this child's half of the array ``iterations`` times, between the lines."""
    half_bytes = HALVES_BYTES // 2
    source = bytes(range(256)) * (half_bytes // 256)
    view = memoryview(array).cast("B")
    view[half * half_bytes:(half + 1) * half_bytes] = source  # as the Rust children's warm-up
    start_line.wait(JOIN_TIMEOUT)
    for _ in range(iterations):
        view[half * half_bytes:(half + 1) * half_bytes] = source
    finish_line.wait(JOIN_TIMEOUT)


def raw_array_halves(iterations):
    """Two forked children each write their own half of a multiprocessing.RawArray('Q')
    through a memoryview, at once."""
    context = multiprocessing.get_context("fork")
    array = context.RawArray("Q", HALVES_BYTES // 8)
    start_line = context.Barrier(3)
    finish_line = context.Barrier(3)
    children = [
        context.Process(
            target=_fill_half,
            args=(array, start_line, finish_line, half, iterations),
            daemon=True,
        )
        for half in range(2)
    ]
    for child in children:
        child.start()
    try:
        start_line.wait(JOIN_TIMEOUT)
        start = time.perf_counter()
        finish_line.wait(JOIN_TIMEOUT)
        elapsed = time.perf_counter() - start
    finally:
        for child in children:
            _join(child)
    source = bytes(range(256)) * (HALVES_BYTES // 512)
    view = memoryview(array).cast("B")
    benchlib.expect(view[: HALVES_BYTES // 2] == source, "the first half differs")
    benchlib.expect(view[HALVES_BYTES // 2 :] == source, "the second half differs")
    return elapsed


def _increment(value, start_line, share):
    start_line.wait(JOIN_TIMEOUT)
    for _ in range(share):
        with value.get_lock():
            value.value += 1


def value_locked_increment(iterations):
    """Two processes each add 1 to a multiprocessing.Value under its get_lock();
    together they do ``iterations`` increments."""
    context = multiprocessing.get_context("fork")
    value = context.Value("q", 0)
    start_line = context.Barrier(2)
    mine = iterations // 2
    child = context.Process(
        target=_increment, args=(value, start_line, iterations - mine), daemon=True
    )
    child.start()
    try:
        start_line.wait(JOIN_TIMEOUT)
        start = time.perf_counter()
        for _ in range(mine):
            with value.get_lock():
                value.value += 1
        child.join(JOIN_TIMEOUT)
        elapsed = time.perf_counter() - start
    finally:
        _join(child)
    benchlib.expect(value.value == iterations, f"counted {value.value}, expected {iterations}")
    return elapsed


def shared_memory_create(iterations):
    """Create a 4 KiB named block, then close and unlink it."""
    start = time.perf_counter()
    for _ in range(iterations):
        block = shared_memory.SharedMemory(create=True, size=4096)
        block.close()
        block.unlink()
    return time.perf_counter() - start


SMALL = {
    "id": 42,
    "name": "task-17",
    "values": [1, 2, 3, 4, 5, 6, 7, 8],
    "flag": True,
    "score": 0.5,
}


def _pickle_round_trips(message, iterations):
    start = time.perf_counter()
    for _ in range(iterations):
        back = pickle.loads(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))
    elapsed = time.perf_counter() - start
    benchlib.expect(back == message, "pickle changed the message")
    return elapsed


def pickle_small(iterations):
    """pickle.dumps + loads of a small record (what multiprocessing sends)."""
    return _pickle_round_trips(SMALL, iterations)


def pickle_64k(iterations):
    """pickle.dumps + loads of 64 KiB of bytes."""
    return _pickle_round_trips(bytes(range(256)) * 256, iterations)


if __name__ == "__main__":
    benchlib.main(
        {
            "array-bulk-child": array_bulk_child,
            "raw-array-halves": raw_array_halves,
            "value-locked-increment": value_locked_increment,
            "shared-memory-create": shared_memory_create,
            "pickle-small": pickle_small,
            "pickle-64k": pickle_64k,
        }
    )
