"""Histograms a features-only dataset stores, read instead of computed from pixels.

The real covers' features pack (:mod:`cover_model.data.feature_pack`) keeps each cover's
colour histogram (8 bins a channel) and gradient histogram (9 orientations in each cell
of a 4 x 4 grid) of the cover downsized to 32 px by cubic interpolation; its
``info["color"]`` and ``info["gradient"]`` say so, in :class:`~.analysis.ColorConfig`'s
field names. Those settings are fixed: another size, interpolation, colour space or
number of orientations needs the pixels. One setting of each can still be made
coarser exactly, by summing neighbouring bins (:func:`sum_blocks`):

- colour ``bins``: a pixel's bin on a channel is ``value * bins >> 8``
  (:func:`~.histograms.compute_histograms`), so with ``bins`` dividing the stored 8 it
  is the stored bin ``// (8 // bins)``: 4, 2 and 1 bins a channel are sums of the 8;
- gradient ``grid``: a pixel's cell is ``row * grid // size`` on each side, so a grid
  dividing the stored 4 (2 or 1 cells a side) sums 2 x 2 or 4 x 4 stored cells, and
  the whole vector already sums to 1 over every cell.

The orientation bins cannot be merged so: each edge votes into its two nearest
bins, whose centres move when their number changes.
"""
from __future__ import annotations

import numpy as np

from ..data.feature_pack import FeaturesOnlyError, stored_values

# The one setting of each feature that the stored histogram answers coarser too.
COARSENED = {"color": "bins", "gradient": "grid"}
_NAMES = {"color": "colour histograms", "gradient": "gradient histograms"}


def stored_settings(dataset, feature: str) -> dict:
    """The settings ``dataset`` stores ``feature``'s histograms with (``ColorConfig`` field names),
    e.g. ``{"bins": 8, "space": "rgb", "size_px": 32, "method": "cubic"}``."""
    return dict(dataset.stored.info[feature])


def fixed_settings(dataset) -> dict:
    """The settings of both features that only pixels could change (all but :data:`COARSENED`):
    what a page fixes on a features-only dataset."""
    return {name: value for feature, setting in COARSENED.items()
            for name, value in stored_settings(dataset, feature).items() if name != setting}


def coarser_values(dataset, feature: str) -> tuple[int, ...]:
    """The values of ``feature``'s :data:`COARSENED` setting that the stored histograms answer
    exactly: the divisors of the stored one, in increasing order (e.g. 1, 2, 4, 8 bins)."""
    stored = stored_settings(dataset, feature)[COARSENED[feature]]
    return tuple(n for n in range(1, stored + 1) if stored % n == 0)


def stored_problem(dataset, feature: str, settings: dict) -> str | None:
    """Why ``dataset``'s stored ``feature`` histograms cannot answer ``settings``, or None.

    Parameters
    ----------
    dataset : Dataset
        Features-only (``dataset.stored`` is its pack).
    feature : {"color", "gradient"}
    settings : dict
        At least the keys of :func:`stored_settings` (a ColorConfig as a dict works).
    """
    stored = stored_settings(dataset, feature)
    coarse = COARSENED[feature]
    asked = {name: settings[name] for name in stored}
    wrong = [f"{name} {value}" for name, value in asked.items()
             if (value not in coarser_values(dataset, feature) if name == coarse
                 else value != stored[name])]
    if not wrong:
        return None
    kept = ", ".join(f"{name} {value}" for name, value in stored.items())
    if coarser := "/".join(str(value) for value in coarser_values(dataset, feature)[-2::-1]):
        kept += f" ({coarse} {coarser} too, summed exactly)"
    return (f"this dataset stores its {_NAMES[feature]} as made with {kept}, and holds no pixels "
            f"to make them with {', '.join(wrong)}")


def stored_histograms(dataset, feature: str, settings: dict) -> np.ndarray:
    """``dataset``'s stored ``feature`` histograms, made as coarse as ``settings`` asks.

    Returns
    -------
    ndarray of shape (n, K), float32
        A row per item of ``dataset``, in its order, summing to 1; the same layout as
        :func:`~.analysis.compute_features` gives for these settings.

    Raises
    ------
    FeaturesOnlyError
        The settings need pixels (:func:`stored_problem` says why).
    """
    if problem := stored_problem(dataset, feature, settings):
        raise FeaturesOnlyError(problem)
    stored = stored_settings(dataset, feature)
    values = stored_values(dataset, feature)
    coarse = COARSENED[feature]
    factor = stored[coarse] // settings[coarse]
    if factor == 1:
        return values
    if feature == "color":
        return sum_blocks(values, (stored["bins"],) * 3, (factor,) * 3)
    grid = stored["grid"]
    return sum_blocks(values, (grid, grid, stored["orientation_bins"]), (factor, factor, 1))


def sum_blocks(values: np.ndarray, shape: tuple[int, ...], factors: tuple[int, ...]) -> np.ndarray:
    """Sum each run of ``factor`` neighbours along every axis of a per-row grid.

    Parameters
    ----------
    values : ndarray of shape (n, prod(shape))
        Each row a grid of ``shape``, flattened in C order.
    shape : tuple of int
    factors : tuple of int
        One per axis, each dividing its side.

    Returns
    -------
    ndarray of shape (n, prod(side // factor)), of ``values``' dtype

    Examples
    --------
    >>> sum_blocks(np.arange(4)[None], (4,), (2,)).tolist()
    [[1, 5]]
    >>> sum_blocks(np.arange(8)[None], (2, 2, 2), (2, 1, 2)).tolist()     # over the 1st and 3rd axes
    [[10, 18]]
    """
    n = len(values)
    split = [part for side, factor in zip(shape, factors) for part in (side // factor, factor)]
    summed = values.reshape(n, *split).sum(axis=tuple(range(2, 2 * len(shape) + 1, 2)))
    return summed.reshape(n, -1).astype(values.dtype, copy=False)
