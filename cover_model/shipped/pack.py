"""Building the features pack: the real covers as numbers, shipped beside the model.

What the pack holds, and why none of it is a picture, is in :mod:`cover_model.data.feature_pack`
(its format, read by the data layer). This module makes it from the covers and the shipped
run and writes it (the same covers give the same bytes); :func:`picture_like_arrays` fails
any array that could hold a picture (the tests call it).

    python -m cover_model pack --data ../shared/data/real-covers    # rebuild it alone
    python -m cover_model ship --data ../shared/data/real-covers    # the model, then the pack
"""
from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..atomic_files import atomic_write
from ..color.analysis import ColorConfig
from ..color.histograms import compute_gradient_histograms, compute_histograms
from ..data.dataset import Dataset
from ..data.feature_pack import (  # noqa: F401
    ARRAY_AXES,
    ARRAYS_FILE,
    COVER_COLUMNS,
    COVERS_FILE,
    INFO_FILE,
    PACK_DIR,
    FeaturePack,
    genre_labels,
    load_pack,
)
from ..data.preprocess import preprocess_dataset

VERSION = 1
REBUILD_COMMAND = "python -m cover_model pack --data ../shared/data/real-covers"
# The pooled features in 8 bits a number, 256 steps between each channel's lowest and highest
# value: 9.2 MB compressed for the real covers, and the head refitted on them scores within
# 0.4 points of the full features (docs/shipped-model.md). float16 alone took 18.7 MB (the
# budget is 20 MB); 128 or 256 principal components cost 1.2-2.4 points of cross-validation
# or test.
LEVELS = 255
# The colour analysis's defaults (the paper's): 8 bins a channel over the 32 px cover. Stored as
# pixel counts (a 32 px cover has 1,024 pixels), so the histograms read back exactly.
COLOR = ColorConfig()
GRADIENT = ColorConfig(feature="gradient")


def build_pack(dataset: Dataset, run_dir: Path, *, refit: bool = True, log=print) -> FeaturePack:
    """The pack of a split dataset, with the pooled features of the shipped run ``run_dir``.

    Parameters
    ----------
    dataset : Dataset
        Split as the run was trained (the real covers' manifest, ``split_scheme`` applied).
    run_dir : Path
        A finished run of a frozen EfficientNet-Lite with a linear head (the shipped model).
    refit : bool, default=True
        Also refit the run's head recipe on the full features and on the pack's, and keep the
        scores in ``info["refit"]`` (a minute or two; the model card quotes them).
    log : callable, default=print
        One line per step.

    Returns
    -------
    FeaturePack
        Covers that every step could read, in the dataset's order; a cover that fails to
        decode is left out whole.
    """
    from ..curation.leaks import hash_covers
    from ..networks.runs import Run
    from .selection import pooled_features
    run = Run(run_dir)
    cfg = run.train_config()
    log(f"pack 1/5: pooled features ({cfg.arch} at {cfg.input_px} px, {cfg.pooling})")
    # On the CPU wherever it is built: the same bytes on a machine with a GPU too.
    pooled = _Rows(*pooled_features(cfg, dataset, device="cpu"))
    log("pack 2/5: colour and gradient histograms of the 32 px covers")
    small = _by_row(preprocess_dataset(dataset, size_px=COLOR.size_px, method=COLOR.method), dataset)
    log("pack 3/5: perceptual hashes")
    hashes = hash_covers(dataset)
    keep = np.flatnonzero(pooled.ok & small.ok & hashes.ok)
    covers = _cover_table(dataset, keep)
    x, images = pooled.values[keep], small.values[keep]
    log("pack 4/5: the model's test answers, the features in 8 bits")
    low, step, levels = _quantized(x)
    arrays = {
        "features": levels, "feature_low": low, "feature_step": step,
        "color_counts": _pixel_counts(compute_histograms(images, bins=COLOR.bins, space=COLOR.space)),
        "gradient": compute_gradient_histograms(images, bins=GRADIENT.orientation_bins,
                                                grid=GRADIENT.grid).astype(np.float16),
        "phash": hashes.phash[keep], "dhash": hashes.dhash[keep],
        "contrast": hashes.contrast[keep].astype(np.float32),
        "test_proba": _test_probabilities(run, x, covers),
    }
    info = {"version": VERSION, "covers": len(covers), "class_names": list(run.class_names),
            "extractor": {"arch": cfg.arch, "input_px": cfg.input_px, "pooling": cfg.pooling,
                          "preprocess": cfg.preprocess, "channels": int(x.shape[1])},
            "color": _settings(COLOR, "bins", "space", "size_px", "method"),
            "gradient": _settings(GRADIENT, "orientation_bins", "grid", "size_px", "method"),
            "dataset_fingerprint": dataset.fingerprint, "left_out": int(len(dataset) - len(keep))}
    pack = FeaturePack(covers.assign(label=genre_labels(covers, info["class_names"])),
                       tuple(info["class_names"]), arrays, info)
    log("pack 5/5: the style map's layout")
    arrays["map_xy"] = _layout(pack.features)          # of the features as stored
    if refit:
        log(f"pack: refitting the head (C = {cfg.logistic_c:g}) on the full features and on the pack's")
        info["refit"] = {"C": cfg.logistic_c, "full": refit_scores(x, pack, c=cfg.logistic_c),
                         "pack": refit_scores(pack.features, pack, c=cfg.logistic_c)}
    return pack


