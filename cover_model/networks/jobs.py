"""Background training jobs for the dashboard: queue, start, watch, cancel, resume.

A job is ``python -m cover_model train`` in its own process, writing into its
run folder (:class:`~cover_model.networks.runs.Run`): its request (settings, owner,
submit time), its status (queued, running, then done, failed or cancelled; pid,
error), its latest step and its log. Everything lives on disk,
so a page refresh or a server restart loses nothing; the same settings cannot
run twice at once.

:func:`start_job` records a job as ``queued``; :func:`dispatch` starts queued jobs,
oldest first, while fewer than ``limits().max_running_jobs`` run. It is called
when a job is queued, when a job's process ends (its own last act, in
``cli_train``), and whenever a page polls (:func:`job_status`,
:func:`running_jobs`), so the queue moves with no browser open, and after a
``kill -9`` too (a dead pid reads as failed, :meth:`cover_model.networks.runs.Run.status`).

A session (``owner``) may have ``limits().max_jobs_per_session`` jobs queued or
running; in public mode a job's work and its weights path are checked before it
is queued (:func:`check_job`).
"""
from __future__ import annotations

import contextlib
import dataclasses
import errno
import os
import re
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from .. import public_mode
from ..atomic_files import exclusive_lock
from ..data.dataset import Dataset, DatasetError, load_dataset
from ..data.splits import assign_splits
from ..paths import PROJECT_ROOT, checkpoints_dir
from ..runtime import tuned_env
from . import runs
from .config import ExecutorConfig

ACTIVE = ("queued", "running")
SESSION_LIMIT_MESSAGE = "You already have a job running or queued; wait for it or cancel it."


class JobError(RuntimeError):
    """A job cannot be queued; the message says why and what to change."""


class JobLimitError(JobError):
    """The session already has as many jobs queued or running as one session may."""


def start_job(cfg, *, owner: str | None = None, preset: str | None = None,
              root: Path | None = None, dataset: Dataset | None = None,
              executor=None) -> Path:
    """Queue training ``cfg`` (it starts at once while a slot is free); return its run folder.

    If a job with the same settings is already queued or running, return that one
    instead of starting a second copy (a double click, two tabs).

    Parameters
    ----------
    cfg : TrainConfig
    owner : str, optional
        The session asking (``ui.visitor_id()``): at most ``max_jobs_per_session`` of
        its jobs are queued or running. None (the CLI, the server's own demo) is not capped.
    preset : str, optional
        The preset ``cfg`` holds (:func:`cover_model.networks.config.preset_name`): it names
        the run folder and goes into its ``config.json``.
    root : Path, optional
        The folder of run folders (default: ``checkpoints_dir()``).
    dataset : Dataset, optional
        ``cfg.data`` already loaded, to count its training covers (public mode) without
        loading it again.
    executor : ExecutorConfig, optional
        Where the job runs (:mod:`cover_model.networks.cluster`): a local process (None,
        the default) or a submitit job with its resources.

    Raises
    ------
    JobLimitError
        ``owner`` has as many jobs queued or running as a session may.
    JobError
        Public mode refuses the job's work or weights path, or run folders cannot
        be written in ``root``.
    """
    root = Path(root or checkpoints_dir())
    cfg = check_job(cfg, dataset)
    request = dataclasses.asdict(cfg)
    digest = runs.config_digest(request)
    with _writing_runs(root), _launch_lock(root):
        for run_dir in _active(root):
            if request_of(run_dir).get("digest") == digest:
                return run_dir
        _check_session_cap(root, owner)
        run_dir = runs.Run.create(request, name=preset, root=root).path
        _enqueue(run_dir, {"config": request, "digest": digest,
                           **({"preset": preset} if preset else {}),
                           **({"executor": dataclasses.asdict(executor)} if executor else {})},
                 owner)
        _dispatch_locked(root)
    return run_dir


