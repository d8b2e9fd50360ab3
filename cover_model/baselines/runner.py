"""Fit and score the zoo: models in parallel, results cached on disk, failures per model.

Each (feature set, model) pair is one task. A task's result is cached as JSON
under ``cache_dir()/baselines/``, keyed by the dataset (fingerprint and
splits), the features, the model's settings and the scikit-learn version, so
a second call refits nothing. A model that raises (QDA on rank-deficient
covariances) or warns (a solver that does not converge) is reported in its
own result; the other models carry on. So do features that cannot be
computed here (a network's weights missing): every model of those features
is marked failed with the reason, and nothing is cached for them.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import sklearn
from joblib import Parallel, delayed
from threadpoolctl import threadpool_limits

from .. import classification_metrics
from ..atomic_files import read_json, write_json
from ..data.dataset import Dataset
from ..data.dataset_needs import baselines_problem, require
from ..paths import cache_dir
from .features import RANDOM, FeatureSet, FeatureSpec, compute_feature_sets, data_key
from .models import get_spec, make_baseline, resolve_models

CACHE_VERSION = 1                # bump when what a result holds or means changes
# Rough relative fit times (measured at 32 and 100 px): the slowest start first,
# so two workers finish together instead of one waiting on a late SVM.
_COST = {"lda": 5, "random_forest_full": 5, "svm": 4, "lasso": 3, "adaboost": 3, "logistic": 2}
_IGNORED_WARNINGS = (DeprecationWarning, PendingDeprecationWarning, FutureWarning)
_MAX_MESSAGES = 5


@dataclass(frozen=True)
class BaselineResult:
    """One model fitted on one feature set: its scores, its cost, what went wrong.

    Attributes
    ----------
    model, title : str
        Key in ``SPECS`` and Table 2's row label.
    params : dict
        Settings passed over the paper's defaults.
    features : dict
        The :class:`FeatureSpec`, as a dict.
    n_features : int
        Width of the input, before any PCA.
    pipeline : str
        The steps, e.g. ``standardise -> PCA 256 -> SVC``.
    status : {"ok", "warning", "failed"}
    messages : tuple of str
        Warnings (non-convergence, collinearity) or the error, one line each.
    train, test : dict or None
        :func:`cover_model.classification_metrics.summarize` of each split; None when failed.
    fit_s, predict_s : float or None
        Seconds to fit, and to predict the test split.
    test_rows, test_pred : tuple of int
        Dataset rows of the test covers and the predicted class of each.
    key : str
        The cache key.
    cached : bool
        Read from the cache instead of fitted in this call.
    """
    model: str
    title: str
    params: dict
    features: dict
    n_features: int
    pipeline: str
    status: str
    messages: tuple[str, ...]
    train: dict | None
    test: dict | None
    fit_s: float | None
    predict_s: float | None
    test_rows: tuple[int, ...] = ()
    test_pred: tuple[int, ...] = ()
    key: str = ""
    cached: bool = field(default=False, compare=False)

    @property
    def spec(self) -> FeatureSpec:
        return FeatureSpec(**self.features)

    @property
    def preprocessing(self) -> str:
        """``random`` or ``resize``, as in Table 2's column groups."""
        return RANDOM if self.features["method"] == RANDOM else "resize"

    def to_dict(self) -> dict:
        return asdict(self) | {"cached": False}

    @classmethod
    def from_dict(cls, values: dict, *, cached: bool = False) -> "BaselineResult":
        values = dict(values, cached=cached)
        for name in ("messages", "test_rows", "test_pred"):
            values[name] = tuple(values[name])
        return cls(**values)


