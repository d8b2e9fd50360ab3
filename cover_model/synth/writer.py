"""Writing the dataset folder atomically, and the default dataset under ``data/``.

``generate`` renders into a temp sibling folder unique to this process,
writes the marker last and renames the folder into place, so an interrupted
run never leaves a dataset that looks finished, and concurrent writers of the
same dataset are safe (the first rename wins; the results are identical).
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from typing import Optional

from ..genres import PAPER_GENRES, folder_name
from ..paths import data_dir
from .layout import MARKER_NAME, dataset_params, is_complete, marker_text, read_marker
from .render import DEFAULT_SIZE_PX, SYNTH_VERSION
from .workers import ProgressFn, render_all, report


def generate(out_dir, *, n_per_genre: int = 100, seed: int = 0, size_px: int = DEFAULT_SIZE_PX,
             n_jobs: int = 2, progress: Optional[ProgressFn] = None) -> Path:
    """Write the synthetic folder dataset to ``out_dir`` (atomically).

    Covers are rendered into a temp sibling folder unique to this process,
    the ``SYNTHETIC.txt`` marker is written last, and the folder is renamed
    into place, so an interrupted run never leaves a dataset that looks
    finished. If ``out_dir`` already holds a complete dataset with the same
    parameters this returns at once; concurrent writers of the same dataset
    are safe (the first rename wins, the result is identical).

    Parameters
    ----------
    out_dir : str or os.PathLike
        Dataset root to create; must not exist, be empty, or already hold
        this exact dataset.
    n_per_genre : int, optional
        Covers per genre (default 100, i.e. 1000 covers).
    seed : int, optional
        Dataset seed (default 0).
    size_px : int, optional
        Side of each square cover (default 350).
    n_jobs : int, optional
        Worker processes (default 2). The files do not depend on it. If the
        workers cannot start or die, the rest is rendered in this process
        (with a ``RuntimeWarning``).
    progress : callable, optional
        ``progress(done, total)``, called with 0 first and then as covers
        are written, ending with ``done == total``.

    Returns
    -------
    pathlib.Path
        ``out_dir``.

    Raises
    ------
    FileExistsError
        If ``out_dir`` holds anything other than this dataset.
    """
    out_dir = Path(out_dir)
    if n_per_genre < 1:
        raise ValueError("n_per_genre must be >= 1")
    params = dataset_params(n_per_genre=n_per_genre, seed=seed, size_px=size_px)
    total = n_per_genre * len(PAPER_GENRES)
    if is_complete(out_dir, params):
        report(progress, total, total)
        return out_dir
    _check_can_publish(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_partials(out_dir)
    tmp = out_dir.parent / f"{_partial_prefix(out_dir)}{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        for genre in PAPER_GENRES:
            (tmp / folder_name(genre)).mkdir(parents=True)
        render_all(tmp, n_per_genre=n_per_genre, seed=seed, size_px=size_px,
                   n_jobs=n_jobs, progress=progress)
        (tmp / MARKER_NAME).write_text(marker_text(params), encoding="utf-8")
        _publish(tmp, out_dir, params)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out_dir


def _check_can_publish(out_dir: Path) -> None:
    """Refuse to overwrite anything that is not an empty folder."""
    if not out_dir.exists():
        return
    if not out_dir.is_dir() or any(out_dir.iterdir()):
        found = read_marker(out_dir)
        what = "a synthetic dataset with other parameters" if found else "other files"
        raise FileExistsError(f"{out_dir} already holds {what}; delete it or choose another folder")


def _publish(tmp: Path, out_dir: Path, params: dict[str, str]) -> None:
    """Move the finished temp folder into place; losing a race to an identical writer is fine."""
    try:
        os.rename(tmp, out_dir)
    except OSError:
        if not is_complete(out_dir, params):
            raise


# --------------------------------------------------------------------------
# Temp folders: ".<name>.partial-<host>-<pid>-<random>" beside the dataset
# --------------------------------------------------------------------------

def _partial_prefix(out_dir: Path) -> str:
    return f".{out_dir.name}.partial-{socket.gethostname()}-"


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def _remove_stale_partials(out_dir: Path) -> None:
    """Delete temp folders left by interrupted runs on this host (dead pids only)."""
    prefix = _partial_prefix(out_dir)
    for candidate in out_dir.parent.glob(prefix + "*"):
        pid_text = candidate.name[len(prefix):].split("-", 1)[0]
        if pid_text.isdigit() and not _pid_alive(int(pid_text)):
            shutil.rmtree(candidate, ignore_errors=True)


# --------------------------------------------------------------------------
# The default dataset
# --------------------------------------------------------------------------

def default_dataset_dir(*, n_per_genre: int = 100, seed: int = 0) -> Path:
    """Where the default synthetic dataset lives: ``data_dir()/synth-v<V>-seed<S>-n<N>``."""
    return data_dir() / f"synth-v{SYNTH_VERSION}-seed{seed}-n{n_per_genre}"


def default_dataset_ready(*, n_per_genre: int = 100, seed: int = 0) -> bool:
    """Whether the default dataset is already on disk, complete (no work to wait for)."""
    params = dataset_params(n_per_genre=n_per_genre, seed=seed, size_px=DEFAULT_SIZE_PX)
    return is_complete(default_dataset_dir(n_per_genre=n_per_genre, seed=seed), params)


def ensure_default_dataset(*, n_per_genre: int = 100, seed: int = 0,
                           progress: Optional[ProgressFn] = None) -> Path:
    """Return the default synthetic dataset's folder, generating it on first use.

    Parameters
    ----------
    n_per_genre : int, optional
        Covers per genre (default 100).
    seed : int, optional
        Dataset seed (default 0).
    progress : callable, optional
        ``progress(done, total)`` while generating (see :func:`generate`).

    Returns
    -------
    pathlib.Path
        The dataset root, ready to load as a folder dataset.
    """
    out_dir = default_dataset_dir(n_per_genre=n_per_genre, seed=seed)
    return generate(out_dir, n_per_genre=n_per_genre, seed=seed,
                    n_jobs=min(2, os.cpu_count() or 1), progress=progress)


class BackgroundGeneration:
    """The default dataset generated by a child process (``python -m cover_model synth``),
    which reports to ``folder/progress.json`` and logs to ``folder/log.txt``.

    A child process keeps a server responsive, uses both cores (worker pools cannot start
    inside Streamlit's script runner) and reports through a file any page can poll.
    """

    def __init__(self, folder: Path | None = None):
        from ..paths import PROJECT_ROOT
        from ..runtime import tuned_env
        self.folder = Path(folder or tempfile.mkdtemp(prefix="cover-lab-synth-"))
        with open(self.folder / "log.txt", "w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "cover_model", "synth", "--progress-file",
                 str(self.folder / "progress.json")],
                cwd=PROJECT_ROOT, env=tuned_env(), stdout=log, stderr=subprocess.STDOUT)

    @property
    def running(self) -> bool:
        return self.process.poll() is None

    def progress(self) -> tuple[int, int]:
        """(covers done, total); (0, 0) before the child's first report."""
        from ..progress import read_progress
        state = read_progress(self.folder / "progress.json") or {}
        return state.get("done", 0), state.get("total", 0)

    def failure(self) -> str:
        """The last line the child logged: why it stopped (read once it has ended)."""
        lines = (self.folder / "log.txt").read_text().strip().splitlines()
        return lines[-1] if lines else "no output"
