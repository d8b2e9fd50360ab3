"""End to end in public mode: what a stranger on the hosted demo can reach, in a real browser."""
import zipfile
from pathlib import Path

import pytest

from cover_model.paths import PROJECT_ROOT

from .conftest import SHOTS
from .server import ServerError, dashboard

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def public_server(tmp_path_factory, synth_data_dir):
    """One public demo for this file, whose embedded covers are already generated. Each test
    is another visitor (a browser of its own); the job-cap test, which fills the queue,
    runs last."""
    folder = tmp_path_factory.mktemp("public-demo")
    try:
        with dashboard(folder, COVER_LAB_PUBLIC="1", COVER_LAB_DATA=str(synth_data_dir),
                       COVER_LAB_CHECKPOINTS=str(folder / "checkpoints")) as (url, _):
            yield url
    except ServerError as exc:
        pytest.fail(str(exc))


def zip_of(folder: Path, out: Path) -> Path:
    with zipfile.ZipFile(out, "w") as archive:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                archive.write(path, path.relative_to(folder.parent))
    return out


def assert_no_server_paths(page, *roots) -> None:
    text = page.locator("body").inner_text()
    for root in (PROJECT_ROOT, *roots):
        assert str(root) not in text, f"{root} shown to a visitor"
    assert page.get_by_test_id("stException").count() == 0
    assert "Traceback" not in text


def test_a_visitor_reaches_no_server_folder_and_sees_no_server_path(
        public_server, browser, folder_dataset, synth_data_dir, tmp_path):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{public_server}/dataset")
    page.get_by_text("Sample covers").wait_for(timeout=120_000)
    sidebar = page.get_by_test_id("stSidebar")
    assert sidebar.get_by_text("Upload a zip").count() == 1
    assert sidebar.get_by_text("Folder, manifest or zip on the server").count() == 0
    assert_no_server_paths(page, synth_data_dir)

    sidebar.get_by_text("Upload a zip").click()
    sidebar.locator("input[type=file]").set_input_files(str(zip_of(folder_dataset, tmp_path / "mine.zip")))
    page.get_by_test_id("stMetricValue").filter(has_text="30").wait_for(timeout=60_000)
    page.wait_for_timeout(1000)
    assert_no_server_paths(page, synth_data_dir, tmp_path)
    page.screenshot(path=SHOTS / "public-upload.png", full_page=True)

    (tmp_path / "broken.zip").write_bytes(b"PK\x03\x04 this is not a zip")
    sidebar.locator("input[type=file]").set_input_files(str(tmp_path / "broken.zip"))
    page.get_by_text("not a valid zip").wait_for(timeout=60_000)
    assert_no_server_paths(page, synth_data_dir, tmp_path)


def start_training(page, *, batch: int, epochs: int) -> None:
    """On the Train page already open: the paper's settings with this batch size and epochs."""
    for name, value in (("Batch size", batch), ("Epochs", epochs)):
        box = page.get_by_role("spinbutton", name=name)
        box.wait_for(timeout=120_000)
        box.fill(str(value))
        box.press("Enter")
    page.get_by_text(f"for {epochs} epoch(s): batch {batch},").wait_for(timeout=60_000)  # taken
    page.get_by_role("button", name="Start training").click()


def test_what_a_stranger_broke_gets_a_clear_answer_in_the_browser(
        public_server, browser, bad_inputs, tmp_path):
    """Issue 25's stranger, through the sidebar's zip upload: a password-protected zip and a
    manifest listing one file under two genres are refused by name; a small dataset whose
    genre is a link stays text on Dataset, and Baselines says what the dataset lacks."""
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{public_server}/dataset")
    page.get_by_text("Sample covers").wait_for(timeout=120_000)
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_text("Upload a zip").click()
    upload = sidebar.locator("input[type=file]")

    upload.set_input_files(str(bad_inputs["zip_encrypted"].path))
    page.get_by_text("is encrypted; upload a zip without a password").wait_for(timeout=60_000)
    assert_no_server_paths(page, tmp_path)

    two_genres = bad_inputs["manifest_two_genres"].path.parent
    upload.set_input_files(str(zip_of(two_genres, tmp_path / "two-genres.zip")))
    page.get_by_text("more than one row with different genres").wait_for(timeout=60_000)
    assert_no_server_paths(page, tmp_path)

    link = "see https://evil.example [click](https://evil.example)"
    folder = tmp_path / "small" / "covers"
    rows = []
    for genre, name in (("metal", "metal"), ("linked", link)):
        (folder / genre).mkdir(parents=True)
        for i in range(3):                       # 3 covers a genre, no split column
            (folder / genre / f"{i}.jpg").write_bytes(bad_inputs["manifest_two_genres"].path
                                                      .parent.joinpath("metal", f"{i}.jpg").read_bytes())
            rows.append(f'{genre}/{i}.jpg,"{name}"')
    (folder / "manifest.csv").write_text("path,genre\n" + "\n".join(rows) + "\n")
    upload.set_input_files(str(zip_of(folder, tmp_path / "small.zip")))
    page.get_by_test_id("stMetricValue").filter(has_text="6").wait_for(timeout=60_000)
    page.get_by_text("it needs 4 covers per genre to split it").wait_for(timeout=60_000)
    page.get_by_text("Sample covers").wait_for(timeout=60_000)
    assert page.locator("a[href*='evil.example']").count() == 0
    assert page.get_by_text("see https://evil.example", exact=False).count() >= 1   # shown as text
    page.screenshot(path=SHOTS / "public-small-dataset.png", full_page=True)

    page.get_by_test_id("stSidebarNavItems").get_by_role("link", name="Baselines").click()
    page.get_by_text("Cannot fit the baselines: this dataset has no test split").wait_for(timeout=60_000)
    assert page.get_by_text("Something went wrong").count() == 0
    assert_no_server_paths(page, tmp_path)


def test_jobs_past_the_cap_wait_in_the_queue_and_one_visitor_gets_one_job(public_server, browser):
    """Public mode runs one job at a time and one per visitor: a second visitor's job
    waits showing its place, and starts by itself when the first is cancelled."""
    first, second = (browser.new_context(viewport={"width": 1300, "height": 900}).new_page()
                     for _ in range(2))
    for page in (first, second):
        page.goto(f"{public_server}/train")
    start_training(first, batch=10, epochs=500)
    first.get_by_text("Training").first.wait_for(timeout=120_000)
    start_training(second, batch=11, epochs=1)
    second.get_by_text("Queued: place 1 of 1").wait_for(timeout=60_000)
    second.screenshot(path=SHOTS / "public-queued.png", full_page=True)

    start_training(first, batch=12, epochs=1)          # a second job of one visitor
    first.get_by_text("already have a job").wait_for(timeout=60_000)
    assert_no_server_paths(first)

    first.get_by_role("button", name="Cancel").click()
    first.get_by_text("Cancelled").first.wait_for(timeout=120_000)
    second.get_by_text("Finished").first.wait_for(timeout=240_000)  # left the queue by itself
    assert_no_server_paths(second)
