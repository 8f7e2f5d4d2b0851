"""Timers shared by the benchmark scripts (``python benchmarks/bench_*.py`` puts this folder
on ``sys.path``): the best wall time of repeats, and wall plus CPU time of one call."""

import time


def best_of(fn, repeats):
    """``(result of the last call, best wall-clock seconds over repeats)``."""
    best, out = float("inf"), None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return out, best


def timed(fn):
    """``(result, wall seconds, CPU seconds of this process)`` of one call."""
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0
