"""End to end, the Style map page in Chromium against a real server on the embedded covers:
the map draws, a lasso around some points shows their covers.

Embedding the 1,000 embedded covers takes about a minute on 2 CPU cores, more than this
test may cost; so the fixture caches a layout of their 8 x 8 pixels (their first two
principal components: t-SNE would add seconds, not test more) under the key the page
looks up. The page and the selection are what is tested here; the embeddings, the
layout's cache and the page's own computing are in tests/test_style_map.py."""
import numpy as np
import pytest

from .conftest import SHOTS
from .server import ServerError, dashboard

pytestmark = pytest.mark.e2e


@pytest.fixture
def server(tmp_path, embedded_data):
    from sklearn.decomposition import PCA

    from cover_model.curation.style_map import StyleMap, StyleMapConfig, layout_path, save_layout
    from cover_model.data.dataset import load_dataset
    from cover_model.data.preprocess import preprocess_dataset
    from cover_model.data.splits import assign_splits
    from cover_model.synth import default_dataset_dir
    dataset = assign_splits(load_dataset(default_dataset_dir()))       # as the sidebar loads it
    pixels = preprocess_dataset(dataset, size_px=8)
    X = pixels.images.reshape(len(pixels), -1).astype(np.float32) / 255
    xy = PCA(n_components=2, random_state=0).fit_transform(X).astype(np.float32)
    empty = np.zeros(0, np.float32)
    planted = layout_path(dataset, StyleMapConfig())                    # the page's defaults
    save_layout(planted, StyleMap(xy, pixels.index, X, empty, empty, seconds=0.0))
    try:
        with dashboard(tmp_path, COVER_LAB_DATA=str(embedded_data)) as (url, _):
            yield url
    except ServerError as exc:
        pytest.fail(str(exc))
    finally:        # the data folder is this worker's for the session: a later page must not
        planted.unlink(missing_ok=True)     # find 8 x 8 pixels under the embeddings' key


def test_the_map_draws_and_a_lasso_shows_the_covers_inside_it(server, page):
    page.goto(f"{server}/style_map")
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


def test_the_html_export_shows_the_hovered_cover(tmp_path, embedded_data, page):
    """The command's HTML: plotly's hover label holds no image, so its script shows the
    hovered cover's embedded thumbnail in a corner."""
    from cover_model.curation.style_map import StyleMap, write_map
    from cover_model.data.dataset import load_dataset
    from cover_model.synth import default_dataset_dir
    dataset = load_dataset(default_dataset_dir())
    rows = np.arange(0, len(dataset), 25)                       # 40 covers, on a circle
    angle = np.linspace(0, 2 * np.pi, len(rows), endpoint=False)
    xy = np.column_stack([np.cos(angle), np.sin(angle)]).astype(np.float32)
    empty = np.zeros(0, np.float32)
    html, = write_map(dataset, StyleMap(xy, rows, xy, empty, empty, 0.0), tmp_path / "map", png=False)
    page.goto(html.as_uri())
    plot = page.locator(".js-plotly-plot").first
    plot.wait_for(timeout=30_000)
    page.wait_for_timeout(500)
    x, y = plot.evaluate("""(gd) => {
        const l = gd._fullLayout, box = gd.getBoundingClientRect(), t = gd._fullData[0];
        return [box.left + l.xaxis._offset + l.xaxis.d2p(t.x[0]),
                box.top + l.yaxis._offset + l.yaxis.d2p(t.y[0])]; }""")
    corner = page.locator("img[src^='data:image/jpeg;base64,']")
    for dx in (0, 1, -1):                                       # a hover needs a move onto the point
        page.mouse.move(x + dx, y)
        page.wait_for_timeout(300)
    corner.wait_for(state="visible", timeout=10_000)
    page.screenshot(path=SHOTS / "style-map-html-hover.png")
