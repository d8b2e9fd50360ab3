"""Our networks beside the paper's Tables 3 and 4, and the paragraph on what differs.

The paper's genres are matched to ours by name; ``hiphop`` also matches the
paper's ``hiphop/rap`` (a name matches the part of a paper genre before its
``/``). The paper's overall figure is the one its text states; its balanced
accuracy is the mean of its per-genre figures (its test set had 100 covers
per genre, so the two agree up to the paper's rounding).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from ..genres import PAPER_GENRES
from ..paper import PAPER_OVERALL, PAPER_TABLE3, PAPER_TABLE4, paper_reference

SUMMARY_ROWS = ("overall", "balanced", "top-3")
PAPER_N_TRAIN, PAPER_N_TEST, PAPER_N_GENRES = 8_800, 1_000, 10


def paper_genre(name: str) -> str | None:
    """The paper's genre a class name stands for, or None.

    >>> paper_genre("hiphop"), paper_genre("metal"), paper_genre("reggae")
    ('hiphop/rap', 'metal', None)
    """
    for genre in PAPER_GENRES:
        if name == genre or name == genre.split("/")[0]:
            return genre
    return None


def synthetic(dataset: dict) -> bool:
    """Whether the dataset step's facts describe generated covers (records from before the
    ``synthetic`` fact: the embedded covers by name)."""
    return dataset.get("synthetic", dataset.get("data") == "synth")


def network_table(records: list[dict], *, table: int, class_names) -> pd.DataFrame:
    """Test accuracy (%) per genre for our networks of Table 3 or 4, each followed by the
    paper's matching column; the paper's other columns of that table at the end.

    Rows: our genres, then overall, balanced and top-3 accuracy.
    """
    rows = list(class_names) + list(SUMMARY_ROWS)
    columns, shown = {}, set()
    for record in records:
        if record.get("table") != table or not record.get("test"):
            continue
        columns[_column_label(record)] = _our_column(record)
        reference = paper_reference({"arch": record["arch"], "mode": record["mode"]})
        if reference:
            name = reference[0].split(": ", 1)[1]
            columns[f"paper: {name}"] = paper_column(table, name, class_names)
            shown.add(name)
    for name in (PAPER_TABLE3 if table == 3 else PAPER_TABLE4):
        if name not in shown:
            columns[f"paper: {name}"] = paper_column(table, name, class_names)
    frame = pd.DataFrame(columns, index=rows, dtype="float64").round(1)
    frame.index.name = "genre"
    return frame


def paper_column(table: int, model: str, class_names) -> dict:
    """One column of the paper's Table 3 or 4 on our genre rows (NaN where it had no such genre)."""
    values = (PAPER_TABLE3 if table == 3 else PAPER_TABLE4)[model]
    column = {g: values.get(paper_genre(g), np.nan) for g in class_names}
    column["overall"] = PAPER_OVERALL[(f"table{table}", model)]
    column["balanced"] = float(np.mean(list(values.values())))
    return column


def summary_table(records: list[dict]) -> pd.DataFrame:
    """One row per network: where it comes from, its test metrics (%) and its cost."""
    rows = []
    for record in records:
        test = record.get("test") or {}
        rows.append({
            "network": record.get("label"), "table": record.get("table") or "best",
            "state": _state(record),
            "balanced": _pct(test.get("balanced_accuracy")), "top-1": _pct(test.get("accuracy")),
            "top-3": _pct(test.get("top_k")), "macro-F1": _pct(test.get("macro_f1")),
            "epochs": record.get("epochs"), "training s": record.get("train_s"),
            "run": record.get("run_dir") or _first_sentence(record.get("reason", ""))})
    return pd.DataFrame(rows)


