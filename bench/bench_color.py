"""The paper's 10x10 colour protocol, vectorised, against the per-pair compareHist loop.

    python bench/bench_color.py [--data synth | ../shared/data/real-covers] [--repeats 5]

One draw of two disjoint samples of 50 covers per genre; the G(G+1)/2 blocks
i <= j (55 for ten genres: 50^2 * 55 = 137,500 scores per metric), all four
metrics. Three ways, in the same run, on the same samples:

- baseline: one ``cv2.compareHist`` call per pair, as the paper implies;
- all pairs: ``compare_all_pairs`` per block (every score, as matrix products), then the mean;
- protocol: ``similarity_matrices``, the library's path (block means without forming
  pairs where the metric allows), and ``run_trials(n_trials=1)``, which also draws the
  samples and ranks.

Values must agree: the largest difference to the baseline is printed (relative
for chi-square, whose scale is unbounded). Figures are medians; compare ratios.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cover_model.color import (  # noqa: E402
    METRIC_NAMES,
    METRICS,
    ColorConfig,
    compare_all_pairs,
    draw_disjoint_samples,
    run_trials,
)
from cover_model.color.analysis import dataset_features  # noqa: E402
from cover_model.color.protocol import similarity_matrices  # noqa: E402
from cover_model.data.cli import resolve_dataset  # noqa: E402


def timed(fn, repeats):
    """Median wall and CPU seconds over ``repeats`` calls, and the last result.

    Every path here runs on one core, so CPU time is the steadier figure on a
    shared machine; wall time is what a user waits.
    """
    wall, cpu, result = [], [], None
    for _ in range(repeats):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    return (statistics.median(wall), statistics.median(cpu)), result


def blocks(n_classes, sizes):
    return [(i, j) for i in range(n_classes) for j in range(i, n_classes) if sizes[i] and sizes[j]]


def baseline_loop(sample_a, sample_b, pairs, n_classes):
    """The per-pair loop: one compareHist call per (cover of A_i, cover of B_j)."""
    matrices = np.full((len(METRIC_NAMES), n_classes, n_classes), np.nan)
    for k, name in enumerate(METRIC_NAMES):
        method = METRICS[name].cv2_method
        for i, j in pairs:
            total = 0.0
            for a in sample_a[i]:
                for b in sample_b[j]:
                    total += cv2.compareHist(a, b, method)
            matrices[k, i, j] = matrices[k, j, i] = total / (len(sample_a[i]) * len(sample_b[j]))
    return matrices


def all_pairs(sample_a, sample_b, pairs, n_classes):
    matrices = np.full((len(METRIC_NAMES), n_classes, n_classes), np.nan)
    # One BLAS thread, as run_trials uses: threads only stall on 50 x K x 50 products.
    with threadpool_limits(1, user_api="blas"):
        for k, name in enumerate(METRIC_NAMES):
            for i, j in pairs:
                value = compare_all_pairs(sample_a[i], sample_b[j], metric=name).mean()
                matrices[k, i, j] = matrices[k, j, i] = value
    return matrices


def worst_difference(ours, reference):
    diff = np.abs(ours - reference)
    scale = np.where(np.array(METRIC_NAMES)[:, None, None] == "chi_square", np.abs(reference), 1.0)
    return float(np.nanmax(diff / np.maximum(scale, 1e-300)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="synth", help="dataset (default: the embedded synthetic covers)")
    parser.add_argument("--n-per-genre", type=int, default=50)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    dataset = resolve_dataset(args.data)
    arrays, histograms = dataset_features(dataset, ColorConfig())
    n_classes = dataset.n_classes
    # The same draw as trial 1 of run_trials(seed=...).
    child = np.random.SeedSequence(args.seed).spawn(1)[0]
    samples = draw_disjoint_samples(arrays.labels, n_classes=n_classes, n_per_genre=args.n_per_genre,
                                    rng=np.random.default_rng(child))
    sample_a = [histograms[idx] for idx in samples.a]
    sample_b = [histograms[idx] for idx in samples.b]
    rows_a = [[np.ascontiguousarray(h) for h in s] for s in sample_a]     # compareHist takes 1-D rows
    rows_b = [[np.ascontiguousarray(h) for h in s] for s in sample_b]
    pairs = blocks(n_classes, samples.n_per_genre)
    n_scores = sum(samples.n_per_genre[i] * samples.n_per_genre[j] for i, j in pairs)

    base_s, reference = timed(lambda: baseline_loop(rows_a, rows_b, pairs, n_classes), args.repeats)
    pairs_s, pairwise = timed(lambda: all_pairs(sample_a, sample_b, pairs, n_classes), args.repeats)
    with threadpool_limits(1, user_api="blas"):       # as run_trials does
        matrices_s, matrices = timed(lambda: similarity_matrices(histograms, samples), args.repeats)
    proto_s, trials = timed(lambda: run_trials(histograms, arrays.labels, n_classes=n_classes,
                                               n_per_genre=args.n_per_genre, n_trials=1, seed=args.seed),
                            args.repeats)
    twenty_s, _ = timed(lambda: run_trials(histograms, arrays.labels, n_classes=n_classes,
                                           n_per_genre=args.n_per_genre, n_trials=20, seed=args.seed), 1)

    load = os.getloadavg()
    print(f"{dataset.root}: {len(arrays)} covers, {n_classes} genres, samples of "
          f"{samples.n_per_genre.tolist()}; {len(pairs)} blocks, {n_scores:,} scores per metric, "
          f"4 metrics; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, {os.cpu_count()} cores\n")
    print("| 10x10 protocol, all four metrics | wall ms | vs baseline | CPU ms | vs baseline | max difference |")
    print("|---|---:|---:|---:|---:|---:|")
    rows = [(f"per-pair `cv2.compareHist` loop ({4 * n_scores:,} calls, baseline)", base_s, None),
            ("`compare_all_pairs` per block (every score, vectorised)", pairs_s, pairwise),
            ("`similarity_matrices` (the protocol's four matrices, same samples)", matrices_s, matrices),
            ("`run_trials(n_trials=1)` (the above + drawing samples, ranks)", proto_s, trials.matrices[0])]
    for label, (wall, cpu), values in rows:
        diff = "-" if values is None else f"{worst_difference(values, reference):.1e}"
        print(f"| {label} | {wall * 1e3:,.1f} | {base_s[0] / wall:,.1f}x | {cpu * 1e3:,.1f} | "
              f"{base_s[1] / cpu:,.1f}x | {diff} |")
    print(f"\n20 trials (the default analysis): {twenty_s[0] * 1e3:,.0f} ms wall, {twenty_s[1] * 1e3:,.0f} ms CPU")
    return 0


if __name__ == "__main__":
    sys.exit(main())
