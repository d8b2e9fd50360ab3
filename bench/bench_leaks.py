"""The leak check's thresholds and speed: planted near-duplicates, and the clean covers.

    python bench/bench_leaks.py [--real ../shared/data/real-covers] [--n-sources 250]

For the synthetic covers and the real covers alike, ``--n-sources`` covers each get
five planted copies, written to a temp folder (never the repo): rescaled (to 60%),
JPEG-recompressed (quality 25), trimmed (2.5% off every edge: 5% of each side, centred),
cropped 5% (off the top and left alone: the picture also shifts by 5%),
and recoloured (hue turned 40 degrees, 15% brighter). Every cover is hashed through
the real pipeline; for a grid of (pHash, dHash) thresholds it reports the recall of
each kind of copy (copy paired with its original) and the other pairs found, which
on the synthetic covers are false positives and on the (de-duplicated) real covers
are false positives or duplicates the cleaning missed. Then it times hashing the
real covers on 2 threads, uncached, and the whole check at the chosen thresholds.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cover_model.curation import leaks  # noqa: E402
from cover_model.data.dataset import load_dataset  # noqa: E402
from cover_model.data.images import decode_image  # noqa: E402
from cover_model.synth import ensure_default_dataset  # noqa: E402

DEFAULT_REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real-covers"
KINDS = ("rescaled", "recompressed", "trimmed", "cropped", "recoloured")
GRID = [(p, d) for p in (6, 8, 10, 12, 14) for d in (8, 10, 12, 14)]


def planted_copy(rgb: np.ndarray, kind: str) -> tuple[np.ndarray, int]:
    """One copy of ``rgb`` (and the JPEG quality to save it at)."""
    h, w = rgb.shape[:2]
    if kind == "rescaled":
        return cv2.resize(rgb, (int(w * 0.6), int(h * 0.6)), interpolation=cv2.INTER_AREA), 90
    if kind == "recompressed":
        return rgb, 25
    if kind == "trimmed":
        return rgb[round(h * 0.025):h - round(h * 0.025), round(w * 0.025):w - round(w * 0.025)], 90
    if kind == "cropped":
        return rgb[round(h * 0.05):, round(w * 0.05):], 90
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV).astype(np.int16)
    hsv[..., 0] = (hsv[..., 0] + 20) % 180                       # OpenCV hue: 2 degrees a unit
    hsv[..., 2] = np.clip(hsv[..., 2] * 1.15, 0, 255)
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB), 90


def plant(dataset, out: Path, n_sources: int, seed: int = 0) -> list[tuple[int, str, Path]]:
    """Write the copies of ``n_sources`` random covers; (source row, kind, copy path)."""
    rows = np.random.default_rng(seed).choice(len(dataset), n_sources, replace=False)
    planted = []
    for row in rows:
        rgb = decode_image(dataset.items["path"][row])
        for kind in KINDS:
            copy, quality = planted_copy(rgb, kind)
            path = out / f"{row}-{kind}.jpg"
            Image.fromarray(copy).save(path, "JPEG", quality=quality)
            planted.append((int(row), kind, path))
    return planted


def measure(name: str, dataset, n_sources: int) -> None:
    print(f"\n## {name}: {len(dataset)} covers, {n_sources} x {len(KINDS)} planted copies\n")
    hashes = leaks.hash_covers(dataset, use_cache=False)
    with tempfile.TemporaryDirectory(prefix="planted-") as folder:
        planted = plant(dataset, Path(folder), n_sources)
        copies = [leaks.hash_image(decode_image(p, draft_px=leaks.HASH_INPUT_PX)) for _, _, p in planted]
    usable = hashes.ok & (hashes.contrast >= leaks.MIN_CONTRAST)
    print(f"plain covers (contrast < {leaks.MIN_CONTRAST}, never paired): {int((~usable).sum())}\n")
    phash = np.concatenate([hashes.phash[usable], np.array([c[0] for c in copies], np.uint64)])
    dhash = np.concatenate([hashes.dhash[usable], np.array([c[1] for c in copies], np.uint64)])
    source_of = np.concatenate([np.flatnonzero(usable), [row for row, _, _ in planted]])
    n_clean = int(usable.sum())
    print("| pHash <= | dHash <= | " + " | ".join(f"recall {k}" for k in KINDS)
          + " | pairs among the clean covers | other false pairs with a copy |")
    print("|---:|---:|" + "---:|" * (len(KINDS) + 2))
    for max_p, max_d in GRID:
        a, b, _, _ = leaks.find_pairs(phash, dhash, max_phash=max_p, max_dhash=max_d)
        same = source_of[a] == source_of[b]
        found = {(int(source_of[j]), int(j - n_clean)) for i, j in zip(a[same], b[same])
                 if i < n_clean <= j}
        recall = [np.mean([(row, k) in found for k, (row, kind, _) in enumerate(planted) if kind == kind_])
                  for kind_ in KINDS]
        clean = int(((a < n_clean) & (b < n_clean)).sum())
        other = int((~same & (b >= n_clean)).sum())
        print(f"| {max_p} | {max_d} | " + " | ".join(f"{r:.1%}" for r in recall) + f" | {clean} | {other} |")


def time_real(real: Path) -> None:
    dataset = load_dataset(real)
    for path in dataset.items["path"]:            # warm the page cache: time hashing, not the disk
        Path(path).read_bytes()
    start = time.perf_counter()
    leaks.hash_covers(dataset, n_jobs=2, use_cache=False)
    hashed = time.perf_counter() - start
    hashes = leaks.hash_covers(dataset, use_cache=False)
    start = time.perf_counter()
    leaks.find_pairs(hashes.phash, hashes.dhash, max_phash=leaks.MAX_PHASH_BITS,
                     max_dhash=leaks.MAX_DHASH_BITS)
    paired = time.perf_counter() - start
    start = time.perf_counter()
    report = leaks.check_leaks(dataset)           # a cold cache: hashing, pairing, grouping
    total = time.perf_counter() - start
    print(f"\n## real covers: {len(dataset)} hashed in {hashed:.1f} s on 2 threads "
          f"({len(dataset) / hashed:.0f} covers/s); all pairs compared in {paired:.2f} s; "
          f"check_leaks, cold cache: {total:.1f} s\n")
    print(report.summary())
    items = dataset.items
    for pair in report.pairs.itertuples():
        print(f"  {pair.phash:2d} {pair.dhash:2d}  {items['genre'][pair.a]}/{items['split'][pair.a]} "
              f"{dataset.relative(items['path'][pair.a])}  ~  {items['genre'][pair.b]}/{items['split'][pair.b]} "
              f"{dataset.relative(items['path'][pair.b])}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, default=DEFAULT_REAL)
    parser.add_argument("--n-sources", type=int, default=250)
    args = parser.parse_args()
    synth = ensure_default_dataset()               # the developer's data/, before caches move
    os.environ["COVER_LAB_DATA"] = tempfile.mkdtemp(prefix="bench-leaks-")    # caches, cold
    print(f"thresholds in use: pHash <= {leaks.MAX_PHASH_BITS}, dHash <= {leaks.MAX_DHASH_BITS}, "
          f"contrast >= {leaks.MIN_CONTRAST}; {os.cpu_count()} cores")
    measure("synthetic covers", load_dataset(synth), args.n_sources)
    if not (args.real / "manifest.csv").is_file():
        print(f"no real covers at {args.real}; pass --real DIR")
        return 0
    measure("real covers", load_dataset(args.real), args.n_sources)
    time_real(args.real)
    return 0


if __name__ == "__main__":
    sys.exit(main())
