"""Collector throughput against a local fake CDN: 1 worker vs 8, with and without latency.

    python bench/bench_collect.py [--n-links 400] [--latency-ms 0 20] [--repeats 3]

Covers are 350x350 JPEGs (about the paper's size). There is no rate limit
here; the real default (5 requests/s per host) caps a real run far below these
figures. The last row times a re-run over a complete folder: every cover is
decoded again to be sure it is whole, and nothing is fetched.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cover_model.collect import CollectConfig, collect   # noqa: E402
from tests.fake_cover_server import FakeCoverServer       # noqa: E402
from tests.test_collect import synthetic_link_lines      # noqa: E402


def timed_collect(server, lines, cfg, out_dir: Path) -> float:
    links = out_dir.parent / f"{out_dir.name}.tsv"
    links.write_text("\n".join(server.rewrite(line) for line in lines) + "\n")
    start = time.perf_counter()
    summary = collect(links, out_dir, config=cfg)
    seconds = time.perf_counter() - start
    assert summary.n_covers == len(lines) and not summary.failures, summary.describe()
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-links", type=int, default=400)
    parser.add_argument("--latency-ms", type=float, nargs="+", default=[0.0, 20.0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    lines = synthetic_link_lines(n_per_genre=max(1, args.n_links // 10))
    base = CollectConfig(rate_per_host=0.0, retries=0)
    print(f"{len(lines)} links, 350x350 covers, load average {os.getloadavg()[0]:.2f}")
    print(f"{'latency':>8} {'workers':>8} {'covers/s':>10} {'vs 1 worker':>12}")
    with tempfile.TemporaryDirectory() as tmp:
        for latency_ms in args.latency_ms:
            with FakeCoverServer(latency_s=latency_ms / 1000, image_px=350) as server:
                for line in lines:            # encode every cover before timing
                    server.image_bytes(urlsplit(line.split("\t")[0]).path)
                rates = {}
                for workers in args.workers:
                    cfg = dataclasses.replace(base, workers=workers)
                    seconds = statistics.median(
                        timed_collect(server, lines, cfg, Path(tmp) / f"{latency_ms}-{workers}-{r}")
                        for r in range(args.repeats))
                    rates[workers] = len(lines) / seconds
                    print(f"{latency_ms:>6.0f}ms {workers:>8} {rates[workers]:>10,.0f} "
                          f"{rates[workers] / rates[args.workers[0]]:>11.1f}x")
                resume = timed_collect(server, lines, cfg, Path(tmp) / f"{latency_ms}-{workers}-0")
                print(f"{'':>8} {'re-run':>8} {len(lines) / resume:>10,.0f}   (all present, "
                      f"{workers} workers, nothing fetched)")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
