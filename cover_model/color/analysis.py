"""The colour analysis of a dataset, end to end: downsize, histograms, trials, mean covers.

    python -m cover_model color DATA --out reports/color     # tables, figures (see export.py)

``ColorConfig`` holds the paper's settings (section 3) and backs both the CLI
flags and the dashboard's widgets; ``run_color_analysis`` returns everything
the figures and tables are drawn from.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..config import Config, option
from ..data.dataset import Dataset
from ..data.dataset_needs import colour_problem, require
from ..data.preprocess import METHODS, CoverArrays, preprocess_dataset
from .histograms import SPACES, compute_gradient_histograms, compute_histograms
from .metrics import METRIC_NAMES
from .protocol import TrialResults, run_trials, summarise_ranks
from .stored import stored_histograms

FEATURES = ("color", "gradient")


@dataclass(frozen=True)
class ColorConfig(Config):
    """Settings of the colour analysis; the defaults are the paper's."""
    feature: str = option("color", "per-cover feature: 'color' (the paper's 3D colour histogram) or "
                          "'gradient' (HOG-like orientation histogram, the paper's suggestion)",
                          choices=FEATURES)
    bins: int = option(8, "colour histogram bins per channel (the paper: 8, so 512 values)",
                       ge=1, le=64, step=1)
    space: str = option("rgb", "colour space the histogram bins are laid over", choices=SPACES)
    orientation_bins: int = option(9, "gradient histogram: orientation bins over 180 degrees (HOG: 9)",
                                   ge=1, le=180)
    grid: int = option(4, "gradient histogram: cells per side (4: HOG's 8-px cells at 32 px)",
                       ge=1, le=16, step=1)
    size_px: int = option(32, "covers are first downsized to size_px x size_px (the paper: 32)",
                          ge=4, le=512, ticks=(16, 32, 35, 48, 64, 70, 100))
    method: str = option("cubic", "downsizing (the paper: OpenCV cubic interpolation)", choices=METHODS)
    n_per_genre: int = option(50, "covers per sample, two disjoint samples per genre (the paper: 50)",
                              ge=1, le=100_000)
    trials: int = option(20, "repetitions of the protocol with fresh samples", ge=1, le=10_000)
    seed: int = option(0, "seed of the samples (trial t uses the t-th child of this seed)", ge=0)
    metric: str = option("intersection", "metric of the heatmap and rank figures; all four are "
                         "computed (the paper reports intersection)", choices=METRIC_NAMES)
    mean_cover_px: int = option(64, "side of the mean covers, Figure 3 (any size)", ge=4, le=1024,
                                ticks=(32, 64, 128, 256))
    mean_cover_n: int = option(50, "covers averaged per genre for a mean cover (0: all of them)",
                               ge=0, le=1_000_000)

    def problems(self) -> list[str]:
        if self.feature == "gradient" and self.grid > self.size_px:
            return [f"a {self.grid}x{self.grid} grid needs covers of at least {self.grid} px"]
        return []

    def cache_key(self, *, ignore=()) -> str:
        """Of the analysis these settings produce: the shown metric is not part of it (all four
        are computed), nor are the other feature's settings."""
        unused = ("orientation_bins", "grid") if self.feature == "color" else ("bins", "space")
        return super().cache_key(ignore=(*ignore, "metric", *unused))

    @property
    def feature_label(self) -> str:
        if self.feature == "gradient":
            grid = f"{self.grid}x{self.grid}"
            return f"gradient histogram ({self.orientation_bins} orientations x {grid} cells)"
        return f"{self.space.upper()} colour histogram ({self.bins}^3 = {self.bins ** 3} bins)"


