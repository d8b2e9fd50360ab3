"""The Table 2 zoo on the real covers: parallel and cached against a plain loop; the 100x100 grid.

    python bench/bench_baselines.py [--data ../shared/data/real-covers] [--size-px 32] [--big-px 100]

All figures come from one run on one machine; the ratios are what to compare.
The baseline is the obvious code: one process, ``make_baseline(name).fit`` for
each model in turn. Then the same models through ``run_baselines`` on all
cores, then again from its cache. Last, every model on the 100x100x3 grid
(30,000 features): wall time and peak memory, summed over the worker
processes (resident set sizes, an upper bound: memory-mapped pages they share
count once per process).
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cover_model.baselines import SPECS, FeatureSpec, compute_features, make_baseline, run_baselines  # noqa: E402
from cover_model.data.dataset import load_dataset  # noqa: E402
from cover_model.data.splits import assign_splits  # noqa: E402

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "real-covers"


class PeakMemory:
    """Samples the summed resident memory of this process and its descendants."""

    def __init__(self, every_s: float = 0.2):
        self.every_s, self.peak_bytes, self._stop = every_s, 0, threading.Event()

    def __enter__(self):
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _run(self):
        while not self._stop.wait(self.every_s):
            self.peak_bytes = max(self.peak_bytes, tree_rss_bytes(os.getpid()))


def tree_rss_bytes(root: int) -> int:
    parents, rss = {}, {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        parents[int(entry.name)] = int(fields.get("PPid", "0").strip())
        rss[int(entry.name)] = int(fields.get("VmRSS", "0 kB").split()[0]) * 1024
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += rss.get(pid, 0)
        todo += [child for child, parent in parents.items() if parent == pid]
    return total


def plain_loop(fs, models):
    """The same work as run_baselines, one model after another: fit, score test and train."""
    train, test = fs.rows("train"), fs.rows("test")
    for name in models:
        model = make_baseline(name, n_features=fs.n_features)
        try:
            model.fit(fs.X[train], fs.labels[train])
            model.predict(fs.X[test])
            scores = "predict_proba" if hasattr(model, "predict_proba") else "decision_function"
            getattr(model, scores)(fs.X[test])
            model.predict(fs.X[train])
        except Exception:          # noqa: BLE001 - QDA fails, as in run_baselines
            pass


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--size-px", type=int, default=32)
    parser.add_argument("--big-px", type=int, default=100, help="0 skips the big grid")
    parser.add_argument("--models", default=",".join(SPECS))
    args = parser.parse_args()
    if not args.data.exists():
        print(f"no data at {args.data}; pass --data DIR")
        return 1
    os.environ["COVER_LAB_DATA"] = tempfile.mkdtemp(prefix="bench-baselines-")   # a cold cache
    dataset = assign_splits(load_dataset(args.data))
    models = args.models.split(",")
    spec = FeatureSpec(size_px=args.size_px, method="cubic")
    fs = compute_features(dataset, spec)               # decoded once, outside every timing
    print(f"{len(fs.labels)} covers, {fs.n_features} features, {len(models)} models, "
          f"{os.cpu_count()} cores; load average {load_average()}")

    start = time.perf_counter()
    plain_loop(fs, models)
    baseline_s = time.perf_counter() - start
    start = time.perf_counter()
    run_baselines(dataset, models=models, features=[spec])
    parallel_s = time.perf_counter() - start
    start = time.perf_counter()
    run_baselines(dataset, models=models, features=[spec])
    cached_s = time.perf_counter() - start
    print(f"\n| {args.size_px}x{args.size_px}, {len(models)} models | seconds | vs baseline |")
    print("|---|---:|---:|")
    for label, seconds in (("plain loop, 1 process (baseline)", baseline_s),
                           ("run_baselines, all cores, uncached", parallel_s),
                           ("run_baselines, cached (2nd call)", cached_s)):
        print(f"| {label} | {seconds:.1f} | {baseline_s / seconds:.1f}x |")
    print(f"load average after: {load_average()}")

    if args.big_px:
        big = FeatureSpec(size_px=args.big_px, method="cubic")
        compute_features(dataset, big)                 # the decode is cached, not timed
        with PeakMemory() as memory:
            start = time.perf_counter()
            results = run_baselines(dataset, models=models, features=[big])
            big_s = time.perf_counter() - start
        print(f"\n{args.big_px}x{args.big_px}x3 ({3 * args.big_px ** 2:,} features), {len(models)} models, "
              f"all cores: {big_s:.0f} s wall, peak memory {memory.peak_bytes / 2**30:.1f} GiB "
              f"(process tree); load average {load_average()}")
        print("\n| model | pipeline | status | fit s | test accuracy |\n|---|---|---|---:|---:|")
        for r in results:
            accuracy = f"{100 * r.test['accuracy']:.1f}" if r.test else ""
            fit = f"{r.fit_s:.1f}" if r.fit_s is not None else ""
            print(f"| {r.title} | {r.pipeline} | {r.status} | {fit} | {accuracy} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
