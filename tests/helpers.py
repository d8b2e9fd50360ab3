"""Small image datasets made by the tests themselves."""
import io
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from cover_model.paths import PROJECT_ROOT


def open_page(page: str, *, dataset_kind: str | None = None) -> AppTest:
    """A fresh dashboard session (AppTest) switched to ``page``, e.g. ``app_pages/train.py``,
    on the sidebar's ``dataset_kind`` where given (e.g. ``ui.REAL``); use it with the
    ``app_main`` fixture, which puts the real ``__main__`` back afterwards."""
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=60)
    if dataset_kind:
        at.session_state["dataset_kind"] = dataset_kind
    at.run()
    at.switch_page(page).run()
    assert not at.exception
    return at


def jpeg_bytes(color, size=(48, 48), quality=90) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, tuple(int(c) for c in color)).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def make_folder_dataset(root: Path, n_per_genre: dict[str, int], seed=0, size=(48, 48)) -> Path:
    """Write ``root/<genre>/<i>.jpg`` with one random flat colour per cover."""
    rng = np.random.default_rng(seed)
    for genre, n in n_per_genre.items():
        folder = root / genre
        folder.mkdir(parents=True, exist_ok=True)
        for i in range(n):
            (folder / f"{i:03d}.jpg").write_bytes(jpeg_bytes(rng.integers(0, 256, 3), size))
    return root


def wait_for(predicate, *, timeout_s: float, every_s: float = 0.3):
    """Poll ``predicate`` until it returns something truthy; fail the test on timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every_s)
    pytest.fail("timed out waiting")