def resume_job(run_dir: Path, *, owner: str | None = None, executor=None) -> Path:
    """Queue ``train --resume`` of a failed or cancelled run (:func:`resumable`); return it.

    It goes through the same queue and limits as a new job, on the executor it ran on
    unless ``executor`` (an ExecutorConfig) says otherwise. Already queued or running, it
    is returned as it is.

    Raises
    ------
    JobError
        Nothing to resume, or as :func:`start_job`.
    """
    run_dir = Path(run_dir)
    run = runs.Run(run_dir)
    if run.has_status() and run.status()["state"] in ACTIVE:
        return run_dir                  # (status() reads no status at all as queued)
    if not resumable(run_dir):
        raise JobError(f"{run_dir.name} has no saved epoch to resume from")
    try:
        config = run.config()
        check_job(run.train_config())
    except ValueError as exc:              # RunError: its config is damaged or gone
        raise JobError(public_mode.visitor_message(f"cannot resume {run_dir.name}: {exc}")) from None
    root = run_dir.parent
    with _writing_runs(root), _launch_lock(root):
        if run.status()["state"] in ACTIVE:                    # a second click won the lock
            return run_dir
        _check_session_cap(root, owner)
        request = request_of(run_dir) or {                      # a run the CLI started
            "config": config, "digest": runs.config_digest(config)}
        run.clear_progress()                                   # the last run's final step
        if executor:
            request = request | {"executor": dataclasses.asdict(executor)}
        _enqueue(run_dir, request | {"resume": True}, owner)
        _dispatch_locked(root)
    return run_dir


def resumable(run_dir: Path) -> bool:
    """Whether a run stopped (failed or cancelled) with at least one epoch saved."""
    run = runs.Run(run_dir)
    return run.status()["state"] in ("failed", "cancelled") and run.can_resume()


JOB_NICENESS = 10     # jobs yield the cores to the server: a visitor's page before a job's epoch


def _lower_priority(pid: int) -> None:
    """Run a job below the dashboard, so that on a small machine a visitor's page is
    served before a job's next step (a job keeps both cores busy otherwise)."""
    try:
        os.setpriority(os.PRIO_PROCESS, pid, JOB_NICENESS)
    except (OSError, AttributeError):
        pass                  # gone already, or a platform without priorities: run as is


def job_status(run_dir: Path) -> dict:
    """State, latest progress; on failure the last lines of the log; while queued its
    ``queue_position`` (1 = next) and ``queue_length``; how far it is, ``fraction`` done
    and ``eta_s`` (:func:`cover_model.networks.runs.job_progress`). Moves the queue first."""
    run_dir = Path(run_dir)
    run = runs.Run(run_dir)
    dispatch(run_dir.parent)
    status = run.status()
    if status.get("job_id"):
        from . import cluster
        status = cluster.refine_status(run, status)
    status["progress"] = step = run.progress()
    status |= runs.job_progress(step, run.history() if step and "epoch" in step else [])
    status["where"] = job_location(status)
    if status["state"] == "failed":
        status["log_tail"] = run.log_tail()
        if status.get("job_id"):
            status["log_tail"] = cluster.log_tail(run, status) or status["log_tail"]
    elif status["state"] == "queued":
        queue = queued_jobs(run_dir.parent)
        if run_dir in queue:
            status |= {"queue_position": queue.index(run_dir) + 1, "queue_length": len(queue)}
    return status


def cancel_job(run_dir: Path) -> bool:
    """Take a queued job off the queue (it reads ``cancelled``), or ask a running job to
    stop: it saves its last epoch and marks itself cancelled. False if neither."""
    run_dir = Path(run_dir)
    run = runs.Run(run_dir)
    if run.status()["state"] == "queued" and _unqueue(run_dir):
        return True
    status = run.status()
    if status["state"] != "running":
        return False
    with contextlib.suppress(OSError):
        run.request_cancel()
    if status.get("job_id"):
        from . import cluster
        return cluster.cancel(run, status)
    try:
        os.kill(int(status["pid"]), signal.SIGTERM)
    except ProcessLookupError:
        return False
    return True


