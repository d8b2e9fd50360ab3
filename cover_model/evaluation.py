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
    inputs = part.embeddings if head_only else part.images
    net = model.head if head_only else model
    chunks = []
    for start in range(0, len(inputs), EVAL_BATCH):
        x = inputs[start:start + EVAL_BATCH].to(ctx.device)
        if x.dtype == torch.uint8:
            x = x.float().div_(255)
        with ctx.autocast():
            chunks.append(net(x).float().cpu())
    logits = torch.cat(chunks)
    labels = part.labels
    return {"loss": F.cross_entropy(logits, labels).item(),
            "acc": (logits.argmax(1) == labels).float().mean().item(),
            "probs": logits.softmax(1).numpy().astype(np.float32)}
