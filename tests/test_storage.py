"""Uploads per visitor (quota, expiry) and the disk budget over caches, imports and uploads."""
import os
import time

import numpy as np
import pytest

from cover_model import disk_budget
from cover_model.data.dataset import load_dataset
from cover_model.data.preprocess import cache_path, preprocess_dataset
from cover_model.paths import cache_dir


@pytest.fixture
def public(monkeypatch):
    monkeypatch.setenv("COVER_LAB_PUBLIC", "1")


def _age(path, seconds: float) -> None:
    old = time.time() - seconds
    os.utime(path, (old, old))


def test_upload_is_saved_once_per_owner_and_content(public):
    first = disk_budget.save_upload("abc", "my covers.zip", b"zip bytes")
    again = disk_budget.save_upload("abc", "my covers.zip", b"zip bytes")
    assert first == again and first.read_bytes() == b"zip bytes"
    assert first.name == "my_covers.zip" and first.parent.parent.name == "abc"
    assert disk_budget.save_upload("other", "my covers.zip", b"zip bytes") != first


def test_upload_over_the_quota_is_refused_without_writing(public, monkeypatch):
    monkeypatch.setenv("COVER_LAB_UPLOAD_QUOTA_BYTES", "1000")
    disk_budget.save_upload("abc", "a.zip", b"x" * 600)
    with pytest.raises(disk_budget.QuotaError, match="quota of"):
        disk_budget.save_upload("abc", "b.zip", b"y" * 600)
    assert disk_budget.folder_bytes(disk_budget.uploads_dir() / "abc") == 600
    disk_budget.save_upload("someone-else", "b.zip", b"y" * 600)      # a quota per visitor


def test_no_quota_outside_public_mode(monkeypatch):
    monkeypatch.setenv("COVER_LAB_UPLOAD_QUOTA_BYTES", "0")
    disk_budget.save_upload("abc", "a.zip", b"x" * 10_000)
    disk_budget.save_upload("abc", "b.zip", b"y" * 10_000)


def test_uploads_expire_when_untouched(public, monkeypatch):
    monkeypatch.setenv("COVER_LAB_UPLOAD_TTL_S", "60")
    old = disk_budget.save_upload("abc", "old.zip", b"old")
    _age(old.parent, 120)
    new = disk_budget.save_upload("abc", "new.zip", b"new")      # saving expires the rest first
    assert not old.exists() and new.exists()


def test_discard_removes_a_refused_upload(public):
    path = disk_budget.save_upload("abc", "bad.zip", b"not a zip")
    disk_budget.discard_upload(path)
    assert not path.parent.exists()


def test_disk_budget_evicts_least_recently_used_first(tmp_path):
    folder = cache_dir() / "preprocess"
    folder.mkdir(parents=True)
    for i, age in enumerate([300, 200, 100]):
        entry = folder / f"entry{i}.npz"
        entry.write_bytes(b"x" * 1000)
        _age(entry, age)
    disk_budget.mark_used(folder / "entry0.npz")                  # read just now: kept
    removed = disk_budget.enforce_disk_budget(budget=2000)
    assert [p.name for p in removed] == ["entry1.npz"]
    assert sorted(p.name for p in folder.iterdir()) == ["entry0.npz", "entry2.npz"]


def test_disk_budget_keeps_what_the_caller_needs_and_temp_files_being_written():
    folder = cache_dir() / "embeddings"
    folder.mkdir(parents=True)
    needed, writing = folder / "needed.npy", folder / ".partial-123"
    needed.write_bytes(b"x" * 5000)
    writing.write_bytes(b"x" * 5000)
    _age(needed, 1000)
    assert disk_budget.enforce_disk_budget(budget=100, keep=(needed,)) == []
    assert needed.exists() and writing.exists()


def test_preprocessing_cache_stays_within_the_budget(folder_dataset, public, monkeypatch):
    """The issue's finding: every new size left a cache behind. In public mode the
    budget evicts the older ones, and an evicted cache is rebuilt the same on next use."""
    dataset = load_dataset(folder_dataset)
    first = preprocess_dataset(dataset, size_px=24)
    one_cache = disk_budget.folder_bytes(cache_path(dataset, size_px=24, method="area", seed=0))
    monkeypatch.setenv("COVER_LAB_DISK_BUDGET_BYTES", str(int(one_cache * 1.5)))
    preprocess_dataset(dataset, size_px=20)
    assert not cache_path(dataset, size_px=24, method="area", seed=0).exists()
    assert cache_path(dataset, size_px=20, method="area", seed=0).exists()
    again = preprocess_dataset(dataset, size_px=24)
    np.testing.assert_array_equal(first.images, again.images)
