"""Backgrounds: the first layer of a cover, painted over the whole canvas.

Each background is ``(rng, size, palette) -> float32 (size, size, 3)`` image
and is registered in ``BACKGROUNDS`` under the name the genre priors use.
"""
from __future__ import annotations

import math

import cv2
import numpy as np

from .canvas import smooth_noise, unit_grid
from .palettes import accent, any_colour


def _ramp(t: np.ndarray, colours: list) -> np.ndarray:
    """Map t in 0-1 to a piecewise-linear blend through ``colours``."""
    stops = np.asarray(colours, dtype=np.float32)
    pos = np.clip(t, 0.0, 1.0) * (len(stops) - 1)
    lower = np.minimum(pos.astype(np.int32), len(stops) - 2)
    frac = (pos - lower)[..., None]
    return stops[lower] * (1.0 - frac) + stops[lower + 1] * frac


def _flat(rng, size, palette):
    return np.full((size, size, 3), palette[0], dtype=np.float32)


def _linear(rng, size, palette):
    x, y = unit_grid(size)
    angle = rng.uniform(0, 2 * math.pi)
    t = (x - 0.5) * math.cos(angle) + (y - 0.5) * math.sin(angle) + 0.5
    stops = [palette[0], palette[1]] + ([accent(rng, palette)] if rng.random() < 0.4 else [])
    return _ramp(t, stops)


def _radial(rng, size, palette):
    x, y = unit_grid(size)
    cx, cy = rng.uniform(0.3, 0.7, size=2)
    reach = rng.uniform(0.45, 0.9)
    t = np.sqrt((x - cx) ** 2 + (y - cy) ** 2) / reach
    return _ramp(t ** rng.uniform(0.7, 1.6), [palette[1], palette[0]])


def _soft_blobs(rng, size, palette):
    # Paint big circles on a tiny canvas and blur it: soft, cheap gradients.
    small = np.full((48, 48, 3), palette[0], dtype=np.float32)
    for _ in range(int(rng.integers(3, 8))):
        centre = tuple(int(v) for v in rng.integers(0, 48, size=2))
        cv2.circle(small, centre, int(rng.integers(6, 22)), any_colour(rng, palette), -1)
    small = cv2.GaussianBlur(small, (0, 0), rng.uniform(4, 8))
    return cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC)


def _landscape(rng, size, palette):
    x, y = unit_grid(size)
    horizon = rng.uniform(0.45, 0.8)
    sky = _ramp(y / horizon, [palette[1], palette[0]])
    ground_colour = np.asarray(accent(rng, palette), dtype=np.float32)
    mottle = 0.75 + 0.5 * smooth_noise(rng, size, 12)
    ground = ground_colour * mottle
    # A ridge line from a random walk gives hills rather than a ruler-flat horizon.
    ridge = np.cumsum(rng.normal(0, 0.02, size=9)) + horizon
    ridge_px = np.interp(x[0], np.linspace(0, 1, 9), ridge).astype(np.float32)
    return np.where((y > ridge_px[None, :])[..., None], ground, sky)


def _photo(rng, size, palette):
    # Blotches at two scales mixed between palette colours: reads like an
    # out-of-focus photograph.
    weights = 0.6 * smooth_noise(rng, size, 5, 3) + 0.4 * smooth_noise(rng, size, 18, 3)
    weights = weights ** 2
    weights /= weights.sum(axis=2, keepdims=True) + 1e-6
    colours = np.asarray([palette[0], palette[1], accent(rng, palette)], dtype=np.float32)
    light = 0.7 + 0.6 * smooth_noise(rng, size, 4)
    return (weights @ colours) * light


def _dark_glow(rng, size, palette):
    x, y = unit_grid(size)
    cx, cy = rng.uniform(0.2, 0.8, size=2)
    glow = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / rng.uniform(0.02, 0.12))
    base = np.asarray(palette[0], dtype=np.float32) * 0.6
    return base + glow[..., None] * np.asarray(accent(rng, palette), np.float32) * rng.uniform(0.3, 0.7)


BACKGROUNDS = {
    "flat": _flat, "linear": _linear, "radial": _radial,
    "soft_blobs": _soft_blobs, "landscape": _landscape,
    "photo": _photo, "dark_glow": _dark_glow,
}
