"""The real covers' features (the pack) on the pages that need no pictures, and a one-line
notice, never a failure, on those that do. Needs no ``../shared``: the pack is committed."""
import sys

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import ui
from cover_model.curation.leaks import check_leaks
from cover_model.curation.style_map import neighbour_vote, style_map
from cover_model.data.dataset import load_dataset
from cover_model.data.feature_pack import FeaturesOnlyError
from cover_model.data.preprocess import preprocess_dataset
from cover_model.paths import PROJECT_ROOT

from .helpers import jpeg_bytes

APP = str(PROJECT_ROOT / "app.py")


@pytest.fixture(scope="module")
def real():
    return load_dataset("real-features")


def test_the_pack_loads_as_a_split_dataset_of_numbers_only(real):
    assert real.features_only and len(real) == 4979 and real.n_classes == 9
    assert set(real.items["split"]) == {"train", "val", "test"}
    assert set(real.items["source"]) == {"discogs", "spotify"}
    with pytest.raises(FeaturesOnlyError, match="numbers only"):
        preprocess_dataset(real, size_px=32)


def test_the_stored_map_places_a_stored_cover_on_itself(real):
    smap = style_map(real)
    assert smap.xy.shape == (len(real), 2) and np.isfinite(smap.xy).all()
    row = 1234
    nearest, vote = neighbour_vote(real, smap, real.stored.features[row], 5)
    assert nearest["distance"].iloc[0] < 1e-3
    assert nearest["genre"].iloc[0] == real.items["genre"].iloc[row]
    assert vote.sum() == 5 and list(nearest.columns) == ["genre", "source", "split", "distance"]


def test_a_subset_reads_its_own_rows_of_the_pack(real):
    test = real.subset("test")
    smap = style_map(test)
    assert len(smap) == len(test)
    np.testing.assert_array_equal(smap.xy, real.stored.arrays["map_xy"][test.items["pack_row"]])


def test_the_leak_check_runs_on_the_stored_hashes(real):
    report = check_leaks(real)
    assert report.summary()["pairs"] >= 0 and len(report.pairs.columns)


@pytest.fixture
def real_page(embedded_data, monkeypatch):
    monkeypatch.setitem(sys.modules, "__main__", sys.modules["__main__"])   # see test_app.py
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["dataset_kind"] = ui.REAL
    return at


@pytest.mark.parametrize("page", ["dataset", "challenge", "style_map"])
def test_pages_draw_on_the_real_features_without_failing(real_page, page):
    real_page.switch_page(f"app_pages/{page}.py").run()
    assert not real_page.exception
    assert not real_page.error
    if page in ("dataset", "challenge"):
        assert any("features only" in i.value for i in real_page.info)
    if page == "style_map":
        assert any("stored in the features pack" in c.value for c in real_page.caption)


def test_the_notice_offers_the_synthetic_covers(real_page):
    real_page.switch_page("app_pages/challenge.py").run()
    real_page.button(key="use_synthetic_a round").click().run()
    assert real_page.session_state["dataset_kind"] == ui.EMBEDDED
    assert not real_page.exception


def test_an_upload_is_placed_among_the_real_covers_with_their_vote(real_page):
    real_page.switch_page("app_pages/predict.py").run()
    cover = jpeg_bytes((200, 40, 40), size=(300, 300))
    real_page.file_uploader(key="predict_uploads").set_value([("red.jpg", cover, "image/jpeg")]).run()
    assert not real_page.exception
    vote = [m.value for m in real_page.markdown if "nearest real covers" in m.value]
    assert vote and sum(int(n) for n in vote[0].split(":")[-1].replace(",", " ").split() if n.isdigit()) == 10
    assert len(real_page.dataframe) >= 1


@pytest.mark.parametrize("start, public, expected", [
    (None, "1", ui.REAL), ("real-features", "", ui.REAL), (None, "", ui.EMBEDDED), ("synth", "1", ui.EMBEDDED)])
def test_public_mode_and_make_demo_start_on_the_real_features(embedded_data, monkeypatch, start, public,
                                                              expected):
    """make demo runs `cover_model dashboard`, which sets COVER_LAB_START_DATA=real-features;
    public mode starts there too; a plain `streamlit run app.py` on the synthetic covers."""
    monkeypatch.setitem(sys.modules, "__main__", sys.modules["__main__"])
    monkeypatch.setenv("COVER_LAB_PUBLIC", public)
    if start:
        monkeypatch.setenv("COVER_LAB_START_DATA", start)
    else:
        monkeypatch.delenv("COVER_LAB_START_DATA", raising=False)
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert at.sidebar.radio(key="dataset_kind").value == expected
    assert not at.exception


def test_the_dashboard_command_starts_on_the_real_features(monkeypatch):
    from cover_model.cli import build_parser
    monkeypatch.delenv("COVER_LAB_START_DATA", raising=False)
    args = build_parser().parse_args(["dashboard"])
    assert args.data == "real-features"
