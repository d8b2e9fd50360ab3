"""Prediction from a finished run: top-k genres for one cover, and Grad-CAM.

    python -m cover_model predict checkpoints/<run-id> cover.jpg [more.jpg ...]

A :class:`Predictor` applies exactly the run's own preprocessing (decode,
downsize to its input side with its method) before its network.

    >>> predictor = Predictor.from_run("checkpoints/<run-id>")      # doctest: +SKIP
    >>> predictor.top_k("cover.jpg", k=3)                            # doctest: +SKIP
    [('metal', 0.41), ('punk', 0.22), ('rock', 0.12)]
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import runs
from .answers import GenrePredictor, ranked
from .models import build_model, last_conv_layer, last_conv_layers  # noqa: F401 (the doctests)


class Predictor(GenrePredictor):
    """A trained network with its run's preprocessing (:class:`GenrePredictor`: ``class_names``,
    ``input_px``, ``method``, ``top_k``); Grad-CAM too. Read-only once built."""

    def __init__(self, model: nn.Module, *, class_names, input_px: int, method: str,
                 run_dir: Path | None = None):
        super().__init__(class_names=class_names, input_px=input_px, method=method)
        self.model, self.run_dir = model.eval(), run_dir
        # One Predictor serves every dashboard session (st.cache_resource). Grad-CAM hooks
        # and backward passes on one model from two threads at once crash the process
        # (heap corruption) or mix up activations, so network calls take turns.
        self._lock = threading.Lock()

    @classmethod
    def from_run(cls, run_dir, *, weights: str = "best") -> "Predictor":
        """Rebuild a run's network from its folder alone (its config and weights).

        Raises
        ------
        RunError
            Not a run folder, unfinished, or weights that do not fit the network
            (another class count or architecture) or are not safetensors.
        """
        run = runs.Run(run_dir)
        model, args = run.load_model(weights=weights), run.model_args()
        return cls(model, class_names=args.class_names, input_px=args.input_px,
                   method=run.train_config().preprocess, run_dir=run.path)

    def prepare(self, image) -> torch.Tensor:
        """An image (bytes, path, file or RGB array) -> a (1, 3, S, S) float tensor in [0, 1]."""
        # The ONNX predictor shares this step, torch-free: both see the same pixels.
        return torch.from_numpy(super().prepare(image))

    @torch.no_grad()
    def probabilities(self, image) -> np.ndarray:
        """Class probabilities of shape (n_classes,), float32."""
        x = self.prepare(image)                   # decoding outside the lock: it runs in parallel
        with self._lock:
            return self.model(x).softmax(1)[0].numpy()

    @torch.no_grad()
    def features(self, image) -> np.ndarray:
        """What the head reads of a cover, (d,): :class:`Explanation`'s ``features`` from a
        forward pass alone (no Grad-CAM), to place a cover among others by this network."""
        x = self.prepare(image)
        with self._lock:
            return self.model.embed(x)[0].numpy()

    def grad_cam(self, image, *, target: int | None = None) -> np.ndarray:
        """Where the network looked: an (S, S) float32 map in [0, 1] for ``target``
        (a class id; default: the top class)."""
        return self.explain(image, target=target).grad_cam

    def explain(self, image, *, k: int = 3, target: int | None = None) -> "Explanation":
        """Top-``k`` genres and Grad-CAM from one forward pass (the dashboard's answer).

        Grad-CAM needs the gradient of the target logit at the last convolution only,
        so the pass that gives the probabilities also gives the map: on the shipped
        model this halves the time of ``top_k`` followed by ``grad_cam``.
        """
        x = self.prepare(image)
        pooled = []          # what the head reads: the cover's features, for the style map
        keep = self.model.head.register_forward_hook(lambda _m, inputs, _out: pooled.append(inputs[0]))
        with self._lock, GradCam(self.model, last_conv_layers(self.model)) as cam:
            try:
                heat, logits = cam.explain(x, target=target)
            finally:
                keep.remove()
            if self.model.predict_mirrored:          # as the network predicts: mean with its mirror
                with torch.no_grad():
                    logits = (logits + self.model.head(self.model.embed(x.flip(-1)))[0]) / 2
        probs = logits.softmax(0).numpy()
        return Explanation(ranked(probs, self.class_names, k), probs, heat,
                           pooled[0][0].detach().numpy())


@dataclass(frozen=True)
class Explanation:
    """One cover's answer: ``top_k`` (genre, probability) pairs, most likely first; every
    genre's ``probabilities`` (n_classes,); ``grad_cam`` (S, S) in [0, 1] for the top genre;
    ``features`` (d,), the pooled features the head read (of the cover, not its mirror)."""
    top_k: list
    probabilities: np.ndarray
    grad_cam: np.ndarray
    features: np.ndarray


class GradCam:
    """Grad-CAM (Selvaraju et al., 2017) on one layer, or on one layer per member of an
    ensemble (their maps add up, as their features feed one linear head); hooks are
    removed on exit.

    >>> net = build_model("custom", 3, input_px=32)
    >>> with GradCam(net, last_conv_layer(net)) as cam:
    ...     heat = cam(torch.rand(1, 3, 32, 32))
    >>> heat.shape, float(heat.min()) >= 0, float(heat.max()) <= 1
    ((32, 32), True, True)
    """

    def __init__(self, model: nn.Module, layers):
        self.model = model
        self.layers = list(layers) if isinstance(layers, (list, tuple)) else [layers]
        self._activations = []
        self._hooks = []

    def __enter__(self):
        self._hooks = [layer.register_forward_hook(self._keep_activations) for layer in self.layers]
        return self

    def __exit__(self, *exc):
        for hook in self._hooks:
            hook.remove()
        self._hooks = []

    def __call__(self, x: torch.Tensor, *, target: int | None = None) -> np.ndarray:
        return self.explain(x, target=target)[0]

    def explain(self, x: torch.Tensor, *, target: int | None = None) -> tuple[np.ndarray, torch.Tensor]:
        """The map for ``target`` (default: the top class) and the logits of ``x``, (n_classes,)."""
        self._activations = []
        with torch.enable_grad():
            # One pass over the cover itself, even for a network that averages in its mirror.
            logits = self.model.head(self.model.embed(x))
            target = int(logits.argmax(1)[0]) if target is None else target
            gradients = torch.autograd.grad(logits[0, target], self._activations)
        grid = self._activations[0].shape[-2:]
        cam = sum(nn.functional.interpolate(                            # members on one grid
            (g.mean(dim=(2, 3), keepdim=True) * a.detach()).sum(1, keepdim=True),  # a weight per channel
            size=grid, mode="bilinear", align_corners=False)
            for g, a in zip(gradients, self._activations))
        cam = nn.functional.interpolate(torch.relu(cam), size=x.shape[-2:], mode="bilinear",
                                        align_corners=False)[0, 0]
        span = cam.max() - cam.min()
        heat = (cam - cam.min()) / span if span > 0 else torch.zeros_like(cam)
        return heat.numpy().astype(np.float32), logits[0].detach()

    def _keep_activations(self, module, inputs, output):
        # The layer's output becomes a leaf of the graph: the backward pass runs from the
        # logit to here and no further (a frozen backbone records nothing before it).
        leaf = output.detach().requires_grad_(True)
        self._activations.append(leaf)
        return leaf
