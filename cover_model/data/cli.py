"""The dataset commands, and what every command that reads DATA shares.

    python -m cover_model dataset DATA                # counts, splits, skipped files
    python -m cover_model preprocess DATA --size-px 32 --method area

Commands in other subpackages (colour, baselines, report) take their DATA
argument, split flags and dataset from here, so that they and the top-level
:mod:`cover_model.cli` never import each other.
"""
from __future__ import annotations

import time
from pathlib import Path

from .. import config
from ..progress import terminal_progress
from ..synth import default_dataset_ready
from .dataset import EMBEDDED, load_dataset
from .preprocess import PreprocessConfig, preprocess_dataset
from .splits import SCHEMES, assign_splits


def add_data_argument(parser) -> None:
    parser.add_argument("data", nargs="?", default=EMBEDDED,
                        help="folder, manifest CSV, zip, or 'synth' for the embedded covers (default)")


def add_split_arguments(parser) -> None:
    parser.add_argument("--split-scheme", choices=SCHEMES, default="auto",
                        help="how to split when the data has no splits (default: auto)")
    parser.add_argument("--val-frac", type=float, default=0.15)
    parser.add_argument("--test-frac", type=float, default=0.15)
    parser.add_argument("--n-test-per-class", type=int, default=100,
                        help="test covers per genre for the paper's protocol (default: 100)")
    parser.add_argument("--split-seed", type=int, default=0)


def split_dataset(args):
    """DATA with the splits that the flags of :func:`add_split_arguments` ask for."""
    return assign_splits(resolve_dataset(args.data), scheme=args.split_scheme,
                         val_frac=args.val_frac, test_frac=args.test_frac,
                         n_test_per_class=args.n_test_per_class, seed=args.split_seed)


def resolve_dataset(data: str):
    """Load DATA, generating the embedded synthetic covers when asked for ``synth``."""
    generating = data == EMBEDDED and not default_dataset_ready()
    return load_dataset(data, progress=terminal_progress("generating covers")
                        if generating else None)


def print_skipped(skipped, limit: int = 20) -> None:
    """Files left out and why, the first ``limit`` of them."""
    if not skipped:
        return
    print(f"{len(skipped)} file(s) skipped:")
    for item in skipped[:limit]:
        print(f"  {item.path}: {item.reason}")
    if len(skipped) > limit:
        print(f"  ... and {len(skipped) - limit} more")


def add_dataset(parser) -> None:
    add_data_argument(parser)
    add_split_arguments(parser)
    parser.add_argument("--write-manifest", type=Path, metavar="CSV",
                        help="also write the items with their splits as a manifest CSV")
    parser.set_defaults(run=run_dataset)


def add_preprocess(parser) -> None:
    add_data_argument(parser)
    config.add_arguments(parser, PreprocessConfig)
    parser.add_argument("--no-cache", action="store_true", help="recompute even when cached")
    parser.set_defaults(run=run_preprocess)


def run_dataset(args) -> int:
    dataset = split_dataset(args)
    print(f"{dataset.root}: {len(dataset)} covers, {dataset.n_classes} genres, "
          f"fingerprint {dataset.fingerprint}")
    print(dataset.counts().to_string())
    print_skipped(dataset.skipped)
    if args.write_manifest:
        dataset.manifest().to_csv(args.write_manifest, index=False)
        print(f"manifest written to {args.write_manifest} (paths relative to {dataset.root})")
    return 0


def run_preprocess(args) -> int:
    cfg = config.from_args(PreprocessConfig, args)
    dataset = resolve_dataset(args.data)
    start = time.perf_counter()
    arrays = preprocess_dataset(dataset, size_px=cfg.size_px, method=cfg.method, seed=cfg.seed,
                                use_cache=not args.no_cache,
                                progress=terminal_progress("downsizing", unit="covers"))
    seconds = time.perf_counter() - start
    print(f"{len(arrays)} covers -> {arrays.images.shape} uint8 in {seconds:.2f} s "
          f"({len(arrays) / max(seconds, 1e-9):,.0f} covers/s)")
    print_skipped(arrays.skipped)
    return 0


ARGUMENTS = {"dataset": add_dataset, "preprocess": add_preprocess}
