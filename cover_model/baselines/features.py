"""Feature matrices for the baselines: raw pixels, histograms, pretrained CNN embeddings.

A :class:`FeatureSpec` names one way of turning covers into vectors; the
kinds are a registry (:data:`FEATURE_KINDS`), so other steps can add theirs
without touching this module: ``register_feature_kind(name, compute)`` with
``compute(dataset, spec, progress) -> (X, index)``.

Pixels come from :func:`cover_model.preprocess.preprocess_dataset` (cached on
disk); histograms from :mod:`cover_model.color` and embeddings from
:mod:`.embeddings` (torch), each imported only when asked for.
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
EMBEDDING = "embedding"


class FeatureError(ValueError):
    """These features cannot be computed here (weights or a module missing).

    :func:`cover_model.baselines.run_baselines` reports it on every model of
    those features and carries on with the others.
    """


@dataclass(frozen=True)
class FeatureSpec:
    """One way of turning covers into feature vectors.

    Attributes
    ----------
    kind : str
        ``pixels``, ``color_hist``, ``gradient_hist``, ``embedding`` (a
        pretrained network's features), or a registered kind.
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
    network : str
        The pretrained network of ``embedding`` features (e.g.
        ``efficientnet_lite0``); empty for every other kind. Its covers are
        resized to ``size_px``: :func:`.embeddings.embedding_spec` picks the
        network's own input side.
    """
    kind: str = "pixels"
    size_px: int = 32
    method: str = "cubic"
    seed: int = 0
    bins: int = 0
    space: str = "rgb"
    network: str = ""

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; choose from {', '.join(METHODS)}")
        if self.kind not in FEATURE_KINDS:
            raise ValueError(f"unknown feature kind {self.kind!r}; choose from {', '.join(FEATURE_KINDS)}")
        if self.kind == EMBEDDING:
            from .embeddings import check_embedding_spec      # imports torch: only when asked for
            check_embedding_spec(self)
        elif self.network:
            raise ValueError(f"a network is only for embedding features, not {self.kind!r}")

    @property
    def preprocessing(self) -> str:
        """``random`` or ``resize``: the two column groups of the paper's Table 2."""
        return RANDOM if self.method == RANDOM else "resize"

    def label(self) -> str:
        """A short human-readable name, e.g. ``pixels 32x32 cubic``."""
        extra = ""
        if self.kind not in ("pixels", EMBEDDING):
            space = f", {self.space}" if self.kind == "color_hist" else ""
            extra = f", {self.bins or 'default'} bins{space}"
        return f"{self.short_label()} {self.method}{extra}"

    def short_label(self) -> str:
        """Kind and grid, e.g. ``pixels 32x32`` or ``efficientnet_lite0 embedding 224x224``."""
        network = f"{self.network} " if self.network else ""
        return f"{network}{self.kind} {self.size_px}x{self.size_px}"

    def to_dict(self) -> dict:
        values = asdict(self)
        if not self.network:
            # Left out when empty, so the keys of results cached before it existed still hold.
            del values["network"]
        return values


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


def compute_feature_sets(dataset: Dataset, specs, *, progress=None
                         ) -> tuple[dict[FeatureSpec, FeatureSet], dict[FeatureSpec, str]]:
    """Compute several specs' features; those that cannot run here are set aside, not raised.

    Parameters
    ----------
    dataset : Dataset
    specs : iterable of FeatureSpec
    progress : callable, optional
        ``progress(label, done, total)`` while the features labelled ``label``
        (:meth:`FeatureSpec.label`) are computed.

    Returns
    -------
    feature_sets : dict
        FeatureSpec -> FeatureSet.
    unavailable : dict
        FeatureSpec -> why it cannot be computed, one line (a :class:`FeatureError`).
    """
    feature_sets, unavailable = {}, {}
    for spec in dict.fromkeys(specs):
        report = None
        if progress:
            report = lambda done, total, label=spec.label(): progress(label, done, total)
        try:
            feature_sets[spec] = compute_features(dataset, spec, progress=report)
        except FeatureError as exc:
            cause = exc.__cause__ or exc      # a WeightsError names the problem better than the wrapper
            unavailable[spec] = f"{type(cause).__name__}: {str(cause).strip()}"
    return feature_sets, unavailable


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
    ``dataset.items`` it covers. A kind that cannot run here (weights or a
    module missing) raises :class:`FeatureError`.
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


def _embeddings(dataset, spec, progress):
    from .embeddings import embedding_features
    return embedding_features(dataset, spec, progress=progress)


def _color_module():
    try:
        from .. import color
    except ImportError as exc:
        raise FeatureError("histogram features need cover_model.color (the colour-analysis step), "
                           f"which is not available: {exc}") from None
    return color


FEATURE_KINDS: dict[str, Callable] = {
    "pixels": _pixels,
    "color_hist": _color_histograms,
    "gradient_hist": _gradient_histograms,
    EMBEDDING: _embeddings,
}
