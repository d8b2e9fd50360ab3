"""Mean scores between samples of histograms, without a loop over pairs of covers.

The paper's protocol needs, for sample A_i and sample B_j, the mean of every
``compareHist`` score over A_i x B_j. :func:`block_means` returns these for
all pairs of samples at once (only i <= j when asked), equal to the mean of
``compare_all_pairs`` up to float64 rounding:

- correlation and chi-square are sums of per-side terms, so a block's mean is
  a dot product of per-sample means: one (G x K) @ (K x G) product in all;
- intersection: per bin, the sum of ``min`` over all pairs comes from sorted
  values (the y below each x, and how many are above): one searchsorted per
  row of blocks; zeros add nothing, so only nonzero bins take part;
- Hellinger has a square root per pair, so the pairs are formed: one
  (sparse) product per pair of samples.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse

from .metrics import (
    _DBL_EPSILON,
    _FLT_EPSILON,
    _as_float64,
    _pairwise_correlation,
    _pairwise_hellinger,
    _pairwise_intersection,
    get_metric,
)

_SPARSE_DENSITY = 0.25      # below this share of nonzero bins, sparse products win


def block_means(samples_a, samples_b, *, metric: str, upper: bool = False) -> np.ndarray:
    """Mean score over every pair of covers of A_i x B_j, for every pair of samples.

    Parameters
    ----------
    samples_a, samples_b : sequences of G arrays of shape (n_g, K)
        The samples; ``samples_a[g]`` holds compareHist's first arguments.
        A genre whose A or B sample is empty gets NaN.
    metric : {"correlation", "chi_square", "intersection", "hellinger"}
    upper : bool, default=False
        Score only the blocks i <= j (the rest is NaN), as the paper's protocol does.

    Returns
    -------
    ndarray of shape (G, G), float64

    Examples
    --------
    >>> from cover_model.color.metrics import compare_all_pairs
    >>> rng = np.random.default_rng(0)
    >>> a = [rng.dirichlet(np.ones(16), 5), rng.dirichlet(np.ones(16), 7)]
    >>> b = [rng.dirichlet(np.ones(16), 6), rng.dirichlet(np.ones(16), 4)]
    >>> means = block_means(a, b, metric="intersection")
    >>> bool(np.isclose(means[0, 1], compare_all_pairs(a[0], b[1], metric="intersection").mean()))
    True
    """
    metric = get_metric(metric)
    if len(samples_a) != len(samples_b):
        raise ValueError(f"{len(samples_a)} A samples but {len(samples_b)} B samples")
    a = [_as_float64(x) for x in samples_a]
    b = [_as_float64(x) for x in samples_b]
    n_groups = len(a)
    present = [g for g in range(n_groups) if len(a[g]) and len(b[g])]
    out = np.full((n_groups, n_groups), np.nan)
    if present:
        means = _BLOCKS[metric.name]([a[g] for g in present], [b[g] for g in present], upper)
        if upper:
            means[np.tril_indices(len(present), -1)] = np.nan
        out[np.ix_(present, present)] = means
    return out


def mean_similarity(h1: np.ndarray, h2: np.ndarray, *, metric: str) -> float:
    """The mean of ``compare_all_pairs(h1, h2, metric=metric)``, computed the short way.

    Examples
    --------
    >>> from cover_model.color.metrics import METRIC_NAMES, compare_all_pairs
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.dirichlet(np.ones(64), 20), rng.dirichlet(np.ones(64), 30)
    >>> all(np.isclose(mean_similarity(a, b, metric=m), compare_all_pairs(a, b, metric=m).mean())
    ...     for m in METRIC_NAMES)
    True
    """
    return float(block_means([h1], [h2], metric=metric)[0, 0])


def _correlation_blocks(a, b, upper) -> np.ndarray:
    # corr(x, y) = (x.y - s_x s_y / K) / (sigma_x sigma_y): linear in x / sigma_x and in y / sigma_y.
    n_bins = a[0].shape[1]
    terms_a, terms_b = [_correlation_means(x) for x in a], [_correlation_means(y) for y in b]
    means = (np.stack([t[0] for t in terms_a]) @ np.stack([t[0] for t in terms_b]).T
             - np.outer([t[1] for t in terms_a], [t[1] for t in terms_b]) / n_bins)
    # OpenCV returns 1 where the variance product is under DBL_EPSILON: near-flat
    # histograms. Such pairs cannot be split by side; score those blocks directly.
    lowest_a, lowest_b = np.array([t[2] for t in terms_a]), np.array([t[2] for t in terms_b])
    for i, j in zip(*np.nonzero(np.outer(lowest_a, lowest_b) <= _DBL_EPSILON)):
        means[i, j] = _pairwise_correlation(a[i], b[j]).mean()
    return means


def _correlation_means(h: np.ndarray):
    sums = h.sum(axis=1)
    variance = (h * h).sum(axis=1) - sums * sums / h.shape[1]
    scale = 1 / np.sqrt(np.where(variance > 0, variance, 1))
    return (h * scale[:, None]).mean(axis=0), float((sums * scale).mean()), float(variance.min())


def _chi_square_blocks(a, b, upper) -> np.ndarray:
    # sum_{x != 0} (x - y)^2 / x = sum_{x != 0} x - 2 sum_{x != 0} y + sum_{x != 0} y^2 / x:
    # each term is a product of something of x and something of y.
    masks = [np.abs(x) > _DBL_EPSILON for x in a]
    masked_sums = np.array([np.where(m, x, 0).sum(axis=1).mean() for x, m in zip(a, masks)])
    mean_masks = np.stack([m.mean(axis=0) for m in masks])
    mean_inverses = np.stack([np.where(m, 1 / np.where(m, x, 1), 0).mean(axis=0) for x, m in zip(a, masks)])
    mean_b = np.stack([y.mean(axis=0) for y in b])
    mean_squares_b = np.stack([(y * y).mean(axis=0) for y in b])
    return masked_sums[:, None] - 2 * mean_masks @ mean_b.T + mean_inverses @ mean_squares_b.T


def _intersection_blocks(a, b, upper) -> np.ndarray:
    # Per bin, sum over x in A_i, y in B_j of min(x, y) = sum over x of [the sum of
    # the y below x + x * #(y >= x)]. Zeros add nothing (min(0, y) = 0), so only
    # nonzero values take part.
    if any((x < 0).any() for x in (*a, *b)):    # the shortcut needs min(0, y) = 0
        return _blocks_by_pairs(_pairwise_intersection, a, b, upper)
    n_groups, n_bins = len(a), a[0].shape[1]
    span = _span(max(float(x.max(initial=0)) for x in (*a, *b)))
    stack = _sorted_nonzero_stack(b, span)
    sizes_b = np.array([len(y) for y in b], np.float64)
    means = np.full((n_groups, n_groups), np.nan)
    for i, x in enumerate(a):
        values, bins = _sorted_nonzero(x)          # sorted queries search about 3x faster
        groups = np.arange(i if upper else 0, n_groups)
        # The same expression as the stacked keys, so equal values give equal keys.
        queries = values + (groups[:, None] * n_bins + bins) * span
        position = np.searchsorted(stack["keys"], queries.ravel(), side="left").reshape(queries.shape)
        # Value x in bin k, against B_j, adds (cumsum[position] - cumsum[start_jk]) + x (end_jk - position).
        totals = (stack["cumsum"][position].sum(axis=1)
                  - stack["base"][groups] @ np.bincount(bins, minlength=n_bins)
                  + stack["ends"][groups] @ np.bincount(bins, values, minlength=n_bins)
                  - position @ values)
        means[i, groups] = totals / (len(x) * sizes_b[groups])
    return means


def _sorted_nonzero_stack(samples, span: float) -> dict:
    """Every sample's nonzero values ordered by (sample, bin, value), as searchable keys.

    A value of bin k in sample j is keyed ``value + (j * K + k) * span``: one
    sorted array serves every (sample, bin) at once.
    """
    n_bins = samples[0].shape[1]
    values, groups_bins = [], []
    for g, h in enumerate(samples):
        sample_values, bins = _sorted_nonzero(h)
        values.append(sample_values)
        groups_bins.append(g * n_bins + bins)
    values, groups_bins = np.concatenate(values), np.concatenate(groups_bins)
    starts = np.concatenate([[0], np.cumsum(np.bincount(groups_bins, minlength=len(samples) * n_bins))])
    cumsum = np.concatenate([[0.0], np.cumsum(values)])
    return {"keys": values + groups_bins * span, "cumsum": cumsum,
            "base": cumsum[starts[:-1]].reshape(len(samples), n_bins),
            "ends": starts[1:].reshape(len(samples), n_bins).astype(np.float64)}


def _sorted_nonzero(h: np.ndarray):
    """The nonzero values of a sample and their bins, ordered by (bin, value)."""
    by_bin = np.sort(np.ascontiguousarray(h.T), axis=1)   # (K, n): each bin ascending
    bins, columns = np.nonzero(by_bin)                      # row-major: by bin, then value
    return by_bin[bins, columns], bins


def _span(largest: float) -> float:
    """A power of two above every value: shifting each bin by whole spans keeps them apart."""
    return float(2.0 ** np.ceil(np.log2(max(largest, 1.0) + 1)))


def _hellinger_blocks(a, b, upper) -> np.ndarray:
    sums_a, sums_b = [x.sum(axis=1) for x in a], [y.sum(axis=1) for y in b]
    # OpenCV scales by 1/sqrt(s_x s_y) unless that product is under FLT_EPSILON;
    # where no such pair exists, the scale folds into each side's rows.
    if min(s.min() for s in sums_a) * min(s.min() for s in sums_b) <= _FLT_EPSILON:
        return _blocks_by_pairs(_pairwise_hellinger, a, b, upper)
    scaled_a = [_sparse_if_sparse(np.sqrt(x) / np.sqrt(s)[:, None]) for x, s in zip(a, sums_a)]
    scaled_b_t = [np.ascontiguousarray((np.sqrt(y) / np.sqrt(s)[:, None]).T) for y, s in zip(b, sums_b)]
    means = np.full((len(a), len(b)), np.nan)
    for i in range(len(a)):
        for j in range(i if upper else 0, len(b)):
            distance = np.asarray(scaled_a[i] @ scaled_b_t[j])       # (n_i, n_j): every pair
            np.subtract(1, distance, out=distance)
            np.maximum(distance, 0, out=distance)
            means[i, j] = np.sqrt(distance, out=distance).mean()
    return means


def _sparse_if_sparse(h: np.ndarray):
    """CSR when under a quarter of the bins are used, else the array itself.

    Colour histograms of small covers are sparse (1 bin in 10-15 used at
    32 px); a sparse-dense product is then several times faster than BLAS.
    """
    rows, columns = np.nonzero(h)
    if len(rows) >= _SPARSE_DENSITY * h.size:
        return h
    # Built from its parts: several times faster than csr_matrix(dense), which goes through COO.
    indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=len(h)))])
    return scipy.sparse.csr_matrix((h[rows, columns], columns, indptr), shape=h.shape)


def _blocks_by_pairs(pairwise, a, b, upper) -> np.ndarray:
    """The plain way, for inputs the shortcuts do not cover: every pair, block by block."""
    means = np.full((len(a), len(b)), np.nan)
    for i in range(len(a)):
        for j in range(i if upper else 0, len(b)):
            means[i, j] = pairwise(a[i], b[j]).mean()
    return means


_BLOCKS = {"correlation": _correlation_blocks, "chi_square": _chi_square_blocks,
           "intersection": _intersection_blocks, "hellinger": _hellinger_blocks}
