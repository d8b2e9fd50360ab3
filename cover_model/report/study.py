"""The whole study on one dataset: the steps in order, then ``report.md``.

    python -m cover_model report --data DATA --out reports/NAME [--quick]
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..atomic_files import atomic_write
from ..data.dataset import Dataset, load_dataset
from ..data.splits import assign_splits
from ..networks.config import ExecutorConfig, default_executor
from ..networks.runs import config_digest
from .config import ReportConfig, best_plan, network_plans
from .figures import FigureWriter
from .markdown import render, timing_table
from .network_results import best_step, tables_key, tables_step
from .networks import network_jobs, network_step
from .runner import ReportContext, Step, report_lock, run_steps
from .steps import baselines_key, baselines_step, color_key, color_step, dataset_step

REPORT_NAME = "report.md"


@dataclass
class ReportResult:
    """What :func:`run_report` wrote.

    Attributes
    ----------
    out_dir : Path
    report : Path
        ``report.md``.
    timings : DataFrame
        Per step: what happened, seconds now, seconds when computed.
    failed : list of str
        Titles of the steps that failed (the report is written anyway).
    """
    out_dir: Path
    report: Path
    timings: pd.DataFrame
    failed: list[str]


def build_steps(ctx: ReportContext) -> list[Step]:
    """Every step of the report for ``ctx``'s settings, in the order they run."""
    dataset_key = {"fingerprint": ctx.dataset.fingerprint, "data": ctx.data,
                   "splits": config_digest({"split": ctx.dataset.items["split"].tolist()}),
                   "sample_per_genre": ctx.cfg.sample_per_genre}
    steps = [Step("dataset", "Dataset summary", dataset_key, dataset_step),
             Step("color", "Colour analysis: Table 1 over trials", color_key(ctx), color_step),
             Step("baselines", "Table 2: scikit-learn models", baselines_key(ctx), baselines_step)]
    steps += [network_step(plan, ctx) for plan in network_plans(ctx.cfg)]
    steps.append(Step("tables", "Tables 3 and 4", tables_key, tables_step))
    if ctx.cfg.best:
        steps.append(best_step(ctx))
    return steps


def all_network_plans(cfg: ReportConfig) -> list:
    """Every network the report trains: Tables 3 and 4, then our best model."""
    return network_plans(cfg) + ([best_plan(cfg)] if cfg.best else [])


def run_report(data: str, out_dir, cfg: ReportConfig = ReportConfig(), *,
               dataset: Dataset | None = None, progress=None, say=None,
               command: str | None = None, executor=None) -> ReportResult:
    """Run (or resume) the study on ``data`` and write the report into ``out_dir``.

    Parameters
    ----------
    data : str
        DATA as the CLI takes it (a folder, manifest, zip, or ``synth``); networks
        record it in their run folders.
    out_dir : path
        The report folder: ``report.md``, ``figures/``, ``tables/``, ``steps/``, ...
    cfg : ReportConfig
    dataset : Dataset, optional
        ``data`` already loaded (it is split here with the data's own rule).
    progress : callable, optional
        ``progress(label) -> callback(done, total)``: a progress bar per long piece of work.
    say : callable, optional
        ``say(line)`` for step-by-step news (default: standard error).
    command : str, optional
        The command line, quoted in the report.
    executor : ExecutorConfig, optional
        Where ``cfg.parallel_networks`` runs the networks' jobs (default: a local process
        each, or what ``COVER_LAB_EXECUTOR`` says).

    Returns
    -------
    ReportResult

    Raises
    ------
    ReportError
        Another report is being written into ``out_dir``.
    """
    out_dir = Path(out_dir).absolute()
    with report_lock(out_dir):
        dataset = assign_splits(dataset if dataset is not None else load_dataset(data),
                                scheme="auto", seed=0)
        with FigureWriter(out_dir) as figures:
            ctx = ReportContext(dataset=dataset, data=str(data), cfg=cfg, out_dir=out_dir,
                                figures=figures, progress=progress or no_progress,
                                executor=executor or ExecutorConfig(executor=default_executor()))
            if say:
                ctx.say = say
            with network_jobs(ctx, all_network_plans(cfg) if cfg.parallel_networks else []):
                timings = run_steps(build_steps(ctx), ctx)
            text = render(ctx.records, timings, cfg=cfg, data=str(data),
                          command=command or f"python -m cover_model report --data {data}",
                          figures_problem=figures.problem, device=_device_name(cfg.device))
        table = timing_table(timings, ctx.records)
        report = out_dir / REPORT_NAME
        _write(out_dir / "timings.csv", table.to_csv(index=False))
        _write(report, text)
    failed = [t.title for t in timings if t.action == "failed"]
    return ReportResult(out_dir, report, table, failed)


def no_progress(label: str) -> None:
    """The progress factory when none is given: no bars (a module-level function, so that
    a worker process can be handed it)."""
    return None


def _device_name(device: str) -> str:
    import torch

    from ..networks.device import pick_device
    chosen = pick_device(device)
    if chosen.type == "cuda":
        return f"CUDA ({torch.cuda.get_device_name(chosen)})"
    return f"{chosen.type.upper()} ({torch.get_num_threads()} threads)"


def _write(path: Path, text: str) -> None:
    with atomic_write(path, "w") as fh:
        fh.write(text)


__all__ = ["ReportResult", "build_steps", "run_report", "REPORT_NAME"]
