"""Classification metrics shared by the baselines and the networks.

Plain functions over label arrays (ints ``0..n_classes-1``) and, where a
ranking is needed, per-class scores. The label set is ``range(n_classes)``, so
that a genre missing from a small test set, or never predicted, keeps its row
and column instead of silently shifting the others. Anything array-like works
(lists, numpy, CPU tensors).

Each is a line or two of numpy, with the definitions of :mod:`sklearn.metrics`
(``tests/test_metrics.py`` checks them against it). Not sklearn itself: every
training process computes these, and importing sklearn.metrics (it loads
scipy.stats) cost each one about a CPU-second before its first step.
"""
from __future__ import annotations

import numpy as np


def _labels(y_true, y_pred) -> tuple[np.ndarray, np.ndarray]:
    y_true, y_pred = np.asarray(y_true).ravel(), np.asarray(y_pred).ravel()
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true and y_pred differ in length: {len(y_true)} and {len(y_pred)}")
    return y_true, y_pred


def accuracy(y_true, y_pred) -> float:
    """Fraction of predictions equal to the truth.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,), int

    Returns
    -------
    float in [0, 1]

    Examples
    --------
    >>> accuracy([0, 1, 2, 2], [0, 1, 1, 2])
    0.75
    """
    y_true, y_pred = _labels(y_true, y_pred)
    return float(np.mean(y_true == y_pred))


def top_k_accuracy(y_true, scores, *, k: int = 3) -> float:
    """Fraction of samples whose true class is among the ``k`` highest scores.

    Parameters
    ----------
    y_true : array-like of shape (n,), int
        Class ids; column ``c`` of ``scores`` belongs to class ``c``.
    scores : array-like of shape (n, n_classes), float
        Probabilities, logits or decision values: only their order matters.
    k : int, default=3
        With ``k >= n_classes`` every sample counts (1.0).

    Examples
    --------
    >>> top_k_accuracy([0, 2], [[0.5, 0.3, 0.2], [0.6, 0.3, 0.1]], k=2)
    0.5
    """
    scores = np.asarray(scores, dtype=np.float64)
    y_true = np.asarray(y_true)
    if scores.ndim != 2 or len(scores) != len(y_true):
        raise ValueError(f"scores must have shape (n, n_classes) with n={len(y_true)}, got {scores.shape}")
    if k >= scores.shape[1]:
        return 1.0
    # argpartition, not sklearn's top_k_accuracy_score: that one insists every
    # class appears in y_true unless labels are passed, and treats 2 columns as binary.
    top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    return float(np.mean((top == y_true[:, None]).any(axis=1)))


def balanced_accuracy(y_true, y_pred) -> float:
    """Mean recall over the classes present in ``y_true`` (chance = 1 / n_classes).

    Examples
    --------
    >>> balanced_accuracy([0, 0, 0, 1], [0, 0, 0, 0])
    0.5
    """
    y_true, y_pred = _labels(y_true, y_pred)
    _, true_class = np.unique(y_true, return_inverse=True)
    recall = np.bincount(true_class, weights=y_true == y_pred) / np.bincount(true_class)
    return float(recall.mean())


def macro_f1(y_true, y_pred, *, n_classes: int | None = None) -> float:
    """Unweighted mean of the per-class F1 scores.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,), int
    n_classes : int, optional
        Average over ``range(n_classes)``; a class absent from both arrays
        scores 0. By default, over the classes present in either array.

    Examples
    --------
    >>> macro_f1([0, 1], [0, 1])
    1.0
    """
    y_true, y_pred = _labels(y_true, y_pred)
    labels = np.union1d(y_true, y_pred) if n_classes is None else np.arange(n_classes)
    is_true, is_pred = y_true[:, None] == labels, y_pred[:, None] == labels
    hits = (is_true & is_pred).sum(axis=0)
    tried = is_true.sum(axis=0) + is_pred.sum(axis=0)    # 2·tp + fp + fn, per class
    return float(np.mean(np.divide(2 * hits, tried, out=np.zeros(len(labels)), where=tried > 0)))


def confusion_matrix(y_true, y_pred, *, n_classes: int, normalize: str | None = None) -> np.ndarray:
    """Counts of (true class, predicted class) pairs.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,), int
    n_classes : int
    normalize : {None, "true"}, default=None
        ``"true"`` divides each row by its count (rows of absent classes stay 0).

    Returns
    -------
    ndarray of shape (n_classes, n_classes)
        Row = true class, column = predicted class; int64 counts, or float64
        row fractions when normalised.

    Examples
    --------
    >>> confusion_matrix([0, 1, 1], [0, 0, 1], n_classes=2)
    array([[1, 0],
           [1, 1]])
    """
    if normalize not in (None, "true"):
        raise ValueError(f"normalize must be None or 'true', got {normalize!r}")
    y_true, y_pred = (y.astype(np.int64) for y in _labels(y_true, y_pred))
    known = (y_true >= 0) & (y_true < n_classes) & (y_pred >= 0) & (y_pred < n_classes)
    pairs = y_true[known] * n_classes + y_pred[known]
    counts = np.bincount(pairs, minlength=n_classes * n_classes).reshape(n_classes, n_classes)
    if normalize is None:
        return counts
    totals = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, totals, out=np.zeros(counts.shape), where=totals > 0)


def per_class_accuracy(y_true, y_pred, *, n_classes: int) -> np.ndarray:
    """Accuracy within each true class (its recall), as in the paper's Tables 3-4.

    Returns
    -------
    ndarray of shape (n_classes,), float64
        NaN for a class with no sample in ``y_true``.

    Examples
    --------
    >>> per_class_accuracy([0, 0, 1], [0, 1, 1], n_classes=3)
    array([0.5, 1. , nan])
    """
    counts = confusion_matrix(y_true, y_pred, n_classes=n_classes)
    totals = counts.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, np.diag(counts) / totals, np.nan)


def summarize(y_true, y_pred, *, n_classes: int, scores=None, k: int = 3) -> dict:
    """Every metric above for one set of predictions, as JSON-ready values.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,), int
    n_classes : int
    scores : array-like of shape (n, n_classes), optional
        Class scores; without them ``top_k`` is None.
    k : int, default=3

    Returns
    -------
    dict
        ``n``, ``accuracy``, ``balanced_accuracy``, ``macro_f1``, ``top_k``
        (float or None), ``k``, ``per_class_accuracy`` (list, None for absent
        classes) and ``confusion`` (list of lists of counts).

    Examples
    --------
    >>> summarize([0, 1, 1], [0, 1, 0], n_classes=2)["accuracy"]
    0.6666666666666666
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    per_class = per_class_accuracy(y_true, y_pred, n_classes=n_classes)
    return {
        "n": int(len(y_true)),
        "accuracy": accuracy(y_true, y_pred),
        "balanced_accuracy": balanced_accuracy(y_true, y_pred),
        "macro_f1": macro_f1(y_true, y_pred, n_classes=n_classes),
        "top_k": None if scores is None else top_k_accuracy(y_true, scores, k=k),
        "k": k,
        "per_class_accuracy": [None if np.isnan(v) else float(v) for v in per_class],
        "confusion": confusion_matrix(y_true, y_pred, n_classes=n_classes).tolist(),
    }
