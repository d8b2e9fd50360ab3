"""The baselines on the real covers' features pack: the stored features fitted, pixels refused."""
import dataclasses

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from cover_model.baselines import BaselineConfig, FeatureError, FeatureSpec, compute_features
from cover_model.baselines.features import data_key
from cover_model.baselines.report import build_report, unavailable_features
from cover_model.baselines.specs import SHIPPED, shipped_spec
from cover_model.baselines.stored import QUICK_MODELS, stored_settings
from cover_model.data.dataset import REAL_FEATURES, load_dataset
from cover_model.data.feature_pack import stored_values
from cover_model.data.splits import assign_splits
from ui import REAL

from .features_only import real_features  # noqa: F401 (a fixture)
from .helpers import open_page


def as_stored(dataset, **settings) -> BaselineConfig:
    return BaselineConfig(**stored_settings(dataset) | {"n_jobs": 1} | settings)


def test_the_shipped_extractors_features_fit_well_above_chance(real_features):
    cfg = as_stored(real_features, models=("gaussian_nb", "majority"), features=(SHIPPED,))
    report = build_report(real_features, cfg)
    bayes, majority = report.results
    assert bayes.n_features == 2136 and bayes.status == "ok"
    assert (report.n_train, report.n_test) == (3461, 748)
    assert bayes.test["balanced_accuracy"] > 0.25            # chance: 1/9 (majority's 0.111)
    assert majority.test["balanced_accuracy"] == pytest.approx(1 / 9)
    assert bayes.spec == shipped_spec() and bayes.spec.label() == "efficientnet_lite2 shipped 300x300 area"
    again = build_report(real_features, cfg)                  # cached: nothing refitted
    assert all(r.cached for r in again.results)


def test_stored_histograms_as_features(real_features):
    colour = compute_features(real_features, FeatureSpec(kind="color_hist", size_px=32, method="cubic"))
    np.testing.assert_array_equal(colour.X, stored_values(real_features, "color"))
    four = compute_features(real_features, FeatureSpec(kind="color_hist", size_px=32, method="cubic", bins=4))
    assert four.n_features == 64 and np.allclose(four.X.sum(axis=1), 1, atol=1e-5)
    gradient = compute_features(real_features, FeatureSpec(kind="gradient_hist", size_px=32, method="cubic"))
    assert gradient.n_features == 144 and list(gradient.split[:3]) == list(real_features.items["split"][:3])
    for spec, named in [(FeatureSpec(kind="color_hist", size_px=64), "size_px 64"),
                        (FeatureSpec(kind="color_hist", method="random"), "random grid"),
                        (FeatureSpec(kind="gradient_hist", bins=6), "orientation_bins 6")]:
        with pytest.raises(FeatureError, match=named):
            compute_features(real_features, spec)


def test_what_needs_pixels_is_unavailable_with_its_reason(real_features):
    cfg = BaselineConfig(models=("majority",), features=("pixels", "color_hist"), n_jobs=1)
    report = build_report(real_features, cfg)     # random grid and cubic, each kind
    unavailable = unavailable_features(report.results)
    assert set(unavailable) == {"pixels 32x32 random", "pixels 32x32 cubic", "color_hist 32x32 random, default bins, rgb"}
    assert all("pixels" in why and "no licence" in why for why in unavailable.values())
    fitted = [r for r in report.results if r.status == "ok"]
    assert [r.spec.label() for r in fitted] == ["color_hist 32x32 cubic, default bins, rgb"]
    with pytest.raises(FeatureError, match="pixels"):
        compute_features(real_features, FeatureSpec(kind="embedding", network="efficientnet_lite0",
                                                    size_px=224, method="area"))


def test_shipped_features_exist_only_where_a_dataset_stores_them(folder_dataset):
    covers = assign_splits(load_dataset(folder_dataset))
    with pytest.raises(FeatureError, match="stored only"):
        compute_features(covers, shipped_spec())


def test_cache_key_follows_the_stored_numbers(real_features):
    spec = shipped_spec()
    pack = real_features.stored
    features = pack.arrays["features"].copy()
    features[0, 0] ^= 1
    rebuilt = dataclasses.replace(real_features, stored=dataclasses.replace(
        pack, arrays=pack.arrays | {"features": features}))
    assert rebuilt.fingerprint == real_features.fingerprint            # the same covers
    assert data_key(rebuilt, spec) != data_key(real_features, spec)    # other numbers
    assert data_key(load_dataset(REAL_FEATURES), spec) == data_key(real_features, spec)


@pytest.fixture
def page(app_main, real_features) -> AppTest:
    return open_page("app_pages/baselines.py", dataset_kind=REAL)


def test_page_offers_the_stored_features_and_fits_one(page):
    assert page.sidebar.radio(key="baselines_stored_features").value == SHIPPED
    assert tuple(page.sidebar.multiselect(key="baselines_stored_models").value) == QUICK_MODELS
    assert not any(w.key == "baselines_sweep_sizes" for w in page.sidebar.multiselect)
    page.sidebar.multiselect(key="baselines_stored_models").set_value(["gaussian_nb"]).run()
    next(b for b in page.button if b.key == "baselines_fit").click().run()
    assert not page.exception and not page.error
    table = page.dataframe[0].value
    assert list(table.columns) == ["resize train", "resize test", "note"]       # as stored: resize only
    assert table.index[0] == ("efficientnet_lite2 shipped 300x300", "Gaussian Naive-Bayes")
    assert table["resize test"].iloc[0] > 25
    assert any("grid-size sweep needs the pictures" in info.value for info in page.info)


def test_page_fits_the_stored_colour_histograms(page):
    page.sidebar.radio(key="baselines_stored_features").set_value("color_hist").run()
    page.sidebar.multiselect(key="baselines_stored_models").set_value(["knn"]).run()
    next(b for b in page.button if b.key == "baselines_fit").click().run()
    assert not page.exception and not page.error
    assert page.dataframe[0].value.index[0][0] == "color_hist 32x32"
