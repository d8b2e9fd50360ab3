"""Train/val/test splits: seeded, stratified, group-aware, or the paper's protocol.

Every scheme reduces to per-class target counts, filled by one greedy pass over
shuffled groups (an item with no group is a group of one). A group never spans
two splits, and without groups the counts per class hit the targets exactly.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from .dataset import SPLITS, Dataset, DatasetError

SCHEMES = ("auto", "manifest", "stratified", "group", "paper")
_MAX_NEEDED = 10_000           # covers per genre tried by covers_needed_per_genre


def assign_splits(dataset: Dataset, *, scheme: str = "auto", val_frac: float = 0.15,
                  test_frac: float = 0.15, n_test_per_class: int = 100,
                  seed: int = 0) -> Dataset:
    """Return a copy of ``dataset`` with its ``split`` column filled.

    Parameters
    ----------
    dataset : Dataset
    scheme : {"auto", "manifest", "stratified", "group", "paper"}, default="auto"
        ``manifest`` keeps the manifest's own splits; ``stratified`` keeps each
        genre's proportions; ``group`` also keeps every group (artist, release)
        in one split; ``paper`` is the paper's balanced test set of
        ``n_test_per_class`` covers per genre (the rest trains, less
        ``val_frac`` for validation), group-aware when groups exist. ``auto``
        picks manifest, then group, then stratified, by what the data has.
    val_frac, test_frac : float
        Fractions of each genre (``test_frac`` is unused by ``paper``).
    n_test_per_class : int, default=100
        The paper's test covers per genre; at most half of a genre.
    seed : int

    Returns
    -------
    Dataset
    """
    scheme = _resolve(dataset, scheme)
    if scheme == "manifest":
        return dataset
    if not (0 <= val_frac < 1 and 0 <= test_frac < 1 and val_frac + test_frac < 1):
        raise ValueError(f"val_frac={val_frac} and test_frac={test_frac} must be in [0, 1) "
                         "and sum to less than 1")
    labels = dataset.items["label"].to_numpy()
    n_per_class = np.bincount(labels, minlength=dataset.n_classes)
    if scheme == "paper":
        targets = _paper_targets(n_per_class, n_test_per_class, val_frac)
    else:
        targets = _fraction_targets(n_per_class, val_frac, test_frac)
    groups = (dataset.items["group"].to_numpy() if scheme in ("group", "paper") and dataset.has_groups
              else np.arange(len(labels)).astype(str))
    split_ids = _fill_greedily(labels, groups, targets, np.random.default_rng(seed))
    items = dataset.items.copy()
    items["split"] = np.asarray(SPLITS)[split_ids]
    return replace(dataset, items=items)


def covers_needed_per_genre(split: str = "test", *, scheme: str = "auto", val_frac: float = 0.15,
                            test_frac: float = 0.15, n_test_per_class: int = 100) -> int | None:
    """The fewest covers a genre needs to give ``split`` one of them, split as
    :func:`assign_splits` would with these settings; None when no size does (a fraction
    of 0, or a manifest's own splits).

    Fractions round per genre, so at the default 15% a genre of 3 covers keeps all three
    for training and a genre of 4 gives one to validation and one to test.

    >>> covers_needed_per_genre("test"), covers_needed_per_genre("test", scheme="paper")
    (4, 2)
    """
    fraction = {"val": val_frac, "test": test_frac}.get(split, 1.0)
    if scheme == "manifest" or (scheme != "paper" and fraction <= 0):
        return None
    row = SPLITS.index(split)
    for n in range(1, _MAX_NEEDED + 1):        # the real targets, so the answer cannot drift
        counts = np.array([n])
        targets = (_paper_targets(counts, n_test_per_class, val_frac) if scheme == "paper"
                   else _fraction_targets(counts, val_frac, test_frac))
        if targets[row, 0] >= 1:
            return n
    return None


def _resolve(dataset: Dataset, scheme: str) -> str:
    if scheme not in SCHEMES:
        raise ValueError(f"unknown split scheme {scheme!r}; choose from {', '.join(SCHEMES)}")
    has_manifest_splits = bool(dataset.items["split"].isin(SPLITS).all())
    if scheme == "manifest" and not has_manifest_splits:
        raise DatasetError("the dataset has no split column with a train/val/test value on every row")
    if scheme == "group" and not dataset.has_groups:
        raise DatasetError("the dataset has no group column; use scheme 'stratified'")
    if scheme == "auto":
        return "manifest" if has_manifest_splits else "group" if dataset.has_groups else "stratified"
    return scheme


def _fraction_targets(n_per_class, val_frac: float, test_frac: float) -> np.ndarray:
    test = np.round(n_per_class * test_frac).astype(int)
    val = np.round(n_per_class * val_frac).astype(int)
    return np.stack([n_per_class - val - test, val, test])


def _paper_targets(n_per_class, n_test_per_class: int, val_frac: float) -> np.ndarray:
    test = np.minimum(n_test_per_class, n_per_class // 2)
    val = np.round((n_per_class - test) * val_frac).astype(int)
    return np.stack([n_per_class - val - test, val, test])


def _fill_greedily(labels, groups, targets: np.ndarray, rng) -> np.ndarray:
    """Give each group to the split that most lacks its genres.

    Bigger groups go first (they are hardest to place); deficits are relative
    to each target, so a small split still gets one of a genre's few groups.
    """
    names, group_of = np.unique(groups, return_inverse=True)
    per_group = np.zeros((len(names), targets.shape[1]))
    np.add.at(per_group, (group_of, labels), 1)
    order = rng.permutation(len(names))
    order = order[np.argsort(-per_group[order].sum(axis=1), kind="stable")]
    filled = np.zeros_like(targets, dtype=float)
    scale = np.maximum(targets, 1)
    split_of_group = np.empty(len(names), dtype=int)
    for g in order:
        need = ((targets - filled) / scale) @ per_group[g]
        split = int(np.argmax(need))
        split_of_group[g] = split
        filled[split] += per_group[g]
    return split_of_group[group_of]
