"""Source-destroying augmentation: training covers made to look less like where they came from.

The real covers come from two sources (Discogs scans, Spotify artwork), and a head can
learn what each source looks like instead of genre (docs/shipped-model.md: transfer to an
unseen source is 24% against 42% in CV). Each augmented copy of a cover is mirrored or
not, framed by a border or cropped, jittered in colour and contrast, blurred and
noised like a scan, and recompressed as a JPEG: what tells a scan from a download, drawn
at random. The recipe selection embeds such copies of the development covers and fits
the head on them beside the covers themselves (:mod:`cover_model.shipped.selection`);
no scored cover is ever augmented. Figures: docs/shipped/augmentation.md.

    >>> covers = np.full((2, 64, 64, 3), 128, np.uint8)
    >>> augment_covers(covers, seed=0).shape
    (2, 64, 64, 3)
"""
from __future__ import annotations

import cv2
import numpy as np
import simplejpeg

AUGMENT_VERSION = 1          # bump when the copies change: it names their cached embeddings


def destroy_source(rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One randomly degraded copy of a cover, the same size.

    Parameters
    ----------
    rgb : ndarray of shape (S, S, 3), uint8
    rng : numpy Generator
        Every random choice comes from it: the same seed gives the same copy.

    Returns
    -------
    ndarray of shape (S, S, 3), uint8
    """
    out = rgb[:, ::-1] if rng.random() < 0.5 else rgb                  # mirror image
    frame = rng.random()
    if frame < 1 / 3:
        out = _border(out, rng)
    elif frame < 2 / 3:
        out = _crop(out, rng)
    out = _jitter_colour(out, rng)
    if rng.random() < 0.5:                                             # a scan's soft focus
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.5, 1.5))
    if rng.random() < 0.5:                                             # sensor noise
        noise = rng.normal(0, rng.uniform(2, 8), out.shape)
        out = np.clip(out + noise, 0, 255).astype(np.uint8)
    quality = int(rng.integers(15, 80))                                # any source's JPEG
    return simplejpeg.decode_jpeg(simplejpeg.encode_jpeg(np.ascontiguousarray(out), quality=quality))


def augment_covers(covers: np.ndarray, *, seed: int) -> np.ndarray:
    """One degraded copy of every cover, each seeded by ``(seed, its position)``.

    Parameters
    ----------
    covers : ndarray of shape (n, S, S, 3), uint8
    seed : int
        One copy per seed: the recipe selection's copies are seeds 0, 1, ...

    Returns
    -------
    ndarray of shape (n, S, S, 3), uint8
    """
    return np.stack([destroy_source(cover, np.random.default_rng([seed, i]))
                     for i, cover in enumerate(covers)]) if len(covers) else covers.copy()


def _border(rgb: np.ndarray, rng) -> np.ndarray:
    """A flat frame of 3-12% of the side (a scan's edge, a sleeve, a letterbox), then the
    whole shrunk back to the cover's side."""
    side = rgb.shape[0]
    width = int(rng.integers(max(1, side * 3 // 100), max(2, side * 12 // 100)))
    colour = [int(c) for c in (rng.integers(0, 256, 3) if rng.random() < 0.5
                               else np.full(3, 255 * rng.integers(0, 2)))]
    framed = cv2.copyMakeBorder(np.ascontiguousarray(rgb), width, width, width, width,
                                cv2.BORDER_CONSTANT, value=colour)
    return cv2.resize(framed, (side, side), interpolation=cv2.INTER_AREA)


def _crop(rgb: np.ndarray, rng) -> np.ndarray:
    """75-95% of the side at a random place, enlarged back to the cover's side."""
    side = rgb.shape[0]
    keep = max(1, int(side * rng.uniform(0.75, 0.95)))
    top, left = rng.integers(0, side - keep + 1, 2)
    return cv2.resize(np.ascontiguousarray(rgb[top:top + keep, left:left + keep]), (side, side),
                      interpolation=cv2.INTER_LINEAR)


def _jitter_colour(rgb: np.ndarray, rng) -> np.ndarray:
    """Saturation x0.6-1.4, contrast x0.7-1.3, brightness x0.8-1.2, each channel x0.92-1.08
    (a scanner's or a screen's white balance)."""
    x = rgb.astype(np.float32)
    grey = x.mean(2, keepdims=True)
    x = grey + (x - grey) * rng.uniform(0.6, 1.4)
    mean = x.mean()
    x = (x - mean) * rng.uniform(0.7, 1.3) + mean
    x *= rng.uniform(0.8, 1.2) * rng.uniform(0.92, 1.08, 3).astype(np.float32)
    return np.clip(x, 0, 255).astype(np.uint8)
