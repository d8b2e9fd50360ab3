"""End to end in public mode on the real covers' features (issue 23), as a visitor of the
hosted demo: the real Table 1, a baseline fitted on the real embeddings, a head trained with
a changed hyperparameter, that head in Results and answering an upload on Predict.

No ``../shared`` needed: the features pack is committed beside the shipped model."""
import re

import pytest

from ..helpers import jpeg_bytes
from .conftest import SHOTS
from .server import ServerError, dashboard
from .test_public_browser import assert_no_server_paths

pytestmark = pytest.mark.e2e


@pytest.fixture
def public_real_server(tmp_path):
    """A public demo as it starts for a stranger: on the real covers' features."""
    try:
        with dashboard(tmp_path, COVER_LAB_PUBLIC="1", COVER_LAB_START_DATA="real-features",
                       COVER_LAB_CHECKPOINTS=str(tmp_path / "checkpoints")) as (url, _):
            yield url
    except ServerError as exc:
        pytest.fail(str(exc))


def set_number(page, name: str, value) -> None:
    box = page.get_by_role("spinbutton", name=name)
    box.wait_for(timeout=120_000)
    box.fill(str(value))
    box.press("Enter")


def nav(page, name: str) -> None:
    page.get_by_test_id("stSidebarNavLink").filter(has_text=name).click()


def test_a_stranger_tweaks_models_on_the_real_covers_and_uses_their_own(public_real_server, browser, tmp_path):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{public_real_server}/color")
    page.get_by_text("How similar is each genre to itself? (Table 1)").wait_for(timeout=120_000)
    sidebar = page.get_by_test_id("stSidebar")
    assert sidebar.get_by_label("Real covers (features only)").is_checked()
    page.get_by_text("metal").first.wait_for(timeout=60_000)
    assert_no_server_paths(page)
    page.screenshot(path=SHOTS / "real-colour.png", full_page=True)

    nav(page, "Baselines")
    page.get_by_role("button", name="Fit").first.click(timeout=120_000)
    page.get_by_text("Accuracy: ours beside the paper's").wait_for(timeout=180_000)
    # (a dataframe's cells are also in a hidden table: look for visible text outside them)
    page.get_by_text("the pooled features of the shipped model's frozen extractor").wait_for(timeout=60_000)
    assert_no_server_paths(page)
    page.screenshot(path=SHOTS / "real-baselines.png", full_page=True)

    nav(page, "Train")
    set_number(page, "Epochs", 7)                       # the changed hyperparameter
    page.get_by_text("7 epoch").first.wait_for(timeout=60_000)
    page.get_by_role("button", name="Start training").click()
    page.get_by_text("Finished").first.wait_for(timeout=240_000)
    assert_no_server_paths(page)
    page.screenshot(path=SHOTS / "real-train.png", full_page=True)

    nav(page, "Results")
    page.get_by_text("Test accuracy per genre").wait_for(timeout=120_000)
    page.get_by_test_id("stMultiSelect").get_by_text(                                   # theirs, first
        "efficientnet_lite2 linear 300px, all stages", exact=True).first.wait_for(timeout=30_000)
    page.get_by_text(re.compile(r"Data real-features · best epoch \d of 7 ·")).wait_for(timeout=30_000)
    assert_no_server_paths(page)
    page.screenshot(path=SHOTS / "real-results.png", full_page=True)

    nav(page, "Predict")
    model = page.get_by_test_id("stSidebar").get_by_test_id("stSelectbox").first
    model.click(timeout=120_000)
    page.get_by_role("option").filter(has_text="efficientnet_lite2").last.click()
    cover = tmp_path / "cover.jpg"
    cover.write_bytes(jpeg_bytes((180, 40, 40), size=(400, 400)))
    page.locator("input[type=file]").last.set_input_files(str(cover))
    page.get_by_text("Most likely:").wait_for(timeout=120_000)
    page.get_by_text("Model: efficientnet_lite2 linear 300px, all stages").wait_for()      # theirs
    page.get_by_role("tab", name="Its nearest real covers, on the map").click()
    page.get_by_text(re.compile(r"Its \d+ nearest real covers")).wait_for(timeout=120_000)
    page.get_by_text("Drag a box or a lasso").last.wait_for(timeout=60_000)     # the map drew
    assert page.get_by_text("Grad-CAM").count() >= 1
    assert_no_server_paths(page)
    page.screenshot(path=SHOTS / "real-predict.png", full_page=True)
