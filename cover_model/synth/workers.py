"""Rendering all the covers of a dataset, in worker processes when that helps.

The covers are cut into chunks and worker processes render and write the
chunks in parallel. Every cover depends only on (seed, genre, index), so the
files are the same bytes whoever renders them: when the worker pool cannot
start, or breaks at any point, the chunks the workers did not finish are
rendered in the calling process instead, with a warning saying why.

Pools break more often than one would think. Workers are started with
"spawn" (forking a threaded parent such as Streamlit or torch can deadlock),
and a spawned worker first re-runs the parent's main script. That fails for
``python -``, for scripts without an ``if __name__ == "__main__":`` guard, and
inside a Streamlit server, whose script runner makes the app script
``__main__`` so that every worker re-runs the app.
"""
from __future__ import annotations

import functools
import multiprocessing
import warnings
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Callable, Optional

import cv2

from ..genres import PAPER_GENRES
from .layout import write_cover

ProgressFn = Callable[[int, int], None]
ChunkTask = Callable[[list], int]

# Images per task handed to a worker: small enough for a smooth progress bar,
# big enough that the pickling overhead does not matter.
_CHUNK_SIZE = 25

# Raised while creating a pool or launching its processes when this platform
# or process cannot have one (no working semaphores, fork/exec limits, ...).
_CANNOT_START_ERRORS = (OSError, ImportError, NotImplementedError)


def report(progress: Optional[ProgressFn], done: int, total: int) -> None:
    if progress is not None:
        progress(done, total)


def write_chunk(root: str, items: list, *, seed: int, size_px: int, n_per_genre: int) -> int:
    """Worker task: render and write a list of (genre, index); returns the count."""
    for genre, index in items:
        write_cover(Path(root), genre, index, seed=seed, size_px=size_px, n_per_genre=n_per_genre)
    return len(items)


def render_all(root: Path, *, n_per_genre: int, seed: int, size_px: int, n_jobs: int,
               progress: Optional[ProgressFn]) -> None:
    """Render and write every cover of the dataset into the genre folders under ``root``.

    Reports ``progress(0, total)`` first and ``progress(total, total)`` last.
    """
    items = [(g, i) for i in range(n_per_genre) for g in PAPER_GENRES]
    chunks = [items[k:k + _CHUNK_SIZE] for k in range(0, len(items), _CHUNK_SIZE)]
    task = functools.partial(write_chunk, str(root), seed=seed, size_px=size_px, n_per_genre=n_per_genre)
    total = len(items)
    report(progress, 0, total)
    finished = set()
    if n_jobs > 1 and len(chunks) > 1:  # else one worker is not worth starting
        finished = _render_in_workers(task, chunks, min(n_jobs, len(chunks)), progress, total)
    done = sum(len(chunks[k]) for k in finished)
    for k, chunk in enumerate(chunks):
        if k not in finished:
            done += task(chunk)
            report(progress, done, total)


def _render_in_workers(task: ChunkTask, chunks: list, n_workers: int,
                       progress: Optional[ProgressFn], total: int) -> set[int]:
    """Run ``task`` on the chunks in worker processes; return the indices of those finished.

    If the pool cannot start or breaks, warns and returns whatever was
    finished, so the caller renders the rest itself. Any other error (one
    raised by ``task`` itself, an interrupt) propagates.
    """
    try:
        pool = _start_pool(n_workers)
    except _CANNOT_START_ERRORS as exc:
        _warn_rendering_here(exc, left=total, total=total)
        return set()
    futures: dict[Future, int] = {}
    broken: Optional[BaseException] = None
    try:
        _submit_all(pool, task, chunks, into=futures)
        _wait_reporting(futures, progress, total)
    except BrokenProcessPool as exc:
        broken = exc
    finally:
        # On an error or interrupt, drop queued chunks instead of rendering them all
        # first. After a break this also waits until the pool has killed its
        # workers, so none of them is still writing when the caller takes over.
        pool.shutdown(wait=True, cancel_futures=True)
    # Keep everything the workers completed, even chunks whose completion we had
    # not yet seen when the pool broke.
    finished = {k for future, k in futures.items() if _succeeded(future)}
    if broken is not None:
        left = total - sum(len(chunks[k]) for k in finished)
        _warn_rendering_here(broken, left=left, total=total)
    return finished


def _start_pool(n_workers: int) -> ProcessPoolExecutor:
    # "spawn": forking a threaded parent (Streamlit, torch) can deadlock.
    context = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(n_workers, mp_context=context, initializer=_init_worker)


def _init_worker() -> None:
    # We parallelise over processes; OpenCV's own threads would only contend.
    cv2.setNumThreads(1)


def _submit_all(pool: ProcessPoolExecutor, task: ChunkTask, chunks: list, *,
                into: dict[Future, int]) -> None:
    """Queue every chunk, recording each future's chunk index in ``into``."""
    for k, chunk in enumerate(chunks):
        try:
            future = pool.submit(task, chunk)
        except _CANNOT_START_ERRORS as exc:  # the first submit launches the processes
            raise BrokenProcessPool(f"worker processes could not be launched: {exc!r}") from exc
        into[future] = k


def _wait_reporting(futures: dict[Future, int], progress: Optional[ProgressFn], total: int) -> None:
    """Wait for every future, reporting the covers done so far after each."""
    done = 0
    for future in as_completed(futures):
        done += future.result()  # re-raises the worker's error, or BrokenProcessPool
        report(progress, done, total)


def _succeeded(future: Future) -> bool:
    return future.done() and not future.cancelled() and future.exception() is None


def _warn_rendering_here(reason: BaseException, *, left: int, total: int) -> None:
    warnings.warn(
        f"synthetic covers: the worker processes failed ({type(reason).__name__}: {reason}); "
        f"rendering in this process instead ({left} of {total} covers left). Spawned workers "
        "re-run the main script, which fails under Streamlit, for `python -` and for scripts "
        "without an `if __name__ == \"__main__\":` guard; pass n_jobs=1 there.",
        # Blame generate()'s caller, above _render_in_workers, render_all and generate.
        RuntimeWarning, stacklevel=5)
