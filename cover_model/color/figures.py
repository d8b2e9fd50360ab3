"""Plotly figures and pandas tables of the colour analysis, shared by the dashboard and the CLI.

Red always means "more similar" in a heatmap (the paper's Figure 2 convention),
whichever way the metric points, and each genre keeps its colour from
:func:`cover_model.plots.genre_colors`.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..genres import PAPER_GENRES
from ..paper import PAPER_TABLE1_RANKS
from ..plots import genre_colors
from .analysis import ColorAnalysis, ColorConfig
from .histograms import bin_colors
from .metrics import METRICS, get_metric


def paper_table1() -> pd.Series:
    """The paper's Table 1 as a Series indexed by genre."""
    return pd.Series(PAPER_TABLE1_RANKS, index=pd.Index(PAPER_GENRES, name="genre"),
                     name="paper Table 1")


def similarity_heatmap(analysis: ColorAnalysis, *, metric: str | None = None,
                       trial: int | None = 0) -> go.Figure:
    """Figure 2: the G x G matrix of mean scores; ``trial=None`` shows the mean over trials."""
    metric = get_metric(metric or analysis.config.metric)
    matrix = analysis.matrix(metric.name, trial=trial)
    names = list(analysis.class_names)
    which = "mean of %d trials" % analysis.trials.matrices.shape[0] if trial is None else f"trial {trial + 1}"
    fig = go.Figure(go.Heatmap(
        z=matrix, x=names, y=names, colorscale="RdBu_r" if metric.higher_is_similar else "RdBu",
        text=np.vectorize(_short)(matrix), texttemplate="%{text}", hoverongaps=False,
        hovertemplate="A: %{y}<br>B: %{x}<br>" + metric.label + ": %{z:.4f}<extra></extra>",
        colorbar=dict(title=dict(text=metric.label))))
    direction = "higher" if metric.higher_is_similar else "lower"
    fig.update_layout(
        title=f"{metric.label}, {which} ({direction} = more similar, shown red)",
        yaxis=dict(autorange="reversed", title="sample A"), xaxis=dict(title="sample B", side="bottom"),
        height=520, margin=dict(l=10, r=10, t=50, b=10))
    return fig


def rank_table(analysis: ColorAnalysis, *, metric: str | None = None) -> pd.DataFrame:
    """Table 1 and its stability, per genre, beside the paper's Table 1 where it applies."""
    metric = get_metric(metric or analysis.config.metric).name
    summary = analysis.rank_summary()
    rows = summary[summary["metric"] == metric].set_index("genre")
    table = pd.DataFrame({
        "covers": analysis.n_covers,
        "per sample": rows["n_per_sample"],
        "rank (trial 1)": rows["rank"],
        "mean rank": rows["mean_rank"].round(2),
        "std": rows["std_rank"].round(2),
        "best": rows["min_rank"],
        "worst": rows["max_rank"],
        "ranked 1st (% of trials)": (100 * rows["share_first"]).round(0),
    }, index=pd.Index(analysis.class_names, name="genre"))
    paper = paper_table1()
    if table.index.isin(paper.index).any():
        table["paper Table 1"] = paper.reindex(table.index).astype("Int64")
    return table


def metric_overview(analysis: ColorAnalysis) -> pd.DataFrame:
    """Mean self-rank per genre (rows) under each metric (columns), over all trials."""
    summary = analysis.rank_summary()
    wide = summary.pivot(index="genre", columns="metric", values="mean_rank")
    wide = wide.reindex(index=list(analysis.class_names), columns=list(analysis.trials.metrics))
    return wide.rename(columns={m: METRICS[m].label for m in wide.columns}).round(2)


def rank_stability_figure(analysis: ColorAnalysis, *, metric: str | None = None) -> go.Figure:
    """Each genre's self-rank in every trial (dots), its mean (bar) and the paper's rank."""
    metric = get_metric(metric or analysis.config.metric)
    k = analysis.trials.metrics.index(metric.name)
    ranks = analysis.trials.ranks[:, k, :]
    names = list(analysis.class_names)
    colors = genre_colors(names)
    positions = np.arange(len(names))
    with np.errstate(invalid="ignore"):
        means = np.nanmean(np.where(np.isnan(ranks).all(axis=0), 0, ranks), axis=0)
    fig = go.Figure(go.Bar(x=positions, y=means, marker_color=[colors[g] for g in names], opacity=0.45,
                           name="mean rank", customdata=names,
                           hovertemplate="%{customdata}: mean rank %{y:.2f}<extra></extra>"))
    # Spread the trials sideways so equal ranks stay countable.
    jitter = np.random.default_rng(0).uniform(-0.3, 0.3, ranks.shape)
    for g, genre in enumerate(names):
        fig.add_scatter(x=g + jitter[:, g], y=ranks[:, g], mode="markers", showlegend=g == 0,
                        name="one trial", legendgroup="trials",
                        marker=dict(color=colors[genre], size=7, line=dict(width=0.6, color="#333")),
                        hovertemplate=f"{genre}: rank %{{y:.0f}}<extra></extra>")
    paper = paper_table1()
    shown = [g for g, genre in enumerate(names) if genre in paper.index]
    if shown:
        fig.add_scatter(x=positions[shown], y=[paper[names[g]] for g in shown], mode="markers",
                        name="paper Table 1",
                        marker=dict(symbol="diamond-open", size=14, color="#111", line=dict(width=2)))
    fig.update_layout(
        title=f"Rank of each genre to itself over {len(ranks)} trials ({metric.label}; 1 = most similar)",
        xaxis=dict(tickvals=positions, ticktext=names),
        yaxis=dict(title="rank", range=[len(names) + 0.5, 0], dtick=1),
        height=420, margin=dict(l=10, r=10, t=50, b=10), legend=dict(orientation="h", y=-0.15))
    return fig


