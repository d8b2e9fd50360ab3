"""The network commands: ``train``, ``evaluate`` and ``predict``.

    python -m cover_model train --preset paper-cnn --data DATA
    python -m cover_model train --arch efficientnet_lite0 --mode linear --epochs 30
    python -m cover_model train --resume checkpoints/<run-id>
    python -m cover_model evaluate checkpoints/<run-id> [--data OTHER]
    python -m cover_model predict checkpoints/<run-id> cover.jpg [...]
    python -m cover_model runs [--per-genre] [--markdown]
"""
from __future__ import annotations

import argparse
import errno
import os
import signal
import sys
import time
from pathlib import Path

from . import config, runs
from .files import read_json, write_json


def add_commands(commands) -> None:
    from .training import PRESETS, TrainConfig
    train = commands.add_parser("train", help="train a network; writes checkpoints/<run-id>/")
    train.add_argument("--preset", choices=sorted(PRESETS),
                       help="named settings; explicit flags override them")
    config.add_arguments(train, TrainConfig, only_given=True)
    train.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue a run from its last epoch")
    train.add_argument("--run-dir", type=Path, help=argparse.SUPPRESS)       # jobs: the folder to use
    train.add_argument("--request", type=Path, help=argparse.SUPPRESS)       # jobs: a TrainConfig as JSON
    train.add_argument("--progress-file", type=Path, help="also record progress in this JSON file")
    train.set_defaults(run=run_train)

    evaluate = commands.add_parser("evaluate", help="re-score a run's best weights on a test split")
    evaluate.add_argument("run_dir", type=Path)
    evaluate.add_argument("--data", help="another dataset to score on (default: the run's own)")
    evaluate.set_defaults(run=run_evaluate)

    predict = commands.add_parser("predict", help="top genres of covers, with a run's network")
    predict.add_argument("run_dir", type=Path)
    predict.add_argument("images", nargs="+", type=Path)
    predict.add_argument("--k", type=int, default=3, help="how many genres (default: 3)")
    predict.set_defaults(run=run_predict)

    table = commands.add_parser("runs", help="finished runs side by side; per-genre accuracy")
    table.add_argument("run_dirs", nargs="*", type=Path, help="run folders (default: all)")
    table.add_argument("--per-genre", action="store_true", help="test accuracy per genre (Tables 3, 4)")
    table.add_argument("--markdown", action="store_true", help="print markdown, not plain text")
    table.set_defaults(run=run_runs)


def run_train(args) -> int:
    from .training import PRESETS, TrainConfig, main
    if args.resume:
        cfg = config.from_dict(TrainConfig, _train_fields(runs.read_config(args.resume)))
        run_dir = args.resume
    elif args.request:
        cfg = config.from_dict(TrainConfig, read_json(args.request)["config"])
        run_dir = args.run_dir
    else:
        settings = {**PRESETS.get(args.preset, {}), **config.given(TrainConfig, args)}
        cfg, run_dir = config.from_dict(TrainConfig, settings), args.run_dir
    signal.signal(signal.SIGTERM, _cancel)          # a job's Cancel button sends SIGTERM
    report = _epoch_printer()
    writer = _progress_file(args.progress_file)
    try:
        run_dir = main(cfg, run_dir=run_dir, resume=bool(args.resume),
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
    metrics = read_json(run_dir / "metrics.json") or {}
    test = metrics.get("test") or {}
    if test:
        print(f"test: accuracy {test['accuracy']:.1%}, balanced {test['balanced_accuracy']:.1%}, "
              f"top-3 {test['top_k']:.1%}, macro-F1 {test['macro_f1']:.3f}")
    print(f"run written to {run_dir}")
    return 0


def run_evaluate(args) -> int:
    from .training import evaluate_run
    summary = evaluate_run(args.run_dir, data=args.data)
    print(f"{summary['n']} covers: accuracy {summary['accuracy']:.1%}, balanced "
          f"{summary['balanced_accuracy']:.1%}, top-3 {summary['top_k']:.1%}, "
          f"macro-F1 {summary['macro_f1']:.3f}")
    for name, acc in zip(summary["class_names"], summary["per_class_accuracy"]):
        print(f"  {name:>12}: {'-' if acc is None else f'{acc:.1%}'}")
    return 0


def run_predict(args) -> int:
    from .images import ImageDecodeError
    from .predict import Predictor
    predictor = Predictor.from_run(args.run_dir)
    failures = 0
    for image in args.images:
        try:
            ranked = predictor.top_k(image, k=args.k)
        except ImageDecodeError as exc:           # the message starts with the file's name
            print(f"error: {exc}", file=sys.stderr)
            failures += 1
            continue
        print(f"{image}: " + ", ".join(f"{genre} {p:.1%}" for genre, p in ranked))
    return 2 if failures == len(args.images) else 0


def run_runs(args) -> int:
    from .results import per_genre_table, runs_table
    run_dirs = args.run_dirs or runs.list_runs()
    if not run_dirs:
        print("no runs yet: python -m cover_model train ...")
        return 0
    table = per_genre_table(run_dirs) if args.per_genre else runs_table(run_dirs)
    print(table.to_markdown() if args.markdown else table.to_string())
    return 0


def _train_fields(saved: dict) -> dict:
    from dataclasses import fields

    from .training import TrainConfig
    return {f.name: saved[f.name] for f in fields(TrainConfig) if f.name in saved}


def _cancel(signum, frame):
    raise KeyboardInterrupt("cancelled")


def _epoch_printer():
    """One line per epoch end, plus a redrawn step line on a terminal."""
    tty = sys.stderr.isatty()
    last_draw = [0.0]

    def report(s: dict) -> None:
        if "stage" in s:                             # a fit without epochs (logistic head)
            line = f"{s['stage']}: {s['step']}/{s['steps']} ETA {s['eta_s']:.0f} s"
        else:
            line = (f"epoch {s['epoch']}/{s['epochs']} step {s['step']}/{s['steps']} "
                    f"loss {s['loss']:.3f} acc {s['acc1']:.1%} {s['img_per_s']:,.0f} img/s "
                    f"ETA {s['eta_s']:.0f} s")
        if s["step"] == s["steps"]:
            print(("\r" if tty else "") + line, file=sys.stderr, flush=True)
        elif tty and time.monotonic() - last_draw[0] > 0.5:
            last_draw[0] = time.monotonic()
            print("\r" + line, end="", file=sys.stderr, flush=True)
    return report


def _progress_file(path: Path | None, every_s: float = 0.5):
    last = [0.0]

    def write(status: dict) -> None:
        if path and (status["step"] == status["steps"] or time.monotonic() - last[0] > every_s):
            last[0] = time.monotonic()
            write_json(path, status)
    return write
