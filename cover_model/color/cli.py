"""The ``color`` command: the paper's colour analysis of a dataset, written as a report.

    python -m cover_model color DATA --out reports/color
"""
from __future__ import annotations

import time
from pathlib import Path

from .. import config
from ..data.cli import add_data_argument, resolve_dataset
from ..paths import data_dir
from ..progress import terminal_progress
from .analysis import ColorConfig, run_color_analysis
from .export import write_color_report
from .figures import rank_table


def add_color(parser) -> None:
    add_data_argument(parser)
    config.add_arguments(parser, ColorConfig)
    parser.add_argument("--out", type=Path, help="output folder (default: data/reports/color-...)")
    parser.add_argument("--no-png", action="store_true", help="skip the PNG export of the figures")
    parser.set_defaults(run=run_color)


def run_color(args) -> int:
    cfg = config.from_args(ColorConfig, args)
    dataset = resolve_dataset(args.data)
    start = time.perf_counter()
    step = "reading stored histograms" if dataset.features_only else "downsizing"
    analysis = run_color_analysis(dataset, cfg, progress=terminal_progress(step, unit="covers"))
    out = args.out or data_dir() / "reports" / f"color-{dataset.fingerprint}-{cfg.feature}"
    report = write_color_report(analysis, out, png=not args.no_png)
    print(f"{cfg.feature_label}, {cfg.trials} trials of 2 x {cfg.n_per_genre} covers per genre "
          f"({time.perf_counter() - start:.1f} s)")
    print(rank_table(analysis).to_string())
    for line in (*analysis.notes, *report.messages):
        print(f"note: {line}")
    print(f"{len(report.files)} files written to {report.out_dir}")
    return 0


ARGUMENTS = {"color": add_color}
