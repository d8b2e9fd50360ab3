"""What each network name stands for: its input side, normalisation and where its ImageNet
weights come from. No torch here, so that settings are checked and commands refuse bad flags
without loading it (about 3 s of CPU); :mod:`.models` builds the networks.
"""
from __future__ import annotations

from dataclasses import dataclass

MODES = ("scratch", "linear", "finetune")
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
POOLINGS = ("last", "stages")
HALF = (0.5, 0.5, 0.5)   # maps [0, 1] to [-1, 1]: the paper's PyTorch example, and TF's Lite models


@dataclass(frozen=True)
class Arch:
    """What a network name stands for.

    Attributes
    ----------
    name : str
    input_px : int
        Default input side (the paper: 32 from scratch, 224 pretrained).
    mean, std : tuple of float
        Normalisation of [0, 1] inputs.
    pretrained : str
        Where ImageNet weights come from: "" (none), "torchvision" or "package".
    members : tuple of str
        For an ensemble: the networks whose features it concatenates (each sees the
        same input); a logistic head over them is the mean of one probe per member.
    """
    name: str
    input_px: int
    mean: tuple = HALF
    std: tuple = HALF
    pretrained: str = ""
    members: tuple = ()


ARCHS = {a.name: a for a in (
    Arch("custom", 32),
    Arch("alexnet", 32, IMAGENET_MEAN, IMAGENET_STD, "torchvision"),
    Arch("resnet18", 224, IMAGENET_MEAN, IMAGENET_STD, "torchvision"),
    Arch("resnet34", 224, IMAGENET_MEAN, IMAGENET_STD, "torchvision"),
    Arch("resnet152", 224, IMAGENET_MEAN, IMAGENET_STD, "torchvision"),
    Arch("efficientnet_lite0", 224, pretrained="package"),
    Arch("efficientnet_lite1", 240, pretrained="package"),
    Arch("efficientnet_lite2", 260, pretrained="package"),
    Arch("efficientnet_lite012", 260, pretrained="package",
         members=("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")),
)}


def default_input_px(arch: str, mode: str) -> int:
    """The paper's input side: 32 for networks trained from scratch, 224 (or the
    model's own) for pretrained ones."""
    spec = arch_spec(arch)
    return 32 if mode == "scratch" else max(spec.input_px, 224)


def arch_spec(name: str) -> Arch:
    """The :class:`Arch` a network name stands for; a ValueError naming the choices otherwise."""
    if name not in ARCHS:
        raise ValueError(f"unknown network {name!r}; choose from {', '.join(ARCHS)}")
    return ARCHS[name]
