"""Scores of a run's test predictions: bootstrap intervals, per genre, per source.

Everything here reads ``predictions.csv`` (every test cover's true genre and
top 3), joined to the dataset's items for their ``source``; nothing is
re-predicted.

    >>> y, pred = np.array([0, 0, 1, 1]), np.array([0, 1, 1, 1])
    >>> round(float(bootstrap_scores(y, pred, np.ones(4, bool), n_classes=2)["balanced_accuracy"][0]), 2)
    0.75
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from .. import classification_metrics
from ..data.dataset import Dataset
from ..networks.runs import Run, RunError
from ..networks.tables import predictions_on_test

METRIC_LABELS = {"balanced_accuracy": "balanced accuracy", "accuracy": "top-1 accuracy",
                 "top_3": "top-3 accuracy", "macro_f1": "macro-F1"}


def load_predictions(run_dir, dataset: Dataset, class_names) -> pd.DataFrame:
    """The run's test predictions with integer labels, a top-3 hit flag and the source.

    Returns
    -------
    DataFrame
        ``path, genre, predicted, label, pred, in_top3`` and ``source`` (empty
        strings when the dataset has none or a cover is no longer in it).
    """
    table = Run(run_dir).predictions()
    if table is None:
        raise RunError(f"{run_dir}: no test predictions (the run has not finished)")
    return label_predictions(table, class_names, dataset)


def label_predictions(table: pd.DataFrame, class_names, dataset: Dataset | None = None) -> pd.DataFrame:
    """A predictions table (``predictions.csv``'s columns) with integer ``label`` and ``pred``,
    the ``in_top3`` hit flag and each cover's ``source``: the table's own where it has one
    (runs since issue 23 keep it), else the dataset's by path ('' where unknown)."""
    table = table.copy()
    ids = {name: i for i, name in enumerate(class_names)}
    table["label"] = table["genre"].map(ids).astype(int)
    table["pred"] = table["predicted"].map(ids).astype(int)
    table["in_top3"] = table[[c for c in ("top1", "top2", "top3") if c in table]].eq(
        table["genre"], axis=0).any(axis=1)
    if "source" in table:
        table["source"] = table["source"].astype(object).fillna("").astype(str)
        return table
    sources = (dataset.items.set_index("path")["source"].astype(str)
               if dataset is not None and "source" in dataset.items.columns else pd.Series(dtype=str))
    table["source"] = table["path"].map(sources).astype(object).fillna("")
    return table


def bootstrap_scores(y_true, y_pred, in_top3, *, n_classes: int, n_boot: int = 2000,
                     seed: int = 0) -> dict[str, np.ndarray]:
    """Balanced accuracy, top-1, top-3 and macro-F1 on ``n_boot`` resamples of the test covers.

    Parameters
    ----------
    y_true, y_pred : ndarray of shape (n,), int
    in_top3 : ndarray of shape (n,), bool
    n_classes : int
    n_boot : int, default=2000
    seed : int, default=0

    Returns
    -------
    dict of str -> ndarray of shape (1 + n_boot,)
        Index 0 is the score on the covers as they are; the rest are resamples
        (covers drawn with replacement). Balanced accuracy averages the recall
        of the genres present in each resample (as scikit-learn's), macro-F1
        the F1 of all ``n_classes`` (as :func:`cover_model.classification_metrics.macro_f1`).
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    n = len(y_true)
    rng = np.random.default_rng(seed)
    rows = np.vstack([np.arange(n), rng.integers(0, n, (n_boot, n))])     # (1 + B, n)
    pairs = y_true[rows] * n_classes + y_pred[rows]
    offsets = np.arange(len(rows))[:, None] * n_classes * n_classes
    confusion = np.bincount((pairs + offsets).ravel(), minlength=len(rows) * n_classes ** 2)
    confusion = confusion.reshape(len(rows), n_classes, n_classes).astype(np.float64)
    support, predicted = confusion.sum(axis=2), confusion.sum(axis=1)
    hits = np.diagonal(confusion, axis1=1, axis2=2)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(support > 0, hits / support, np.nan)
        f1 = np.where(support + predicted > 0, 2 * hits / (support + predicted), 0.0)
    return {"balanced_accuracy": np.nanmean(recall, axis=1),
            "accuracy": hits.sum(axis=1) / n,
            "top_3": np.asarray(in_top3, dtype=np.float64)[rows].mean(axis=1),
            "macro_f1": f1.mean(axis=1)}


def score_table(predictions: pd.DataFrame, *, n_classes: int, level: float = 0.95,
                n_boot: int = 2000) -> pd.DataFrame:
    """Each headline metric (%) with its bootstrap interval: rows = metrics."""
    scores = bootstrap_scores(predictions["label"].to_numpy(), predictions["pred"].to_numpy(),
                              predictions["in_top3"].to_numpy(), n_classes=n_classes, n_boot=n_boot)
    tail = 100 * (1 - level) / 2
    rows = []
    for name, values in scores.items():
        low, high = np.percentile(values[1:], [tail, 100 - tail])
        rows.append({"metric": METRIC_LABELS[name], "value (%)": 100 * values[0],
                     f"{level:.0%} interval low": 100 * low, f"{level:.0%} interval high": 100 * high})
    return pd.DataFrame(rows).set_index("metric")


def per_genre_scores(predictions: pd.DataFrame, class_names) -> pd.DataFrame:
    """Per genre: test covers, accuracy (recall), precision, F1 and top-3 accuracy (%)."""
    y, pred = predictions["label"].to_numpy(), predictions["pred"].to_numpy()
    confusion = classification_metrics.confusion_matrix(y, pred, n_classes=len(class_names))
    support, predicted, hits = confusion.sum(axis=1), confusion.sum(axis=0), np.diag(confusion)
    with np.errstate(invalid="ignore", divide="ignore"):
        table = pd.DataFrame({
            "test covers": support,
            "accuracy": 100 * hits / support,
            "precision": 100 * np.where(predicted > 0, hits / predicted, np.nan),
            "F1": 100 * np.where(support + predicted > 0, 2 * hits / (support + predicted), np.nan),
            "top-3": [100 * predictions.loc[predictions["label"] == g, "in_top3"].mean()
                      if support[g] else np.nan for g in range(len(class_names))],
        }, index=pd.Index(list(class_names), name="genre"))
    return table


def per_source_scores(predictions: pd.DataFrame, class_names) -> pd.DataFrame:
    """Per source of the covers: how many, which genres, and the headline metrics (%).

    Balanced accuracy within a source averages only the genres that source has.
    Empty when the covers have no source.
    """
    rows = []
    for source, part in predictions[predictions["source"] != ""].groupby("source"):
        genres = [class_names[g] for g in sorted(part["label"].unique())]
        rows.append({"source": source, "test covers": len(part), "genres": ", ".join(genres),
                     "top-1": 100 * (part["label"] == part["pred"]).mean(),
                     "balanced": 100 * classification_metrics.balanced_accuracy(part["label"], part["pred"]),
                     "top-3": 100 * part["in_top3"].mean()})
    return pd.DataFrame(rows).set_index("source") if rows else pd.DataFrame()


def per_source_beside(run_dirs, dataset: Dataset | None, labels: dict) -> pd.DataFrame:
    """:func:`per_source_scores` of several runs, side by side: rows (source, run label) in
    the runs' order within each source; runs with no test predictions (kept, or stored for
    them in ``dataset``: :func:`~cover_model.networks.tables.predictions_on_test`) or whose
    covers have no source are left out. Empty when none is left."""
    parts = []
    for run_dir in run_dirs:
        table = predictions_on_test(run_dir, dataset)
        if table is None:
            continue
        names = Run(run_dir).class_names
        scores = per_source_scores(label_predictions(table, names, dataset), names)
        if not scores.empty:
            parts.append(scores.assign(run=labels[run_dir]).set_index("run", append=True))
    if not parts:
        return pd.DataFrame()
    return pd.concat(parts).sort_index(level="source", sort_remaining=False, kind="stable")


def within_genre_by_source(predictions: pd.DataFrame, class_names) -> pd.DataFrame:
    """For the genres whose test covers come from several sources: accuracy per source.

    This is where the source confound can be read off: the genre is fixed, only
    the source changes. Empty when no genre has two sources.
    """
    rows = []
    labelled = predictions[predictions["source"] != ""]
    for genre_id, part in labelled.groupby("label"):
        if part["source"].nunique() < 2:
            continue
        for source, covers in part.groupby("source"):
            rows.append({"genre": class_names[genre_id], "source": source, "test covers": len(covers),
                         "accuracy": 100 * (covers["pred"] == genre_id).mean(),
                         "top-3": 100 * covers["in_top3"].mean(),
                         "most often predicted": covers["predicted"].mode().iat[0]})
    return pd.DataFrame(rows).set_index(["genre", "source"]) if rows else pd.DataFrame()


def paired_difference(predictions: pd.DataFrame, baseline: pd.DataFrame, *, n_classes: int,
                      level: float = 0.95, n_boot: int = 2000) -> pd.DataFrame:
    """How much ``predictions`` beat ``baseline`` on the same test covers (percentage points),
    with a paired bootstrap interval: both are scored on the same resamples.

    Rows = metrics; columns = ours, baseline, difference, and the interval of the difference.
    """
    joined = predictions.merge(baseline, on="path", suffixes=("", "_base"))
    ours = bootstrap_scores(joined["label"].to_numpy(), joined["pred"].to_numpy(),
                            joined["in_top3"].to_numpy(), n_classes=n_classes, n_boot=n_boot)
    base = bootstrap_scores(joined["label"].to_numpy(), joined["pred_base"].to_numpy(),
                            joined["in_top3_base"].to_numpy(), n_classes=n_classes, n_boot=n_boot)
    tail = 100 * (1 - level) / 2
    rows = []
    for name in ours:
        delta = 100 * (ours[name] - base[name])
        low, high = np.percentile(delta[1:], [tail, 100 - tail])
        rows.append({"metric": METRIC_LABELS[name], "ours (%)": 100 * ours[name][0],
                     "baseline (%)": 100 * base[name][0], "difference (points)": delta[0],
                     f"{level:.0%} interval low": low, f"{level:.0%} interval high": high})
    return pd.DataFrame(rows).set_index("metric")