@dataclass(frozen=True)
class ColorAnalysis:
    """Everything the colour analysis of one dataset produced.

    Attributes
    ----------
    config : ColorConfig
    class_names : tuple of str
    n_covers : ndarray of shape (G,), int64
        Covers per genre that could be decoded.
    trials : TrialResults
        Matrices (trials, metrics, G, G) and ranks (trials, metrics, G).
    genre_means : ndarray of shape (G, K), float32
        Mean feature histogram of every cover of each genre.
    mean_covers : ndarray of shape (G, P, P, 3), uint8, or None
        Figure 3: the mean of a random sample of covers per genre; None where the
        dataset holds no pixels (features only).
    notes : tuple of str
        What the reader must know: reduced samples, left-out genres, skipped files.
    fingerprint : str
        Of the dataset analysed.
    """
    config: ColorConfig
    class_names: tuple[str, ...]
    n_covers: np.ndarray
    trials: TrialResults
    genre_means: np.ndarray
    mean_covers: np.ndarray | None
    notes: tuple[str, ...]
    fingerprint: str

    def matrix(self, metric: str | None = None, *, trial: int | None = 0) -> np.ndarray:
        """The G x G matrix of one trial (default: the first), or the mean over trials (``None``)."""
        k = self.trials.metrics.index(metric or self.config.metric)
        stack = self.trials.matrices[:, k]
        return stack.mean(axis=0) if trial is None else stack[trial]

    def rank_summary(self):
        """Per metric and genre: Table 1's rank and its stability over trials (a DataFrame)."""
        return summarise_ranks(self.trials, self.class_names)


def compute_features(images: np.ndarray, cfg: ColorConfig) -> np.ndarray:
    """The per-cover histograms ``cfg`` asks for: ``(n, K)`` float32, rows summing to 1."""
    if cfg.feature == "gradient":
        return compute_gradient_histograms(images, bins=cfg.orientation_bins, grid=cfg.grid)
    return compute_histograms(images, bins=cfg.bins, space=cfg.space)


def dataset_features(dataset: Dataset, cfg: ColorConfig, *, progress=None):
    """Downsize every cover (cached, shared with other jobs) and compute its histogram; on a
    features-only dataset, read the histograms it stores (:mod:`.stored`).

    Returns
    -------
    arrays : CoverArrays
        The covers the histograms are of; read from a features-only dataset, its images
        are empty (0 x 0 px: there are no pixels) and every item is there.
    histograms : ndarray of shape (n, K), float32

    Raises
    ------
    FeaturesOnlyError
        The dataset is features only, and its stored histograms cannot answer ``cfg``.
    """
    if dataset.features_only:
        histograms = stored_histograms(dataset, cfg.feature, asdict(cfg))
        if progress:
            progress(len(dataset), len(dataset))
        labels = dataset.items["label"].to_numpy(np.int64)
        return CoverArrays(np.zeros((len(dataset), 0, 0, 3), np.uint8), labels,
                           np.arange(len(dataset))), histograms
    arrays = preprocess_dataset(dataset, size_px=cfg.size_px, method=cfg.method, progress=progress)
    return arrays, compute_features(arrays.images, cfg)


def run_color_analysis(dataset: Dataset, cfg: ColorConfig = ColorConfig(), *,
                       progress=None) -> ColorAnalysis:
    """The paper's colour analysis of a dataset, repeated over ``cfg.trials`` trials.

    Parameters
    ----------
    dataset : Dataset
        All its covers take part, whatever their split.
    cfg : ColorConfig
    progress : callable, optional
        ``progress(done, total)`` while covers are decoded (a cache hit reports at once).

    Returns
    -------
    ColorAnalysis

    Raises
    ------
    NotEnoughData
        Fewer than 2 genres of at least 2 covers (:func:`cover_model.data.dataset_needs.colour_problem`).
    FeaturesOnlyError
        The dataset is features only and stores no histograms for ``cfg``
        (:func:`.stored.stored_problem` says why). Its analysis has no mean covers.
    """
    require(colour_problem(dataset))       # before any cover is decoded
    arrays, histograms = dataset_features(dataset, cfg, progress=progress)
    n_classes = dataset.n_classes
    if len(arrays) == 0:
        raise ValueError("no cover of this dataset could be decoded")
    trials = run_trials(histograms, arrays.labels, n_classes=n_classes, n_per_genre=cfg.n_per_genre,
                        n_trials=cfg.trials, seed=cfg.seed)
    n_covers = np.bincount(arrays.labels, minlength=n_classes)
    covers = None if dataset.features_only else dataset_mean_covers(dataset, cfg, arrays)
    return ColorAnalysis(
        config=cfg, class_names=dataset.class_names, n_covers=n_covers, trials=trials,
        genre_means=genre_mean_histograms(histograms, arrays.labels, n_classes=n_classes),
        mean_covers=covers, fingerprint=dataset.fingerprint,
        notes=tuple(_notes(dataset.class_names, n_covers, trials, cfg, len(arrays.skipped))))


