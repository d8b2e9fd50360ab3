"""Label review (cover_model.curation.label_review): ranking by doubt, scoring a dataset's covers,
and the reviewed manifest written beside the data without touching the original."""
import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from cover_model.curation.label_review import (
    rank_by_doubt,
    reviewed_manifest,
    score_for_review,
    write_reviewed_manifest,
)
from cover_model.data.dataset import load_dataset
from cover_model.networks.predict import Predictor

from .helpers import jpeg_bytes

COLORS = {"metal": (230, 20, 20), "jazz": (20, 230, 20), "ambient": (20, 20, 230)}


@pytest.fixture
def planted(tmp_path):
    """Flat covers, one colour per genre, with a manifest; one red (metal) cover is
    planted under jazz. Returns the dataset and the planted cover's path."""
    rows = []
    for genre, color in COLORS.items():
        for i in range(4):
            (tmp_path / f"{genre}{i}.jpg").write_bytes(jpeg_bytes(color))
            rows.append((f"{genre}{i}.jpg", genre, "train" if i else "test"))
    (tmp_path / "planted.jpg").write_bytes(jpeg_bytes(COLORS["metal"]))
    rows.append(("planted.jpg", "jazz", "train"))
    pd.DataFrame(rows, columns=["path", "genre", "split"]).to_csv(tmp_path / "manifest.csv", index=False)
    return load_dataset(tmp_path), str(tmp_path / "planted.jpg")


def color_predictor(class_names) -> Predictor:
    """A network that reads a cover's mean colour: red is metal, green jazz, blue ambient."""
    linear = nn.Linear(3, len(class_names))
    with torch.no_grad():
        linear.weight.zero_(), linear.bias.zero_()
        for channel, genre in enumerate(COLORS):
            linear.weight[class_names.index(genre), channel] = 8.0
    model = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), linear)
    return Predictor(model, class_names=class_names, input_px=16, method="area")


def test_the_planted_mislabel_is_the_most_doubted_cover_on_every_split(planted):
    dataset, mislabelled = planted
    ranked = score_for_review(color_predictor(list(dataset.class_names)), dataset)
    assert len(ranked) == len(dataset)
    first = ranked.iloc[0]
    assert first["path"] == mislabelled and first["genre"] == "jazz" and first["split"] == "train"
    assert first["top1"] == "metal" and first["p1"] > 0.8 and first["p_genre"] < 0.1
    assert ranked["doubt"].is_monotonic_decreasing
    assert (ranked.iloc[1:]["top1"] == ranked.iloc[1:]["genre"]).all()


def test_score_for_review_keeps_only_the_splits_asked_for(planted):
    dataset, _ = planted
    ranked = score_for_review(color_predictor(list(dataset.class_names)), dataset, splits=["test"])
    assert set(ranked["split"]) == {"test"} and len(ranked) == len(COLORS)


def test_ties_in_doubt_go_to_the_most_confident_other_genre():
    items = pd.DataFrame({"path": ["even", "sure"], "genre": ["a", "a"]})
    ranked = rank_by_doubt(items, np.array([[0.0, 0.5, 0.5], [0.0, 1.0, 0.0]]), ["a", "b", "c"])
    assert list(ranked["path"]) == ["sure", "even"]
    assert list(ranked["p_other"]) == [1.0, 0.5]


def test_the_reviewed_manifest_has_the_fixes_and_the_original_is_unchanged(planted):
    dataset, mislabelled = planted
    original = (dataset.root / "manifest.csv").read_bytes()
    removed = str(dataset.root / "ambient0.jpg")
    written = write_reviewed_manifest(dataset, {mislabelled: "metal", removed: None})
    assert written.parent == dataset.root and written.name.startswith("manifest-reviewed-")
    assert (dataset.root / "manifest.csv").read_bytes() == original
    table = pd.read_csv(written, dtype=str, keep_default_na=False)
    assert len(table) == len(dataset) - 1 and "ambient0.jpg" not in set(table["path"])
    assert table.set_index("path").loc["planted.jpg", "genre"] == "metal"
    splits = dict(zip(dataset.relative_paths(), dataset.items["split"]))
    assert dict(zip(table["path"], table["split"])) == {p: s for p, s in splits.items()
                                                         if p != "ambient0.jpg"}
    reloaded = load_dataset(written)                    # a manifest the loader reads as is
    assert (reloaded.items["genre"] == "metal").sum() == 5
    with pytest.raises(FileExistsError):
        write_reviewed_manifest(dataset, {}, path=dataset.root / "manifest.csv")
    assert (dataset.root / "manifest.csv").read_bytes() == original


def test_a_fix_for_a_cover_not_in_the_dataset_is_refused(planted):
    dataset, _ = planted
    with pytest.raises(KeyError, match="not in the dataset"):
        reviewed_manifest(dataset, {"/elsewhere/x.jpg": "metal"})
