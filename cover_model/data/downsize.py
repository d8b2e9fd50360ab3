"""Downsizing one cover to an S x S grid: OpenCV interpolation or the paper's random grid.

Its own light module (numpy and OpenCV only), so that what downsizes a single
cover (the Predictor, the ONNX server, a cover's colour profile) and what lists
the methods (the configs' flags) never import pandas with the whole-dataset step
in :mod:`cover_model.data.preprocess`.
"""
from __future__ import annotations

import cv2
import numpy as np

INTERPOLATIONS = {
    "area": cv2.INTER_AREA, "cubic": cv2.INTER_CUBIC, "linear": cv2.INTER_LINEAR,
    "nearest": cv2.INTER_NEAREST, "lanczos": cv2.INTER_LANCZOS4,
}
METHODS = (*INTERPOLATIONS, "random")


def downsize(rgb: np.ndarray, size_px: int, *, method: str = "area",
             rng: np.random.Generator | None = None) -> np.ndarray:
    """Downsize one RGB image to ``(size_px, size_px, 3)``.

    Parameters
    ----------
    rgb : ndarray of shape (H, W, 3), uint8
    size_px : int
        Side of the output grid.
    method : {"area", "cubic", "linear", "nearest", "lanczos", "random"}
        An OpenCV interpolation, or ``random``: the paper's sampling of a
        grid of ``size_px`` random rows by ``size_px`` random columns.
    rng : numpy Generator, optional
        For ``random`` (default: seeded with 0).

    Examples
    --------
    >>> downsize(np.zeros((350, 350, 3), np.uint8), 32).shape
    (32, 32, 3)
    """
    if method == "random":
        return sample_grid(rgb, size_px, rng=rng or np.random.default_rng(0))
    if method not in INTERPOLATIONS:
        raise ValueError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    return cv2.resize(rgb, (size_px, size_px), interpolation=INTERPOLATIONS[method])


def sample_grid(rgb: np.ndarray, size_px: int, *, rng: np.random.Generator) -> np.ndarray:
    """The paper's random downsizing: keep the pixels at random rows x random columns.

    Rows and columns are drawn without replacement (with, for an image
    smaller than the grid) and kept in order, so the layout survives.
    """
    height, width = rgb.shape[:2]
    rows = np.sort(rng.choice(height, size_px, replace=height < size_px))
    cols = np.sort(rng.choice(width, size_px, replace=width < size_px))
    return np.ascontiguousarray(rgb[np.ix_(rows, cols)])
