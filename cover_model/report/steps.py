"""The report's data steps: the dataset summary, the colour analysis and Table 2.

Each ``*_step(ctx)`` writes its tables (CSV) and figures into the report
folder and returns its record: file paths, markdown of its tables, and the
facts the discussion draws on. The work itself is done by
:mod:`cover_model.color` and :mod:`cover_model.baselines`.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from ..atomic_files import atomic_write
from ..baselines.report import (
    BaselineConfig,
    build_report,
    per_group_table,
    table2,
    to_markdown,
    write_report,
)
from ..color import ColorConfig, mean_covers_montage, run_color_analysis, write_color_report
from ..color.figures import (
    feature_comparison_table,
    metric_overview,
    rank_stability_figure,
    rank_table,
    similarity_heatmap,
)
from ..color.metrics import METRIC_NAMES
from ..paper import PAPER_TABLE2
from ..plots import class_balance_figure
from ..synth import is_synthetic
from .figures import sample_grid
from .runner import ReportContext

COLOR_FEATURES = {"colour": "color", "gradient": "gradient"}   # report label -> ColorConfig.feature


def dataset_step(ctx: ReportContext) -> dict:
    """Counts per genre and split (and source), skipped files, a sample grid."""
    dataset = ctx.dataset
    counts = dataset.counts()
    tables = {"counts": write_table(ctx, "counts", counts)}
    if "source" in dataset.items.columns:
        by_source = pd.crosstab([dataset.items["genre"], dataset.items["split"]],
                                dataset.items["source"], margins=True, margins_name="total")
        tables["counts_by_source"] = write_table(ctx, "counts_by_source", by_source)
    if dataset.skipped:
        skipped = pd.DataFrame([{"file": s.path, "reason": s.reason} for s in dataset.skipped])
        tables["skipped"] = write_table(ctx, "skipped", skipped, index=False)
    figures = {
        "class_balance": ctx.figures.plotly("class_balance", class_balance_figure(counts), height=380),
        "sample_grid": ctx.figures.image("sample_grid", sample_grid(
            dataset, n_per_genre=ctx.cfg.sample_per_genre)),
    }
    totals = counts.loc["total"].drop("total")
    per_genre = counts["total"].drop("total")
    return {"tables": tables, "figures": figures, "facts": {
        "n_covers": len(dataset), "n_classes": dataset.n_classes,
        "class_names": list(dataset.class_names), "n_skipped": len(dataset.skipped),
        "fingerprint": dataset.fingerprint, "root": str(dataset.root), "data": ctx.data,
        "synthetic": is_synthetic(dataset.root),
        "split_sizes": {k: int(v) for k, v in totals.items()},
        "largest_share": float(per_genre.max() / per_genre.sum()),
        "largest_genre": str(per_genre.idxmax()), "smallest_genre": str(per_genre.idxmin()),
        "smallest_share": float(per_genre.min() / per_genre.sum()),
        "sources": sorted(dataset.items["source"].astype(str).unique().tolist())
        if "source" in dataset.items.columns else [],
    }}


def color_key(ctx: ReportContext) -> dict:
    return {"fingerprint": ctx.dataset.fingerprint, "trials": ctx.cfg.trials,
            "n_per_genre": ctx.cfg.n_per_genre, "config": dataclasses.asdict(_color_config(ctx, "color"))}


def color_step(ctx: ReportContext) -> dict:
    """The paper's colour analysis over trials, for colour and gradient histograms."""
    analyses = {}
    for label, feature in COLOR_FEATURES.items():
        cfg = _color_config(ctx, feature)
        analyses[label] = run_color_analysis(ctx.dataset, cfg, progress=ctx.progress(
            f"downsizing covers to {cfg.size_px} px"))
        write_color_report(analyses[label], ctx.folder("color", label), png=False)
    colour = analyses["colour"]
    figures = {f"heatmap_{metric}": ctx.figures.plotly(
        f"heatmap_{metric}", similarity_heatmap(colour, metric=metric, trial=None), height=560)
        for metric in METRIC_NAMES}
    figures["heatmap_gradient"] = ctx.figures.plotly(
        "heatmap_gradient", similarity_heatmap(analyses["gradient"], trial=None), height=560)
    for label, analysis in analyses.items():
        figures[f"ranks_{label}"] = ctx.figures.plotly(f"ranks_{label}", rank_stability_figure(analysis))
    figures["mean_covers"] = ctx.figures.image("mean_covers", mean_covers_montage(colour))
    tables = {f"table1_{label}": write_table(ctx, f"table1_{label}", rank_table(analysis))
              for label, analysis in analyses.items()}
    tables["mean_rank_by_metric"] = write_table(ctx, "mean_rank_by_metric", metric_overview(colour))
    tables["features_compared"] = write_table(ctx, "table1_features_compared",
                                              feature_comparison_table(analyses))
    return {"tables": tables, "figures": figures,
            "notes": list(dict.fromkeys(n for a in analyses.values() for n in a.notes)),
            "facts": {label: _rank_facts(rank_table(a)) for label, a in analyses.items()}
            | {"trials": ctx.cfg.trials, "n_per_genre": ctx.cfg.n_per_genre}}


