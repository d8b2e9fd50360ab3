"""Tests for cover_model.synth: determinism, layout, atomicity, separability."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import warnings
from concurrent.futures import Executor, Future
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cover_model import synth
from cover_model.genres import PAPER_GENRES, folder_name
from cover_model.paths import PROJECT_ROOT
from cover_model.synth import workers
from cover_model.synth.backgrounds import BACKGROUNDS
from cover_model.synth.motifs import MOTIFS
from cover_model.synth.priors import PRIORS
from cover_model.synth.textures import TEXTURES

pytestmark = pytest.mark.slow           # scheduled first (tests/conftest.py)

_REAL_WRITE_CHUNK = workers.write_chunk

def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _leftover_partials(parent: Path) -> list[Path]:
    return [p for p in parent.iterdir() if ".partial-" in p.name]


# ---------------------------------------------------------------- render_cover

def test_render_cover_shape_dtype_and_determinism():
    for genre in PAPER_GENRES:
        img = synth.render_cover(genre, seed=0, index=3)
        assert img.shape == (350, 350, 3) and img.dtype == np.uint8
        assert np.array_equal(img, synth.render_cover(genre, seed=0, index=3))
    assert np.array_equal(synth.render_cover("hiphop_rap", seed=0, index=1),
                          synth.render_cover("hiphop/rap", seed=0, index=1))
    assert synth.render_cover("jazz", seed=0, index=0, size_px=64).shape == (64, 64, 3)


def test_render_cover_varies_with_seed_index_and_genre():
    base = synth.render_cover("metal", seed=0, index=0)
    assert not np.array_equal(base, synth.render_cover("metal", seed=1, index=0))
    assert not np.array_equal(base, synth.render_cover("metal", seed=0, index=1))
    assert not np.array_equal(base, synth.render_cover("pop", seed=0, index=0))


def test_every_genre_has_a_prior_using_only_registered_layers():
    assert sorted(PRIORS) == sorted(PAPER_GENRES)
    for prior in PRIORS.values():
        assert set(prior.backgrounds) <= set(BACKGROUNDS)
        assert set(prior.motifs) <= set(MOTIFS)
        assert set(prior.textures) <= set(TEXTURES)


def test_render_cover_rejects_unknown_genre():
    with pytest.raises(ValueError, match="unknown genre"):
        synth.render_cover("polka", seed=0, index=0)


# -------------------------------------------------------------------- generate

def test_generate_layout_marker_and_jpegs(tmp_path):
    root = synth.generate(tmp_path / "ds", n_per_genre=3, seed=0, n_jobs=1)
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == sorted(map(folder_name, PAPER_GENRES))
    for genre in PAPER_GENRES:
        files = sorted((root / folder_name(genre)).iterdir())
        assert len(files) == 3
        with Image.open(files[0]) as im:
            assert (im.format, im.mode, im.size) == ("JPEG", "RGB", (350, 350))
    marker = (root / synth.MARKER_NAME).read_text()
    assert "procedurally generated" in marker.lower()
    assert f"synth_version={synth.SYNTH_VERSION}" in marker and "n_per_genre=3" in marker
    assert _leftover_partials(tmp_path) == []


def test_generate_identical_whatever_the_workers(tmp_path):
    serial = synth.generate(tmp_path / "one", n_per_genre=6, seed=7, n_jobs=1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        parallel = synth.generate(tmp_path / "two", n_per_genre=6, seed=7, n_jobs=2)
    assert not [w for w in caught if "rendering in this process" in str(w.message)], \
        "the workers should have rendered these, not the fallback"
    assert _files(serial) == _files(parallel)
    other_seed = synth.generate(tmp_path / "three", n_per_genre=6, seed=8, n_jobs=1)
    first = Path(folder_name("jazz")) / synth.cover_filename("jazz", index=0, n_per_genre=6)
    assert (serial / first).read_bytes() != (other_seed / first).read_bytes()


def test_progress_reaches_total_and_second_generate_is_a_noop(tmp_path):
    calls = []
    root = synth.generate(tmp_path / "ds", n_per_genre=3, n_jobs=1,
                          progress=lambda done, total: calls.append((done, total)))
    assert calls[0] == (0, 30) and calls[-1] == (30, 30)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*")}
    calls.clear()
    assert synth.generate(root, n_per_genre=3, n_jobs=1, progress=lambda d, t: calls.append((d, t))) == root
    assert calls == [(30, 30)]
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*")} == before


def test_generate_refuses_a_folder_holding_other_things(tmp_path):
    (tmp_path / "ds").mkdir()
    (tmp_path / "ds" / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        synth.generate(tmp_path / "ds", n_per_genre=1, n_jobs=1)
    synth.generate(tmp_path / "other", n_per_genre=1, n_jobs=1)
    with pytest.raises(FileExistsError, match="other parameters"):
        synth.generate(tmp_path / "other", n_per_genre=2, n_jobs=1)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_interrupted_generate_leaves_nothing_that_looks_finished(tmp_path, n_jobs):
    def interrupt(done, total):
        if done >= 10:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        synth.generate(tmp_path / "ds", n_per_genre=30, n_jobs=n_jobs, progress=interrupt)
    assert not (tmp_path / "ds").exists()
    assert _leftover_partials(tmp_path) == []


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_an_interrupt_drops_the_queued_covers(tmp_path, monkeypatch, n_jobs):
    """Counted, not timed: the partial folder is kept here (its removal is the test above),
    and once generate has raised no worker is left; only the chunks in flight were drawn."""
    import multiprocessing
    import shutil
    kept = shutil.rmtree
    monkeypatch.setattr(shutil, "rmtree", lambda path, **kw: None if ".partial-" in str(path)
                        else kept(path, **kw))

    def interrupt(done, total):
        if done >= 10:
            raise KeyboardInterrupt
    # An earlier test on this worker may have left joblib's reusable workers (loky) alive:
    # only the children generate started must be gone.
    before = set(multiprocessing.active_children())
    with pytest.raises(KeyboardInterrupt):
        synth.generate(tmp_path / "ds", n_per_genre=30, n_jobs=n_jobs, progress=interrupt)
    assert set(multiprocessing.active_children()) - before == set()
    drawn = [p for p in tmp_path.glob(".ds.partial-*/*/*") if p.is_file()]
    # the chunk that reported, one running per worker, and what the pool had already handed
    # to its call queue (workers + 1): the other chunks of the 300 covers were never drawn
    in_flight = (1 + n_jobs + n_jobs + 1) * workers._CHUNK_SIZE if n_jobs > 1 else workers._CHUNK_SIZE
    assert 10 <= len(drawn) <= in_flight < 30 * len(PAPER_GENRES), len(drawn)


def test_stale_partial_from_a_dead_process_is_cleaned_up(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = tmp_path / f".ds.partial-{socket.gethostname()}-{dead.pid}-deadbeef"
    (stale / "ambient").mkdir(parents=True)
    synth.generate(tmp_path / "ds", n_per_genre=1, n_jobs=1)
    assert not stale.exists()


def test_two_processes_generating_the_same_dataset(tmp_path):
    code = ("import sys; from cover_model import synth; "
            "synth.generate(sys.argv[1], n_per_genre=4, seed=2, n_jobs=1)")
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    procs = [subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "ds")], env=env)
             for _ in range(2)]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    expected = synth.generate(tmp_path / "ref", n_per_genre=4, seed=2, n_jobs=1)
    assert _files(tmp_path / "ds") == _files(expected)
    assert _leftover_partials(tmp_path) == []


def test_workers_that_cannot_start_fall_back_to_this_process(tmp_path):
    # Spawned workers cannot re-import a __main__ read from stdin.
    code = ("from cover_model import synth\n"
            f"synth.generate({str(tmp_path / 'ds')!r}, n_per_genre=3, n_jobs=2)\n")
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    result = subprocess.run([sys.executable, "-"], input=code, text=True, capture_output=True,
                            env=env, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "rendering in this process instead" in result.stderr
    assert len(list((tmp_path / "ds").rglob("*.jpg"))) == 30


@pytest.fixture(scope="module")
def serial_reference(tmp_path_factory) -> Path:
    """6 covers per genre (3 chunks of work), rendered without workers."""
    return synth.generate(tmp_path_factory.mktemp("serial") / "ds", n_per_genre=6, seed=7, n_jobs=1)


class _PoolThatBreaksAfterFirstChunk(Executor):
    """Stands in for the worker pool: finishes the first chunk, then its "workers" die.

    The second chunk fails the way a real pool fails its pending futures and
    later submits are refused, as a real broken pool refuses them.
    """

    def __init__(self, n_workers):
        self.n_submitted = 0

    def submit(self, fn, /, *args, **kwargs):
        self.n_submitted += 1
        if self.n_submitted > 2:
            raise BrokenProcessPool("the pool is broken")
        future = Future()
        if self.n_submitted == 1:
            future.set_result(fn(*args, **kwargs))
        else:
            future.set_exception(BrokenProcessPool("a worker died"))
        return future

    def shutdown(self, wait=True, *, cancel_futures=False):
        pass


def _cannot_create_pool(n_workers):
    raise OSError("no semaphores here")


class _PoolThatCannotLaunchProcesses(_PoolThatBreaksAfterFirstChunk):
    def submit(self, fn, /, *args, **kwargs):
        raise OSError("Resource temporarily unavailable")


@pytest.mark.parametrize("pool", [_PoolThatBreaksAfterFirstChunk, _cannot_create_pool,
                                  _PoolThatCannotLaunchProcesses])
def test_a_broken_pool_is_finished_in_this_process(tmp_path, monkeypatch, serial_reference, pool):
    monkeypatch.setattr(workers, "_start_pool", pool)
    written = []

    def recording_write_chunk(root, items, **kwargs):
        written.extend(items)
        return _REAL_WRITE_CHUNK(root, items, **kwargs)

    monkeypatch.setattr(workers, "write_chunk", recording_write_chunk)
    calls = []
    with pytest.warns(RuntimeWarning, match="rendering in this process instead") as record:
        root = synth.generate(tmp_path / "ds", n_per_genre=6, seed=7, n_jobs=2,
                              progress=lambda done, total: calls.append((done, total)))
    assert _files(root) == _files(serial_reference)
    # Each cover written once: what the pool finished is kept, not redone.
    assert sorted(written) == sorted((g, i) for g in PAPER_GENRES for i in range(6))
    assert calls[0] == (0, 60) and calls[-1] == (60, 60)
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)
    message = str(record[0].message)
    assert ("BrokenProcessPool" in message or "OSError" in message) and "covers left" in message
    assert record[0].filename == __file__, "the warning should point at generate()'s caller"
    if pool is _PoolThatBreaksAfterFirstChunk:
        assert "(35 of 60 covers left)" in message
    assert _leftover_partials(tmp_path) == []


def _write_chunk_or_die(root, items, **kwargs):
    """Worker task for a real pool: in a worker, any chunk but the first kills the process."""
    in_worker = os.getpid() != int(os.environ["SYNTH_TEST_PARENT_PID"])
    if in_worker and items[0] != (PAPER_GENRES[0], 0):
        os._exit(3)
    return _REAL_WRITE_CHUNK(root, items, **kwargs)


def test_workers_dying_mid_run_fall_back_to_this_process(tmp_path, monkeypatch, serial_reference):
    monkeypatch.setenv("SYNTH_TEST_PARENT_PID", str(os.getpid()))
    monkeypatch.setattr(workers, "write_chunk", _write_chunk_or_die)
    with pytest.warns(RuntimeWarning, match="BrokenProcessPool.*rendering in this process instead"):
        root = synth.generate(tmp_path / "ds", n_per_genre=6, seed=7, n_jobs=2)
    assert _files(root) == _files(serial_reference)
    assert _leftover_partials(tmp_path) == []


def test_ensure_default_dataset_uses_the_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("COVER_LAB_DATA", str(tmp_path))
    expected = tmp_path / f"synth-v{synth.SYNTH_VERSION}-seed3-n2"
    assert synth.default_dataset_dir(n_per_genre=2, seed=3) == expected
    assert not synth.default_dataset_ready(n_per_genre=2, seed=3)
    assert synth.ensure_default_dataset(n_per_genre=2, seed=3) == expected
    assert synth.default_dataset_ready(n_per_genre=2, seed=3)
    assert len(list(expected.rglob("*.jpg"))) == 20
    assert synth.ensure_default_dataset(n_per_genre=2, seed=3) == expected


# ---------------------------------------------------------------- separability

def test_genres_are_learnable_but_not_trivially(tmp_path):
    """A quick classifier, through the project's own loading and downsizing."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from cover_model.data.dataset import load_dataset
    from cover_model.data.preprocess import preprocess_dataset
    from cover_model.data.splits import assign_splits

    # 128 px, in this process: the classifier sees 16 px, and scores the same as on the
    # default 350 px covers (0.433 both) for a sixth of the CPU.
    root = synth.generate(tmp_path / "ds", n_per_genre=40, seed=0, size_px=128, n_jobs=1)
    dataset = assign_splits(load_dataset(root), scheme="stratified", val_frac=0.0,
                            test_frac=0.3, seed=0)
    covers = preprocess_dataset(dataset, size_px=16, method="area")
    hist = np.stack([np.concatenate([np.bincount(c[..., ch].ravel() // 32, minlength=8)
                                     for ch in range(3)]) for c in covers.images]) / 256
    features = np.hstack([hist, covers.images.reshape(len(covers), -1) / 255.0])
    is_test = (dataset.items["split"].to_numpy() == "test")[covers.index]
    clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=2000))
    clf.fit(features[~is_test], covers.labels[~is_test])
    accuracy = clf.score(features[is_test], covers.labels[is_test])
    print(f"quick classifier accuracy: {accuracy:.3f}")
    # Measured 0.43 here (dataset seed 0); chance is 0.10. With the
    # genre overlap switched off (OWN_STYLE_PROB=1) it scores 0.70, with nearly all
    # components borrowed (0.1) 0.09: both outside these bounds.
    assert 0.25 < accuracy < 0.65, accuracy
