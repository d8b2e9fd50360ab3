"""The ``report`` command: the whole study on one dataset, as markdown with figures and CSVs.

    python -m cover_model report --data ../shared/data/real-covers --out reports/real-covers
    python -m cover_model report --quick --out reports/smoke         # a minute, on synth
    python -m cover_model report --quick --parallel-networks [--executor submitit]
"""
from __future__ import annotations

import shlex
import signal
import sys
import time
from pathlib import Path

from .. import config
from ..data.cli import resolve_dataset
from ..networks.config import ExecutorConfig, default_executor
from ..paths import PROJECT_ROOT
from ..progress import terminal_progress
from .config import ReportConfig, make_config
from .study import run_report as run


def add_report(parser) -> None:
    parser.add_argument("--data", default="synth",
                        help="folder, manifest CSV, zip, or 'synth' for the embedded covers (default)")
    parser.add_argument("--out", type=Path, help="report folder (default: reports/<dataset name> "
                        "in the project)")
    config.add_arguments(parser, ReportConfig, only_given=True)
    config.add_arguments(parser.add_argument_group(
        "where --parallel-networks trains", "the networks' jobs: local processes, or submitit "
        "(docs/cluster.md)"), ExecutorConfig, only_given=True)
    parser.set_defaults(run=run_report)


def run_report(args) -> int:
    given = config.given(ReportConfig, args)
    cfg = make_config(**given)
    dataset = resolve_dataset(args.data)
    out = args.out or PROJECT_ROOT / "reports" / _name(args.data)
    start = time.perf_counter()
    previous = signal.signal(signal.SIGTERM, _interrupt)   # kill: stop like Ctrl-C, keep what is done
    try:
        result = run(args.data, out, cfg, dataset=dataset, progress=terminal_progress,
                     command=_command(args.data, out, given), executor=_executor(args))
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


def _executor(args) -> ExecutorConfig:
    """The networks' jobs' executor: the flags given, else ``COVER_LAB_EXECUTOR``'s."""
    return config.from_dict(ExecutorConfig, {"executor": default_executor(),
                                             **config.given(ExecutorConfig, args)})


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


ARGUMENTS = {"report": add_report}
