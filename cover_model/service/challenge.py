"""You against the model: rounds of test covers, a player's answers scored beside a model's.

The paper says the people it asked did poorly at naming a genre from a cover, but
it never measured them. A round here is ``n`` covers from a dataset's test split
(so a model trained on the dataset has never seen them), drawn with a seed and
spread evenly over the genres; the player and a model answer the same covers, and
:func:`score_round` compares them with the metrics the runs report
(:mod:`cover_model.classification_metrics`). Each finished round is one JSON line in
``<data dir>/challenge/<dataset fingerprint>/<model>.jsonl``, so
:func:`attempts_table` shows how people fare against each model over time.

    >>> from cover_model.service.challenge import draw_round, score_round     # doctest: +SKIP
    >>> cards = draw_round(dataset, 10, seed=3)                       # doctest: +SKIP
    >>> score = score_round(cards["genre"], answers, model_answers(predictor, cards["path"]),
    ...                     class_names=dataset.class_names)          # doctest: +SKIP
"""
from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from .. import classification_metrics, public_mode
from ..atomic_files import atomic_write, exclusive_lock
from ..data.dataset import Dataset
from ..data.images import ImageDecodeError
from ..networks import runs
from ..paths import data_dir
from ..plots import genre_colors

ROUND_SIZES = (10, 20, 50)        # what the page offers, less any above the public cap


class ChallengeError(ValueError):
    """A round cannot be drawn or kept; the message says why, without a server path."""


def round_sizes() -> tuple[int, ...]:
    """The round sizes allowed here (public mode caps them)."""
    cap = public_mode.limits().max_challenge_covers
    return tuple(n for n in ROUND_SIZES if not cap or n <= cap)


def model_fits(model_classes, dataset_classes) -> bool:
    """Whether a model knows every genre of the dataset, so it can be right on each cover.

    >>> model_fits(["jazz", "metal", "pop"], ["metal", "jazz"]), model_fits(["jazz"], ["metal", "jazz"])
    (True, False)
    """
    return set(dataset_classes) <= set(model_classes)


def models_that_fit(run_dirs, dataset_classes) -> list:
    """The runs of ``run_dirs`` that know every genre of the dataset, in their order; a
    damaged run folder is left out."""
    def knows(run_dir) -> tuple:
        try:
            return runs.Run(run_dir).class_names
        except runs.RunError:
            return ()
    return [r for r in run_dirs if model_fits(knows(r), dataset_classes)]


def draw_round(dataset: Dataset, n_covers: int, *, seed: int) -> pd.DataFrame:
    """``n_covers`` covers of the test split, spread as evenly over the genres as it allows.

    Covers are shuffled within each genre, then taken one genre at a time (every genre's
    first cover, then every genre's second, ...), so a round of 10 on ten genres has one
    of each; the round itself is then shuffled. The same seed gives the same round.

    Parameters
    ----------
    dataset : Dataset
        With its splits assigned (``assign_splits``).
    n_covers : int
        At most the test split's size and, in public mode, ``max_challenge_covers``.
    seed : int

    Returns
    -------
    DataFrame
        ``path`` and ``genre`` of each cover, in the order to show them.
    """
    cap = public_mode.limits().max_challenge_covers
    if n_covers < 1 or (cap and n_covers > cap):
        raise ChallengeError(f"a round has 1 to {cap or 'any number of'} covers, not {n_covers}")
    test = dataset.items[dataset.items["split"] == "test"]
    if test.empty:
        raise ChallengeError("this dataset has no test split to play on")
    shuffled = test.sample(frac=1, random_state=seed)
    turn = shuffled.groupby("genre", sort=False).cumcount()
    picked = shuffled.iloc[np.argsort(turn.to_numpy(), kind="stable")[:n_covers]]
    return picked.sample(frac=1, random_state=seed + 1)[["path", "genre"]].reset_index(drop=True)


def model_answers(predictor, paths) -> list[str]:
    """The model's top genre for each cover ('' for one it cannot decode: counted wrong).

    ``predictor`` is anything with ``class_names`` and ``probabilities(image)``, such as
    :class:`cover_model.networks.predict.Predictor`.
    """
    answers = []
    for path in paths:
        try:
            answers.append(predictor.class_names[int(np.argmax(predictor.probabilities(path)))])
        except ImageDecodeError:
            answers.append("")
    return answers


@dataclass(frozen=True)
class Score:
    """A round's answers compared.

    Attributes
    ----------
    table : DataFrame
        Rows ``overall``, ``balanced`` and one per genre of the round; columns
        ``covers``, ``player`` and ``model`` (accuracies in [0, 1]).
    disagreements : DataFrame
        The round's rows (``path``, ``genre``) where player and model answered
        differently, with both answers.
    """
    table: pd.DataFrame
    disagreements: pd.DataFrame

    def record(self, *, seed: int) -> dict:
        """The JSON line kept for this round: numbers only, nothing a visitor typed."""
        genres = self.table.drop(index=["overall", "balanced"])
        return {"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "seed": int(seed),
                "covers": int(self.table.loc["overall", "covers"]),
                "player": float(self.table.loc["overall", "player"]),
                "model": float(self.table.loc["overall", "model"]),
                "player_balanced": float(self.table.loc["balanced", "player"]),
                "model_balanced": float(self.table.loc["balanced", "model"]),
                "per_genre": {g: [int(r.covers), float(r.player), float(r.model)]
                              for g, r in genres.iterrows()}}