def run_baselines(dataset: Dataset, *, models=("paper",), features=(FeatureSpec(),),
                  params: dict | None = None, pca_components="auto", n_jobs: int | None = None,
                  use_cache: bool = True, progress=None,
                  feature_progress=None) -> list[BaselineResult]:
    """Fit every model on every feature set; train on the ``train`` split, score both.

    Parameters
    ----------
    dataset : Dataset
        With splits (:func:`cover_model.data.splits.assign_splits`); needs
        ``train`` and ``test`` covers. ``val`` covers are not used.
    models : sequence of str, default=("paper",)
        Model names or groups (``paper``, ``modern``, ``reference``, ``all``).
    features : sequence of FeatureSpec
        E.g. pixels by random sampling and by resizing: Table 2's two groups.
    params : dict, optional
        ``{model: {setting: value}}`` over the paper's defaults.
    pca_components : "auto", int or None
        See :func:`make_baseline`.
    n_jobs : int, optional
        Models fitted at once, in worker processes (default: all cores; 1
        fits in this process, e.g. inside a web server).
    use_cache : bool, default=True
    progress : callable, optional
        ``progress(done, total)`` as models finish (cached ones at once).
    feature_progress : callable, optional
        ``feature_progress(label, done, total)`` while the features named
        ``label`` are computed (decoding covers; embedding them: minutes).

    Returns
    -------
    list of BaselineResult
        Feature-major, in the order given.
    """
    models, params = _check_request(dataset, models, params)
    pairs = [(spec, name) for spec in features for name in models]
    keys = _keys(dataset, pairs, params, pca_components)
    results: list[BaselineResult | None] = [
        _read_cached(key) if use_cache else None for key in keys]
    done, total = sum(r is not None for r in results), len(pairs)
    if progress:
        progress(done, total)
    pending = sorted((i for i, r in enumerate(results) if r is None),
                     key=lambda i: -_COST.get(pairs[i][1], 1))
    # Features only for what must be fitted: a fully cached table decodes nothing.
    feature_sets, unavailable = compute_feature_sets(dataset, [pairs[i][0] for i in pending],
                                                     progress=feature_progress)
    for i in [i for i in pending if pairs[i][0] in unavailable]:
        spec, name = pairs[i]       # not cached: once the weights are there, it fits
        results[i] = _unavailable(spec, name, params.get(name, {}), unavailable[spec], keys[i])
        done += 1
        if progress:
            progress(done, total)
    pending = [i for i in pending if pairs[i][0] in feature_sets]
    tasks = [(feature_sets[pairs[i][0]], pairs[i][1]) for i in pending]
    for i, outcome in _fit_all(tasks, pending, params, pca_components, n_jobs):
        fs, name = feature_sets[pairs[i][0]], pairs[i][1]
        results[i] = _result(fs, name, params.get(name, {}), outcome, keys[i])
        if use_cache:
            write_json(_cache_path(keys[i]), results[i].to_dict())
        done += 1
        if progress:
            progress(done, total)
    return results


def count_missing(dataset: Dataset, *, models=("paper",), features=(FeatureSpec(),),
                  params: dict | None = None, pca_components="auto") -> int:
    """How many of :func:`run_baselines`' results are not cached yet (nothing is computed)."""
    models, params = _check_request(dataset, models, params)
    pairs = [(spec, name) for spec in features for name in models]
    return sum(not _cache_path(key).is_file() for key in _keys(dataset, pairs, params, pca_components))


def fit_and_score(name: str, X_train, y_train, X_test, y_test, *, n_classes: int,
                  params: dict | None = None, pca_components="auto") -> dict:
    """Fit one model and score it; never raises for the model's own failures.

    Parameters
    ----------
    name : str
    X_train, X_test : ndarray of shape (n, n_features), float32, or the path of a .npy
    y_train, y_test : ndarray of shape (n,), int
    n_classes : int

    Returns
    -------
    dict
        ``status``, ``messages``, ``pipeline``, ``train``, ``test``,
        ``fit_s``, ``predict_s``, ``test_pred``.
    """
    X_train, X_test = _load(X_train), _load(X_test)
    estimator = make_baseline(name, n_features=X_train.shape[1], pca_components=pca_components,
                              **(params or {}))
    outcome = {"pipeline": describe(estimator), "train": None, "test": None,
               "fit_s": None, "predict_s": None, "test_pred": []}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            start = time.perf_counter()
            estimator.fit(X_train, y_train)
            outcome["fit_s"] = time.perf_counter() - start
            start = time.perf_counter()
            test_pred, test_scores, test_bad = _predict(estimator, X_test, n_classes)
            outcome["predict_s"] = time.perf_counter() - start
            # Train covers: accuracy only, so no class scores (an SVM would pay its kernel twice).
            train_pred, train_scores, train_bad = _predict(estimator, X_train, n_classes, scores=False)
        except Exception as exc:  # noqa: BLE001 - any model error is reported, not raised
            return outcome | {"status": "failed", "messages": [_explain(exc)]}
    messages = _warning_messages(caught)
    for split_name, n_bad in (("train", train_bad), ("test", test_bad)):
        if n_bad:
            messages.append(f"non-finite class scores for {n_bad} {split_name} covers "
                            "(top-3 ranks them lowest)")
    outcome.update(
        status="warning" if messages else "ok", messages=messages,
        train=classification_metrics.summarize(y_train, train_pred, n_classes=n_classes, scores=train_scores),
        test=classification_metrics.summarize(y_test, test_pred, n_classes=n_classes, scores=test_scores),
        test_pred=test_pred.tolist())
    return outcome


