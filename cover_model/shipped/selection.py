"""Choosing the shipped recipe by cross-validation and by transfer to an unseen source.

A visitor's cover can come from anywhere. The real covers have two sources
(Discogs scans, Spotify artwork), and most genres come from one of them only,
so a model can score well by learning what each source's covers look like. The
**source-transfer** score measures that from the shared data alone: for each
source, train on the development covers (train + val) without that source's
covers of the genres both sources have (country and hiphop), then score those
held-out covers (the mean of their genres' recall, over a 9-way prediction).
A model that learnt "digital artwork means classical or jazz" fails there.

Every candidate is a set of frozen feature extractors (an EfficientNet-Lite at
one input side, its last layer or every stage) with one balanced logistic
regression per extractor; several extractors average their logits (an
ensemble of probes, which folds into one linear layer over the concatenated
features). Out-of-fold logits are computed once per extractor and C, so an
ensemble costs nothing more to score. The test split is scored for the table
but never used to choose. An extractor may also fit its head on source-destroying
copies of the covers it is fitted on (:mod:`cover_model.shipped.augment`): the covers
it is scored on, in every fold, are never augmented.

    python -m cover_model recipes --data ../shared/data/real-covers --out docs/shipped
"""
from __future__ import annotations

import functools
import itertools
import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from joblib import Parallel, delayed
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import StratifiedGroupKFold

from ..data.dataset import load_dataset
from ..data.splits import assign_splits
from ..networks.config import TrainConfig
from ..networks.data import Part, embed, load_tensors
from ..networks.device import setup_context
from ..networks.logistic_head import C_GRID, _artists, logistic_pipeline
from ..networks.training import build
from .augment import AUGMENT_VERSION, augment_covers


@dataclass(frozen=True)
class Extractor:
    """Frozen features of one EfficientNet-Lite: ``arch`` at ``input_px``, pooled
    ``last`` layer or every stage (``stages``); with ``augmented_copies``, the head also
    fits that many source-destroying copies of each of its covers."""
    arch: str
    input_px: int
    pooling: str = "last"
    augmented_copies: int = 0

    @property
    def name(self) -> str:
        short = self.arch.replace("efficientnet_lite", "Lite")
        copies = self.augmented_copies
        return (f"{short} {self.input_px}px" + (" stages" if self.pooling == "stages" else "")
                + (f" + {copies} augmented cop{'y' if copies == 1 else 'ies'}" if copies else ""))


