"""The shipped model on onnxruntime against torch: per-cover latency, agreement, start-up.

    python bench/bench_onnx.py [--covers DIR] [--repeats 40]   # with make's allocator env

Both predictors answer the same covers (upload bytes -> top-3: decode, downsize,
network) in the same run, interleaved cover by cover so that a busy machine slows
both alike; the ratio is torch's median over onnxruntime's. Then each starts in a
fresh process, as a light server would: imports, model load, first answer, peak
memory. Grad-CAM is left out: only torch computes it.
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cover_model.networks.predict import Predictor  # noqa: E402
from cover_model.service.onnx_serving import OnnxPredictor, export_onnx  # noqa: E402
from cover_model.shipped import SHIPPED_DIR  # noqa: E402
from cover_model.synth import ensure_default_dataset  # noqa: E402

# Run in a fresh interpreter: start-up as a server that predicts with one backend sees it.
# Peak memory from VmHWM: getrusage's ru_maxrss keeps the forking parent's peak across exec.
FRESH = """
def peak_mb():
    line = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0]
    return int(line.split()[1]) / 1024
import json, sys, time
start = time.perf_counter()
if sys.argv[1] == "torch":
    from cover_model.networks.predict import Predictor
    imported = time.perf_counter()
    predictor = Predictor.from_run(sys.argv[2])
else:
    from cover_model.service.onnx_serving import OnnxPredictor
    imported = time.perf_counter()
    predictor = OnnxPredictor.from_file(sys.argv[2])
loaded = time.perf_counter()
predictor.top_k(open(sys.argv[3], "rb").read())
print(json.dumps({"import_s": imported - start, "load_s": loaded - imported,
                  "first_s": time.perf_counter() - loaded, "torch": "torch" in sys.modules,
                  "peak_mb": peak_mb()}))
"""


def interleaved_ms(predictors: dict, uploads: list[bytes], repeats: int) -> dict[str, list[float]]:
    """Milliseconds per ``top_k`` call, each backend in turn on the same cover."""
    for predictor in predictors.values():
        predictor.top_k(uploads[0])                                   # warm-up
    times = {name: [] for name in predictors}
    for i in range(repeats):
        for name, predictor in predictors.items():
            start = time.perf_counter()
            predictor.top_k(uploads[i % len(uploads)])
            times[name].append(1000 * (time.perf_counter() - start))
    return times


def max_difference(torch_predictor, onnx_predictor, uploads: list[bytes]) -> float:
    return max(float(abs(torch_predictor.probabilities(u) - onnx_predictor.probabilities(u)).max())
               for u in uploads)


def fresh_start(backend: str, model: Path, cover: Path) -> dict:
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-c", FRESH, backend, str(model), str(cover)],
                          cwd=root, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def main_bench(args) -> None:
    folder = Path(args.covers) if args.covers else ensure_default_dataset()
    covers = sorted(folder.rglob("*.jpg"))[:20]
    uploads = [p.read_bytes() for p in covers]
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        onnx_file = export_onnx(SHIPPED_DIR, Path(tmp) / "real-covers.onnx")
        export_s = time.perf_counter() - start
        predictors = {"torch": Predictor.from_run(SHIPPED_DIR),
                      "onnxruntime": OnnxPredictor.from_file(onnx_file)}
        times = interleaved_ms(predictors, uploads, args.repeats)
        diff = max_difference(*predictors.values(), uploads)
        fresh = {"torch": fresh_start("torch", SHIPPED_DIR, covers[0]),
                 "onnxruntime": fresh_start("onnx", onnx_file, covers[0])}
        size_mb = onnx_file.stat().st_size / 1e6
    report(times, fresh, diff=diff, export_s=export_s, size_mb=size_mb,
           source=args.covers or "the synthetic set", n_covers=len(uploads))


def report(times, fresh, *, diff, export_s, size_mb, source, n_covers) -> None:
    import torch
    median = {name: statistics.median(ms) for name, ms in times.items()}
    print(f"shipped model, {n_covers} covers from {source}, {len(times['torch'])} timed covers "
          f"per backend, interleaved; torch threads {torch.get_num_threads()}")
    print(f"export: {export_s:.1f} s, {size_mb:.1f} MB; largest probability difference {diff:.1e}")
    print("| backend | top-3 per cover, median ms | vs onnxruntime | fresh process: import s "
          "| load s | first answer s | peak MB | torch imported |")
    print("|---|--:|--:|--:|--:|--:|--:|---|")
    for name, ms in median.items():
        f = fresh[name]
        print(f"| {name} | {ms:.1f} | {ms / median['onnxruntime']:.2f}x | {f['import_s']:.1f} "
              f"| {f['load_s']:.2f} | {f['first_s']:.2f} | {f['peak_mb']:.0f} | {f['torch']} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--covers", help="a folder of covers (default: the synthetic ones)")
    parser.add_argument("--repeats", type=int, default=40)
    main_bench(parser.parse_args())
