"""Rebuild the shipped model and its card from the data: ``python -m cover_model ship``.

It trains the ``best`` preset with the project's own training (a run like any
other, in a scratch folder), scores its recipe's cross-validation and transfer
to an unseen source, then writes the shipped folder: the run's config and
metrics, the head alone (the backbone comes from the installed package), the
model card and the per-genre colour statistics. The folder is replaced whole,
only once everything in it is written.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from ..networks import runs
from ..color.profile import build_reference
from ..dataset import load_dataset
from ..files import write_json
from ..paths import data_dir
from ..splits import assign_splits
from ..networks.config import PRESETS, TrainConfig
from ..networks.training import main
from . import CARD_JSON, COLOR_FILE, SHIPPED_DIR, save_color_reference
from .card import card_figures, render_card
from .selection import score_recipe

PRESET = "best"
REBUILD_COMMAND = "python -m cover_model ship --data ../shared/data/real-covers"


def build_shipped(data: str, *, out: Path = SHIPPED_DIR, progress=None, log=print) -> Path:
    """Train the shipped recipe on ``data`` and write the shipped folder ``out``.

    Parameters
    ----------
    data : str
        A labelled dataset with splits (the real covers' manifest).
    out : Path, default=checkpoints/real-covers
    progress : callable, optional
        Training progress, as :func:`cover_model.networks.training.main` reports it.
    log : callable, default=print
        One line per step.
    """
    cfg = TrainConfig(**PRESETS[PRESET], data=str(data))
    dataset = assign_splits(load_dataset(data), scheme=cfg.split_scheme, seed=cfg.seed)
    scratch = Path(tempfile.mkdtemp(prefix="ship-", dir=_scratch_root()))
    try:
        log(f"[1/4] training the '{PRESET}' preset on {data}")
        run_dir = main(cfg, run_dir=scratch / "run", progress=progress, dataset=dataset)
        log("[2/4] cross-validation and transfer to an unseen source")
        selection = score_recipe(cfg, dataset)
        log("[3/4] colour statistics per genre")
        staging = scratch / "shipped"
        _write_folder(run_dir, staging, cfg, card_figures(run_dir, dataset, selection=selection))
        save_color_reference(staging / COLOR_FILE, build_reference(dataset))
        log(f"[4/4] writing {out}")
        _replace(out, staging)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return out


def _write_folder(run_dir: Path, folder: Path, cfg: TrainConfig, figures: dict) -> None:
    folder.mkdir(parents=True)
    trained, shipped = runs.Run(run_dir), runs.Run(folder)
    shipped.save_weights(runs.trained_weights(trained.load_model()), "best")
    shipped.write_config(trained.settings() | {"preset": PRESET, "data": cfg.data, "shipped": True},
                         trained.model_args())
    shipped.write_metrics(trained.metrics())
    shipped.write_status("done", error=None)
    write_json(folder / CARD_JSON, figures)
    (folder / "MODEL_CARD.md").write_text(render_card(figures, rebuild_command=REBUILD_COMMAND))


def _replace(out: Path, staging: Path) -> None:
    """Swap the new folder in: a reader sees the old folder or the new one, never half."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    previous = out.with_name(out.name + ".previous")
    shutil.rmtree(previous, ignore_errors=True)
    if out.exists():
        out.rename(previous)
    # Copied beside ``out`` first: the scratch folder may be on another disk, and only a
    # rename on one disk is atomic.
    shutil.copytree(staging, out.with_name(out.name + ".new"))
    out.with_name(out.name + ".new").rename(out)
    shutil.rmtree(previous, ignore_errors=True)


def _scratch_root() -> Path:
    root = data_dir() / "scratch"
    root.mkdir(parents=True, exist_ok=True)
    return root
