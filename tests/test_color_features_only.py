"""The colour analysis on the real covers' features pack: histograms read, not computed."""
import dataclasses

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from cover_model.color import (
    ColorConfig,
    compute_gradient_histograms,
    compute_histograms,
    run_color_analysis,
    run_trials,
)
from cover_model.color.stored import coarser_values, stored_histograms, sum_blocks
from cover_model.data.dataset import REAL_FEATURES, load_dataset
from cover_model.data.feature_pack import FeaturesOnlyError, stored_values
from ui import REAL

from .features_only import real_features  # noqa: F401 (a fixture)
from .helpers import open_page

FEW_TRIALS = ColorConfig(trials=3)


def test_table1_runs_on_the_stored_histograms(real_features):
    analysis = run_color_analysis(real_features, FEW_TRIALS)
    ranks = analysis.rank_summary()
    intersection = ranks[ranks["metric"] == "intersection"]
    assert list(intersection["genre"]) == list(real_features.class_names) and len(intersection) == 9
    assert intersection["rank"].between(1, 9).all()
    assert analysis.mean_covers is None                      # Figure 3 needs pixels
    # The same protocol as on computed histograms, fed the stored ones.
    direct = run_trials(stored_values(real_features, "color"), real_features.items["label"].to_numpy(),
                        n_classes=9, n_per_genre=50, n_trials=3, seed=0)
    np.testing.assert_array_equal(analysis.trials.ranks, direct.ranks)
    np.testing.assert_allclose(analysis.trials.matrices, direct.matrices)
    assert analysis.n_covers.sum() == len(real_features)


def test_gradient_analysis_runs_on_the_stored_histograms(real_features):
    analysis = run_color_analysis(real_features, dataclasses.replace(FEW_TRIALS, feature="gradient"))
    assert analysis.genre_means.shape == (9, 144)
    assert analysis.rank_summary()["rank"].notna().all()


def test_coarser_bins_and_cells_are_exact_sums_of_the_stored_ones():
    covers = np.random.default_rng(0).integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
    eight = compute_histograms(covers, bins=8)
    for bins in (4, 2, 1):
        factor = 8 // bins
        np.testing.assert_allclose(sum_blocks(eight, (8, 8, 8), (factor,) * 3),
                                   compute_histograms(covers, bins=bins), atol=1e-6)
    four = compute_gradient_histograms(covers, bins=9, grid=4)
    for grid in (2, 1):
        factor = 4 // grid
        np.testing.assert_allclose(sum_blocks(four, (4, 4, 9), (factor, factor, 1)),
                                   compute_gradient_histograms(covers, bins=9, grid=grid), atol=1e-6)


def test_four_bins_a_channel_from_the_stored_eight(real_features):
    assert coarser_values(real_features, "color") == (1, 2, 4, 8)
    settings = dataclasses.asdict(ColorConfig(bins=4))
    four = stored_histograms(real_features, "color", settings)
    assert four.shape == (len(real_features), 64)
    np.testing.assert_allclose(four.sum(axis=1), 1, atol=1e-5)
    eight = stored_values(real_features, "color").reshape(-1, 4, 2, 4, 2, 4, 2)
    np.testing.assert_allclose(four, eight.sum(axis=(2, 4, 6)).reshape(-1, 64), atol=1e-6)
    analysis = run_color_analysis(real_features, dataclasses.replace(FEW_TRIALS, bins=4))
    assert analysis.genre_means.shape == (9, 64)


@pytest.mark.parametrize("settings, named", [
    ({"size_px": 64}, "size_px 64"), ({"space": "hsv"}, "space hsv"), ({"bins": 3}, "bins 3"),
    ({"method": "area"}, "method area"),
    ({"feature": "gradient", "orientation_bins": 6}, "orientation_bins 6"),
    ({"feature": "gradient", "grid": 3}, "grid 3")])
def test_settings_the_pack_cannot_answer_are_refused_by_name(real_features, settings, named):
    with pytest.raises(FeaturesOnlyError, match="holds no pixels") as caught:
        run_color_analysis(real_features, dataclasses.replace(FEW_TRIALS, **settings))
    assert named in str(caught.value) and "size_px 32" in str(caught.value)   # and what it has


def test_a_subset_reads_its_own_rows(real_features):
    test = real_features.subset("test")
    np.testing.assert_array_equal(stored_histograms(test, "color", dataclasses.asdict(ColorConfig())),
                                  stored_values(real_features, "color")[real_features.items["split"] == "test"])


@pytest.fixture
def page(app_main, real_features) -> AppTest:
    return open_page("app_pages/color.py", dataset_kind=REAL)


def test_page_shows_the_real_table1_and_no_mean_covers(page):
    ranks = page.dataframe[0].value
    assert len(ranks) == 9 and "metal" in ranks.index and ranks["per sample"].max() == 50
    assert "as stored" in page.caption[0].value
    assert any("features only" in info.value and "mean cover" in info.value for info in page.info)
    assert len(page.get("plotly_chart")) == 2                # heatmap and ranks; no Figure 3
    comparison = page.dataframe[-1].value
    assert list(comparison.columns)[::2] == ["colour: mean rank", "gradient: mean rank"]
    # Only what the pack answers: no size, space or mean-cover widgets; bins as sums.
    keys = {w.key for w in page.sidebar.selectbox} | {w.key for w in page.sidebar.select_slider}
    assert "color_size_px" not in keys and "color_space" not in keys
    assert page.sidebar.selectbox(key="color_stored_bins").options == ["1", "2", "4", "8"]


def test_page_answers_coarser_bins_and_the_gradient_feature(page):
    page.sidebar.number_input(key="color_trials").set_value(2).run()
    page.sidebar.selectbox(key="color_stored_bins").set_value(4).run()
    assert not page.exception and "4^3 = 64 bins" in page.caption[0].value
    page.sidebar.radio(key="color_feature").set_value("gradient").run()
    page.sidebar.selectbox(key="color_stored_grid").set_value(2).run()
    assert not page.exception and "2x2 cells" in page.caption[0].value
    assert len(page.dataframe[0].value) == 9
