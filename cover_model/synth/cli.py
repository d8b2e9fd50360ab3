"""The ``synth`` command: write the embedded synthetic covers.

    python -m cover_model synth [--n-per-genre 100] [--seed 0] [--out DIR]
"""
from __future__ import annotations

import time
from pathlib import Path

from ..progress import progress_file_writer, terminal_progress
from .writer import default_dataset_dir, generate


def add_synth(parser) -> None:
    parser.add_argument("--n-per-genre", type=int, default=100, help="covers per genre (default: 100)")
    parser.add_argument("--seed", type=int, default=0, help="generator seed (default: 0)")
    parser.add_argument("--out", type=Path, help="output folder (default: data/synth-...)")
    parser.add_argument("--progress-file", type=Path, help="also record progress in this JSON file")
    parser.set_defaults(run=run_synth)


def run_synth(args) -> int:
    out = args.out or default_dataset_dir(n_per_genre=args.n_per_genre, seed=args.seed)
    start = time.perf_counter()
    reporters = [terminal_progress("generating covers")]
    if args.progress_file:                  # the dashboard's Generate button polls this file
        reporters.append(progress_file_writer(args.progress_file))
    generate(out, n_per_genre=args.n_per_genre, seed=args.seed,
             progress=lambda done, total: [report(done, total) for report in reporters])
    print(f"synthetic covers in {out} ({time.perf_counter() - start:.1f} s)")
    return 0


ARGUMENTS = {"synth": add_synth}
