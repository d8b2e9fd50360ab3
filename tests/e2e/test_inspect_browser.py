"""End to end, the pages that look inside the data and the models (issue 17): a confusion
cell's covers and the label review on Results, the leak check on Dataset, a round of
"You vs the model", and a lasso on the Style map, in Chromium against a real server, on the
embedded covers with a run trained here (one server and one run for all: each page is a
few seconds).

Embedding the 1,000 embedded covers for the style map takes about a minute on 2 CPU cores,
more than this test may cost; so the server's fixture caches a layout of their 8 x 8 pixels
(their first two principal components: t-SNE would add seconds, not test more) under the
key the page looks up. The page and the selection are what is tested here; the embeddings,
the layout's cache and the page's own computing are in tests/test_style_map.py."""
import re
from pathlib import Path

import numpy as np
import pytest

from .conftest import SHOTS
from .helpers_e2e import pick_option, settled
from .server import ServerError, dashboard

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory, synth_data_dir):
    """The dashboard on the embedded covers, with one finished run of the paper's CNN (the
    one Results shows first: the newest run on the sidebar's dataset) and a style map:
    ``(url, checkpoints folder)``."""
    from cover_model.networks import training
    from cover_model.networks.config import TrainConfig
    folder = tmp_path_factory.mktemp("inspect")
    env = {"COVER_LAB_DATA": str(synth_data_dir), "COVER_LAB_CHECKPOINTS": str(folder / "checkpoints")}
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        training.main(TrainConfig(epochs=1, batch_size=32))
        planted = plant_style_map()
    try:
        with dashboard(folder, **env) as (url, _):
            yield url, Path(env["COVER_LAB_CHECKPOINTS"])
    except ServerError as exc:
        pytest.fail(str(exc))
    finally:        # the data folder is this worker's for the session: a later page must not
        planted.unlink(missing_ok=True)     # find 8 x 8 pixels under the embeddings' key


def plant_style_map() -> Path:
    """A layout of the embedded covers' 8 x 8 pixels, cached where the Style map page looks
    for its default settings' layout; its path."""
    from sklearn.decomposition import PCA

    from cover_model.curation.style_map import (
        StyleMap,
        StyleMapConfig,
        layout_path,
        save_layout,
    )
    from cover_model.data.dataset import load_dataset
    from cover_model.data.preprocess import preprocess_dataset
    from cover_model.data.splits import assign_splits
    from cover_model.synth import default_dataset_dir
    dataset = assign_splits(load_dataset(default_dataset_dir()))       # as the sidebar loads it
    pixels = preprocess_dataset(dataset, size_px=8)
    X = pixels.images.reshape(len(pixels), -1).astype(np.float32) / 255
    xy = PCA(n_components=2, random_state=0).fit_transform(X).astype(np.float32)
    empty = np.zeros(0, np.float32)
    path = layout_path(dataset, StyleMapConfig())                       # the page's defaults
    save_layout(path, StyleMap(xy, pixels.index, X, empty, empty, seconds=0.0))
    return path


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
    server, checkpoints = server
    run = runs.Run(runs.list_runs(checkpoints)[0])
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
        page.get_by_text(f"{i + 1} of 10", exact=True).wait_for(timeout=90_000)
        settled(page)       # once under load the next card never came: answer a finished page
        page.get_by_role("button", name="metal", exact=True).click()
    page.get_by_text("Where you and the model disagree").wait_for(timeout=60_000)
    you, model = (v.inner_text() for v in page.locator('[data-testid="stMetricValue"]').all()[:2])
    assert re.fullmatch(r"\d+%", you) and re.fullmatch(r"\d+%", model), (you, model)
    page.get_by_text("Every round against this model").wait_for()
    no_traceback(page)
    page.screenshot(path=SHOTS / "challenge.png", full_page=True)


def test_the_style_map_draws_and_a_lasso_shows_the_covers_inside_it(server, page):
    url, _ = server
    page.goto(f"{url}/style_map")
    page.get_by_text("Drag a box or a lasso").wait_for(timeout=90_000)
    page.wait_for_timeout(1000)                                         # plotly's first draw
    plot = page.locator(".js-plotly-plot").first
    plot.scroll_into_view_if_needed()
    box = plot.locator(".nsewdrag").first.bounding_box()
    left, top = box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3
    right, bottom = box["x"] + box["width"] * 0.7, box["y"] + box["height"] * 0.7
    page.mouse.move(left, top)
    page.mouse.down()
    for x, y in ((right, top), (right, bottom), (left, bottom), (left, top + 2)):
        page.mouse.move(x, y, steps=8)
    page.mouse.up()
    page.get_by_text("selected cover(s)").wait_for(timeout=30_000)
    page.locator('[data-testid="stImage"] img').first.wait_for(timeout=30_000)
    assert page.locator('[data-testid="stException"]').count() == 0
    page.screenshot(path=SHOTS / "style-map-selection.png", full_page=True)
