"""End to end, the pages that look inside the data and the models (issue 17): a confusion
cell's covers and the label review on Results, the leak check on Dataset, and a round of
"You vs the model", in Chromium against a real server, on the embedded covers with a
run trained here (one server and one run for all four: each page is a few seconds)."""
import re

import pytest

from .conftest import SHOTS
from .helpers_e2e import pick_option
from .server import ServerError, dashboard

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(tmp_path, embedded_data, monkeypatch):
    """The dashboard on the embedded covers, with one finished run of the paper's CNN (the
    one Results shows first: the newest run on the sidebar's dataset)."""
    from cover_model.networks import training
    from cover_model.networks.config import TrainConfig
    training.main(TrainConfig(epochs=1, batch_size=32))
    try:
        with dashboard(tmp_path, COVER_LAB_DATA=str(embedded_data)) as (url, _):
            yield url
    except ServerError as exc:
        pytest.fail(str(exc))


def no_traceback(page) -> None:
    assert page.locator('[data-testid="stException"]').count() == 0


def click_cell(page, true: str, predicted: str) -> None:
    """Click the confusion matrix's cell (row ``true``, column ``predicted``) where a
    visitor would: at its centre on screen, from plotly's own axes."""
    plot = page.locator(".js-plotly-plot").filter(has=page.locator(".xy")).nth(-1)
    plot.scroll_into_view_if_needed()
    x, y = plot.evaluate("""(gd, [t, p]) => {
        const l = gd._fullLayout, box = gd.getBoundingClientRect();
        return [box.left + l.xaxis._offset + l.xaxis.d2p(p),
                box.top + l.yaxis._offset + l.yaxis.d2p(t)]; }""", [true, predicted])
    page.mouse.click(x, y)


def test_confusion_cell_leak_check_label_review_and_a_round_against_the_model(server, page):
    from cover_model.networks import runs
    run = runs.Run(runs.list_runs()[0])
    predictions = run.predictions()
    true, predicted = predictions.groupby(["genre", "predicted"]).size().idxmax()
    expected = ((predictions["genre"] == true) & (predictions["predicted"] == predicted)).sum()

    # 1. Confusion cell -> its test covers
    page.goto(f"{server}/results")
    page.get_by_text("Click a cell of the matrix").first.wait_for(timeout=90_000)
    click_cell(page, true, predicted)
    page.get_by_text(f"{expected} test cover(s) of {true} predicted as {predicted}").wait_for(timeout=30_000)
    no_traceback(page)
    page.screenshot(path=SHOTS / "confusion-cell.png", full_page=True)

    # 4. Label review: score, mark one cover for removal, download the reviewed manifest
    page.get_by_role("button", name=re.compile(r"^Score [\d,]+ covers with this run")).click()
    page.get_by_text("Covers to review").first.wait_for(timeout=90_000)
    pick_option(page, page.get_by_role("combobox", name="Fix").first, "remove")
    page.get_by_text("0 relabelled, 1 removed.").wait_for(timeout=30_000)
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the reviewed manifest (CSV)").click()
    manifest = download.value.path().read_text()
    assert manifest.startswith("path,genre") and manifest.count("\n") == 1000   # header + 999
    no_traceback(page)
    page.screenshot(path=SHOTS / "label-review.png", full_page=True)

    # 3. Leak check on the Dataset page
    page.get_by_test_id("stSidebarNavItems").get_by_role("link", name="Dataset").click()
    page.get_by_text("Near-duplicate pairs").first.wait_for(timeout=90_000)
    no_traceback(page)
    page.get_by_text("Leak check").first.scroll_into_view_if_needed()
    page.screenshot(path=SHOTS / "leak-check.png")

    # 5. A round of ten covers against the model
    page.get_by_test_id("stSidebarNavItems").get_by_role("link", name="You vs the model").click()
    page.get_by_role("button", name="Start a round").click()
    for i in range(10):
        page.get_by_text(f"{i + 1} of 10", exact=True).wait_for(timeout=30_000)
        page.get_by_role("button", name="metal", exact=True).click()
    page.get_by_text("Where you and the model disagree").wait_for(timeout=60_000)
    you, model = (v.inner_text() for v in page.locator('[data-testid="stMetricValue"]').all()[:2])
    assert re.fullmatch(r"\d+%", you) and re.fullmatch(r"\d+%", model), (you, model)
    page.get_by_text("Every round against this model").wait_for()
    no_traceback(page)
    page.screenshot(path=SHOTS / "challenge.png", full_page=True)
