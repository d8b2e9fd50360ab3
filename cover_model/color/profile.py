"""The colour profile of one cover, against a dataset (for the Predict page).

    reference = build_reference(dataset)                 # once per dataset and config
    profile = profile_cover("upload.jpg", reference, k=5)
    profile.closest          # {"intersection": "metal", ...}: the nearest genre mean per metric
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..data.dataset import Dataset
from ..data.downsize import downsize
from ..data.images import decode_image
from .analysis import ColorConfig, compute_features, dataset_features, genre_mean_histograms
from .metrics import METRIC_NAMES, METRICS, compare_all_pairs, get_metric


@dataclass(frozen=True)
class ColorReference:
    """A dataset's per-cover histograms and per-genre mean histograms.

    Attributes
    ----------
    config : ColorConfig
    class_names : tuple of str
    histograms : ndarray of shape (n, K), float32
    labels : ndarray of shape (n,), int64
    paths : tuple of str
        The cover file behind each row.
    genre_means : ndarray of shape (G, K), float32
    genre_counts : tuple of int
        Covers behind each genre's mean (default: counted from ``labels``). A reference
        of means only (the shipped real-cover statistics) has counts and no covers.
    """
    config: ColorConfig
    class_names: tuple[str, ...]
    histograms: np.ndarray
    labels: np.ndarray
    paths: tuple[str, ...]
    genre_means: np.ndarray
    genre_counts: tuple[int, ...] = ()

    @property
    def present(self) -> np.ndarray:
        """Which genres have covers behind their mean, (G,) bool."""
        counts = self.genre_counts or np.bincount(self.labels, minlength=len(self.class_names))
        return np.asarray(counts) > 0


@dataclass(frozen=True)
class CoverProfile:
    """How one cover's histogram relates to the genres and covers of a dataset.

    Attributes
    ----------
    histogram : ndarray of shape (K,), float32
    similarity : DataFrame
        Index: genres; one column per metric: the cover's score against the
        genre's mean histogram (the cover is compareHist's first argument).
    closest : dict of str to str
        Per metric, the genre whose mean is most similar, in its direction.
    neighbours : DataFrame
        The k most similar covers: ``path``, ``genre``, ``score`` (best first).
    neighbour_metric : str
    """
    histogram: np.ndarray
    similarity: pd.DataFrame
    closest: dict
    neighbours: pd.DataFrame
    neighbour_metric: str


def build_reference(dataset: Dataset, cfg: ColorConfig = ColorConfig(), *,
                    progress=None) -> ColorReference:
    """Histograms of every cover of ``dataset`` and each genre's mean (preprocessing is cached)."""
    arrays, histograms = dataset_features(dataset, cfg, progress=progress)
    paths = dataset.items["path"].to_numpy()[arrays.index]
    return ColorReference(cfg, dataset.class_names, histograms, arrays.labels, tuple(paths),
                          genre_mean_histograms(histograms, arrays.labels, n_classes=dataset.n_classes))


def cover_histogram(image, cfg: ColorConfig = ColorConfig()) -> np.ndarray:
    """One cover's histogram, made exactly as the dataset's are: downsized, then binned.

    Parameters
    ----------
    image : ndarray of shape (H, W, 3), uint8, or anything ``decode_image`` reads
    cfg : ColorConfig

    Returns
    -------
    ndarray of shape (K,), float32
    """
    rgb = image if isinstance(image, np.ndarray) else decode_image(image)
    if rgb.ndim != 3 or rgb.shape[-1] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"expected an RGB image (H, W, 3) uint8, got {rgb.shape} {rgb.dtype}")
    small = downsize(rgb, cfg.size_px, method=cfg.method, rng=np.random.default_rng(0))
    return compute_features(small[None], cfg)[0]


def profile_cover(image, reference: ColorReference, *, k: int = 5,
                  metric: str = "intersection") -> CoverProfile:
    """The colour profile of one cover against a reference dataset.

    Parameters
    ----------
    image : ndarray of shape (H, W, 3), uint8, or a path / bytes / file
    reference : ColorReference
    k : int, default=5
        Nearest covers to return.
    metric : str, default="intersection"
        The metric that picks the nearest covers.

    Returns
    -------
    CoverProfile
    """
    metric = get_metric(metric).name
    histogram = cover_histogram(image, reference.config)
    query = histogram[None]
    present = reference.present
    scores = {m: compare_all_pairs(query, reference.genre_means, metric=m)[0] for m in METRIC_NAMES}
    similarity = pd.DataFrame(scores, index=pd.Index(reference.class_names, name="genre"))
    similarity.loc[~present] = np.nan
    closest = {m: similarity[m].idxmax() if METRICS[m].higher_is_similar else similarity[m].idxmin()
               for m in METRIC_NAMES}
    return CoverProfile(histogram, similarity, closest,
                        _nearest(query, reference, k=k, metric=metric), metric)


def _nearest(query: np.ndarray, reference: ColorReference, *, k: int, metric: str) -> pd.DataFrame:
    if not len(reference.histograms):                  # genre means only: no covers to show
        return pd.DataFrame({"path": [], "genre": [], "score": []})
    scores = compare_all_pairs(query, reference.histograms, metric=metric)[0]
    order = np.argsort(-scores if METRICS[metric].higher_is_similar else scores, kind="stable")[:k]
    return pd.DataFrame({
        "path": [reference.paths[i] for i in order],
        "genre": [reference.class_names[reference.labels[i]] for i in order],
        "score": scores[order],
    })
