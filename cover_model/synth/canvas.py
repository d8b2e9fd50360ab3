"""Pixel-space helpers shared by the layers (backgrounds, motifs, textures).

Shapes are positioned in fractions of the cover side and converted here, so
every layer scales with ``size_px``.
"""
from __future__ import annotations

import functools

import cv2
import numpy as np


@functools.lru_cache(maxsize=4)
def unit_grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates ``(x, y)`` in 0-1, shared by all covers of one size.

    >>> x, y = unit_grid(4)
    >>> x[0].tolist(), y[:, 0].tolist()
    ([0.125, 0.375, 0.625, 0.875], [0.125, 0.375, 0.625, 0.875])
    """
    axis = (np.arange(size, dtype=np.float32) + 0.5) / size
    x, y = np.meshgrid(axis, axis)
    x.flags.writeable = y.flags.writeable = False  # shared between covers: never edit in place
    return x, y


def smooth_noise(rng, size: int, cells: int, channels: int = 1) -> np.ndarray:
    """Low-frequency noise in 0-1: a tiny random grid upscaled (cheap, smooth)."""
    grid = rng.random((cells, cells, channels), dtype=np.float32)
    big = cv2.resize(grid, (size, size), interpolation=cv2.INTER_CUBIC)
    return np.clip(big.reshape(size, size, channels), 0.0, 1.0)


def px(size: int, fraction: float) -> int:
    """``fraction`` of the cover side in whole pixels, at least 1.

    >>> px(350, 0.1), px(350, 0.0001)
    (35, 1)
    """
    return max(1, int(round(size * fraction)))


def point(rng, size, lo=0.0, hi=1.0) -> tuple[int, int]:
    """A random ``(x, y)`` pixel with both coordinates in ``[lo, hi)`` of the side."""
    return tuple(int(v) for v in rng.uniform(lo, hi, size=2) * size)