def discussion(dataset: dict, color: dict, baselines: dict, networks: list[dict],
               best: dict | None) -> list[str]:
    """A few generated sentences on what differs from the paper, and why.

    Each argument is a step's facts (or records); missing parts are left out.
    """
    lines = []
    n_classes = dataset.get("n_classes", 0)
    names = dataset.get("class_names", [])
    shared = [g for g in names if paper_genre(g)]
    if synthetic(dataset):
        lines.append("These are the project's **synthetic** covers: the figures test the "
                     "pipeline, and say nothing about real album art.")
    split = dataset.get("split_sizes", {})
    lines.append(
        f"**Data.** {dataset.get('n_covers', 0):,} covers in {n_classes} genres "
        f"({split.get('train', 0):,} train / {split.get('val', 0):,} val / {split.get('test', 0):,} "
        f"test) against the paper's 9,800 in 10 balanced genres ({PAPER_N_TRAIN:,} / {PAPER_N_TEST:,}). "
        f"{len(shared)} of our genres are the paper's ({', '.join(shared) or 'none'}), so per-genre "
        "figures compare only on those rows. "
        + (f"Ours are unbalanced ({dataset['largest_genre']} is {dataset['largest_share']:.0%} of "
           f"the covers, {dataset['smallest_genre']} {dataset['smallest_share']:.0%}), so top-1 "
           "accuracy rewards guessing the big genres; balanced accuracy (chance "
           f"{1 / max(n_classes, 1):.1%}) is the figure to hold against the paper's overall "
           "accuracy on its balanced test set (chance 10%)."
           if dataset.get("largest_share", 0) > 1.5 / max(n_classes, 1) else
           f"Ours are roughly balanced, so top-1 accuracy compares directly (chance {1 / max(n_classes, 1):.1%})."))
    if dataset.get("sources"):
        lines.append(f"**Sources.** The covers come from {_and(dataset['sources'])}, and some "
                     "genres come from one source only: a model can learn the source (scan vs. "
                     "artwork) instead of the genre. The per-source tables below measure it.")
    colour = (color or {}).get("colour")
    if colour:
        first = colour.get("mostly_first") or []
        verb = "ranks itself" if len(first) == 1 else "rank themselves"
        text = (f"**Colour.** Over {color.get('trials')} trials, {len(first)} of {n_classes} genres "
                f"{verb} most similar in at least half the trials ({', '.join(first) or 'none'}); "
                f"a genre's rank moves by {colour.get('mean_std') or 0:.1f} on average between trials, "
                "so one draw, as in the paper, is a noisy reading.")
        if colour.get("paper_shared"):
            text += (f" The paper's single-draw rank lies inside our range for "
                     f"{len(colour.get('paper_within_spread', []))} of the "
                     f"{len(colour['paper_shared'])} genres we share.")
        lines.append(text)
    chance = 100 / max(n_classes, 1)
    if baselines.get("best_model"):
        text = (f"**Table 2.** The best classical model here is {baselines['best_model']} at "
                f"{baselines['best_test']:.1f}% test accuracy ({baselines['best_balanced_model']} has the "
                f"best balanced accuracy, {baselines['best_balanced']:.1f}%, chance {chance:.1f}%); the "
                f"paper's best was {baselines['paper_best_test']:.1f}% (chance 10%). ")
        text += ("As in the paper, 32x32 pixels carry little genre. "
                 if baselines["best_balanced"] < 2 * chance else
                 "Pixels carry much more genre here than in the paper's covers. ")
        if baselines.get("ridge_gap") is not None:
            text += (f"Ridge fits its training covers {baselines['ridge_gap']:.0f} points better than "
                     "its test covers: the overfitting the paper saw.")
        lines.append(text.rstrip())
    scratch = [r for r in networks if r.get("table") == 3 and r.get("test")]
    pretrained = [r for r in networks if r.get("table") == 4 and r.get("test")]
    if scratch or pretrained:
        text = "**Networks.** "
        if scratch:
            top = max(scratch, key=lambda r: r["test"]["balanced_accuracy"])
            text += (f"Trained from scratch at 32 px, the best is {top['arch']} at "
                     f"{100 * top['test']['balanced_accuracy']:.1f}% balanced (the paper: custom CNN "
                     "17.6%, AlexNet 15% overall). ")
            narrow = [f"{r['arch']} predicts {n} of {n_classes} genres" for r in scratch
                      if (n := _n_predicted(r)) <= n_classes // 2]
            if narrow:
                text += (f"They settle on a few genres ({'; '.join(narrow)}), as the paper's AlexNet "
                         "\"simply guesses between 3 classes\". ")
        if pretrained:
            top = max(pretrained, key=lambda r: r["test"]["balanced_accuracy"])
            text += (f"With ImageNet features, {top['label']} reaches "
                     f"{100 * top['test']['balanced_accuracy']:.1f}% balanced and "
                     f"{100 * (top['test'].get('top_k') or 0):.1f}% top-3, against the paper's 16-19% "
                     "with AlexNet and ResNets; EfficientNet-Lite is a newer backbone, trained on "
                     "the same ImageNet.")
        missing = [r["arch"] for r in networks if r.get("available") is False]
        if missing:
            text += f" Not run here (no ImageNet weights on this machine): {', '.join(missing)}."
        lines.append(text.rstrip())
    if best and best.get("scores"):
        s = best["scores"]
        lines.append(
            f"**Our best model** ({best.get('label')}) reaches {s['balanced']:.1f}% balanced "
            f"accuracy (95% interval {s['balanced_low']:.1f}-{s['balanced_high']:.1f}), "
            f"{s['top1']:.1f}% top-1 and {s['top3']:.1f}% top-3."
            + (" Within the genres that have covers from both sources, accuracy is "
               + "; ".join(f"{g}: {v}" for g, v in best.get("within_genre_summary", {}).items())
               + "." if best.get("within_genre_summary") else ""))
    return lines


def _and(words: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return " and ".join(filter(None, [", ".join(words[:-1]), words[-1]])) if words else ""


def _first_sentence(text: str) -> str:
    return text.split(". ")[0]


def _n_predicted(record: dict) -> int:
    """How many genres a network predicts at all on the test covers."""
    confusion = np.asarray(record["test"]["confusion"])
    return int((confusion.sum(axis=0) > 0).sum())


def _our_column(record: dict) -> dict:
    test, names = record["test"], record.get("class_names") or []
    column = {g: None if a is None else 100 * a for g, a in zip(names, test["per_class_accuracy"])}
    column |= {"overall": 100 * test["accuracy"], "balanced": 100 * test["balanced_accuracy"],
               "top-3": _pct(test.get("top_k"))}
    return column


def _column_label(record: dict) -> str:
    return record.get("label") or f"{record['arch']} {record['mode']} ({record.get('input_px')} px)"


def _state(record: dict) -> str:
    if record.get("available") is False:
        return "not available"
    if record.get("status") == "failed":
        return "failed"
    return "reused run" if record.get("reused") else "resumed" if record.get("resumed") else "trained"


def _pct(value):
    return None if value is None else 100 * value
