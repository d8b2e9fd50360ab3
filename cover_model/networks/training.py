"""Training a network on covers: one config, one loop, one run folder.

    python -m cover_model train --arch custom --epochs 10            # the paper's CNN
    python -m cover_model train --arch efficientnet_lite0 --mode linear
    torchrun --nproc_per_node=2 -m cover_model train ...             # DistributedDataParallel
    python -m cover_model train ... --executor submitit --tasks-per-node 2   # the same, as a job

Epochs read cached uint8 tensors (decoded once by :mod:`cover_model.data.preprocess`),
never JPEGs. A frozen backbone (``linear``) embeds every cover once and the
head trains on those vectors. Progress goes through a callback; the CLI
prints it and a dashboard job writes it to its run's progress file.
"""
from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import signal
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from ..classification_metrics import summarize
from ..data.dataset import Dataset, load_dataset
from ..data.feature_pack import pixels_refused
from ..data.splits import assign_splits
from ..progress import stage_progress
from ..runtime import signals_held
from . import runs
from .config import TrainConfig, applied_settings
from .data import CoverTensors, augment, load_tensors, shard_order
from .device import Context, pick_device, setup_context
from .evaluation import evaluate, score_covers, select_covers
from .predict import Predictor
from .tables import prediction_table


def main(cfg: TrainConfig, *, run_dir: Path | None = None, resume: bool = False,
         progress=None, should_stop=None, dataset: Dataset | None = None,
         preset: str | None = None) -> Path:
    """Train, checkpoint each epoch, score the best epoch on test; return the run folder.

    Parameters
    ----------
    cfg : TrainConfig
    run_dir : Path, optional
        Where to write (default: a new ``checkpoints/<run-id>/``).
    resume : bool
        Continue ``run_dir`` from its last checkpoint.
    progress : callable, optional
        ``progress(status: dict)`` per step: epoch, step, loss, acc1, img/s, ETA; before
        the epochs, per stage (``downsizing covers``, ``embedding covers``): stage, step,
        steps, rate, ETA, and no epoch (:func:`cover_model.progress.stage_progress`).
    should_stop : callable, optional
        Polled between steps; True cancels cleanly (the last epoch stays saved).
    dataset : Dataset, optional
        Use this dataset instead of loading ``cfg.data``.
    preset : str, optional
        The preset ``cfg`` came from (see :func:`preset_name`): it names a new run
        folder and is recorded in its ``config.json``.
    """
    ctx = setup_context(cfg.device, seed=cfg.seed)
    started = runs.process_started_at() - 1.0       # to the second: a Cancel mark newer is ours
    try:
        # A damaged or tampered state is refused before the covers are read and the network built.
        saved = runs.Run(run_dir).load_state() if resume and run_dir else None
        data = load_tensors(cfg, ctx, dataset=dataset, progress=progress if ctx.is_main else None)
        # Stored features: the backbone never runs, so it needs no ImageNet weights.
        model, optimizer, scheduler = build(cfg, data.class_names, ctx,
                                            pretrained=False if data.stored else None)
        run = _prepare_run(cfg, data, ctx, run_dir, resume, preset)
        run_dir = run.path
        state = (_resume_state(run, saved, model, optimizer, scheduler, head_only=data.stored)
                 if resume else _fresh_state())
        if ctx.is_main:
            run.write_status("running", pid=os.getpid(), error=None)
        _fit(cfg, ctx, data, model, optimizer, scheduler, run, state, progress,
             _stop_rule(should_stop, run, ctx, since=started))
        return run_dir
    except SystemExit:
        raise            # a submitit requeue (preempted, timed out): the job goes on, see cluster.py
    except BaseException as exc:
        if run_dir is not None and ctx.is_main:     # a job's page shows why it stopped
            run = runs.Run(run_dir)
            # A Cancel's SIGTERM can land inside a library that reraises it as another error:
            # with the Cancel's mark there, the run was cancelled all the same.
            cancelled = isinstance(exc, KeyboardInterrupt) or run.cancel_requested(since=started)
            run.write_status("cancelled" if cancelled else "failed",
                             error=None if cancelled else f"{type(exc).__name__}: {exc}")
        raise
    finally:
        ctx.close()


def _stop_rule(should_stop, run: runs.Run, ctx, *, since: float):
    """When training stops early: when ``should_stop`` says so, or, in a single process, at
    the first step after a Cancel left its mark. The SIGTERM that stops a job can be lost
    while its process starts up, and the job then trained to the end. DDP's ranks would
    not agree on when they saw a file, so there the signal alone stops them."""
    if ctx.world > 1:
        return should_stop
    return lambda: bool(should_stop and should_stop()) or run.cancel_requested(since=since)


