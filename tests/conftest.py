"""Shared fixtures: tiny image datasets the tests make, and the real covers when present."""
import fcntl
import shutil
import sys
from pathlib import Path

import pytest

from cover_model.data.dataset import EMBEDDED, START_DATA_ENV

from .helpers import make_folder_dataset

REAL_COVERS = Path(__file__).resolve().parents[2] / "shared" / "data" / "real-covers"


@pytest.fixture(autouse=True)
def isolated_data_dir(tmp_path_factory, monkeypatch):
    """Caches and imports go to a temp folder, never the developer's data/."""
    monkeypatch.setenv("COVER_LAB_DATA", str(tmp_path_factory.mktemp("cover-lab-data")))
    monkeypatch.setenv("COVER_LAB_CHECKPOINTS", str(tmp_path_factory.mktemp("checkpoints")))


@pytest.fixture(autouse=True)
def app_main(monkeypatch):
    # AppTest leaves the app script behind as __main__; put the real one back after every
    # test, so a later test's child process (multiprocessing) does not inherit the app's.
    monkeypatch.setitem(sys.modules, "__main__", sys.modules["__main__"])


def pytest_collection_modifyitems(items):
    """Longest files first. ``make test`` hands out whole files to its workers (``--dist
    loadfile --no-loadscope-reorder``): a long file handed out last runs alone at the end
    while the others sit idle. The browser tests first, then the files marked ``slow``."""
    def weight(item) -> int:
        return 0 if "e2e" in item.path.parts else 1 if item.get_closest_marker("slow") else 2
    items.sort(key=weight)      # stable: each file's tests keep their order


STRAY_GENERATION = "this test started generating the embedded covers: use the embedded_data fixture"


@pytest.fixture(autouse=True)
def no_stray_covers_generation(monkeypatch):
    """A dashboard opened in this process on an empty data folder starts generating the
    embedded covers: a child process of about 17 CPU-s that outlives the test and slows
    every other. Fail such a test at once; it wants ``embedded_data`` (covers made once per
    session). The browser tests' servers are other processes: their first launch is real."""
    started = []

    def refuse(*_, **__):
        started.append(True)
        raise AssertionError(STRAY_GENERATION)
    monkeypatch.setattr("cover_model.synth.writer.BackgroundGeneration.__init__", refuse)
    yield
    assert not started, STRAY_GENERATION     # a page's error boundary may have drawn it


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
def synth_data_dir(tmp_path_factory, worker_id) -> Path:
    """A data folder holding the default embedded covers, per test session.

    Generating them takes about 35 s of CPU, so under xdist one worker generates them once
    for all (the others wait on a lock) and each copies them into a folder of its own:
    tests write caches into it and must not see another worker's files."""
    from cover_model.synth import ensure_default_dataset
    base = tmp_path_factory.getbasetemp()
    shared = (base.parent if worker_id != "master" else base) / "synth-data-shared"
    shared.mkdir(exist_ok=True)
    with open(shared.parent / "synth-data-shared.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)          # released when the file closes
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("COVER_LAB_DATA", str(shared))
            generated = ensure_default_dataset()
    root = tmp_path_factory.mktemp("synth-data")
    shutil.copytree(generated, root / generated.relative_to(shared))
    return root


@pytest.fixture
def embedded_data(synth_data_dir, monkeypatch) -> Path:
    """Point the app and the CLI at the pre-generated embedded covers, and start the dashboard
    on them, in public mode too (which starts on the real covers' features otherwise)."""
    monkeypatch.setenv("COVER_LAB_DATA", str(synth_data_dir))
    monkeypatch.setenv(START_DATA_ENV, EMBEDDED)
    return synth_data_dir