def baselines_key(ctx: ReportContext) -> dict:
    return {"fingerprint": ctx.dataset.fingerprint, "splits": _split_digest(ctx),
            "config": dataclasses.asdict(_baseline_config(ctx))}


def baselines_step(ctx: ReportContext) -> dict:
    """Table 2: the scikit-learn zoo on 32x32 pixels, random grid vs resize, train vs test."""
    cfg = _baseline_config(ctx)
    report = build_report(ctx.dataset, cfg, progress=ctx.progress("fitting models"))
    write_report(report, ctx.folder("baselines"), dataset=ctx.dataset)
    table = table2(report.results)
    tables = {"table2": write_table(ctx, "table2", table, markdown=to_markdown(table))}
    per_source = per_group_table(report.results, ctx.dataset)
    if not per_source.empty:
        tables["table2_per_source"] = write_table(ctx, "table2_per_source", per_source,
                                                  markdown=to_markdown(per_source))
    ok = [r for r in report.results if r.test and r.model != "reference"]
    best = max(ok, key=lambda r: r.test["accuracy"], default=None)
    best_balanced = max(ok, key=lambda r: r.test["balanced_accuracy"], default=None)
    failed = sorted({r.title for r in report.results if r.status == "failed"})
    facts = {"n_train": report.n_train, "n_test": report.n_test, "failed": failed,
             "paper_best_test": max(max(v[1], v[3]) for v in PAPER_TABLE2.values())}
    ridge = [r for r in ok if r.model == "ridge" and r.train]
    if ridge:
        facts["ridge_gap"] = max(100 * (r.train["accuracy"] - r.test["accuracy"]) for r in ridge)
    if best is not None:
        facts |= {"best_model": best.title, "best_features": best.spec.label(),
                  "best_test": 100 * best.test["accuracy"],
                  "best_balanced_model": best_balanced.title,
                  "best_balanced": 100 * best_balanced.test["balanced_accuracy"]}
    return {"tables": tables, "facts": facts}


def write_table(ctx: ReportContext, name: str, frame: pd.DataFrame, *, index: bool = True,
                markdown: str | None = None) -> dict:
    """Write ``tables/<name>.csv``; return its path and a markdown rendering."""
    flat = frame
    if isinstance(frame.columns, pd.MultiIndex):
        flat = frame.set_axis([" ".join(str(p) for p in c if p != "").strip() for c in frame.columns],
                              axis=1)
    path = ctx.path("tables", f"{name}.csv")
    with atomic_write(path, "w") as fh:
        flat.to_csv(fh, index=index)
    if markdown is None:
        markdown = to_markdown(flat if index else flat.reset_index(drop=True))
    return {"csv": ctx.relative(path), "md": markdown}


def _color_config(ctx: ReportContext, feature: str) -> ColorConfig:
    return ColorConfig(feature=feature, trials=ctx.cfg.trials, n_per_genre=ctx.cfg.n_per_genre)


def _baseline_config(ctx: ReportContext) -> BaselineConfig:
    return BaselineConfig(models=ctx.cfg.baseline_models)


def _split_digest(ctx: ReportContext) -> str:
    from ..networks.runs import config_digest
    return config_digest({"split": ctx.dataset.items["split"].tolist()})


def _rank_facts(table: pd.DataFrame) -> dict:
    """What the discussion needs of a Table 1: which genres know themselves, how stable."""
    first = table["ranked 1st (% of trials)"]
    facts = {"mostly_first": [g for g, share in first.items() if share >= 50],
             "mean_rank": {g: None if np.isnan(v) else float(v) for g, v in table["mean rank"].items()},
             "mean_std": float(np.nanmean(table["std"])) if len(table) else None}
    if "paper Table 1" in table.columns:
        shared = table.dropna(subset=["paper Table 1"])
        inside = [g for g, row in shared.iterrows() if row["best"] <= row["paper Table 1"] <= row["worst"]]
        facts |= {"paper_shared": list(shared.index), "paper_within_spread": inside}
    return facts
