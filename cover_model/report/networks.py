"""The report's network steps: find a finished run with the same settings, or train one.

A run matches when its ``config.json`` holds the same TrainConfig settings and
the same dataset fingerprint. The ``data`` string and the device are left out
of the comparison: ``../shared/data/real-covers`` and its absolute path are
one dataset (the fingerprint says which), and a run trained on a GPU answers
the same question. A matching run that was interrupted resumes from its last
epoch; a finished one is reused as it is.
"""
from __future__ import annotations

import dataclasses
import time
from contextlib import contextmanager
from pathlib import Path

from ..data.preprocess import preprocess_dataset
from ..networks import runs
from ..networks.archs import ARCHS
from ..networks.config import TrainConfig, applied_settings
from ..networks.models import WeightsError
from ..networks.training import main as train_main
from .config import NetworkPlan
from .isolate import run_in_child
from .runner import ReportContext, Step

IGNORED_FIELDS = ("data", "device")


def network_step(plan: NetworkPlan, ctx: ReportContext, *, title: str | None = None,
                 run=None) -> Step:
    """The step that trains (or reuses) the network of ``plan``; ``run(ctx)`` replaces
    :func:`train_or_reuse` for a step that does more with the run."""
    cfg = train_config(plan, ctx)
    return Step(name=plan.key, title=title or f"Table {plan.table}: {describe(cfg)}",
                key={"fingerprint": ctx.dataset.fingerprint, "settings": comparable(dataclasses.asdict(cfg))},
                run=run or (lambda c: train_or_reuse(c, plan)), still_valid=_run_still_there)


def train_config(plan: NetworkPlan, ctx: ReportContext) -> TrainConfig:
    return TrainConfig(**{**plan.settings, "data": ctx.data})


def describe(cfg: TrainConfig) -> str:
    """``efficientnet_lite0 finetune, 224 px, 2 epochs``, plus any non-default head,
    pooling, class weighting or flips."""
    text = f"{cfg.arch} {cfg.mode}, {cfg.input_px} px"
    if getattr(cfg, "head", "loop") == "loop":
        text += f", {cfg.epochs} epoch{'s' * (cfg.epochs != 1)}"
    defaults = {f.name: f.default for f in dataclasses.fields(TrainConfig)}
    for name, label in (("head", "{} head"), ("pooling", "{} pooling"),
                        ("class_weight", "{} class weights"), ("flip", "flips")):
        value = getattr(cfg, name, None)
        if name in defaults and value != defaults[name]:
            text += ", " + label.format(value)
    return text


def comparable(config: dict) -> dict:
    """The settings that decide a run's results: every TrainConfig field but the data's
    spelling and the device. A field a run's config.json lacks (an older run; a setting its
    head never used, which newer runs leave out) counts as its default, on both sides: a
    logistic head matches whatever epochs or optimizer it was asked for."""
    applied = applied_settings(config)
    return {f.name: applied.get(f.name, f.default) for f in dataclasses.fields(TrainConfig)
            if f.name not in IGNORED_FIELDS}


def find_run(cfg: TrainConfig, fingerprint: str, *, root: Path | None = None) -> tuple[Path | None, str]:
    """A run folder with these settings on this dataset, and what to do with it.

    Returns
    -------
    (run_dir, state)
        ``state`` is ``done`` (reuse it), ``resumable`` (continue it), ``running``
        (another process is training it) or ``missing`` (``run_dir`` is None).
    """
    target = comparable(dataclasses.asdict(cfg))
    found = {}
    for run_dir in runs.list_runs(root):                     # newest first
        run = runs.Run(run_dir)
        config = run.config(missing_ok=True)
        if config.get("dataset_fingerprint") != fingerprint or comparable(config) != target:
            continue
        state = run.status()["state"]
        if state == "done" and run.metrics():
            return run_dir, "done"
        if state == "running":
            found.setdefault("running", run_dir)
        elif run.can_resume():
            found.setdefault("resumable", run_dir)
    for state in ("running", "resumable"):
        if state in found:
            return found[state], state
    return None, "missing"


