"""Where the project keeps generated data, caches and runs.

Everything defaults to folders beside the package (``data/``, ``checkpoints/``);
``COVER_LAB_DATA`` and ``COVER_LAB_CHECKPOINTS`` move them, e.g. to a scratch disk.
"""
from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def data_dir() -> Path:
    """Root for generated datasets, imported zips and caches."""
    return Path(os.environ.get("COVER_LAB_DATA", PROJECT_ROOT / "data"))


def cache_dir() -> Path:
    """Root for on-disk caches keyed by dataset fingerprint."""
    return data_dir() / "cache"


def checkpoints_dir() -> Path:
    """Root for run folders (``checkpoints/<run-id>/``)."""
    return Path(os.environ.get("COVER_LAB_CHECKPOINTS", PROJECT_ROOT / "checkpoints"))
