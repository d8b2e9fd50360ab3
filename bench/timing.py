"""The one timer the benchmarks share (run as scripts, they import it from their own folder)."""
import statistics
import time


def median_seconds(fn, repeats: int) -> float:
    """Median wall seconds over ``repeats`` calls of ``fn``."""
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds)
