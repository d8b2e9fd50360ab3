"""Background training jobs for the dashboard: start, watch, cancel.

A job is ``python -m cover_model train`` in its own process, writing into its
run folder: ``status.json`` (state, pid, error), ``progress.json`` (the latest
step) and ``log.txt``. Everything lives on disk, so a page refresh or a server
restart loses nothing; the same settings cannot run twice at once.
"""
from __future__ import annotations

import dataclasses
import fcntl
import os
import signal
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

from . import runs
from .files import read_json, write_json
from .paths import PROJECT_ROOT, checkpoints_dir
from .runtime import tuned_env

REQUEST_NAME = "request.json"      # the TrainConfig a job was started with


def start_job(cfg, *, preset: str | None = None, root: Path | None = None) -> Path:
    """Start training ``cfg`` in a new process; return its run folder.

    If a job with the same settings is already running, return that one
    instead of starting a second copy (a double click, two tabs). ``preset``, the
    preset ``cfg`` holds (:func:`cover_model.training.preset_name`), names the run
    folder and goes into its ``config.json``.
    """
    root = Path(root or checkpoints_dir())
    request = dataclasses.asdict(cfg)
    digest = runs.config_digest(request)
    with _launch_lock(root):
        for run_dir in running_jobs(root):
            if (read_json(run_dir / REQUEST_NAME) or {}).get("digest") == digest:
                return run_dir
        run_dir = runs.new_run_dir(request, name=preset, root=root)
        write_json(run_dir / REQUEST_NAME, {"config": request, "digest": digest,
                                            **({"preset": preset} if preset else {})})
        with open(run_dir / "log.txt", "w") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "cover_model", "train", "--request", str(run_dir / REQUEST_NAME),
                 "--run-dir", str(run_dir), "--progress-file", str(run_dir / "progress.json")],
                cwd=PROJECT_ROOT, env=tuned_env(), stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)      # survives the page, and the server, that started it
        runs.write_status(run_dir, "running", pid=process.pid)
    return run_dir


def job_status(run_dir: Path) -> dict:
    """State, latest progress, and on failure the last lines of the log."""
    run_dir = Path(run_dir)
    status = runs.read_status(run_dir)
    status["progress"] = read_json(run_dir / "progress.json")
    if status["state"] == "failed":
        status["log_tail"] = _tail(run_dir / "log.txt")
    return status


def cancel_job(run_dir: Path) -> bool:
    """Ask a running job to stop; it saves its last epoch and marks itself cancelled."""
    status = runs.read_status(Path(run_dir))
    if status["state"] != "running":
        return False
    try:
        os.kill(int(status["pid"]), signal.SIGTERM)
    except ProcessLookupError:
        return False
    return True


def running_jobs(root: Path | None = None) -> list[Path]:
    """Run folders whose training process is alive."""
    root = Path(root or checkpoints_dir())
    if not root.is_dir():
        return []
    return [p for p in sorted(root.iterdir()) if (p / "status.json").is_file()
            and runs.read_status(p)["state"] == "running"]


@contextmanager
def _launch_lock(root: Path):
    root.mkdir(parents=True, exist_ok=True)
    with open(root / ".launch.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _tail(path: Path, n_lines: int = 12) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n_lines:])
    except OSError:
        return ""
