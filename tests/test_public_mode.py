"""Public mode: server paths only inside allowed roots, no server path or traceback for
a visitor, uploads kept per visitor; outside it, a local user keeps every path."""
import io
import logging
import os
import sys
import zipfile

import pytest
from streamlit.testing.v1 import AppTest

import ui
from cover_model import disk_budget, public_mode
from cover_model.paths import PROJECT_ROOT

APP = str(PROJECT_ROOT / "app.py")
REFUSED = "this public demo does not read folders on its server"


@pytest.fixture
def public(monkeypatch):
    monkeypatch.setenv("COVER_LAB_PUBLIC", "1")
    monkeypatch.delenv("COVER_LAB_ALLOWED_ROOTS", raising=False)


@pytest.fixture
def dataset_page(embedded_data, monkeypatch):
    monkeypatch.setitem(sys.modules, "__main__", sys.modules["__main__"])
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    return at.switch_page("app_pages/dataset.py").run()


def _texts(at) -> str:
    """Everything the page shows as text, to look for leaks."""
    parts = [e.value for kind in ("error", "warning", "info", "caption", "markdown", "success")
             for e in getattr(at, kind)]
    return "\n".join(str(p) for p in parts)


# --- the API --------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/etc", "/etc/shadow", "/no/such/place", "/proc/self/cwd",
                                  "relative/path", "/tmp/a\x00b"])
def test_public_mode_without_roots_refuses_every_server_path_alike(public, path):
    with pytest.raises(public_mode.AccessError) as refusal:
        public_mode.check_server_path(path)
    assert REFUSED in str(refusal.value) or "not allowed" in str(refusal.value)
    assert "/" not in str(refusal.value).replace("N/A", "")


def test_allowed_roots_admit_their_contents_only(public, monkeypatch, tmp_path):
    root = tmp_path / "shared-covers"
    (root / "rock").mkdir(parents=True)
    (root / "escape").symlink_to("/etc")
    monkeypatch.setenv("COVER_LAB_ALLOWED_ROOTS", str(root))
    assert public_mode.check_server_path(root / "rock") == (root / "rock").resolve()
    assert public_mode.check_server_path("rock") == (root / "rock").resolve()     # relative to the root
    for outside in ["/etc/passwd", str(root / ".." / "x"), str(root / "escape"), "../../etc"]:
        with pytest.raises(public_mode.AccessError, match="outside the folders"):
            public_mode.check_server_path(outside)


def test_outside_public_mode_every_path_is_the_users(monkeypatch):
    monkeypatch.delenv("COVER_LAB_PUBLIC", raising=False)
    assert str(public_mode.check_server_path("/etc")) == "/etc"


def test_visitor_messages_name_no_server_path(public):
    data_file = public_mode.data_dir() / "imports" / "covers-abc" / "rock" / "x.jpg"
    text = public_mode.visitor_message(f"{data_file}: truncated; also /proc/1/cwd and {PROJECT_ROOT}")
    assert str(public_mode.data_dir()) not in text and "/proc" not in text and str(PROJECT_ROOT) not in text
    assert "x.jpg: truncated" in text


def test_public_limits_are_tighter_and_each_can_be_moved(public, monkeypatch):
    assert public_mode.limits() == public_mode.PUBLIC
    monkeypatch.setenv("COVER_LAB_MAX_RUNNING_JOBS", "3")
    assert public_mode.limits().max_running_jobs == 3
    monkeypatch.delenv("COVER_LAB_PUBLIC")
    assert public_mode.limits().max_decode_bytes == public_mode.LOCAL.max_decode_bytes


# --- the dashboard -----------------------------------------------------------------------

def test_public_sidebar_offers_no_server_folders(public, dataset_page):
    assert ui.ON_SERVER not in dataset_page.sidebar.radio(key="dataset_kind").options
    assert not dataset_page.exception


def test_public_sidebar_reads_allowed_roots_only(public, monkeypatch, embedded_data, folder_dataset):
    monkeypatch.setenv("COVER_LAB_ALLOWED_ROOTS", str(folder_dataset.parent))
    monkeypatch.setitem(sys.modules, "__main__", sys.modules["__main__"])
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("app_pages/dataset.py").run()
    at.sidebar.radio(key="dataset_kind").set_value(ui.ON_SERVER).run()
    at.sidebar.text_input(key="dataset_path").input(folder_dataset.name).run()
    assert not at.exception and at.metric[0].value == "30"
    assert str(folder_dataset) not in _texts(at)                  # the caption names no server path
    for path in ["/etc", "/etc/shadow", "/usr/share/icons", "/no/such"]:
        at.sidebar.text_input(key="dataset_path").input(path).run()
        assert not at.exception
        assert "outside the folders this demo may read" in at.error[0].value
        assert path not in _texts(at)


