"""The four histogram metrics of OpenCV's ``compareHist``, for all pairs at once.

``compare_all_pairs(h1, h2, metric=...)`` scores every row of ``h1`` against
every row of ``h2`` with matrix products (no loop over pairs) and equals
``cv2.compareHist(h1[i], h2[j], method)`` to about 1e-12. The means over
pairs that the paper's protocol needs come faster from :mod:`.blocks`.

All arithmetic is float64, as in OpenCV, on the float32 histograms.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

_DBL_EPSILON = np.finfo(np.float64).eps    # the thresholds OpenCV's compareHist uses
_FLT_EPSILON = float(np.finfo(np.float32).eps)


@dataclass(frozen=True)
class Metric:
    """One ``compareHist`` method and which way is "more similar"."""
    name: str
    label: str
    cv2_method: int
    higher_is_similar: bool
    formula: str

    def best(self, values: np.ndarray, axis=None):
        """The most similar of ``values`` (max or min, by direction)."""
        return np.nanmax(values, axis=axis) if self.higher_is_similar else np.nanmin(values, axis=axis)


METRICS: dict[str, Metric] = {m.name: m for m in (
    Metric("correlation", "Correlation", cv2.HISTCMP_CORREL, True,
           "sum((a - mean a)(b - mean b)) / sqrt(sum((a - mean a)^2) sum((b - mean b)^2))"),
    Metric("chi_square", "Chi-square", cv2.HISTCMP_CHISQR, False,
           "sum over a > 0 of (a - b)^2 / a  (not symmetric: a is the first cover)"),
    Metric("intersection", "Intersection", cv2.HISTCMP_INTERSECT, True,
           "sum(min(a, b))"),
    Metric("hellinger", "Hellinger", cv2.HISTCMP_HELLINGER, False,
           "sqrt(1 - sum(sqrt(a b)) / sqrt(sum(a) sum(b)))"),
)}
METRIC_NAMES: tuple[str, ...] = tuple(METRICS)


def get_metric(metric) -> Metric:
    """A :class:`Metric` from itself or its name; a clear error for anything else."""
    if isinstance(metric, Metric):
        return metric
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}; choose from {', '.join(METRIC_NAMES)}")
    return METRICS[metric]


def compare_all_pairs(h1: np.ndarray, h2: np.ndarray, *, metric: str) -> np.ndarray:
    """Score every histogram in ``h1`` against every one in ``h2``.

    Parameters
    ----------
    h1 : ndarray of shape (n1, K)
        First arguments of ``compareHist`` (chi-square divides by these).
    h2 : ndarray of shape (n2, K)
    metric : {"correlation", "chi_square", "intersection", "hellinger"}

    Returns
    -------
    ndarray of shape (n1, n2), float64
        ``out[i, j] == cv2.compareHist(h1[i], h2[j], METRICS[metric].cv2_method)``.

    Examples
    --------
    >>> h = np.array([[0.5, 0.5, 0.0], [0.0, 0.5, 0.5]], np.float32)
    >>> compare_all_pairs(h, h, metric="intersection")
    array([[1. , 0.5],
           [0.5, 1. ]])
    """
    metric = get_metric(metric)
    a, b = _as_float64(h1), _as_float64(h2)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"histograms of different lengths: {a.shape[1]} and {b.shape[1]}")
    return _PAIRWISE[metric.name](a, b)


def compare_pairs_cv2(h1: np.ndarray, h2: np.ndarray, *, metric: str) -> np.ndarray:
    """The reference: one ``cv2.compareHist`` call per pair (slow; for tests and bench)."""
    method = get_metric(metric).cv2_method
    a, b = np.asarray(h1, np.float32), np.asarray(h2, np.float32)
    scores = [[cv2.compareHist(x, y, method) for y in b] for x in a]
    return np.array(scores, np.float64).reshape(len(a), len(b))


def _correlation_terms(h: np.ndarray):
    sums = h.sum(axis=1)
    variance = (h * h).sum(axis=1) - sums * sums / h.shape[1]
    return sums, variance


def _pairwise_correlation(a, b) -> np.ndarray:
    sums_a, var_a = _correlation_terms(a)
    sums_b, var_b = _correlation_terms(b)
    numerator = a @ b.T - np.outer(sums_a, sums_b) / a.shape[1]
    denominator_sq = np.outer(var_a, var_b)
    ok = np.abs(denominator_sq) > _DBL_EPSILON
    return np.where(ok, numerator / np.sqrt(np.where(ok, denominator_sq, 1)), 1.0)


def _pairwise_chi_square(a, b) -> np.ndarray:
    mask = np.abs(a) > _DBL_EPSILON
    inverse = np.where(mask, 1 / np.where(mask, a, 1), 0)
    return np.where(mask, a, 0).sum(axis=1)[:, None] - 2 * mask @ b.T + inverse @ (b * b).T


def _pairwise_intersection(a, b) -> np.ndarray:
    from scipy.spatial.distance import cdist  # here: scipy.spatial takes 0.2 s to import
    # min(x, y) = (x + y - |x - y|) / 2, and cdist's L1 is one C loop over pairs.
    return (a.sum(axis=1)[:, None] + b.sum(axis=1)[None, :] - cdist(a, b, "cityblock")) / 2


def _pairwise_hellinger(a, b) -> np.ndarray:
    return _hellinger(np.sqrt(a) @ np.sqrt(b).T, a.sum(axis=1), b.sum(axis=1))


def _hellinger(coefficient, sums_a, sums_b) -> np.ndarray:
    product = np.outer(sums_a, sums_b)
    scale = np.where(np.abs(product) > _FLT_EPSILON, 1 / np.sqrt(np.where(product > 0, product, 1)), 1.0)
    return np.sqrt(np.maximum(1 - coefficient * scale, 0))


def _as_float64(h) -> np.ndarray:
    # Through float32 (the values compareHist sees), unless already float64:
    # callers that widened float32 histograms once need not pay for it again.
    h = np.asarray(h)
    if h.dtype != np.float64:
        h = h.astype(np.float32).astype(np.float64)
    if h.ndim != 2:
        raise ValueError(f"expected histograms of shape (n, K), got {h.shape}")
    return h


_PAIRWISE = {"correlation": _pairwise_correlation, "chi_square": _pairwise_chi_square,
             "intersection": _pairwise_intersection, "hellinger": _pairwise_hellinger}
