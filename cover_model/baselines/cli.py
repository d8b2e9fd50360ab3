"""The ``baselines`` command: the paper's Table 2, scikit-learn models on pixels or histograms.

    python -m cover_model baselines DATA --out reports/baselines
"""
from __future__ import annotations

import time
from pathlib import Path

from .. import config
from ..data.cli import add_data_argument, add_split_arguments, split_dataset
from ..data.dataset_needs import baselines_problem, require
from ..paths import data_dir
from ..progress import terminal_progress
from .config import BaselineConfig
from .report import build_report, table2, to_markdown, write_report


def add_baselines(parser) -> None:
    add_data_argument(parser)
    add_split_arguments(parser)
    config.add_arguments(parser, BaselineConfig)
    parser.add_argument("--out", type=Path, help="output folder (default: data/reports/baselines-...)")
    parser.add_argument("--no-cache", action="store_true", help="refit even when results are cached")
    parser.set_defaults(run=run_baselines)


def run_baselines(args) -> int:
    cfg = config.from_args(BaselineConfig, args)
    dataset = split_dataset(args)
    require(baselines_problem(dataset, scheme=args.split_scheme, val_frac=args.val_frac,
                              test_frac=args.test_frac, n_test_per_class=args.n_test_per_class))
    start = time.perf_counter()
    feature_bars = {}      # one progress line per feature set (embedding covers takes minutes)
    report = build_report(dataset, cfg, use_cache=not args.no_cache,
                          progress=terminal_progress("fitting models", unit="models"),
                          feature_progress=lambda label, done, total: feature_bars.setdefault(
                              label, terminal_progress(label, unit="covers"))(done, total))
    out = args.out or data_dir() / "reports" / f"baselines-{dataset.fingerprint}"
    files = write_report(report, out, dataset=dataset)
    print(f"{report.n_train} train / {report.n_test} test covers, {dataset.n_classes} genres "
          f"({time.perf_counter() - start:.1f} s)")
    print(to_markdown(table2(report.results)))
    print(f"{len(files)} files written to {out}")
    return 0


ARGUMENTS = {"baselines": add_baselines}