def train_or_reuse(ctx: ReportContext, plan: NetworkPlan) -> dict:
    """Reuse, resume or train the network of ``plan``; its record for the report."""
    cfg = train_config(plan, ctx)
    missing = _missing_weights(cfg)
    if missing:
        ctx.say(f"  not available: {missing}")
        return {"available": False, "reason": missing, "arch": cfg.arch, "mode": cfg.mode,
                "table": plan.table, "label": describe(cfg)}
    run_dir, state = find_run(cfg, ctx.dataset.fingerprint)
    if plan.key in ctx.network_jobs:            # training as a job since the report began
        run_dir, state = ctx.network_jobs[plan.key]
        _gather(ctx, cfg, run_dir)
    elif state == "running":
        raise RuntimeError(f"{run_dir} is training these settings in another process; "
                           "run the report again when it has finished")
    elif state == "done":
        ctx.say(f"  reusing the finished run {run_dir}")
    else:
        if state == "resumable":
            ctx.say(f"  resuming the interrupted run {run_dir}")
        args = (ctx.dataset, cfg, run_dir, state == "resumable", ctx.progress)
        # A quick run's networks are small; a full one's are trained in their own process.
        run_dir = _train(*args) if ctx.cfg.quick else run_in_child(_train, *args)
    metrics = runs.Run(run_dir).metrics()
    history = metrics.get("history") or []
    record = {"available": True, "run_dir": str(Path(run_dir).resolve()), "reused": state == "done",
              "resumed": state == "resumable", "arch": cfg.arch, "mode": cfg.mode,
              "input_px": cfg.input_px, "epochs": len(history), "table": plan.table,
              "label": describe(cfg), "test": metrics.get("test"), "val": metrics.get("val"),
              "class_names": metrics.get("class_names"),
              "cross_validation": metrics.get("cross_validation"),
              "train_s": _training_seconds(Path(run_dir), history)}
    if state == "done" or plan.key in ctx.network_jobs:
        record["computed_s"] = record["train_s"]     # what it cost, not the wait for it
    return record


@contextmanager
def network_jobs(ctx: ReportContext, plans: list[NetworkPlan]):
    """Queue every network of ``plans`` that needs training as a job (``parallel_networks``),
    into ``ctx.network_jobs``; their steps then gather them one after another as they finish.
    Stopped before that (Ctrl-C, a kill), the jobs still running are cancelled: the next
    report resumes them from their last epoch, as it resumes its own."""
    from ..networks import jobs
    for plan in plans:
        cfg = train_config(plan, ctx)
        run_dir, state = find_run(cfg, ctx.dataset.fingerprint)
        if state in ("done", "running") or _missing_weights(cfg):
            continue                            # reused, another's, or reported as unavailable
        preprocess_dataset(ctx.dataset, size_px=cfg.input_px, method=cfg.preprocess,
                           seed=cfg.seed)      # before the jobs, which would all write it
        run_dir = (jobs.resume_job(run_dir, executor=ctx.executor) if state == "resumable"
                   else jobs.start_job(cfg, executor=ctx.executor))
        ctx.network_jobs[plan.key] = (run_dir, state)
    try:
        yield
    finally:
        for run_dir, _ in ctx.network_jobs.values():
            jobs.cancel_job(run_dir)           # only what is still queued or running


def _gather(ctx: ReportContext, cfg: TrainConfig, run_dir: Path) -> None:
    """Wait for the job training ``run_dir``, with its progress as a bar; raise if it did
    not finish."""
    from ..networks import jobs
    report = ctx.progress(f"training {cfg.arch} {cfg.mode} (job)")
    while (status := jobs.job_status(run_dir))["state"] in jobs.ACTIVE:
        if report:
            report(min(int(status["fraction"] * 1000), 999), 1000)
        time.sleep(JOB_POLL_S)
    if status["state"] != "done":
        raise RuntimeError(f"the job training {run_dir.name} {status['state']}: "
                           f"{status.get('error') or status.get('log_tail', '')[-300:]}")
    if report:
        report(1000, 1000)


JOB_POLL_S = 1.0


