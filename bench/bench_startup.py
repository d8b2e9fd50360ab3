"""How fast the command line starts: whole processes, the new CLI beside a baseline.

    python bench/bench_startup.py [--repeats 5] [--baseline-ref c1f4bda]

Times ``python -m cover_model --help`` and ``predict`` of one cover with a tiny
custom-CNN run (the ``smoke`` preset on 30 synthetic covers, trained here), as
whole processes: the median wall time of ``--repeats`` runs and the peak memory
(max RSS of that process, from ``os.wait4``). The baseline is the same commands
run from a checkout of ``--baseline-ref`` (default: the last commit before the
table-driven CLI) in a temporary git worktree, and the floor is
``python -c "import torch"``: what any torch prediction pays. Beside them, the light
path: the same run exported to ONNX once, predicted by ``python -m cover_model.service.onnx_serving``
on onnxruntime, which never imports torch. The runs alternate, so a busy machine slows
every side alike.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cover_model.runtime import tuned_env  # noqa: E402

ENV = tuned_env(dict(os.environ))      # the tunables set: no re-exec, on either side


def run_once(argv: list[str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and peak memory (MB) of one process (this process imports nothing heavy:
    a forked child's peak counts the parent's pages until it execs)."""
    start = time.perf_counter()
    process = subprocess.Popen(argv, cwd=cwd, env=ENV, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(argv)} failed in {cwd}: {process.stderr.read().decode()}")
    return seconds, usage.ru_maxrss / 1024


def measure(cases: dict[str, tuple[list[str], Path]], repeats: int) -> dict[str, tuple[float, float]]:
    """Median seconds and peak MB per case, the cases interleaved run by run."""
    samples = {name: [] for name in cases}
    for _ in range(repeats):
        for name, (argv, cwd) in cases.items():
            samples[name].append(run_once(argv, cwd))
    return {name: (statistics.median(s for s, _ in runs), max(mb for _, mb in runs))
            for name, runs in samples.items()}


def tiny_run(tmp: Path, cwd: Path) -> tuple[Path, Path]:
    """A smoke-preset custom CNN trained on 30 synthetic covers by the code in ``cwd`` (the
    baseline's: the new code reads older runs, not always the other way), and one cover."""
    covers = tmp / "covers"
    subprocess.run([sys.executable, "-m", "cover_model", "synth", "--n-per-genre", "3",
                    "--out", str(covers)], cwd=cwd, env=ENV, check=True, capture_output=True)
    run_dir = tmp / "run"
    subprocess.run([sys.executable, "-m", "cover_model", "train", "--preset", "smoke",
                    "--data", str(covers), "--run-dir", str(run_dir)], cwd=cwd, env=ENV,
                   check=True, capture_output=True)
    return run_dir, next(covers.rglob("*.jpg"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--baseline-ref", default="c1f4bda",
                        help="commit of the baseline CLI (default: before the table-driven CLI)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        old = tmp / "old-cli"
        subprocess.run(["git", "worktree", "add", "--detach", str(old), args.baseline_ref],
                       cwd=ROOT, check=True, capture_output=True)
        try:
            run_dir, cover = tiny_run(tmp, old)
            python = [sys.executable]
            cases = {"floor: python -c 'import torch'": (python + ["-c", "import torch"], ROOT)}
            for side, cwd in (("baseline", old), ("new", ROOT)):
                cases[f"{side}: --help"] = (python + ["-m", "cover_model", "--help"], cwd)
                cases[f"{side}: predict (custom CNN, 1 cover)"] = (
                    python + ["-m", "cover_model", "predict", str(run_dir), str(cover)], cwd)
            # The light path: the same run exported once, predicted on onnxruntime (no torch)
            subprocess.run(python + ["-m", "cover_model", "export-onnx", str(run_dir)], cwd=ROOT,
                           env=ENV, check=True, capture_output=True)
            cases["new: python -m cover_model.service.onnx_serving (ONNX export, 1 cover)"] = (
                python + ["-m", "cover_model.service.onnx_serving", str(run_dir), str(cover)], ROOT)
            results = measure(cases, args.repeats)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(old)], cwd=ROOT,
                           capture_output=True)
    print(f"baseline {args.baseline_ref}, {args.repeats} runs each, median wall time, "
          f"peak memory; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    print("| command | seconds | peak MB |\n|---|---:|---:|")
    for name, (seconds, mb) in results.items():
        print(f"| {name} | {seconds:.2f} | {mb:,.0f} |")


if __name__ == "__main__":
    main()
