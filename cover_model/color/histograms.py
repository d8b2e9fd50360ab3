"""Per-cover features for the colour analysis: 3D colour histograms and HOG-like
gradient-orientation histograms, for a whole batch of covers at once.

Both return one row per cover that sums to 1, so the same four metrics and the
same two-sample protocol apply to either.
"""
from __future__ import annotations

import cv2
import numpy as np

SPACES = ("rgb", "hsv", "lab")

# 8-bit OpenCV encodings span 0-255 on every channel (HSV_FULL puts hue on 0-255,
# not 0-179), so uniform bins over [0, 256) mean the same thing in each space.
_TO_SPACE = {"hsv": cv2.COLOR_RGB2HSV_FULL, "lab": cv2.COLOR_RGB2Lab}
_FROM_SPACE = {"hsv": cv2.COLOR_HSV2RGB_FULL, "lab": cv2.COLOR_Lab2RGB}


def compute_histograms(images: np.ndarray, *, bins: int = 8, space: str = "rgb") -> np.ndarray:
    """3D colour histograms, normalised and flattened (the paper's section 3).

    Bin ``(c0, c1, c2)`` of a pixel is ``value * bins // 256`` per channel, as in
    ``cv2.calcHist(..., [bins] * 3, [0, 256] * 3)``; the flat index is
    ``c0 * bins**2 + c1 * bins + c2``.

    Parameters
    ----------
    images : ndarray of shape (n, S, S, 3), uint8
        RGB covers (any height and width, the same for all).
    bins : int, default=8
        Bins per channel; the paper uses 8 (512 values).
    space : {"rgb", "hsv", "lab"}, default="rgb"
        Colour space the bins are laid over (OpenCV's 8-bit encodings).

    Returns
    -------
    ndarray of shape (n, bins**3), float32
        Each row sums to 1.

    Examples
    --------
    >>> red = np.zeros((1, 4, 4, 3), np.uint8); red[..., 0] = 255
    >>> h = compute_histograms(red)
    >>> h.shape, float(h.sum()), int(h.argmax())
    ((1, 512), 1.0, 448)
    """
    images = _check_images(images)
    if not 1 <= bins <= 256:
        raise ValueError(f"bins must be between 1 and 256, got {bins}")
    n_covers = len(images)
    coded = to_space(images, space)
    quantised = (coded.reshape(n_covers, -1, 3).astype(np.int64) * bins) >> 8
    flat = (quantised[..., 0] * bins + quantised[..., 1]) * bins + quantised[..., 2]
    n_bins = bins ** 3
    # One bincount for the whole batch: offset each cover into its own block of bins.
    flat += np.arange(n_covers, dtype=np.int64)[:, None] * n_bins
    counts = np.bincount(flat.ravel(), minlength=n_covers * n_bins).reshape(n_covers, n_bins)
    return (counts / flat.shape[1]).astype(np.float32)


