"""Label review: the covers whose label a trained model doubts most, and a reviewed manifest.

The paper's discussion names better labels as the way forward. A finished run scores
every cover of a dataset (train covers too: a wrong label there is learned), the covers
are ranked by how little probability the model gives their own genre, a person marks
each one to keep, relabel or remove, and the fixes go to a *new* manifest beside the
data; the original is never written.

    >>> from cover_model.curation.label_review import rank_by_doubt, reviewed_manifest  # doctest: +SKIP
    >>> scores = score_for_review(Predictor.from_run(run), dataset)             # doctest: +SKIP
    >>> write_reviewed_manifest(dataset, {scores.path[0]: "jazz"})              # doctest: +SKIP
"""
from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from ..data.dataset import Dataset
from ..networks.tables import top_k_columns

# What a reviewed manifest keeps of a dataset's items: the loader recomputes label and size.


def rank_by_doubt(items: pd.DataFrame, probs, class_names) -> pd.DataFrame:
    """Covers ranked by how much the model doubts their label, most doubted first.

    Doubt is ``1 - p(own genre)``; ties (e.g. covers at p = 0) go to the cover the
    model gives most to another genre, the likelier mislabel.

    Parameters
    ----------
    items : DataFrame
        One row per scored cover: ``path``, ``genre`` (a name in ``class_names``) and
        any other columns to keep (``split``).
    probs : array-like of shape (n_covers, n_classes), float
    class_names : sequence of str

    Returns
    -------
    DataFrame
        ``items``' columns, then ``p_genre``, ``doubt``, ``p_other`` (the largest
        probability of another genre), ``top1..3`` and ``p1..3``.

    Examples
    --------
    >>> items = pd.DataFrame({"path": ["a", "b"], "genre": ["jazz", "metal"]})
    >>> ranked = rank_by_doubt(items, [[0.9, 0.1], [0.8, 0.2]], ["jazz", "metal"])
    >>> ranked[["path", "p_genre", "top1"]].values.tolist()
    [['b', 0.2, 'jazz'], ['a', 0.9, 'jazz']]
    """
    probs = np.asarray(probs, dtype=np.float64)
    own = pd.Index(class_names).get_indexer(items["genre"])
    rows = np.arange(len(probs))
    table = items.reset_index(drop=True).copy()
    table["p_genre"] = probs[rows, own].round(4)
    table["doubt"] = (1 - table["p_genre"]).round(4)
    others = probs.copy()
    others[rows, own] = -1
    table["p_other"] = others.max(axis=1, initial=0).round(4)
    table = pd.concat([table, top_k_columns(probs, class_names)], axis=1)
    return table.sort_values(["doubt", "p_other"], ascending=False, kind="stable").reset_index(drop=True)


def score_for_review(predictor, dataset: Dataset, *, splits=None, progress=None) -> pd.DataFrame:
    """Score a dataset's covers with a run's network and rank them by doubt.

    Parameters
    ----------
    predictor : Predictor
    dataset : Dataset
    splits : sequence of str, optional
        Only covers of these splits (default: every cover, train ones included).
    progress : callable, optional
        ``progress(done, total)`` after each batch.

    Returns
    -------
    DataFrame
        As :func:`rank_by_doubt`, with ``path, genre, split``; covers of a genre the run
        does not know, and covers that cannot be decoded, are left out.
    """
    from ..networks.evaluation import score_covers, select_covers  # torch: only when scoring

    items = dataset.items if splits is None else dataset.items[dataset.items["split"].isin(splits)]
    picked = select_covers(replace(dataset, items=items), predictor.class_names)
    scores = score_covers(predictor, picked.paths, progress=progress)
    # select_covers keeps the known genres' rows in order; scores.index counts into them.
    known = items[items["genre"].isin(predictor.class_names)]
    scored = known.iloc[scores.index][["path", "genre", "split"]]
    return rank_by_doubt(scored, scores.probs, predictor.class_names)


def reviewed_manifest(dataset: Dataset, fixes: dict) -> pd.DataFrame:
    """The dataset's manifest with the fixes applied: paths relative to its folder.

    Parameters
    ----------
    dataset : Dataset
    fixes : dict
        Cover path (as in ``dataset.items``) -> its new genre, or None to remove it.
        Each cover keeps its split: a relabelled test cover stays a test cover, so
        runs before and after the review are scored on the same covers.

    Returns
    -------
    DataFrame
        ``path, genre, group, split`` and any extra manifest columns, one row per kept cover.

    Raises
    ------
    KeyError
        A fixed path that is not in the dataset.
    """
    unknown = set(fixes) - set(dataset.items["path"])
    if unknown:
        raise KeyError(f"not in the dataset: {', '.join(sorted(unknown)[:3])}")
    table = dataset.manifest()
    new_genre = dataset.items["path"].map(fixes)
    removed = dataset.items["path"].isin([p for p, genre in fixes.items() if genre is None])
    table["genre"] = new_genre.where(new_genre.notna(), table["genre"])
    return table[~removed].reset_index(drop=True)


def write_reviewed_manifest(dataset: Dataset, fixes: dict, *, path=None) -> Path:
    """Write :func:`reviewed_manifest` as a new CSV; never over an existing file.

    Parameters
    ----------
    dataset : Dataset
    fixes : dict
        As in :func:`reviewed_manifest`.
    path : str or Path, optional
        Default: ``<dataset folder>/manifest-reviewed-<YYYYMMDD-HHMMSS>.csv``, beside
        the data, so its relative paths resolve and it loads as a dataset itself.

    Returns
    -------
    Path
        Where it was written.

    Raises
    ------
    FileExistsError
        ``path`` exists already (the original manifest included).
    """
    path = Path(path) if path else dataset.root / reviewed_name()
    if path.suffix.lower() != ".csv":
        raise ValueError(f"{path}: a reviewed manifest is a .csv file")
    table = reviewed_manifest(dataset, fixes)
    if path.resolve().parent != dataset.root.resolve():
        table["path"] = [str(dataset.root / p) for p in table["path"]]   # absolute elsewhere
    with open(path, "x", newline="", encoding="utf-8") as out:        # "x": never overwrite
        table.to_csv(out, index=False)
    return path


def reviewed_name() -> str:
    """A new manifest's file name, by the time it was written (never ``manifest.csv``)."""
    return f"manifest-reviewed-{time.strftime('%Y%m%d-%H%M%S')}.csv"