def score_round(truth, player, model, *, class_names, paths=None) -> Score:
    """Score a player's and a model's answers to the same covers.

    Parameters
    ----------
    truth, player, model : sequence of str, length n
        Genre names; the model may answer genres outside ``class_names`` (a model
        that knows more genres), or '' for no answer.
    class_names : sequence of str
        The dataset's genres, in its order (the table's genre rows follow it).
    paths : sequence of str, optional
        The covers, for the disagreements.

    Examples
    --------
    >>> s = score_round(["jazz", "jazz", "metal", "metal"], ["jazz", "metal", "metal", "metal"],
    ...                 ["jazz", "jazz", "jazz", "pop"], class_names=["jazz", "metal"])
    >>> s.table.loc["overall", ["player", "model"]].tolist()
    [0.75, 0.5]
    >>> len(s.disagreements)
    3
    """
    truth, player, model = (list(a) for a in (truth, player, model))
    if not len(truth) == len(player) == len(model) > 0:
        raise ChallengeError("truth, player and model need one answer per cover each")
    names = list(class_names) + sorted({*player, *model} - set(class_names))
    ids = {name: i for i, name in enumerate(names)}
    y_true, *answers = (np.array([ids[g] for g in a]) for a in (truth, player, model))
    covers = pd.Series(np.bincount(y_true, minlength=len(names)), index=names)
    table = pd.DataFrame({"covers": [len(truth), len(truth), *covers],
                          **{who: _accuracies(y_true, y, names)
                             for who, y in zip(("player", "model"), answers)}},
                         index=["overall", "balanced", *names])
    played = [g for g in class_names if covers[g]]
    answered = pd.DataFrame({"path": [""] * len(truth) if paths is None else list(paths),
                             "genre": truth, "player": player, "model": model})
    return Score(table.loc[["overall", "balanced", *played]],
                 answered[answered["player"] != answered["model"]].reset_index(drop=True))


def _accuracies(y_true, y_pred, names) -> list[float]:
    """Overall, balanced, then each genre's accuracy (NaN for a genre not in the round)."""
    return [classification_metrics.accuracy(y_true, y_pred), classification_metrics.balanced_accuracy(y_true, y_pred),
            *classification_metrics.per_class_accuracy(y_true, y_pred, n_classes=len(names))]


def comparison_figure(score: Score) -> go.Figure:
    """Per-genre accuracy, the player's bars plain and the model's hatched, each in its
    genre's colour; dashed lines mark the two overall accuracies."""
    genres = score.table.drop(index=["overall", "balanced"])
    colors = [genre_colors(genres.index)[g] for g in genres.index]
    fig = go.Figure([go.Bar(name=name, x=list(genres.index), y=genres[who], marker_color=colors,
                            marker_pattern_shape=shape, hovertemplate="%{x}: %{y:.0%}<extra></extra>")
                     for who, name, shape in (("player", "you", ""), ("model", "the model", "/"))])
    for who, name, dash in (("player", "you", "dash"), ("model", "the model", "dot")):
        overall = score.table.loc["overall", who]
        fig.add_hline(y=overall, line_dash=dash, annotation_text=f"{name}: {overall:.0%} overall")
    fig.update_layout(barmode="group", yaxis=dict(range=[0, 1.05], tickformat=".0%", title="accuracy"),
                      height=340, margin=dict(l=10, r=10, t=30, b=10))
    return fig


# --- attempts on disk ------------------------------------------------------------

def attempts_file(fingerprint: str, model_name: str) -> Path:
    """Where the rounds played on one dataset against one model are kept."""
    if not re.fullmatch(r"[0-9a-f]{4,64}", fingerprint):
        raise ChallengeError(f"not a dataset fingerprint: {fingerprint!r}")
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", model_name).lstrip(".") or "model"
    return data_dir() / "challenge" / fingerprint / f"{safe}.jsonl"


def record_attempt(path, record: dict) -> None:
    """Append one finished round to ``path``: the whole file is rewritten atomically under
    a lock, so a reader never sees half a line and two players never lose each other's.

    Raises
    ------
    ChallengeError
        In public mode, a round above ``max_challenge_covers`` or a full file.
    """
    limits, path = public_mode.limits(), Path(path)
    if limits.max_challenge_covers and record["covers"] > limits.max_challenge_covers:
        raise ChallengeError(f"a round has at most {limits.max_challenge_covers} covers")
    line = (json.dumps(record, separators=(",", ":")) + "\n").encode()
    with _locked(path):
        kept = path.read_bytes() if path.is_file() else b""
        if limits.max_attempts_bytes and len(kept) + len(line) > limits.max_attempts_bytes:
            raise ChallengeError("this model's table of rounds is full; the round was scored "
                                 "but not kept")
        with atomic_write(path) as fh:
            fh.write(kept + line)


def _locked(path: Path):
    return exclusive_lock(path.with_name(f".{path.name}.lock"))


def read_attempts(path) -> list[dict]:
    """The rounds kept in ``path``, oldest first; a damaged line is skipped."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return []
    rounds = []
    for line in lines:
        try:
            rounds.append(json.loads(line))
        except ValueError:
            continue
    return [r for r in rounds if isinstance(r, dict) and {"player", "model", "covers"} <= r.keys()]


def attempts_table(path) -> pd.DataFrame:
    """One row per kept round (time, covers, player and model accuracy, balanced too), then
    a ``mean`` row over the rounds; empty when none is kept."""
    columns = ["time", "covers", "player", "model", "player_balanced", "model_balanced"]
    rounds = pd.DataFrame(read_attempts(path), columns=columns)
    if rounds.empty:
        return rounds
    rounds.index = pd.RangeIndex(1, len(rounds) + 1).astype(str)
    mean = rounds[columns[2:]].mean().to_frame("mean").T
    mean.insert(0, "covers", rounds["covers"].sum())
    mean.insert(0, "time", f"{len(rounds)} rounds")
    return pd.concat([rounds, mean])