def compute_gradient_histograms(images: np.ndarray, *, bins: int = 9, grid: int = 4) -> np.ndarray:
    """HOG-like histograms of gradient orientation, weighted by gradient magnitude.

    The paper's suggested next feature. Gradients are centred differences of the
    luminance (Dalal and Triggs found no smoothing best); orientations are
    unsigned (0-180 degrees, a light-to-dark edge and its reverse agree) and
    vote into the two nearest of ``bins`` orientation bins, linearly, in each
    cell of a ``grid`` x ``grid`` layout. The whole vector is normalised to sum
    to 1, so cells keep their relative edge energy (where the edges are matters
    on a cover: text at the top, a face in the middle).

    Parameters
    ----------
    images : ndarray of shape (n, S, S, 3), uint8
        RGB covers; S should be at least ``grid``.
    bins : int, default=9
        Orientation bins over 180 degrees (HOG's 9, 20 degrees each).
    grid : int, default=4
        Cells per side (8 x 8-pixel cells at 32 x 32, HOG's cell size).

    Returns
    -------
    ndarray of shape (n, grid * grid * bins), float32
        Each row sums to 1; a cover with no edges at all gets a uniform row
        (no preferred orientation), not zeros.

    Examples
    --------
    >>> stripes = np.zeros((1, 32, 32, 3), np.uint8); stripes[:, ::4] = 255
    >>> h = compute_gradient_histograms(stripes, bins=9, grid=1)
    >>> h.shape, int(h.argmax())          # horizontal stripes: vertical gradients, 90 degrees
    ((1, 9), 4)
    """
    images = _check_images(images)
    if bins < 1 or grid < 1:
        raise ValueError(f"bins and grid must be positive, got bins={bins}, grid={grid}")
    n_covers, height, width = images.shape[:3]
    if height < grid or width < grid:
        raise ValueError(f"covers of {height}x{width} px are smaller than a {grid}x{grid} grid")
    gray = _luminance(images)
    padded = np.pad(gray, ((0, 0), (1, 1), (1, 1)), mode="edge")
    grad_x = padded[:, 1:-1, 2:] - padded[:, 1:-1, :-2]
    grad_y = padded[:, 2:, 1:-1] - padded[:, :-2, 1:-1]
    magnitude = np.hypot(grad_x, grad_y)
    position = (np.arctan2(grad_y, grad_x) % np.pi) / np.pi * bins - 0.5   # in bin units
    lower = np.floor(position)
    upper_weight = position - lower
    lower_bin = lower.astype(np.int64) % bins
    upper_bin = (lower_bin + 1) % bins
    cell = (np.arange(height)[:, None] * grid // height) * grid + np.arange(width) * grid // width
    base = (np.arange(n_covers)[:, None, None] * grid * grid + cell) * bins
    n_out = n_covers * grid * grid * bins
    votes = (np.bincount((base + lower_bin).ravel(), (magnitude * (1 - upper_weight)).ravel(), n_out)
             + np.bincount((base + upper_bin).ravel(), (magnitude * upper_weight).ravel(), n_out))
    votes = votes.reshape(n_covers, -1)
    totals = votes.sum(axis=1, keepdims=True)
    flat = totals[:, 0] <= 0
    votes[flat] = 1.0
    totals[flat] = votes.shape[1]
    return (votes / totals).astype(np.float32)


def to_space(images: np.ndarray, space: str) -> np.ndarray:
    """Convert RGB uint8 covers to an 8-bit colour space, in one OpenCV call.

    Returns an array of the same shape; ``rgb`` returns the input itself.
    """
    if space not in SPACES:
        raise ValueError(f"unknown colour space {space!r}; choose from {', '.join(SPACES)}")
    if space == "rgb":
        return images
    # A stack of covers is one tall image to cvtColor: the conversion is per pixel.
    tall = np.ascontiguousarray(images).reshape(-1, images.shape[-2], 3)
    return cv2.cvtColor(tall, _TO_SPACE[space]).reshape(images.shape)


def bin_colors(*, bins: int = 8, space: str = "rgb") -> list[str]:
    """The RGB colour at the centre of each histogram bin, as ``#rrggbb``.

    Lets a histogram be drawn in its own colours, in any space.

    >>> bin_colors(bins=2)[0], bin_colors(bins=2)[-1]
    ('#404040', '#c0c0c0')
    """
    centres = ((np.arange(bins) + 0.5) * 256 / bins).astype(np.uint8)
    grid = np.stack(np.meshgrid(centres, centres, centres, indexing="ij"), axis=-1)
    coded = grid.reshape(1, -1, 3)
    rgb = coded if space == "rgb" else cv2.cvtColor(coded, _FROM_SPACE[space])
    return [f"#{r:02x}{g:02x}{b:02x}" for r, g, b in rgb.reshape(-1, 3)]


def _luminance(images: np.ndarray) -> np.ndarray:
    tall = np.ascontiguousarray(images).reshape(-1, images.shape[-2], 3)
    return cv2.cvtColor(tall, cv2.COLOR_RGB2GRAY).reshape(images.shape[:3]).astype(np.float32)


def _check_images(images) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
        raise ValueError(f"expected covers of shape (n, S, S, 3) uint8, got {images.shape} {images.dtype}")
    return images
