"""The ``report`` command: the whole study on one dataset, as markdown with figures and CSVs.

    python -m cover_model report --data ../shared/data/real-covers --out reports/real-covers
    python -m cover_model report --quick --out reports/smoke         # a minute, on synth
"""
from __future__ import annotations

import shlex
import signal
import sys
import time
from pathlib import Path

from . import config


def add_command(commands) -> None:
    from .report import ReportConfig
    report = commands.add_parser(
        "report", help="run the whole study (colour analysis, Tables 1-4, best model) and write "
        "a markdown report with PNG figures and CSV tables; resumable")
    report.add_argument("--data", default="synth",
                        help="folder, manifest CSV, zip, or 'synth' for the embedded covers (default)")
    report.add_argument("--out", type=Path, help="report folder (default: reports/<dataset name> "
                        "in the project)")
    config.add_arguments(report, ReportConfig, only_given=True)
    report.set_defaults(run=run_report)


def run_report(args) -> int:
    from .cli import _print_progress, resolve_dataset
    from .paths import PROJECT_ROOT
    from .report import ReportConfig, make_config
    from .report import run_report as run
    given = config.given(ReportConfig, args)
    cfg = make_config(**given)
    dataset = resolve_dataset(args.data)
    out = args.out or PROJECT_ROOT / "reports" / _name(args.data)
    start = time.perf_counter()
    previous = signal.signal(signal.SIGTERM, _interrupt)   # kill: stop like Ctrl-C, keep what is done
    try:
        result = run(args.data, out, cfg, dataset=dataset, progress=_print_progress,
                     command=_command(args.data, out, given))
    except KeyboardInterrupt:
        print(f"\ninterrupted: finished steps (and finished training epochs) are kept; run the "
              f"same command again to continue ({out})", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
    print(result.timings.to_string(index=False))
    print(f"report written to {result.report} ({time.perf_counter() - start:.0f} s)")
    for title in result.failed:
        print(f"failed: {title} (run the same command again to retry)", file=sys.stderr)
    return 1 if result.failed else 0


def _interrupt(signum, frame):
    raise KeyboardInterrupt("terminated")


def _name(data: str) -> str:
    return "synth" if data == "synth" else Path(data).stem or "report"


def _command(data: str, out: Path, given: dict) -> str:
    """The command line that makes this report (for the report itself to quote)."""
    words = ["python", "-m", "cover_model", "report", "--data", str(data), "--out", str(out)]
    for name, value in given.items():
        flag = "--" + name.replace("_", "-")
        words += [flag] if value is True else [f"--no-{flag[2:]}"] if value is False else [flag, str(value)]
    return shlex.join(words)
