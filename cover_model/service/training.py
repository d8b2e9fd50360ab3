"""A visitor's training jobs on the dashboard: starting one (or finding the same settings
already queued or running), the job the Train page watches, who may stop it, and a run's
settings as the page shows them."""
from __future__ import annotations

import dataclasses
from pathlib import Path

from .. import public_mode
from ..networks import jobs, runs
from ..networks.config import TrainConfig
from .catalogue import visible_runs


def start_for(visitor: str, cfg: TrainConfig, *, dataset, executor=None,
              preset: str | None = None) -> tuple[Path, str | None]:
    """Queue ``cfg`` for ``visitor``: (its run folder, None), or where the same settings
    are already queued or running, (that folder, its state).

    Raises
    ------
    JobError
        A limit refuses it, or the checkpoints folder is read-only; the message is for
        the visitor.
    """
    before = {*jobs.running_jobs(), *jobs.queued_jobs()}
    run_dir = jobs.start_job(cfg, owner=visitor, dataset=dataset, executor=executor, preset=preset)
    return run_dir, jobs.job_status(run_dir)["state"] if run_dir in before else None


def may_control(run_dir: Path, visitor: str) -> bool:
    """Cancel and Resume: on a public demo only for the visitor's own jobs; locally for any."""
    return not public_mode.is_public() or jobs.owner_of(run_dir) == visitor


def watched_job(visitor: str, *, in_session: str | None, in_url: str | None,
                running: list[Path]) -> Path | None:
    """The job the Train page shows: this session's; after a reload the one the URL names,
    else the visitor's newest, whatever its state; locally, else the newest of ``running``
    (the page's :func:`jobs.running_jobs`, read once a rerun). A folder gone (another
    checkpoints dir) is skipped, and a stranger's job named in the URL is not shown."""
    candidates = [in_session, jobs.find_job(in_url or ""), jobs.latest_job(visitor)]
    if not public_mode.is_public():
        candidates += running[-1:]
    for candidate in candidates:
        if candidate and runs.Run(candidate).has_status() and visible_runs([Path(candidate)], visitor):
            return Path(candidate)
    return None


def run_settings(run_dir: Path) -> dict:
    """A run's settings, those it lacks at TrainConfig's defaults (older runs, and settings
    a run's head never used); before its config exists (data still loading), its request."""
    run = runs.Run(run_dir)
    saved = run.config(missing_ok=True) or run.request().get("config", {})
    try:
        cfg = TrainConfig.from_saved(saved)
    except ValueError:                 # a damaged or foreign config: show what it says
        return saved
    return dataclasses.asdict(cfg) | {"input_px": cfg.input_px} | saved
