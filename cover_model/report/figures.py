"""The report's pictures: plotly figures as PNG, and the sample grid of covers.

PNGs of plotly figures come from kaleido, which drives the local Chromium; one
Chromium serves the whole report (about 0.2 s a figure instead of 2 s). When
the static export is unavailable, a figure is written as HTML instead (with
plotly.js once beside it, so it opens offline) and the report says so.
"""
from __future__ import annotations

import warnings
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

from ..atomic_files import atomic_write
from ..data.dataset import Dataset
from ..data.images import ImageDecodeError, decode_image
from ..plots import label_font

FIGURES_DIR = "figures"


class FigureWriter:
    """Write figures into ``<out_dir>/figures/``; returns paths relative to ``out_dir``.

    Use as a context manager so the shared Chromium is stopped at the end.
    """

    def __init__(self, out_dir: Path):
        self.out_dir = Path(out_dir)
        self.folder = self.out_dir / FIGURES_DIR
        self.problem: str | None = None      # why PNG export is off, once it failed
        self._server = False

    def __enter__(self) -> "FigureWriter":
        return self

    def __exit__(self, *exc) -> None:
        if self._server:
            import kaleido
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                kaleido.stop_sync_server(silence_warnings=True)
            self._server = False

    def plotly(self, name: str, fig, *, width: int = 900, height: int | None = None) -> str:
        """Save a plotly figure as ``<name>.png`` (or ``<name>.html`` without a static export)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if self.problem is None:
            try:
                png = self._to_png(fig, width=width, height=height)
            except Exception as exc:     # kaleido fails in many ways offline; none is fatal
                first_line = (str(exc).splitlines() or [""])[0][:200]
                self.problem = f"static PNG export unavailable ({type(exc).__name__}: {first_line})"
            else:
                path = self.folder / f"{name}.png"
                _write_bytes(path, png)
                return self._relative(path)
        path = self.folder / f"{name}.html"
        with atomic_write(path, "w") as fh:
            fh.write(fig.to_html(include_plotlyjs="directory", full_html=True))
        return self._relative(path)

    def image(self, name: str, image: Image.Image) -> str:
        """Save a Pillow image as ``<name>.png``."""
        path = self.folder / f"{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_write(path) as fh:
            image.save(fh, format="PNG", optimize=True)
        return self._relative(path)

    def _to_png(self, fig, *, width: int, height: int | None) -> bytes:
        import kaleido
        import plotly.io as pio
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")           # "kopts is ignored when using a server"
            if not self._server:
                kaleido.start_sync_server(silence_warnings=True)
                self._server = True
            return pio.to_image(fig, format="png", width=width, height=height, scale=1.5)

    def _relative(self, path: Path) -> str:
        return path.relative_to(self.out_dir).as_posix()


def sample_grid(dataset: Dataset, *, n_per_genre: int = 8, cell_px: int = 96,
                seed: int = 0) -> Image.Image:
    """A sheet of random covers: one row per genre, its name on the left.

    Parameters
    ----------
    dataset : Dataset
    n_per_genre : int, default=8
    cell_px : int, default=96
        Side of each cover on the sheet.
    seed : int, default=0

    Returns
    -------
    PIL.Image.Image
        RGB, ``(label + n_per_genre * cell_px) x (n_genres * cell_px)``; a cover that
        cannot be decoded shows as a grey square.
    """
    sample = dataset.sample(n_per_genre, seed=seed)
    label_px, gap = 130, 4
    n_rows = dataset.n_classes
    sheet = Image.new("RGB", (label_px + n_per_genre * (cell_px + gap), n_rows * (cell_px + gap)),
                      "white")
    draw = ImageDraw.Draw(sheet)
    font = label_font(15)
    for row, genre in enumerate(dataset.class_names):
        y = row * (cell_px + gap)
        draw.text((8, y + cell_px / 2), genre, fill="black", font=font, anchor="lm")
        paths = sample.loc[sample["label"] == row, "path"].tolist()
        for col, path in enumerate(paths):
            sheet.paste(Image.fromarray(_thumbnail(path, cell_px)),
                        (label_px + col * (cell_px + gap), y))
    return sheet


def _thumbnail(path: str, cell_px: int) -> np.ndarray:
    try:
        rgb = decode_image(path, draft_px=cell_px * 2)
    except (ImageDecodeError, OSError):
        return np.full((cell_px, cell_px, 3), 200, np.uint8)
    return cv2.resize(rgb, (cell_px, cell_px), interpolation=cv2.INTER_AREA)


def _write_bytes(path: Path, data: bytes) -> None:
    with atomic_write(path) as fh:
        fh.write(data)
