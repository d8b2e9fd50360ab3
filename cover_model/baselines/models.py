"""The scikit-learn zoo of the paper's Table 2, plus two honest modern baselines.

:func:`make_baseline` returns a plain scikit-learn estimator: a
:class:`~sklearn.pipeline.Pipeline` that standardises, projects with PCA when
the model needs it on wide inputs, then classifies. The paper's settings are
the defaults; every setting of the model can be passed as a keyword.

>>> make_baseline("ridge").steps[-1][1].regressor.alpha
0.0001
>>> make_baseline("svm", C=10.0).named_steps["model"].C
10.0
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis, QuadraticDiscriminantAnalysis
from sklearn.dummy import DummyClassifier
from sklearn.ensemble import AdaBoostClassifier, RandomForestClassifier
from sklearn.linear_model import Lasso, LogisticRegressionCV, Ridge
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data


class OneHotRegressionClassifier(ClassifierMixin, BaseEstimator):
    """Classify by regressing one-hot targets, then taking the argmax.

    The paper's Ridge and LASSO "classifiers": a multi-output regressor fits
    the indicator matrix of the classes, and the predicted class is the column
    with the highest output.

    Parameters
    ----------
    regressor : regressor, default=None
        Any multi-output scikit-learn regressor; cloned in ``fit``. None
        means ``Ridge()``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    regressor_ : regressor
        The fitted clone.
    n_features_in_ : int

    Examples
    --------
    >>> X = np.array([[0.0], [0.1], [1.0], [1.1]]); y = np.array(["a", "a", "b", "b"])
    >>> OneHotRegressionClassifier(Ridge(alpha=1e-4)).fit(X, y).predict([[0.05], [1.2]]).tolist()
    ['a', 'b']
    """

    def __init__(self, regressor=None):
        self.regressor = regressor

    def fit(self, X, y):
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32])
        check_classification_targets(y)
        self.classes_, y_index = np.unique(y, return_inverse=True)
        targets = np.eye(len(self.classes_), dtype=X.dtype)[y_index]
        self.regressor_ = clone(self.regressor if self.regressor is not None else Ridge())
        self.regressor_.fit(X, targets)
        return self

    def decision_function(self, X):
        """Regressed indicator values: (n, n_classes), or (n,) for two classes as sklearn expects."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        scores = np.asarray(self.regressor_.predict(X)).reshape(len(X), -1)
        return scores[:, 1] - scores[:, 0] if len(self.classes_) == 2 else scores

    def predict(self, X):
        scores = self.decision_function(X)
        if scores.ndim == 1:
            return self.classes_[(scores > 0).astype(int)]
        return self.classes_[np.argmax(scores, axis=1)]


@dataclass(frozen=True)
class BaselineSpec:
    """One model of the zoo: how to build it and with which (paper's) settings.

    ``max_features``: inputs wider than this are first projected by PCA
    (``make_baseline(..., n_features=d)``), because the model is too slow or
    ill-conditioned there; None means it takes any width.
    """
    name: str
    title: str                       # the row label in Table 2
    factory: Callable[[], BaseEstimator]
    defaults: dict = field(default_factory=dict)
    group: str = "paper"             # paper (Table 2's ten) | modern | reference
    max_features: int | None = None
    param_prefix: str = ""           # where keyword settings go (the wrapped regressor)
    pca_whiten: bool = False         # unit-variance components: lbfgs converges in a few steps
    note: str = ""


def _ridge():
    return OneHotRegressionClassifier(Ridge())


def _lasso():
    return OneHotRegressionClassifier(Lasso())


# Coordinate descent (LASSO), libsvm (SVM) and the CV grid of the logistic regression
# grow with the width; past a few thousand features they cost minutes each, so PCA.
_WIDE = 4096
AUTO_PCA_COMPONENTS = 256        # keeps 80-90% of the variance of 100x100 covers (measured)

