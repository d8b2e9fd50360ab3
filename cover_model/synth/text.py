"""Text-like blocks: random letters in Hershey fonts stand in for titles.

No real words are drawn; what a classifier can learn from is how a genre
letters its covers (font, size, case, placement, boxes, glow), described by a
``TextStyle`` in each genre prior and drawn by ``draw_text``.
"""
from __future__ import annotations

import string
from dataclasses import dataclass

import cv2
import numpy as np

from .palettes import Colour, accent, any_colour, contrasting

_ALL_FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_PLAIN, cv2.FONT_HERSHEY_DUPLEX,
              cv2.FONT_HERSHEY_COMPLEX, cv2.FONT_HERSHEY_TRIPLEX, cv2.FONT_HERSHEY_SCRIPT_SIMPLEX,
              cv2.FONT_HERSHEY_SCRIPT_COMPLEX)


@dataclass(frozen=True)
class TextStyle:
    """How a genre letters its covers (scales are Hershey scales at 350 px)."""

    fonts: tuple
    scale: tuple[float, float]
    thickness: tuple[int, int]
    case: str  # "upper", "lower" or "title"
    anchors: tuple[str, ...]
    colour: str  # "accent" or "contrast"
    show_prob: float = 0.9
    box_prob: float = 0.0
    glow: bool = False
    outline: bool = False
    ransom_prob: float = 0.0
    italic_prob: float = 0.0
    lines: tuple[int, int] = (1, 2)


def random_word(rng, lo: int = 3, hi: int = 9) -> str:
    """``lo`` to ``hi - 1`` random lowercase letters."""
    letters = rng.choice(list(string.ascii_lowercase), size=int(rng.integers(lo, hi)))
    return "".join(letters)


def _cased(text: str, case: str) -> str:
    return {"upper": text.upper(), "lower": text.lower(), "title": text.title()}[case]


def _fit_scale(text, font, scale, thickness, max_width) -> float:
    """Shrink ``scale`` until ``text`` fits in ``max_width`` pixels."""
    width = cv2.getTextSize(text, font, scale, thickness)[0][0]
    return scale if width <= max_width else scale * max_width / width


# --------------------------------------------------------------------------
# Layout: anchors such as "top_left" or "center" -> pixel positions
# --------------------------------------------------------------------------

def _line_origin(anchor: str, size: int, width: int, y: int) -> tuple[int, int]:
    margin = int(size * 0.06)
    if anchor.endswith("left"):
        return margin, y
    if anchor.endswith("right"):
        return size - margin - width, y
    return (size - width) // 2, y


def _first_baseline(anchor: str, size: int, block_height: int, line_height: int) -> int:
    if anchor.startswith("top"):
        return int(size * 0.08) + line_height
    if anchor.startswith("bottom"):
        return size - int(size * 0.08) - block_height + line_height
    return (size - block_height) // 2 + line_height


def _text_colour(rng, img, style: TextStyle, palette) -> Colour:
    if style.colour == "accent":
        return accent(rng, palette)
    return contrasting(tuple(img.reshape(-1, 3).mean(axis=0)))


# --------------------------------------------------------------------------
# Drawing
# --------------------------------------------------------------------------

def _draw_ransom_line(rng, img, text, origin, height, palette) -> None:
    # Each letter cut from a different "magazine": own font, size and box.
    x, y = origin
    for letter in text:
        font = _ALL_FONTS[int(rng.integers(0, 5))]
        scale = height / 22 * rng.uniform(0.8, 1.2)
        (w, h), _ = cv2.getTextSize(letter, font, scale, 2)
        box_colour = any_colour(rng, palette)
        dy = int(rng.integers(-4, 5))
        cv2.rectangle(img, (x - 2, y - h - 4 + dy), (x + w + 2, y + 4 + dy), box_colour, -1)
        cv2.putText(img, letter, (x, y + dy), font, scale, contrasting(box_colour), 2, cv2.LINE_AA)
        x += w + 6


def _draw_ransom_block(rng, img, texts, anchor, palette) -> None:
    size = img.shape[0]
    line_h = int(size * rng.uniform(0.07, 0.12))
    y = _first_baseline(anchor, size, int(len(texts) * line_h * 1.4), line_h)
    for text in texts:
        _draw_ransom_line(rng, img, text.replace(" ", ""), (int(size * 0.08), y), line_h, palette)
        y += int(line_h * 1.4)


def _draw_box_behind(rng, img, anchor, sizes, top, block_h, colour, palette) -> None:
    """A solid box under a text block whose first line starts at pixel row ``top``."""
    size = img.shape[0]
    box_colour = contrasting(colour) if rng.random() < 0.5 else accent(rng, palette)
    pad = int(size * 0.02)
    x0 = min(_line_origin(anchor, size, w, 0)[0] for w, _ in sizes)
    x1 = max(_line_origin(anchor, size, w, 0)[0] + w for w, _ in sizes)
    cv2.rectangle(img, (x0 - pad, top - pad), (x1 + pad, top + block_h + pad), box_colour, -1)


def draw_text(rng, img: np.ndarray, palette, style: TextStyle) -> None:
    """Maybe draw a title block (and an artist line) on ``img`` in place."""
    if rng.random() > style.show_prob:
        return
    size = img.shape[0]
    anchor = str(rng.choice(style.anchors))
    n_lines = int(rng.integers(style.lines[0], style.lines[1] + 1))
    texts = [_cased(" ".join(random_word(rng) for _ in range(int(rng.integers(1, 3)))), style.case)
             for _ in range(n_lines)]
    if rng.random() < style.ransom_prob:
        _draw_ransom_block(rng, img, texts, anchor, palette)
        return
    font = int(rng.choice(style.fonts)) | (cv2.FONT_ITALIC if rng.random() < style.italic_prob else 0)
    thickness = max(1, int(rng.integers(style.thickness[0], style.thickness[1] + 1) * size / 350))
    base_scale = rng.uniform(*style.scale) * size / 350
    # Later lines are smaller: title first, then artist.
    scales = [_fit_scale(t, font, base_scale * (0.6 if i else 1.0), thickness, size * 0.88)
              for i, t in enumerate(texts)]
    sizes = [cv2.getTextSize(t, font, s, thickness)[0] for t, s in zip(texts, scales)]
    gap = int(size * 0.03) + thickness  # thick strokes spill past getTextSize's box
    block_h = sum(h for _, h in sizes) + gap * (len(sizes) - 1)
    y = _first_baseline(anchor, size, block_h, sizes[0][1])
    colour = _text_colour(rng, img, style, palette)
    layer = np.zeros_like(img) if style.glow else None
    if rng.random() < style.box_prob:
        _draw_box_behind(rng, img, anchor, sizes, y - sizes[0][1], block_h, colour, palette)
    for i, (text, scale, (w, h)) in enumerate(zip(texts, scales, sizes)):
        if i:
            y += gap + h
        origin = _line_origin(anchor, size, w, y)
        if style.outline:
            cv2.putText(img, text, origin, font, scale, contrasting(colour), thickness + 4, cv2.LINE_AA)
        target = img if layer is None else layer
        cv2.putText(target, text, origin, font, scale, colour, thickness, cv2.LINE_AA)
    if layer is not None:
        cv2.add(img, cv2.GaussianBlur(layer, (0, 0), size * 0.012), dst=img)
        cv2.add(img, layer, dst=img)