def mean_covers_figure(analysis: ColorAnalysis, *, n_columns: int = 5) -> go.Figure:
    """Figure 3: the mean cover of each genre."""
    names = list(analysis.class_names)
    n_rows = -(-len(names) // n_columns)
    fig = make_subplots(rows=n_rows, cols=n_columns, subplot_titles=names,
                        horizontal_spacing=0.02, vertical_spacing=0.08)
    for g, cover in enumerate(analysis.mean_covers):
        fig.add_trace(go.Image(z=cover, hoverinfo="skip"), row=g // n_columns + 1, col=g % n_columns + 1)
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(height=230 * n_rows + 40, margin=dict(l=10, r=10, t=40, b=10))
    return fig


def feature_comparison_table(analyses: dict, *, metric: str = "intersection") -> pd.DataFrame:
    """Mean self-rank and share ranked 1st per genre, one column pair per analysis.

    ``analyses`` maps a label (e.g. "colour", "gradient") to a ColorAnalysis of one dataset.
    """
    columns = {}
    for label, analysis in analyses.items():
        table = rank_table(analysis, metric=metric)
        columns[f"{label}: mean rank"] = table["mean rank"]
        columns[f"{label}: ranked 1st (%)"] = table["ranked 1st (% of trials)"]
    return pd.DataFrame(columns)


def histogram_figure(histogram: np.ndarray, cfg: ColorConfig = ColorConfig(), *,
                     top: int = 40, title: str | None = None) -> go.Figure:
    """One cover's histogram: its ``top`` largest colour bins, each drawn in its colour,
    or the orientation histogram summed over cells for a gradient feature."""
    if cfg.feature == "gradient":
        per_orientation = histogram.reshape(-1, cfg.orientation_bins).sum(axis=0)
        step = 180 / cfg.orientation_bins
        labels = [f"{i * step:.0f}-{(i + 1) * step:.0f}°" for i in range(cfg.orientation_bins)]
        fig = go.Figure(go.Bar(x=labels, y=per_orientation, marker_color="#6c4bd8"))
        fig.update_layout(xaxis_title="edge orientation", yaxis_title="share of gradient magnitude")
    else:
        order = np.argsort(histogram)[::-1][:top]
        order = order[histogram[order] > 0]
        colors = bin_colors(bins=cfg.bins, space=cfg.space)
        fig = go.Figure(go.Bar(x=[f"bin {i}" for i in order], y=histogram[order],
                               marker=dict(color=[colors[i] for i in order],
                                           line=dict(color="#555", width=0.5)),
                               hovertemplate="%{x}: %{y:.3f}<extra></extra>"))
        fig.update_layout(xaxis_title=f"largest bins ({cfg.space.upper()}, drawn in their colour)",
                          yaxis_title="share of pixels")
    fig.update_layout(title=title, height=320, margin=dict(l=10, r=10, t=40 if title else 10, b=10))
    return fig


def profile_similarity_figure(profile, *, metric: str = "intersection") -> go.Figure:
    """One cover's score against each genre's mean histogram, for one metric."""
    metric = get_metric(metric)
    scores = profile.similarity[metric.name]
    colors = genre_colors(list(scores.index))
    fig = go.Figure(go.Bar(x=list(scores.index), y=scores.to_numpy(),
                           marker_color=[colors[g] for g in scores.index],
                           hovertemplate="%{x}: %{y:.4f}<extra></extra>"))
    direction = "higher" if metric.higher_is_similar else "lower"
    fig.update_layout(title=f"{metric.label} to each genre's mean ({direction} = more similar)",
                      height=320, margin=dict(l=10, r=10, t=40, b=10))
    return fig


def metric_table() -> pd.DataFrame:
    """The four metrics, their direction and formula."""
    return pd.DataFrame([{"metric": m.label,
                          "more similar when": "higher" if m.higher_is_similar else "lower",
                          "formula (as cv2.compareHist)": m.formula} for m in METRICS.values()])


def _short(value: float) -> str:
    if np.isnan(value):
        return ""
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"

