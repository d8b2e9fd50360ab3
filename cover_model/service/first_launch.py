"""What a fresh server starts by itself, so a visitor has covers and a model: the embedded
covers' generation and the paper's small CNN trained on them, each in the background.

Both are real work in child processes (the dashboard's pages only poll them): the covers
through :class:`cover_model.synth.BackgroundGeneration`, the model through the job queue,
where it waits for a free slot like any job.
"""
from __future__ import annotations

from pathlib import Path

from .. import public_mode
from ..networks import jobs
from ..networks.config import PRESETS, TrainConfig
from ..synth import BackgroundGeneration

DEMO_PRESET = "paper-cnn"          # the paper's small CNN on the embedded covers (about 30 s)


def start_covers_generation() -> BackgroundGeneration:
    """Start generating the embedded covers in a child process (call once per server)."""
    return BackgroundGeneration()


def start_demo_model() -> Path:
    """Queue the server's own demo job: no owner, so no visitor's session cap counts it.

    Raises
    ------
    JobError
        The checkpoints folder is read-only, or a limit refuses it.
    """
    return jobs.start_job(TrainConfig(**PRESETS[DEMO_PRESET]))


def job_stopped_message(status: dict) -> str | None:
    """Why a job stopped (failed or cancelled), else None while it is active or done."""
    if status["state"] not in ("failed", "cancelled"):
        return None
    return public_mode.visitor_message(status.get("error") or status["state"])
