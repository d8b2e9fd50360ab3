"""Figures and tables over finished runs, for the Train and Results pages and reports.

Training curves, the confusion matrix (counts or row-normalised; a click on a cell
picks it, :func:`cell_covers` lists its covers), per-genre accuracy beside the
paper's Tables 3 and 4, and the misclassified test covers.
Every input is a run folder or what its ``metrics.json`` holds; genres keep
their colour from :func:`cover_model.plots.genre_colors`.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..paper import paper_reference
from ..plots import genre_colors
from .runs import Run
from .tables import per_genre_table, run_label

SUMMARY_ROWS = ("overall", "balanced")          # rows of per_genre_table below the genres
_RUN_COLORS = px.colors.qualitative.Dark24      # runs, not genres: a palette of their own
_RUN_PATTERNS = ("", "/", ".", "x", "\\", "+", "-", "|")


def run_labels(run_dirs) -> dict[Path, str]:
    """A short, unique name per run: its model, plus its start time when two runs share it,
    or its folder name when they also started in the same second.

    The start time comes from the folder name ``YYYYMMDD-HHMMSS-...``.
    """
    base = {Path(d): run_label(Run(d).config(missing_ok=True)) for d in run_dirs}
    labels = base
    for disambiguate in (_with_start_time, lambda run_dir, label: f"{label} · {run_dir.name}"):
        counts = pd.Series(list(labels.values()), dtype=object).value_counts()
        labels = {d: disambiguate(d, base[d]) if counts[label] > 1 else label
                  for d, label in labels.items()}
    return labels


def _with_start_time(run_dir: Path, label: str) -> str:
    day, clock = (run_dir.name.split("-") + ["", ""])[:2]
    if len(day) != 8 or len(clock) != 6:
        return f"{label} · {run_dir.name}"
    return f"{label} · {day[4:6]}-{day[6:8]} {clock[:2]}:{clock[2:4]}:{clock[4:6]}"


def training_curves_figure(histories: dict[str, list[dict]]) -> go.Figure:
    """Loss and accuracy per epoch, train (dotted) and validation (solid), one colour per run.

    Parameters
    ----------
    histories : dict
        Run label -> ``metrics.json["history"]`` (dicts with ``epoch``,
        ``train_loss``, ``train_acc`` and, with a validation split, ``val_loss``, ``val_acc``).
    """
    fig = make_subplots(rows=1, cols=2, subplot_titles=("Loss (cross-entropy)", "Accuracy"),
                        horizontal_spacing=0.08)
    single = len(histories) == 1
    for i, (label, history) in enumerate(histories.items()):
        frame = pd.DataFrame(history)
        color = _RUN_COLORS[i % len(_RUN_COLORS)]
        for split, dash in (("train", "dot"), ("val", "solid")):
            for col, metric in ((1, "loss"), (2, "acc")):
                if f"{split}_{metric}" not in frame:
                    continue
                fig.add_trace(go.Scatter(
                    x=frame["epoch"], y=frame[f"{split}_{metric}"], mode="lines+markers",
                    name=split if single else f"{label} · {split}", legendgroup=f"{label}{split}",
                    showlegend=col == 1, line=dict(color=color, dash=dash),
                    marker=dict(size=5)), row=1, col=col)
    fig.update_xaxes(title_text="epoch", dtick=1 if _n_epochs(histories) <= 20 else None)
    fig.update_yaxes(tickformat=".0%", row=1, col=2)
    fig.update_layout(height=340, margin=dict(l=10, r=10, t=40, b=10), legend_title_text="")
    return fig


def confusion_figure(confusion, class_names, *, normalize: bool = False) -> go.Figure:
    """Heatmap of the test confusion matrix: true genre (rows) by predicted genre (columns).

    Parameters
    ----------
    confusion : array-like of shape (n_classes, n_classes), int
    class_names : sequence of str
    normalize : bool
        Divide each row by its count: each cell is the share of a true genre's
        covers predicted as the column's genre (the diagonal is per-genre accuracy).
    """
    counts = np.asarray(confusion, dtype=np.float64)
    values = counts
    if normalize:
        totals = counts.sum(axis=1, keepdims=True)
        values = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    names = list(class_names)
    ticks = _colored_ticks(names)
    text = np.vectorize(lambda v: f"{v:.0%}" if normalize else f"{v:.0f}")(values)
    fig = go.Figure(go.Heatmap(
        z=values, x=names, y=names, colorscale="Blues", zmin=0, zmax=1 if normalize else None,
        text=text, texttemplate="%{text}", hoverinfo="skip",     # the cell picker hovers instead
        colorbar=dict(tickformat=".0%" if normalize else None, thickness=12)))
    fig.add_trace(_cell_picker(names, text))
    fig.update_xaxes(title_text="predicted genre", tickvals=names, ticktext=ticks, side="bottom")
    fig.update_yaxes(title_text="true genre", tickvals=names, ticktext=ticks, autorange="reversed")
    fig.update_layout(height=120 + 38 * len(names), margin=dict(l=10, r=10, t=10, b=10))
    return fig


def _cell_picker(names, text) -> go.Scatter:
    """One invisible marker per cell, so that a click selects a cell: plotly heatmaps
    report no point selections. A selected cell shows an outline; ``customdata`` holds
    its (true, predicted) genres for :func:`selected_cell`."""
    true, predicted = np.meshgrid(names, names, indexing="ij")
    return go.Scatter(
        x=predicted.ravel(), y=true.ravel(), mode="markers", showlegend=False,
        customdata=np.stack([true.ravel(), predicted.ravel(), np.asarray(text).ravel()], axis=1),
        marker=dict(symbol="square-open", size=30, opacity=0, color="#d62728", line=dict(width=3)),
        selected=dict(marker=dict(opacity=1)), unselected=dict(marker=dict(opacity=0)),
        hovertemplate="true %{customdata[0]}<br>predicted %{customdata[1]}<br>%{customdata[2]}"
                      "<br>click to see its covers<extra></extra>")


def selected_cell(selection) -> tuple[str, str] | None:
    """The (true, predicted) genres of the cell picked in :func:`confusion_figure`, from
    the selection Streamlit returns for it (``{"selection": {"points": [...]}}``); None
    when no cell is picked.

    >>> selected_cell({"selection": {"points": [{"customdata": ["jazz", "metal", "3"]}]}})
    ('jazz', 'metal')
    >>> selected_cell({"selection": {"points": []}}) is None
    True
    """
    points = ((selection or {}).get("selection") or {}).get("points") or []
    picked = [p["customdata"] for p in points if len(p.get("customdata") or ()) >= 2]
    return (picked[-1][0], picked[-1][1]) if picked else None


def cell_covers(predictions: pd.DataFrame | None, true: str, predicted: str) -> pd.DataFrame:
    """The test covers of one confusion-matrix cell, most confident first.

    Parameters
    ----------
    predictions : DataFrame or None
        A run's test predictions (``Run.predictions()``: path, genre, predicted, top1-3, p1-3).
    true, predicted : str
        The cell's row (true genre) and column (predicted genre).

    Returns
    -------
    DataFrame
        The rows with that true and predicted genre, sorted by ``p1`` (the probability of
        the predicted genre), largest first; empty (same columns) when there are none.

    Examples
    --------
    >>> table = pd.DataFrame({"path": ["a", "b", "c"], "genre": ["jazz"] * 3,
    ...                       "predicted": ["metal", "jazz", "metal"], "p1": [0.5, 0.9, 0.7]})
    >>> cell_covers(table, "jazz", "metal")["path"].tolist()
    ['c', 'a']
    """
    if predictions is None:
        return pd.DataFrame(columns=["path", "genre", "predicted", "p1"])
    cell = predictions[(predictions["genre"] == true) & (predictions["predicted"] == predicted)]
    return cell.sort_values("p1", ascending=False, kind="stable").reset_index(drop=True)


def per_genre_beside_paper(run_dirs, *, labels: dict | None = None) -> pd.DataFrame:
    """Test accuracy (%) per genre, one column per run, each followed by the paper's matching
    column of Table 3 or 4 (when there is one); overall and balanced accuracy at the bottom.

    Rows are the runs' genres; the paper's figures appear only for genres it had.

    Parameters
    ----------
    run_dirs : list of Path
    labels : dict, optional
        Run folder -> column name (default: :func:`run_labels`).
    """
    labels = {Path(d): name for d, name in (labels or run_labels(run_dirs)).items()}
    columns = []
    for run_dir in run_dirs:
        ours = per_genre_table([run_dir])
        if ours.empty:
            continue
        columns.append(ours.iloc[:, 0].rename(labels[Path(run_dir)]))
        reference = paper_reference(Run(run_dir).config(missing_ok=True))
        if reference and reference[0] not in [c.name for c in columns]:
            columns.append(pd.Series(reference[1], name=reference[0], dtype="float64"))
    if not columns:
        return pd.DataFrame()
    genres = list(dict.fromkeys(g for c in columns if c.name in labels.values()
                                for g in c.index if g not in SUMMARY_ROWS))
    table = pd.concat(columns, axis=1).reindex(genres + list(SUMMARY_ROWS))
    table.index.name = "genre"
    return table


def per_genre_bars_figure(table: pd.DataFrame) -> go.Figure:
    """Grouped bars of per-genre accuracy (%): genres along x in their own colours, one
    bar pattern per column of ``table`` (runs, and the paper's columns)."""
    genres = [g for g in table.index if g not in SUMMARY_ROWS]
    colors = genre_colors(genres)
    fig = go.Figure()
    for i, column in enumerate(table.columns):
        pattern = dict(shape=_RUN_PATTERNS[i % len(_RUN_PATTERNS)], fgcolor="white",
                       fillmode="overlay", solidity=0.35)
        fig.add_trace(go.Bar(
            x=genres, y=table.loc[genres, column], name=column, legendgroup=column, offsetgroup=i,
            showlegend=False,
            marker=dict(color=[colors[g] for g in genres], pattern=pattern,
                        line=dict(color="#333", width=0.5)),
            hovertemplate=f"{column}<br>%{{x}}: %{{y:.1f}}%<extra></extra>"))
        # The legend shows the pattern on a neutral swatch: the colours belong to the genres.
        fig.add_trace(go.Bar(x=[None], y=[None], name=column, legendgroup=column, offsetgroup=i,
                             marker=dict(color="#5b5866", pattern=pattern)))
    fig.update_layout(barmode="group", height=360, yaxis_title="test accuracy (%)",
                      margin=dict(l=10, r=10, t=10, b=10), legend=dict(orientation="h", y=-0.15))
    return fig


def epoch_table(metrics: dict) -> pd.DataFrame:
    """The per-epoch history of ``metrics.json`` as a table (one row per epoch)."""
    return pd.DataFrame(metrics.get("history") or [])


def genre_table(metrics: dict) -> pd.DataFrame:
    """Per genre: test covers, accuracy, and the confusion row (how they were predicted)."""
    test, names = metrics.get("test") or {}, metrics.get("class_names") or []
    if not test:
        return pd.DataFrame()
    confusion = pd.DataFrame(test["confusion"], index=names,
                             columns=[f"predicted {g}" for g in names])
    table = pd.DataFrame({"n_test": confusion.sum(axis=1), "accuracy": test["per_class_accuracy"]},
                         index=names)
    table.index.name = "genre"
    return table.join(confusion)


def misclassified(predictions: pd.DataFrame | None, *, genre: str | None = None,
                  limit: int = 24) -> pd.DataFrame:
    """Test covers a run got wrong, most confident mistakes first.

    Parameters
    ----------
    predictions : DataFrame or None
        A run's test predictions (``Run.predictions()``, or the same columns scored afresh).

    Returns
    -------
    DataFrame
        ``path, genre, predicted, p1`` (and the other top-3 columns), at most
        ``limit`` rows, only true ``genre`` when given; empty without predictions.

    Examples
    --------
    >>> table = pd.DataFrame({"path": ["a", "b", "c"], "genre": ["jazz"] * 3,
    ...                       "predicted": ["metal", "jazz", "pop"], "p1": [0.5, 0.9, 0.7]})
    >>> misclassified(table)["path"].tolist()
    ['c', 'a']
    """
    if predictions is None:
        return pd.DataFrame(columns=["path", "genre", "predicted", "p1"])
    wrong = predictions[predictions["genre"] != predictions["predicted"]]
    if genre is not None:
        wrong = wrong[wrong["genre"] == genre]
    return wrong.sort_values("p1", ascending=False).head(limit).reset_index(drop=True)


def _colored_ticks(names) -> list[str]:
    colors = genre_colors(names)
    return [f"<span style='color:{colors[g]}'>■</span> {g}" for g in names]


def _n_epochs(histories) -> int:
    return max((len(h) for h in histories.values()), default=0)