def evaluate_run(run_dir: Path, *, data: str | None = None, split: str | None = None,
                 progress=None) -> dict:
    """Score a run's best weights on cover files, streamed in batches (bounded memory).

    On the run's own data (``data`` None, or the same dataset by fingerprint) it
    scores the covers of ``split``, by default the test split, as training assigned
    it. Other data is never re-split and needs no training split: every cover is
    scored, or with ``split`` those whose manifest ``split`` says so (any name, e.g.
    ``holdout``). Genres are matched by name: covers of a genre the run does not
    know are left out and counted; covers that cannot be decoded are skipped and
    counted. The summary is also written to ``evaluation-<dataset fingerprint>.json``.
    A features-only dataset (the real covers' pack) has no cover to score: it is refused
    with :class:`~cover_model.data.feature_pack.FeaturesOnlyError` (a head trained on it keeps
    its test scores in ``metrics.json``).

    Parameters
    ----------
    run_dir : Path
    data : str, optional
        A folder, manifest CSV or zip (default: the run's own data).
    split : str, optional
        Score only this split (default: ``test`` on the run's data, all covers otherwise).
    progress : callable, optional
        ``progress(status: dict)`` per batch, as the ``scoring covers`` stage: covers
        done and in all, covers per second, ETA (:func:`cover_model.progress.stage_progress`).

    Returns
    -------
    dict
        The metrics of :func:`cover_model.classification_metrics.summarize` (``n``: covers scored), and
        ``class_names``, ``data``, ``dataset_fingerprint``, ``split`` (``all`` when every
        cover), ``n_skipped``, ``skipped`` (path and reason, at most 100) and
        ``unknown_genres`` ({genre: covers left out}).
    """
    run = runs.Run(run_dir)
    cfg = run.train_config()
    dataset = load_dataset(data or cfg.data, split_values=None)
    pixels_refused(dataset, "Scoring covers with a run")
    if data is None or dataset.fingerprint == run.config().get("dataset_fingerprint"):
        dataset = assign_splits(dataset, scheme=cfg.split_scheme, seed=cfg.seed)
        split = split or "test"
    picked = select_covers(dataset, run.class_names, split=split)
    predictor = Predictor.from_run(run.path)
    predictor.model = Context(pick_device(cfg.device)).place(predictor.model)
    scores = score_covers(predictor, picked.paths,
                          progress=stage_progress(progress, "scoring covers"))
    if not len(scores.index):
        first = scores.skipped[0]
        raise ValueError(f"none of the {len(picked.paths)} covers could be decoded "
                         f"(e.g. {first.path}: {first.reason})")
    summary = {**summarize(picked.labels[scores.index], scores.probs.argmax(1),
                           n_classes=len(predictor.class_names), scores=scores.probs),
               "class_names": list(predictor.class_names), "data": data or cfg.data,
               "dataset_fingerprint": dataset.fingerprint, "split": split or "all",
               "n_skipped": len(scores.skipped),
               "skipped": [{"path": s.path, "reason": s.reason} for s in scores.skipped[:100]],
               "unknown_genres": picked.unknown_genres}
    run.write_evaluation(dataset.fingerprint, summary)
    return summary


def build(cfg: TrainConfig, class_names, ctx: Context, *, pretrained: bool | None = None):
    """The model (on the device), its optimizer and its schedule; ``pretrained`` False
    leaves out ImageNet weights a frozen backbone would load (default: as the mode says)."""
    net = ctx.place(runs.ModelArgs.of(cfg, class_names).build(weights_path=cfg.weights or None,
                                                              pretrained=pretrained))
    head, backbone = list(net.head.parameters()), list(net.backbone.parameters())
    groups = [{"params": head, "lr": cfg.lr}]
    if cfg.mode != "linear":
        scale = cfg.backbone_lr_scale if cfg.mode == "finetune" else 1.0
        groups.append({"params": backbone, "lr": cfg.lr * scale})
    if cfg.optimizer == "sgd":
        optimizer = torch.optim.SGD(groups, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    else:
        optimizer = torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)
    if cfg.schedule == "cosine":
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=cfg.epochs)
    elif cfg.schedule == "step":
        scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=max(1, cfg.epochs // 3),
                                                    gamma=0.1)
    else:
        scheduler = None
    return net, optimizer, scheduler


