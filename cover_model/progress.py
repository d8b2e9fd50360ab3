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


def stage_progress(progress, stage: str):
    """A ``progress(done, total)`` callback that passes ``progress`` a training status.

    Training reports dicts (:func:`cover_model.networks.training.main`); work before its
    epochs (downsizing, embedding) and the scoring of a run report, per ``stage``,
    ``{"stage", "step", "steps", "rate", "eta_s"}``: items done and in all, items
    per second, and seconds left (None until a rate is known). No ``epoch`` key:
    that marks a status as coming from before the epochs.

    >>> seen = []
    >>> stage_progress(seen.append, "downsizing covers")(0, 10)
    >>> seen[0]["stage"], seen[0]["step"], seen[0]["steps"], seen[0]["eta_s"]
    ('downsizing covers', 0, 10, None)
    >>> stage_progress(None, "downsizing covers") is None
    True
    """
    if progress is None:
        return None
    start = time.monotonic()

    def report(done: int, total: int) -> None:
        seconds = time.monotonic() - start
        rate = done / seconds if seconds > 0 else 0.0
        progress({"stage": stage, "step": done, "steps": total, "rate": rate,
                  "eta_s": (total - done) / rate if rate > 0 else None})
    return report
