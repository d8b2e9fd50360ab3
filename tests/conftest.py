"""Shared fixtures: tiny image datasets the tests make, and the real covers when present."""
import sys
from pathlib import Path

import pytest

from .helpers import make_folder_dataset

REAL_COVERS = Path(__file__).resolve().parents[2] / "shared" / "data" / "real-covers"


@pytest.fixture(autouse=True)
def isolated_data_dir(tmp_path_factory, monkeypatch):
    """Caches and imports go to a temp folder, never the developer's data/."""
    monkeypatch.setenv("COVER_LAB_DATA", str(tmp_path_factory.mktemp("cover-lab-data")))
    monkeypatch.setenv("COVER_LAB_CHECKPOINTS", str(tmp_path_factory.mktemp("checkpoints")))


@pytest.fixture
def app_main(monkeypatch):
    # AppTest leaves the app script behind as __main__; put the real one back afterwards.
    monkeypatch.setitem(sys.modules, "__main__", sys.modules["__main__"])


@pytest.fixture
def folder_dataset(tmp_path) -> Path:
    return make_folder_dataset(tmp_path / "covers", {"metal": 12, "ambient": 10, "jazz": 8})


@pytest.fixture
def real_covers() -> Path:
    if not (REAL_COVERS / "manifest.csv").is_file():
        pytest.skip(f"real covers not found at {REAL_COVERS} (they live in ../shared, outside the repo)")
    return REAL_COVERS


@pytest.fixture(scope="session")
def bad_inputs(tmp_path_factory) -> dict:
    """The bad-input corpus (tests/bad_inputs.py), written once per session: {name: Case}.
    Shared, so treat it as read-only; copy a case before changing it."""
    from .bad_inputs import write_corpus
    return write_corpus(tmp_path_factory.mktemp("bad-inputs"))


@pytest.fixture(scope="session")
def synth_data_dir(tmp_path_factory) -> Path:
    """A data folder holding the default embedded covers, generated once per test session."""
    from cover_model.synth import ensure_default_dataset
    root = tmp_path_factory.mktemp("synth-data")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COVER_LAB_DATA", str(root))
        ensure_default_dataset()
    return root


@pytest.fixture
def embedded_data(synth_data_dir, monkeypatch) -> Path:
    """Point the app and the CLI at the pre-generated embedded covers."""
    monkeypatch.setenv("COVER_LAB_DATA", str(synth_data_dir))
    return synth_data_dir
