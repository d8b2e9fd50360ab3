"""Plotly figures of the baselines: the overfitting sweep, per-genre accuracy, confusion.

Genres keep their colour from :func:`cover_model.plots.genre_colors`.
"""
from __future__ import annotations

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go

from ..plots import genre_colors


def sweep_figure(sweep: pd.DataFrame) -> go.Figure:
    """Train (solid) and test (dashed) accuracy against the grid size, one colour per model.

    Parameters
    ----------
    sweep : DataFrame
        From :func:`cover_model.baselines.report.sweep_table`.
    """
    fig = go.Figure()
    palette = px.colors.qualitative.Dark2
    for i, (model, rows) in enumerate(sweep.groupby("model", sort=False)):
        rows = rows.sort_values("size_px")
        for split, dash in (("train", "solid"), ("test", "dash")):
            fig.add_trace(go.Scatter(
                x=rows["size_px"], y=rows[f"{split} accuracy"], mode="lines+markers",
                name=f"{model}, {split}", line=dict(color=palette[i % len(palette)], dash=dash),
                customdata=rows["n_features"],
                hovertemplate="%{x}x%{x} (%{customdata:,} features): %{y:.1f}%<extra>" + split + "</extra>"))
    fig.update_layout(xaxis_title="grid side (pixels)", yaxis_title="accuracy (%)",
                      yaxis_range=[0, 105], height=360, margin=dict(l=10, r=10, t=30, b=10),
                      legend_title_text="")
    fig.update_xaxes(tickvals=sorted(sweep["size_px"].unique()))
    return fig


def per_genre_figure(per_genre: pd.DataFrame) -> go.Figure:
    """Grouped bars of test accuracy per genre, one group per model.

    Parameters
    ----------
    per_genre : DataFrame
        Rows = models (a single-level index of labels), columns = genres, values in %.
    """
    colors = genre_colors(list(per_genre.columns))
    long = per_genre.rename_axis("model").reset_index().melt(
        id_vars="model", var_name="genre", value_name="accuracy")
    fig = px.bar(long, x="model", y="accuracy", color="genre", barmode="group",
                 color_discrete_map=colors, category_orders={"genre": list(per_genre.columns)})
    fig.update_layout(yaxis_title="test accuracy within the genre (%)", xaxis_title="",
                      height=380, margin=dict(l=10, r=10, t=30, b=10), legend_title_text="")
    return fig


def confusion_figure(confusion: pd.DataFrame, *, normalize: bool = True) -> go.Figure:
    """Heatmap of a confusion matrix (rows = true, columns = predicted), row-normalised by default."""
    totals = confusion.sum(axis=1).where(lambda s: s > 0)       # an absent genre: a blank row
    values = confusion.div(totals, axis=0) * 100 if normalize else confusion
    fig = px.imshow(values, text_auto=".0f", color_continuous_scale="Blues", aspect="auto",
                    labels=dict(x="predicted", y="true", color="% of row" if normalize else "covers"))
    fig.update_layout(height=420, margin=dict(l=10, r=10, t=30, b=10))
    return fig


def accuracy_figure(table: pd.DataFrame) -> go.Figure:
    """Test accuracy of each model, ours beside the paper's, for random and resize.

    Parameters
    ----------
    table : DataFrame
        :func:`cover_model.baselines.report.table2` for one feature set (index = model).
    """
    rows = []
    for model, row in table.iterrows():
        for group in ("random", "resize"):
            for source, prefix in (("ours", ""), ("paper", "paper ")):
                value = row.get((f"{prefix}{group}", "test"))
                if value is not None and pd.notna(value):
                    rows.append({"model": model, "accuracy": value, "series": f"{source}, {group}"})
    fig = px.bar(pd.DataFrame(rows, columns=["model", "accuracy", "series"]), x="model", y="accuracy",
                 color="series", barmode="group", category_orders={"model": list(table.index)},
                 color_discrete_map={"ours, random": "#6c4bd8", "ours, resize": "#2a9d8f",
                                     "paper, random": "#c9bdf2", "paper, resize": "#a8dcd5"})
    fig.update_layout(yaxis_title="test accuracy (%)", xaxis_title="", height=380,
                      margin=dict(l=10, r=10, t=30, b=10), legend_title_text="")
    return fig
