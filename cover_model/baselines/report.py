"""Table 2 and its companions: the runs, the tables, the files.

:func:`build_report` runs the baselines job's one config
(:class:`~.config.BaselineConfig`, re-exported here); the table functions turn
results into pandas frames in the paper's layout; :func:`write_report` saves
them as CSV and markdown.

    python -m cover_model baselines ../shared/data/real-covers --out reports/baselines
"""
from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..atomic_files import atomic_write, write_json
from ..data.dataset import Dataset
from ..paper import PAPER_TABLE2
from .config import BaselineConfig, parse_params
from .features import RANDOM, FeatureSpec
from .runner import BaselineResult, count_missing, run_baselines

PAPER_SIZE_PX = 32
TABLE2_COLUMNS = (("random", "train"), ("random", "test"), ("resize", "train"), ("resize", "test"))


@dataclass(frozen=True, eq=False)
class BaselineReport:
    """Everything one baselines job produced."""
    config: BaselineConfig
    class_names: tuple[str, ...]
    results: list[BaselineResult]
    sweep: list[BaselineResult]
    n_train: int
    n_test: int


def build_report(dataset: Dataset, cfg: BaselineConfig | None = None, *, use_cache: bool = True,
                 progress=None, feature_progress=None) -> BaselineReport:
    """Run the job: Table 2's models on its features, then the sweep if asked.

    Parameters
    ----------
    dataset : Dataset
        With splits; models train on ``train`` and are scored on ``train`` and ``test``.
    cfg : BaselineConfig, optional
        Default: the paper's Table 2 plus the two modern models, on 32x32 pixels.
    use_cache : bool, default=True
    progress : callable, optional
        ``progress(done, total)`` over all the models of the job.
    feature_progress : callable, optional
        ``feature_progress(label, done, total)`` while features are computed.

    Returns
    -------
    BaselineReport
    """
    cfg = cfg or BaselineConfig()
    params, pca = cfg.model_params(), cfg.pca_components()
    sweep_models = cfg.sweep_model_names()
    n_main = len(cfg.model_names()) * len(cfg.feature_specs())
    total = n_main + len(sweep_models) * len(cfg.sweep_specs())

    def shifted(offset):
        return None if progress is None else (lambda done, _: progress(offset + done, total))
    results = run_baselines(dataset, models=cfg.model_names(), features=cfg.feature_specs(),
                            params=params, pca_components=pca, n_jobs=cfg.n_jobs or None,
                            use_cache=use_cache, progress=shifted(0), feature_progress=feature_progress)
    sweep = []
    if sweep_models:
        sweep = run_baselines(dataset, models=sweep_models, features=cfg.sweep_specs(),
                              params={m: p for m, p in params.items() if m in sweep_models},
                              pca_components=pca, n_jobs=cfg.n_jobs or None,
                              use_cache=use_cache, progress=shifted(n_main),
                              feature_progress=feature_progress)
    splits = dataset.items["split"]
    return BaselineReport(cfg, tuple(dataset.class_names), results, sweep,
                          int((splits == "train").sum()), int((splits == "test").sum()))


def missing_fits(dataset: Dataset, cfg: BaselineConfig) -> tuple[int, int]:
    """How many fits of the main table and of the sweep are not cached yet (nothing is run)."""
    pca = cfg.pca_components()
    main = count_missing(dataset, models=cfg.model_names(), features=cfg.feature_specs(),
                         params=cfg.model_params(), pca_components=pca)
    sweep_models = cfg.sweep_model_names()
    sweep = count_missing(dataset, models=sweep_models, features=cfg.sweep_specs(),
                          params={m: p for m, p in cfg.model_params().items() if m in sweep_models},
                          pca_components=pca) if sweep_models else 0
    return main, sweep


