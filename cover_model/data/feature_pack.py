"""The features pack's format, and the real covers as a features-only dataset.

The real covers have no licence, so the repository cannot hold them; numbers
derived from them it can. The pack (``checkpoints/real-covers/features/``, built by
:mod:`cover_model.shipped.pack`) holds, for each cover the shipped model was built
from:

- who it is: a stable id (the SHA-256 of the file, 16 hex digits), genre,
  source, split and group (artist), in ``covers.csv``;
- what the shipped extractor sees: its pooled features (one number per channel
  of each stage, averaged over the whole cover: no position survives), each channel
  kept in 8 bits between its lowest and highest value over the covers
  (:attr:`FeaturePack.features` reads them back as float32);
- what the colour analysis reads: the 8-bin RGB histogram of the 32 px cover as
  pixel counts, and the gradient histogram (9 orientations in each cell of a 4 x 4
  grid, no colour);
- what the leak check reads: pHash, dHash and contrast;
- what the shipped model answered on its test split (probabilities), and the
  style map's 2-D position of every cover.

:func:`load_dataset("real-features") <cover_model.data.dataset.load_dataset>` reads it as a
:class:`~cover_model.data.dataset.Dataset` whose ``stored`` is the pack: every step that
needs numbers reads them from it, and every step that needs pixels says it cannot.
This module is the data layer's: it reads the format and knows no model or page.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..atomic_files import read_json
from ..paths import PROJECT_ROOT

PACK_DIR = PROJECT_ROOT / "checkpoints" / "real-covers" / "features"
ARRAYS_FILE = "pack.npz"
COVERS_FILE = "covers.csv"
INFO_FILE = "pack.json"
COVER_COLUMNS = ("id", "genre", "source", "split", "group")
# Each array and what its axes are: "cover" (a row per cover) or a named width, never a
# spatial side. cover_model.shipped.pack.picture_like_arrays() holds the pack to it.
ARRAY_AXES = {
    "features": ("cover", "channel"),
    "color_counts": ("cover", "colour bin"),
    "gradient": ("cover", "orientation x cell"),
    "phash": ("cover",), "dhash": ("cover",), "contrast": ("cover",),
    "test_proba": ("cover", "genre"),
    "map_xy": ("cover", "map axis"),
    "feature_low": ("channel",), "feature_step": ("channel",),
}


class FeaturesOnlyError(ValueError):
    """A step needs the covers' pixels, and the dataset holds only their derived numbers."""


@dataclass(frozen=True)
class FeaturePack:
    """The real covers' derived numbers (see the module's docstring).

    Attributes
    ----------
    covers : DataFrame
        One row per cover: ``id``, ``genre``, ``label`` (into ``class_names``), ``source``,
        ``split``, ``group``.
    class_names : tuple of str
        The shipped model's genres, in its order.
    arrays : dict of str to ndarray
        As :data:`ARRAY_AXES` names them; rows in ``covers`` order. ``test_proba`` is NaN
        outside the test split.
    info : dict
        How it was built: the extractor (``arch``, ``input_px``, ``pooling``, ``preprocess``),
        the colour and gradient settings, the refit figures.
    """
    covers: pd.DataFrame
    class_names: tuple[str, ...]
    arrays: dict
    info: dict

    def __len__(self) -> int:
        return len(self.covers)

    @property
    def features(self) -> np.ndarray:
        """(n, D) float32: each cover's pooled features, as the extractor gives a new cover's
        (to within half a step of its channel)."""
        a = self.arrays
        return a["feature_low"] + a["features"].astype(np.float32) * a["feature_step"]

    def color_histograms(self) -> np.ndarray:
        """(n, bins**3) float32 rows summing to 1: the stored RGB histograms (``info["color"]``)."""
        return self.arrays["color_counts"].astype(np.float32) / self.info["color"]["size_px"] ** 2

    def gradient_histograms(self) -> np.ndarray:
        return self.arrays["gradient"].astype(np.float32)


def load_pack(folder: Path = PACK_DIR) -> FeaturePack | None:
    """The pack in ``folder``, or None where it is missing (a partial checkout)."""
    folder = Path(folder)
    info = read_json(folder / INFO_FILE)
    if info is None or not (folder / ARRAYS_FILE).is_file():
        return None
    covers = pd.read_csv(folder / COVERS_FILE, dtype=str, keep_default_na=False)
    with np.load(folder / ARRAYS_FILE, allow_pickle=False) as saved:
        arrays = {name: saved[name] for name in saved.files}
    names = tuple(info["class_names"])
    return FeaturePack(covers.assign(label=genre_labels(covers, names)), names, arrays, info)


def genre_labels(covers: pd.DataFrame, class_names) -> np.ndarray:
    return covers["genre"].map({g: i for i, g in enumerate(class_names)}).to_numpy(np.int64)


def stored_values(dataset, name: str) -> np.ndarray:
    """The pack's numbers for ``dataset``'s rows, in its order (a subset or a reordering of
    the pack's covers keeps its ``pack_row`` column): ``features``, ``color`` (histograms
    summing to 1), ``gradient``, or any array of :data:`ARRAY_AXES` with a cover axis."""
    pack: FeaturePack = dataset.stored
    whole = {"features": lambda: pack.features, "color": pack.color_histograms,
             "gradient": pack.gradient_histograms}.get(name, lambda: pack.arrays[name])()
    return whole[dataset.items["pack_row"].to_numpy()]


def pixels_refused(dataset, what: str) -> None:
    """Raise :class:`FeaturesOnlyError` where ``dataset`` holds no pixels for ``what``."""
    if dataset.features_only:
        raise FeaturesOnlyError(f"{what} needs the covers' pixels, and the real covers are shipped "
                                "as derived numbers only (no licence to ship the pictures): use "
                                "the synthetic covers or your own")


def extractor_mismatch(cfg, pack: FeaturePack) -> list[str]:
    """How a training config's frozen network differs from the extractor the pack stores the
    features of (``arch``, ``input_px``, ``pooling``, ``preprocess``, mode ``linear``): empty
    when the pack's features are what that network's head reads."""
    stored = pack.info["extractor"]
    wanted = {"mode": "linear", **{name: stored[name] for name in ("arch", "input_px", "pooling", "preprocess")}}
    return [f"{name} {getattr(cfg, name)} (the features are of {value})"
            for name, value in wanted.items() if getattr(cfg, name) != value]