def dataset_mean_covers(dataset: Dataset, cfg: ColorConfig, arrays: CoverArrays) -> np.ndarray:
    """Figure 3 of ``dataset`` at ``cfg.mean_cover_px`` (``arrays``: its covers at ``cfg.size_px``)."""
    if cfg.mean_cover_px == cfg.size_px:
        big = arrays
    else:
        big = preprocess_dataset(dataset, size_px=cfg.mean_cover_px, method=cfg.method)
    return mean_covers(big.images, big.labels, n_classes=dataset.n_classes,
                       n_per_genre=cfg.mean_cover_n or None, seed=cfg.seed)


def genre_mean_histograms(histograms: np.ndarray, labels: np.ndarray, *, n_classes: int) -> np.ndarray:
    """The mean histogram of each genre: ``(G, K)`` float32 (zeros for an empty genre)."""
    sums = np.zeros((n_classes, histograms.shape[1]))
    np.add.at(sums, labels, histograms)
    counts = np.bincount(labels, minlength=n_classes)[:, None]
    return (sums / np.maximum(counts, 1)).astype(np.float32)


def mean_covers(images: np.ndarray, labels: np.ndarray, *, n_classes: int,
                n_per_genre: int | None = 50, seed: int = 0) -> np.ndarray:
    """Figure 3: the pixel-wise mean of a random sample of covers of each genre.

    Parameters
    ----------
    images : ndarray of shape (n, S, S, 3), uint8
    labels : ndarray of shape (n,), int
    n_classes : int
    n_per_genre : int or None, default=50
        Covers averaged per genre (fewer if a genre has fewer); None: all.
    seed : int, default=0

    Returns
    -------
    ndarray of shape (n_classes, S, S, 3), uint8
        Black for a genre without covers.

    Examples
    --------
    >>> images = np.stack([np.full((2, 2, 3), v, np.uint8) for v in (0, 100, 50)])
    >>> mean_covers(images, np.array([0, 0, 1]), n_classes=2)[:, 0, 0, 0].tolist()
    [50, 50]
    """
    rng = np.random.default_rng(seed)
    out = np.zeros((n_classes, *images.shape[1:]), np.uint8)
    for genre in range(n_classes):
        members = np.flatnonzero(labels == genre)
        if n_per_genre is not None and len(members) > n_per_genre:
            members = rng.choice(members, n_per_genre, replace=False)
        if len(members):
            out[genre] = np.rint(images[members].mean(axis=0, dtype=np.float64)).astype(np.uint8)
    return out


def config_dict(cfg: ColorConfig) -> dict:
    """The config as plain values (for config.json and cache keys)."""
    return asdict(cfg)


def _notes(class_names, n_covers, trials: TrialResults, cfg: ColorConfig, n_skipped: int):
    for genre, count, used in zip(class_names, n_covers, trials.n_per_genre):
        if used == 0:
            yield (f"{genre}: {count} cover(s), too few for two disjoint samples; "
                   "left out of the matrix and the ranks")
        elif used < cfg.n_per_genre:
            yield (f"{genre}: only {count} covers, so two disjoint samples of {used} "
                   f"(not {cfg.n_per_genre})")
    if n_skipped:
        yield f"{n_skipped} cover(s) could not be decoded and were left out"
