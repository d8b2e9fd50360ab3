"""The last two layers of a cover: a surface texture, then a tone finish.

Textures (``TEXTURES``) are ``(rng, float32 image) -> float32 image`` and
imitate how the cover was made or printed: film grain, photocopy, paper,
scanlines, grunge. The finish (``Finish`` + ``apply_finish``) is the global
tone adjustment a designer would apply last: tint, saturation, contrast,
gamma, vignette, and sometimes blur, posterisation or a chroma shift.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np

from .canvas import point, smooth_noise, unit_grid
from .palettes import hsv

# --------------------------------------------------------------------------
# Textures
# --------------------------------------------------------------------------

def _gaussian_grain(rng, img, sigma):
    # One noise value per pixel for all channels: luminance grain, not colour noise.
    noise = rng.standard_normal(img.shape[:2], dtype=np.float32) * sigma
    return img + noise[..., None]


def _none(rng, img):
    return img


def _fine_grain(rng, img):
    return _gaussian_grain(rng, img, rng.uniform(2, 5))


def _film(rng, img):
    return _gaussian_grain(rng, img, rng.uniform(7, 15))


def _xerox(rng, img):
    # Photocopy look: speckle, dark smudges and streaks.
    size = img.shape[0]
    speckle = rng.random((size, size), dtype=np.float32)
    density = rng.uniform(0.01, 0.05)
    img[speckle < density] = 15.0
    img[speckle > 1 - density / 2] = 245.0
    smudge = smooth_noise(rng, size, int(rng.integers(6, 14)))
    img *= np.where(smudge > 0.75, 0.55, 1.0)
    streaks = rng.random(size, dtype=np.float32) < 0.03
    img[streaks] *= 0.6
    return _gaussian_grain(rng, img, 10)


def _paper(rng, img):
    size = img.shape[0]
    mottle = 0.88 + 0.24 * (0.6 * smooth_noise(rng, size, 8) + 0.4 * smooth_noise(rng, size, 40))
    return _gaussian_grain(rng, img * mottle, 4)


def _scanlines(rng, img):
    size = img.shape[0]
    period = int(rng.integers(2, 5))
    img[::period] *= rng.uniform(0.6, 0.85)
    # Glitch: a few horizontal bands slid sideways.
    for _ in range(int(rng.integers(0, 6))):
        y0 = int(rng.integers(0, size - 4))
        band = slice(y0, y0 + int(rng.integers(2, max(3, size // 15))))
        img[band] = np.roll(img[band], int(rng.integers(-size // 8, size // 8)), axis=1)
    return img


def _grunge(rng, img):
    size = img.shape[0]
    blotch = smooth_noise(rng, size, int(rng.integers(10, 30)))
    img = img * (0.55 + 0.45 * np.clip((blotch - 0.25) * 3, 0, 1))
    scratches = np.zeros((size, size), dtype=np.float32)
    for _ in range(int(rng.integers(5, 25))):
        cv2.line(scratches, point(rng, size), point(rng, size), 60.0, 1)
    return _gaussian_grain(rng, img + scratches[..., None], 12)


TEXTURES = {
    "none": _none, "fine_grain": _fine_grain, "film": _film, "xerox": _xerox,
    "paper": _paper, "scanlines": _scanlines, "grunge": _grunge,
}


# --------------------------------------------------------------------------
# Finish: global tone adjustments
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Finish:
    """Ranges for the finish; each cover draws its values uniformly from them."""

    contrast: tuple[float, float] = (0.95, 1.05)
    gamma: tuple[float, float] = (0.95, 1.05)
    saturation: tuple[float, float] = (0.9, 1.1)
    vignette: tuple[float, float] = (0.0, 0.2)
    tint_hue: Optional[tuple[float, float]] = None
    tint_strength: tuple[float, float] = (0.0, 0.0)
    blur_prob: float = 0.0
    posterize_prob: float = 0.0
    chroma_shift_prob: float = 0.0


def apply_finish(rng, img: np.ndarray, finish: Finish) -> np.ndarray:
    """Return ``img`` (float32, roughly 0-255) with ``finish`` applied."""
    size = img.shape[0]
    if rng.random() < finish.blur_prob:
        img = cv2.GaussianBlur(img, (0, 0), size * rng.uniform(0.003, 0.008))
    if finish.tint_hue is not None:
        tint = np.asarray(hsv(rng.uniform(*finish.tint_hue), 0.6, 1.0), np.float32) / 255.0
        strength = rng.uniform(*finish.tint_strength)
        img = img * (1.0 - strength + strength * tint)
    grey = img.mean(axis=2, keepdims=True)
    img = grey + (img - grey) * rng.uniform(*finish.saturation)
    img = (img - 128.0) * rng.uniform(*finish.contrast) + 128.0
    img = 255.0 * (np.clip(img, 0, 255) / 255.0) ** rng.uniform(*finish.gamma)
    x, y = unit_grid(size)
    img = img * (1.0 - rng.uniform(*finish.vignette) * ((x - 0.5) ** 2 + (y - 0.5) ** 2) * 2)[..., None]
    if rng.random() < finish.posterize_prob:
        levels = int(rng.integers(2, 5))
        img = np.round(np.clip(img, 0, 255) / 255.0 * (levels - 1)) / (levels - 1) * 255.0
    if rng.random() < finish.chroma_shift_prob:
        shift = max(1, int(size * rng.uniform(0.005, 0.015)))
        img[..., 0] = np.roll(img[..., 0], shift, axis=1)
        img[..., 2] = np.roll(img[..., 2], -shift, axis=1)
    return img
