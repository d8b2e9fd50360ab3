"""The baselines job's settings: :class:`BaselineConfig`, behind the CLI flags and the page's widgets.

    python -m cover_model baselines DATA --models ridge,knn --features pixels,color_hist

A list setting (models, features, methods, networks, sweep sizes and models) is a
tuple: a comma list or a repeated flag on the command line, a multiselect on the page.
"""
from __future__ import annotations

import ast
import dataclasses
import re
from dataclasses import dataclass

from ..config import Config, option, option_problems
from ..data.preprocess import METHODS
from .specs import EMBEDDING, RANDOM, SHIPPED, FeatureSpec, embedding_spec, shipped_spec

SIZES_PX = (8, 16, 24, 32, 35, 48, 64, 70, 100)     # the paper's 32, 35, 70, 100 and smaller grids


@dataclass(frozen=True)
class BaselineConfig(Config):
    """The baselines job: which models, on which features; the paper's defaults."""
    models: tuple[str, ...] = option(("all",), "model names or groups: paper (Table 2's ten), "
                                     "modern (tuned logistic regression, uncapped random forest), "
                                     "reference (the most frequent genre), all")
    features: tuple[str, ...] = option(("pixels",), "feature kinds: pixels, color_hist, "
                                       "gradient_hist, embedding (a pretrained network's features; "
                                       "see networks), shipped (the shipped model's extractor's "
                                       "features, stored with the real covers: DATA real-features)")
    size_px: int = option(32, "covers are downsized to S x S first (the paper: 32; up to 100)",
                          ge=2, le=256, ticks=SIZES_PX)
    methods: tuple[str, ...] = option(("random", "cubic"), "Table 2's two preprocessings: 'random' "
                                      "(a random grid of pixels) and an OpenCV interpolation for "
                                      "'resize' (cubic, area, ...)", choices=METHODS)
    seed: int = option(0, "seed of the random pixel grid", ge=0)
    bins: int = option(0, "histogram bins (per channel for colour); 0 = the colour module's default",
                       ge=0)
    color_space: str = option("rgb", "colour space of the colour histograms", choices=("rgb", "hsv", "lab"))
    networks: tuple[str, ...] = option(("efficientnet_lite0",), "networks of the embedding features: "
                                       "efficientnet_lite0/1/2 (weights come with their packages), "
                                       "resnet18/34/152, alexnet (torchvision weights, from the torch "
                                       "hub cache). Covers are resized to each network's own input "
                                       "side (224 px for Lite0) with the resize method of 'methods'; "
                                       "embedding thousands of covers takes minutes on CPU, once "
                                       "(cached)")
    params: str = option("", "model settings over the paper's, e.g. 'svm.C=10,qda.reg_param=0.1'")
    pca: str = option("auto", "'auto': PCA to 256 components where a model needs it on wide "
                      "inputs (said in the table); 'none'; or a component count for every model")
    n_jobs: int = option(0, "models fitted at once in worker processes (0 = all cores)", ge=0)
    sweep_sizes: tuple[int, ...] = option((), "grid sizes of the overfitting sweep, e.g. 32,70,100 "
                                          "(empty: none)", ge=2, le=256, ticks=SIZES_PX)
    sweep_models: tuple[str, ...] = option(("ridge",), "models of the sweep")
    sweep_method: str = option("cubic", "preprocessing of the sweep", choices=METHODS)

    def problems(self) -> list[str]:
        if option_problems(self):     # named already; what follows assumes each field is valid
            return []
        try:
            self.feature_specs()          # kinds, networks, methods
            self.model_names()
            _models().resolve_models(self.sweep_models)
            self.model_params()
            self.pca_components()
        except ValueError as exc:
            return [str(exc)]
        return []

    def without_sweep(self) -> "BaselineConfig":
        """The main table's job alone: the sweep's fits are run only when asked for."""
        return dataclasses.replace(self, sweep_sizes=())

    def model_names(self) -> tuple[str, ...]:
        return _models().resolve_models(self.models)

    def sweep_model_names(self) -> tuple[str, ...]:
        """The sweep's models, none when it has no sizes."""
        return _models().resolve_models(self.sweep_models) if self.sweep_sizes else ()

    def feature_specs(self) -> list[FeatureSpec]:
        specs = []
        for kind in self.features:
            if kind == EMBEDDING:
                specs += self.embedding_specs()
                continue
            if kind == SHIPPED:               # as stored: its own input side and interpolation
                specs.append(shipped_spec())
                continue
            specs += [FeatureSpec(kind=kind, size_px=self.size_px, method=method, seed=self.seed,
                                  bins=self.bins, space=self.color_space) for method in self.methods]
        return specs

    def embedding_specs(self) -> list[FeatureSpec]:
        """Each network at its own input side, by each resize method (a random grid is for pixels)."""
        methods = [m for m in self.methods if m != RANDOM]
        if not methods:
            raise ValueError("embedding features need a resize method in 'methods' (e.g. area or cubic); "
                             "'random' is a grid of pixels")
        return [embedding_spec(network, method=method, seed=self.seed)
                for network in self.networks for method in methods]

    def sweep_specs(self) -> list[FeatureSpec]:
        return [FeatureSpec(size_px=size, method=self.sweep_method, seed=self.seed)
                for size in self.sweep_sizes]

    def model_params(self) -> dict[str, dict]:
        return parse_params(self.params)

    def pca_components(self):
        if self.pca in ("auto", "none"):
            return None if self.pca == "none" else "auto"
        if not self.pca.isdigit() or int(self.pca) < 1:
            raise ValueError(f"pca must be 'auto', 'none' or a positive integer, got {self.pca!r}")
        return int(self.pca)


def parse_params(text: str) -> dict[str, dict]:
    """``'svm.C=10,qda.reg_param=0.1'`` -> ``{'svm': {'C': 10}, 'qda': {'reg_param': 0.1}}``.

    Values are Python literals (numbers, strings, None, lists); anything else
    is taken as a string. Commas inside brackets belong to the value.

    >>> parse_params("logistic.Cs=[0.1, 1],svm.kernel=linear")
    {'logistic': {'Cs': [0.1, 1]}, 'svm': {'kernel': 'linear'}}
    """
    out: dict[str, dict] = {}
    for item in re.split(r",(?![^\[\(]*[\]\)])", text):
        if not item.strip():
            continue
        name, sep, value = item.partition("=")
        model, dot, setting = name.strip().partition(".")
        if not (sep and dot and setting):
            raise ValueError(f"bad model setting {item.strip()!r}; write MODEL.SETTING=VALUE, e.g. svm.C=10")
        _models().get_spec(model)
        try:
            parsed = ast.literal_eval(value.strip())
        except (ValueError, SyntaxError):
            parsed = value.strip()
        out.setdefault(model, {})[setting] = parsed
    return out


def _models():
    # .models imports scikit-learn: read when a config is checked, not when the CLI builds
    # its flags from this class.
    from . import models
    return models
