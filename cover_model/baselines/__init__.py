"""Classical baselines: the paper's Table 2 scikit-learn zoo, on pixels, histograms or embeddings.

    python -m cover_model baselines DATA --out reports/baselines     # Table 2, CSV + markdown
    python -m cover_model baselines DATA --features embedding --networks efficientnet_lite0

- :mod:`.models`: ``make_baseline(name, **params)`` -> a scikit-learn pipeline
  (standardise, PCA where a model needs it, the model), the paper's settings
  as defaults.
- :mod:`.features`: raw pixels (random grid or resize), colour and gradient
  histograms, pretrained CNN embeddings (:mod:`.embeddings`, which imports
  torch: only when asked for); a registry for more kinds.
- :mod:`.runner`: fit and score many models in parallel, cached on disk,
  failures reported per model.
- :mod:`.specs`: :class:`FeatureSpec`, what both :mod:`.features` and
  :mod:`.embeddings` compute from, and the feature kinds' registry.
- :mod:`.config`: :class:`BaselineConfig`, the job's settings.
- :mod:`.report`: Table 2's layout beside the paper's numbers,
  per-genre tables, the grid-size sweep, CSV and markdown output.
"""
from .config import BaselineConfig
from .features import (
                       FEATURE_KINDS,
                       FeatureError,
                       FeatureSet,
                       FeatureSpec,
                       compute_feature_sets,
                       compute_features,
                       register_feature_kind,
)
from .models import (
                       MODEL_GROUPS,
                       MODERN_MODELS,
                       PAPER_MODELS,
                       SPECS,
                       OneHotRegressionClassifier,
                       make_baseline,
                       resolve_models,
)
from .runner import BaselineResult, count_missing, fit_and_score, run_baselines

__all__ = [
    "BaselineConfig",
    "FEATURE_KINDS", "FeatureError", "FeatureSet", "FeatureSpec", "compute_feature_sets",
    "compute_features", "register_feature_kind",
    "MODEL_GROUPS", "MODERN_MODELS", "PAPER_MODELS", "SPECS", "OneHotRegressionClassifier",
    "make_baseline", "resolve_models", "BaselineResult", "count_missing", "fit_and_score",
    "run_baselines",
]
