"""The paper's two-sample protocol (section 3): similarity matrix, Table 1 ranks, trials.

Per genre, two disjoint random samples A and B of n covers. Entry (i, j) of
the G x G matrix is the mean score of every cover of A_i against every cover
of B_j. As in the paper only the G(G+1)/2 pairs i <= j are scored (55 for ten
genres, 50^2 * 55 scores) and mirrored, so the matrix is symmetric; on the
diagonal A_i and B_i share no cover, so none is compared with itself.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd
from threadpoolctl import ThreadpoolController

from .blocks import block_means
from .metrics import METRIC_NAMES, get_metric


@dataclass(frozen=True)
class Samples:
    """Two disjoint samples of covers per genre.

    Attributes
    ----------
    a, b : tuple of ndarray of int64
        Per genre, row indices into the histograms; ``a[g]`` and ``b[g]`` are
        disjoint and of equal length ``n_per_genre[g]``.
    n_per_genre : ndarray of shape (G,), int64
        The sample size used per genre: the asked n, or fewer for a genre
        without 2n covers (``count // 2``; 0 for a genre with under 2 covers).
    """
    a: tuple[np.ndarray, ...]
    b: tuple[np.ndarray, ...]
    n_per_genre: np.ndarray


@dataclass(frozen=True)
class TrialResults:
    """The protocol repeated over trials, for several metrics.

    Attributes
    ----------
    metrics : tuple of str
    matrices : ndarray of shape (n_trials, n_metrics, G, G), float64
        Symmetric; rows and columns of genres without a sample are NaN.
    ranks : ndarray of shape (n_trials, n_metrics, G), float64
        Table 1 per trial: each genre's rank of itself in its row (1 = best).
    n_per_genre : ndarray of shape (G,), int64
    """
    metrics: tuple[str, ...]
    matrices: np.ndarray
    ranks: np.ndarray
    n_per_genre: np.ndarray


def draw_disjoint_samples(labels: np.ndarray, *, n_classes: int, n_per_genre: int = 50,
                          rng: np.random.Generator) -> Samples:
    """Two disjoint random samples of up to ``n_per_genre`` covers for each genre.

    Parameters
    ----------
    labels : ndarray of shape (n,), int
        Genre id of each cover.
    n_classes : int
    n_per_genre : int, default=50
        The paper's 50. A genre with fewer than ``2 * n_per_genre`` covers gets
        ``count // 2`` per sample instead (see ``Samples.n_per_genre``).
    rng : numpy Generator

    Examples
    --------
    >>> s = draw_disjoint_samples(np.array([0] * 10 + [1] * 5), n_classes=2, n_per_genre=4,
    ...                           rng=np.random.default_rng(0))
    >>> s.n_per_genre.tolist(), bool(set(s.a[1]) & set(s.b[1]))
    ([4, 2], False)
    """
    if n_per_genre < 1:
        raise ValueError(f"n_per_genre must be at least 1, got {n_per_genre}")
    labels = np.asarray(labels)
    sample_a, sample_b, sizes = [], [], []
    for genre in range(n_classes):
        members = np.flatnonzero(labels == genre)
        n_used = min(n_per_genre, len(members) // 2)
        picked = rng.permutation(members)[:2 * n_used]
        sample_a.append(np.sort(picked[:n_used]))
        sample_b.append(np.sort(picked[n_used:]))
        sizes.append(n_used)
    return Samples(tuple(sample_a), tuple(sample_b), np.array(sizes, np.int64))


def similarity_matrix(histograms: np.ndarray, samples: Samples, *, metric: str) -> np.ndarray:
    """The G x G matrix of mean scores between the samples (the paper's Figure 2).

    Parameters
    ----------
    histograms : ndarray of shape (n, K)
        One row per cover, indexed by ``samples``.
    samples : Samples
    metric : str
        One of :data:`~cover_model.color.metrics.METRICS`.

    Returns
    -------
    ndarray of shape (G, G), float64
        Symmetric: entry (i, j) for i <= j is the mean over A_i x B_j, mirrored.
        Genres without a sample have NaN rows and columns.
    """
    return similarity_matrices(histograms, samples, metrics=(metric,))[0]


def similarity_matrices(histograms: np.ndarray, samples: Samples, *, metrics=METRIC_NAMES) -> np.ndarray:
    """:func:`similarity_matrix` for several metrics: ``(n_metrics, G, G)``, samples gathered once."""
    # float64 once per sample (the metrics compute in float64, as OpenCV does).
    sample_a = [np.asarray(histograms[idx], np.float32).astype(np.float64) for idx in samples.a]
    sample_b = [np.asarray(histograms[idx], np.float32).astype(np.float64) for idx in samples.b]
    matrices = []
    for metric in metrics:
        matrix = block_means(sample_a, sample_b, metric=metric, upper=True)   # i <= j only
        lower = np.tril_indices(len(matrix), -1)
        matrix[lower] = matrix.T[lower]                                      # mirrored
        matrices.append(matrix)
    return np.stack(matrices)


def rank_self_similarity(matrix: np.ndarray, *, metric: str) -> np.ndarray:
    """Table 1: each genre's rank of its own entry within its row (1 = most similar).

    The rank is 1 plus the number of other genres strictly more similar, in
    the metric's direction (higher for correlation and intersection, lower for
    chi-square and Hellinger); ties go in the genre's favour. NaN entries are
    left out; a genre without a sample gets NaN.

    Examples
    --------
    >>> m = np.array([[0.5, 0.9], [0.9, 0.2]])
    >>> rank_self_similarity(m, metric="intersection").tolist()
    [2.0, 2.0]
    >>> rank_self_similarity(m, metric="hellinger").tolist()
    [1.0, 1.0]
    """
    metric = get_metric(metric)
    diagonal = np.diag(matrix)[:, None]
    better = matrix > diagonal if metric.higher_is_similar else matrix < diagonal
    ranks = 1.0 + better.sum(axis=1)
    ranks[np.isnan(np.diag(matrix))] = np.nan
    return ranks


def run_trials(histograms: np.ndarray, labels: np.ndarray, *, n_classes: int,
               n_per_genre: int = 50, n_trials: int = 20, seed: int = 0,
               metrics=METRIC_NAMES, progress=None) -> TrialResults:
    """Repeat the protocol with fresh samples; the paper says only that ranks vary.

    Trial ``t`` draws its samples from ``SeedSequence(seed).spawn(n_trials)[t]``,
    so a trial's result does not depend on how many trials run. Every metric
    of a trial scores the same samples.

    Parameters
    ----------
    histograms : ndarray of shape (n, K)
    labels : ndarray of shape (n,), int
    n_classes : int
    n_per_genre : int, default=50
    n_trials : int, default=20
    seed : int, default=0
    metrics : sequence of str, default=all four
    progress : callable, optional
        ``progress(done, total)`` after each trial.

    Returns
    -------
    TrialResults
    """
    if n_trials < 1:
        raise ValueError(f"n_trials must be at least 1, got {n_trials}")
    metrics = tuple(get_metric(m).name for m in metrics)
    histograms = np.asarray(histograms)
    matrices = np.empty((n_trials, len(metrics), n_classes, n_classes))
    ranks = np.empty((n_trials, len(metrics), n_classes))
    sizes = None
    # Blocks are small (50 x K x 50) matrix products: BLAS threads only add
    # hand-off costs, and on a busy machine they stall (10x slower measured).
    with _blas_controller().limit(limits=1, user_api="blas"):
        for trial, child in enumerate(np.random.SeedSequence(seed).spawn(n_trials)):
            samples = draw_disjoint_samples(labels, n_classes=n_classes, n_per_genre=n_per_genre,
                                            rng=np.random.default_rng(child))
            sizes = samples.n_per_genre
            matrices[trial] = similarity_matrices(histograms, samples, metrics=metrics)
            for k, metric in enumerate(metrics):
                ranks[trial, k] = rank_self_similarity(matrices[trial, k], metric=metric)
            if progress:
                progress(trial + 1, n_trials)
    return TrialResults(metrics, matrices, ranks, sizes)


def summarise_ranks(trials: TrialResults, class_names) -> pd.DataFrame:
    """Per metric and genre: Table 1's rank in the first trial and its stability.

    Returns
    -------
    DataFrame
        One row per (metric, genre): ``rank`` (trial 1, the paper's single
        draw), ``mean_rank``, ``std_rank``, ``min_rank``, ``max_rank``,
        ``share_first`` (fraction of trials where the genre ranks itself 1st)
        and ``n_per_sample``.
    """
    rows = []
    with np.errstate(invalid="ignore"):
        for k, metric in enumerate(trials.metrics):
            ranks = trials.ranks[:, k, :]
            for g, genre in enumerate(class_names):
                column = ranks[:, g]
                valid = not np.isnan(column).all()
                rows.append({
                    "metric": metric, "genre": genre, "n_per_sample": int(trials.n_per_genre[g]),
                    "rank": column[0],
                    "mean_rank": np.nanmean(column) if valid else np.nan,
                    "std_rank": np.nanstd(column) if valid else np.nan,
                    "min_rank": np.nanmin(column) if valid else np.nan,
                    "max_rank": np.nanmax(column) if valid else np.nan,
                    "share_first": np.mean(column == 1) if valid else np.nan,
                })
    return pd.DataFrame(rows)


@functools.cache
def _blas_controller() -> ThreadpoolController:
    # Scanning the loaded libraries costs about a millisecond; do it once.
    return ThreadpoolController()
