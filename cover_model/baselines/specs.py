"""What a feature matrix of the baselines is made from: :class:`FeatureSpec`, and the kinds.

Both :mod:`.features` (pixels, histograms) and :mod:`.embeddings` (a pretrained
network, torch) compute from a spec; neither imports the other to name one. The
kinds are a registry, :data:`FEATURE_KINDS`, that :mod:`.features` fills with
its compute functions (the package imports it first), so other steps can add
theirs: ``register_feature_kind(name, compute)``.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Callable

from ..atomic_files import read_json
from ..data.feature_pack import INFO_FILE, PACK_DIR
from ..data.preprocess import METHODS

RANDOM = "random"        # the paper's random grid; every other method is "resize"
EMBEDDING = "embedding"
SHIPPED = "shipped"      # the shipped model's extractor, as a features-only dataset stores it
FEATURE_KINDS: dict[str, Callable] = {}     # name -> compute(dataset, spec, progress); filled by .features


class FeatureError(ValueError):
    """These features cannot be computed here (weights or a module missing).

    :func:`cover_model.baselines.run_baselines` reports it on every model of
    those features and carries on with the others.
    """


@dataclass(frozen=True)
class FeatureSpec:
    """One way of turning covers into feature vectors.

    Attributes
    ----------
    kind : str
        ``pixels``, ``color_hist``, ``gradient_hist``, ``embedding`` (a
        pretrained network's features), ``shipped`` (the shipped model's
        extractor's features, stored by a features-only dataset:
        :func:`shipped_spec`), or a registered kind.
    size_px : int
        Covers are first downsized to ``size_px x size_px`` (the paper: 32;
        also 35, 70, 100).
    method : str
        ``random`` (the paper's random grid of pixels) or an OpenCV
        interpolation (``cubic``, ``area``, ...): Table 2's "resize".
    seed : int
        Seed of the random grid.
    bins : int
        Histogram bins (per channel for colour); 0 means the colour
        package's own default. Ignored by ``pixels``.
    space : str
        Colour space of the colour histograms (``rgb``, ``hsv``, ``lab``).
    network : str
        The pretrained network of ``embedding`` and ``shipped`` features (e.g.
        ``efficientnet_lite0``); empty for every other kind. Its covers are
        resized to ``size_px``: :func:`.embeddings.embedding_spec` picks the
        network's own input side.
    """
    kind: str = "pixels"
    size_px: int = 32
    method: str = "cubic"
    seed: int = 0
    bins: int = 0
    space: str = "rgb"
    network: str = ""

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; choose from {', '.join(METHODS)}")
        if self.kind not in FEATURE_KINDS:
            raise ValueError(f"unknown feature kind {self.kind!r}; choose from {', '.join(FEATURE_KINDS)}")
        if self.kind == EMBEDDING:
            check_embedding_spec(self)
        elif self.network and self.kind != SHIPPED:
            raise ValueError(f"a network is only for embedding features, not {self.kind!r}")

    @property
    def preprocessing(self) -> str:
        """``random`` or ``resize``: the two column groups of the paper's Table 2."""
        return RANDOM if self.method == RANDOM else "resize"

    def label(self) -> str:
        """A short human-readable name, e.g. ``pixels 32x32 cubic``."""
        extra = ""
        if self.kind not in ("pixels", EMBEDDING, SHIPPED):
            space = f", {self.space}" if self.kind == "color_hist" else ""
            extra = f", {self.bins or 'default'} bins{space}"
        return f"{self.short_label()} {self.method}{extra}"

    def short_label(self) -> str:
        """Kind and grid, e.g. ``pixels 32x32`` or ``efficientnet_lite0 embedding 224x224``."""
        network = f"{self.network} " if self.network else ""
        return f"{network}{self.kind} {self.size_px}x{self.size_px}"

    def to_dict(self) -> dict:
        values = asdict(self)
        if not self.network:
            # Left out when empty, so the keys of results cached before it existed still hold.
            del values["network"]
        return values


def register_feature_kind(name: str, compute: Callable) -> None:
    """Add a feature kind: ``compute(dataset, spec, progress) -> (X, index)``.

    ``X`` is an array of shape (n, n_features) and ``index`` the rows of
    ``dataset.items`` it covers. A kind that cannot run here (weights or a
    module missing) raises :class:`FeatureError`.
    """
    FEATURE_KINDS[name] = compute


def embedding_networks() -> tuple[str, ...]:
    """The networks with ImageNet weights to embed covers with (not the custom CNN)."""
    from ..networks.archs import ARCHS
    return tuple(name for name, arch in ARCHS.items() if arch.pretrained)


def embedding_spec(network: str, *, method: str = "area", seed: int = 0) -> FeatureSpec:
    """The features of ``network``, at its own input side (224 px for Lite0).

    ``method`` defaults to training's default preprocessing, as in a linear run.

    >>> spec = embedding_spec("efficientnet_lite0")
    >>> spec.size_px, spec.method, spec.label()
    (224, 'area', 'efficientnet_lite0 embedding 224x224 area')
    """
    from ..networks.archs import default_input_px
    check_network(network)
    return FeatureSpec(kind=EMBEDDING, network=network, size_px=default_input_px(network, "linear"),
                       method=method, seed=seed)


def shipped_spec() -> FeatureSpec:
    """The shipped model's extractor's pooled features, as the real covers' features pack
    stores them: its network, input side and interpolation, as the pack says (e.g.
    ``efficientnet_lite2 shipped 300x300 area``). Without the pack (a partial checkout) the
    spec names no network, and computing it says what is missing.
    """
    extractor = (read_json(PACK_DIR / INFO_FILE) or {}).get("extractor")
    if extractor is None:
        return FeatureSpec(kind=SHIPPED)
    return FeatureSpec(kind=SHIPPED, network=extractor["arch"], size_px=extractor["input_px"],
                       method=extractor["preprocess"])


def check_network(network: str) -> None:
    """A ValueError naming the choices unless ``network`` has ImageNet weights to embed with."""
    if network not in embedding_networks():
        raise ValueError(f"unknown network {network!r} for embeddings; choose from "
                         f"{', '.join(embedding_networks())}")


def check_embedding_spec(spec: FeatureSpec) -> None:
    """Called by :class:`FeatureSpec` for ``embedding`` specs."""
    check_network(spec.network)
    if spec.method == RANDOM:
        raise ValueError("embedding features resize the covers to the network's input; "
                         "'random' (a grid of pixels) is for pixel features")

