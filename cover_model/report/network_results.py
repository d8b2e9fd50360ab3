"""The report's result steps over networks: Tables 3 and 4, and our best model.

They read what the network steps recorded (run folders with ``metrics.json``
and ``predictions.csv``); only the best model's step trains anything.
"""
from __future__ import annotations

import pandas as pd

from ..networks.figures import confusion_figure, per_genre_bars_figure
from .compare import network_table, summary_table
from .config import PROBE_KEY, best_plan, best_settings
from .networks import network_step, train_or_reuse
from .runner import ReportContext, Step
from .scoring import (
    load_predictions,
    paired_difference,
    per_genre_scores,
    per_source_scores,
    score_table,
    within_genre_by_source,
)
from .steps import write_table

# The baseline the best model must beat: the linear probe, or (quick runs) Lite0's loop head.
BASELINE_STEPS = (PROBE_KEY, "net-efficientnet_lite0-linear")


def network_records(ctx: ReportContext) -> list[dict]:
    """Records of the network steps that have run, in order."""
    return [r for name, r in ctx.records.items() if name.startswith("net-")]


def tables_key(ctx: ReportContext) -> dict:
    """The tables change when a network's run or its scores do (not when a step merely reran)."""
    return {"runs": [(r.get("name"), r.get("status"), r.get("available"), r.get("run_dir"), r.get("test"))
                     for r in network_records(ctx)]}


def tables_step(ctx: ReportContext) -> dict:
    """Tables 3 and 4 beside the paper, a summary of every network, and accuracy per source."""
    records = [r for r in network_records(ctx) if r.get("status") == "done"]
    names = list(ctx.dataset.class_names)
    tables, figures = {}, {}
    for number in (3, 4):
        frame = network_table(records, table=number, class_names=names)
        tables[f"table{number}"] = write_table(ctx, f"table{number}", frame)
        figures[f"table{number}_bars"] = ctx.figures.plotly(
            f"table{number}_bars", per_genre_bars_figure(frame.drop(index="top-3")), height=420)
    tables["networks"] = write_table(ctx, "networks", summary_table(network_records(ctx)), index=False)
    per_source = _per_source(ctx, records)
    if not per_source.empty:
        tables["networks_per_source"] = write_table(ctx, "networks_per_source", per_source)
    return {"tables": tables, "figures": figures}


def best_step(ctx: ReportContext) -> Step:
    """Train (or reuse) our best model, then score it: intervals, genres, sources, confusion."""
    return network_step(best_plan(ctx.cfg), ctx, title="Our best model", run=_best)


def _best(ctx: ReportContext) -> dict:
    record = train_or_reuse(ctx, best_plan(ctx.cfg))
    record["preset"] = "best" if _has_best_preset() else "lite0-linear (no 'best' preset yet)"
    if not record.get("available") or not record.get("test"):
        return record
    names = record["class_names"]
    predictions = load_predictions(record["run_dir"], ctx.dataset, names)
    scores = score_table(predictions, n_classes=len(names))
    tables = {"best_scores": write_table(ctx, "best_scores", scores),
              "best_per_genre": write_table(ctx, "best_per_genre", per_genre_scores(predictions, names))}
    per_source = per_source_scores(predictions, names)
    within = within_genre_by_source(predictions, names)
    if not per_source.empty:
        tables["best_per_source"] = write_table(ctx, "best_per_source", per_source)
    if not within.empty:
        tables["best_within_genre"] = write_table(ctx, "best_within_genre_by_source", within)
    if record.get("cross_validation"):
        tables["best_cross_validation"] = write_table(
            ctx, "best_cross_validation", cross_validation_table(record["cross_validation"]), index=False)
    probe = next((ctx.records[k] for k in BASELINE_STEPS if (ctx.records.get(k) or {}).get("test")), {})
    if probe and probe["run_dir"] != record["run_dir"]:
        baseline = load_predictions(probe["run_dir"], ctx.dataset, names)
        difference = paired_difference(predictions, baseline, n_classes=len(names))
        tables["best_vs_probe"] = write_table(ctx, "best_vs_probe", difference)
        record["baseline_label"] = probe["label"]
    test = record["test"]
    record["figures"] = {"best_confusion": ctx.figures.plotly(
        "best_confusion", confusion_figure(test["confusion"], names, normalize=True), width=800)}
    row = scores["value (%)"]
    record["tables"] = tables
    record["scores"] = {
        "balanced": row["balanced accuracy"], "top1": row["top-1 accuracy"], "top3": row["top-3 accuracy"],
        "macro_f1": row["macro-F1"], "balanced_low": scores.iloc[0, 1], "balanced_high": scores.iloc[0, 2]}
    record["within_genre_summary"] = {
        genre: ", ".join(f"{source} {acc:.0f}% (n={n})" for (_, source), acc, n in
                         zip(part.index, part["accuracy"], part["test covers"]))
        for genre, part in within.groupby(level="genre")} if not within.empty else {}
    return record


def cross_validation_table(cv: dict) -> pd.DataFrame:
    """An exact head's cross-validation (``metrics.json``): score per C, its standard
    error, and the C chosen."""
    errors = cv.get("standard_errors") or {}
    return pd.DataFrame([{"C": f"{float(c):g}", f"mean {cv['metric'].replace('_', ' ')} (%)": 100 * score,
                          "standard error (%)": 100 * errors[c] if c in errors else None,
                          "chosen": "yes" if float(c) == cv["C"] else ""}
                         for c, score in cv["scores"].items()])


def _per_source(ctx: ReportContext, records: list[dict]) -> pd.DataFrame:
    """Top-1 and balanced accuracy (%) per source of the covers, one row per network."""
    rows = {}
    for record in records:
        if not record.get("run_dir") or not record.get("class_names"):
            continue
        try:
            predictions = load_predictions(record["run_dir"], ctx.dataset, record["class_names"])
        except (OSError, KeyError, ValueError):
            continue                           # no predictions file: nothing to split
        table = per_source_scores(predictions, record["class_names"])
        if table.empty:
            continue
        rows[record["label"]] = {f"{source} {metric}": table.loc[source, metric]
                                 for source in table.index for metric in ("top-1", "balanced")}
    frame = pd.DataFrame.from_dict(rows, orient="index")
    frame.index.name = "network"
    return frame


def _has_best_preset() -> bool:
    from ..networks.config import PRESETS
    return "best" in PRESETS and best_settings() == dict(PRESETS["best"])
