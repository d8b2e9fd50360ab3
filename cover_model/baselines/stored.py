"""The zoo on a features-only dataset: features read from what it stores, not computed.

The real covers' features pack (:mod:`cover_model.data.feature_pack`) stores, for each
cover, the shipped model's extractor's pooled features and the colour and gradient
histograms of the cover downsized to 32 px. On such a dataset:

- ``shipped``: the extractor's stored features (:func:`~.specs.shipped_spec`); a dataset
  with pixels stores none, and says so;
- ``color_hist`` and ``gradient_hist``: the stored histograms
  (:mod:`cover_model.color.stored`), at the stored size and interpolation only; 8, 4, 2
  or 1 colour bins a channel (sums of the stored 8);
- what needs pixels (``pixels``, a network's ``embedding``, a random grid) is
  refused with the reason, which the report shows beside the models it could not fit.
"""
from __future__ import annotations

import hashlib

import numpy as np

from ..data.feature_pack import FeaturesOnlyError, pixels_refused, stored_values
from .specs import RANDOM, SHIPPED, FeatureError, FeatureSpec

# The feature kinds a features-only dataset answers, the shipped extractor's first.
STORED_KINDS = (SHIPPED, "color_hist", "gradient_hist")
# The models that fit the real covers' 2,136 stored features in seconds: 0.1-6 s each, about
# 11 s together, on 2 busy cores (load 6-8). LASSO, SVM, AdaBoost and the uncapped forest
# took 17-24 s each there, and QDA fails (more features than covers of a genre).
QUICK_MODELS = ("ridge", "knn", "random_forest", "decision_tree", "lda", "gaussian_nb", "logistic",
                "majority")


def stored_kinds(dataset) -> tuple[str, ...]:
    """The feature kinds ``dataset`` stores (none where it has pixels to compute any)."""
    return STORED_KINDS if dataset.features_only else ()


def stored_settings(dataset) -> dict:
    """The :class:`~.config.BaselineConfig` settings a features-only dataset's stored histograms
    were made with: ``size_px``, ``color_space``, and ``methods``, the stored interpolation
    alone (Table 2's "resize" columns; a random grid needs pixels)."""
    color = dataset.stored.info["color"]
    return {"size_px": color["size_px"], "methods": (color["method"],), "color_space": color["space"]}


def shipped_features(dataset, spec: FeatureSpec, progress=None):
    """The ``shipped`` kind: the stored pooled features, a row per item of ``dataset``."""
    if not dataset.features_only:
        raise FeatureError("the shipped model's extractor features are stored only by the real "
                           "covers' features pack; on covers with pixels, pick a network's "
                           "embedding")
    extractor = dataset.stored.info["extractor"]
    stored = FeatureSpec(kind=SHIPPED, network=extractor["arch"], size_px=extractor["input_px"],
                         method=extractor["preprocess"])
    if spec != stored:
        raise FeatureError(f"this dataset stores the features of {stored.label()}, not of "
                           f"{spec.label()}")
    return _read(dataset, stored_values(dataset, "features"), progress)


def stored_histograms(dataset, spec: FeatureSpec, feature: str, progress=None):
    """``color_hist`` or ``gradient_hist`` on a features-only dataset: the stored histograms.

    ``spec.bins`` 0 means the colour module's default, as when they are computed.

    Raises
    ------
    FeatureError
        The stored histograms cannot answer ``spec`` (another size, a random grid...).
    """
    from .. import color  # as the computed histograms: see features._color_module
    defaults = color.ColorConfig()
    if feature == "color":
        settings = {"bins": spec.bins or defaults.bins, "space": spec.space}
    else:
        settings = {"orientation_bins": spec.bins or defaults.orientation_bins, "grid": defaults.grid}
    settings |= {"size_px": spec.size_px, "method": spec.method}
    if spec.method == RANDOM:
        refuse_pixels(dataset, "A random grid of pixels")
    try:
        return _read(dataset, color.stored.stored_histograms(dataset, feature, settings), progress)
    except FeaturesOnlyError as exc:
        raise FeatureError(str(exc)) from exc


def refuse_pixels(dataset, what: str) -> None:
    """A :class:`FeatureError` where ``dataset`` holds no pixels for ``what`` (one sentence)."""
    try:
        pixels_refused(dataset, what)
    except FeaturesOnlyError as exc:
        raise FeatureError(str(exc)) from exc


def stored_digest(dataset) -> str:
    """A hash of every number ``dataset`` stores: its fingerprint names the covers, and a
    rebuilt pack (another extractor) gives the same covers other numbers. About 30 ms for
    the real covers' 16 MB."""
    digest = hashlib.sha256()
    arrays = dataset.stored.arrays
    for name in sorted(arrays):
        digest.update(name.encode())
        digest.update(np.ascontiguousarray(arrays[name]))
    return digest.hexdigest()[:16]


def _read(dataset, X: np.ndarray, progress):
    if progress:
        progress(len(dataset), len(dataset))
    return X, np.arange(len(dataset))