def table2(results: list[BaselineResult], *, paper: bool = True) -> pd.DataFrame:
    """Accuracy (%) in the paper's Table 2 layout: rows = models, columns = random/resize x train/test.

    Rows are indexed by (features, model title). With ``paper``, the paper's
    values sit beside ours for 32x32 pixel rows. ``note`` says where PCA was
    used and which models failed or warned.
    """
    rows: dict[tuple[str, str], dict] = {}
    for r in results:
        row = rows.setdefault(_row_key(r), {"_model": r.model, "_spec": r.spec, "notes": []})
        for split in ("train", "test"):
            score = getattr(r, split)
            row[(r.preprocessing, split)] = np.nan if score is None else 100 * score["accuracy"]
        for note in _notes(r):
            if note not in row["notes"]:
                row["notes"].append(note)
    records = []
    for (features, title), row in rows.items():
        record = {("", "features"): features, ("", "model"): title}
        record |= {column: row.get(column, np.nan) for column in TABLE2_COLUMNS}
        if paper:
            values = PAPER_TABLE2.get(row["_model"]) if _is_paper_setting(row["_spec"]) else None
            for column, value in zip(TABLE2_COLUMNS, values or (np.nan,) * 4):
                record[(f"paper {column[0]}", column[1])] = value
        record[("", "note")] = "; ".join(row["notes"])
        records.append(record)
    frame = pd.DataFrame.from_records(records)
    frame.columns = pd.MultiIndex.from_tuples(frame.columns)
    return frame.set_index([("", "features"), ("", "model")]).rename_axis(["features", "model"])


def unavailable_features(results: list[BaselineResult]) -> dict[str, str]:
    """Features that could not be computed (a network's weights missing): label -> why."""
    return {r.spec.label(): r.messages[0] for r in results
            if r.status == "failed" and r.n_features == 0 and r.messages}


def metrics_table(results: list[BaselineResult]) -> pd.DataFrame:
    """One row per (features, model): all test metrics, train accuracy, times, status."""
    rows = []
    for r in results:
        test, train = r.test or {}, r.train or {}
        rows.append({
            "features": r.spec.label(), "preprocessing": r.preprocessing, "model": r.title,
            "status": r.status, "train accuracy": _pct(train.get("accuracy")),
            "test accuracy": _pct(test.get("accuracy")),
            "test balanced accuracy": _pct(test.get("balanced_accuracy")),
            "test macro-F1": _pct(test.get("macro_f1")), "test top-3": _pct(test.get("top_k")),
            "fit s": r.fit_s, "predict ms/cover": None if r.predict_s is None or not test
            else 1000 * r.predict_s / max(test["n"], 1),
            "pipeline": r.pipeline, "messages": " | ".join(r.messages)})
    return pd.DataFrame(rows)


def per_genre_table(results: list[BaselineResult], class_names) -> pd.DataFrame:
    """Test accuracy (%) within each genre; rows = (features, model), columns = genres."""
    rows = {}
    for r in results:
        values = (r.test or {}).get("per_class_accuracy") or [None] * len(class_names)
        rows[(r.spec.label(), r.title)] = [_pct(v) for v in values]
    frame = pd.DataFrame.from_dict(rows, orient="index", columns=list(class_names))
    frame.index = pd.MultiIndex.from_tuples(frame.index, names=["features", "model"])
    return frame


def per_group_table(results: list[BaselineResult], dataset: Dataset, *,
                    column: str = "source") -> pd.DataFrame:
    """Test accuracy (%) per value of an item column (e.g. the two sources of real covers).

    Returns an empty frame when the dataset has no such column.
    """
    if column not in dataset.items.columns:
        return pd.DataFrame()
    labels = dataset.items["label"].to_numpy()
    groups = dataset.items[column].astype(str).to_numpy()
    rows = {}
    for r in results:
        if not r.test_pred:           # failed: nothing predicted
            continue
        rows_ = np.asarray(r.test_rows)
        correct = np.asarray(r.test_pred) == labels[rows_]
        rows[(r.spec.label(), r.title)] = {
            f"{value} (n={int((groups[rows_] == value).sum())})": 100 * correct[groups[rows_] == value].mean()
            for value in sorted(set(groups[rows_]))}
    frame = pd.DataFrame.from_dict(rows, orient="index")
    if len(frame):
        frame.index = pd.MultiIndex.from_tuples(frame.index, names=["features", "model"])
    return frame


def confusion_frame(result: BaselineResult, class_names) -> pd.DataFrame:
    """The test confusion matrix (rows = true genre, columns = predicted genre), in counts."""
    counts = (result.test or {}).get("confusion") or np.zeros((len(class_names),) * 2, int)
    return pd.DataFrame(counts, index=pd.Index(class_names, name="true"),
                        columns=pd.Index(class_names, name="predicted"))


