"""End to end: the real server on loopback, driven by Debian's Chromium through Playwright.

Screenshots land in tests/e2e/screenshots/ (git-ignored) for a human to look at.
"""
import re

import pytest

from .conftest import SHOTS
from .server import ServerError, dashboard

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def fresh_demo(tmp_path_factory):
    """One dashboard for this file, on a fresh data folder (the first launch generates the
    covers) and its own checkpoints folder: (url, checkpoints)."""
    folder = tmp_path_factory.mktemp("fresh-demo")
    try:
        with dashboard(folder, COVER_LAB_CHECKPOINTS=str(folder / "checkpoints")) as (url, _):
            yield url, folder / "checkpoints"
    except ServerError as exc:
        pytest.fail(str(exc))


@pytest.fixture
def server(fresh_demo):
    return fresh_demo[0]


def test_a_fresh_demo_answers_at_once_then_every_page_renders_and_a_tiny_job_finishes(
        server, page, tmp_path):
    """A fresh demo: while the first launch generates the covers (a progress bar), the
    shipped real-cover model answers an upload with one of its own genres, the Overview
    shows the shipped study and Results lists the model; once the covers are there, every
    page renders and a tiny training job finishes."""
    from cover_model.shipped import read_card

    from .helpers_e2e import real_test_cover, write_cover
    cover = real_test_cover() or write_cover(tmp_path / "my-cover.jpg")   # real where ../shared is
    page.goto(f"{server}/dataset")
    page.get_by_text("generating the embedded synthetic covers").wait_for(timeout=60_000)
    page.get_by_test_id("stSidebarNavItems").get_by_role("link", name="Predict").click()
    page.get_by_text(re.compile(r"^Trained on \d")).first.wait_for(timeout=60_000)
    uploader = page.locator('[data-testid="stFileUploaderDropzoneInput"]').first
    uploader.wait_for(state="attached", timeout=60_000)
    uploader.set_input_files(str(cover))
    answer = page.get_by_text("Most likely:").first
    answer.wait_for(timeout=60_000)
    genre = answer.inner_text().split("Most likely:")[1].split("(")[0].strip()
    assert genre in read_card()["class_names"], genre
    page.get_by_text("Closest real-cover genre by colour").first.wait_for(timeout=60_000)
    assert page.locator('[data-testid="stException"]').count() == 0
    page.screenshot(path=SHOTS / "predict.png", full_page=True)

    page.get_by_test_id("stSidebarNavItems").get_by_role("link", name="Overview").click()
    page.get_by_text("The real-covers study").first.wait_for(timeout=60_000)
    page.wait_for_function("document.querySelectorAll('[data-testid=\"stImage\"] img').length >= 5",
                           timeout=60_000)
    assert page.locator('[data-testid="stException"]').count() == 0
    page.screenshot(path=SHOTS / "overview.png", full_page=True)

    page.get_by_test_id("stSidebarNavItems").get_by_role("link", name="Results").click()
    page.get_by_text("shipped real-cover model").first.wait_for(timeout=60_000)
    assert page.locator('[data-testid="stException"]').count() == 0
    page.screenshot(path=SHOTS / "results-shipped.png", full_page=True)

    page.get_by_test_id("stSidebarNavItems").get_by_role("link", name="Dataset").click()
    page.get_by_text("Sample covers").wait_for(timeout=120_000)
    assert page.get_by_text("synthetic", exact=False).first.is_visible()
    assert page.locator('[data-testid="stMetricValue"]').first.inner_text() == "1,000"
    page.wait_for_function("document.querySelectorAll('[data-testid=\"stImage\"] img').length >= 60",
                           timeout=60_000)
    page.screenshot(path=SHOTS / "dataset.png", full_page=True)
    for name in ("Colour analysis", "Baselines", "Results", "Overview"):
        page.get_by_test_id("stSidebarNavItems").get_by_role("link", name=name).click()
        page.get_by_role("heading").first.wait_for(timeout=60_000)
        page.wait_for_timeout(1500)
        assert page.locator('[data-testid="stException"]').count() == 0, name
        page.screenshot(path=SHOTS / f"{name.lower().replace(' ', '-')}.png")
    page.get_by_test_id("stSidebarNavItems").get_by_role("link", name="Train").click()
    epochs = page.get_by_role("spinbutton", name="Epochs")
    epochs.wait_for(timeout=60_000)
    epochs.fill("1")
    epochs.press("Enter")
    page.wait_for_timeout(1500)
    page.get_by_role("button", name="Start training").click()
    page.get_by_text("Finished").first.wait_for(timeout=180_000)
    assert page.locator('[data-testid="stException"]').count() == 0
    page.screenshot(path=SHOTS / "train.png", full_page=True)
    page.get_by_test_id("stSidebarNavItems").get_by_role("link", name="Results").click()
    page.get_by_text("Misclassified test covers").first.wait_for(timeout=60_000)
    page.wait_for_timeout(2000)
    assert page.locator('[data-testid="stException"]').count() == 0
    page.screenshot(path=SHOTS / "results.png", full_page=True)


def test_bad_uploads_on_the_predict_page_get_a_clear_error(fresh_demo, page, tmp_path, bad_inputs):
    """Files from the bad-input corpus beside a good cover: each bad one is named with its
    cause, the good one still gets its genres, and no traceback shows."""
    from ..bad_inputs import write_run_data, write_run_folder
    from .helpers_e2e import write_cover
    server, checkpoints = fresh_demo
    write_run_folder(checkpoints / "20990101-000000-custom-scratch-e2e",   # no first-launch job
                     data=write_run_data(tmp_path / "covers"))
    files = [bad_inputs["text_as_jpg"].path, bad_inputs["svg"].path, write_cover(tmp_path / "good.jpg")]
    page.goto(f"{server}/predict")
    uploader = page.locator('[data-testid="stFileUploaderDropzoneInput"]').first
    uploader.wait_for(state="attached", timeout=60_000)
    uploader.set_input_files([str(f) for f in files])
    alert = page.locator('[data-testid="stAlertContentError"]')
    alert.filter(has_text="notes.jpg: not an image (unrecognised file format)").wait_for(timeout=120_000)
    alert.filter(has_text="vector.svg: SVG is vector graphics").wait_for(timeout=60_000)
    assert "use JPEG, PNG, WebP, BMP or GIF" in alert.first.inner_text()
    page.get_by_text("Most likely:").first.wait_for(timeout=60_000)
    assert page.locator('[data-testid="stException"]').count() == 0
    page.screenshot(path=SHOTS / "predict-bad-upload.png", full_page=True)
