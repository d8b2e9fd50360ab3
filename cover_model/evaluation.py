"""Scoring a network on one split: loss, accuracy and the class probabilities."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

EVAL_BATCH = 256


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
