"""Peak memory and speed of ``evaluate`` on a run at 384 px (issue 14).

    python bench/bench_evaluate.py [--data ../shared/data/real-covers] [--n 300 1000]
                                   [--size-px 384] [--project PATH]

Builds a run folder of the best preset's network (EfficientNet-Lite0, every stage
pooled, logistic head; the head is untrained, which changes neither memory nor
speed) over copies of N random covers of DATA, then runs ``python -m
cover_model evaluate RUN --data COPIES`` in its own process and reports its peak
resident memory (``ru_maxrss`` from ``wait4``) and wall time. ``--project`` runs
another checkout's ``cover_model`` (e.g. ``git archive HEAD | tar -x -C /tmp/old``)
on the same run folder, for a before/after comparison.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cover_model.atomic_files import write_json  # noqa: E402
from cover_model.networks.config import PRESETS, TrainConfig, applied_settings  # noqa: E402
from cover_model.networks.models import build_model  # noqa: E402
from cover_model.networks.runs import save_weights  # noqa: E402
from cover_model.runtime import tuned_env  # noqa: E402

PROJECT = Path(__file__).resolve().parents[1]
DEFAULT_DATA = PROJECT.parent / "shared" / "data" / "real-covers"


def copy_covers(data: Path, n: int, out: Path) -> Path:
    """``n`` random covers of ``data``'s manifest (seed 0), copied with a manifest of path and
    genre (no split column: evaluate scores every cover of other data)."""
    table = pd.read_csv(data / "manifest.csv")
    table = table.sample(min(n, len(table)), random_state=0)
    for path in table["path"]:
        (out / path).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(data / path, out / path)
    table[["path", "genre"]].to_csv(out / "manifest.csv", index=False)
    return out


def make_run(run_dir: Path, *, data: Path, class_names: list[str], size_px: int) -> Path:
    cfg = TrainConfig(**{**PRESETS["best"], "size_px": size_px, "data": str(data), "device": "cpu"})
    model = build_model(cfg.arch, len(class_names), input_px=cfg.input_px, mode=cfg.mode,
                        pooling=cfg.pooling)
    run_dir.mkdir(parents=True)
    save_weights(run_dir / "best.safetensors", model.state_dict())
    write_json(run_dir / "config.json", {**applied_settings(cfg), "input_px": cfg.input_px,
                                         "class_names": class_names, "dataset_fingerprint": ""})
    return run_dir


def measure(project: Path, run_dir: Path, data: Path, cache: Path) -> tuple[float, float, str]:
    """Peak RSS (GB) and wall seconds of one ``evaluate`` process, and its last output line."""
    env = tuned_env() | {"PYTHONPATH": str(project), "COVER_LAB_DATA": str(cache)}
    start = time.perf_counter()
    process = subprocess.Popen([sys.executable, "-m", "cover_model", "evaluate", str(run_dir),
                                "--data", str(data)], cwd=project, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)          # this child's own peak, not all children's
    seconds = time.perf_counter() - start
    lines = [line for line in output.splitlines() if line.strip()]
    summary = next((line for line in lines if " covers: accuracy " in line), lines[-1] if lines else "")
    if os.waitstatus_to_exitcode(status) != 0:
        summary = f"exit {os.waitstatus_to_exitcode(status)}: {lines[-1] if lines else ''}"
    return usage.ru_maxrss / 1024 ** 2, seconds, summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--n", type=int, nargs="+", default=[300, 1000], help="covers per run")
    parser.add_argument("--size-px", type=int, default=384)
    parser.add_argument("--project", type=Path, default=PROJECT,
                        help="the checkout whose cover_model runs evaluate (default: this one)")
    args = parser.parse_args()
    genres = sorted(pd.read_csv(args.data / "manifest.csv")["genre"].unique())
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for n in args.n:
            covers = copy_covers(args.data, n, tmp / f"covers-{n}")
            run_dir = make_run(tmp / f"run-{n}", data=covers, class_names=genres,
                               size_px=args.size_px)
            peak_gb, seconds, summary = measure(args.project.resolve(), run_dir, covers,
                                                tmp / f"cache-{n}")
            print(f"{n} covers at {args.size_px} px ({args.project}): peak RSS {peak_gb:.2f} GB, "
                  f"{seconds:.0f} s ({n / seconds:.1f} covers/s); {summary}", flush=True)


if __name__ == "__main__":
    main()
