"""The Colour analysis page runs headlessly (AppTest): figures, Table 1 beside the paper's, widgets."""
import sys

import pytest
from streamlit.testing.v1 import AppTest

from cover_model.paths import PROJECT_ROOT
from cover_model.markdown_text import unescape

from .helpers import make_folder_dataset

APP = str(PROJECT_ROOT / "app.py")
PAGE = "app_pages/color.py"


@pytest.fixture
def page(embedded_data, monkeypatch) -> AppTest:
    # AppTest leaves the app script behind as __main__; put the real one back afterwards.
    monkeypatch.setitem(sys.modules, "__main__", sys.modules["__main__"])
    at = AppTest.from_file(APP, default_timeout=120)
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception
    return at


def table(at, index=0):
    return at.dataframe[index].value


def test_page_shows_the_matrix_ranks_beside_the_paper_and_mean_covers(page):
    assert page.title[0].value == "Colour analysis"
    assert any("synthetic" in info.value for info in page.info)
    ranks = table(page)
    assert "paper Table 1" in ranks.columns and ranks.loc["metal", "paper Table 1"] == 1
    assert ranks["per sample"].eq(50).all() and len(ranks) == 10
    assert [s.value for s in page.subheader][:4] == [
        "Similarity between genres (Figure 2)", "How similar is each genre to itself? (Table 1)",
        "Mean cover per genre (Figure 3)", "Colour against gradients"]
    comparison = table(page, -1)
    assert list(comparison.columns) == ["colour: mean rank", "colour: ranked 1st (%)",
                                        "gradient: mean rank", "gradient: ranked 1st (%)"]


def test_sidebar_settings_rerun_the_analysis(page):
    page.sidebar.number_input(key="color_n_per_genre").set_value(20).run()
    page.sidebar.number_input(key="color_trials").set_value(3).run()
    page.sidebar.selectbox(key="color_metric").set_value("hellinger").run()
    assert not page.exception
    ranks = table(page)
    assert ranks["per sample"].eq(20).all()
    assert any("Hellinger" in c.value for c in page.caption)


def test_gradient_feature_and_hsv_space(page):
    page.sidebar.selectbox(key="color_space").set_value("hsv").run()
    page.sidebar.radio(key="color_feature").set_value("gradient").run()
    assert not page.exception
    assert "gradient histogram" in page.caption[0].value


def test_a_genre_too_small_for_two_samples_is_reported_not_fatal(page, tmp_path):
    folder = make_folder_dataset(tmp_path / "covers", {"metal": 12, "ambient": 7, "jazz": 1})
    page.sidebar.radio(key="dataset_kind").set_value("Folder, manifest or zip on the server").run()
    page.sidebar.text_input(key="dataset_path").input(str(folder)).run()
    page.sidebar.number_input(key="color_n_per_genre").set_value(5).run()
    assert not page.exception
    warnings = " ".join(unescape(w.value) for w in page.warning)          # as a reader sees them
    assert "ambient: only 7 covers, so two disjoint samples of 3" in warnings
    assert "jazz: 1 cover(s), too few" in warnings
    assert table(page).loc["metal", "per sample"] == 5
