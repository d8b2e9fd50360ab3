"""The ``style-map`` command: a dataset's covers on a 2-D map, as HTML (hover shows the cover) and PNG.

    python -m cover_model style-map DATA --out style-map           # style-map.html, style-map.png
    python -m cover_model style-map DATA --perplexity 50 --seed 1 --no-png
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from . import config
from .data_cli import add_data_argument, resolve_dataset
from .progress import terminal_progress
from .style_map import StyleMapConfig, style_map, write_map


def add_style_map(parser) -> None:
    add_data_argument(parser)
    config.add_arguments(parser, StyleMapConfig)
    parser.add_argument("--out", type=Path, default=Path("style-map"),
                        help="where to write: OUT.html and OUT.png (default: style-map)")
    parser.add_argument("--thumbnails", action=argparse.BooleanOptionalAction, default=True,
                        help="embed small cover thumbnails in the HTML so hovering shows the "
                             "cover (about 2 KB per cover; default: on)")
    parser.add_argument("--png", action=argparse.BooleanOptionalAction, default=True,
                        help="also write OUT.png through kaleido and the local Chromium (default: on)")
    parser.set_defaults(run=run_style_map)


def run_style_map(args) -> int:
    cfg = config.from_args(StyleMapConfig, args)      # a bad setting: ValueError, one line
    dataset = resolve_dataset(args.data)
    start = time.perf_counter()
    smap = style_map(dataset, cfg, progress=terminal_progress("embedding covers", unit="steps"))
    print(f"{len(smap):,} covers mapped in {time.perf_counter() - start:.1f} s "
          f"(layout {smap.seconds:.1f} s when computed; {cfg.network}, PCA {cfg.pca_dims or 'off'}, "
          f"perplexity {cfg.perplexity:g}, seed {cfg.seed})")
    for path in write_map(dataset, smap, args.out, thumbnails=args.thumbnails, png=args.png):
        print(f"wrote {path}")
    return 0


ARGUMENTS = {"style-map": add_style_map}
