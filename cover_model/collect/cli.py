"""The ``collect`` command: download the covers of a link list into a dataset folder.

    python -m cover_model collect LINKS OUT_DIR [--workers 4]
"""
from __future__ import annotations

import sys
from pathlib import Path

from .. import config
from ..progress import terminal_progress
from .options import CollectConfig
from .run import CollectInterrupted, collect


def add_collect(parser) -> None:
    parser.add_argument("links", type=Path, help="TSV url<TAB><genre>/<name>.jpg (the paper's), "
                        "or CSV with columns url, genre[, path]")
    parser.add_argument("out_dir", type=Path, help="dataset folder to fill (created if needed)")
    config.add_arguments(parser, CollectConfig)
    parser.set_defaults(run=run_collect)


def run_collect(args) -> int:
    cfg = config.from_args(CollectConfig, args)
    try:
        summary = collect(args.links, args.out_dir, config=cfg,
                          progress=terminal_progress("downloading covers", unit="covers"))
    except CollectInterrupted as stopped:
        print(stopped.summary.describe())
        print("interrupted: run the same command again to resume", file=sys.stderr)
        return 130
    print(summary.describe())
    return 0


ARGUMENTS = {"collect": add_collect}
