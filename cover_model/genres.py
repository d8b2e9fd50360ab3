"""The paper's ten genres, their ids, and how names in the wild map onto them.

This is the only place the genre names are spelled out; everything else takes
class names from the dataset.
"""
from __future__ import annotations

import re

# The paper's ids 0-9, in the paper's order (section 1).
PAPER_GENRES: tuple[str, ...] = (
    "ambient", "dubstep", "folk", "hiphop/rap", "jazz",
    "metal", "pop", "punk", "rock", "soul",
)

# Spellings seen in folder names and link manifests (a folder cannot hold "/").
_ALIASES = {"hiphop_rap": "hiphop/rap", "hiphop-rap": "hiphop/rap", "hip-hop/rap": "hiphop/rap"}


def canonical_genre(name: str) -> str:
    """Return the paper's spelling of a genre name, or the cleaned name itself.

    >>> canonical_genre("HipHop_Rap")
    'hiphop/rap'
    >>> canonical_genre(" Country ")
    'country'
    """
    key = re.sub(r"\s+", " ", name.strip().lower())
    return _ALIASES.get(key, key)


def folder_name(genre: str) -> str:
    """A file-system-safe folder name for a genre (``hiphop/rap`` -> ``hiphop_rap``).

    >>> folder_name("hiphop/rap")
    'hiphop_rap'
    """
    return genre.replace("/", "_")


def order_classes(names) -> tuple[str, ...]:
    """Order class names: the paper's order when all are paper genres, else sorted.

    With all ten paper genres present, the ids are exactly the paper's 0-9.

    >>> order_classes(["rock", "ambient", "metal"])
    ('ambient', 'metal', 'rock')
    >>> order_classes(["reggae", "country"])
    ('country', 'reggae')
    """
    unique = set(names)
    if unique <= set(PAPER_GENRES):
        return tuple(g for g in PAPER_GENRES if g in unique)
    return tuple(sorted(unique))
