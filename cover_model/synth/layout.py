"""How the synthetic dataset looks on disk: file names, JPEG files, the marker.

::

    <root>/SYNTHETIC.txt                 marker: what this is, parameters, version
    <root>/<folder_name(genre)>/<folder_name(genre)>-<index>.jpg

The marker records every parameter that determines the dataset's bytes; a
folder whose marker matches and which holds all the covers is complete.
"""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import cv2

from ..genres import PAPER_GENRES, canonical_genre, folder_name
from .render import SYNTH_VERSION, render_cover

MARKER_NAME = "SYNTHETIC.txt"
JPEG_QUALITY = 90


def cover_filename(genre: str, *, index: int, n_per_genre: int) -> str:
    """File name of cover ``index`` of ``genre`` (zero-padded so names sort by index).

    >>> cover_filename("hiphop/rap", index=7, n_per_genre=100)
    'hiphop_rap-0007.jpg'
    >>> cover_filename("jazz", index=7, n_per_genre=100_000)
    'jazz-00007.jpg'
    """
    width = max(4, len(str(max(n_per_genre - 1, 0))))
    return f"{folder_name(canonical_genre(genre))}-{index:0{width}d}.jpg"


def write_cover(root: Path, genre: str, index: int, *, seed: int, size_px: int, n_per_genre: int) -> None:
    """Render one cover and write it as a JPEG into its genre folder under ``root``."""
    rgb = render_cover(genre, seed=seed, index=index, size_px=size_px)
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR),
                               [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RuntimeError(f"JPEG encoding failed for {genre} #{index}")
    path = root / folder_name(genre) / cover_filename(genre, index=index, n_per_genre=n_per_genre)
    path.write_bytes(encoded.tobytes())


# --------------------------------------------------------------------------
# The marker
# --------------------------------------------------------------------------

def dataset_params(*, n_per_genre: int, seed: int, size_px: int) -> dict[str, str]:
    """Everything that determines the dataset's bytes, as marker key/values."""
    return {
        "synth_version": str(SYNTH_VERSION), "seed": str(seed), "n_per_genre": str(n_per_genre),
        "size_px": str(size_px), "jpeg_quality": str(JPEG_QUALITY), "genres": ",".join(PAPER_GENRES),
    }


def marker_text(params: dict[str, str]) -> str:
    header = ("Procedurally generated album-cover-like images (cover_model.synth).\n"
              "These are NOT real album covers: each image is drawn from a per-genre\n"
              "style prior, and the styles deliberately overlap between genres.\n"
              "Regenerate with: python -m cover_model synth\n\n")
    return header + "".join(f"{k}={v}\n" for k, v in params.items())


def read_marker(root: Path) -> Optional[dict[str, str]]:
    """The parameters recorded in ``root``'s marker, or None if it has none."""
    try:
        lines = (root / MARKER_NAME).read_text(encoding="utf-8").splitlines()
    except OSError:
        return None
    return dict(line.split("=", 1) for line in lines if "=" in line)


def is_synthetic(root) -> bool:
    """Whether ``root`` is a folder of covers this package generated (it holds the marker),
    wherever it lives and whatever it is called."""
    return read_marker(Path(root)) is not None


def is_complete(root: Path, params: dict[str, str]) -> bool:
    """True when ``root`` holds a finished dataset written with ``params``."""
    if read_marker(root) != params:
        return False
    n = int(params["n_per_genre"])
    return all(len(list((root / folder_name(g)).glob("*.jpg"))) == n for g in PAPER_GENRES)
