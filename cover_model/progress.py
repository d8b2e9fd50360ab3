"""Progress of long work: one source of status dicts, shown on a terminal, in a log or in a file.

Work reports ``progress(done, total)`` or, in training, a status dict per step.
:func:`stage_progress` and :func:`progress_reporter` turn counts into status
dicts (items done, rate, ETA); the sinks here show them:

- :class:`StatusPrinter`: stderr. A terminal gets a tqdm bar per stage or epoch
  (tqdm pads a shorter line over a longer one and writes slow rates as s/item); a
  log gets a plain line every :data:`LOG_EVERY_S` seconds and one when each
  stage or epoch ends, so a job's ``log.txt`` shows it is alive without ``\\r``.
- :func:`progress_file_writer`, :func:`status_file_writer`: a small JSON file,
  written atomically (a reader never sees half a file), which the dashboard polls,
  so a page refresh or a second viewer loses nothing.

    python -m cover_model preprocess DATA        # a bar on a terminal, lines in a log
"""
from __future__ import annotations

import sys
import time

from tqdm import tqdm

from .atomic_files import read_json, write_json

read_progress = read_json

# A log file (not a terminal) gets a progress line at least this often, and at each end.
LOG_EVERY_S = 5.0


def _throttled(sink, every_s: float, is_last):
    """``sink`` called at most every ``every_s`` seconds, and always when ``is_last(status)``."""
    last = [time.monotonic()]

    def report(status: dict) -> None:
        now = time.monotonic()
        if is_last(status) or now - last[0] >= every_s:
            last[0] = now
            sink(status)
    return report


def _rate_and_eta(done: int, total: int, seconds: float) -> tuple[float, float | None]:
    """Items per second since the start, and seconds left (None until a rate is known)."""
    rate = done / seconds if seconds > 0 else 0.0
    return rate, (total - done) / rate if rate > 0 else None


def progress_reporter(sink, *, every_s: float = 0.25):
    """A ``progress(done, total)`` callback that passes ``sink`` a status dict.

    The status holds ``done``, ``total``, ``rate`` (items/s) and ``eta_s``
    (None until a rate is known). ``sink`` is called at most every ``every_s``
    seconds, and always for the last item.
    """
    start = time.monotonic()
    throttled = _throttled(sink, every_s, lambda status: status["done"] >= status["total"])

    def report(done: int, total: int) -> None:
        rate, eta_s = _rate_and_eta(done, total, time.monotonic() - start)
        throttled({"done": done, "total": total, "rate": rate, "eta_s": eta_s})
    return report


def progress_file_writer(path, *, every_s: float = 0.25):
    """A ``progress(done, total)`` callback that records the status in a JSON file."""
    return progress_reporter(lambda status: write_json(path, status), every_s=every_s)


def status_file_writer(path, *, every_s: float = 0.5):
    """A sink of training statuses that records the latest in a JSON file (``path`` None:
    nothing); at most every ``every_s`` seconds, and always at the end of a stage or epoch."""
    if path is None:
        return lambda status: None
    return _throttled(lambda status: write_json(path, status), every_s, _ends)


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
        rate, eta_s = _rate_and_eta(done, total, time.monotonic() - start)
        progress({"stage": stage, "step": done, "steps": total, "rate": rate, "eta_s": eta_s})
    return report


def terminal_progress(label: str, *, unit: str = ""):
    """A ``progress(done, total)`` callback shown on stderr under ``label`` (a bar, or log lines)."""
    return stage_progress(StatusPrinter(unit=unit), label)


class StatusPrinter:
    """A sink of status dicts that shows them on stderr: a bar on a terminal, lines in a log.

    Accepts :func:`stage_progress`'s statuses and training's per-step ones (``epoch``,
    ``loss``, ``acc1``, ``img_per_s``). Each stage or epoch gets its own bar, which
    starts at the first step it sees: a step reported done at once (a cached one)
    shows no rate rather than its count over a few nanoseconds.

    Parameters
    ----------
    unit : str, default="covers"
        What a step of a stage counts ("" for a bare "/s").
    file : text file, optional
        Default: ``sys.stderr`` at the time of the call.
    tty : bool, optional
        Draw bars (default: whether ``file`` is a terminal).
    """

    def __init__(self, *, unit: str = "covers", file=None, tty: bool | None = None):
        self.unit, self.file = unit, file or sys.stderr
        self.tty = self.file.isatty() if tty is None else tty
        self._bar, self._key, self._first_step = None, None, 0
        self._log = _throttled(self._print_line, LOG_EVERY_S, _ends)

    def __call__(self, status: dict) -> None:
        key = status.get("stage") or (status.get("epoch"), status.get("epochs"))
        if key != self._key:
            self._close()
            self._key, self._first_step = key, status["step"]
        if self.tty:
            self._draw(status)
        else:
            self._log(status)
        if _ends(status):
            self._close()

    def _draw(self, status: dict) -> None:
        if self._bar is None:
            self._bar = tqdm(total=status["steps"], initial=status["step"], file=self.file,
                             desc=_title(status), unit=self.unit if "stage" in status else "step",
                             mininterval=0.5, dynamic_ncols=True)
        if "epoch" in status:
            self._bar.set_postfix_str(f"loss {status['loss']:.3f} acc {status['acc1']:.1%} "
                                      f"{status['img_per_s']:,.0f} img/s", refresh=False)
        self._bar.update(status["step"] - self._bar.n)

    def _print_line(self, status: dict) -> None:
        measured = status["step"] > self._first_step      # else its rate timed no work
        print(status_line(status, unit=self.unit, rate=measured), file=self.file, flush=True)

    def _close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        self._bar = self._key = None


def status_line(status: dict, *, unit: str = "covers", rate: bool = True) -> str:
    """One status as a line of text (``rate=False``: without its rate).

    >>> status_line({"stage": "embedding covers", "step": 5, "steps": 60, "rate": 0.5,
    ...              "eta_s": 110.0})
    'embedding covers: 5/60 (0.5 covers/s) ETA 110 s'
    """
    eta = "" if status.get("eta_s") is None else f" ETA {status['eta_s']:.0f} s"
    if "stage" in status:               # before the epochs, or a fit without them
        per_s = f" ({_number(status['rate'])}{' ' + unit if unit else ''}/s)" \
            if rate and status.get("rate") else ""
        return f"{_title(status)}: {status['step']}/{status['steps']}{per_s}{eta}"
    return (f"{_title(status)} step {status['step']}/{status['steps']} "
            f"loss {status['loss']:.3f} acc {status['acc1']:.1%} "
            f"{_number(status['img_per_s'])} img/s{eta}")


def _title(status: dict) -> str:
    return status["stage"] if "stage" in status else f"epoch {status['epoch']}/{status['epochs']}"


def _number(rate: float) -> str:
    """A rate to two significant figures below 10 (0.5, not 0), whole above."""
    return f"{rate:,.0f}" if rate >= 10 else f"{rate:.2g}"


def _ends(status: dict) -> bool:
    """Whether a status is the last of its stage or epoch."""
    return status["step"] >= status["steps"]