def pack_figures(pack: FeaturePack, folder: Path) -> dict:
    """What the model card says of the pack written in ``folder``."""
    return {"covers": len(pack), "megabytes": round(pack_bytes(folder) / 1e6, 1),
            "channels": pack.info["extractor"]["channels"],
            "refit": pack.info["refit"], "rebuild_command": REBUILD_COMMAND}


def write_pack(pack: FeaturePack, folder: Path = PACK_DIR) -> Path:
    """Write ``pack`` into ``folder``: the same pack gives the same bytes (no time stamp)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_write(folder / COVERS_FILE, "w") as fh:
        pack.covers.loc[:, list(COVER_COLUMNS)].to_csv(fh, index=False, lineterminator="\n")
    with atomic_write(folder / ARRAYS_FILE) as fh:
        # numpy's zip members carry a fixed 1980 date, so the archive's bytes depend on the data alone
        np.savez_compressed(fh, **{name: pack.arrays[name] for name in ARRAY_AXES})
    with atomic_write(folder / INFO_FILE, "w") as fh:
        fh.write(json.dumps(pack.info, indent=1, sort_keys=True) + "\n")
    return folder


def pack_bytes(folder: Path = PACK_DIR) -> int:
    """What the pack in ``folder`` weighs on disk."""
    return sum(f.stat().st_size for f in Path(folder).iterdir() if f.is_file())


def picture_like_arrays(pack: FeaturePack) -> list[str]:
    """Every array of ``pack`` that could hold a picture, with why; empty for a sound pack.

    An array passes when it is declared in :data:`ARRAY_AXES`, has exactly its declared
    axes, every ``cover`` axis has one entry per cover, and every other axis has the width
    its kind allows: colour bins (a histogram over colours, no position), the gradient
    histogram's cells (a grid under 8 x 8), the extractor's channels, genres or the map's
    two axes. Never two spatial axes.
    """
    info, n = pack.info, len(pack)
    grid = GRADIENT.grid
    widths = {"colour bin": COLOR.bins ** 3, "orientation x cell": GRADIENT.orientation_bins * grid ** 2,
              "channel": info["extractor"]["channels"],
              "genre": len(pack.class_names), "map axis": 2, "cover": n}
    problems = [] if grid < 8 else [f"gradient: a {grid} x {grid} grid of cells"]
    for name, array in pack.arrays.items():
        axes = ARRAY_AXES.get(name)
        if axes is None or array.ndim != len(axes):
            problems.append(f"{name}: shape {array.shape} is not one of the declared arrays")
        elif array.shape != tuple(widths[a] for a in axes):
            problems.append(f"{name}: shape {array.shape}, expected {tuple(widths[a] for a in axes)} ({axes})")
    return problems


@dataclass(frozen=True)
class _Rows:
    """Values aligned with a dataset's rows, and which rows have one."""
    values: np.ndarray
    ok: np.ndarray


