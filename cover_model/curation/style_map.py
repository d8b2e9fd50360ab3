"""The style map: a dataset's covers laid out in 2-D by how alike a network sees them.

Each cover's ImageNet embedding (EfficientNet-Lite0 by default, the cached
features of :func:`cover_model.baselines.embeddings.embedding_features`) is
reduced by PCA to ``pca_dims`` components and laid out with scikit-learn's
Barnes-Hut t-SNE (500 iterations). The layout is cached on disk beside the embeddings, keyed by
them and by the settings it depends on, so a page or command asks for it again
in one file read. Covers close on the map look alike to the network; distances
between far-apart clusters mean little (t-SNE keeps neighbourhoods, not scale).

t-SNE cannot place a new point on an existing map. A new cover (an upload) is
embedded the same way, projected by the same PCA, and put at the mean position
of its ``neighbours`` nearest covers in that space (:meth:`StyleMap.place`):
where its neighbours are, not where a new t-SNE run would put it.

    python -m cover_model style-map DATA --out style-map       # HTML (hover) + PNG

Why t-SNE and not UMAP: scikit-learn is already here; ``umap-learn`` brings numba
and llvmlite and compiles on first use in each fresh process. The timing is in
bench/bench_style_map.py and docs/style-map.md.
"""
from __future__ import annotations

import base64
import functools
import io
import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
from PIL import Image

from ..atomic_files import atomic_write
from ..baselines.embeddings import EMBEDDING_NETWORKS, embedding_features, embedding_key, embedding_spec
from ..config import Config, option
from ..data.dataset import Dataset
from ..data.feature_pack import stored_values
from ..data.images import cover_input, thumbnail
from ..disk_budget import enforce_disk_budget, mark_used
from ..paths import cache_dir
from ..plots import genre_colors

CACHE_VERSION = 1                # bump when a layout changes for the same settings
HOVER_THUMB_PX = 64              # the HTML export's hover pictures: ~2 KB each as JPEG


@dataclass(frozen=True)
class StyleMapConfig(Config):
    """How the map is laid out; ``neighbours`` only places new covers (not in the cache key)."""
    network: str = option("efficientnet_lite0", "ImageNet network whose pooled features place "
                          "the covers", choices=EMBEDDING_NETWORKS)
    perplexity: float = option(30.0, "t-SNE perplexity: about how many neighbours each cover "
                               "keeps close (must be below the number of covers)",
                               ge=2.0, le=100.0, step=1.0)
    pca_dims: int = option(50, "PCA components before t-SNE (0: none, t-SNE on the full "
                           "features; slower)", ge=0, le=512, step=1)
    # 500, not scikit-learn's 1,000: as trustworthy a map of the real covers at 2.5x less CPU
    # (bench/bench_style_map.py, docs/style-map.md).
    max_iter: int = option(500, "t-SNE iterations (the first 250 exaggerate the clusters)",
                           ge=250, le=5000, step=50)
    seed: int = option(0, "seed of the randomized PCA that starts t-SNE; the same settings "
                       "always give the same map, and another seed barely moves it", ge=0)
    neighbours: int = option(10, "nearest covers that place a new cover (the mean of their "
                             "positions) and are shown beside it", ge=1, le=50, step=1)

    def layout_key(self) -> str:
        """The settings a layout depends on."""
        return self.cache_key(ignore=("neighbours",))


