"""The style map: layout shape, seed and cache; nearest covers and placement of a new cover;
the page (a selection shows covers) and the CLI (HTML with hover pictures, PNG)."""
from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest
import streamlit

from cover_model.cli import main
from cover_model.curation.style_map import StyleMapConfig, embed_cover, selected_rows, style_map
from cover_model.data.dataset import load_dataset
from cover_model.markdown_text import unescape
from cover_model.synth import generate
from ui import ON_SERVER

from .helpers import open_page

SMALL = StyleMapConfig(perplexity=5.0, max_iter=250)     # 40 covers: 30 is too many


@pytest.fixture(scope="module")
def map_data(tmp_path_factory):
    """40 synthetic covers (4 per genre) and one cache folder for the module, so the
    network embeds them once: ``(covers root, data folder)``."""
    root = generate(tmp_path_factory.mktemp("covers") / "synth", n_per_genre=4, size_px=96, n_jobs=1)
    return root, tmp_path_factory.mktemp("map-cache")


@pytest.fixture
def covers(map_data, monkeypatch):
    root, data = map_data
    monkeypatch.setenv("COVER_LAB_DATA", str(data))
    return load_dataset(root)


def test_layout_has_a_point_per_cover_and_repeats_from_the_cache_and_without(covers):
    smap = style_map(covers, SMALL)
    assert smap.xy.shape == (40, 2) and np.isfinite(smap.xy).all()
    assert sorted(smap.index) == list(range(40))
    cached = style_map(covers, SMALL, compute=False)
    np.testing.assert_array_equal(cached.xy, smap.xy)
    np.testing.assert_array_equal(style_map(covers, SMALL, use_cache=False).xy, smap.xy)
    other = style_map(covers, replace(SMALL, perplexity=8.0))
    assert not np.allclose(other.xy, smap.xy)
    # Placing covers does not lay the map out again: neighbours is not in the key.
    assert style_map(covers, replace(SMALL, neighbours=3), compute=False) is not None
    assert style_map(covers, replace(SMALL, seed=1), compute=False) is None


def test_cached_embeddings_are_read_back_without_decoding_a_cover_or_building_the_network(
        covers, monkeypatch):
    from cover_model.baselines import embeddings
    spec = embeddings.embedding_spec("efficientnet_lite0")
    X, index = embeddings.embedding_features(covers, spec)

    def boom(*args, **kwargs):
        raise AssertionError("decoded the covers or built the network again")
    monkeypatch.setattr(embeddings, "preprocess_dataset", boom)
    monkeypatch.setattr(embeddings, "build_model", boom)
    again, rows = embeddings.embedding_features(covers, spec)
    np.testing.assert_array_equal(again, X)
    np.testing.assert_array_equal(rows, index)


def test_a_covers_own_copy_is_its_nearest_and_placement_is_the_mean_of_its_neighbours(covers):
    smap = style_map(covers, SMALL)
    for position in (0, 17, 39):
        path = covers.items["path"][smap.index[position]]
        embedding = embed_cover(open(path, "rb").read())         # an upload: its bytes
        order, distance = smap.nearest(embedding, 5)
        assert order[0] == position and distance[0] < 1e-3 < distance[1]
        assert list(distance) == sorted(distance)
        np.testing.assert_allclose(smap.place(embedding, 1), smap.xy[position], atol=1e-5)
        np.testing.assert_allclose(smap.place(embedding, 5), smap.xy[order].mean(axis=0), atol=1e-5)


def test_bad_settings_are_named(covers, capsys):
    with pytest.raises(ValueError, match="perplexity must be in"):
        StyleMapConfig(perplexity=1.0)
    with pytest.raises(ValueError, match="unknown network 'vgg'"):
        StyleMapConfig(network="vgg")
    with pytest.raises(ValueError, match="has 40: lower the perplexity below 40"):
        style_map(covers, StyleMapConfig(perplexity=45.0))
    assert main(["style-map", str(covers.root), "--perplexity", "60"]) == 2
    assert "lower the perplexity below 40" in capsys.readouterr().err


