"""Command-line protocol shared by the mp-bench Python scripts.

A script is run as ``python3 <script> <case> <iterations>``. It runs the case's
loop ``iterations`` times, timing only the loop with ``time.perf_counter()``
(interpreter start-up, imports and set-up are outside), and prints one JSON
object on its last line::

    {"case": "<case>", "iterations": <n>, "seconds": <float>}

A wrong outcome (a lost increment, a missing reply) raises, so the script exits
non-zero and mp-bench reports the error instead of a figure. A case that needs what
is not installed here raises ``Unavailable`` (``require`` does), and the last line
says so instead: ``{"case": ..., "iterations": n, "unavailable": "<why>"}``; mp-bench
shows it in the contender's line as a skip, not a failure.
"""

import contextlib
import json
import sys

USAGE = "usage: {script} CASE ITERATIONS\ncases: {cases}"


def main(cases):
    """Runs the case named on the command line; ``cases`` maps names to functions
    taking the iteration count and returning the measured seconds."""
    script = sys.argv[0]
    if len(sys.argv) != 3 or sys.argv[1] not in cases:
        print(USAGE.format(script=script, cases=", ".join(sorted(cases))), file=sys.stderr)
        sys.exit(2)
    case = sys.argv[1]
    try:
        iterations = int(sys.argv[2])
    except ValueError:
        iterations = 0
    if iterations < 1:
        print(f"{script}: ITERATIONS must be a positive integer, got {sys.argv[2]!r}", file=sys.stderr)
        sys.exit(2)
    try:
        seconds = cases[case](iterations)
    except Unavailable as missing:
        print(json.dumps({"case": case, "iterations": iterations, "unavailable": str(missing)}))
        return
    print(json.dumps({"case": case, "iterations": iterations, "seconds": seconds}))


class Unavailable(Exception):
    """Raised by a case that needs something not installed here; mp-bench shows the
    message in the contender's line and skips it."""


def require(module, install):
    """Imports and returns ``module``, or raises ``Unavailable`` saying how to install it."""
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise Unavailable(f"not installed: {module} ({install})") from None


def expect(condition, message):
    """Raises if a measured run produced a wrong outcome."""
    if not condition:
        raise RuntimeError(message)


@contextlib.contextmanager
def reaped(child, wait_limit):
    """Runs the body with ``child`` (a started ``multiprocessing.Process``) alive, then
    joins it within ``wait_limit`` seconds, killing it if the body failed or it has not
    ended, and checks that it exited with 0: a failed run never leaves a process behind."""
    finished = False
    try:
        yield
        finished = True
    finally:
        if not finished:
            child.kill()
        child.join(wait_limit)
        if child.is_alive():
            child.kill()
            child.join()
    expect(child.exitcode == 0, f"child exited with {child.exitcode}")