def train_one_epoch(model, inputs, labels, optimizer, ctx: Context, cfg: TrainConfig, *,
                    epoch: int, progress=None, should_stop=None, class_weights=None) -> dict:
    """One pass over this process's shard; returns loss, accuracy and covers seen (all ranks)."""
    model.train()
    order = shard_order(len(labels), epoch=epoch, seed=cfg.seed, rank=ctx.rank, world=ctx.world)
    n_steps = math.ceil(len(order) / cfg.batch_size)
    totals = torch.zeros(3, dtype=torch.float64)              # loss sum, correct, seen
    start = time.perf_counter()
    with ctx.join(model), _threads_for(inputs, cfg, ctx):
        for step in range(n_steps):
            if should_stop and should_stop():
                raise KeyboardInterrupt("cancelled")
            batch = order[step * cfg.batch_size:(step + 1) * cfg.batch_size]
            x = inputs[batch]
            if x.dtype == torch.uint8:                          # images: augment on the fly
                x = augment(x, cfg, generator=ctx.generator)
            x, y = ctx.to_device(x, labels[batch])
            with ctx.autocast():
                logits = model(x)
                loss = F.cross_entropy(logits, y, weight=class_weights,
                                       label_smoothing=cfg.label_smoothing)
            ctx.step(loss, optimizer)
            totals += torch.tensor([loss.item() * len(y), (logits.argmax(1) == y).sum().item(), len(y)],
                                   dtype=torch.float64)
            if progress:
                progress(_step_status(epoch, step, n_steps, totals, start, cfg.epochs))
    totals = ctx.all_reduce(totals)
    return {"loss": totals[0].item() / totals[2].item(), "acc": totals[1].item() / totals[2].item(),
            "n_seen": int(totals[2].item()), "seconds": time.perf_counter() - start}


def _fit(cfg, ctx, data: CoverTensors, model, optimizer, scheduler, run, state,
         progress, should_stop):
    progress = progress if ctx.is_main else None
    train_inputs, head_only = data.train_inputs(model, cfg, ctx, progress=progress)
    if cfg.head == "logistic":
        return _fit_logistic(cfg, ctx, data, model, optimizer, scheduler, run, state, progress)
    trainable = ctx.wrap(model.head if head_only else model)
    class_weights = balanced_weights(data.train.labels, data.n_classes).to(ctx.device) \
        if cfg.class_weight == "balanced" else None
    for epoch in range(state["epoch"] + 1, cfg.epochs):
        fit = train_one_epoch(trainable, train_inputs, data.train.labels, optimizer, ctx, cfg,
                              epoch=epoch, progress=progress,
                              should_stop=should_stop, class_weights=class_weights)
        if scheduler:
            scheduler.step()
        val = _val_scores(model, data, ctx, head_only)
        state["history"].append({"epoch": epoch + 1, "train_loss": fit["loss"],
                                 "train_acc": fit["acc"], "n_seen": fit["n_seen"],
                                 "seconds": fit["seconds"], **{f"val_{k}": v for k, v in val.items()
                                                               if k in ("loss", "acc")}})
        improved = val.get("acc", fit["acc"]) > state["best_acc"]
        if improved:
            state["best_acc"], state["best_epoch"], state["stale"] = val.get("acc", fit["acc"]), epoch, 0
        else:
            state["stale"] += 1
        state["epoch"] = epoch
        if ctx.is_main:
            _save_checkpoint(run, model, optimizer, scheduler, state, improved, head_only=data.stored)
        ctx.barrier()
        if cfg.early_stopping and state["stale"] >= cfg.early_stopping:
            break
    if ctx.is_main:
        _finish(run, model, data, ctx, state, head_only)
    ctx.barrier()


# Below this many input values per step, a second CPU thread costs more in hand-offs than
# it saves: the paper's CNN at batch 10 and 32 px ran 3.5 ms/step on one thread vs 4.9 on
# two (idle 2-core machine; 143 vs 131 ms at batch 128, where two threads win).
SMALL_STEP_VALUES = 100_000


@contextlib.contextmanager
def _threads_for(inputs: torch.Tensor, cfg, ctx):
    """One intra-op thread on CPU while each step is small; the usual count otherwise."""
    step_values = cfg.batch_size * inputs[:1].numel()
    if ctx.device.type != "cpu" or step_values >= SMALL_STEP_VALUES:
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def balanced_weights(labels: torch.Tensor, n_classes: int) -> torch.Tensor:
    """Loss weight per genre, inversely proportional to its training covers (as scikit-learn's
    ``class_weight='balanced'``).

    >>> [round(w, 3) for w in balanced_weights(torch.tensor([0, 0, 0, 1]), 3).tolist()]
    [0.667, 2.0, 0.0]
    """
    counts = torch.bincount(labels, minlength=n_classes).float()
    present = int((counts > 0).sum())
    return torch.where(counts > 0, len(labels) / (present * counts.clamp(min=1)), 0.0)


