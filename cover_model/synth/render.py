"""``render_cover``: one cover as a pure function of (seed, genre, index).

A cover is built in layers, each drawn from a genre prior (``priors.py``):
palette -> background -> motifs -> text -> texture -> finish. Every layer's
prior is the cover's own genre's with probability ``OWN_STYLE_PROB`` and
another genre's otherwise, so the genres overlap: a small classifier does far
better than chance but far from perfect.
"""
from __future__ import annotations

import numpy as np

from ..genres import PAPER_GENRES, canonical_genre
from .backgrounds import BACKGROUNDS
from .motifs import MOTIFS
from .priors import PRIORS, GenrePrior
from .text import draw_text
from .textures import TEXTURES, apply_finish

# Bump whenever a change alters any rendered pixel, so cached folders
# (named after the version) are regenerated rather than silently reused.
# It is also part of every cover's seed.
SYNTH_VERSION = 1

DEFAULT_SIZE_PX = 350

# Chance that a component of a cover follows its own genre's prior; tuned so
# that a quick classifier lands well between chance (10%) and perfect.
OWN_STYLE_PROB = 0.75


def _genre_id(genre: str) -> int:
    name = canonical_genre(genre)
    if name not in PAPER_GENRES:
        raise ValueError(f"unknown genre {genre!r}; expected one of {PAPER_GENRES}")
    return PAPER_GENRES.index(name)


def _weighted_choice(rng, weights: dict) -> str:
    names = list(weights)
    p = np.asarray([weights[n] for n in names], dtype=np.float64)
    return names[int(rng.choice(len(names), p=p / p.sum()))]


def _style_source(rng, genre_id: int) -> GenrePrior:
    """The cover's own prior with probability OWN_STYLE_PROB, else another genre's.

    Drawing each component's prior separately is what makes genres overlap.
    """
    if rng.random() < OWN_STYLE_PROB:
        return PRIORS[PAPER_GENRES[genre_id]]
    other = int(rng.integers(0, len(PAPER_GENRES) - 1))
    return PRIORS[PAPER_GENRES[other + (other >= genre_id)]]


def render_cover(genre: str, *, seed: int, index: int, size_px: int = DEFAULT_SIZE_PX) -> np.ndarray:
    """Render one synthetic album cover.

    Parameters
    ----------
    genre : str
        One of the paper's genres (``cover_model.genres.PAPER_GENRES``);
        folder spellings such as ``"hiphop_rap"`` are accepted too.
    seed : int
        Dataset seed (non-negative).
    index : int
        Index of the cover within its genre (non-negative).
    size_px : int, optional
        Side of the square cover in pixels (default 350).

    Returns
    -------
    numpy.ndarray
        ``(size_px, size_px, 3)`` uint8 RGB image, a pure function of
        (seed, genre, index, size_px).

    Examples
    --------
    >>> cover = render_cover("jazz", seed=0, index=0, size_px=64)
    >>> cover.shape, cover.dtype.name
    ((64, 64, 3), 'uint8')
    """
    if seed < 0 or index < 0 or size_px < 16:
        raise ValueError("seed and index must be >= 0 and size_px >= 16")
    genre_id = _genre_id(genre)
    # The draw order below is part of the output: reordering any rng call
    # changes every cover, which needs a SYNTH_VERSION bump.
    rng = np.random.default_rng(np.random.SeedSequence([SYNTH_VERSION, seed, genre_id, index]))
    own = PRIORS[PAPER_GENRES[genre_id]]
    palette = _style_source(rng, genre_id).palette(rng)
    background = BACKGROUNDS[_weighted_choice(rng, _style_source(rng, genre_id).backgrounds)]
    img = np.clip(background(rng, size_px, palette), 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(own.n_motifs[0], own.n_motifs[1] + 1))):
        MOTIFS[_weighted_choice(rng, _style_source(rng, genre_id).motifs)](rng, img, palette)
    draw_text(rng, img, palette, _style_source(rng, genre_id).text)
    texture = TEXTURES[_weighted_choice(rng, _style_source(rng, genre_id).textures)]
    img = texture(rng, img.astype(np.float32))
    img = apply_finish(rng, img, _style_source(rng, genre_id).finish)
    return np.ascontiguousarray(np.clip(img + 0.5, 0, 255).astype(np.uint8))
