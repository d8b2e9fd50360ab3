"""Plotly figures shared by the dashboard pages and the reports.

Each genre keeps one colour in every chart: the paper's ten have fixed
colours, other class names take the next free colour in a fixed order.
"""
from __future__ import annotations

import cv2
import numpy as np
import plotly.express as px
import plotly.graph_objects as go
from PIL import ImageFont

from .genres import PAPER_GENRES

_PALETTE = px.colors.qualitative.Bold + px.colors.qualitative.Pastel
_PAPER_COLORS = dict(zip(PAPER_GENRES, px.colors.qualitative.Bold[:10]))


def genre_colors(class_names) -> dict[str, str]:
    """A colour per class name, stable across charts and datasets.

    >>> genre_colors(["metal", "reggae"])["metal"] == genre_colors(["metal"])["metal"]
    True
    """
    free = [c for c in _PALETTE if c not in _PAPER_COLORS.values()]
    others = [g for g in class_names if g not in _PAPER_COLORS]
    colors = {g: _PAPER_COLORS[g] for g in class_names if g in _PAPER_COLORS}
    colors.update({g: free[i % len(free)] for i, g in enumerate(sorted(others))})
    return colors


def class_balance_figure(counts) -> go.Figure:
    """Stacked bars of covers per genre and split, from ``Dataset.counts()``."""
    table = counts.drop(index="total", columns="total", errors="ignore")
    long = table.reset_index().melt(id_vars="genre", var_name="split", value_name="covers")
    fig = px.bar(long, x="genre", y="covers", color="split", barmode="stack",
                 category_orders={"genre": list(table.index)},
                 color_discrete_map={"train": "#6c4bd8", "val": "#e0a526", "test": "#2a9d8f",
                                     "unsplit": "#8d8a99"})
    fig.update_layout(margin=dict(l=10, r=10, t=30, b=10), height=320, legend_title_text="")
    return fig


def top_genres_figure(ranked: list[tuple[str, float]], class_names) -> go.Figure:
    """Horizontal bars of the most likely genres, most likely on top."""
    colors = genre_colors(class_names)
    genres = [g for g, _ in ranked][::-1]
    probs = [p for _, p in ranked][::-1]
    fig = go.Figure(go.Bar(x=probs, y=genres, orientation="h",
                           marker_color=[colors[g] for g in genres],
                           text=[f"{p:.0%}" for p in probs], textposition="auto",
                           hovertemplate="%{y}: %{x:.1%}<extra></extra>"))
    fig.update_layout(xaxis=dict(range=[0, 1], tickformat=".0%", title="probability"),
                      height=60 + 45 * len(ranked), margin=dict(l=10, r=10, t=10, b=10))
    return fig


def grad_cam_overlay(rgb: np.ndarray, heat: np.ndarray, *, alpha: float = 0.45) -> np.ndarray:
    """A Grad-CAM map laid over its cover: (H, W, 3) uint8, warm where the network looked.

    ``heat`` is (h, w) in [0, 1] at the network's input size; it is resized to the cover.
    """
    heat = cv2.resize(heat.astype(np.float32), (rgb.shape[1], rgb.shape[0]),
                      interpolation=cv2.INTER_CUBIC).clip(0, 1)
    colored = cv2.cvtColor(cv2.applyColorMap((heat * 255).astype(np.uint8), cv2.COLORMAP_JET),
                           cv2.COLOR_BGR2RGB)
    return cv2.addWeighted(rgb, 1 - alpha, colored, alpha, 0)


def label_font(size: int):
    """Pillow's default font at ``size`` px, for the labels drawn on PNG figures."""
    try:
        return ImageFont.load_default(size=size)
    except TypeError:            # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()
