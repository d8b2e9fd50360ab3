"""An exact logistic-regression head for a frozen backbone (``--head logistic``).

The epoch loop fits a head by SGD. With the backbone frozen the head is a convex
problem, so scikit-learn solves it exactly instead, and cross-validation over
train+val, grouped by artist, picks its regularisation: a small val split (770
real covers, 15 reggae) is too noisy to choose by on its own. Among the values of C,
it takes the strongest regularisation whose score is within one standard error of
the best (the "one-standard-error rule"): with folds of a few hundred covers, the
best fold mean is partly luck. The model is then refit on train+val. Standardisation
and weights fold into the network's own ``nn.Linear``, so the run predicts, evaluates
and explains like any other.
"""
from __future__ import annotations

import time
import warnings

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, balanced_accuracy_score
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits
from torch import nn

from ..progress import stage_progress
from .data import CoverTensors, embed

C_GRID = (1e-5, 3e-5, 1e-4, 3e-4, 1e-3, 3e-3, 1e-2)   # strong L2: 1,280-2,064 features, a few thousand covers
# The fits run on one BLAS/OpenMP thread. On 2 cores shared with other work (load 5-8), the
# real covers' features pack (4,231 x 2,136) took 66 s for the whole grid on one thread, and
# 11.5 minutes on two (each of lbfgs's many small parallel steps waits for the busy second
# core); one fit at C = 1e-3 took 10 s against 48 s. The same scores either way.
FIT_THREADS = 1


def fit_logistic_head(model, data: CoverTensors, cfg, ctx, *, progress=None) -> dict:
    """Choose C by grouped cross-validation, refit on train+val, write it into ``model.head``.

    With ``cfg.flip`` the mirror images of the covers join the fit; with
    ``cfg.predict_mirrored`` a cover is scored on the mean of its and its mirror's
    logits, as the finished network predicts.

    Returns
    -------
    dict
        ``C``, ``rule`` (how C was chosen), ``scores`` (mean CV score per C), ``standard_errors`` (of those means),
        ``metric``, ``n_folds``, ``n_fit``.
    """
    x, x_mirror, y, groups = _training_rows(model, data, cfg, ctx, progress=progress)
    with threadpool_limits(FIT_THREADS):
        return _cross_validate_and_fit(model, data, cfg, x, x_mirror, y, groups, progress)



def _cross_validate_and_fit(model, data, cfg, x, x_mirror, y, groups, progress) -> dict:
    score = balanced_accuracy_score if cfg.class_weight == "balanced" else accuracy_score
    folds = _folds(y, groups, cfg)
    grid = sorted(set(C_GRID) | ({cfg.logistic_c} if cfg.logistic_c else set()))
    tick = _ticker(progress, n_steps=len(grid) * len(folds) + 1)
    fold_scores_by_c = {}
    for c in grid:
        fold_scores = []
        for fit_rows, held_out in folds:
            pipe = _fit(c, cfg, x, x_mirror, y, fit_rows)
            logits = pipe.decision_function(x[held_out])
            if cfg.predict_mirrored:
                logits = (logits + pipe.decision_function(x_mirror[held_out])) / 2
            with warnings.catch_warnings():      # a genre of one artist is absent from most folds
                warnings.simplefilter("ignore", UserWarning)
                fold_scores.append(score(y[held_out], pipe.classes_[logits.argmax(1)]))
            tick()
        fold_scores_by_c[c] = fold_scores
    chosen, means, errors = one_standard_error_choice(fold_scores_by_c)
    chosen = cfg.logistic_c or chosen        # a recipe's own C (chosen with transfer too)
    _write_head(model, _fit(chosen, cfg, x, x_mirror, y, np.arange(len(y))), data.n_classes)
    tick()
    return {"C": chosen, "rule": "given" if cfg.logistic_c else "one standard error",
            "scores": {str(c): m for c, m in means.items()},
            "standard_errors": {str(c): e for c, e in errors.items()},
            "metric": score.__name__.removesuffix("_score"), "n_folds": len(folds),
            "n_fit": len(y)}


def one_standard_error_choice(fold_scores_by_c: dict) -> tuple:
    """The smallest C (strongest L2) whose mean fold score is within one standard error
    of the best mean; also the means and standard errors per C."""
    means = {c: float(np.mean(s)) for c, s in fold_scores_by_c.items()}
    errors = {c: float(np.std(s, ddof=1) / np.sqrt(len(s))) if len(s) > 1 else 0.0
              for c, s in fold_scores_by_c.items()}
    best = max(means, key=means.get)
    chosen = min(c for c in means if means[c] >= means[best] - errors[best])
    return chosen, means, errors


