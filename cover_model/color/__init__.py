"""Colour analysis (the paper's section 3), fast and measured for stability.

Per-cover histograms (``histograms``), the four ``compareHist`` metrics for all
pairs at once (``metrics``) and their means between samples (``blocks``), the
two-sample protocol with its Table 1 ranks and trials (``protocol``), the whole
analysis of a dataset (``analysis``), one cover's profile (``profile``),
figures and tables (``figures``) and the report the CLI writes (``export``).

    python -m cover_model color DATA --out reports/color
"""
from .analysis import (
                       FEATURES,
                       ColorAnalysis,
                       ColorConfig,
                       compute_features,
                       genre_mean_histograms,
                       mean_covers,
                       run_color_analysis,
)
from .blocks import block_means, mean_similarity
from .export import ColorReport, mean_covers_montage, write_color_report
from .histograms import SPACES, bin_colors, compute_gradient_histograms, compute_histograms
from .metrics import METRIC_NAMES, METRICS, Metric, compare_all_pairs, compare_pairs_cv2, get_metric
from .profile import ColorReference, CoverProfile, build_reference, cover_histogram, profile_cover
from .protocol import (
                       Samples,
                       TrialResults,
                       draw_disjoint_samples,
                       rank_self_similarity,
                       run_trials,
                       similarity_matrix,
                       summarise_ranks,
)

__all__ = [
    "FEATURES", "SPACES", "METRICS", "METRIC_NAMES", "Metric", "ColorConfig", "ColorAnalysis",
    "ColorReport", "ColorReference", "CoverProfile", "Samples", "TrialResults",
    "compute_histograms", "compute_gradient_histograms", "compute_features", "bin_colors",
    "compare_all_pairs", "compare_pairs_cv2", "mean_similarity", "block_means", "get_metric",
    "draw_disjoint_samples", "similarity_matrix", "rank_self_similarity", "run_trials",
    "summarise_ranks", "run_color_analysis", "genre_mean_histograms", "mean_covers",
    "build_reference", "cover_histogram", "profile_cover", "write_color_report", "mean_covers_montage",
]
