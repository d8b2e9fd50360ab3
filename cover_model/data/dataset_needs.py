"""What each analysis needs of a dataset, and why a dataset that loads cannot do it.

A dataset loads with a single genre, two covers per genre or no split column; what it
can then do depends on the analysis. Each ``*_problem`` function answers "can this
dataset do X?" with None (yes) or one sentence saying what is missing and what would do,
e.g. ``this dataset has no test split; it needs 4 covers per genre to split it (its
genres have 3)``. Pages show the sentence and stop; commands and the package's own entry
points raise it as :class:`NotEnoughData` (:func:`require`), which the CLI prints as one
``error:`` line.

    >>> require(None)                   # nothing missing: nothing happens
"""
from __future__ import annotations

import numpy as np

from .dataset import SPLITS, Dataset, DatasetError
from .splits import assign_splits, covers_needed_per_genre

MIN_GENRES = 2             # a classifier, a similarity ranking: something to tell apart
MIN_SAMPLE_COVERS = 2      # the colour analysis draws two disjoint samples of a genre


class NotEnoughData(DatasetError):
    """A dataset loads, but is too small or too narrow for what was asked; the message
    says what it lacks and what it needs."""


def require(problem: str | None) -> None:
    """Raise :class:`NotEnoughData` with ``problem``, the answer of a ``*_problem`` function."""
    if problem:
        raise NotEnoughData(problem)


def genres_problem(dataset: Dataset) -> str | None:
    """Why ``dataset`` has too few genres to tell apart, or None."""
    if dataset.n_classes >= MIN_GENRES:
        return None
    return (f"this dataset has a single genre ({dataset.class_names[0]}); telling genres apart "
            f"needs at least {MIN_GENRES}")


def split_problem(dataset: Dataset, split: str = "test", *, scheme: str = "auto",
                  val_frac: float = 0.15, test_frac: float = 0.15,
                  n_test_per_class: int = 100) -> str | None:
    """Why the split ``dataset`` was given has no ``split`` covers, or None.

    Parameters
    ----------
    dataset : Dataset
        Split (:func:`cover_model.data.splits.assign_splits`) with the settings below.
    split : {"train", "val", "test"}
    scheme, val_frac, test_frac, n_test_per_class
        How it was split: they say how many covers per genre a split needs.

    Examples
    --------
    A genre of 3 covers keeps all of them for training (15% of 3 rounds to 0); 4 give one
    to test. See ``tests/test_dataset_needs.py``.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose from {', '.join(SPLITS)}")
    if (dataset.items["split"] == split).any():
        return None
    needed = covers_needed_per_genre(split, scheme=scheme, val_frac=val_frac, test_frac=test_frac,
                                     n_test_per_class=n_test_per_class)
    counts = np.bincount(dataset.items["label"], minlength=dataset.n_classes)
    if needed and counts.max() < needed:
        return (f"this dataset has no {split} split; it needs {needed} covers per genre to split "
                f"it (its genres have {_span(counts)})")
    if dataset.has_groups and scheme != "stratified":
        n_groups = dataset.items.loc[dataset.items["group"] != "", "group"].nunique()
        return (f"this dataset has no {split} split: its covers are in {n_groups} group(s) (e.g. "
                "artists), and a group stays in one split, so it needs more groups")
    return (f"this dataset's split has no {split} covers (a manifest's split column without "
            f"'{split}' rows, or a {split} fraction of 0)")


def fit_and_score_problem(dataset: Dataset, **split_settings) -> str | None:
    """Why a model cannot be fitted and scored on ``dataset`` (split), or None: 2 genres,
    train covers and test covers. ``split_settings`` are how it was split
    (:func:`split_problem`'s keywords)."""
    return (genres_problem(dataset) or split_problem(dataset, "train", **split_settings)
            or split_problem(dataset, "test", **split_settings))


def baselines_problem(dataset: Dataset, **split_settings) -> str | None:
    """Why the scikit-learn baselines cannot be fitted and scored on ``dataset`` (split), or None."""
    return fit_and_score_problem(dataset, **split_settings)


def colour_problem(dataset: Dataset) -> str | None:
    """Why the paper's colour analysis cannot compare the genres of ``dataset``, or None.

    It ranks each genre's similarity to itself against the others, from two disjoint
    samples per genre: at least 2 genres of at least 2 covers each. Smaller genres are
    left out of it with a note (:func:`cover_model.color.run_color_analysis`).
    """
    problem = genres_problem(dataset)
    if problem:
        return problem
    counts = np.bincount(dataset.items["label"], minlength=dataset.n_classes)
    usable = [g for g, n in zip(dataset.class_names, counts) if n >= MIN_SAMPLE_COVERS]
    if len(usable) >= MIN_GENRES:
        return None
    which = f"only {usable[0]} has" if usable else "no genre has"
    return (f"{which} {MIN_SAMPLE_COVERS} covers or more; the colour analysis compares two "
            f"disjoint samples of each genre, so it needs at least {MIN_GENRES} such genres")


def training_problem(dataset: Dataset, *, split_scheme: str = "auto", seed: int = 0) -> str | None:
    """Why a network cannot be trained and scored on ``dataset`` split by ``split_scheme``
    (as a training job splits it), or None: 2 genres, train covers and test covers."""
    problem = genres_problem(dataset)
    if problem:
        return problem
    try:
        split = assign_splits(dataset, scheme=split_scheme, seed=seed)
    except DatasetError as exc:          # 'group' without groups, 'manifest' without splits
        return str(exc)
    return fit_and_score_problem(split, scheme=split_scheme)


def challenge_problem(dataset: Dataset) -> str | None:
    """Why a round of "You vs the model" cannot be played on ``dataset`` (split), or None:
    its covers come from the test split, and naming one genre among one is no game."""
    return genres_problem(dataset) or split_problem(dataset, "test")


def dataset_limits(dataset: Dataset) -> list[str]:
    """What ``dataset`` (split as the dashboard splits it) cannot do: one sentence per
    reason, naming the analyses it stops; empty when it can do them all. Three covers in
    each genre give ``["the baselines, training and You vs the model need more: this
    dataset has no test split; it needs 4 covers per genre to split it (its genres have 3)"]``.
    """
    checks = {"the baselines": baselines_problem(dataset), "training": training_problem(dataset),
              "the colour analysis": colour_problem(dataset),
              "You vs the model": challenge_problem(dataset)}
    stopped: dict[str, list[str]] = {}
    for analysis, problem in checks.items():
        if problem:
            stopped.setdefault(problem, []).append(analysis)
    return [f"{_joined(analyses)} need{'s' if len(analyses) == 1 else ''} more: {problem}"
            for problem, analyses in stopped.items()]


def _span(counts: np.ndarray) -> str:
    """``3`` or ``2 to 3``: how many covers the genres have."""
    low, high = int(counts.min()), int(counts.max())
    return f"{high}" if low == high else f"{low} to {high}"


def _joined(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
