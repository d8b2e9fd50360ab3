"""End to end, the style map's HTML export (``python -m cover_model style-map``) in Chromium:
hovering a point shows its cover. The Style map page's lasso, on a real server, is in
tests/e2e/test_inspect_browser.py, beside the other pages that look inside the data."""
import numpy as np
import pytest

from .conftest import SHOTS

pytestmark = pytest.mark.e2e


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
