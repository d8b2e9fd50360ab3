"""The network commands: ``train``, ``evaluate``, ``predict`` and ``runs``.

    python -m cover_model train --preset paper-cnn --data DATA
    python -m cover_model train --arch efficientnet_lite0 --mode linear --epochs 30
    python -m cover_model train --resume checkpoints/<run-id>
    python -m cover_model train --preset smoke --executor submitit [--tasks-per-node 2 ...]
    python -m cover_model evaluate checkpoints/<run-id> [--data OTHER] [--split NAME]
    python -m cover_model predict checkpoints/<run-id> cover.jpg [...]
    python -m cover_model runs [--per-genre] [--markdown]

The four commands share this module but not their libraries: training (torch,
scikit-learn, pandas), the Predictor (torch alone) and the runs table (pandas,
plotly) are imported inside the command that uses them, so that ``predict``
starts without scikit-learn and ``runs`` without torch.
"""
from __future__ import annotations

import argparse
import errno
import os
import signal
import sys
import time
from pathlib import Path

from .. import config
from ..atomic_files import read_json
from ..progress import StatusPrinter, status_file_writer
from . import jobs, runs
from .answers import print_top_k
from .config import PRESETS, ExecutorConfig, TrainConfig, preset_name


def add_train(parser) -> None:
    parser.add_argument("--preset", choices=sorted(PRESETS),
                        help="named settings; explicit flags override them")
    config.add_arguments(parser, TrainConfig, only_given=True)
    parser.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue a run from its last epoch")
    parser.add_argument("--run-dir", type=Path, help=argparse.SUPPRESS)       # jobs: the folder to use
    parser.add_argument("--request", type=Path, help=argparse.SUPPRESS)       # jobs: a TrainConfig as JSON
    parser.add_argument("--progress-file", type=Path, help="also record progress in this JSON file")
    config.add_arguments(parser.add_argument_group(
        "where it runs", "--executor submitit submits the job (SLURM where sbatch exists, "
        "submitit's local executor otherwise; docs/cluster.md) and follows it here"),
        ExecutorConfig, only_given=True)
    parser.set_defaults(run=run_train)


def add_evaluate(parser) -> None:
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--data", help="another dataset to score on, every cover of it by "
                        "default, never re-split (default: the run's own, its test split)")
    parser.add_argument("--split", metavar="NAME", help="score only the covers of this split: "
                        "the manifest's split column for other data (any name, e.g. holdout), "
                        "the split training assigned for the run's own")
    parser.set_defaults(run=run_evaluate)


def add_predict(parser) -> None:
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("images", nargs="+", type=Path)
    parser.add_argument("--k", type=int, default=3, help="how many genres (default: 3)")
    parser.set_defaults(run=run_predict)


def add_runs(parser) -> None:
    parser.add_argument("run_dirs", nargs="*", type=Path, help="run folders (default: all)")
    parser.add_argument("--per-genre", action="store_true", help="test accuracy per genre (Tables 3, 4)")
    parser.add_argument("--markdown", action="store_true", help="print markdown, not plain text")
    parser.set_defaults(run=run_runs)


def run_train(args) -> int:
    """Train; as a dashboard job (``--request``, or ``--resume`` of a run folder), end by
    starting the next queued job, whatever the outcome, so the queue moves on its own.
    With ``--executor submitit``, submit it as a job and follow it (:func:`_submit_and_follow`)."""
    if getattr(args, "executor", "local") == "submitit" and not args.request:
        return _submit_and_follow(args)
    job_dir = args.run_dir or args.resume
    try:
        return _train(args)
    except BaseException as exc:
        if job_dir:
            jobs.mark_stopped(job_dir, exc)
        raise
    finally:
        _start_next_job(Path(job_dir).parent if job_dir else None)


def _start_next_job(root: Path | None) -> None:
    """This job's slot is free: start the oldest queued job. A Cancel arriving now is
    ignored, so it cannot stop a half-made launch (a started process not yet marked
    running would be started twice)."""
    signal.signal(signal.SIGTERM, lambda signum, frame: None)
    try:
        jobs.dispatch(root)
    except Exception as exc:                 # noqa: BLE001 - the pages' polling retries it
        print(f"warning: could not start the next queued job: {exc}", file=sys.stderr)


def _settings(args):
    """``(cfg, preset, run_dir)`` of a train command line: a run to resume, a job's request,
    or a preset and flags."""
    if args.resume:
        return runs.Run(args.resume).train_config(), None, args.resume
    if args.request:
        request = read_json(args.request)
        return config.from_dict(TrainConfig, request["config"]), request.get("preset"), args.run_dir
    settings = {**PRESETS.get(args.preset, {}), **config.given(TrainConfig, args)}
    cfg = config.from_dict(TrainConfig, settings)
    return cfg, preset_name(cfg, args.preset), args.run_dir


