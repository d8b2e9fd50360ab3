"""The dashboard's datasets: which sources a visitor may pick, which one a server starts
on, and how a pick becomes DATA for the package and its jobs.

The sidebar offers these sources; each answer here is a plain value or a
:class:`VisitorError` whose message is safe to show (no server path, no traceback).
"""
from __future__ import annotations

import os
from pathlib import Path

from .. import disk_budget, public_mode
from ..data.dataset import EMBEDDED as EMBEDDED_DATA
from ..data.dataset import REAL_FEATURES, START_DATA_ENV, Dataset, DatasetError, load_dataset
from ..data.feature_pack import INFO_FILE, PACK_DIR
from ..data.splits import assign_splits
from ..synth import default_dataset_dir

REAL = "Real covers (features only)"
EMBEDDED = "Embedded synthetic covers"
ON_SERVER = "Folder, manifest or zip on the server"
UPLOADED = "Upload a zip"


class VisitorError(ValueError):
    """A dataset pick that cannot be used; the message is for the visitor as it is."""


def sources() -> list[str]:
    """The sources offered: the real covers' features where the pack is in this checkout;
    a public demo offers server folders only where its operator allowed some
    (COVER_LAB_ALLOWED_ROOTS)."""
    on_server = not public_mode.is_public() or bool(public_mode.allowed_roots())
    real = (PACK_DIR / INFO_FILE).is_file()
    return [*([REAL] if real else []), EMBEDDED, *([ON_SERVER] if on_server else []), UPLOADED]


def start_source() -> str:
    """The source a new session starts on: the real covers' features under ``make demo``
    (START_DATA_ENV=real-features) and in public mode; the synthetic covers under a plain
    ``streamlit run app.py``, or where the pack is missing."""
    default = REAL_FEATURES if public_mode.is_public() else EMBEDDED_DATA
    start = os.environ.get(START_DATA_ENV) or default
    return REAL if start == REAL_FEATURES and REAL in sources() else EMBEDDED


def path_hint() -> str:
    """The server-path box's placeholder: inside the allowed folder in public mode."""
    roots = public_mode.allowed_roots() if public_mode.is_public() else ()
    if roots:
        return f"a folder, manifest or zip inside {roots[0].name}/"
    return "/data/covers or /data/covers.zip"


def uploaded_source(visitor: str, name: str, data: bytes) -> str:
    """DATA for a visitor's uploaded zip: kept under their quota (once per content)."""
    try:
        return str(disk_budget.save_upload(visitor, name, data))
    except disk_budget.QuotaError as exc:
        raise VisitorError(str(exc)) from None


def server_source(path: str) -> str:
    """DATA for a path typed on the server: only inside the allowed folders in public mode."""
    try:
        return str(public_mode.check_server_path(path))
    except public_mode.AccessError as exc:
        raise VisitorError(f"Cannot use this path: {exc}.") from None


def dataset_path(source: str) -> str:
    """Where DATA is read from: the embedded covers' folder for ``synth``, else itself."""
    return str(default_dataset_dir()) if source == EMBEDDED_DATA else source


def load_split(path: str) -> Dataset:
    """A dataset, split by its own rule (what every page shows)."""
    return assign_splits(load_dataset(path))


def refused(path: str, exc: DatasetError, *, uploaded: bool) -> VisitorError:
    """A dataset that does not load: a refused upload is not kept, and the message (which
    quotes member, file and genre names) names no server path."""
    if uploaded:
        disk_budget.discard_upload(path)
    return VisitorError(f"Cannot load this dataset: {public_mode.visitor_message(str(exc))}")


def mark_in_use(dataset: Dataset) -> None:
    """A page is reading ``dataset``: the disk budget evicts it last (the features pack is
    part of the checkout and never evicted)."""
    if not dataset.features_only:
        disk_budget.mark_used(dataset.root)


def still_on_disk(dataset: Dataset) -> bool:
    """False when an unpacked zip was evicted by the disk budget since it was loaded."""
    return dataset.features_only or Path(dataset.root).is_dir()
