"""Downsizing: methods, determinism, skipped covers, and the on-disk cache."""
import io

import numpy as np
import pytest
from PIL import Image

from cover_model.data import preprocess
from cover_model.data.dataset import load_dataset
from cover_model.data.preprocess import METHODS, cache_path, downsize, preprocess_dataset, sample_grid


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("size", [32, 35, 70, 100])
def test_every_method_gives_the_requested_grid(method, size):
    rgb = np.random.default_rng(0).integers(0, 256, (350, 350, 3), dtype=np.uint8)
    out = downsize(rgb, size, method=method)
    assert out.shape == (size, size, 3) and out.dtype == np.uint8


def test_random_sampling_keeps_real_pixels_in_order():
    rgb = np.arange(100, dtype=np.uint8)[None, :, None].repeat(100, 0).repeat(3, 2)  # value = column
    out = sample_grid(rgb, 10, rng=np.random.default_rng(1))
    assert (np.diff(out[0, :, 0].astype(int)) > 0).all()       # sorted distinct columns
    assert set(out[..., 0].ravel()) <= set(range(100))


def test_random_sampling_is_seeded():
    rgb = np.random.default_rng(0).integers(0, 256, (50, 50, 3), dtype=np.uint8)
    a = sample_grid(rgb, 8, rng=np.random.default_rng(5))
    assert np.array_equal(a, sample_grid(rgb, 8, rng=np.random.default_rng(5)))
    assert not np.array_equal(a, sample_grid(rgb, 8, rng=np.random.default_rng(6)))


def test_unknown_method_is_refused(folder_dataset):
    with pytest.raises(ValueError, match="unknown method 'bilinear'"):
        preprocess_dataset(load_dataset(folder_dataset), method="bilinear")


def test_dataset_arrays_align_with_rows_and_labels(folder_dataset):
    ds = load_dataset(folder_dataset)
    arrays = preprocess_dataset(ds, size_px=8)
    assert arrays.images.shape == (30, 8, 8, 3)
    assert np.array_equal(arrays.labels, ds.items["label"].to_numpy()[arrays.index])
    # flat-colour covers: every pixel of the grid is the cover's colour
    from cover_model.data.images import decode_image
    first = decode_image(ds.items["path"][0])
    assert np.abs(arrays.images[0].astype(int) - first[0, 0].astype(int)).max() <= 2


def test_random_method_is_deterministic_whatever_the_thread_count(folder_dataset):
    ds = load_dataset(folder_dataset)
    one = preprocess_dataset(ds, method="random", seed=3, n_jobs=1, use_cache=False)
    two = preprocess_dataset(ds, method="random", seed=3, n_jobs=2, use_cache=False)
    assert np.array_equal(one.images, two.images)


def test_covers_that_fail_to_decode_are_skipped_and_reported(folder_dataset):
    victim = folder_dataset / "jazz" / "003.jpg"
    noisy = np.random.default_rng(0).integers(0, 256, (200, 200, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(noisy).save(buf, "JPEG")
    victim.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])   # header intact, data cut
    ds = load_dataset(folder_dataset)
    assert len(ds) == 30                                         # the header check passes
    arrays = preprocess_dataset(ds, size_px=8)
    assert len(arrays) == 29
    assert [s.path for s in arrays.skipped] == [str(victim)]
    assert "truncated or corrupt" in arrays.skipped[0].reason
    assert str(victim) not in set(ds.items["path"][arrays.index])


def test_second_call_is_a_cache_hit(folder_dataset, monkeypatch):
    ds = load_dataset(folder_dataset)
    first = preprocess_dataset(ds, size_px=16, method="cubic")
    assert cache_path(ds, size_px=16, method="cubic", seed=0).is_file()

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again instead of reading the cache")
    monkeypatch.setattr(preprocess, "_decode_all", no_decoding)
    second = preprocess_dataset(ds, size_px=16, method="cubic")
    assert np.array_equal(first.images, second.images) and np.array_equal(first.index, second.index)


def test_cache_keys_separate_method_size_and_seed(folder_dataset):
    ds = load_dataset(folder_dataset)
    keys = {cache_path(ds, size_px=s, method=m, seed=seed)
            for s in (32, 70) for m in ("area", "random") for seed in (0, 1)}
    assert len(keys) == 6              # interpolation ignores the seed, random sampling does not
    assert ds.fingerprint in next(iter(keys)).name


def test_a_damaged_cache_is_rebuilt(folder_dataset):
    ds = load_dataset(folder_dataset)
    first = preprocess_dataset(ds, size_px=8)
    cache_path(ds, size_px=8, method="area", seed=0).write_bytes(b"garbage")
    again = preprocess_dataset(ds, size_px=8)
    assert np.array_equal(first.images, again.images)


def test_progress_reaches_the_total(folder_dataset):
    seen = []
    preprocess_dataset(load_dataset(folder_dataset), size_px=8, progress=lambda d, t: seen.append((d, t)))
    assert seen[-1] == (30, 30)
