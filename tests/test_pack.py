"""The features pack: the real covers as numbers beside the shipped model, never as pictures.

The committed pack is read without the covers (a user's clone has none); where
``../shared`` is present, its rows are checked against the covers themselves and a
rebuild from a sample of them is checked to give the same bytes twice.
"""
import hashlib

import numpy as np
import pandas as pd
import pytest

from cover_model.color.histograms import compute_histograms
from cover_model.curation.leaks import HASH_INPUT_PX, hash_image
from cover_model.data.dataset import load_dataset
from cover_model.data.images import decode_image
from cover_model.data.preprocess import preprocess_dataset
from cover_model.data.splits import assign_splits
from cover_model.shipped import SHIPPED_DIR, read_card
from cover_model.shipped.pack import (
    ARRAYS_FILE,
    COLOR,
    COVERS_FILE,
    INFO_FILE,
    PACK_DIR,
    FeaturePack,
    build_pack,
    file_id,
    load_pack,
    pack_bytes,
    picture_like_arrays,
    write_pack,
)

from .conftest import REAL_COVERS

pytestmark = pytest.mark.slow           # scheduled first (tests/conftest.py)

MAX_BYTES = 20_000_000          # the budget for the pack in the repository


@pytest.fixture(scope="module")
def pack() -> FeaturePack:
    pack = load_pack()
    assert pack is not None, f"the features pack is missing from {PACK_DIR}"
    return pack


def test_the_committed_pack_is_small_and_describes_the_shipped_models_covers(pack):
    assert pack_bytes(PACK_DIR) < MAX_BYTES
    card = read_card()
    assert list(pack.class_names) == card["class_names"]
    assert len(pack) == card["covers"]["train+val"] + card["covers"]["test"]
    assert (pack.covers["split"] == "test").sum() == card["covers"]["test"]
    assert pack.covers.groupby("genre").size().to_dict() == card["covers_per_genre"]
    assert pack.covers["id"].is_unique and pack.covers["id"].str.fullmatch("[0-9a-f]{16}").all()


def test_no_array_of_the_pack_could_hold_a_picture(pack):
    assert picture_like_arrays(pack) == []
    for name, array in pack.arrays.items():
        big_axes = [n for n in array.shape if n >= 8]
        per_cover = array.shape[0] == len(pack)
        # one vector per cover at most; outside the cover rows, one vector of widths
        assert array.ndim <= 2, name
        assert per_cover or len(big_axes) <= 1, name


def test_the_picture_check_catches_a_thumbnail_or_a_map(pack):
    thumbs = FeaturePack(pack.covers, pack.class_names,
                         pack.arrays | {"thumbs": np.zeros((len(pack), 16, 16), np.uint8)}, pack.info)
    assert any(p.startswith("thumbs") for p in picture_like_arrays(thumbs))
    flat = FeaturePack(pack.covers, pack.class_names,
                       pack.arrays | {"features": np.zeros((len(pack), 32 * 32 * 3), np.uint8)}, pack.info)
    assert any(p.startswith("features") for p in picture_like_arrays(flat))


def test_the_pack_refits_the_shipped_head_within_a_point(pack):
    card, refit = read_card(), pack.info["refit"]
    assert abs(refit["pack"]["test"] - card["test"]["balanced accuracy"][0]) <= 0.01
    assert abs(refit["pack"]["transfer"] - refit["full"]["transfer"]) <= 0.01
    assert abs(refit["pack"]["cv"] - refit["full"]["cv"]) <= 0.01
    # the test figure is the pack's own: the head refitted here on the stored features
    from sklearn.metrics import balanced_accuracy_score

    from cover_model.shipped.selection import fit_probe
    dev, labels = (pack.covers["split"] != "test").to_numpy(), pack.covers["label"].to_numpy()
    head = fit_probe(pack.features[dev], labels[dev], refit["C"])
    again = balanced_accuracy_score(labels[~dev], head.predict(pack.features[~dev]))
    assert again == pytest.approx(refit["pack"]["test"], abs=1e-9)


