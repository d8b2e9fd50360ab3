"""Tables over finished runs: the runs side by side, per-genre accuracy (Tables 3 and 4),
the top genres of each cover (a run's predictions, a label review), and which runs a
dataset's covers were trained on.

    python -m cover_model runs [RUN_DIR ...] [--per-genre] [--markdown]
"""
from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import numpy as np
import pandas as pd

from ..data.feature_pack import stored_values
from . import runs


def run_label(config: dict) -> str:
    """A short human name for a run: ``efficientnet_lite0 linear 224px``.

    >>> run_label({"arch": "efficientnet_lite0", "mode": "linear", "input_px": 224,
    ...            "head": "logistic", "pooling": "stages"})
    'efficientnet_lite0 linear 224px, logistic head, all stages'
    """
    extras = [f"{config['head']} head" if config.get("head", "loop") != "loop" else "",
              f"MLP head ({config['head_hidden']} hidden)" if config.get("head_hidden") else "",
              "all stages" if config.get("pooling", "last") != "last" else ""]
    label = ", ".join([f"{config.get('arch')} {config.get('mode')} {config.get('input_px')}px",
                       *filter(None, extras)])
    return f"shipped real-cover model ({label})" if config.get("shipped") else label


def best_first(run_dirs: list[Path], *, fingerprint: str) -> list[Path]:
    """The order to offer models in for a dataset: the ``best`` preset trained on it first,
    then its other runs, then runs on other data; newest first within each (stable sort)."""
    from .config import PRESETS

    def rank(run_dir) -> int:
        config = runs.Run(run_dir).config(missing_ok=True)
        if config.get("dataset_fingerprint") != fingerprint:
            return 2
        best = config.get("preset") == "best" or all(config.get(k) == v
                                                      for k, v in PRESETS["best"].items())
        return 0 if best else 1
    return sorted(run_dirs, key=rank)


def runs_table(run_dirs: list[Path]) -> pd.DataFrame:
    """One row per run: settings, state, test metrics and training time. Batch, lr and
    optimizer are blank for a run whose head never used them (a logistic head)."""
    from .config import TrainConfig, applied_settings
    defaults = {f.name: f.default for f in fields(TrainConfig)}
    rows = []
    for run_dir in run_dirs:
        run = runs.Run(run_dir)
        config = run.config(missing_ok=True)
        settings = applied_settings(defaults | config)      # older runs lack newer fields
        metrics = run.metrics()
        test = metrics.get("test") or {}
        history = metrics.get("history") or []
        rows.append({
            "run": Path(run_dir).name, "model": run_label(config), "data": config.get("data"),
            "state": run.status()["state"], "epochs": len(history),
            "batch": settings.get("batch_size"), "lr": settings.get("lr"),
            "optimizer": settings.get("optimizer"),
            "test_acc": test.get("accuracy"), "balanced_acc": test.get("balanced_accuracy"),
            "top3_acc": test.get("top_k"), "macro_f1": test.get("macro_f1"),
            "train_s": sum(h.get("seconds", 0) for h in history),
        })
    return pd.DataFrame(rows)


def per_genre_table(run_dirs: list[Path]) -> pd.DataFrame:
    """Test accuracy (%) per genre (rows) and run (columns), the layout of the paper's
    Tables 3 and 4, with overall and balanced accuracy at the bottom."""
    columns = {}
    for run_dir in run_dirs:
        run = runs.Run(run_dir)
        metrics = run.metrics()
        test = metrics.get("test")
        if not test:
            continue
        config = run.config(missing_ok=True)
        names = metrics.get("class_names") or config.get("class_names", [])
        values = {g: None if a is None else 100 * a for g, a in zip(names, test["per_class_accuracy"])}
        values["overall"] = 100 * test["accuracy"]
        values["balanced"] = 100 * test["balanced_accuracy"]
        columns[run_label(config)] = values
    return pd.DataFrame(columns).round(1)


def prediction_table(items: pd.DataFrame, probs, class_names) -> pd.DataFrame:
    """One row per cover of ``items`` (a dataset's rows; ``probs`` in their order): its path,
    true genre and source (where the data has one), predicted genre, top-3 genres and their
    probabilities: a run's ``predictions.csv``.

    >>> items = pd.DataFrame({"path": ["a.jpg"], "genre": ["jazz"], "source": ["spotify"]})
    >>> prediction_table(items, [[0.3, 0.7]], ["jazz", "metal"]).columns.tolist()
    ['path', 'genre', 'source', 'predicted', 'top1', 'p1', 'top2', 'p2']
    """
    table = items[[c for c in ("path", "genre", "source") if c in items]].reset_index(drop=True)
    top = top_k_columns(probs, class_names)
    return pd.concat([table, top["top1"].rename("predicted"), top], axis=1)


def predictions_on_test(run_dir: Path, dataset=None) -> pd.DataFrame | None:
    """A run's test predictions (:func:`prediction_table`'s columns): those it kept, else,
    for the shipped model, which keeps none, those ``dataset`` stores for it (the real
    covers' features pack holds its test probabilities: no cover is scored again); None
    when neither is there."""
    kept = runs.Run(run_dir).predictions()
    if kept is not None:
        return kept
    config = runs.Run(run_dir).config(missing_ok=True)
    if not (config.get("shipped") and dataset is not None and dataset.features_only
            and made_from(dataset) == config.get("dataset_fingerprint")
            and list(dataset.stored.class_names) == list(config.get("class_names", []))):
        return None
    proba = stored_values(dataset, "test_proba")
    tested = ~np.isnan(proba).any(axis=1)
    return prediction_table(dataset.items[tested], proba[tested], dataset.stored.class_names)


def made_from(dataset) -> str | None:
    """The fingerprint of the covers a features-only dataset was made from (None: it has pixels)."""
    return dataset.stored.info.get("dataset_fingerprint") if dataset.features_only else None


def trained_on(run_dir: Path, dataset) -> bool:
    """Whether a run was trained on ``dataset``'s covers: the same fingerprint, or for a
    features pack, the covers it was made from (the shipped model, for the real covers')."""
    trained = runs.Run(run_dir).config(missing_ok=True).get("dataset_fingerprint")
    return trained is not None and trained in (dataset.fingerprint, made_from(dataset))


def first_shown(run_dirs: list[Path], dataset, *, shipped: Path | None = None) -> list[Path]:
    """The runs a page compares first: the first of ``run_dirs`` (newest first) trained on
    ``dataset``, beside the shipped model where that was trained on the same covers (a
    visitor's head on the real covers' features, and the shipped head); else the first run."""
    here = [d for d in run_dirs if dataset is not None and trained_on(d, dataset)]
    own = [d for d in here if shipped is None or Path(d).resolve() != Path(shipped).resolve()]
    first = own[:1] + [d for d in here if d not in own][:1]
    return first or list(run_dirs[:1])


def top_k_columns(probs, class_names, *, k: int = 3) -> pd.DataFrame:
    """The ``k`` likeliest genres of each row (``top1..k``) and their probabilities (``p1..k``).

    >>> top_k_columns([[0.2, 0.7, 0.1]], ["a", "b", "c"], k=2).values.tolist()
    [['b', 0.7, 'a', 0.2]]
    """
    probs, names = np.asarray(probs), np.asarray(class_names)
    top = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    rows = np.arange(len(probs))
    return pd.DataFrame({column: values for rank in range(top.shape[1]) for column, values in (
        (f"top{rank + 1}", names[top[:, rank]]), (f"p{rank + 1}", probs[rows, top[:, rank]].round(4)))})
