"""Feature matrices for the baselines: raw pixels, colour and gradient histograms.

A :class:`FeatureSpec` names one way of turning covers into vectors; the
kinds are a registry (:data:`FEATURE_KINDS`), so other steps can add theirs
without touching this module. Pretrained CNN embeddings are meant to plug in
here once the networks land: ``register_feature_kind("cnn-resnet18",
compute)`` with ``compute(dataset, spec, progress) -> (X, index)``.

Pixels come from :func:`cover_model.preprocess.preprocess_dataset` (cached on
disk); histograms from :mod:`cover_model.color`, imported only when asked for.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np

from ..dataset import Dataset
from ..preprocess import METHODS, preprocess_dataset

RANDOM = "random"        # the paper's random grid; every other method is "resize"


@dataclass(frozen=True)
class FeatureSpec:
    """One way of turning covers into feature vectors.

    Attributes
    ----------
    kind : str
        ``pixels``, ``color_hist``, ``gradient_hist``, or a registered kind.
    size_px : int
        Covers are first downsized to ``size_px x size_px`` (the paper: 32;
        also 35, 70, 100).
    method : str
        ``random`` (the paper's random grid of pixels) or an OpenCV
        interpolation (``cubic``, ``area``, ...): Table 2's "resize".
    seed : int
        Seed of the random grid.
    bins : int
        Histogram bins (per channel for colour); 0 means the colour
        package's own default. Ignored by ``pixels``.
    space : str
        Colour space of the colour histograms (``rgb``, ``hsv``, ``lab``).
    """
    kind: str = "pixels"
    size_px: int = 32
    method: str = "cubic"
    seed: int = 0
    bins: int = 0
    space: str = "rgb"

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; choose from {', '.join(METHODS)}")
        if self.kind not in FEATURE_KINDS:
            raise ValueError(f"unknown feature kind {self.kind!r}; choose from {', '.join(FEATURE_KINDS)}")

    @property
    def preprocessing(self) -> str:
        """``random`` or ``resize``: the two column groups of the paper's Table 2."""
        return RANDOM if self.method == RANDOM else "resize"

    def label(self) -> str:
        """A short human-readable name, e.g. ``pixels 32x32 cubic``."""
        extra = ""
        if self.kind != "pixels":
            space = f", {self.space}" if self.kind == "color_hist" else ""
            extra = f", {self.bins or 'default'} bins{space}"
        return f"{self.kind} {self.size_px}x{self.size_px} {self.method}{extra}"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True, eq=False)
class FeatureSet:
    """Feature vectors of a dataset's covers, with their labels and splits.

    Attributes
    ----------
    spec : FeatureSpec
    X : ndarray of shape (n, n_features), float32
    labels : ndarray of shape (n,), int64
    index : ndarray of shape (n,), int64
        Rows of ``dataset.items`` (covers that failed to decode are absent).
    split : ndarray of shape (n,), str
    class_names : tuple of str
    data_key : str
        Hash of the dataset fingerprint, its splits and ``spec``; keys the
        result cache.
    """
    spec: FeatureSpec
    X: np.ndarray
    labels: np.ndarray
    index: np.ndarray
    split: np.ndarray
    class_names: tuple[str, ...]
    data_key: str

    @property
    def n_features(self) -> int:
        return self.X.shape[1]

    def rows(self, split: str) -> np.ndarray:
        """Positions (into ``X``) of one split's covers."""
        return np.flatnonzero(self.split == split)


def compute_features(dataset: Dataset, spec: FeatureSpec, *, progress=None) -> FeatureSet:
    """Compute ``spec``'s features for every cover of a (split) dataset.

    Parameters
    ----------
    dataset : Dataset
        With its ``split`` column filled (:func:`cover_model.splits.assign_splits`).
    spec : FeatureSpec
    progress : callable, optional
        ``progress(done, total)`` while covers are decoded.

    Returns
    -------
    FeatureSet
    """
    X, index = FEATURE_KINDS[spec.kind](dataset, spec, progress)
    labels = dataset.items["label"].to_numpy(np.int64)[index]
    split = dataset.items["split"].to_numpy(str)[index]
    return FeatureSet(spec, np.ascontiguousarray(X, dtype=np.float32), labels, np.asarray(index),
                      split, tuple(dataset.class_names), data_key(dataset, spec))


def data_key(dataset: Dataset, spec: FeatureSpec) -> str:
    """Hash of what a feature matrix depends on: the covers, their splits, the spec."""
    digest = hashlib.sha256(dataset.fingerprint.encode())
    # The fingerprint leaves out the splits, and a result depends on them.
    digest.update("\n".join(dataset.items["split"].astype(str)).encode())
    digest.update(json.dumps(spec.to_dict(), sort_keys=True).encode())
    return digest.hexdigest()[:16]


def register_feature_kind(name: str, compute: Callable) -> None:
    """Add a feature kind: ``compute(dataset, spec, progress) -> (X, index)``.

    ``X`` is an array of shape (n, n_features) and ``index`` the rows of
    ``dataset.items`` it covers. The extension point for CNN embeddings.
    """
    FEATURE_KINDS[name] = compute


def _pixels(dataset, spec, progress):
    arrays = _covers(dataset, spec, progress)
    return arrays.images.reshape(len(arrays), -1), arrays.index


def _color_histograms(dataset, spec, progress):
    color = _color_module()
    arrays = _covers(dataset, spec, progress)
    kwargs = {"space": spec.space} | ({"bins": spec.bins} if spec.bins else {})
    return color.compute_histograms(arrays.images, **kwargs), arrays.index


def _gradient_histograms(dataset, spec, progress):
    color = _color_module()
    arrays = _covers(dataset, spec, progress)
    kwargs = {"bins": spec.bins} if spec.bins else {}
    return color.compute_gradient_histograms(arrays.images, **kwargs), arrays.index


def _covers(dataset, spec, progress):
    return preprocess_dataset(dataset, size_px=spec.size_px, method=spec.method, seed=spec.seed,
                              progress=progress)


def _color_module():
    try:
        from .. import color
    except ImportError as exc:
        raise ValueError("histogram features need cover_model.color (the colour-analysis step), "
                         f"which is not available: {exc}") from None
    return color


FEATURE_KINDS: dict[str, Callable] = {
    "pixels": _pixels,
    "color_hist": _color_histograms,
    "gradient_hist": _gradient_histograms,
}
