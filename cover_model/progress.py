"""Progress of long work, shared through a small JSON file.

A worker process writes it (atomically: a reader never sees half a file) and
the dashboard polls it, so a page refresh or a second viewer loses nothing.
"""
from __future__ import annotations

import time

from .files import read_json, write_json

read_progress = read_json


def progress_reporter(sink, *, every_s: float = 0.25):
    """A ``progress(done, total)`` callback that passes ``sink`` a status dict.

    The status holds ``done``, ``total``, ``rate`` (items/s) and ``eta_s``
    (None until a rate is known). ``sink`` is called at most every ``every_s``
    seconds, and always for the last item.
    """
    start = last = time.monotonic()

    def report(done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if done < total and now - last < every_s:
            return
        last = now
        rate = done / (now - start) if now > start else 0.0
        eta_s = (total - done) / rate if rate > 0 else None
        sink({"done": done, "total": total, "rate": rate, "eta_s": eta_s})
    return report


def progress_file_writer(path, *, every_s: float = 0.25):
    """A ``progress(done, total)`` callback that records the status in a JSON file."""
    return progress_reporter(lambda status: write_json(path, status), every_s=every_s)
