"""The report's step loop: run each step once, record it, skip it next time.

Each step writes its files into the report folder and then, last and
atomically, ``steps/<name>.json``: a digest of what it depends on (its
*key*), what it produced and how long it took. A later run whose key matches
skips the step, so an interrupted report continues where it stopped and a
finished one re-renders in seconds. Every decision is appended to
``step_log.jsonl``.
"""
from __future__ import annotations

import fcntl
import json
import sys
import time
import traceback
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..atomic_files import read_json, write_json
from ..data.dataset import Dataset
from ..networks.runs import config_digest
from .config import ReportConfig
from .figures import FigureWriter

STEPS_DIR = "steps"
RECORD_VERSION = 3          # bump when what a step writes changes: every step then runs again
STEP_LOG = "step_log.jsonl"


class ReportError(ValueError):
    """The report cannot run (its folder is busy, a step cannot start)."""


@dataclass
class Step:
    """One resumable piece of the report.

    Attributes
    ----------
    name : str
        File name of its record, ``steps/<name>.json``.
    title : str
        What the terminal and the timing table call it.
    key : dict or callable
        Everything its outputs depend on; a change reruns the step. A callable
        ``key(ctx) -> dict`` is evaluated when the step's turn comes, for steps
        that depend on earlier steps' records.
    run : callable
        ``run(ctx) -> dict``: does the work, returns the record's contents (JSON values).
    still_valid : callable
        ``still_valid(record) -> bool``: False reruns a step whose key matches
        (its run folder was deleted, say).
    """
    name: str
    title: str
    key: dict | Callable[["ReportContext"], dict]
    run: Callable[["ReportContext"], dict]
    still_valid: Callable[[dict], bool] = lambda record: True


@dataclass
class ReportContext:
    """What every step gets: the data, the settings, the folder, and how to report progress."""
    dataset: Dataset
    data: str
    cfg: ReportConfig
    out_dir: Path
    figures: FigureWriter
    progress: Callable[[str], Callable[[int, int], None] | None] = lambda label: None
    say: Callable[[str], None] = lambda line: print(line, file=sys.stderr, flush=True)
    records: dict[str, dict] = field(default_factory=dict)
    executor: object = None     # ExecutorConfig of the networks' jobs (parallel_networks)
    # plan key -> (run folder, "missing" | "resumable"): networks training as jobs right now
    network_jobs: dict[str, tuple] = field(default_factory=dict)

    def path(self, *parts: str) -> Path:
        """A path inside the report folder (parents created)."""
        path = self.out_dir.joinpath(*parts)
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def folder(self, *parts: str) -> Path:
        """A folder inside the report folder (created)."""
        path = self.out_dir.joinpath(*parts)
        path.mkdir(parents=True, exist_ok=True)
        return path

    def relative(self, path: Path) -> str:
        return Path(path).relative_to(self.out_dir).as_posix()


@dataclass
class StepTiming:
    name: str
    title: str
    action: str             # ran | skipped | failed
    seconds: float          # in this invocation
    computed_s: float | None  # when the step (or the run it reused) was computed


def run_steps(steps: list[Step], ctx: ReportContext) -> list[StepTiming]:
    """Run or skip each step in order; a failed step is logged and the others go on.

    Returns
    -------
    list of StepTiming
        One per step, in order.
    """
    timings = []
    invocation = time.strftime("%Y-%m-%dT%H:%M:%S")
    for number, step in enumerate(steps, 1):
        record_path = ctx.path(STEPS_DIR, f"{step.name}.json")
        key = step.key(ctx) if callable(step.key) else step.key
        digest = config_digest({**key, "record_version": RECORD_VERSION})
        saved = read_json(record_path)
        if saved and saved.get("key") == digest and saved.get("status") != "failed" \
                and step.still_valid(saved):
            ctx.records[step.name] = saved
            ctx.say(f"[{number}/{len(steps)}] {step.title}: done before, skipped")
            timings.append(StepTiming(step.name, step.title, "skipped", 0.0, saved.get("computed_s")))
            _log(ctx, invocation, step.name, "skipped", 0.0)
            continue
        ctx.say(f"[{number}/{len(steps)}] {step.title} ...")
        start = time.perf_counter()
        try:
            record = step.run(ctx)
        except (KeyboardInterrupt, ReportError):
            raise
        except Exception as exc:       # one step's failure leaves the rest of the report standing
            seconds = time.perf_counter() - start
            message = f"{type(exc).__name__}: {exc}"
            ctx.say(f"[{number}/{len(steps)}] {step.title} failed: {message}")
            record = {"status": "failed", "error": message, "traceback": traceback.format_exc(limit=8)}
            timings.append(StepTiming(step.name, step.title, "failed", seconds, None))
        else:
            seconds = time.perf_counter() - start
            record = {"status": "done", **record}
            record.setdefault("computed_s", seconds)
            timings.append(StepTiming(step.name, step.title, "ran", seconds, record["computed_s"]))
            ctx.say(f"[{number}/{len(steps)}] {step.title}: {seconds:.1f} s")
        record |= {"key": digest, "name": step.name, "title": step.title, "seconds": seconds,
                   "finished": time.time()}
        write_json(record_path, record)
        ctx.records[step.name] = record
        _log(ctx, invocation, step.name, timings[-1].action, seconds)
    return timings


def read_step_log(out_dir: Path) -> list[dict]:
    """Every entry of ``step_log.jsonl``: invocation, step, action, seconds."""
    path = Path(out_dir) / STEP_LOG
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@contextmanager
def report_lock(out_dir: Path):
    """One report at a time per folder: a second one would interleave half-written steps."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / ".lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ReportError(f"{out_dir}: another report is being written there right now") from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _log(ctx: ReportContext, invocation: str, name: str, action: str, seconds: float) -> None:
    # Appending one short line is atomic enough: a crash loses at most that line.
    with open(ctx.path(STEP_LOG), "a") as fh:
        fh.write(json.dumps({"invocation": invocation, "step": name, "action": action,
                             "seconds": round(seconds, 3)}) + "\n")