def result_key(data: str, name: str, params: dict, pca_components) -> str:
    """Cache key of one task: the data key of its features, the model settings, versions.

    The settings are the resolved ones (the spec's defaults with ``params`` over
    them), so changing a default refits instead of reading a stale result.
    """
    spec = get_spec(name)
    model = {"factory": getattr(spec.factory, "__qualname__", repr(spec.factory)),
             "settings": {**spec.defaults, **params}, "max_features": spec.max_features,
             "pca_whiten": spec.pca_whiten}
    payload = {"version": CACHE_VERSION, "sklearn": sklearn.__version__, "data": data,
               "model": name, "spec": model, "pca": pca_components}
    text = json.dumps(payload, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _unavailable(spec: FeatureSpec, name: str, params: dict, message: str, key: str) -> BaselineResult:
    """A model whose features could not be computed: failed, with no features (``n_features`` 0)."""
    return BaselineResult(
        model=name, title=get_spec(name).title, params=params, features=spec.to_dict(), n_features=0,
        pipeline="", status="failed", messages=(message,), train=None, test=None, fit_s=None,
        predict_s=None, key=key)


def _keys(dataset, pairs, params, pca_components) -> list[str]:
    data = {spec: data_key(dataset, spec) for spec in dict.fromkeys(spec for spec, _ in pairs)}
    return [result_key(data[spec], name, params.get(name, {}), pca_components) for spec, name in pairs]


def _check_request(dataset, models, params):
    models, params = resolve_models(models), dict(params or {})
    unknown = set(params) - set(models)
    if unknown:
        raise ValueError(f"settings given for model(s) not run: {', '.join(sorted(unknown))}")
    for name, settings in params.items():
        make_baseline(name, **settings)      # an unknown setting fails here, not in a worker
    # Two genres, train and test covers; the message says what is missing (split at the
    # default fractions: the CLI checks first with its own).
    require(baselines_problem(dataset))
    return models, params


def describe(estimator) -> str:
    """The steps of a pipeline from :func:`make_baseline`, for the table."""
    parts = []
    for step_name, step in estimator.steps:
        if step_name == "scale":
            parts.append("standardise")
        elif step_name == "pca":
            parts.append(f"PCA {step.n_components}" + (" whitened" if step.whiten else ""))
        elif hasattr(step, "regressor"):
            parts.append(f"one-hot {type(step.regressor).__name__}")
        else:
            parts.append(type(step).__name__)
    return " -> ".join(parts)


def _fit_all(tasks, ids, params, pca_components, n_jobs):
    """Yield ``(id, outcome)`` as tasks finish: in this process or in worker processes."""
    if not tasks:
        return
    n_workers = min(len(tasks), _n_workers(n_jobs))
    if n_workers == 1:
        for i, (fs, name) in zip(ids, tasks):
            # One BLAS thread, as joblib gives each worker on 2 cores: in this process (the
            # dashboard's server) two stalled on 2 busy cores, e.g. logistic regression on the
            # real covers' 2,136 stored features 2-11 s with one, 42-130 s with two (load 6-8;
            # docs/results-baselines.md).
            with threadpool_limits(limits=1, user_api="blas"):
                outcome = _task(fs, name, fs.X[fs.rows("train")], fs.X[fs.rows("test")], params,
                                pca_components)
            yield i, outcome
        return
    # Each feature matrix goes to disk once and workers memory-map it: passing the
    # arrays would make joblib hash and copy up to 600 MB per task.
    matrices = {fs.data_key: fs for fs, _ in tasks}.values()
    n_bytes = sum(fs.X.itemsize * fs.n_features * (fs.rows("train").size + fs.rows("test").size)
                  for fs in matrices)
    with tempfile.TemporaryDirectory(prefix="baselines-", dir=_scratch_dir(n_bytes)) as scratch:
        paths, light = {}, {}
        for fs, _ in tasks:
            if fs.data_key not in paths:
                paths[fs.data_key], light[fs.data_key] = _dump(fs, Path(scratch)), _light(fs)
        jobs = (delayed(_tagged)(i, light[fs.data_key], name, *paths[fs.data_key], params,
                                 pca_components)
                for i, (fs, name) in zip(ids, tasks))
        yield from Parallel(n_jobs=n_workers, return_as="generator_unordered")(jobs)


def _tagged(i, fs, name, X_train, X_test, params, pca_components):
    return i, _task(fs, name, X_train, X_test, params, pca_components)


def _task(fs: FeatureSet, name, X_train, X_test, params, pca_components) -> dict:
    return fit_and_score(name, X_train, fs.labels[fs.rows("train")], X_test,
                         fs.labels[fs.rows("test")], n_classes=len(fs.class_names),
                         params=params.get(name, {}), pca_components=pca_components)


def _light(fs: FeatureSet) -> FeatureSet:
    """The feature set without its matrix, cheap to send to a worker."""
    return FeatureSet(fs.spec, np.empty((0, fs.n_features), np.float32), fs.labels, fs.index,
                      fs.split, fs.class_names, fs.data_key)


def _dump(fs: FeatureSet, folder: Path) -> tuple[str, str]:
    out = []
    for split in ("train", "test"):
        path = folder / f"{fs.data_key}-{split}.npy"
        np.save(path, fs.X[fs.rows(split)])
        out.append(str(path))
    return tuple(out)


def _load(array):
    return np.load(array, mmap_mode="r") if isinstance(array, str) else array


def _n_workers(n_jobs: int | None) -> int:
    cores = os.cpu_count() or 1
    if n_jobs is None or n_jobs == 0:
        return cores
    return max(1, cores + 1 + n_jobs if n_jobs < 0 else n_jobs)


def _scratch_dir(n_bytes: int) -> Path:
    """/dev/shm, RAM-backed (no disk writes for the matrices), when it has room for
    ``n_bytes`` with a margin: a container's is 64 MB by default. Else the cache folder."""
    shm = Path("/dev/shm")
    if shm.is_dir() and shutil.disk_usage(shm).free >= n_bytes * 1.1 + 16 * 1024**2:
        return shm
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _predict(estimator, X, n_classes: int, *, scores: bool = True):
    """Predicted classes; class scores (probabilities, else decision values) over all
    classes, or None; and how many covers got a non-finite score."""
    pred = np.asarray(estimator.predict(X), dtype=np.int64)
    for method in ("predict_proba", "decision_function") if scores else ():
        if hasattr(estimator, method):
            raw = np.asarray(getattr(estimator, method)(X), dtype=np.float64)
            break
    else:
        return pred, None, 0
    if raw.ndim == 1:                        # binary decision values: positive = classes_[1]
        raw = np.column_stack([-raw, raw])
    n_bad = int((~np.isfinite(raw)).any(axis=1).sum())
    # A genre absent from the training split gets no column: it ranks last.
    full = np.full((len(X), n_classes), -np.inf)
    full[:, estimator.classes_] = np.nan_to_num(raw, nan=-np.inf)
    return pred, full, n_bad


def _warning_messages(caught) -> list[str]:
    seen: dict[str, None] = {}
    for item in caught:
        if issubclass(item.category, _IGNORED_WARNINGS):
            continue
        first_line = str(item.message).strip().splitlines()[0] if str(item.message).strip() else ""
        seen.setdefault(f"{item.category.__name__}: {first_line[:200]}")
    messages = list(seen)
    if len(messages) > _MAX_MESSAGES:
        messages = messages[:_MAX_MESSAGES] + [f"... and {len(messages) - _MAX_MESSAGES} more warnings"]
    return messages


def _explain(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:300] if text else 'no message'}"


def _result(fs: FeatureSet, name: str, params: dict, outcome: dict, key: str) -> BaselineResult:
    return BaselineResult(
        model=name, title=get_spec(name).title, params=params, features=fs.spec.to_dict(),
        n_features=fs.n_features, pipeline=outcome["pipeline"], status=outcome["status"],
        messages=tuple(outcome["messages"]), train=outcome["train"], test=outcome["test"],
        fit_s=outcome["fit_s"], predict_s=outcome["predict_s"],
        test_rows=tuple(int(r) for r in fs.index[fs.rows("test")]),
        test_pred=tuple(outcome["test_pred"]), key=key)


def _cache_path(key: str) -> Path:
    return cache_dir() / "baselines" / f"{key}.json"


def _read_cached(key: str) -> BaselineResult | None:
    values = read_json(_cache_path(key))
    if values is None:
        return None
    try:
        return BaselineResult.from_dict(values, cached=True)
    except TypeError:                 # written by another version: refit
        return None
