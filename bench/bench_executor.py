"""The report's network steps as parallel jobs through the executor, against one after another.

    python bench/bench_executor.py [--data DATA] [--executor submitit] [--out bench/results/executor.md]

The same quick report (``report --quick``) twice on the same covers (by default the
embedded synthetic ones), each from cold caches and an empty checkpoints folder, so that
nothing is reused: first as today (the networks one after another, in the report's
process), then with ``--parallel-networks`` (each network a job through the executor,
started when the report begins and gathered by its step). Reported: the whole report's
wall time and the network steps' own seconds (timings.csv), and their ratio.

As many jobs run at once as ``COVER_LAB_MAX_RUNNING_JOBS`` allows (2 here by default).
On a machine of few cores the jobs share them with each other and with the report's
other steps, so the ratio says what parallel jobs buy on this machine, not on a cluster.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from cover_model.runtime import tuned_env           # noqa: E402
from cover_model.synth import ensure_default_dataset  # noqa: E402


def run_report(data: str, work: Path, name: str, extra: list[str]) -> dict:
    """One quick report from cold caches; its wall time and its network steps' seconds."""
    env = tuned_env() | {"COVER_LAB_DATA": str(work / f"data-{name}"),
                         "COVER_LAB_CHECKPOINTS": str(work / f"checkpoints-{name}")}
    out = work / f"report-{name}"
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "cover_model", "report", "--data", data, "--quick",
                           "--out", str(out), *extra], cwd=ROOT, env=env, capture_output=True,
                          text=True)
    wall_s = time.perf_counter() - start
    if done.returncode:
        print(done.stdout[-2000:], done.stderr[-4000:], file=sys.stderr)
    steps = pd.read_csv(out / "timings.csv")
    networks = steps[steps["step"].astype(str).str.contains("Table 3|Table 4|best model")]
    return {"variant": name, "exit": done.returncode, "report_s": round(wall_s, 1),
            "network_steps_s": round(float(networks["seconds now"].sum()), 1)
            if "seconds now" in steps else None, "n_network_steps": len(networks)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="covers to report on (default: the embedded synthetic ones)")
    parser.add_argument("--executor", default="submitit", choices=("local", "submitit"))
    parser.add_argument("--out", type=Path, help="also write the table here (markdown)")
    args = parser.parse_args()
    data = args.data or str(ensure_default_dataset())
    os.environ.setdefault("COVER_LAB_SUBMITIT_CLUSTER", "local")   # no cluster reachable here
    with tempfile.TemporaryDirectory(prefix="bench-executor-") as tmp:
        rows = [run_report(data, Path(tmp), "one after another", []),
                run_report(data, Path(tmp), "parallel jobs",
                           ["--parallel-networks", "--executor", args.executor])]
    table = pd.DataFrame(rows)
    ratio = rows[0]["report_s"] / rows[1]["report_s"]
    text = (table.to_markdown(index=False) + f"\n\nwhole report: one after another / parallel = "
            f"{ratio:.2f}x ({os.cpu_count()} cores, executor {args.executor}, at most "
            f"{os.environ.get('COVER_LAB_MAX_RUNNING_JOBS', '2')} jobs at once)\n")
    print(text)
    if args.out:
        args.out.write_text(text)


if __name__ == "__main__":
    main()