def running_jobs(root: Path | None = None) -> list[Path]:
    """Run folders whose training process is alive (after moving the queue)."""
    root = Path(root or checkpoints_dir())
    dispatch(root)
    return _running(root)


def queued_jobs(root: Path | None = None) -> list[Path]:
    """Jobs waiting for a free slot, oldest first (the order they will start in)."""
    root = Path(root or checkpoints_dir())
    # The recorded state must say queued: Run.status reads a missing or damaged one as
    # queued too, and such a folder must never be started.
    queued = [p for p in _job_dirs(root) if runs.Run(p).recorded_state() == "queued"]
    return sorted(queued, key=lambda p: (request_of(p).get("submitted", 0),
                                         p.name))


def request_of(run_dir: Path) -> dict:
    """What a job was asked to do (config, owner, submit time), or {} for a run the
    CLI started, or one whose request is unreadable."""
    return runs.Run(run_dir).request()


def owner_of(run_dir: Path) -> str | None:
    """The session that asked for this job (None: the CLI, or the server's demo)."""
    return request_of(run_dir).get("owner")


def latest_job(owner: str | None, root: Path | None = None) -> Path | None:
    """``owner``'s most recently submitted job, whatever its state, or None."""
    if not owner:
        return None
    root = Path(root or checkpoints_dir())
    requests = {p: request_of(p) for p in _job_dirs(root)}
    mine = [p for p, request in requests.items() if request.get("owner") == owner]
    return max(mine, key=lambda p: (requests[p].get("submitted", 0), p.name), default=None)


def find_job(name: str, root: Path | None = None) -> Path | None:
    """The job folder called ``name`` (a URL's ``run=``), or None; never a path elsewhere."""
    if not re.fullmatch(r"[\w-][\w.-]*", name or ""):
        return None
    run_dir = Path(root or checkpoints_dir()) / name
    return run_dir if runs.Run(run_dir).has_status() else None


def dispatch(root: Path | None = None) -> list[Path]:
    """Start queued jobs, oldest first, while fewer than ``max_running_jobs`` run;
    return those started.

    Cheap enough to call on every poll: without a queued job it only reads. Where the
    folder cannot be written (read-only) it starts nothing and raises nothing.
    """
    root = Path(root or checkpoints_dir())
    if not queued_jobs(root):
        return []
    try:
        with _launch_lock(root):
            return _dispatch_locked(root)
    except OSError:
        return []


# --- the limits of public mode -----------------------------------------------------

def check_job(cfg, dataset: Dataset | None = None):
    """``cfg`` as a job may run it, or a JobError for what public mode does not allow:
    a weights file outside the allowed folders (the same answer whether it exists or
    not, and no path in it), or more work than ``max_job_work``. An allowed weights
    path comes back resolved, so the job reads the very file that was checked (a
    relative one is relative to the first allowed folder, not the server's). Outside
    public mode ``cfg`` is returned as it is."""
    if cfg.weights:
        try:
            weights = public_mode.check_server_path(cfg.weights)
        except public_mode.AccessError as exc:
            why = exc if public_mode.allowed_roots() else "this demo reads no weights file from its server"
            raise JobError(f"Weights: {why}; leave it empty to use the ImageNet weights this "
                           "server has.") from None
        if public_mode.is_public():
            cfg = dataclasses.replace(cfg, weights=str(weights))
    cap = public_mode.limits().max_job_work
    if cap:
        dataset = _job_dataset(cfg, dataset)
        _check_work(cfg, _n_train(cfg, dataset), cap, stored_width=_stored_width(dataset))
    return cfg


def job_work(cfg, n_train: int, *, stored_width: int = 0) -> float:
    """epochs x training covers x what a step reads of each: its input pixels, or on a
    features-only dataset the ``stored_width`` numbers of its stored features (a head on
    them reads no pixel); a logistic head (no epochs) counts one epoch.

    >>> from cover_model.networks.training import TrainConfig
    >>> job_work(TrainConfig(epochs=10, size_px=224), 1000)
    501760000
    >>> job_work(TrainConfig(epochs=10, size_px=224), 1000, stored_width=2136)
    21360000
    """
    return _epochs(cfg) * n_train * (stored_width or cfg.input_px ** 2)


