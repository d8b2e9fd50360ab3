"""Progress of long work, shared through a small JSON file.

A worker process writes it (atomically: a reader never sees half a file) and
the dashboard polls it, so a page refresh or a second viewer loses nothing.
"""
from __future__ import annotations

import time

from .files import read_json, write_json

read_progress = read_json


def progress_file_writer(path, *, every_s: float = 0.25):
    """A ``progress(done, total)`` callback that records count, rate and ETA in ``path``."""
    start = last = time.monotonic()

    def report(done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if done < total and now - last < every_s:
            return
        last = now
        rate = done / (now - start) if now > start else 0.0
        eta_s = (total - done) / rate if rate > 0 else None
        write_json(path, {"done": done, "total": total, "rate": rate, "eta_s": eta_s})
    return report
