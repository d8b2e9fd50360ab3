"""Training data as tensors: cached covers per split, batch order, augmentation, embeddings.

Covers are decoded once (:func:`cover_model.data.preprocess.preprocess_dataset`,
cached on disk) and held as ``uint8`` tensors; every epoch reads those. For a
frozen backbone, each cover is embedded once, cached on disk too, and only the
head trains. A features-only dataset (the real covers' features pack) has no
pixels: its stored features are the embeddings, and only a head on the network
that made them can train (:func:`stored_features_problem`).
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F

from ..atomic_files import atomic_write
from ..data.dataset import SPLITS, Dataset, load_dataset
from ..data.dataset_needs import fit_and_score_problem, require
from ..data.feature_pack import FeaturesOnlyError, extractor_mismatch, stored_values
from ..data.preprocess import preprocess_dataset
from ..data.splits import assign_splits
from ..disk_budget import enforce_disk_budget, mark_used
from ..paths import cache_dir
from ..progress import stage_progress

EMBED_BATCH = 64


@dataclass
class Part:
    """One split: ``images`` (n, 3, S, S) uint8 (None on a features-only dataset),
    ``labels`` (n,) int64, ``index`` rows of the dataset, and ``embeddings`` (n, d) once a
    frozen backbone has embedded them, or as the dataset stores them (and of the mirror
    images, for a network that averages them in)."""
    images: torch.Tensor | None
    labels: torch.Tensor
    index: np.ndarray
    embeddings: torch.Tensor | None = None
    mirrored_embeddings: torch.Tensor | None = None


@dataclass
class CoverTensors:
    train: Part
    val: Part
    test: Part
    class_names: tuple[str, ...]
    fingerprint: str
    dataset: Dataset = field(repr=False)

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def stored(self) -> bool:
        """Features only: every split's embeddings came with the data, and no image did."""
        return self.dataset.features_only

    def train_inputs(self, model, cfg, ctx, *, progress=None) -> tuple[torch.Tensor, bool]:
        """What the training loop feeds: images, or embeddings when the backbone is frozen.

        ``progress(status: dict)`` hears the covers embedded so far, as the
        ``embedding covers`` stage (:func:`cover_model.progress.stage_progress`).
        """
        if cfg.mode != "linear":
            return self.train.images, False
        if self.stored:                               # embedded when the pack was built
            return self.train.embeddings, True
        parts = [getattr(self, name) for name in ("train", "val", "test")]
        passes = [(part, False) for part in parts]
        if cfg.predict_mirrored:
            passes += [(part, True) for part in parts]
        report = stage_progress(progress, "embedding covers")
        total, base = sum(len(part.labels) for part, _ in passes), 0
        if report:
            report(0, total)
        for part, flip in passes:
            features = embed(model, part.images, ctx, cache_key=self.embedding_key(cfg, part),
                             flip=flip, progress=report and (
                                 lambda done, _, base=base: report(base + done, total)))
            base += len(part.labels)
            if flip:
                part.mirrored_embeddings = features
            else:
                part.embeddings = features
        return self.train.embeddings, True

    def embedding_key(self, cfg, part: Part) -> str:
        """Names a split's cached embeddings: the covers in it, not only its size."""
        covers = hashlib.sha1(np.ascontiguousarray(part.index, dtype=np.int64)).hexdigest()[:10]
        return f"{self.fingerprint}-{cfg.arch}-{cfg.pooling}-{cfg.input_px}px-{cfg.preprocess}-{covers}"


def load_tensors(cfg, ctx, *, dataset: Dataset | None = None, progress=None) -> CoverTensors:
    """Load, split and downsize the data of ``cfg`` (cached), as tensors per split; on a
    features-only dataset, its stored features as every split's embeddings.

    ``progress(status: dict)`` hears the covers downsized so far, as the
    ``downsizing covers`` stage (one status when the cache already holds them).

    Raises
    ------
    FeaturesOnlyError
        ``cfg`` needs pixels the features-only dataset does not hold
        (:func:`stored_features_problem` says why).
    """
    dataset = dataset if dataset is not None else load_dataset(cfg.data)
    dataset = assign_splits(dataset, scheme=cfg.split_scheme, seed=cfg.seed)
    # one genre, or no train or test covers: a run would report a meaningless score
    require(fit_and_score_problem(dataset, scheme=cfg.split_scheme))
    parts = _stored_parts(cfg, dataset) if dataset.features_only else \
        _downsized_parts(cfg, ctx, dataset, progress)
    if not len(parts["train"].labels):
        raise ValueError("the training split is empty")
    return CoverTensors(**parts, class_names=dataset.class_names, fingerprint=dataset.fingerprint,
                        dataset=dataset)


def stored_features_problem(cfg, dataset: Dataset) -> str | None:
    """Why ``cfg`` cannot train on ``dataset``'s stored features, or None (it can, or the
    dataset has pixels).

    A features-only dataset holds, for each cover, the pooled features of one frozen
    network (``dataset.stored.info["extractor"]``): a new head on that network can train,
    by the epoch loop or as the exact logistic head. Training the backbone, another
    network, side or pooling, and mirror images all need the pictures.
    """
    if not dataset.features_only:
        return None
    wrong = extractor_mismatch(cfg, dataset.stored)
    wrong += [f"{name} on (no mirror image is stored)" for name in ("flip", "predict_mirrored")
              if getattr(cfg, name)]
    if not wrong:
        return None
    made = dataset.stored.info["extractor"]
    return (f"the real covers are features only (no licence to ship the pictures), so only a new "
            f"head can train, on the stored features of a frozen {made['arch']} at "
            f"{made['input_px']} px ({made['pooling']} pooling, {made['preprocess']} downsizing); "
            f"these settings need the pictures: {', '.join(wrong)}")


