"""The shipped real-cover model: its files load and predict, its card is true, its recipe's
selection measures transfer to an unseen source."""
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from cover_model.color.profile import build_reference, profile_cover
from cover_model.data.dataset import load_dataset
from cover_model.networks import runs
from cover_model.networks.predict import Predictor
from cover_model.paths import PROJECT_ROOT
from cover_model.report import publish_report
from cover_model.runtime import tuned_env
from cover_model.shipped import (
    SHIPPED_DIR,
    load_color_reference,
    model_summary,
    read_card,
    save_color_reference,
)
from cover_model.shipped.card import render_card
from cover_model.shipped.selection import Development, score_candidate, shared_genres, transfer_folds

from .helpers import jpeg_bytes


@pytest.fixture(scope="module")
def shipped():
    assert (SHIPPED_DIR / "best.safetensors").is_file(), "the shipped model is missing"
    return SHIPPED_DIR


def test_the_shipped_folder_is_small_and_holds_only_the_trained_head(shipped):
    # the features pack (features/) has its own budget, in tests/test_pack.py
    total = sum(p.stat().st_size for p in shipped.rglob("*") if p.is_file() and "features" not in p.parts)
    assert total < 1_000_000, f"{total:,} bytes"
    state = runs.load_weights(shipped / "best.safetensors")
    assert state and not any(k.startswith("backbone.") for k in state)
    assert not list(shipped.glob("*.jpg")) and not list(shipped.glob("*.png"))


def test_the_shipped_model_loads_offline_and_answers_with_its_own_genres(shipped):
    card = read_card(shipped)
    predictor = Predictor.from_run(shipped)
    assert list(predictor.class_names) == card["class_names"]
    cover = np.random.default_rng(0).integers(0, 256, (300, 300, 3), dtype=np.uint8)
    answer = predictor.explain(cover)
    assert answer.top_k[0][0] in card["class_names"] and len(answer.top_k) == 3
    assert abs(answer.probabilities.sum() - 1) < 1e-4
    assert answer.grad_cam.shape == (predictor.input_px, predictor.input_px)


def test_the_predict_command_uses_the_shipped_model(shipped, tmp_path):
    cover = tmp_path / "cover.jpg"
    cover.write_bytes(jpeg_bytes((20, 20, 20), size=(300, 300)))
    done = subprocess.run([sys.executable, "-m", "cover_model", "predict", str(shipped), str(cover)],
                          capture_output=True, text=True, env=tuned_env(), cwd=PROJECT_ROOT, timeout=300)
    assert done.returncode == 0, done.stderr
    genre = done.stdout.split(": ", 1)[1].split()[0]
    assert genre in read_card(shipped)["class_names"]


def test_the_card_says_what_it_knows_and_what_it_is_not_for(shipped):
    card = read_card(shipped)
    text = (shipped / "MODEL_CARD.md").read_text()
    assert set(card["paper_genres_missing"]) == {"ambient", "dubstep", "folk", "punk", "soul"}
    for phrase in ("research demo, not a labelling tool", "no licence", "source confound",
                   "95%", "python -m cover_model ship"):
        assert phrase.lower() in text.lower(), phrase
    low, value, high = (card["test"]["balanced accuracy"][i] for i in (1, 0, 2))
    assert low < value < high
    assert "balanced accuracy" in model_summary(shipped)


@pytest.mark.real_data
def test_rescoring_the_shipped_model_gives_the_cards_figures(shipped, real_covers, tmp_path):
    """The shipped weights give the card's per-genre hits exactly on three genres' test
    covers (the ones with fewest, about 100 covers in all: the whole split took two minutes
    of CI), and the card's balanced accuracy is the mean of its per-genre accuracies."""
    from cover_model.data.splits import assign_splits
    from cover_model.networks.evaluation import score_covers
    card = read_card(shipped)
    names = card["class_names"]
    assert card["test"]["balanced accuracy"][0] == pytest.approx(
        np.mean([card["per_genre"][g]["accuracy"] for g in names]), abs=1e-9)
    copy = tmp_path / "shipped"
    shutil.copytree(shipped, copy)                 # evaluating writes beside the run
    dataset = assign_splits(load_dataset(real_covers))
    test = dataset.items[dataset.items["split"] == "test"]
    assert test["genre"].value_counts().to_dict() == {g: card["per_genre"][g]["test_covers"]
                                                      for g in names}
    checked = test["genre"].value_counts().nsmallest(3).index
    test = test[test["genre"].isin(checked)]
    scores = score_covers(Predictor.from_run(copy), test["path"].tolist())
    assert not scores.skipped and len(scores.index) == len(test)
    pred = np.asarray(names)[scores.probs.argmax(1)]
    for name in checked:
        expected = card["per_genre"][name]
        hits = int((pred[test["genre"].to_numpy() == name] == name).sum())
        assert hits == pytest.approx(expected["accuracy"] * expected["test_covers"], abs=1), name


