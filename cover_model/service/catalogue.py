"""The dashboard's catalogue of runs: which a visitor sees, in what order, and when a run's
test covers are worth scoring.

Locally the user owns the machine and sees every run. In public mode a visitor sees the
runs on the embedded covers and their own, never a stranger's covers or scores; the
shipped real-cover model comes first wherever models are listed.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

from .. import public_mode, shipped
from ..data.dataset import EMBEDDED
from ..networks import jobs, runs
from ..networks.tables import best_first, predictions_on_test


def visible_runs(run_dirs, visitor: str) -> list[Path]:
    """The runs ``visitor`` may see: all of them locally; in public mode, the runs on the
    embedded covers and the visitor's own."""
    if not public_mode.is_public():
        return list(run_dirs)
    return [r for r in run_dirs if jobs.owner_of(r) == visitor or _data_of(r) == EMBEDDED]


def _data_of(run_dir: Path):
    """DATA a run trained on, from its config, else (not started yet) its request."""
    return (runs.Run(run_dir).config(missing_ok=True) or jobs.request_of(run_dir).get("config")
            or {}).get("data")


def finished_runs(visitor: str) -> list[Path]:
    """The visible runs whose training finished, newest first (read from disk on each
    call); a folder with an unreadable config is left out."""
    return [r for r in visible_runs(runs.list_runs(), visitor)
            if runs.Run(r).status()["state"] == "done" and runs.Run(r).config(missing_ok=True)]


def _shipped_first(run_dirs) -> list[Path]:
    ship = shipped.shipped_run()
    return ([ship] if ship else []) + [r for r in run_dirs if ship is None
                                       or Path(r).resolve() != ship.resolve()]


def listed_runs(visitor: str) -> list[Path]:
    """Every run the Results page lists: the shipped model first, then the visible runs
    in any state, newest first."""
    return _shipped_first(visible_runs(runs.list_runs(), visitor))


def model_choices(visitor: str, fingerprint: str | None) -> list[Path]:
    """The models Predict offers: the shipped real-cover model first (no wait), then the
    dataset's best run and its other runs, then the rest, newest first. Empty where the
    shipped model is missing (a partial checkout) and nothing is trained yet."""
    return _shipped_first(best_first(finished_runs(visitor), fingerprint=fingerprint))


def demo_model_trained(visitor: str) -> bool:
    """Whether a finished run on the embedded covers is listed (the sidebar then offers
    no demo model to train)."""
    return any(_data_of(r) == EMBEDDED for r in finished_runs(visitor))


@dataclasses.dataclass(frozen=True)
class ScoringPlan:
    """What the Results page can show of a run's per-cover test predictions.

    ``predictions``: those it kept (or the features pack stores for the shipped model);
    else ``why_not``: a sentence why its test covers cannot be scored here; else
    ``n_test`` covers can be scored on request.
    """
    predictions: object = None
    why_not: str | None = None
    n_test: int = 0


def scoring_plan(run_dir: Path, dataset) -> ScoringPlan:
    """When a run's test covers get scored: never when they are kept or stored, nor on
    another dataset than the one it was tested on, nor past public mode's cap for a page;
    else on request. ``dataset``: the sidebar's (None while it is still generated)."""
    known = predictions_on_test(run_dir, dataset)
    if known is not None:
        return ScoringPlan(predictions=known)
    if dataset is not None and dataset.features_only:        # nothing to score: no pictures
        return ScoringPlan(why_not="This run kept no per-cover predictions, and the features "
                                  "pack stores only the shipped model's.")
    n_test = int((dataset.items["split"] == "test").sum()) if dataset is not None else 0
    if not n_test or runs.Run(run_dir).config(missing_ok=True).get("dataset_fingerprint") \
            != dataset.fingerprint:
        return ScoringPlan(why_not="This run kept no per-cover predictions. Choose the dataset it "
                                  "was tested on in the sidebar to score its test covers and "
                                  "see them here.")
    too_much = public_mode.page_work_problem(n_test, "Scoring a run's test covers")
    return ScoringPlan(why_not=too_much, n_test=n_test)
