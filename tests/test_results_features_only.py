"""Results on the real covers' features pack: the shipped model's test figures from the
probabilities the pack stores for it (no cover scored again), per source beside a
visitor's head trained on the pack, and one-line notices where the page needs pictures."""
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import ui
from cover_model import classification_metrics
from cover_model.data.dataset import REAL_FEATURES, load_dataset
from cover_model.data.feature_pack import load_pack
from cover_model.networks import runs, training
from cover_model.networks.config import PRESETS, TrainConfig
from cover_model.networks.tables import first_shown, predictions_on_test, trained_on
from cover_model.paths import PROJECT_ROOT, checkpoints_dir
from cover_model.report.scoring import label_predictions, per_source_beside, per_source_scores
from cover_model.shipped import read_card, shipped_run

pytestmark = pytest.mark.skipif(load_pack() is None or shipped_run() is None,
                                reason="the features pack or the shipped model is missing")

PAGE = "app_pages/results.py"


@pytest.fixture(scope="module")
def real():
    return load_dataset(REAL_FEATURES)


@pytest.fixture(scope="module")
def trained_head(tmp_path_factory) -> Path:
    """A head trained once for this file on the pack (6 epochs of the loop: a few seconds)."""
    folder = tmp_path_factory.mktemp("head-run") / "20261207-120000-efficientnet_lite2-linear-head"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COVER_LAB_DATA", str(tmp_path_factory.mktemp("head-data")))
        cfg = TrainConfig(data=REAL_FEATURES, **PRESETS["lite2-stages-loop"] | {"epochs": 6})
        return training.main(cfg, run_dir=folder)


@pytest.fixture
def head_run(trained_head) -> Path:
    """The trained head in this test's own checkpoints folder, as a finished job leaves it."""
    return Path(shutil.copytree(trained_head, checkpoints_dir() / trained_head.name))


def shipped_table(real):
    shipped = shipped_run()
    return label_predictions(predictions_on_test(shipped, real), runs.Run(shipped).class_names)


def test_the_shipped_models_stored_test_answers_give_its_cards_figures(real):
    table = shipped_table(real)
    card = read_card()
    assert len(table) == card["covers"]["test"] == 748
    scores = classification_metrics.summarize(table["label"].to_numpy(), table["pred"].to_numpy(), n_classes=9)
    assert scores["balanced_accuracy"] == pytest.approx(card["test"]["balanced accuracy"][0], abs=1e-9)
    assert scores["accuracy"] == pytest.approx(card["test"]["top-1 accuracy"][0], abs=1e-9)
    assert scores["macro_f1"] == pytest.approx(card["test"]["macro-F1"][0], abs=1e-9)
    assert table["in_top3"].mean() == pytest.approx(card["test"]["top-3 accuracy"][0], abs=1e-9)
    # and the confusion its metrics.json holds, which the page draws
    np.testing.assert_array_equal(scores["confusion"],
                                  runs.Run(shipped_run()).metrics()["test"]["confusion"])


def test_its_per_source_figures_are_the_cards(real):
    names = runs.Run(shipped_run()).class_names
    by_source = per_source_scores(shipped_table(real), names)
    for row in read_card()["per_source"]:
        assert by_source.loc[row["source"], "test covers"] == row["test covers"]
        for column in ("top-1", "balanced", "top-3"):
            assert by_source.loc[row["source"], column] == pytest.approx(row[column], abs=1e-6)


def test_stored_answers_come_only_from_the_pack_they_were_made_with(real, embedded_data):
    assert predictions_on_test(shipped_run(), None) is None
    assert predictions_on_test(shipped_run(), load_dataset("synth")) is None
    assert trained_on(shipped_run(), real)                       # the covers the pack came from
    assert not trained_on(shipped_run(), load_dataset("synth"))


def test_a_head_on_the_pack_shows_first_beside_the_shipped_model_with_its_sources(real, head_run):
    shipped = shipped_run()
    assert trained_on(head_run, real)
    assert first_shown([shipped, head_run], real, shipped=shipped) == [head_run, shipped]
    kept = predictions_on_test(head_run, real)
    assert len(kept) == 748 and (kept["path"] == runs.Run(head_run).predictions()["path"]).all()
    table = per_source_beside([shipped, head_run], real, {shipped: "shipped", head_run: "head"})
    assert list(table.index) == [("discogs", "shipped"), ("discogs", "head"),
                                 ("spotify", "shipped"), ("spotify", "head")]
    assert (table["test covers"].to_numpy() == [603, 603, 145, 145]).all()


def open_results(dataset_kind=ui.REAL) -> AppTest:
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=60)
    at.session_state["dataset_kind"] = dataset_kind
    at.run()
    at.switch_page(PAGE).run()
    return at


def texts(at: AppTest, kind: str) -> str:
    return " ".join(e.value for e in at.get(kind))


@pytest.fixture
def page_main(monkeypatch):
    monkeypatch.setitem(sys.modules, "__main__", sys.modules["__main__"])   # see test_app.py


def test_the_shipped_model_alone_on_the_real_features_with_notices_for_pictures(page_main):
    at = open_results()
    assert not at.exception and not at.error
    assert at.multiselect(key="results_runs").value == [str(shipped_run())]
    by_source = next(d.value for d in at.dataframe if "balanced" in d.value.columns and
                     "discogs" in d.value.index.get_level_values(0))
    assert len(by_source) == 2
    info = texts(at, "info")
    assert "The misclassified gallery" in info and "The label review" in info
    assert "features only" in info
    assert not [b for b in at.button if b.key in ("results_score", "review_start")]


def test_a_visitors_head_beside_the_shipped_model_per_genre_source_and_confusion(page_main, head_run):
    at = open_results()
    assert not at.exception and not at.error
    assert at.multiselect(key="results_runs").value == [str(head_run), str(shipped_run())]
    per_genre = at.dataframe[1].value
    assert any(c.startswith("shipped real-cover model") for c in per_genre.columns)
    assert any(c.startswith("efficientnet_lite2 linear 300px") for c in per_genre.columns)
    by_source = at.dataframe[2].value
    assert len(by_source) == 4 and {"discogs", "spotify"} == set(by_source.index.get_level_values(0))
    assert len(at.get("plotly_chart")) >= 3                   # bars, curves, confusion
    at.selectbox(key="results_detail_run").set_value(str(shipped_run())).run()
    assert not at.exception
    at.selectbox(key="results_detail_run").set_value(str(head_run)).run()
    assert not at.exception and "features only" in texts(at, "caption")


def test_the_gallery_button_switches_to_the_synthetic_covers_without_failing(page_main, head_run,
                                                                            embedded_data):
    at = open_results()
    at.button(key="use_synthetic_The misclassified gallery").click().run()
    assert at.session_state["dataset_kind"] == ui.EMBEDDED
    assert not at.exception
    # The head was trained on the pack: its mistakes have no picture whatever the sidebar holds.
    assert at.selectbox(key="results_detail_run").value == str(head_run)
    assert "The misclassified gallery" in texts(at, "info")
