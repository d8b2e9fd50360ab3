"""Downsizing covers to an S x S grid, for a whole dataset, cached on disk.

Two ways, as in the paper: interpolation (OpenCV area, cubic, linear, nearest,
Lanczos) or random sampling of a grid of pixels. JPEGs are decoded at reduced
scale when the target is small, both cores work, and the result is cached by
(dataset fingerprint, method, size, seed): the second call is one file read.

    python -m cover_model preprocess DATA --size 32 --method area
"""
from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic_files import atomic_write
from ..config import Config, option
from ..disk_budget import enforce_disk_budget, mark_used
from ..paths import cache_dir
from .dataset import Dataset, Skipped
from .downsize import INTERPOLATIONS, METHODS, downsize, sample_grid  # noqa: F401 (re-exported)
from .feature_pack import pixels_refused
from .images import ImageDecodeError, cover_pixels

CACHE_VERSION = 1                # bump when the output of a method changes
_CHUNK = 64                      # covers per task: amortises scheduling, keeps progress live


@dataclass(frozen=True)
class PreprocessConfig(Config):
    """How covers are downsized; the paper's defaults."""
    size_px: int = option(32, "output grid side in pixels (the paper: 32; also 35, 70, 100)",
                          ge=1, le=1024)
    method: str = option("area", "an OpenCV interpolation, or 'random': the paper's random "
                         "grid of pixels", choices=METHODS)
    seed: int = option(0, "seed of the random grid (ignored by interpolation)")


@dataclass(frozen=True)
class CoverArrays:
    """Downsized covers of a dataset, aligned with its rows.

    Attributes
    ----------
    images : ndarray of shape (n, S, S, 3), uint8
    labels : ndarray of shape (n,), int64
    index : ndarray of shape (n,), int64
        Row of each cover in ``dataset.items`` (covers that failed are absent).
    skipped : tuple of Skipped
        Covers whose pixels could not be decoded, and why.
    """
    images: np.ndarray
    labels: np.ndarray
    index: np.ndarray
    skipped: tuple[Skipped, ...] = ()

    def __len__(self) -> int:
        return len(self.labels)


def preprocess_dataset(dataset: Dataset, *, size_px: int = 32, method: str = "area",
                       seed: int = 0, n_jobs: int | None = None, use_cache: bool = True,
                       progress=None) -> CoverArrays:
    """Downsize every cover of a dataset; cached on disk after the first call.

    Parameters
    ----------
    dataset : Dataset
    size_px : int, default=32
        Output side; the paper uses 32, and 35, 70, 100.
    method : str, default="area"
        See :func:`downsize`.
    seed : int, default=0
        Seeds ``random`` sampling (per cover, so results do not depend on
        ``n_jobs``); ignored by the interpolations.
    n_jobs : int, optional
        Decoding threads (default: all cores).
    use_cache : bool, default=True
    progress : callable, optional
        ``progress(done, total)`` as covers finish.

    Returns
    -------
    CoverArrays
    """
    PreprocessConfig(size_px=size_px, method=method, seed=seed)     # validates
    pixels_refused(dataset, "Downsizing covers")
    path = cache_path(dataset, size_px=size_px, method=method, seed=seed)
    if use_cache and (cached := _read_cache(path)) is not None:
        mark_used(path)
        if progress:
            progress(len(dataset), len(dataset))
        return cached
    result = _decode_all(dataset, size_px, method, seed, n_jobs or os.cpu_count() or 1, progress)
    if use_cache:
        _write_cache(path, result)
        enforce_disk_budget(keep=(path,))     # a hosted demo: old sizes and seeds go first
    return result


def cache_path(dataset: Dataset, *, size_px: int, method: str, seed: int) -> Path:
    """Where :func:`preprocess_dataset` caches a (dataset, method, size, seed)."""
    seed_part = f"-seed{seed}" if method == "random" else ""   # interpolation ignores it
    name = f"{dataset.fingerprint}-{method}-{size_px}px{seed_part}-v{CACHE_VERSION}.npz"
    return cache_dir() / "preprocess" / name


def _decode_all(dataset, size_px, method, seed, n_jobs, progress) -> CoverArrays:
    paths = dataset.items["path"].tolist()
    chunks = [range(i, min(i + _CHUNK, len(paths))) for i in range(0, len(paths), _CHUNK)]
    images = np.zeros((len(paths), size_px, size_px, 3), np.uint8)
    ok = np.zeros(len(paths), bool)
    skipped, done = [], 0
    # Threads suffice: PIL's JPEG decoder and cv2.resize release the GIL.
    with ThreadPoolExecutor(max_workers=n_jobs) as pool:
        tasks = [pool.submit(_decode_chunk, paths, rows, size_px, method, seed, images, ok)
                 for rows in chunks]
        for task, rows in zip(tasks, chunks):
            skipped += task.result()
            done += len(rows)
            if progress:
                progress(done, len(paths))
    index = np.flatnonzero(ok)
    labels = dataset.items["label"].to_numpy(np.int64)[index]
    return CoverArrays(images[index], labels, index, tuple(skipped))


def _decode_chunk(paths, rows, size_px, method, seed, out, ok) -> list[Skipped]:
    skipped = []
    for row in rows:
        rng = np.random.default_rng([seed, row]) if method == "random" else None
        try:       # as predict and Predict prepare an upload (cover_pixels): one path
            out[row] = cover_pixels(paths[row], size_px, method=method, rng=rng)
        except ImageDecodeError as exc:
            skipped.append(Skipped(paths[row], str(exc).removeprefix(f"{paths[row]}: ")))
            continue
        ok[row] = True
    return skipped


def _read_cache(path: Path) -> CoverArrays | None:
    try:
        with np.load(path, allow_pickle=False) as data:
            skipped = tuple(Skipped(str(p), str(r)) for p, r in
                            zip(data["skipped_paths"], data["skipped_reasons"]))
            return CoverArrays(data["images"], data["labels"], data["index"], skipped)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, EOFError):   # a damaged cache is rebuilt
        return None


def _write_cache(path: Path, arrays: CoverArrays) -> None:
    with atomic_write(path) as fh:
        np.savez(fh, images=arrays.images, labels=arrays.labels, index=arrays.index,
                 skipped_paths=np.array([s.path for s in arrays.skipped], dtype=str),
                 skipped_reasons=np.array([s.reason for s in arrays.skipped], dtype=str))