def _epochs(cfg) -> int:
    return 1 if cfg.head == "logistic" else cfg.epochs


def _check_work(cfg, n_train: int, cap: float, *, stored_width: int = 0) -> None:
    """A JobError naming the knob to turn when ``cfg`` asks for more than ``cap``."""
    work = job_work(cfg, n_train, stored_width=stored_width)
    if work <= cap:
        return
    px, epochs = cfg.input_px, _epochs(cfg)
    per_cover = stored_width or px ** 2
    fit_epochs = int(cap // (n_train * per_cover))
    fit_px = int((cap / (epochs * n_train)) ** 0.5)
    advice = []
    if cfg.head != "logistic" and fit_epochs >= 1:
        advice.append(f"fewer epochs (at most {fit_epochs:,}" +
                      (")" if stored_width else f" at {px} px)"))
    if fit_px >= 16 and not stored_width:       # stored features have one size
        advice.append(f"a smaller size (Size (px) at most {fit_px} for {epochs:,} epoch(s))")
    advice = advice or ["fewer covers"]
    read = f"{stored_width:,} stored features" if stored_width else f"{px}x{px} px"
    raise JobError(f"This job asks for more than this demo allows: {epochs:,} epoch(s) x "
                   f"{n_train:,} training covers x {read} = {work:.3g}; the limit is "
                   f"{cap:.3g}. Use {' or '.join(advice)}.")


def _job_dataset(cfg, dataset: Dataset | None) -> Dataset:
    """``cfg.data`` loaded (unless given), or a JobError a page can show."""
    try:
        return dataset if dataset is not None else load_dataset(cfg.data)
    except DatasetError as exc:
        raise JobError(public_mode.visitor_message(f"Cannot read the dataset: {exc}")) from None


def _stored_width(dataset: Dataset) -> int:
    """How many numbers a features-only dataset stores per cover for a head to read (0: it
    has pixels)."""
    return dataset.stored.info["extractor"]["channels"] if dataset.features_only else 0


def _n_train(cfg, dataset: Dataset | None) -> int:
    """How many covers ``cfg`` trains on: its data's training split, split as training will."""
    dataset = _job_dataset(cfg, dataset)
    try:
        split = assign_splits(dataset, scheme=cfg.split_scheme, seed=cfg.seed).items["split"]
    except ValueError:                  # training will refuse it too; bound by every cover
        return len(dataset)
    return int((split == "train").sum())


def _check_session_cap(root: Path, owner: str | None) -> None:
    cap = public_mode.limits().max_jobs_per_session
    if not cap or not owner:
        return
    mine = [p for p in _active(root) if owner_of(p) == owner]
    if len(mine) >= cap:
        raise JobLimitError(SESSION_LIMIT_MESSAGE if cap == 1 else
                            f"You already have {len(mine)} jobs running or queued, as many as "
                            "one session may; wait for one or cancel it.")


# --- the queue on disk ---------------------------------------------------------------

def _enqueue(run_dir: Path, request: dict, owner: str | None) -> None:
    run = runs.Run(run_dir)
    run.write_request(request | {"owner": owner, "submitted": time.time()})
    run.clear_cancel()                                              # a resume: the last Cancel
    run.write_status("queued", pid=None, pid_started=None, error=None, job_id=None, cluster=None)


def _unqueue(run_dir: Path) -> bool:
    """Mark a still-queued job cancelled (under the lock: the dispatcher may start it now)."""
    with _writing_runs(run_dir.parent), _launch_lock(run_dir.parent):
        run = runs.Run(run_dir)
        if run.status()["state"] != "queued":
            return False
        run.write_status("cancelled", error=None)
        return True


def _dispatch_locked(root: Path) -> list[Path]:
    free = max(public_mode.limits().max_running_jobs, 1) - len(_running(root))
    started = queued_jobs(root)[:max(free, 0)]
    for run_dir in started:
        _launch(run_dir)
    return started


def _launch(run_dir: Path) -> None:
    """Start a queued job and mark it running (the caller holds the lock): a process here,
    or a submitit job when its request names that executor (:mod:`.cluster`)."""
    run = runs.Run(run_dir)
    if run.request().get("executor", {}).get("executor") == "submitit":
        return _submit(run)
    log_mode = "a" if run.request().get("resume") else "w"     # a resume: the log goes on
    try:
        with open(run.log_file, log_mode) as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "cover_model", *run.train_args()],
                cwd=PROJECT_ROOT, env=tuned_env(), stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)      # survives the page, and the server, that started it
    except OSError as exc:                   # never retried forever: the job fails, the queue moves
        run.write_status("failed", error=f"could not start: {exc.strerror or exc}")
        return
    _lower_priority(process.pid)
    run.write_status("running", pid=process.pid, started=time.time(), executor="local",
                     host=socket.gethostname())


