"""Write a colour analysis to a folder: CSV tables, HTML figures, PNGs where possible.

    python -m cover_model color DATA --out reports/color

The mean covers PNG is drawn with Pillow and always written. PNGs of the plotly
figures need a static export (kaleido driving a local Chromium); when that is
not installed or fails offline they are skipped, and the report says so.
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw

from ..atomic_files import atomic_write
from ..plots import label_font
from .analysis import ColorAnalysis, config_dict
from .figures import (
    mean_covers_figure,
    metric_overview,
    rank_stability_figure,
    rank_table,
    similarity_heatmap,
)


@dataclass
class ColorReport:
    """What :func:`write_color_report` wrote, and anything it had to skip."""
    out_dir: Path
    files: list[Path] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)


def write_color_report(analysis: ColorAnalysis, out_dir, *, png: bool = True) -> ColorReport:
    """Write the tables, figures and mean covers of ``analysis`` into ``out_dir``.

    Files: ``config.json``; per metric ``similarity_<metric>.csv`` (trial 1, the
    paper's single draw), ``similarity_mean_<metric>.csv`` (mean over trials),
    ``table1_<metric>.csv`` (ranks, stability, the paper's Table 1) and
    ``heatmap_<metric>.html``; ``ranks_summary.csv``, ``ranks_per_trial.csv``,
    ``mean_rank_by_metric.csv``, ``rank_stability.html``, ``mean_covers.html``,
    ``mean_covers.png`` (not for a features-only dataset: no pixels); and, where a static
    export works, a PNG beside each HTML.

    Returns
    -------
    ColorReport
    """
    report = ColorReport(Path(out_dir))
    report.out_dir.mkdir(parents=True, exist_ok=True)
    names = list(analysis.class_names)
    _write_text(report, "config.json", json.dumps({
        "config": config_dict(analysis.config), "dataset_fingerprint": analysis.fingerprint,
        "class_names": names, "covers_per_genre": analysis.n_covers.tolist(),
        "per_sample": analysis.trials.n_per_genre.tolist(), "notes": list(analysis.notes)}, indent=2))
    figures = {}
    for metric in analysis.trials.metrics:
        for suffix, trial in (("", 0), ("_mean", None)):
            matrix = pd.DataFrame(analysis.matrix(metric, trial=trial), index=names, columns=names)
            _write_csv(report, f"similarity{suffix}_{metric}.csv", matrix.rename_axis("genre"))
        _write_csv(report, f"table1_{metric}.csv", rank_table(analysis, metric=metric))
        figures[f"heatmap_{metric}"] = similarity_heatmap(analysis, metric=metric)
    _write_csv(report, "ranks_summary.csv", analysis.rank_summary(), index=False)
    _write_csv(report, "ranks_per_trial.csv", _ranks_long(analysis), index=False)
    _write_csv(report, "mean_rank_by_metric.csv", metric_overview(analysis))
    figures["rank_stability"] = rank_stability_figure(analysis)
    if analysis.mean_covers is not None:
        figures["mean_covers"] = mean_covers_figure(analysis)
    for name, fig in figures.items():
        path = report.out_dir / f"{name}.html"
        with atomic_write(path, "w") as fh:
            fh.write(fig.to_html(include_plotlyjs="cdn", full_html=True))
        report.files.append(path)
    if analysis.mean_covers is None:
        report.messages.append("no mean covers (Figure 3): the dataset holds no pixels, only "
                               "derived numbers")
    else:
        with atomic_write(report.out_dir / "mean_covers.png") as fh:
            mean_covers_montage(analysis).save(fh, format="PNG")
        report.files.append(report.out_dir / "mean_covers.png")
    if png:
        _export_pngs(report, figures)
    return report


def mean_covers_montage(analysis: ColorAnalysis, *, cell_px: int = 160, n_columns: int = 5) -> Image.Image:
    """Figure 3 as one image: each genre's mean cover with its name underneath."""
    n_rows = -(-len(analysis.class_names) // n_columns)
    label_px = 28
    sheet = Image.new("RGB", (n_columns * cell_px, n_rows * (cell_px + label_px)), "white")
    draw = ImageDraw.Draw(sheet)
    font = label_font(16)
    for g, (genre, cover) in enumerate(zip(analysis.class_names, analysis.mean_covers)):
        x, y = (g % n_columns) * cell_px, (g // n_columns) * (cell_px + label_px)
        tile = Image.fromarray(cover).resize((cell_px - 8, cell_px - 8), Image.Resampling.BICUBIC)
        sheet.paste(tile, (x + 4, y + 4))
        draw.text((x + cell_px / 2, y + cell_px + label_px / 2 - 2), genre, fill="black",
                  font=font, anchor="mm")
    return sheet


def _export_pngs(report: ColorReport, figures: dict) -> None:
    try:
        import kaleido  # noqa: F401  (plotly's static export engine)
        import plotly.io as pio
    except ImportError:
        report.messages.append("PNG figures skipped: kaleido is not installed (HTML figures written)")
        return
    if "BROWSER_PATH" not in os.environ and not _find_chromium():
        report.messages.append("PNG figures skipped: no Chromium/Chrome found for the static export "
                               "(HTML figures written)")
        return
    paths = [report.out_dir / f"{name}.png" for name in figures]
    try:
        pio.write_images(list(figures.values()), paths, width=900, scale=1.5)
        report.files.extend(paths)
    except Exception as exc:      # kaleido reports failures as many types; none is fatal here
        report.messages.append(f"PNG figures skipped: the static export failed offline "
                               f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); "
                               "HTML figures written")


def _find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        if path := shutil.which(name):
            return path
    return None


def _ranks_long(analysis: ColorAnalysis) -> pd.DataFrame:
    trials = analysis.trials
    t, m, g = np.meshgrid(np.arange(trials.ranks.shape[0]), np.arange(len(trials.metrics)),
                          np.arange(len(analysis.class_names)), indexing="ij")
    return pd.DataFrame({"trial": t.ravel() + 1, "metric": np.array(trials.metrics)[m.ravel()],
                         "genre": np.array(analysis.class_names)[g.ravel()],
                         "rank": trials.ranks.ravel()})


def _write_csv(report: ColorReport, name: str, table: pd.DataFrame, *, index: bool = True) -> None:
    _write_text(report, name, table.to_csv(index=index))


def _write_text(report: ColorReport, name: str, text: str) -> None:
    path = report.out_dir / name
    with atomic_write(path, "w") as fh:
        fh.write(text)
    report.files.append(path)
