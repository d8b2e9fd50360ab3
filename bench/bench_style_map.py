"""The style map's speed and quality on the real covers: layout, cache, and a selection.

    python bench/bench_style_map.py [--real ../shared/data/real-covers/manifest.csv]

The embeddings must be cached already (the first ``style-map`` command or Style map page
does it: about 4 minutes for the ~5,000 real covers on 2 CPU cores). Then, in one run:

- reading the cached embeddings (what a first layout pays before t-SNE);
- the chosen layout (PCA to 50, Barnes-Hut t-SNE, 500 iterations, 2 threads) against
  the baseline of scikit-learn's defaults (t-SNE on the full 1,280 features, 1,000
  iterations), as ratios of wall and CPU seconds; and, with
  ``--umap DIR`` (umap-learn and numba installed there, not in the project), UMAP's
  first call in a process (numba compiles) and its second;
- the quality of each layout: trustworthiness (scikit-learn, 10 neighbours: are a
  cover's map neighbours its neighbours in embedding space?) and how often a cover's
  10 map neighbours share its genre (majority vote), beside the same vote in the
  full embedding space;
- what a selection costs on the page: the cached layout read, the figure built and
  serialised, and the selected covers' thumbnails (24, as the gallery shows).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from timing import median_seconds  # noqa: E402

from cover_model.baselines.embeddings import embedding_features, embedding_spec  # noqa: E402
from cover_model.curation.style_map import (  # noqa: E402
    StyleMapConfig,
    layout,
    layout_path,
    map_figure,
    save_layout,
    selected_rows,
    style_map,
)
from cover_model.data.dataset import load_dataset  # noqa: E402
from cover_model.data.images import thumbnail  # noqa: E402

DEFAULT_REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real-covers" / "manifest.csv"
GALLERY = 24


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - start


def with_cpu(fn):
    """``fn()``, its wall seconds and the CPU seconds of all this process's threads: on a
    machine shared with other work, CPU seconds / 2 estimates the wall time on 2 idle cores."""
    cpu = time.process_time()
    result, wall = timed(fn)
    return result, wall, time.process_time() - cpu


def quality(xy: np.ndarray, X: np.ndarray, labels: np.ndarray, k: int = 10) -> dict:
    """Trustworthiness and k-NN genre vote of a layout."""
    from sklearn.manifold import trustworthiness
    return {"trustworthiness": round(float(trustworthiness(X, xy, n_neighbors=k)), 3),
            "knn_genre_agreement": round(knn_vote(xy, labels, k), 3)}


def knn_vote(points: np.ndarray, labels: np.ndarray, k: int) -> float:
    """Share of covers whose k nearest others (Euclidean) mostly carry their genre."""
    from sklearn.neighbors import NearestNeighbors
    _, neighbours = NearestNeighbors(n_neighbors=k + 1).fit(points).kneighbors(points)
    votes = labels[neighbours[:, 1:]]
    majority = np.array([np.bincount(row, minlength=labels.max() + 1).argmax() for row in votes])
    return float((majority == labels).mean())


def umap_layout(umap_dir: str, X: np.ndarray, seed: int) -> dict:
    """UMAP from a folder outside the project: a first call (numba compiles), then a second."""
    sys.path.insert(0, umap_dir)
    (umap, import_s) = timed(lambda: __import__("umap"))
    from sklearn.decomposition import PCA
    reduced = PCA(n_components=50, random_state=seed).fit_transform(X)

    def fit():
        return umap.UMAP(n_neighbors=15, min_dist=0.1, random_state=None, n_jobs=2).fit_transform(reduced)
    _, first_s, first_cpu = with_cpu(fit)
    second, second_s, second_cpu = with_cpu(fit)
    return {"import_s": round(import_s, 2), "first_s": round(first_s, 2), "first_cpu_s": round(first_cpu, 2),
            "second_s": round(second_s, 2), "second_cpu_s": round(second_cpu, 2), "xy": second}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, default=DEFAULT_REAL)
    parser.add_argument("--umap", metavar="DIR", help="a folder with umap-learn and numba installed")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "style_map.json")
    args = parser.parse_args()
    dataset = load_dataset(args.real)
    cfg = StyleMapConfig()
    (X, index), read_s = timed(lambda: embedding_features(dataset, embedding_spec(cfg.network)))
    labels = dataset.items["label"].to_numpy()[index]
    print(f"{len(X):,} covers; cached embeddings read in {read_s:.1f} s; load {os.getloadavg()[0]:.1f}")

    chosen, _, chosen_cpu = with_cpu(lambda: layout(X, index, cfg))
    print(f"chosen: PCA {cfg.pca_dims} + t-SNE, {cfg.max_iter} iterations, in {chosen.seconds:.1f} s "
          f"({chosen_cpu:.1f} CPU s)")
    default = StyleMapConfig(pca_dims=0, max_iter=1000)           # scikit-learn's TSNE() as it comes
    baseline, _, baseline_cpu = with_cpu(lambda: layout(X, index, default))
    print(f"baseline: t-SNE defaults (no PCA, 1,000 iterations) in {baseline.seconds:.1f} s "
          f"({baseline_cpu:.1f} CPU s)")
    results = {"covers": len(X), "load_average": round(os.getloadavg()[0], 1),
               "embeddings_read_s": round(read_s, 2),
               "chosen_s": round(chosen.seconds, 2), "chosen_cpu_s": round(chosen_cpu, 2),
               "baseline_sklearn_defaults_s": round(baseline.seconds, 2),
               "baseline_cpu_s": round(baseline_cpu, 2),
               "speedup_vs_baseline": round(baseline.seconds / chosen.seconds, 2),
               "cpu_ratio_vs_baseline": round(baseline_cpu / chosen_cpu, 2),
               "chosen": quality(chosen.xy, X, labels),
               "baseline_sklearn_defaults": quality(baseline.xy, X, labels),
               "embedding_space_knn_genre_agreement": round(knn_vote(X, labels, 10), 3)}
    if args.umap:
        umap = umap_layout(args.umap, X, cfg.seed)
        results["umap"] = {**{k: v for k, v in umap.items() if k != "xy"}, **quality(umap["xy"], X, labels)}

    save_layout(layout_path(dataset, cfg), chosen)     # what the page and the command read
    smap = style_map(dataset, cfg, compute=False)
    rng = np.random.default_rng(0)
    points = [{"customdata": [int(row), ""]} for row in rng.choice(smap.index, 200, replace=False)]

    def selection():
        cached = style_map(dataset, cfg, compute=False)
        map_figure(dataset, cached).to_json()
        rows = selected_rows(points)[:GALLERY]
        for path in dataset.items["path"][rows]:
            thumbnail(path, 110)
    results["cache_hit_s"] = round(median_seconds(lambda: style_map(dataset, cfg, compute=False), 5), 3)
    results["selection_s"] = round(median_seconds(selection, 5), 3)
    print(json.dumps(results, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