def _submit_and_follow(args) -> int:
    """Queue the job for submitit (a resume too), print where it runs and its progress
    until it ends; Ctrl-C cancels it (its finished epochs stay saved)."""
    executor = config.from_dict(ExecutorConfig, config.given(ExecutorConfig, args))
    if args.resume:
        run_dir = jobs.resume_job(args.resume, executor=executor)
    else:
        cfg, preset, _ = _settings(args)
        run_dir = jobs.start_job(cfg, preset=preset, executor=executor)
    print(f"queued {run_dir}")
    try:
        status = _follow(run_dir)
    except KeyboardInterrupt:
        jobs.cancel_job(run_dir)
        print(f"\ncancelling {run_dir}; its finished epochs stay saved", file=sys.stderr)
        return 130
    if status["state"] == "done":
        _print_result(run_dir)
        return 0
    print(f"{status['state']}: {status.get('error') or ''}\n{status.get('log_tail', '')}".rstrip(),
          file=sys.stderr)
    return 130 if status["state"] == "cancelled" else 1


def _follow(run_dir: Path, every_s: float = 1.0) -> dict:
    """Print where the job runs and each new step until it is no longer queued or running."""
    report, shown = StatusPrinter(), {}
    while (status := jobs.job_status(run_dir))["state"] in jobs.ACTIVE:
        if status["where"] and status["where"] != shown.get("where"):
            print(f"running as {status['where']}")
        if status["progress"] and status["progress"] != shown.get("progress"):
            report(status["progress"])
        shown = status
        time.sleep(every_s)
    return status


def _train(args) -> int:
    cfg, preset, run_dir = _settings(args)          # bad flags are refused before torch loads
    from .training import main
    signal.signal(signal.SIGTERM, _cancel)          # a job's Cancel button sends SIGTERM
    report = StatusPrinter()
    writer = status_file_writer(args.progress_file)
    try:
        run_dir = main(cfg, run_dir=run_dir, resume=bool(args.resume), preset=preset,
                       progress=lambda status: (report(status), writer(status)))
    except KeyboardInterrupt:
        print("\ncancelled; the last finished epoch is saved", file=sys.stderr)
        return 130
    except OSError as exc:           # the disk filled up while saving a checkpoint
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT) or not exc.filename:
            raise                        # main() prints other OS errors as one line
        print(f"error: {exc.strerror} writing {exc.filename}; the epochs saved before are "
              f"intact: free some space, then python -m cover_model train --resume "
              f"{Path(exc.filename).parent}", file=sys.stderr)
        return 1
    if os.environ.get("RANK", "0") != "0":          # under torchrun, rank 0 reports
        return 0
    _print_result(run_dir)
    return 0


def _print_result(run_dir: Path) -> None:
    test = runs.Run(run_dir).metrics().get("test") or {}
    if test:
        print(f"test: accuracy {test['accuracy']:.1%}, balanced {test['balanced_accuracy']:.1%}, "
              f"top-3 {test['top_k']:.1%}, macro-F1 {test['macro_f1']:.3f}")
    print(f"run written to {run_dir}")


def run_evaluate(args) -> int:
    from .training import evaluate_run
    summary = evaluate_run(args.run_dir, data=args.data, split=args.split,
                           progress=StatusPrinter())
    which = "every cover" if summary["split"] == "all" else f"split {summary['split']}"
    print(f"scored {summary['n']} covers of {summary['data']} ({which})")
    if summary["n_skipped"]:
        print(f"skipped {summary['n_skipped']} cover(s) that could not be decoded, e.g. "
              f"{summary['skipped'][0]['path']}: {summary['skipped'][0]['reason']}")
    unknown = summary["unknown_genres"]
    if unknown:
        print(f"left out {sum(unknown.values())} cover(s) of genres the run does not know: "
              + ", ".join(f"{genre} ({n})" for genre, n in unknown.items()))
    print(f"{summary['n']} covers: accuracy {summary['accuracy']:.1%}, balanced "
          f"{summary['balanced_accuracy']:.1%}, top-3 {summary['top_k']:.1%}, "
          f"macro-F1 {summary['macro_f1']:.3f}")
    for name, acc in zip(summary["class_names"], summary["per_class_accuracy"]):
        print(f"  {name:>12}: {'-' if acc is None else f'{acc:.1%}'}")
    return 0


def run_predict(args) -> int:
    from .predict import Predictor
    return print_top_k(Predictor.from_run(args.run_dir), args.images, k=args.k)


def run_runs(args) -> int:
    from .tables import per_genre_table, runs_table
    run_dirs = args.run_dirs or runs.list_runs()
    if not run_dirs:
        print("no runs yet: python -m cover_model train ...")
        return 0
    table = per_genre_table(run_dirs) if args.per_genre else runs_table(run_dirs)
    print(table.to_markdown() if args.markdown else table.to_string())
    return 0


def _cancel(signum, frame):
    raise KeyboardInterrupt("cancelled")


ARGUMENTS = {"train": add_train, "evaluate": add_evaluate, "predict": add_predict, "runs": add_runs}