def _by_row(arrays, dataset: Dataset) -> _Rows:
    values = np.zeros((len(dataset), *arrays.images.shape[1:]), arrays.images.dtype)
    values[arrays.index] = arrays.images
    ok = np.zeros(len(dataset), bool)
    ok[arrays.index] = True
    return _Rows(values, ok)


def _settings(cfg: ColorConfig, *names: str) -> dict:
    return {name: getattr(cfg, name) for name in names}


def _cover_table(dataset: Dataset, rows: np.ndarray) -> pd.DataFrame:
    items = dataset.items.iloc[rows]
    source = items["source"] if "source" in items else pd.Series("", index=items.index)
    return pd.DataFrame({"id": [file_id(p) for p in items["path"]], "genre": items["genre"].to_numpy(),
                         "source": source.fillna("").astype(str).to_numpy(),
                         "split": items["split"].astype(str).to_numpy(),
                         "group": items["group"].fillna("").astype(str).to_numpy()})


def file_id(path) -> str:
    """A cover's stable id: the first 16 hex digits of its file's SHA-256."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()[:16]


def _quantized(x: np.ndarray):
    """Each channel of ``x`` (n, D) in :data:`LEVELS` + 1 steps from its lowest to its highest
    value: the lows and steps (D,) float32 and the levels (n, D) uint8."""
    low, high = x.min(axis=0), x.max(axis=0)
    step = (high - low) / LEVELS
    step[step == 0] = 1.0                          # a constant channel: every level is 0
    levels = np.rint((x - low) / step).astype(np.uint8)
    return low.astype(np.float32), step.astype(np.float32), levels


def _pixel_counts(histograms: np.ndarray) -> np.ndarray:
    """Histograms of 32 px covers (fractions of 1,024 pixels) as exact uint16 counts."""
    counts = np.rint(histograms * COLOR.size_px ** 2)
    if not np.allclose(counts / COLOR.size_px ** 2, histograms, atol=1e-6):
        raise ValueError("colour histograms are not pixel counts; the pack cannot store them exactly")
    return counts.astype(np.uint16)


def _test_probabilities(run, x: np.ndarray, covers: pd.DataFrame) -> np.ndarray:
    """The shipped head's probabilities for the test covers (NaN elsewhere): its linear layer
    over the same pooled features the Predictor computes."""
    import torch
    head = run.load_model().eval().head
    test = (covers["split"] == "test").to_numpy()
    proba = np.full((len(x), len(run.class_names)), np.nan, np.float32)
    with torch.inference_mode():
        proba[test] = torch.softmax(head(torch.from_numpy(x[test])), dim=1).numpy()
    return proba


def _layout(features: np.ndarray) -> np.ndarray:
    """The style map's 2-D layout (its default settings) of the pack's features."""
    from ..curation.style_map import StyleMapConfig, layout
    return layout(features, np.arange(len(features)), StyleMapConfig()).xy


def development_rows(pack: FeaturePack):
    """The pack's covers as the recipe selection scores them
    (:class:`cover_model.shipped.selection.Development`): labels, artists, sources, splits."""
    from ..networks.logistic_head import _artists
    from .selection import Development
    covers = pack.covers
    return Development(covers["label"].to_numpy(), _artists(covers, np.arange(len(covers))),
                       covers["source"].to_numpy(dtype=str), covers["split"].to_numpy(dtype=str),
                       pack.class_names)


def refit_scores(features: np.ndarray, pack: FeaturePack, *, c: float) -> dict:
    """The shipped head's recipe (standardise, balanced logistic regression at ``c``) refitted
    on ``features`` (rows in the pack's order): cross-validated, transfer and test balanced
    accuracy, as the recipe selection scores them. The pack's features against the full
    pooled ones is how much the projection costs."""
    from .selection import extractor_logits, scores_per_c
    data = development_rows(pack)
    with warnings.catch_warnings():       # a fold's predictions may name a genre it lacks
        warnings.simplefilter("ignore", UserWarning)
        table = scores_per_c([extractor_logits(features, data, c_grid=(c,))], data)
    return {k: float(v) for k, v in table.iloc[0].items()}
