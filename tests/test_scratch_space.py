"""The baselines' scratch space (issue #15): /dev/shm only when it has room for the
feature matrices (a container's is 64 MB by default, and ``baselines --size-px 100``
needed more), else the cache folder."""
from collections import namedtuple
from pathlib import Path

import pytest

from cover_model.baselines import FeatureSpec, run_baselines, runner
from cover_model.data.dataset import load_dataset
from cover_model.data.splits import assign_splits
from cover_model.paths import cache_dir

DiskUsage = namedtuple("DiskUsage", "total used free")
MB = 1024**2


@pytest.fixture
def shm_free(monkeypatch):
    """Make /dev/shm report ``free`` bytes (everything else reports plenty)."""
    def set_free(free: int):
        def usage(path):
            return DiskUsage(10**12, 0, free if str(path) == "/dev/shm" else 10**12)
        monkeypatch.setattr(runner.shutil, "disk_usage", usage)
    return set_free


@pytest.mark.skipif(not Path("/dev/shm").is_dir(), reason="no /dev/shm here")
def test_shm_is_used_only_when_the_matrices_fit(shm_free):
    shm_free(64 * MB)
    assert runner._scratch_dir(10 * MB) == Path("/dev/shm")
    assert runner._scratch_dir(200 * MB) == cache_dir()
    shm_free(0)
    assert runner._scratch_dir(1) == cache_dir()


def test_workers_read_the_matrices_from_the_cache_folder_when_shm_is_full(folder_dataset, shm_free,
                                                                          monkeypatch):
    shm_free(0)
    folders = []
    dump = runner._dump
    monkeypatch.setattr(runner, "_dump", lambda fs, folder: folders.append(folder) or dump(fs, folder))
    dataset = assign_splits(load_dataset(folder_dataset), scheme="stratified", test_frac=0.4, seed=0)
    results = run_baselines(dataset, models=["ridge", "knn"], features=[FeatureSpec(size_px=8, method="area")],
                            n_jobs=2, use_cache=False)
    assert len(results) == 2 and all(r.status != "failed" and r.test for r in results)
    assert folders and all(folder.parent == cache_dir() for folder in folders)
