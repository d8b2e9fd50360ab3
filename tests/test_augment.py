"""Source-destroying augmentation (cover_model/shipped/augment.py) and its place in the
recipe selection: copies join the head's fit, never the covers it is scored on."""
import numpy as np
import pytest

from cover_model.genres import PAPER_GENRES
from cover_model.shipped.augment import augment_covers, destroy_source
from cover_model.shipped.selection import (EXTRACTORS, Development, extractor_logits,
                                           score_candidate)
from cover_model.synth import render_cover


@pytest.fixture(scope="module")
def covers():
    return np.stack([render_cover(genre, seed=1, index=0) for genre in PAPER_GENRES[:5]])


def test_a_copy_is_the_same_size_and_kind_and_the_seed_fixes_it(covers):
    copies = augment_covers(covers, seed=0)
    assert copies.shape == covers.shape and copies.dtype == np.uint8
    assert np.array_equal(copies, augment_covers(covers, seed=0))
    assert not np.array_equal(copies, augment_covers(covers, seed=1))
    one = destroy_source(covers[0], np.random.default_rng(7))
    assert np.array_equal(one, destroy_source(covers[0], np.random.default_rng(7)))


def test_every_copy_changes_the_pixels_but_keeps_the_picture(covers):
    copies = augment_covers(covers, seed=0).astype(float)
    for cover, copy in zip(covers.astype(float), copies):
        assert np.abs(copy - cover).mean() > 2               # degraded, not just re-saved
        mirrored = np.abs(copy - cover[:, ::-1]).mean()
        assert min(np.abs(copy - cover).mean(), mirrored) < 60   # still the cover, not noise


def test_an_empty_batch_and_any_side_work():
    assert augment_covers(np.zeros((0, 32, 32, 3), np.uint8), seed=0).shape == (0, 32, 32, 3)
    assert augment_covers(np.full((1, 17, 17, 3), 200, np.uint8), seed=3).shape == (1, 17, 17, 3)


def test_augmented_copies_join_the_fit_and_a_source_blind_copy_raises_transfer():
    """A feature that tells the source fails transfer (test_shipped.py); copies of the fit
    covers in which that feature is noise teach the head not to trust it. The covers scored
    stay as they are: only the fit changes."""
    labels = np.array([0] * 40 + [1] * 20 + [2] * 20)     # genre 0 from both sources
    sources = np.array(["a"] * 20 + ["b"] * 20 + ["a"] * 20 + ["b"] * 20)
    split = np.array(["train"] * 80)
    split[::8] = "test"
    data = Development(labels, np.array([f"artist{i // 2}" for i in range(80)]), sources, split,
                       ("x", "y", "z"))
    rng = np.random.default_rng(0)
    genre = np.c_[labels == 0, labels == 1, labels == 2].astype(float) + rng.normal(0, 0.8, (80, 3))
    x = np.c_[3 * (sources == "a"), genre]                 # the source is the clearest feature
    blind = np.c_[3 * rng.integers(0, 2, 80), genre][None]   # one copy, its source drawn at random
    plain = score_candidate([extractor_logits(x, data, c_grid=(1.0,), n_jobs=1)], data)
    augmented = score_candidate([extractor_logits(x, data, c_grid=(1.0,), n_jobs=1,
                                                  augmented=blind)], data)
    assert plain["transfer"] < 0.1 and augmented["transfer"] > plain["transfer"] + 0.2


def test_the_selection_has_the_augmented_candidates_named():
    names = [e.name for e in EXTRACTORS]
    assert "Lite2 300px stages + 1 augmented copy" in names
    assert "Lite2 300px stages + 2 augmented copies" in names
    assert len(set(names)) == len(names)