def test_the_cli_writes_an_interactive_html_with_cover_pictures_and_a_png(covers, tmp_path, capsys):
    assert main(["style-map", str(covers.root), "--perplexity", "5", "--max-iter", "250", "--out", str(tmp_path / "map")]) == 0
    html = (tmp_path / "map.html").read_text()
    assert "Plotly.newPlot" in html and "data:image/jpeg;base64," in html and "plotly_hover" in html
    assert html.count('"type":"scattergl"') == covers.n_classes and '"name":"metal"' in html
    assert (tmp_path / "map.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "40 covers mapped" in capsys.readouterr().out


def test_the_page_lays_out_on_request_and_a_selection_shows_its_covers(covers, embedded_data, monkeypatch):
    """AppTest cannot drag a lasso: st.plotly_chart answers with the selection a browser would
    send (tests/e2e/test_style_map_browser.py drags a real one)."""
    style_map(covers, SMALL)                                    # the embeddings, cached
    picked = [2, 5, 11]                                         # rows of the dataset
    drawn = []

    def plotly_chart(fig, **kwargs):
        drawn.append(fig)
        points = [{"customdata": [row, "x"]} for row in picked] if kwargs.get("on_select") else []
        return SimpleNamespace(selection=SimpleNamespace(points=points))

    monkeypatch.setattr(streamlit, "plotly_chart", plotly_chart)
    at = open_page("app_pages/style_map.py")
    at.sidebar.radio(key="dataset_kind").set_value(ON_SERVER).run()
    at.sidebar.text_input(key="dataset_path").input(str(covers.root)).run()
    at.sidebar.slider(key="style_map_perplexity").set_value(6.0)
    at.sidebar.slider(key="style_map_max_iter").set_value(250).run()
    assert not drawn and not at.exception                       # no layout with these settings yet
    at.button(key="style_map_build").click().run()
    assert not at.exception and not at.error
    fig = drawn[-1]
    assert sorted(t.name for t in fig.data) == sorted(covers.class_names)     # a trace per genre
    assert sum(len(t.x) for t in fig.data) == 40
    assert style_map(covers, replace(SMALL, perplexity=6.0), compute=False) is not None
    assert "3 selected cover(s)" in at.markdown[-1].value
    captions = [c for image in at.get("image") for c in image.captions]
    assert captions == list(covers.items["genre"][picked])


def test_selected_rows_reads_the_rows_and_skips_the_uploaded_marker():
    assert selected_rows([{"customdata": [4, "a.jpg"]}, {"x": 1.0}, {"customdata": ["7", "b"]}]) == [4, 7]


def test_predict_shows_an_uploads_nearest_covers_by_embedding_and_puts_it_on_the_map(covers, embedded_data):
    smap = style_map(covers, SMALL)
    own = int(smap.index[7])
    at = open_page("app_pages/predict.py")
    at.session_state["style_map_perplexity"] = SMALL.perplexity        # the Style map page's
    at.session_state["style_map_max_iter"] = SMALL.max_iter            # settings, as left there
    at.sidebar.radio(key="dataset_kind").set_value(ON_SERVER).run()
    at.sidebar.text_input(key="dataset_path").input(str(covers.root)).run()
    data = open(covers.items["path"][own], "rb").read()
    at.file_uploader(key="predict_uploads").set_value([("mine.jpg", data, "image/jpeg")]).run()
    assert not at.exception
    assert any(md.value == "**Nearest covers by embedding**" for md in at.markdown)
    galleries = [image.captions for image in at.get("image") if len(image.captions) == SMALL.neighbours]
    by_embedding = [unescape(caption) for caption in galleries[-1]]     # as a reader sees them
    assert by_embedding[0] == f"{covers.items['genre'][own]} (0.0)"        # its own copy first
    assert any("mean position of these 10 covers" in c.value for c in at.caption)