def _training_seconds(run_dir: Path, history: list[dict]) -> float:
    """What a run's training cost: the sum of its epochs; for a run without epochs (an exact
    head), the time from its folder's creation (named ``YYYYMMDD-HHMMSS-...``) to its last
    status. Preprocessing and embeddings cached before the run are not counted."""
    seconds = float(sum(h.get("seconds", 0) for h in history))
    status = runs.Run(run_dir).status()
    if seconds or "updated" not in status:
        return seconds
    try:
        started = time.mktime(time.strptime(run_dir.name[:15], "%Y%m%d-%H%M%S"))
    except ValueError:
        return 0.0
    return max(0.0, status["updated"] - started)


def _missing_weights(cfg: TrainConfig) -> str | None:
    """Why the ImageNet weights of ``cfg`` cannot be had here, or None when they can."""
    if cfg.mode == "scratch" or not ARCHS[cfg.arch].pretrained:
        return None
    try:
        runs.ModelArgs.of(cfg, ("a", "b")).build(weights_path=cfg.weights or None)
    except WeightsError as exc:
        return str(exc)
    return None


def _train(dataset, cfg: TrainConfig, run_dir, resume: bool, progress) -> Path:
    """Fill the caches with progress bars, then train (or resume) ``cfg``; the run folder."""
    _warm_caches(dataset, cfg, progress)
    return train_main(cfg, run_dir=run_dir, resume=resume, dataset=dataset,
                      progress=_epoch_progress(progress(f"training {cfg.arch} {cfg.mode}")))


def _warm_caches(dataset, cfg: TrainConfig, progress) -> None:
    """Downsize (and, for a frozen backbone, embed) every cover with a progress bar, so
    training then starts from the caches instead of working silently."""
    preprocess_dataset(dataset, size_px=cfg.input_px, method=cfg.preprocess, seed=cfg.seed,
                       progress=progress(f"downsizing covers to {cfg.input_px} px"))
    if cfg.mode == "linear":
        _embed_all(dataset, cfg, progress)


def _embed_all(dataset, cfg: TrainConfig, progress) -> None:
    from ..networks.data import embed, load_tensors
    from ..networks.device import setup_context
    device = setup_context(cfg.device, seed=cfg.seed)
    try:
        data = load_tensors(cfg, device, dataset=dataset)
        model = device.place(runs.ModelArgs.of(cfg, data.class_names).build(
            weights_path=cfg.weights or None))
        mirrored = _mirrored_parts(data, cfg)
        total = sum(len(part.labels) for part in (data.train, data.val, data.test, *mirrored))
        report = progress(f"embedding covers with {cfg.arch}")
        counting = _CountingBackbone(model, report, total)
        # The training module owns the cache keys: let it embed, counting batches as they go.
        data.train_inputs(counting, cfg, device)
        for part in mirrored:
            embed(counting, part.images, device, cache_key=data.embedding_key(cfg, part), flip=True)
        if report:
            report(total, total)
    finally:
        device.close()


def _mirrored_parts(data, cfg) -> list:
    """The splits whose mirror images the logistic head also fits on (train and val)."""
    if getattr(cfg, "head", "loop") != "logistic" or not cfg.flip:
        return []
    return [part for part in (data.train, data.val) if len(part.labels)]


class _CountingBackbone:
    """A network stand-in whose ``embed`` reports how many covers are done."""

    def __init__(self, model, report, total: int):
        self.model, self.report, self.total, self.done = model, report, total, 0

    def __getattr__(self, name):          # anything else: the network's own
        return getattr(self.model, name)

    def eval(self):
        self.model.eval()
        return self

    def embed(self, x):
        features = self.model.embed(x)
        self.done += len(x)
        if self.report:
            self.report(min(self.done, self.total - 1), self.total)
        return features


def _epoch_progress(report):
    """Training's per-step status -> ``report(done, total)`` over all epochs' steps."""
    if report is None:
        return None

    base = []          # steps done before this call (a resumed run): not part of the rate

    def on_status(status: dict) -> None:
        if "epoch" not in status:     # downsizing, embedding: _warm_caches had its own bars
            return
        done = (status["epoch"] - 1) * status["steps"] + status["step"]
        if not base:
            base.append(done - 1)
        report(done - base[0], status["epochs"] * status["steps"] - base[0])
    return on_status


def _run_still_there(record: dict) -> bool:
    if not record.get("available", True):
        return False                  # weights may have been added since: look again
    return bool(runs.Run(record["run_dir"]).metrics())