@dataclass(frozen=True)
class StyleMap:
    """A laid-out dataset.

    Attributes
    ----------
    xy : ndarray of shape (n, 2), float32
        Map position of each cover.
    index : ndarray of shape (n,), int64
        Row of each cover in ``dataset.items`` (covers that failed to decode are absent).
    features : ndarray of shape (n, k), float32
        What t-SNE laid out: the PCA components of the embeddings (all of them without PCA).
        Nearest covers are nearest here.
    mean, components : ndarray
        The PCA that maps a new embedding into ``features`` (``components`` is (k, d); both
        empty without PCA).
    seconds : float
        Time the layout took when it was computed (PCA and t-SNE, not the embeddings).
    """
    xy: np.ndarray
    index: np.ndarray
    features: np.ndarray
    mean: np.ndarray
    components: np.ndarray
    seconds: float

    def __len__(self) -> int:
        return len(self.index)

    def project(self, embedding: np.ndarray) -> np.ndarray:
        """An embedding (d,) or (m, d) in the space of :attr:`features`."""
        embedding = np.asarray(embedding, np.float32)
        return embedding if not self.components.size else (embedding - self.mean) @ self.components.T

    def nearest(self, embedding: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Positions (into ``xy``/``index``) of the ``k`` covers nearest a new embedding, nearest
        first, and their Euclidean distances in the reduced space."""
        distance = np.linalg.norm(self.features - self.project(embedding), axis=1)
        order = np.argsort(distance, kind="stable")[:k]
        return order, distance[order]

    def place(self, embedding: np.ndarray, k: int) -> np.ndarray:
        """Where a new cover goes on the map: the mean position of its ``k`` nearest covers."""
        order, _ = self.nearest(embedding, k)
        return self.xy[order].mean(axis=0)


def style_map(dataset: Dataset, cfg: StyleMapConfig = StyleMapConfig(), *, use_cache: bool = True,
              compute: bool = True, progress=None, device: str = "auto") -> StyleMap | None:
    """The style map of ``dataset``: cached embeddings, PCA, t-SNE; cached on disk. A
    features-only dataset has its layout stored (:func:`stored_map`; ``cfg`` does not apply).

    Parameters
    ----------
    dataset : Dataset
    cfg : StyleMapConfig
    use_cache : bool, default=True
        Read and write the layout cache (the embeddings are always cached).
    compute : bool, default=True
        False: return the cached layout, or None when there is none (a page that must
        answer at once).
    progress : callable, optional
        ``progress(done, total)`` while covers are decoded and embedded (a first run).
    device : str, default="auto"
        Where the network embeds the covers.

    Raises
    ------
    ValueError
        Too few covers for the perplexity; the message says how many there are.
    FeatureError
        The network's ImageNet weights are missing.
    """
    if dataset.features_only:                 # its layout is stored: no pixels to embed
        return stored_map(dataset)
    path = layout_path(dataset, cfg)
    if use_cache and (cached := _read_cache(path)) is not None:
        mark_used(path)
        return cached
    if not compute:
        return None
    check_size(len(dataset), cfg)
    X, index = embedding_features(dataset, embedding_spec(cfg.network), progress=progress, device=device)
    check_size(len(X), cfg)
    result = layout(X, index, cfg)
    if use_cache:
        save_layout(path, result)
    return result


def stored_map(dataset: Dataset) -> StyleMap:
    """The style map of a features-only dataset (the real covers' pack): its stored layout,
    made by :func:`layout` with the default settings from the stored features of all its
    covers, and the same PCA refitted on them (about a second) so that a new cover's features
    (:attr:`Explanation.features <cover_model.networks.predict.Explanation>` of the shipped
    model) find their nearest covers in the space the map was laid out from."""
    from sklearn.decomposition import PCA
    cfg, whole = StyleMapConfig(), dataset.stored.features
    pca = PCA(n_components=min(cfg.pca_dims, *whole.shape), random_state=cfg.seed).fit(whole)
    mean, components = pca.mean_.astype(np.float32), pca.components_.astype(np.float32)
    rows = dataset.items["pack_row"].to_numpy()
    return StyleMap(stored_values(dataset, "map_xy").astype(np.float32), np.arange(len(dataset)),
                    (whole[rows] - mean) @ components.T, mean, components, 0.0)


def neighbour_vote(dataset: Dataset, smap: StyleMap, embedding: np.ndarray, k: int):
    """A new cover's ``k`` nearest covers on the map, nearest first (genre, source where the
    data has one, split, distance), and their vote: how many of them each genre has, most first."""
    order, distance = smap.nearest(embedding, k)
    columns = [c for c in ("genre", "source", "split") if c in dataset.items]
    nearest = dataset.items.iloc[smap.index[order]][columns].assign(distance=distance)
    vote = nearest["genre"].value_counts().rename("covers")
    return nearest.reset_index(drop=True), vote


def layout_path(dataset: Dataset, cfg: StyleMapConfig) -> Path:
    """Where the layout of ``dataset`` under ``cfg`` is cached: beside its embeddings (the disk
    budget's ``embeddings`` kind), named by their key and the layout settings."""
    key = embedding_key(dataset, embedding_spec(cfg.network))
    return cache_dir() / "embeddings" / f"{key}-map-{cfg.layout_key()}-v{CACHE_VERSION}.npz"


def save_layout(path: Path, smap: StyleMap) -> None:
    """Cache a layout at ``path`` (:func:`layout_path`)."""
    with atomic_write(path) as fh:
        np.savez(fh, xy=smap.xy, index=smap.index, features=smap.features, mean=smap.mean,
                 components=smap.components, seconds=smap.seconds)
    enforce_disk_budget(keep=(path,))


def check_size(n_covers: int, cfg: StyleMapConfig) -> None:
    """A ValueError unless there are more covers than the perplexity (scikit-learn's rule)."""
    if n_covers <= cfg.perplexity:
        raise ValueError(f"perplexity {cfg.perplexity:g} needs more covers than that; this dataset "
                         f"has {n_covers}: lower the perplexity below {n_covers}")


def layout(X: np.ndarray, index: np.ndarray, cfg: StyleMapConfig) -> StyleMap:
    """PCA to ``cfg.pca_dims`` components (fewer if there are fewer covers), then t-SNE."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE
    start = time.perf_counter()
    X = np.asarray(X, np.float32)
    mean = components = np.zeros(0, np.float32)
    features = X
    if cfg.pca_dims:
        pca = PCA(n_components=min(cfg.pca_dims, *X.shape), random_state=cfg.seed).fit(X)
        mean, components = pca.mean_.astype(np.float32), pca.components_.astype(np.float32)
        features = (X - mean) @ components.T
    tsne = TSNE(perplexity=cfg.perplexity, max_iter=cfg.max_iter, init="pca", learning_rate="auto",
                random_state=cfg.seed, n_jobs=min(2, os.cpu_count() or 1))
    xy = tsne.fit_transform(features).astype(np.float32)
    return StyleMap(xy, np.asarray(index, np.int64), features.astype(np.float32), mean, components,
                    time.perf_counter() - start)


def embed_cover(source, network: str = "efficientnet_lite0") -> np.ndarray:
    """The embedding of one cover (a path or its bytes), prepared as the dataset's covers are
    (:func:`~cover_model.data.images.cover_input`, the path every model's input takes)."""
    import torch
    spec = embedding_spec(network)
    x = torch.from_numpy(cover_input(source, input_px=spec.size_px, method=spec.method))
    with torch.inference_mode():
        return _network(network, spec.size_px).embed(x)[0].numpy()


@functools.lru_cache(maxsize=2)
def _network(network: str, size_px: int):
    from ..networks.models import build_model
    return build_model(network, 1, input_px=size_px, mode="linear").eval()


def selected_rows(points) -> list[int]:
    """Rows of ``dataset.items`` of the points of a plotly selection (their ``customdata[0]``);
    the uploaded cover's marker carries none and is left out."""
    return [int(point["customdata"][0]) for point in points if point.get("customdata")]


def map_figure(dataset: Dataset, smap: StyleMap, *, new_point=None, height: int = 640) -> go.Figure:
    """The map coloured by genre (one trace per genre, the project's colours); hover names the
    cover's genre and file (relative to the dataset; or its source and split). ``new_point``: ``(x, y, label)`` drawn as
    a star (an uploaded cover)."""
    items = dataset.items.iloc[smap.index]
    names = np.asarray(hover_names(dataset), dtype=object)[smap.index]
    colors = genre_colors(dataset.class_names)
    fig = go.Figure()
    for genre in dataset.class_names:
        mine = np.flatnonzero(items["genre"].to_numpy() == genre)
        if not len(mine):
            continue
        fig.add_trace(go.Scattergl(
            x=smap.xy[mine, 0], y=smap.xy[mine, 1], mode="markers", name=genre,
            marker=dict(size=6, color=colors[genre], opacity=0.8),
            customdata=np.column_stack([smap.index[mine], names[mine]]),
            hovertemplate=f"<b>{genre}</b><br>%{{customdata[1]}}<extra></extra>"))
    if new_point is not None:
        x, y, label = new_point
        fig.add_trace(go.Scatter(x=[x], y=[y], mode="markers", name=label, hoverinfo="name",
                                 marker=dict(symbol="star", size=20, color="black",
                                             line=dict(color="white", width=2))))
    fig.update_layout(height=height, margin=dict(l=10, r=10, t=30, b=10), dragmode="lasso",
                      legend_title_text="genre", xaxis=dict(visible=False),
                      yaxis=dict(visible=False, scaleanchor="x"), plot_bgcolor="white")
    return fig


def hover_names(dataset: Dataset) -> list[str]:
    """What a point's hover says besides its genre: the file, or where the covers are numbers
    only, their source and split."""
    if dataset.features_only:
        return [f"{source} · {split}" for source, split in zip(dataset.items["source"], dataset.items["split"])]
    return dataset.relative_paths()


def write_map(dataset: Dataset, smap: StyleMap, out: Path, *, thumbnails: bool = True,
              png: bool = True) -> list[Path]:
    """Write ``<out>.html`` (interactive; with ``thumbnails``, hovering shows the cover) and
    ``<out>.png`` (kaleido, through the local Chromium). Returns the files written."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig = map_figure(dataset, smap)
    fig.update_layout(title=f"Style map: {len(smap):,} covers", margin=dict(t=60))
    script = hover_script(dataset, smap) if thumbnails else ""
    html = out.with_suffix(".html")
    with atomic_write(html, "w") as fh:
        fh.write(fig.to_html(include_plotlyjs=True, full_html=True, post_script=script))
    written = [html]
    if png:
        import plotly.io as pio
        with atomic_write(out.with_suffix(".png")) as fh:
            fh.write(pio.to_image(fig, format="png", width=1100, height=800, scale=1.5))
        written.append(out.with_suffix(".png"))
    return written


def hover_script(dataset: Dataset, smap: StyleMap) -> str:
    """JavaScript for the HTML export: plotly's hover label cannot show an image, so a corner
    box (bottom right) shows the hovered cover, from small JPEG thumbnails embedded as base64."""
    paths = dataset.items["path"].to_numpy()[smap.index]
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:   # decoders release the GIL
        pictures = list(pool.map(_data_url, paths))
    thumbs = json.dumps({int(row): url for row, url in zip(smap.index, pictures)})
    return ("var THUMBS = " + thumbs + ";\n"
            "var gd = document.getElementById('{plot_id}');\n"
            "var box = document.createElement('img');\n"
            "box.style.cssText = 'position:fixed;bottom:12px;right:12px;width:160px;display:none;"
            "border:2px solid #333;background:#fff;z-index:10';\n"
            "document.body.appendChild(box);\n"
            "gd.on('plotly_hover', function (e) { var d = e.points[0].customdata;\n"
            "  if (d && THUMBS[d[0]]) { box.src = THUMBS[d[0]]; box.style.display = 'block'; } });\n"
            "gd.on('plotly_unhover', function () { box.style.display = 'none'; });\n")


def _data_url(path: str) -> str:
    rgb, _ = thumbnail(path, HOVER_THUMB_PX)
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=75)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


def _read_cache(path: Path) -> StyleMap | None:
    try:
        with np.load(path, allow_pickle=False) as data:
            return StyleMap(data["xy"], data["index"], data["features"], data["mean"],
                            data["components"], float(data["seconds"]))
    except (OSError, ValueError, KeyError, EOFError):     # missing or damaged: laid out again
        return None