def _fit_logistic(cfg, ctx, data, model, optimizer, scheduler, run, state, progress):
    """The exact head (:mod:`cover_model.networks.logistic_head`): one fit, saved as the best and last epoch."""
    if ctx.world > 1:
        raise ValueError("head 'logistic' runs in one process: start it without torchrun")
    from .logistic_head import fit_logistic_head  # sklearn: only this head needs it
    state["cross_validation"] = fit_logistic_head(model, data, cfg, ctx, progress=progress)
    state["epoch"] = state["best_epoch"] = 0
    _save_checkpoint(run, model, optimizer, scheduler, state, improved=True, head_only=data.stored)
    # val went into the fit, so only test is scored; the CV score stands in for val.
    _finish(run, model, data, ctx, state, head_only=True, splits=("test",))


def _finish(run, model, data: CoverTensors, ctx, state, head_only, splits=("val", "test")):
    """Score the best epoch on val and test; write the metrics and the test
    predictions; mark the run done."""
    runs.load_model_weights(model, run.weights_file("best"), head_only=data.stored)
    final = {}
    for split in splits:
        part = getattr(data, split)
        if not len(part.labels):
            continue
        probs = evaluate(model, part, ctx, head_only=head_only)["probs"]
        final[split] = summarize(part.labels.numpy(), probs.argmax(1), n_classes=data.n_classes,
                                 scores=probs)
        if split == "test":
            run.write_predictions(prediction_table(data.dataset.items.iloc[part.index], probs,
                                                   data.class_names))
    run.write_metrics({"class_names": list(data.class_names), "history": state["history"],
                       "best_epoch": state["best_epoch"] + 1, **final,
                       **{k: state[k] for k in ("cross_validation",) if k in state}})
    run.write_status("done", error=None)




def _val_scores(model, data, ctx, head_only) -> dict:
    if not len(data.val.labels):
        return {}
    scores = evaluate(model, data.val, ctx, head_only=head_only)
    return {"loss": scores["loss"], "acc": scores["acc"]}


def _prepare_run(cfg, data, ctx, run_dir, resume, preset=None) -> runs.Run:
    if resume:
        if run_dir is None or not runs.Run(run_dir).can_resume():
            raise runs.RunError(f"{run_dir}: nothing to resume (no saved epoch)")
        run = runs.Run(run_dir)
        known = run.config().get("class_names", list(data.class_names))
        if list(known) != list(data.class_names):
            raise runs.RunError(f"{run_dir}: cannot resume: the run knows {', '.join(known)}; "
                                f"{cfg.data} now has {', '.join(data.class_names)}")
        return run
    settings = {**applied_settings(cfg), **({"preset": preset} if preset else {}),
                "dataset_fingerprint": data.fingerprint, "n_train": len(data.train.labels)}
    run = runs.Run(ctx.broadcast_path(lambda: Path(run_dir) if run_dir else runs.Run.create(
        dataclasses.asdict(cfg), name=preset).path))
    if ctx.is_main:
        run.write_config(settings, runs.ModelArgs.of(cfg, data.class_names))
    return run


def _fresh_state() -> dict:
    return {"epoch": -1, "best_acc": -1.0, "best_epoch": -1, "stale": 0, "history": []}


def _resume_state(run, saved: dict, model, optimizer, scheduler, *, head_only: bool = False) -> dict:
    # Weights saved with the state (one file, always consistent); older runs: the last weights.
    runs.load_model_weights(model, saved.get("model") or run.weights_file("last"), head_only=head_only)
    optimizer.load_state_dict(saved["optimizer"])
    if scheduler and saved.get("scheduler"):
        scheduler.load_state_dict(saved["scheduler"])
    return saved["progress"]


def _save_checkpoint(run, model, optimizer, scheduler, state, improved: bool, *,
                     head_only: bool = False) -> None:
    """The epoch's weights (with ``head_only``, the head alone: a backbone that never ran on
    stored features is the installed package's, as the shipped model's), state and history.
    A preemption (submitit's USR2) waits until the whole checkpoint is written. A Cancel
    (SIGTERM) does not: it must stop a write that stalls, the writes are atomic, and its
    mark says the run was cancelled whatever error the interrupted write raised."""
    weights = runs.trained_weights(model) if head_only else model.state_dict()
    with signals_held(signal.SIGUSR2):
        run.save_weights(weights, "last")
        if improved:
            run.save_weights(weights, "best")
        run.save_state({
            "model": weights,       # a kill between the two writes must not pair other weights
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict() if scheduler else None,
            "progress": state})
        run.write_metrics({"history": state["history"], "best_epoch": state["best_epoch"] + 1})


def _step_status(epoch, step, n_steps, totals, start, n_epochs) -> dict:
    seen = totals[2].item()
    seconds = time.perf_counter() - start
    rate = seen / seconds if seconds > 0 else 0.0
    return {"epoch": epoch + 1, "epochs": n_epochs, "step": step + 1, "steps": n_steps,
            "loss": totals[0].item() / seen, "acc1": totals[1].item() / seen, "img_per_s": rate,
            "eta_s": (n_steps - step - 1) * seconds / (step + 1)}

