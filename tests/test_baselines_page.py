"""The Baselines page (AppTest): fit on demand, Table 2 beside the paper, per genre, sweep."""
import shutil
import sys

import pytest
from streamlit.testing.v1 import AppTest

from cover_model.paths import PROJECT_ROOT, cache_dir

APP = str(PROJECT_ROOT / "app.py")
PAGE = "app_pages/baselines.py"
FEW_MODELS = ["ridge", "knn", "qda"]


@pytest.fixture
def page(embedded_data, monkeypatch) -> AppTest:
    # AppTest leaves the app script behind as __main__; put the real one back afterwards.
    monkeypatch.setitem(sys.modules, "__main__", sys.modules["__main__"])
    # The embedded covers' data folder lives for the whole session; so would its result cache.
    shutil.rmtree(cache_dir() / "baselines", ignore_errors=True)
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception
    at.sidebar.multiselect(key="baselines_models").set_value(FEW_MODELS)
    at.sidebar.select_slider(key="baselines_size_px").set_value(16)
    at.sidebar.multiselect(key="baselines_sweep_sizes").set_value([16, 32]).run()
    assert not at.exception
    return at


def button(at: AppTest, key: str):
    return next(b for b in at.button if b.key == key)


def test_fits_on_demand_then_shows_table2_beside_the_paper(page):
    assert any("not cached yet" in info.value for info in page.info)
    assert any("synthetic" in info.value for info in page.info)
    assert not page.dataframe                                 # nothing shown before the fit
    button(page, "baselines_fit").click().run()
    assert not page.exception

    table = page.dataframe[0].value
    assert list(table.index.get_level_values(-1)) == ["Ridge", "5-nearest neighbors",
                                                      "Quadratic Discriminant Analysis"]
    assert {"random train", "random test", "resize train", "resize test",
            "paper random test", "note"} <= set(table.columns)
    assert "failed" in table["note"].iloc[2]                  # QDA: reported, not a traceback
    metrics = page.dataframe[1].value
    assert {"test balanced accuracy", "test macro-F1", "test top-3"} <= set(metrics.columns)
    per_genre = page.dataframe[2].value
    assert per_genre.shape == (2, 10)          # the paper's ten genres; the failed QDA has no row
    assert page.selectbox(key="baselines_confusion_model").options == ["Ridge", "5-nearest neighbors"]
    assert len(page.get("plotly_chart")) == 3                 # ours vs paper, per genre, confusion


def test_sweep_runs_on_demand_and_cached_results_need_no_button(page):
    button(page, "baselines_fit").click().run()
    button(page, "baselines_sweep_fit").click().run()
    assert not page.exception
    sweep = page.dataframe[-1].value
    assert list(sweep["size_px"]) == [16, 32] and list(sweep["n_features"]) == [768, 3072]
    assert len(page.get("plotly_chart")) == 4

    page.run()                                                # everything is cached now
    assert not any(b.key in ("baselines_fit", "baselines_sweep_fit") for b in page.button)
    assert page.dataframe[0].value.shape[0] == 3


def test_histogram_features(page):
    page.sidebar.radio(key="baselines_features").set_value("color_hist").run()
    button(page, "baselines_fit").click().run()
    assert not page.exception
    table = page.dataframe[0].value
    assert table.index.get_level_values(0)[0].startswith("color_hist")
    assert table["paper random test"].isna().all()           # the paper's numbers are for pixels


def test_embedding_features_say_what_is_missing_without_a_traceback(page, tmp_path, monkeypatch):
    network = page.sidebar.selectbox(key="baselines_networks")
    assert network.disabled and network.value == "efficientnet_lite0"     # only for embeddings
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))       # no torchvision weights
    page.sidebar.radio(key="baselines_features").set_value("embedding").run()
    assert page.sidebar.select_slider(key="baselines_size_px").disabled  # the network's own input side
    assert any("Embedding the covers comes first" in info.value for info in page.info)
    page.sidebar.selectbox(key="baselines_networks").set_value("resnet18").run()
    button(page, "baselines_fit").click().run()
    assert not page.exception
    assert any("ImageNet weights for resnet18 not found" in error.value for error in page.error)
    table = page.dataframe[0].value
    assert table.index.get_level_values(0)[0] == "resnet18 embedding 224x224"
    assert table["note"].str.startswith("failed: ImageNet weights").all()
