"""Settings declared once (cover_model.config): checks, flags, files, widgets and cache keys from option()."""
import argparse
import dataclasses
import sys

import pytest
from streamlit.testing.v1 import AppTest

from cover_model import config
from cover_model.baselines.config import BaselineConfig
from cover_model.color import ColorConfig
from cover_model.config import Config, option
from cover_model.curation.style_map import StyleMapConfig
from cover_model.paths import PROJECT_ROOT


@dataclasses.dataclass(frozen=True)
class Job(Config):
    bins: int = option(8, "bins per channel", ge=1, le=64, step=1)
    lr: float = option(0.01, "learning rate", gt=0, le=10)
    sizes: tuple[int, ...] = option((32,), "grid sizes", ge=2, le=256)
    models: tuple[str, ...] = option(("ridge",), "models", choices=("ridge", "knn", "svm"))
    shown: str = option("a", "display only, not part of the result")


def test_a_range_from_the_metadata_refuses_every_value_outside_it_at_once():
    with pytest.raises(ValueError) as refused:
        Job(bins=65, lr=0.0, sizes=(8, 1), models=("ridge", "sift"))
    assert str(refused.value) == ("bins must be 1-64, got 65; lr must be in (0, 10], got 0.0; "
                                  "sizes must be 2-256, got 1; unknown models 'sift'; choose from "
                                  "ridge, knn, svm")
    assert Job(bins=64, lr=10, sizes=(2, 256)).bins == 64             # the ends are inside
    with pytest.raises(ValueError, match="models is a list setting: give a tuple, got 'ridge,knn'"):
        Job(models="ridge,knn")


def test_a_list_setting_takes_a_comma_list_or_repeated_flags_and_a_json_list():
    parser = argparse.ArgumentParser()
    config.add_arguments(parser, Job)
    assert config.from_args(Job, parser.parse_args([])).sizes == (32,)
    args = parser.parse_args(["--sizes", "8,16", "--sizes", "70", "--models", "knn"])
    assert config.from_args(Job, args) == Job(sizes=(8, 16, 70), models=("knn",))
    assert config.from_args(Job, parser.parse_args(["--sizes", ""])).sizes == ()
    with pytest.raises(SystemExit):
        parser.parse_args(["--sizes", "8,big"])                    # argparse names the bad item
    saved = dataclasses.asdict(Job(sizes=(8, 16)))
    assert config.from_dict(Job, {**saved, "sizes": list(saved["sizes"])}) == Job(sizes=(8, 16))
    with pytest.raises(ValueError, match="must be a list of int"):
        config.from_dict(Job, {"sizes": 8})
    with pytest.raises(ValueError, match="must be int"):
        config.from_dict(Job, {"sizes": ["8"]})


def test_only_given_list_flags_leave_the_preset_to_fill_them():
    parser = argparse.ArgumentParser()
    config.add_arguments(parser, Job, only_given=True)
    assert config.given(Job, parser.parse_args([])) == {}
    assert config.given(Job, parser.parse_args(["--models", "svm,knn"])) == {"models": ("svm", "knn")}


def test_cache_key_follows_what_the_result_depends_on():
    assert Job().cache_key() == Job().cache_key()
    assert Job().cache_key() != Job(bins=4).cache_key()
    assert Job().cache_key(ignore=("shown",)) == Job(shown="b").cache_key(ignore=("shown",))
    colour = ColorConfig()
    assert colour.cache_key() == ColorConfig(metric="hellinger").cache_key()   # all four are computed
    assert colour.cache_key() == ColorConfig(grid=2).cache_key()               # a gradient setting
    assert colour.cache_key() != ColorConfig(bins=4).cache_key()
    assert ColorConfig(feature="gradient").cache_key() != ColorConfig(feature="gradient", grid=2).cache_key()
    baselines = BaselineConfig(sweep_sizes=(16, 32))
    assert baselines.cache_key() != baselines.without_sweep().cache_key()
    assert BaselineConfig().cache_key() != BaselineConfig(models=("ridge",)).cache_key()


def _widget_script():
    import dataclasses

    import streamlit as st

    from cover_model.config import Config, option
    from ui_widgets import config_widgets

    @dataclasses.dataclass(frozen=True)
    class Job(Config):
        bins: int = option(8, "bins per channel", ge=1, le=64, step=1)
        size_px: int = option(32, "side", ge=4, le=512, ticks=(16, 32, 64))
        sizes: tuple[int, ...] = option((32,), "grid sizes", ge=2, le=256, ticks=(8, 32, 100))
        trials: int = option(20, "trials", ge=1, le=10_000)

    st.session_state.values = config_widgets(Job, key_prefix="job", container=st.container())


def test_the_widget_of_a_ranged_field_offers_exactly_that_range():
    at = AppTest.from_function(_widget_script).run()
    assert not at.exception
    bins = at.slider(key="job_bins")
    assert (bins.min, bins.max, bins.step, bins.value) == (1, 64, 1, 8)
    assert at.select_slider(key="job_size_px").options == ["16", "32", "64"]
    sizes = at.multiselect(key="job_sizes")
    assert sizes.options == ["8", "32", "100"] and sizes.value == [32]
    sizes.set_value([100, 8]).run()
    assert at.session_state["values"]["sizes"] == (8, 100)                     # tuple, in one order
    # A number input is unbounded: the config's check names a value out of range.
    assert at.number_input(key="job_trials").value == 20


# --- the pages: every slider, select slider and multiselect within its config's range ---------

PAGES = {"app_pages/color.py": ("color", ColorConfig), "app_pages/baselines.py": ("baselines", BaselineConfig),
         "app_pages/style_map.py": ("style_map", StyleMapConfig)}


@pytest.fixture
def app(embedded_data, monkeypatch) -> AppTest:
    monkeypatch.setitem(sys.modules, "__main__", sys.modules["__main__"])
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=120)
    return at.run()


def ranged_widgets(at: AppTest, prefix: str, config_cls):
    """(field, widget, its values) for each sidebar widget of a ranged field."""
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    for kind in ("slider", "select_slider", "multiselect"):
        for element in at.sidebar.get(kind):
            name = (element.key or "").removeprefix(prefix + "_")
            if name in fields and any(config.bounds(fields[name])):
                values = ([element.min, element.max] if kind == "slider"
                          else [int(option) for option in element.options])
                yield fields[name], element, values


@pytest.mark.parametrize("page", PAGES)
def test_a_page_widget_offers_what_its_config_check_accepts(app, page):
    prefix, config_cls = PAGES[page]
    app.switch_page(page).run()
    assert not app.exception
    checked = []
    for field, element, values in ranged_widgets(app, prefix, config_cls):
        low, high = config.bounds(field)
        assert low <= min(values) and max(values) <= high, (field.name, values, (low, high))
        if element.type == "slider":                                      # a slider spans the range
            assert (element.min, element.max) == (low, high), field.name
        checked.append(field.name)
    assert checked, "no ranged widget found on the page"
    if config_cls is ColorConfig:
        assert {"bins", "size_px", "mean_cover_px"} <= set(checked)