def _toy_development():
    # Genre 0 from both sources, genre 1 only from "a", genre 2 only from "b".
    labels = np.array([0] * 40 + [1] * 20 + [2] * 20)
    sources = np.array(["a"] * 20 + ["b"] * 20 + ["a"] * 20 + ["b"] * 20)
    split = np.array(["train"] * 80)
    split[::8] = "test"
    groups = np.array([f"artist{i // 2}" for i in range(80)])
    return Development(labels, groups, sources, split, ("x", "y", "z"))


def test_transfer_folds_hold_out_one_sources_covers_of_the_shared_genres():
    data = _toy_development()
    assert shared_genres(data.labels, data.sources) == [0]
    folds = transfer_folds(data)
    assert [source for source, _, _ in folds] == ["a", "b"]
    for source, fit, held in folds:
        assert set(data.labels[held]) == {0} and set(data.sources[held]) == {source}
        assert not set(fit) & set(held) and not set(held) & set(data.test)
        assert len(fit) + len(held) == len(data.dev)


def test_a_feature_that_only_tells_the_source_fails_transfer_but_not_cross_validation():
    """The validation's point: a model that reads the source scores well in CV and badly
    on a source it has not seen the genre from."""
    from cover_model.shipped.selection import extractor_logits
    data = _toy_development()
    rng = np.random.default_rng(0)
    source_only = np.c_[(data.sources == "a").astype(float), (data.labels == 1) & (data.sources == "a"),
                        (data.labels == 2)] + 0.05 * rng.normal(size=(80, 3))
    scores = score_candidate([extractor_logits(source_only, data, c_grid=(1.0,), n_jobs=1)], data)
    assert scores["transfer"] < 0.5 <= scores["cv"]


def test_shipped_colour_statistics_hold_genre_means_only(folder_dataset, tmp_path):
    reference = build_reference(load_dataset(folder_dataset))
    save_color_reference(tmp_path / "colour.npz", reference)
    means_only = load_color_reference(tmp_path / "colour.npz")
    assert means_only.class_names == reference.class_names and not len(means_only.histograms)
    assert np.allclose(means_only.genre_means, reference.genre_means)
    cover = jpeg_bytes((200, 30, 30), size=(64, 64))
    full, light = profile_cover(cover, reference), profile_cover(cover, means_only)
    pd.testing.assert_frame_equal(full.similarity, light.similarity)
    assert light.neighbours.empty and light.closest == full.closest


def test_publishing_a_report_leaves_out_every_image_of_a_cover(tmp_path):
    report = tmp_path / "report"
    (report / "figures").mkdir(parents=True)
    (report / "tables").mkdir()
    (report / "figures" / "sample_grid.png").write_bytes(b"covers")
    (report / "figures" / "mean_covers.png").write_bytes(b"means")
    (report / "tables" / "table2.csv").write_text("run,note\n/work/runs/checkpoints/2026-run,x\n")
    (report / "report.md").write_text("# Study\n![Sample covers per genre](figures/sample_grid.png)\n"
                                      "![Mean cover per genre](figures/mean_covers.png)\n")
    out = publish_report(report, tmp_path / "published")
    assert not (out / "figures" / "sample_grid.png").exists()
    assert (out / "figures" / "mean_covers.png").exists() and (out / "tables" / "table2.csv").exists()
    text = (out / "report.md").read_text()
    assert "sample_grid" not in text and "no licence" in text and "mean_covers.png" in text
    assert (out / "tables" / "table2.csv").read_text() == "run,note\n2026-run,x\n"   # no machine path


def test_the_card_renders_from_its_figures():
    figures = {
        "class_names": ["metal", "pop"], "paper_genres_missing": ["ambient"],
        "covers": {"train+val": 80, "test": 20}, "covers_per_genre": {"metal": 50, "pop": 50},
        "covers_per_source": {"spotify": 100},
        "test": {"balanced accuracy": [0.6, 0.5, 0.7], "top-1 accuracy": [0.6, 0.5, 0.7]},
        "per_genre": {g: {"test_covers": 10, "accuracy": 0.6, "interval": [0.3, 0.8], "top_3": 1.0,
                          "most_often_confused_with": "pop"} for g in ("metal", "pop")},
        "per_source": [], "within_genre_by_source": [],
        "selection": {"transfer": 0.3, "cv": 0.5, "transfer_spotify": 0.3},
        "cross_validation": {"C": 0.001, "n_folds": 5},
        "recipe": {"arch": "efficientnet_lite0", "input_px": 224, "pooling": "last",
                   "flip": False, "preprocess": "area"},
    }
    text = render_card(figures, rebuild_command="python -m cover_model ship --data D")
    assert "| metal | 10 | 60.0 | 30.0-80.0 | 100.0 | pop |" in text
    assert "**30.0**" in text and "ambient" in text
