"""The curation commands: ``leaks`` (near-duplicate covers across splits and genres, and the
fix) and ``style-map`` (a dataset's covers on a 2-D map, as HTML and PNG).

    python -m cover_model leaks DATA                                   # the report
    python -m cover_model leaks DATA --write-manifest fixed.csv --drop-cross-genre
    python -m cover_model style-map DATA --out style-map           # style-map.html, style-map.png
    python -m cover_model style-map DATA --perplexity 50 --seed 1 --no-png
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from .. import config
from ..data.cli import add_data_argument, add_split_arguments, print_skipped, resolve_dataset, split_dataset
from ..progress import terminal_progress
from .leaks import MAX_DHASH_BITS, MAX_PHASH_BITS, check_leaks, write_fixed_manifest
from .style_map import StyleMapConfig, style_map, write_map

EXAMPLE_PAIRS = 20               # pairs printed; the manifest holds the fix for all


def add_leaks(parser) -> None:
    add_data_argument(parser)
    add_split_arguments(parser)
    parser.add_argument("--max-phash", type=int, default=MAX_PHASH_BITS,
                        help=f"largest pHash distance of a pair, bits of 64 (default: {MAX_PHASH_BITS})")
    parser.add_argument("--max-dhash", type=int, default=MAX_DHASH_BITS,
                        help=f"largest dHash distance of a pair, bits of 64 (default: {MAX_DHASH_BITS})")
    parser.add_argument("--write-manifest", type=Path, metavar="CSV",
                        help="write the fix: a manifest whose groups join each duplicate group "
                             "(splits cleared, so loading it splits by group)")
    parser.add_argument("--drop-cross-genre", action="store_true",
                        help="with --write-manifest: drop every cover of a group with several genres")
    parser.set_defaults(run=run_leaks)


def run_leaks(args) -> int:
    dataset = split_dataset(args)
    start = time.perf_counter()
    report = check_leaks(dataset, max_phash=args.max_phash, max_dhash=args.max_dhash,
                         progress=terminal_progress("hashing", unit="covers"))
    summary = report.summary()
    print(f"{len(dataset)} covers checked in {time.perf_counter() - start:.1f} s "
          f"(pHash <= {args.max_phash}, dHash <= {args.max_dhash} bits)")
    print(f"{summary['pairs']} near-duplicate pair(s) in {summary['groups']} group(s) of "
          f"{summary['covers_in_groups']} covers; across splits: {summary['cross_split_pairs']} "
          f"pair(s) in {summary['cross_split_groups']} group(s); across genres: "
          f"{summary['cross_genre_pairs']} pair(s) in {summary['cross_genre_groups']} group(s); "
          f"{summary['plain_covers']} cover(s) too plain to compare")
    _print_pairs(dataset, report)
    print_skipped(report.skipped)
    if args.write_manifest:
        out = write_fixed_manifest(dataset, report, args.write_manifest,
                                   drop_cross_genre=args.drop_cross_genre)
        print(f"fixed manifest written to {out} (paths relative to its folder)")
    return 0


def _print_pairs(dataset, report) -> None:
    items, paths = dataset.items, dataset.relative_paths()
    for pair in report.pairs.head(EXAMPLE_PAIRS).itertuples():
        flags = " ".join(f for f, on in (("CROSS-SPLIT", pair.cross_split),
                                         ("CROSS-GENRE", pair.cross_genre)) if on)
        print(f"  pHash {pair.phash:2d} dHash {pair.dhash:2d}  {paths[pair.a]} "
              f"({items['genre'][pair.a]}, {items['split'][pair.a] or '-'})  ~  {paths[pair.b]} "
              f"({items['genre'][pair.b]}, {items['split'][pair.b] or '-'})  {flags}".rstrip())
    if len(report.pairs) > EXAMPLE_PAIRS:
        print(f"  ... and {len(report.pairs) - EXAMPLE_PAIRS} more")



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


ARGUMENTS = {"leaks": add_leaks, "style-map": add_style_map}