def _fit(c: float, cfg, x, x_mirror, y, rows):
    """The standardised logistic regression on ``rows`` (and their mirror images with flip)."""
    if cfg.flip:
        x, y, rows = np.concatenate([x, x_mirror]), np.concatenate([y, y]), np.r_[rows, rows + len(y)]
    return logistic_pipeline(c, balanced=cfg.class_weight == "balanced").fit(x[rows], y[rows])


def logistic_pipeline(c: float, *, balanced: bool):
    """The head as scikit-learn fits it: standardise, then an L2 logistic regression."""
    weight = "balanced" if balanced else None
    return make_pipeline(StandardScaler(), LogisticRegression(C=c, class_weight=weight, max_iter=3000))


def _training_rows(model, data, cfg, ctx, *, progress=None):
    """Embeddings of train+val (already made by ``data.train_inputs``), of their mirror
    images when needed (else None), labels, groups."""
    parts = [p for p in (data.train, data.val) if len(p.labels)]
    # Mirror images not embedded yet (flip without predict_mirrored): minutes at 384 px.
    todo = [p for p in parts if p.mirrored_embeddings is None]
    report = stage_progress(progress, "embedding mirror images")
    total, done = sum(len(p.labels) for p in todo), [0]

    def mirrored(p):
        if p.mirrored_embeddings is not None:
            return p.mirrored_embeddings
        features = embed(model, p.images, ctx, cache_key=data.embedding_key(cfg, p), flip=True,
                         progress=report and (lambda n, _: report(done[0] + n, total)))
        done[0] += len(p.labels)
        return features
    x_mirror = (np.concatenate([mirrored(p).numpy() for p in parts])
                if cfg.flip or cfg.predict_mirrored else None)
    return (np.concatenate([p.embeddings.numpy() for p in parts]), x_mirror,
            np.concatenate([p.labels.numpy() for p in parts]),
            np.concatenate([_artists(data.dataset.items, p.index) for p in parts]))


def _artists(items, index: np.ndarray) -> np.ndarray:
    """Each cover's group (artist); a cover without one is a group of its own."""
    own = np.char.add("cover ", index.astype(str))
    if "group" not in items:
        return own
    group = items["group"].iloc[index].astype("string").fillna("").to_numpy(dtype=str)
    return np.where(group == "", own, group)


def _folds(y, groups, cfg) -> list:
    n_folds = min(cfg.cv_folds, len(set(groups)), int(np.bincount(y).max()))
    if n_folds < 2:
        raise ValueError("cross-validation needs at least two artists (groups) with covers")
    splitter = StratifiedGroupKFold(n_splits=n_folds, shuffle=True, random_state=cfg.seed)
    return list(splitter.split(np.zeros(len(y)), y, groups))


def _write_head(model, pipe, n_classes: int) -> None:
    """Fold ``(x - mean) / scale @ coef.T + intercept`` into the head's last ``nn.Linear``."""
    scaler, logistic = pipe[0], pipe[-1]
    coef, intercept = logistic.coef_, logistic.intercept_
    if len(coef) == 1:                   # two classes: scikit-learn keeps one logit, 0 vs z
        coef, intercept = np.vstack([0 * coef, coef]), np.r_[0.0, intercept]
    full = np.zeros((n_classes, coef.shape[1]))
    bias = np.full(n_classes, -1e4)      # a genre absent from train+val is never predicted
    full[logistic.classes_], bias[logistic.classes_] = coef, intercept
    weight = full / scaler.scale_
    linear = [m for m in model.head.modules() if isinstance(m, nn.Linear)][-1]
    with torch.no_grad():
        linear.weight.copy_(torch.as_tensor(weight, dtype=linear.weight.dtype))
        linear.bias.copy_(torch.as_tensor(bias - weight @ scaler.mean_, dtype=linear.bias.dtype))


def _ticker(progress, *, n_steps: int):
    """Reports fits done as steps of one 'epoch' with an ETA; ``stage`` names what runs."""
    start, done = time.perf_counter(), [0]

    def tick():
        done[0] += 1
        if progress:
            seconds = time.perf_counter() - start
            progress({"stage": "cross-validating the logistic head", "epoch": 1, "epochs": 1,
                      "step": done[0], "steps": n_steps,
                      "eta_s": (n_steps - done[0]) * seconds / done[0]})
    return tick
