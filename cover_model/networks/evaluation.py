"""Scoring networks: one cached split during training, or covers streamed from disk.

:func:`evaluate` scores a split already held as tensors (training's val and test).
:func:`score_covers` scores any number of cover files with a finished run's
:class:`~cover_model.networks.predict.Predictor`, a batch at a time, so memory does not
grow with the data: ``python -m cover_model evaluate RUN [--data OTHER]``.
"""
from __future__ import annotations

import os
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..data.dataset import Dataset, Skipped
from ..data.images import ImageDecodeError

EVAL_BATCH = 256
# Covers x pixels per network batch when streaming: 32 covers at 224 px, 10 at 384 px.
# Activations grow with the pixels: EfficientNet-Lite0 with every stage pooled holds about
# 65 MB per cover at 384 px (peak RSS 0.67 / 1.28 / 1.97 GB at batch 1 / 10 / 21, model
# included). At 21 covers evaluate peaked at 2.56 GB; at 10, about 2 GB. Speed is the same
# on CPU (11-13 covers/s either way, 2 cores). Batches of 256 went past 19 GB (issue 14).
STREAM_PIXELS = 32 * 224 * 224


@torch.no_grad()
def evaluate(model, part, ctx, *, head_only: bool = False) -> dict:
    """Mean loss, accuracy and probabilities (n, n_classes) of ``model`` on a split.

    With ``head_only`` the split's cached embeddings go through the head alone.
    """
    model.eval()
    if head_only:
        logits = _in_chunks(model.head, part.embeddings, ctx)
        if part.mirrored_embeddings is not None:      # as the whole network would predict
            logits = (logits + _in_chunks(model.head, part.mirrored_embeddings, ctx)) / 2
    else:
        logits = _in_chunks(model, part.images, ctx)
    labels = part.labels
    return {"loss": F.cross_entropy(logits, labels).item(),
            "acc": (logits.argmax(1) == labels).float().mean().item(),
            "probs": logits.softmax(1).numpy().astype(np.float32)}


def _in_chunks(net, inputs: torch.Tensor, ctx) -> torch.Tensor:
    chunks = []
    for start in range(0, len(inputs), EVAL_BATCH):
        x = inputs[start:start + EVAL_BATCH].to(ctx.device)
        if x.dtype == torch.uint8:
            x = x.float().div_(255)
        with ctx.autocast():
            chunks.append(net(x).float().cpu())
    return torch.cat(chunks)


@dataclass(frozen=True)
class CoverScores:
    """Class probabilities of the covers that could be decoded.

    Attributes
    ----------
    probs : ndarray of shape (n_scored, n_classes), float32
    index : ndarray of shape (n_scored,), int64
        Position in the ``paths`` given of each row of ``probs``.
    skipped : tuple of Skipped
        Covers that could not be decoded, and why.
    """
    probs: np.ndarray
    index: np.ndarray
    skipped: tuple[Skipped, ...] = ()


