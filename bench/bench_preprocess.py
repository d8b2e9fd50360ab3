"""Preprocessing throughput at 32x32 on the real covers, against a plain PIL loop.

    python bench/bench_preprocess.py [--data ../shared/data/real-covers] [--repeats 3]

All figures come from one run on one machine; the ratios are what to compare.
The baseline is the obvious code: one process, PIL open + convert + resize.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from timing import median_seconds  # noqa: E402

from cover_model.data.dataset import load_dataset  # noqa: E402
from cover_model.data.preprocess import preprocess_dataset  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "real-covers"


def plain_pil_loop(paths, size_px):
    return np.stack([np.asarray(Image.open(p).convert("RGB").resize((size_px, size_px)))
                     for p in paths])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--size-px", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if not args.data.exists():
        print(f"no data at {args.data}; pass --data DIR")
        return 1
    import os
    os.environ["COVER_LAB_DATA"] = tempfile.mkdtemp(prefix="bench-preprocess-")   # a cold cache
    dataset = load_dataset(args.data)
    paths = dataset.items["path"].tolist()
    for p in paths:                       # warm the OS page cache: time decoding, not the disk
        Path(p).read_bytes()
    n, size = len(paths), args.size_px

    rows = [("plain PIL loop, 1 process (baseline)", median_seconds(lambda: plain_pil_loop(paths, size), args.repeats))]
    for method in ("area", "cubic", "random"):
        rows.append((f"preprocess_dataset, {method}, uncached", median_seconds(
            lambda m=method: preprocess_dataset(dataset, size_px=size, method=m, use_cache=False),
            args.repeats)))
    preprocess_dataset(dataset, size_px=size)                    # fills the cache
    rows.append(("preprocess_dataset, area, cached (2nd call)",
                 median_seconds(lambda: preprocess_dataset(dataset, size_px=size), args.repeats)))

    baseline = rows[0][1]
    print(f"{n} covers from {args.data} at {size}x{size}, {os.cpu_count()} cores, "
          f"median of {args.repeats}\n")
    print("| pipeline | covers/s | vs baseline |")
    print("|---|---:|---:|")
    for name, seconds in rows:
        print(f"| {name} | {n / seconds:,.0f} | {baseline / seconds:.1f}x |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
