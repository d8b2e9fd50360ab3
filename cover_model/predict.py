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
from pathlib import Path

import numpy as np
import torch
from torch import nn

from . import runs
from .images import decode_image
from .nets import build_model, last_conv_layer
from .preprocess import downsize


class Predictor:
    """A trained network with its run's preprocessing; read-only once built.

    Attributes
    ----------
    class_names : tuple of str
    input_px : int
    method : str
        Downsizing method, as in training.
    """

    def __init__(self, model: nn.Module, *, class_names, input_px: int, method: str,
                 run_dir: Path | None = None):
        self.model = model.eval()
        self.class_names = tuple(class_names)
        self.input_px, self.method, self.run_dir = input_px, method, run_dir
        # One Predictor serves every dashboard session (st.cache_resource). Grad-CAM hooks
        # and backward passes on one model from two threads at once crash the process
        # (heap corruption) or mix up activations, so network calls take turns.
        self._lock = threading.Lock()

    @classmethod
    def from_run(cls, run_dir, *, weights: str = "best") -> "Predictor":
        """Rebuild a run's network from its folder alone (config.json + safetensors).

        Raises
        ------
        RunError
            Not a run folder, unfinished, or weights that do not fit the network
            (another class count or architecture) or are not safetensors.
        """
        run_dir = Path(run_dir)
        config = runs.read_config(run_dir)
        try:
            model = build_model(config["arch"], len(config["class_names"]),
                                input_px=config["input_px"], mode=config["mode"], pretrained=False,
                                pooling=config.get("pooling", "last"),
                                predict_mirrored=config.get("predict_mirrored", False))
        except (KeyError, ValueError) as exc:
            raise runs.RunError(f"{run_dir}: config.json does not describe a network ({exc})") from None
        state = runs.load_weights(run_dir / f"{weights}.safetensors")
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            raise runs.RunError(f"{run_dir}: weights do not fit {config['arch']} with "
                                f"{len(config['class_names'])} classes "
                                f"({runs.state_dict_error(exc)})") from None
        return cls(model, class_names=config["class_names"], input_px=config["input_px"],
                   method=config.get("preprocess", "area"), run_dir=run_dir)

    def prepare(self, image) -> torch.Tensor:
        """An image (bytes, path, file or RGB array) -> a (1, 3, S, S) float tensor in [0, 1]."""
        rgb = image if isinstance(image, np.ndarray) else decode_image(
            image, draft_px=None if self.method == "random" else self.input_px)
        small = downsize(rgb, self.input_px, method=self.method, rng=np.random.default_rng(0))
        return torch.from_numpy(small).permute(2, 0, 1)[None].float().div_(255)

    @torch.no_grad()
    def probabilities(self, image) -> np.ndarray:
        """Class probabilities of shape (n_classes,), float32."""
        x = self.prepare(image)                   # decoding outside the lock: it runs in parallel
        with self._lock:
            return self.model(x).softmax(1)[0].numpy()

    def top_k(self, image, k: int = 3) -> list[tuple[str, float]]:
        """The ``k`` most likely genres with their probabilities, most likely first."""
        probs = self.probabilities(image)
        best = np.argsort(-probs)[:k]
        return [(self.class_names[i], float(probs[i])) for i in best]

    def grad_cam(self, image, *, target: int | None = None) -> np.ndarray:
        """Where the network looked: an (S, S) float32 map in [0, 1] for ``target``
        (a class id; default: the top class)."""
        x = self.prepare(image)
        with self._lock, GradCam(self.model, last_conv_layer(self.model)) as cam:
            return cam(x, target=target)


class GradCam:
    """Grad-CAM (Selvaraju et al., 2017) on one layer; hooks are removed on exit.

    >>> net = build_model("custom", 3, input_px=32)
    >>> with GradCam(net, last_conv_layer(net)) as cam:
    ...     heat = cam(torch.rand(1, 3, 32, 32))
    >>> heat.shape, float(heat.min()) >= 0, float(heat.max()) <= 1
    ((32, 32), True, True)
    """

    def __init__(self, model: nn.Module, layer: nn.Module):
        self.model, self.layer = model, layer
        self._activations = self._gradients = None
        self._hooks = []

    def __enter__(self):
        self._hooks = [self.layer.register_forward_hook(self._keep_activations),
                       self.layer.register_full_backward_hook(self._keep_gradients)]
        return self

    def __exit__(self, *exc):
        for hook in self._hooks:
            hook.remove()
        self._hooks = []

    def __call__(self, x: torch.Tensor, *, target: int | None = None) -> np.ndarray:
        # A frozen backbone has no gradients to hook; let them flow for this pass only.
        with torch.enable_grad():
            x = x.clone().requires_grad_(True)
            # One pass over the cover itself, even for a network that averages in its mirror.
            logits = self.model.head(self.model.embed(x))
            target = int(logits.argmax(1)[0]) if target is None else target
            self.model.zero_grad(set_to_none=True)
            logits[0, target].backward()
        weights = self._gradients.mean(dim=(2, 3), keepdim=True)      # one weight per channel
        cam = torch.relu((weights * self._activations).sum(1, keepdim=True))
        cam = nn.functional.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)
        cam = cam[0, 0]
        span = cam.max() - cam.min()
        return ((cam - cam.min()) / span if span > 0 else torch.zeros_like(cam)).numpy().astype(np.float32)

    def _keep_activations(self, module, inputs, output):
        self._activations = output.detach()

    def _keep_gradients(self, module, grad_input, grad_output):
        self._gradients = grad_output[0].detach()