def stream_batch_size(input_px: int) -> int:
    """Covers per network batch when streaming covers at ``input_px``.

    >>> stream_batch_size(224), stream_batch_size(384), stream_batch_size(32)
    (32, 10, 256)
    """
    return max(1, min(EVAL_BATCH, STREAM_PIXELS // (input_px * input_px)))


@torch.no_grad()
def score_covers(predictor, paths, *, batch_size: int | None = None, n_jobs: int | None = None,
                 progress=None) -> CoverScores:
    """Class probabilities of cover files, decoded, downsized and scored a batch at a time.

    Each cover goes through the run's own preprocessing (``predictor.prepare``), on
    ``n_jobs`` threads; no more than one batch of images is held at once, so memory
    stays flat however many covers there are (under 3 GB at 384 px). A cover that
    cannot be decoded is skipped and listed, not fatal.

    Parameters
    ----------
    predictor : Predictor
        A run's network and preprocessing; its model may sit on any device.
    paths : sequence of str or Path
    batch_size : int, optional
        Covers per network batch (default: :func:`stream_batch_size` of the input side).
    n_jobs : int, optional
        Decoding threads (default: all cores).
    progress : callable, optional
        ``progress(done, total)`` after each batch; ``done`` counts skipped covers too.

    Returns
    -------
    CoverScores
    """
    paths = [str(p) for p in paths]
    batch_size = batch_size or stream_batch_size(predictor.input_px)
    device = next(predictor.model.parameters()).device
    probs, index, skipped = [], [], []
    # Threads suffice: PIL's and OpenCV's decoders and cv2.resize release the GIL.
    with ThreadPoolExecutor(max_workers=n_jobs or os.cpu_count() or 1) as pool:
        for start in range(0, len(paths), batch_size):
            batch = paths[start:start + batch_size]
            prepared = list(pool.map(lambda path: _prepare(predictor, path), batch))
            skipped += [found for found in prepared if isinstance(found, Skipped)]
            rows = [i for i, found in enumerate(prepared) if isinstance(found, torch.Tensor)]
            if rows:
                x = torch.cat([prepared[i] for i in rows]).to(device)
                del prepared                              # one batch of images at a time
                # The Predictor's lock: a Grad-CAM in another thread must not hook this pass.
                with predictor._lock:
                    probs.append(predictor.model(x).float().softmax(1).cpu().numpy())
                index += [start + i for i in rows]
            if progress:
                progress(start + len(batch), len(paths))
    n_classes = len(predictor.class_names)
    return CoverScores(np.concatenate(probs) if probs else np.zeros((0, n_classes), np.float32),
                       np.asarray(index, dtype=np.int64), tuple(skipped))


def _prepare(predictor, path: str):
    """A (1, 3, S, S) float tensor, or the Skipped entry saying why the cover cannot be used."""
    try:
        return predictor.prepare(path)
    except ImageDecodeError as exc:
        return Skipped(path, str(exc).removeprefix(f"{path}: "))


@dataclass(frozen=True)
class CoverSelection:
    """Covers of a dataset to score with a run, labelled with the run's class ids.

    Attributes
    ----------
    paths : list of str
    labels : ndarray of shape (n,), int64
        Ids into the run's class names.
    unknown_genres : dict
        Covers left out because the run does not know their genre: {genre: count}.
    """
    paths: list
    labels: np.ndarray
    unknown_genres: dict


def select_covers(dataset: Dataset, class_names, *, split: str | None = None) -> CoverSelection:
    """The covers of ``dataset`` (of one ``split``, or all) whose genre the run knows.

    Genres are matched by name, so a dataset may hold fewer genres, or others, in
    any order.

    Raises
    ------
    ValueError
        No cover has that split, or none is of a genre the run knows.

    Examples
    --------
    >>> import pandas as pd
    >>> from pathlib import Path
    >>> items = pd.DataFrame({"path": ["a.jpg", "b.jpg", "c.jpg"],
    ...                       "genre": ["jazz", "polka", "metal"], "split": ["", "", ""]})
    >>> picked = select_covers(Dataset(items, ("jazz", "metal", "polka"), Path(".")),
    ...                        ["metal", "jazz"])
    >>> picked.paths, picked.labels.tolist(), picked.unknown_genres
    (['a.jpg', 'c.jpg'], [1, 0], {'polka': 1})
    """
    items = dataset.items
    if split is not None:
        items = items[items["split"] == split]
        if items.empty:
            found = sorted(set(dataset.items["split"]) - {""})
            raise ValueError(f"{dataset.root}: no cover has split {split!r} (its splits: "
                             f"{', '.join(found) or 'none, no split column'})")
    ids = {name: i for i, name in enumerate(class_names)}
    known = items["genre"].isin(list(ids))
    unknown = dict(sorted(Counter(items.loc[~known, "genre"]).items()))
    if not known.any():
        raise ValueError(f"{dataset.root}: none of its {len(items)} covers is of a genre the run "
                         f"knows (the run: {', '.join(class_names)}; the data: "
                         f"{', '.join(unknown)})")
    items = items[known]
    return CoverSelection(items["path"].tolist(), items["genre"].map(ids).to_numpy(np.int64),
                          unknown)
