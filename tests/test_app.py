"""Each dashboard page runs headlessly (AppTest) without an exception."""
import sys

import pytest
from streamlit.testing.v1 import AppTest

from cover_model.paths import PROJECT_ROOT

APP = str(PROJECT_ROOT / "app.py")


@pytest.fixture
def app(embedded_data, monkeypatch) -> AppTest:
    # AppTest leaves the app script behind as __main__; spawned worker pools in
    # later tests would re-run it. Put the real one back afterwards.
    monkeypatch.setitem(sys.modules, "__main__", sys.modules["__main__"])
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    assert not at.exception
    return at


def test_overview_is_the_default_page(app):
    assert app.title[0].value == "Cover Genre Lab"


def test_dataset_page_shows_the_embedded_covers_as_synthetic(app):
    app.switch_page("app_pages/dataset.py").run()
    assert not app.exception
    assert any("synthetic" in info.value for info in app.info)
    assert app.metric[0].value == "1,000" and app.metric[1].value == "10"


def test_dataset_page_loads_a_folder_from_the_sidebar(app, folder_dataset):
    app.switch_page("app_pages/dataset.py").run()
    app.sidebar.radio(key="dataset_kind").set_value("Folder, manifest or zip on the server").run()
    app.sidebar.text_input(key="dataset_path").input(str(folder_dataset)).run()
    assert not app.exception
    assert app.metric[0].value == "30"
    assert not any("synthetic" in info.value for info in app.info)


def test_a_wrong_path_is_a_clear_error_not_a_traceback(app, tmp_path):
    app.switch_page("app_pages/dataset.py").run()
    app.sidebar.radio(key="dataset_kind").set_value("Folder, manifest or zip on the server").run()
    app.sidebar.text_input(key="dataset_path").input(str(tmp_path / "missing")).run()
    assert not app.exception
    assert "no such file or folder" in app.error[0].value