def sweep_table(results: list[BaselineResult]) -> pd.DataFrame:
    """Train and test accuracy (%) against the grid size: the paper's overfitting sweep."""
    rows = [{"model": r.title, "size_px": r.spec.size_px, "n_features": r.n_features,
             "method": r.spec.method, "train accuracy": _pct((r.train or {}).get("accuracy")),
             "test accuracy": _pct((r.test or {}).get("accuracy")),
             "test balanced accuracy": _pct((r.test or {}).get("balanced_accuracy")), "fit s": r.fit_s,
             "status": r.status} for r in results]
    return pd.DataFrame(rows).sort_values(["model", "size_px"], ignore_index=True) if rows else pd.DataFrame()


def write_report(report: BaselineReport, out_dir, *, dataset: Dataset | None = None) -> list[Path]:
    """Write the tables as CSV and markdown (and the sweep plot as HTML) into ``out_dir``.

    Returns
    -------
    list of Path
        The files written.
    """
    from .figures import sweep_figure

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table = table2(report.results)
    tables = {"table2": table, "metrics": metrics_table(report.results),
              "per_genre": per_genre_table(report.results, report.class_names)}
    if dataset is not None:
        tables["per_source"] = per_group_table(report.results, dataset)
    if report.sweep:
        tables["sweep"] = sweep_table(report.sweep)
    written = []
    for name, frame in tables.items():
        if frame.empty:
            continue
        flat = flatten_columns(frame)
        index = not isinstance(frame.index, pd.RangeIndex)
        written += [_write_text(out / f"{name}.csv", flat.to_csv(index=index)),
                    _write_text(out / f"{name}.md", to_markdown(frame))]
    if report.sweep:
        written.append(_write_text(out / "sweep.html", sweep_figure(tables["sweep"]).to_html(
            include_plotlyjs=True, full_html=True)))
    write_json(out / "results.json", {"config": asdict(report.config), "class_names": report.class_names,
                                      "n_train": report.n_train, "n_test": report.n_test,
                                      "results": [r.to_dict() for r in report.results + report.sweep]})
    return written + [out / "results.json"]


def flatten_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Two-level columns as single strings (``random train``), for CSV and markdown."""
    if not isinstance(frame.columns, pd.MultiIndex):
        return frame
    return frame.set_axis([" ".join(p for p in col if p).strip() for col in frame.columns], axis=1)


def to_markdown(frame: pd.DataFrame) -> str:
    """A markdown table with one decimal, blanks for missing values."""
    flat = flatten_columns(frame)
    if not isinstance(flat.index, pd.RangeIndex):
        flat = flat.reset_index()
    text = flat.map(lambda v: "" if v is None or (isinstance(v, float) and np.isnan(v))
                    else f"{v:.1f}" if isinstance(v, float) else str(v))
    return text.to_markdown(index=False) + "\n"


def _row_key(r: BaselineResult) -> tuple[str, str]:
    return r.spec.short_label(), r.title


def _is_paper_setting(spec: FeatureSpec) -> bool:
    return spec.kind == "pixels" and spec.size_px == PAPER_SIZE_PX


def _notes(r: BaselineResult) -> list[str]:
    """Short notes for the table: PCA steps, and the first sentence of a failure or warning."""
    notes = [p for p in r.pipeline.split(" -> ") if p.startswith("PCA")]
    if r.status in ("failed", "warning") and r.messages:
        verb = "failed" if r.status == "failed" else "warned"
        notes.append(f"{verb}: {short_message(r.messages[0])}")
    return notes


def short_message(message: str, *, max_chars: int = 90) -> str:
    """The first sentence of a warning or error, without its class name.

    >>> short_message("LinAlgError: The covariance matrix of class 0 is not full rank. When ...")
    'The covariance matrix of class 0 is not full rank'
    """
    text = message.split(": ", 1)[-1]
    sentence = re.split(r"(?<=[a-z0-9)])\.(\s|$)", text, maxsplit=1)[0]
    sentence = sentence.split(": ", 1)[0]      # drop run-specific detail ("...: rcond = 2e-09")
    return sentence if len(sentence) <= max_chars else sentence[:max_chars - 3] + "..."


def _pct(value):
    return None if value is None else 100 * value


def _write_text(path: Path, text: str) -> Path:
    with atomic_write(path, "w") as fh:
        fh.write(text)
    return path


__all__ = ["BaselineConfig", "BaselineReport", "build_report", "missing_fits", "table2",
           "unavailable_features",
           "metrics_table", "per_genre_table", "per_group_table", "confusion_frame", "sweep_table",
           "write_report", "flatten_columns", "to_markdown", "parse_params", "RANDOM"]