SPECS: dict[str, BaselineSpec] = {spec.name: spec for spec in (
    BaselineSpec("ridge", "Ridge", _ridge, {"alpha": 1e-4}, param_prefix="regressor__",
                 note="one-hot targets, argmax; lambda = 1e-4 (the paper)"),
    BaselineSpec("lasso", "LASSO", _lasso, {"alpha": 1e-4, "max_iter": 1000, "tol": 1e-3},
                 max_features=_WIDE, param_prefix="regressor__",
                 note="one-hot targets, argmax; lambda = 1e-4 (the paper)"),
    BaselineSpec("svm", "SVM", SVC, {"kernel": "rbf", "C": 1.0, "gamma": "scale"},
                 max_features=_WIDE, note="RBF kernel"),
    BaselineSpec("adaboost", "Adaboost", AdaBoostClassifier,
                 {"n_estimators": 50, "learning_rate": 1.0, "random_state": 0},
                 max_features=_WIDE, note="decision stumps"),
    BaselineSpec("knn", "5-nearest neighbors", KNeighborsClassifier, {"n_neighbors": 5}),
    BaselineSpec("random_forest", "Random Forest (max depth 2)", RandomForestClassifier,
                 {"max_depth": 2, "n_estimators": 100, "random_state": 0}),
    BaselineSpec("decision_tree", "Decision Tree (max depth 2)", DecisionTreeClassifier,
                 {"max_depth": 2, "random_state": 0}),
    BaselineSpec("lda", "Linear Discriminant Analysis", LinearDiscriminantAnalysis, {"solver": "svd"}),
    BaselineSpec("qda", "Quadratic Discriminant Analysis", QuadraticDiscriminantAnalysis,
                 {"reg_param": 0.0}, note="needs more covers per genre than features"),
    BaselineSpec("gaussian_nb", "Gaussian Naive-Bayes", GaussianNB),
    BaselineSpec("logistic", "Logistic regression (tuned C)", LogisticRegressionCV,
                 {"Cs": [1e-4, 1e-3, 1e-2, 1e-1, 1.0], "cv": 3, "l1_ratios": (0.0,),
                  "scoring": "accuracy", "max_iter": 300, "use_legacy_attributes": False,
                  "random_state": 0},
                 group="modern", max_features=1024, pca_whiten=True,
                 note="L2, C by 3-fold CV on the training split"),
    BaselineSpec("random_forest_full", "Random Forest (no depth cap)", RandomForestClassifier,
                 {"max_depth": None, "n_estimators": 300, "random_state": 0}, group="modern"),
    BaselineSpec("majority", "Most frequent genre (reference)", DummyClassifier,
                 {"strategy": "prior"}, group="reference",
                 note="ignores the cover: predicts the most frequent genre, ranks genres by "
                      "frequency (top-3); what an unbalanced test set gives away"),
)}
PAPER_MODELS: tuple[str, ...] = tuple(n for n, s in SPECS.items() if s.group == "paper")
MODERN_MODELS: tuple[str, ...] = tuple(n for n, s in SPECS.items() if s.group == "modern")
MODEL_GROUPS = {"paper": PAPER_MODELS, "modern": MODERN_MODELS,
                "reference": tuple(n for n, s in SPECS.items() if s.group == "reference"),
                "all": tuple(SPECS)}


def make_baseline(name: str, *, n_features: int | None = None, pca_components="auto",
                  standardize: bool = True, **params) -> Pipeline:
    """A ready-to-fit pipeline for one model of the zoo.

    Parameters
    ----------
    name : str
        A key of :data:`SPECS` (``ridge``, ``lasso``, ``svm``, ``adaboost``,
        ``knn``, ``random_forest``, ``decision_tree``, ``lda``, ``qda``,
        ``gaussian_nb``, ``logistic``, ``random_forest_full``, ``majority``).
    n_features : int, optional
        Width of the input; needed for ``pca_components="auto"`` to act.
    pca_components : "auto", int or None, default="auto"
        ``auto``: PCA to 256 components when ``n_features`` exceeds the
        model's ``max_features``; an int: always, to that many; None: never.
    standardize : bool, default=True
        Zero mean, unit variance per feature, fitted on the training data.
    **params
        Settings of the model (for Ridge/LASSO, of the regressor), over the
        paper's defaults. An unknown name is a ValueError.

    Returns
    -------
    Pipeline
        Steps ``scale`` (optional), ``pca`` (optional), ``model``.
    """
    spec = get_spec(name)
    model = spec.factory()
    settings = {**spec.defaults, **params}
    try:
        model.set_params(**{_route(spec, key): value for key, value in settings.items()})
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None
    steps = [("scale", StandardScaler())] if standardize else []
    n_components = pca_size(spec, n_features=n_features, pca_components=pca_components)
    if n_components:
        steps.append(("pca", PCA(n_components=n_components, whiten=spec.pca_whiten,
                                 svd_solver="randomized", random_state=0)))
    return Pipeline(steps + [("model", model)])


def pca_size(spec: BaselineSpec, *, n_features: int | None, pca_components="auto") -> int | None:
    """Components of the PCA step :func:`make_baseline` inserts, or None."""
    if pca_components is None:
        return None
    if pca_components == "auto":
        wide = spec.max_features is not None and n_features is not None and n_features > spec.max_features
        return AUTO_PCA_COMPONENTS if wide else None
    if not isinstance(pca_components, int) or pca_components < 1:
        raise ValueError(f"pca_components must be 'auto', a positive int or None, got {pca_components!r}")
    return pca_components


def get_spec(name: str) -> BaselineSpec:
    if name not in SPECS:
        raise ValueError(f"unknown baseline {name!r}; choose from {', '.join(SPECS)}")
    return SPECS[name]


def resolve_models(names) -> tuple[str, ...]:
    """Expand ``paper``/``modern``/``all`` and check the names; keeps order, drops repeats.

    >>> resolve_models(["ridge", "modern"])
    ('ridge', 'logistic', 'random_forest_full')
    """
    out: list[str] = []
    for name in names:
        for model in MODEL_GROUPS.get(name, (name,)):
            get_spec(model)
            if model not in out:
                out.append(model)
    return tuple(out)


def _route(spec: BaselineSpec, key: str) -> str:
    return key if "__" in key or not spec.param_prefix else spec.param_prefix + key
