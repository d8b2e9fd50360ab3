"""The style prior of each genre: which palettes, layers and finish it favours.

Each prior loosely follows the paper's observations (metal dark and
high-contrast, ambient soft gradients, punk black/white plus one loud colour,
...). The dicts map a layer's name (a key of ``BACKGROUNDS``, ``MOTIFS`` or
``TEXTURES``) to a relative weight. ``render.py`` samples a cover from them.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import cv2

from . import palettes
from .text import TextStyle
from .textures import Finish


@dataclass(frozen=True)
class GenrePrior:
    """Weights over drawing primitives and parameter ranges for one genre."""

    palette: Callable
    backgrounds: dict
    motifs: dict
    n_motifs: tuple[int, int]
    text: TextStyle
    textures: dict
    finish: Finish


_SANS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX)
_SERIF = (cv2.FONT_HERSHEY_COMPLEX, cv2.FONT_HERSHEY_TRIPLEX)
_SCRIPT = (cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, cv2.FONT_HERSHEY_SCRIPT_COMPLEX)
_ANY_ANCHOR = ("top", "bottom", "center", "top_left", "bottom_left", "bottom_right", "top_right")

PRIORS: dict[str, GenrePrior] = {
    "ambient": GenrePrior(
        palettes.ambient,
        {"linear": 3, "soft_blobs": 4, "radial": 2, "landscape": 1},
        {"none": 3, "circles": 1, "horizon_sun": 2, "concentric": 1, "thin_lines": 1}, (0, 2),
        TextStyle((cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_PLAIN, cv2.FONT_HERSHEY_COMPLEX_SMALL),
                  (0.4, 0.9), (1, 1), "lower", ("bottom_left", "bottom", "top_left", "center"),
                  "contrast", show_prob=0.7),
        {"none": 2, "fine_grain": 2},
        Finish(contrast=(0.7, 0.95), saturation=(0.7, 1.0), vignette=(0.0, 0.15), blur_prob=0.6)),
    "dubstep": GenrePrior(
        palettes.dubstep,
        {"dark_glow": 4, "flat": 2, "linear": 1},
        {"neon": 5, "concentric": 1, "polygons": 1, "thin_lines": 2, "stripes": 1}, (1, 3),
        TextStyle((cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_PLAIN),
                  (0.9, 2.2), (2, 4), "upper", ("center", "top", "bottom"), "accent",
                  glow=True, box_prob=0.1),
        {"scanlines": 3, "fine_grain": 1, "none": 1},
        Finish(contrast=(1.1, 1.4), saturation=(1.1, 1.4), vignette=(0.2, 0.5), chroma_shift_prob=0.5)),
    "folk": GenrePrior(
        palettes.folk,
        {"landscape": 3, "flat": 2, "photo": 2, "linear": 1},
        {"foliage": 4, "horizon_sun": 2, "frame": 2, "circles": 1, "rays": 1}, (1, 3),
        TextStyle(_SERIF + (cv2.FONT_HERSHEY_SCRIPT_SIMPLEX,), (0.6, 1.4), (1, 2), "title",
                  ("top", "bottom"), "accent", box_prob=0.1),
        {"paper": 5, "film": 2},
        Finish(contrast=(0.8, 1.0), saturation=(0.7, 0.95), vignette=(0.1, 0.35),
               tint_hue=(25, 40), tint_strength=(0.1, 0.3))),
    "hiphop/rap": GenrePrior(
        palettes.hiphop,
        {"flat": 4, "photo": 2, "radial": 1},
        {"blocks": 3, "portrait": 3, "label_box": 3, "stripes": 1}, (2, 3),
        TextStyle((cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_TRIPLEX, cv2.FONT_HERSHEY_SIMPLEX),
                  (1.5, 3.5), (4, 9), "upper", ("top", "bottom", "center", "top_left"), "accent",
                  show_prob=0.95, box_prob=0.5, lines=(1, 3)),
        {"none": 2, "fine_grain": 2},
        Finish(contrast=(1.1, 1.4), saturation=(1.0, 1.2), vignette=(0.2, 0.5))),
    "jazz": GenrePrior(
        palettes.jazz,
        {"flat": 6, "linear": 1},
        {"blocks": 5, "circles": 3, "stripes": 2, "concentric": 1}, (2, 4),
        TextStyle(_SANS + (cv2.FONT_HERSHEY_COMPLEX,), (1.0, 2.5), (2, 5), "lower",
                  ("top_left", "bottom_left", "top"), "contrast", box_prob=0.4),
        {"none": 3, "fine_grain": 1, "paper": 1},
        Finish(contrast=(1.0, 1.15), saturation=(1.0, 1.2))),
    "metal": GenrePrior(
        palettes.metal,
        {"photo": 2, "radial": 2, "linear": 1, "flat": 1, "dark_glow": 1},
        {"spikes": 5, "cracks": 2, "concentric": 1, "portrait": 1}, (1, 3),
        TextStyle((cv2.FONT_HERSHEY_SCRIPT_COMPLEX,) + _SERIF, (1.3, 3.0), (3, 6), "upper",
                  ("top",), "accent", show_prob=0.95, outline=True, lines=(1, 1)),
        {"grunge": 5, "film": 2},
        Finish(contrast=(1.3, 1.8), gamma=(1.1, 1.5), saturation=(0.4, 0.9), vignette=(0.4, 0.8),
               tint_hue=(200, 230), tint_strength=(0.0, 0.2))),
    "pop": GenrePrior(
        palettes.pop,
        {"flat": 3, "linear": 3, "radial": 1, "soft_blobs": 1},
        {"confetti": 3, "circles": 3, "portrait": 2, "stripes": 2, "polygons": 2}, (2, 4),
        TextStyle(_SANS + (cv2.FONT_HERSHEY_TRIPLEX,), (1.2, 3.0), (3, 6), "title", _ANY_ANCHOR,
                  "accent", box_prob=0.2, italic_prob=0.4),
        {"none": 5, "fine_grain": 1},
        Finish(contrast=(1.0, 1.2), gamma=(0.8, 1.0), saturation=(1.2, 1.6))),
    "punk": GenrePrior(
        palettes.punk,
        {"flat": 5, "photo": 1},
        {"collage": 5, "stripes": 1, "blocks": 1, "polygons": 1}, (1, 3),
        TextStyle((cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_SIMPLEX), (1.5, 3.0), (4, 8), "upper",
                  ("top_left", "bottom_left", "center"), "contrast", show_prob=0.95,
                  ransom_prob=0.6, box_prob=0.3),
        {"xerox": 6, "fine_grain": 1},
        Finish(contrast=(1.3, 1.9), saturation=(1.0, 1.4), posterize_prob=0.5)),
    "rock": GenrePrior(
        palettes.rock,
        {"photo": 5, "landscape": 2, "linear": 1},
        {"band": 3, "frame": 2, "none": 2, "portrait": 1, "horizon_sun": 1}, (1, 2),
        TextStyle(_SANS + (cv2.FONT_HERSHEY_COMPLEX,), (0.8, 1.8), (2, 3), "upper",
                  ("top_left", "top_right", "bottom_left", "bottom_right", "top"), "contrast"),
        {"film": 5, "fine_grain": 1},
        Finish(contrast=(0.85, 1.1), saturation=(0.5, 0.85), vignette=(0.2, 0.5))),
    "soul": GenrePrior(
        palettes.soul,
        {"radial": 5, "linear": 1, "photo": 1},
        {"portrait": 4, "rays": 3, "circles": 2, "concentric": 1}, (1, 3),
        TextStyle(_SCRIPT + (cv2.FONT_HERSHEY_TRIPLEX,), (1.0, 2.2), (2, 3), "title",
                  ("top", "bottom"), "accent", italic_prob=0.3),
        {"film": 4, "fine_grain": 1},
        Finish(vignette=(0.35, 0.7), saturation=(1.0, 1.2), blur_prob=0.3,
               tint_hue=(20, 40), tint_strength=(0.15, 0.35))),
}