def stored_head_settings(dataset: Dataset) -> dict:
    """The TrainConfig settings a head on ``dataset``'s stored features keeps as they are
    (the frozen network that made them, no mirror images): what the Train page fixes."""
    made = dataset.stored.info["extractor"]
    return {"mode": "linear", "arch": made["arch"], "size_px": made["input_px"],
            "pooling": made["pooling"], "preprocess": made["preprocess"], "flip": False,
            "predict_mirrored": False}


def _stored_parts(cfg, dataset: Dataset) -> dict[str, Part]:
    """Each split of a features-only dataset: its stored features as embeddings, no images."""
    problem = stored_features_problem(cfg, dataset)
    if problem:
        raise FeaturesOnlyError(problem)
    features = torch.from_numpy(stored_values(dataset, "features"))
    splits, labels = dataset.items["split"].to_numpy(), dataset.items["label"].to_numpy(np.int64)
    parts = {}
    for name in SPLITS:
        rows = np.flatnonzero(splits == name)
        parts[name] = Part(None, torch.from_numpy(labels[rows]), rows, embeddings=features[rows])
    return parts


def _downsized_parts(cfg, ctx, dataset: Dataset, progress) -> dict[str, Part]:
    """Each split's covers, downsized (cached on disk) into uint8 tensors."""
    arrays = preprocess_dataset(dataset, size_px=cfg.input_px, method=cfg.preprocess, seed=cfg.seed,
                                progress=stage_progress(progress, "downsizing covers"))
    splits = dataset.items["split"].to_numpy()[arrays.index]
    parts = {}
    for name in SPLITS:
        rows = np.flatnonzero(splits == name)
        images = torch.from_numpy(arrays.images[rows]).permute(0, 3, 1, 2).contiguous()
        parts[name] = Part(images.pin_memory() if ctx.cuda else images,
                           torch.from_numpy(arrays.labels[rows]), arrays.index[rows])
    return parts


def shard_order(n: int, *, epoch: int, seed: int, rank: int = 0, world: int = 1) -> np.ndarray:
    """This rank's share of a seeded shuffle: every item exactly once per epoch across ranks.

    >>> sorted(np.concatenate([shard_order(10, epoch=0, seed=0, rank=r, world=3) for r in range(3)]).tolist())
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]
    """
    order = np.random.default_rng([seed, epoch]).permutation(n)
    return order[rank::world]


def augment(images: torch.Tensor, cfg, *, generator: torch.Generator) -> torch.Tensor:
    """uint8 (n, 3, S, S) -> float in [0, 1], with the config's random flips, crops and jitter."""
    x = images.float().div_(255)
    n = len(x)
    if cfg.flip:
        flip = torch.rand(n, generator=generator) < 0.5
        x[flip] = x[flip].flip(-1)
    if cfg.crop:
        x = _random_crop(x, generator)
    if cfg.color_jitter:
        x = _jitter(x, cfg.color_jitter, generator)
    return x


def _random_crop(x: torch.Tensor, generator) -> torch.Tensor:
    side = x.shape[-1]
    pad = max(1, side // 8)
    padded = F.pad(x, (pad, pad, pad, pad), mode="reflect")
    offsets = torch.randint(0, 2 * pad + 1, (len(x), 2), generator=generator)
    return torch.stack([padded[i, :, dy:dy + side, dx:dx + side]
                        for i, (dy, dx) in enumerate(offsets.tolist())])


def _jitter(x: torch.Tensor, strength: float, generator) -> torch.Tensor:
    def factors():
        return 1 + strength * (2 * torch.rand(len(x), 1, 1, 1, generator=generator) - 1)
    x = x * factors()                                             # brightness
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    x = (x - mean) * factors() + mean                             # contrast
    gray = x.mean(dim=1, keepdim=True)
    x = (x - gray) * factors() + gray                             # saturation
    return x.clamp_(0, 1)


def embedding_path(cache_key: str, *, flip: bool = False):
    """Where :func:`embed` caches the features named ``cache_key``."""
    return cache_dir() / "embeddings" / f"{cache_key}{'-flipped' if flip else ''}.npy"


@torch.no_grad()
def embed(model, images: torch.Tensor, ctx, *, cache_key: str, flip: bool = False,
          progress=None) -> torch.Tensor:
    """Backbone features of every image (mirrored with ``flip``), (n, d) float32;
    cached on disk by ``cache_key``. ``progress(done, total)`` after each batch."""
    path = embedding_path(cache_key, flip=flip)
    if path.is_file():
        try:
            cached = np.load(path, allow_pickle=False)
            if len(cached) == len(images):
                mark_used(path)
                if progress:
                    progress(len(images), len(images))
                return torch.from_numpy(cached)
        except (OSError, ValueError):
            pass                                                  # damaged: recompute
    model.eval()
    chunks = []
    for start in range(0, len(images), EMBED_BATCH):
        x = images[start:start + EMBED_BATCH].to(ctx.device).float().div_(255)
        if flip:
            x = x.flip(-1)
        with ctx.autocast():
            chunks.append(model.embed(x).float().cpu())
        if progress:
            progress(min(start + EMBED_BATCH, len(images)), len(images))
    features = torch.cat(chunks) if chunks else torch.zeros(0, 1)
    if ctx.is_main:
        with atomic_write(path) as fh:
            np.save(fh, features.numpy())
        enforce_disk_budget(keep=(path,))
    return features