@dataclass
class Development:
    """The covers a recipe may be chosen on, and the test covers it is only reported on.

    Attributes
    ----------
    labels : ndarray of shape (n,), int
    groups : ndarray of shape (n,), str
        Artist (or release): cross-validation keeps each inside one fold.
    sources : ndarray of shape (n,), str
    split : ndarray of shape (n,), str
        ``train``, ``val`` or ``test``.
    class_names : tuple of str
    """
    labels: np.ndarray
    groups: np.ndarray
    sources: np.ndarray
    split: np.ndarray
    class_names: tuple

    @functools.cached_property
    def cv_folds(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Artist-grouped, genre-stratified folds over the development covers (5, seeded)."""
        dev = self.dev
        splitter = StratifiedGroupKFold(n_splits=5, shuffle=True, random_state=0)
        return [(dev[a], dev[b]) for a, b in splitter.split(dev, self.labels[dev], self.groups[dev])]

    @property
    def dev(self) -> np.ndarray:
        return np.flatnonzero(self.split != "test")

    @property
    def test(self) -> np.ndarray:
        return np.flatnonzero(self.split == "test")


def development(dataset) -> Development:
    """Labels, artists, sources and splits of a split dataset, in row order."""
    items = dataset.items
    sources = (items["source"].astype("string").fillna("").to_numpy(dtype=str)
               if "source" in items else np.full(len(items), ""))
    return Development(items["label"].to_numpy(), _artists(items, np.arange(len(items))),
                       sources, items["split"].to_numpy(dtype=str), tuple(dataset.class_names))


def shared_genres(labels, sources) -> list[int]:
    """Genre ids that more than one source supplies."""
    frame = pd.DataFrame({"label": labels, "source": sources})
    counts = frame.groupby("label")["source"].nunique()
    return sorted(int(g) for g in counts[counts > 1].index)


def transfer_folds(data: Development) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(source, fit_rows, held_out_rows)`` per source: the held-out rows are that
    source's development covers of the shared genres; the fit rows are every other
    development cover. Empty when no genre has two sources."""
    dev = data.dev
    shared = np.isin(data.labels[dev], shared_genres(data.labels[dev], data.sources[dev]))
    folds = []
    for source in sorted(set(data.sources[dev])):
        held = shared & (data.sources[dev] == source)
        if held.any():
            folds.append((source, dev[~held], dev[held]))
    return folds


def fit_probe(x: np.ndarray, y: np.ndarray, c: float):
    """A standardised logistic regression with balanced class weights (the shipped head)."""
    return logistic_pipeline(c, balanced=True).fit(x, y)


def _logits(x, y, fit_rows, score_rows, c, n_classes, augmented=None):
    fit_x, fit_y = x[fit_rows], y[fit_rows]
    if augmented is not None:          # the fit covers' augmented copies join them; scored ones never
        fit_x = np.concatenate([fit_x, *(copy[fit_rows] for copy in augmented)])
        fit_y = np.tile(fit_y, 1 + len(augmented))
    pipe = fit_probe(fit_x, fit_y, c)
    out = np.full((len(score_rows), n_classes), -1e4)      # a genre absent from the fit: never
    out[:, pipe[-1].classes_] = pipe.decision_function(x[score_rows])
    return out


def extractor_logits(x: np.ndarray, data: Development, *, c_grid=C_GRID, n_jobs: int = 2,
                     augmented: np.ndarray | None = None) -> dict:
    """Every logit a candidate needs from one extractor, per C: out-of-fold (CV), held-out
    source (transfer) and test (fit on all development covers). ``augmented``, of shape
    (copies, n, D) (:func:`augmented_features`): copies of the covers that join each fit.

    Returns
    -------
    dict
        ``{c: {"cv": (n, G), "transfer": (n, G), "test": (n, G)}}``, rows in dataset order
        (NaN where a cover was not scored that way).
    """
    n, n_classes = len(data.labels), len(data.class_names)
    plans = []
    for c in c_grid:
        plans += [(c, "cv", fit, held) for fit, held in data.cv_folds]
        plans += [(c, "transfer", fit, held) for _, fit, held in transfer_folds(data)]
        plans.append((c, "test", data.dev, data.test))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        outs = Parallel(n_jobs=n_jobs)(delayed(_logits)(x, data.labels, fit, held, c, n_classes,
                                                        augmented) for c, _, fit, held in plans)
    result = {c: {kind: np.full((n, n_classes), np.nan) for kind in ("cv", "transfer", "test")}
              for c in c_grid}
    for (c, kind, _, held), out in zip(plans, outs):
        result[c][kind][held] = out
    return result


def scores_per_c(logits_per_member: list[dict], data: Development) -> pd.DataFrame:
    """An ensemble (the mean of its members' logits) at every C: cross-validated balanced
    accuracy (mean and standard error over folds), transfer and test, and the selection
    score, the mean of CV and transfer: the recipe must hold on its own sources and on an
    unseen one."""
    rows = []
    for c in logits_per_member[0]:
        cv = np.mean([m[c]["cv"] for m in logits_per_member], axis=0)
        folds = [balanced_accuracy_score(data.labels[held], cv[held].argmax(1))
                 for _, held in data.cv_folds]
        rows.append({"C": c, "cv": float(np.mean(folds)),
                     "cv_se": float(np.std(folds, ddof=1) / np.sqrt(len(folds))),
                     **transfer_and_test(logits_per_member, data, c)})
    table = pd.DataFrame(rows)
    table["selection"] = (table["cv"] + table["transfer"]) / 2
    return table


def score_candidate(logits_per_member: list[dict], data: Development) -> dict:
    """The ensemble at the C with the best selection score (never chosen by test)."""
    table = scores_per_c(logits_per_member, data)
    return {k: (v.item() if hasattr(v, "item") else v)
            for k, v in table.loc[table["selection"].idxmax()].items()}


def transfer_and_test(logits_per_member: list[dict], data: Development, c: float) -> dict:
    """Transfer and test scores of an ensemble at one C."""
    out = {}
    transfer = np.mean([m[c]["transfer"] for m in logits_per_member], axis=0)
    by_source = []
    for source, _, held in transfer_folds(data):
        y, pred = data.labels[held], transfer[held].argmax(1)
        by_source.append(np.mean([(pred[y == g] == g).mean() for g in np.unique(y)]))
        out[f"transfer_{source}"] = by_source[-1]
    out["transfer"] = float(np.mean(by_source)) if by_source else np.nan
    test = np.mean([m[c]["test"] for m in logits_per_member], axis=0)
    rows = data.test
    out["test"] = balanced_accuracy_score(data.labels[rows], test[rows].argmax(1))
    for source in sorted(set(data.sources[rows])):
        part = rows[data.sources[rows] == source]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out[f"test_{source}"] = balanced_accuracy_score(data.labels[part], test[part].argmax(1))
    return out


def extractor_features(extractor: Extractor, dataset) -> np.ndarray:
    """Frozen features of every cover of ``dataset`` (dataset row order), from the same
    cache as a ``linear`` training run; ``last`` is the tail of the ``stages`` features."""
    features, _ = pooled_features(_linear_config(extractor), dataset)
    return _pooled(extractor, features)


def augmented_features(extractor: Extractor, dataset) -> np.ndarray:
    """Frozen features of ``extractor.augmented_copies`` source-destroying copies of every
    development cover (train + val; seeds 0, 1, ...), each copy cached as embeddings.

    Returns
    -------
    ndarray of shape (copies, n, D), float32
        In dataset row order; zeros for the test covers, which are never augmented (and, as
        in :func:`pooled_features`, for a cover that could not be decoded).
    """
    cfg = _linear_config(extractor)
    ctx, tensors, model = _frozen_network(cfg, dataset)
    dev = Part(torch.cat([tensors.train.images, tensors.val.images]),
               torch.cat([tensors.train.labels, tensors.val.labels]),
               np.r_[tensors.train.index, tensors.val.index])
    covers = dev.images.permute(0, 2, 3, 1).numpy()
    copies = []
    for seed in range(extractor.augmented_copies):
        key = f"{tensors.embedding_key(cfg, dev)}-augmented{AUGMENT_VERSION}-seed{seed}"
        copy = torch.from_numpy(augment_covers(covers, seed=seed)).permute(0, 3, 1, 2)
        embedded = embed(model, copy, ctx, cache_key=key).numpy()
        features = np.zeros((len(dataset.items), embedded.shape[1]), np.float32)
        features[dev.index] = embedded
        copies.append(_pooled(extractor, features))
    return np.stack(copies)


def _linear_config(extractor: Extractor) -> TrainConfig:
    """The ``linear`` training config whose cached features ``extractor`` reads."""
    return TrainConfig(data="-", arch=extractor.arch, mode="linear", pooling="stages",
                       size_px=extractor.input_px)


def _pooled(extractor: Extractor, features: np.ndarray) -> np.ndarray:
    """``last`` is the tail of the ``stages`` features."""
    width = features.shape[1] if extractor.pooling == "stages" else 1280
    return features[:, -width:]


def _frozen_network(cfg, dataset, *, device: str = "auto"):
    """The device, ``dataset``'s downsized covers per split and ``cfg``'s frozen network."""
    ctx = setup_context(device, seed=cfg.seed)
    tensors = load_tensors(cfg, ctx, dataset=dataset)
    model, _, _ = build(cfg, tensors.class_names, ctx)
    return ctx, tensors, model


def pooled_features(cfg, dataset, *, device: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """The frozen features a ``linear`` training run of ``cfg`` computes (and caches) for
    every cover of ``dataset``.

    Returns
    -------
    features : ndarray of shape (n, D), float32
        In dataset row order; zeros for a cover that could not be decoded.
    decoded : ndarray of shape (n,), bool
    """
    ctx, tensors, model = _frozen_network(cfg, dataset, device=device)
    tensors.train_inputs(model, cfg, ctx)
    parts = (tensors.train, tensors.val, tensors.test)
    features = np.zeros((len(dataset.items), parts[0].embeddings.shape[1]), np.float32)
    decoded = np.zeros(len(dataset.items), bool)
    for part in parts:
        features[part.index] = part.embeddings.numpy()
        decoded[part.index] = True
    return features, decoded


def compare(logits: dict[str, dict], data: Development, *, max_members: int = 3) -> pd.DataFrame:
    """Every extractor alone and every ensemble of up to ``max_members`` of them, each at
    its best C by the selection score; rows sorted by that score, best first."""
    rows = []
    for size in range(1, max_members + 1):
        for members in itertools.combinations(list(logits), size):
            scores = score_candidate([logits[m] for m in members], data)
            rows.append({"recipe": " + ".join(members), "members": size, **scores})
    return pd.DataFrame(rows).sort_values("selection", ascending=False).reset_index(drop=True)


# The candidates of the shipped model's selection (docs/shipped): each Lite at its own side,
# Lite0 at 384 px (the earlier best) and Lite0 and Lite2 at the covers' own 300 px; each
# with its pooled last layer, or every stage too; and the shipped extractor with one or two
# source-destroying copies of each cover in the head's fit (docs/shipped/augmentation.md).
EXTRACTORS = tuple(Extractor(arch, px, pooling) for arch, px in (
    ("efficientnet_lite0", 224), ("efficientnet_lite1", 240), ("efficientnet_lite2", 260),
    ("efficientnet_lite0", 384), ("efficientnet_lite0", 300), ("efficientnet_lite2", 300))
    for pooling in ("last", "stages")) + tuple(
    Extractor("efficientnet_lite2", 300, "stages", augmented_copies=n) for n in (1, 2))


def compare_recipes(data: str, *, extractors=EXTRACTORS, max_members: int = 2, log=print) -> pd.DataFrame:
    """The selection table of ``recipes``: every extractor and ensemble on ``data``."""
    dataset = assign_splits(load_dataset(data))
    dev = development(dataset)
    logits = {}
    for extractor in extractors:
        log(f"{extractor.name}: embedding (cached after the first time) and fitting")
        copies = augmented_features(extractor, dataset) if extractor.augmented_copies else None
        logits[extractor.name] = extractor_logits(extractor_features(extractor, dataset), dev,
                                                  augmented=copies)
    return compare(logits, dev, max_members=max_members)


def score_recipe(cfg, dataset) -> dict:
    """Cross-validation and source transfer of one training config's features and head,
    as :func:`score_candidate` reports them (the shipped model's card quotes these)."""
    extractor = Extractor(cfg.arch, cfg.input_px, cfg.pooling)
    dev = development(dataset)
    grid = sorted(set(C_GRID) | ({cfg.logistic_c} if cfg.logistic_c else set()))
    logits = [extractor_logits(extractor_features(extractor, dataset), dev, c_grid=grid)]
    if not cfg.logistic_c:                  # C by the rule: report the recipe at its best C
        return {k: float(v) for k, v in score_candidate(logits, dev).items()}
    table = scores_per_c(logits, dev).set_index("C")
    return {"C": cfg.logistic_c, **{k: float(v) for k, v in table.loc[cfg.logistic_c].items()}}
