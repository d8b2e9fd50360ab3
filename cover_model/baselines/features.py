"""Feature matrices for the baselines: raw pixels, histograms, pretrained CNN embeddings.

A :class:`~.specs.FeatureSpec` names one way of turning covers into vectors;
this module registers the built-in kinds' compute functions in
:data:`~.specs.FEATURE_KINDS`, so other steps can add theirs without touching
it: ``register_feature_kind(name, compute)`` with
``compute(dataset, spec, progress) -> (X, index)``.

Pixels come from :func:`cover_model.data.preprocess.preprocess_dataset` (cached on
disk); histograms from :mod:`cover_model.color` and embeddings from
:mod:`.embeddings` (torch), each imported only when asked for. A features-only
dataset (the real covers' features pack) has no pixels: its histograms and the
shipped extractor's features are read from what it stores (:mod:`.stored`), and
the kinds that need pixels raise :class:`FeatureError` saying so.
"""
from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np

from ..data.dataset import Dataset
from ..data.preprocess import preprocess_dataset
from .specs import EMBEDDING, FEATURE_KINDS, RANDOM, SHIPPED, FeatureError, FeatureSpec, register_feature_kind  # noqa: F401 (re-exported)
from .stored import refuse_pixels, shipped_features, stored_digest, stored_histograms


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
        With its ``split`` column filled (:func:`cover_model.data.splits.assign_splits`).
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
    if dataset.features_only:       # the fingerprint names its covers, not their stored numbers
        digest.update(stored_digest(dataset).encode())
    return digest.hexdigest()[:16]


def _pixels(dataset, spec, progress):
    refuse_pixels(dataset, "Fitting on raw pixels")
    arrays = _covers(dataset, spec, progress)
    return arrays.images.reshape(len(arrays), -1), arrays.index


def _color_histograms(dataset, spec, progress):
    color = _color_module()
    if dataset.features_only:
        return stored_histograms(dataset, spec, "color", progress)
    arrays = _covers(dataset, spec, progress)
    kwargs = {"space": spec.space} | ({"bins": spec.bins} if spec.bins else {})
    return color.compute_histograms(arrays.images, **kwargs), arrays.index


def _gradient_histograms(dataset, spec, progress):
    color = _color_module()
    if dataset.features_only:
        return stored_histograms(dataset, spec, "gradient", progress)
    arrays = _covers(dataset, spec, progress)
    kwargs = {"bins": spec.bins} if spec.bins else {}
    return color.compute_gradient_histograms(arrays.images, **kwargs), arrays.index


def _covers(dataset, spec, progress):
    return preprocess_dataset(dataset, size_px=spec.size_px, method=spec.method, seed=spec.seed,
                              progress=progress)


def _embeddings(dataset, spec, progress):
    refuse_pixels(dataset, f"Embedding covers with {spec.network}")
    from .embeddings import embedding_features  # torch: only when embeddings are asked for
    return embedding_features(dataset, spec, progress=progress)


def _color_module():
    try:
        from .. import color
    except ImportError as exc:
        raise FeatureError("histogram features need cover_model.color (the colour-analysis step), "
                           f"which is not available: {exc}") from None
    return color


FEATURE_KINDS.update({
    "pixels": _pixels,
    "color_hist": _color_histograms,
    "gradient_hist": _gradient_histograms,
    EMBEDDING: _embeddings,
    SHIPPED: shipped_features,
})