def _submit(run: runs.Run) -> None:
    from . import cluster  # submitit: only where a job goes through it
    settings = ExecutorConfig(**run.request()["executor"])
    try:
        where = cluster.submit(run, settings)
    except Exception as exc:                   # noqa: BLE001 - sbatch refused it, a bad partition
        run.write_status("failed", error=f"could not submit: {type(exc).__name__}: {exc}")
        return
    run.write_status("running", pid=None, pid_started=None, started=time.time(), **where)


def job_location(status: dict) -> str:
    """Where a job runs, in words: ``local process 1234 on host`` or ``submitit job 5678
    (slurm)``; '' before it started.

    >>> job_location({"executor": "submitit", "cluster": "slurm", "job_id": "42",
    ...               "cluster_state": "PENDING"})
    'submitit job 42 (slurm, PENDING)'
    >>> job_location({"pid": 7, "host": "box"})
    'local process 7 on box'
    """
    if status.get("job_id"):
        where = ", ".join(filter(None, [status.get("cluster", "?"), status.get("cluster_state")]))
        return f"submitit job {status['job_id']} ({where})"
    if status.get("pid"):
        return f"local process {status['pid']}" + (f" on {status['host']}" if status.get("host") else "")
    return ""


def mark_stopped(run_dir: Path, exc: BaseException) -> None:
    """A job's process stops on ``exc`` before training could record why (a bad request,
    no run to resume): mark it so, or it would hold its slot until its pid is gone."""
    if isinstance(exc, SystemExit):     # a submitit requeue: the job goes on (cluster.py)
        return
    run = runs.Run(run_dir)
    status = run.status()
    if status["state"] == "running" and status.get("pid") == os.getpid():
        cancelled = isinstance(exc, KeyboardInterrupt)
        run.write_status("cancelled" if cancelled else "failed",
                         error=None if cancelled else f"{type(exc).__name__}: {exc}")


def _running(root: Path) -> list[Path]:
    return [p for p in _job_dirs(root) if runs.Run(p).status()["state"] == "running"]


def _active(root: Path) -> list[Path]:
    return _running(root) + queued_jobs(root)


def _job_dirs(root: Path) -> list[Path]:
    """Folders of ``root`` with a status (jobs, and runs the CLI started); none if it is missing."""
    try:
        return [p for p in sorted(root.iterdir()) if runs.Run(p).has_status()]
    except OSError:
        return []


@contextmanager
def _writing_runs(root: Path):
    """Turn "this folder cannot be written" into a JobError a page can show."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise
        where = f"{root.name}/" if public_mode.is_public() else f"{root}/"
        raise JobError(f"cannot write run folders in {where} (read-only); set "
                       "COVER_LAB_CHECKPOINTS to a writable folder") from None


def _launch_lock(root: Path):
    return exclusive_lock(root / ".launch.lock")