def test_local_sidebar_still_reads_any_folder(dataset_page, folder_dataset, monkeypatch):
    monkeypatch.delenv("COVER_LAB_PUBLIC", raising=False)
    dataset_page.sidebar.radio(key="dataset_kind").set_value(ui.ON_SERVER).run()
    dataset_page.sidebar.text_input(key="dataset_path").input(str(folder_dataset)).run()
    assert not dataset_page.exception and dataset_page.metric[0].value == "30"


def _zip_of(folder) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder.parent))
    return buffer.getvalue()


def test_uploads_are_kept_per_visitor_and_refused_ones_removed(public, dataset_page, folder_dataset):
    dataset_page.sidebar.radio(key="dataset_kind").set_value(ui.UPLOADED).run()
    uploader = dataset_page.sidebar.file_uploader(key="dataset_zip")
    uploader.set_value([("covers.zip", _zip_of(folder_dataset), "application/zip")]).run()
    assert not dataset_page.exception and dataset_page.metric[0].value == "30"
    visitor = dataset_page.query_params["visitor"]
    assert [p.name for p in (disk_budget.uploads_dir() / visitor).rglob("*.zip")] == ["covers.zip"]
    assert str(disk_budget.uploads_dir()) not in _texts(dataset_page)

    uploader.set_value(None).run()
    dataset_page.sidebar.file_uploader(key="dataset_zip").set_value(
        [("broken.zip", b"PK\x03\x04 not really", "application/zip")]).run()
    assert not dataset_page.exception
    assert "not a valid zip" in dataset_page.error[0].value
    assert str(public_mode.data_dir()) not in dataset_page.error[0].value
    assert [p.name for p in (disk_budget.uploads_dir() / visitor).rglob("*.zip")] == ["covers.zip"]


def test_an_upload_over_the_quota_is_refused(public, monkeypatch, dataset_page, folder_dataset):
    monkeypatch.setenv("COVER_LAB_UPLOAD_QUOTA_BYTES", "1000")
    dataset_page.sidebar.radio(key="dataset_kind").set_value(ui.UPLOADED).run()
    dataset_page.sidebar.file_uploader(key="dataset_zip").set_value(
        [("covers.zip", _zip_of(folder_dataset), "application/zip")]).run()
    assert not dataset_page.exception
    assert "quota" in dataset_page.error[0].value


@pytest.mark.parametrize("is_public", [True, False])
def test_a_failing_page_shows_an_id_and_logs_the_trace(is_public, monkeypatch, dataset_page, caplog):
    if is_public:
        monkeypatch.setenv("COVER_LAB_PUBLIC", "1")
    else:
        monkeypatch.delenv("COVER_LAB_PUBLIC", raising=False)

    def broken():
        raise RuntimeError(f"bug near {PROJECT_ROOT}/secret.py")
    monkeypatch.setattr(ui, "current_dataset", broken)
    public_mode.log.propagate = True           # let caplog see what the server log gets
    try:
        with caplog.at_level(logging.ERROR, logger="cover_model.public_mode"):
            dataset_page.run()
    finally:
        public_mode.log.propagate = False
    message = dataset_page.error[0].value
    error_id = message.split("error id `")[1].split("`")[0]
    assert f"error {error_id}" in caplog.text and "Traceback" in caplog.text
    assert "secret.py" in caplog.text
    if is_public:
        assert not dataset_page.exception and "secret.py" not in _texts(dataset_page)
    else:
        assert "secret.py" in dataset_page.exception[0].message       # a local user sees it
    os.environ.pop("COVER_LAB_PUBLIC", None)


def test_a_page_embeds_no_more_covers_than_public_mode_allows(public, embedded_data, monkeypatch):
    """The style map's first layout runs in the server process, outside the job queue: in
    public mode a dataset over the cap gets a clear refusal, not a button (the embedded
    1,000 covers fit the default cap of 2,000; here the cap is moved below them)."""
    monkeypatch.setitem(sys.modules, "__main__", sys.modules["__main__"])
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    page = at.switch_page("app_pages/style_map.py").run()
    assert not page.exception and page.button(key="style_map_build")   # within the cap
    monkeypatch.setenv("COVER_LAB_MAX_PAGE_COVERS", "500")
    page.run()
    assert not page.exception
    assert not [b for b in page.button if b.key == "style_map_build"]
    assert "limited to 500 covers on this server (1,000 here)" in _texts(page)
