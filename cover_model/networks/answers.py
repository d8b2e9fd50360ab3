"""What every predictor shares, torch or ONNX: a run's input transform, top-k, the CLI's lines.

A predictor holds a network behind :meth:`GenrePredictor.probabilities`; this base gives
it the run's own input transform (:func:`cover_model.data.images.cover_input`, the one path
from a file to a model's input) and the ranking. It imports no torch, so the light ONNX
image uses it too.
"""
from __future__ import annotations

import sys

import numpy as np

from ..data.images import ImageDecodeError, cover_input


class GenrePredictor:
    """A network with its run's preprocessing; subclasses give :meth:`probabilities`.

    Attributes
    ----------
    class_names : tuple of str
    input_px : int
        The network's input side.
    method : str
        Downsizing method, as in training.
    """

    def __init__(self, *, class_names, input_px: int, method: str):
        self.class_names = tuple(class_names)
        self.input_px, self.method = input_px, method

    def prepare(self, image) -> np.ndarray:
        """An image (bytes, path, file or RGB array) -> a (1, 3, S, S) float32 array in [0, 1]."""
        return cover_input(image, input_px=self.input_px, method=self.method)

    def probabilities(self, image) -> np.ndarray:
        """Class probabilities of shape (n_classes,), float32."""
        raise NotImplementedError

    def top_k(self, image, k: int = 3) -> list[tuple[str, float]]:
        """The ``k`` most likely genres with their probabilities, most likely first."""
        return ranked(self.probabilities(image), self.class_names, k)


def ranked(probabilities: np.ndarray, class_names, k: int) -> list[tuple[str, float]]:
    """The ``k`` most likely (genre, probability) pairs, most likely first."""
    best = np.argsort(-probabilities)[:k]
    return [(class_names[i], float(probabilities[i])) for i in best]


def print_top_k(predictor: GenrePredictor, images, *, k: int) -> int:
    """What ``predict`` prints: one line per cover; a cover that cannot be decoded is one
    error line, and only all of them failing fails the command (exit status 2)."""
    failures = 0
    for image in images:
        try:
            answer = predictor.top_k(image, k=k)
        except ImageDecodeError as exc:           # the message starts with the file's name
            print(f"error: {exc}", file=sys.stderr)
            failures += 1
            continue
        print(f"{image}: " + ", ".join(f"{genre} {p:.1%}" for genre, p in answer))
    return 2 if failures == len(images) else 0
