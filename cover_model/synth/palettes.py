"""Colours: small helpers, and one palette generator per genre.

A palette is a list of RGB colours (0-255 floats). Entries 0-1 are meant for
the background, entries 2 onwards are accents; every layer of a cover
(background, motifs, text, finish) picks its colours from the same palette,
which is what makes a cover look like one design.
"""
from __future__ import annotations

import colorsys

import numpy as np

Colour = tuple  # (r, g, b) floats in 0-255


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------

def hsv(hue_deg: float, sat: float, val: float) -> Colour:
    """An RGB colour (0-255 floats) from hue in degrees and sat/val in 0-1.

    Hue wraps around and sat/val are clipped, so callers can jitter freely:

    >>> hsv(0, 1, 1)
    (255.0, 0.0, 0.0)
    >>> hsv(360 + 120, 1.5, 1) == hsv(120, 1, 1)
    True
    """
    r, g, b = colorsys.hsv_to_rgb((hue_deg % 360.0) / 360.0,
                                  min(max(sat, 0.0), 1.0), min(max(val, 0.0), 1.0))
    return (r * 255.0, g * 255.0, b * 255.0)


def accent(rng: np.random.Generator, palette: list) -> Colour:
    """One of the palette's accent colours (entries 2 onwards)."""
    return palette[int(rng.integers(2, len(palette)))]


def any_colour(rng: np.random.Generator, palette: list) -> Colour:
    return palette[int(rng.integers(0, len(palette)))]


def luma(colour: Colour) -> float:
    r, g, b = colour
    return 0.299 * r + 0.587 * g + 0.114 * b


def contrasting(colour: Colour) -> Colour:
    """Near-black or near-white, whichever reads better on ``colour``.

    >>> contrasting((255.0, 255.0, 0.0))
    (20.0, 20.0, 20.0)
    """
    return (20.0, 20.0, 20.0) if luma(colour) > 128 else (240.0, 240.0, 235.0)


# --------------------------------------------------------------------------
# Per-genre palettes: rng -> [background, background, accent, accent, ...]
# --------------------------------------------------------------------------

def ambient(rng):
    hue = rng.uniform(0, 360)

    def soft(spread, v_lo):  # pale colours near one hue
        return hsv(hue + rng.uniform(-spread, spread), rng.uniform(0.1, 0.45), rng.uniform(v_lo, 0.97))

    return [soft(20, 0.6), soft(40, 0.5)] + [soft(60, 0.55) for _ in range(3)]


def dubstep(rng):
    neon_hues = rng.choice([185, 200, 290, 310, 130, 80, 260], size=3)
    return ([hsv(rng.uniform(220, 290), rng.uniform(0.3, 0.8), rng.uniform(0.02, 0.12)),
             hsv(rng.uniform(200, 300), rng.uniform(0.4, 0.9), rng.uniform(0.08, 0.25))]
            + [hsv(h, rng.uniform(0.8, 1.0), rng.uniform(0.9, 1.0)) for h in neon_hues])


def folk(rng):
    cream = hsv(rng.uniform(30, 50), rng.uniform(0.15, 0.45), rng.uniform(0.6, 0.92))
    earth = hsv(rng.uniform(15, 45), rng.uniform(0.3, 0.6), rng.uniform(0.3, 0.65))
    accents = [hsv(rng.choice([rng.uniform(10, 40), rng.uniform(60, 100)]),
                   rng.uniform(0.3, 0.7), rng.uniform(0.2, 0.7)) for _ in range(3)]
    return [cream, earth] + accents


def hiphop(rng):
    gold = hsv(rng.uniform(40, 50), rng.uniform(0.7, 0.9), rng.uniform(0.75, 0.95))
    red = hsv(rng.uniform(-5, 5), rng.uniform(0.8, 1.0), rng.uniform(0.6, 0.9))
    black = hsv(0, 0, rng.uniform(0.0, 0.08))
    white = hsv(0, 0, rng.uniform(0.9, 1.0))
    background = [black, red, gold, white][int(rng.choice(4, p=[0.6, 0.2, 0.1, 0.1]))]
    accents = [gold, red, white]
    rng.shuffle(accents)
    return [background, hsv(0, 0, rng.uniform(0.05, 0.2))] + accents


def jazz(rng):
    # Blue Note style: two or three bold flat colours plus black/off-white.
    bold = [hsv(h + rng.uniform(-8, 8), rng.uniform(0.6, 0.95), rng.uniform(0.6, 0.95))
            for h in rng.choice([5, 30, 50, 210, 190, 350], size=3, replace=False)]
    off_white = hsv(40, 0.1, rng.uniform(0.85, 0.95))
    black = hsv(0, 0, rng.uniform(0.03, 0.12))
    return [bold[0], off_white, bold[1], bold[2] if rng.random() < 0.5 else bold[1], black]


def metal(rng):
    bone = hsv(40, rng.uniform(0.05, 0.2), rng.uniform(0.8, 1.0))
    blood = hsv(rng.uniform(-8, 5), rng.uniform(0.8, 1.0), rng.uniform(0.45, 0.75))
    steel = hsv(rng.uniform(190, 230), rng.uniform(0.05, 0.2), rng.uniform(0.45, 0.7))
    return [hsv(rng.uniform(0, 360), rng.uniform(0, 0.3), rng.uniform(0.0, 0.1)),
            hsv(rng.choice([rng.uniform(0, 20), rng.uniform(200, 230)]),
                rng.uniform(0.2, 0.6), rng.uniform(0.1, 0.3)),
            bone, blood, steel]


def pop(rng):
    def vivid():  # any hue, with a bias towards pinks
        return hsv(rng.choice([rng.uniform(0, 360), rng.uniform(310, 345)]),
                   rng.uniform(0.55, 1.0), rng.uniform(0.8, 1.0))

    return [hsv(rng.uniform(0, 360), rng.uniform(0.3, 0.9), rng.uniform(0.85, 1.0)), vivid()] \
        + [vivid() for _ in range(3)]


def punk(rng):
    loud = hsv(rng.choice([320, 55, 110, 20, 0, 300]) + rng.uniform(-5, 5),
               rng.uniform(0.85, 1.0), rng.uniform(0.9, 1.0))
    paper = hsv(50, rng.uniform(0.0, 0.08), rng.uniform(0.88, 1.0))
    black = hsv(0, 0, rng.uniform(0.0, 0.08))
    background = [paper, black, loud][int(rng.choice(3, p=[0.45, 0.35, 0.2]))]
    second = black if background is not black else paper
    return [background, second, black, paper, loud]


def rock(rng):
    hue = rng.uniform(0, 360)

    def muted(h, v_lo, v_hi):
        return hsv(h, rng.uniform(0.05, 0.35), rng.uniform(v_lo, v_hi))

    return [muted(hue, 0.3, 0.65), muted(hue + rng.uniform(-60, 60), 0.2, 0.7)] \
        + [muted(rng.uniform(0, 360), 0.25, 0.8) for _ in range(3)]


def soul(rng):
    return [hsv(rng.uniform(15, 40), rng.uniform(0.5, 0.85), rng.uniform(0.35, 0.8)),
            hsv(rng.uniform(0, 30), rng.uniform(0.6, 0.9), rng.uniform(0.15, 0.45)),
            hsv(rng.uniform(40, 50), rng.uniform(0.6, 0.8), rng.uniform(0.8, 1.0)),
            hsv(rng.uniform(18, 30), rng.uniform(0.7, 0.9), rng.uniform(0.8, 0.95)),
            hsv(35, 0.2, 0.95) if rng.random() < 0.7 else hsv(280, 0.5, 0.4)]