def test_the_stored_probabilities_are_the_shipped_models_test_scores(pack):
    card = read_card()
    test = (pack.covers["split"] == "test").to_numpy()
    proba = pack.arrays["test_proba"]
    assert np.isnan(proba[~test]).all() and np.allclose(proba[test].sum(1), 1, atol=1e-4)
    hits = proba[test].argmax(1) == pack.covers["label"].to_numpy()[test]
    per_genre = [hits[pack.covers["label"].to_numpy()[test] == g].mean() for g in range(len(pack.class_names))]
    assert np.mean(per_genre) == pytest.approx(card["test"]["balanced accuracy"][0], abs=1e-6)


def test_histograms_read_back_as_the_colour_analysis_computes_them(pack):
    histograms = pack.color_histograms()
    assert histograms.shape == (len(pack), COLOR.bins ** 3)
    assert np.allclose(histograms.sum(1), 1)
    assert pack.gradient_histograms().shape[0] == len(pack)


# --- against the real covers, where ../shared is present ------------------------------------

@pytest.fixture(scope="module")
def real():
    if not (REAL_COVERS / "manifest.csv").is_file():
        pytest.skip(f"real covers not found at {REAL_COVERS} (they live in ../shared, outside the repo)")
    from cover_model.networks.runs import Run
    cfg = Run(SHIPPED_DIR).train_config()
    return assign_splits(load_dataset(REAL_COVERS / "manifest.csv"), scheme=cfg.split_scheme, seed=cfg.seed)


def _sample(dataset, per_genre: int):
    items = dataset.items
    rows = np.concatenate([np.flatnonzero((items["genre"] == g) & (items["split"] == split))[:per_genre]
                           for g in dataset.class_names for split in ("train", "test")])
    return np.sort(rows)


def test_the_packs_rows_are_the_real_covers(pack, real):
    rows = _sample(real, 1)
    by_id = {cid: i for i, cid in enumerate(pack.covers["id"])}
    sample = real.items.iloc[rows]
    at = [by_id[file_id(p)] for p in sample["path"]]
    covers = pack.covers.iloc[at]
    assert covers["genre"].tolist() == sample["genre"].tolist()
    assert covers["split"].tolist() == sample["split"].tolist()
    assert covers["group"].tolist() == sample["group"].tolist()
    assert file_id(sample["path"].iloc[0]) == hashlib.sha256(
        open(sample["path"].iloc[0], "rb").read()).hexdigest()[:16]
    images = preprocess_dataset(type(real)(sample.reset_index(drop=True), real.class_names, real.root),
                                size_px=COLOR.size_px, method=COLOR.method).images
    assert np.array_equal(compute_histograms(images, bins=COLOR.bins), pack.color_histograms()[at])
    for path, i in zip(sample["path"], at):
        phash, dhash, _ = hash_image(decode_image(path, draft_px=HASH_INPUT_PX))
        assert (phash, dhash) == (int(pack.arrays["phash"][i]), int(pack.arrays["dhash"][i]))


def test_a_rebuild_from_the_same_covers_gives_the_same_bytes(pack, real, tmp_path, monkeypatch):
    """36 of the real covers (t-SNE needs more than its perplexity, 30), built twice in
    two empty data folders: every cache is rebuilt, and every file comes out the same. Its
    test answers are the committed pack's for the same covers: the same extractor, the same head."""
    sample = real.items.iloc[_sample(real, 2)].reset_index(drop=True)
    dataset = type(real)(sample, real.class_names, real.root)
    built = []
    for attempt in ("a", "b"):
        monkeypatch.setenv("COVER_LAB_DATA", str(tmp_path / f"data-{attempt}"))
        folder = write_pack(build_pack(dataset, SHIPPED_DIR, refit=False, log=lambda *_: None), tmp_path / attempt)
        built.append({f: (folder / f).read_bytes() for f in (ARRAYS_FILE, COVERS_FILE, INFO_FILE)})
    assert built[0] == built[1]
    small = load_pack(tmp_path / "a")
    test = (small.covers["split"] == "test").to_numpy()
    at = pd.Index(pack.covers["id"]).get_indexer(small.covers["id"][test])
    assert np.allclose(small.arrays["test_proba"][test], pack.arrays["test_proba"][at], atol=1e-4)
