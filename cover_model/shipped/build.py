"""Rebuild the shipped model and its card from the data: ``python -m cover_model ship``.

It trains the ``best`` preset with the project's own training (a run like any
other, in a scratch folder), scores its recipe's cross-validation and transfer
to an unseen source, then writes the shipped folder: the run's config and
metrics, the head alone (the backbone comes from the installed package), the
model card, the per-genre colour statistics and the features pack (pack.py). The folder is replaced whole,
only once everything in it is written.
"""
from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from ..atomic_files import write_json
from ..color.profile import build_reference
from ..data.dataset import load_dataset
from ..data.splits import assign_splits
from ..networks import runs
from ..networks.config import PRESETS, TrainConfig
from ..networks.training import main
from ..paths import data_dir
from . import CARD_JSON, COLOR_FILE, SHIPPED_DIR, read_card, save_color_reference
from .card import card_figures, render_card
from .pack import PACK_DIR, build_pack, pack_figures, write_pack
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
        log("[3/5] colour statistics per genre")
        staging = scratch / "shipped"
        _write_folder(run_dir, staging, cfg)
        save_color_reference(staging / COLOR_FILE, build_reference(dataset))
        log("[4/5] the features pack")
        pack = build_pack(dataset, staging, log=log)
        write_pack(pack, staging / PACK_DIR.name)
        write_card(staging, card_figures(run_dir, dataset, selection=selection) | {
            "features_pack": pack_figures(pack, staging / PACK_DIR.name)})
        log(f"[5/5] writing {out}")
        _replace(out, staging)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return out


def rebuild_pack(data: str, model_dir: Path = SHIPPED_DIR, *, out: Path | None = None, log=print) -> Path:
    """Rebuild the features pack of the shipped model in ``model_dir`` from ``data`` alone
    (the model is not retrained); written to ``out``, by default ``model_dir/features``."""
    cfg = runs.Run(model_dir).train_config()
    dataset = assign_splits(load_dataset(data), scheme=cfg.split_scheme, seed=cfg.seed)
    pack = build_pack(dataset, model_dir, log=log)
    folder = write_pack(pack, out or Path(model_dir) / PACK_DIR.name)
    if folder == Path(model_dir) / PACK_DIR.name:        # the model's own pack: its card says so
        write_card(model_dir, read_card(model_dir) | {"features_pack": pack_figures(pack, folder)})
    return folder


def write_card(folder: Path, figures: dict) -> None:
    """The card's figures (``card.json``) and the card rendered from them (``MODEL_CARD.md``)."""
    write_json(Path(folder) / CARD_JSON, figures)
    (Path(folder) / "MODEL_CARD.md").write_text(render_card(figures, rebuild_command=REBUILD_COMMAND))


def _write_folder(run_dir: Path, folder: Path, cfg: TrainConfig) -> None:
    folder.mkdir(parents=True)
    trained, shipped = runs.Run(run_dir), runs.Run(folder)
    shipped.save_weights(runs.trained_weights(trained.load_model()), "best")
    shipped.write_config(trained.settings() | {"preset": PRESET, "data": cfg.data, "shipped": True},
                         trained.model_args())
    shipped.write_metrics(trained.metrics())
    shipped.write_status("done", error=None)


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
