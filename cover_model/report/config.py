"""What the report runs: its settings, the quick variant, and the networks of Tables 3 and 4.

Every network of the report is a :class:`~cover_model.networks.config.TrainConfig`
built from the training module's named presets, so a report and a
``python -m cover_model train --preset ...`` with the same settings share one
run folder.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from ..config import Config, option

LITE_MODELS = ("efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")
TORCHVISION_MODELS = ("alexnet", "resnet18", "resnet34", "resnet152")
PROBE_KEY = "net-efficientnet_lite0-probe"


@dataclass(frozen=True)
class ReportConfig(Config):
    """Settings of the whole study. The defaults keep the real covers (about 5,000) under
    90 minutes on 2 CPU cores; ``--quick`` swaps in :data:`QUICK`, a smoke run of about 3 minutes."""
    trials: int = option(20, "colour analysis: repetitions of the paper's two-sample protocol",
                         ge=1)
    n_per_genre: int = option(50, "colour analysis: covers per sample (the paper: 50)", ge=1)
    baseline_models: tuple[str, ...] = option(("all",), "Table 2: models or groups, as the "
                                              "baselines command's --models (paper, modern, "
                                              "reference, all)")
    scratch_epochs: int = option(10, "Table 3: epochs of the custom CNN and AlexNet from "
                                 "scratch (the paper's settings otherwise)", ge=1)
    linear_epochs: int = option(30, "Table 4: epochs of the new last layer on frozen ImageNet "
                                "features (cheap: the features are computed once)", ge=1)
    finetune_epochs: int = option(2, "Table 4: epochs of fine-tuning every layer (the costliest "
                                  "step: 2 keeps the default report under 90 min on 2 cores)",
                                  ge=1)
    lite_models: tuple[str, ...] = option(LITE_MODELS, "Table 4: EfficientNet-Lite models, in "
                                           "linear and finetune modes ('' for none)")
    torchvision_models: tuple[str, ...] = option(TORCHVISION_MODELS, "Table 4: torchvision "
                                                 "ImageNet models (linear mode), when their "
                                                 "weights are in the torch hub cache")
    pretrained_px: int = option(0, "input side of the pretrained networks; 0 = each model's own "
                                "(224-260 px)", ge=0, le=512)
    best: bool = option(True, "train and report our best model")
    sample_per_genre: int = option(8, "covers per genre in the sample grid", ge=1)
    batch_size: int = option(0, "override every network's batch size; 0 = each preset's own",
                             ge=0)
    device: str = option("auto", "where networks train: auto = CUDA, then Apple MPS, then CPU",
                         choices=("auto", "cpu", "cuda", "mps"))
    quick: bool = option(False, "smoke run in about 3 minutes on 2 cores: 3 trials, a few "
                         "models, 1-5 epochs at small sizes, EfficientNet-Lite0 only")
    parallel_networks: bool = option(False, "train the networks at once as separate jobs through "
                                     "the job executor (--executor; as many at a time as "
                                     "COVER_LAB_MAX_RUNNING_JOBS), then gather them as usual")

    def problems(self) -> list[str]:
        if self.pretrained_px and self.pretrained_px < 16:
            return [f"pretrained_px must be 0 (auto) or 16-512, got {self.pretrained_px}"]
        return []


# --quick: each setting here replaces the default; flags given explicitly still win.
QUICK = {
    "trials": 3, "n_per_genre": 20, "sample_per_genre": 4,
    "baseline_models": ("ridge", "knn", "decision_tree", "lda", "gaussian_nb", "reference"),
    "scratch_epochs": 1, "linear_epochs": 5, "finetune_epochs": 1,
    "lite_models": ("efficientnet_lite0",), "torchvision_models": (), "pretrained_px": 64,
    "batch_size": 64,       # fewer steps: AlexNet's 57M weights are updated once a step
}


def make_config(*, quick: bool = False, **given) -> ReportConfig:
    """Defaults, then :data:`QUICK` when ``quick``, then the settings given."""
    return ReportConfig(**{**(QUICK if quick else {}), **given, "quick": quick})


@dataclass(frozen=True)
class NetworkPlan:
    """One network of Tables 3 and 4.

    Attributes
    ----------
    key : str
        Step name, e.g. ``net-efficientnet_lite0-linear``.
    table : int
        3 (trained from scratch) or 4 (ImageNet-pretrained).
    settings : dict
        TrainConfig fields (without ``data``).
    """
    key: str
    table: int
    settings: dict

    @property
    def arch(self) -> str:
        return self.settings["arch"]

    @property
    def mode(self) -> str:
        return self.settings["mode"]


def best_settings() -> dict:
    """TrainConfig fields of our best model: the training module's ``best`` preset, or
    the linear probe until it exists. The one place that decides which preset it is."""
    from ..networks.config import PRESETS
    return dict(PRESETS.get("best", PRESETS["lite0-linear"]))


def probe_settings() -> dict | None:
    """The linear probe our best model must beat (issue 7): logistic regression with balanced
    class weights on frozen EfficientNet-Lite0 features; None where training has no such head."""
    from ..networks.config import PRESETS, TrainConfig
    if "head" not in {f.name for f in dataclasses.fields(TrainConfig)}:
        return None
    return {**PRESETS["lite0-linear"], "head": "logistic", "class_weight": "balanced"}


def network_plans(cfg: ReportConfig) -> list[NetworkPlan]:
    """The networks of Tables 3 and 4 for these settings, in the order they run. A quick
    run leaves out the linear probe (its cross-validated fit costs more than the rest)."""
    from ..networks.config import PRESETS
    plans = [_plan(3, PRESETS["paper-cnn"], cfg, epochs=cfg.scratch_epochs),
             _plan(3, PRESETS["paper-alexnet"], cfg, epochs=cfg.scratch_epochs)]
    for arch in cfg.lite_models:
        plans.append(_plan(4, PRESETS["lite0-linear"], cfg, arch=arch, epochs=cfg.linear_epochs))
    probe = probe_settings()
    if probe and not cfg.quick:
        plans.append(_plan(4, probe, cfg, key=PROBE_KEY))
    for arch in cfg.torchvision_models:
        plans.append(_plan(4, PRESETS["lite0-linear"], cfg, arch=arch, epochs=cfg.linear_epochs))
    for arch in cfg.lite_models:
        plans.append(_plan(4, PRESETS["lite0-finetune"], cfg, arch=arch, epochs=cfg.finetune_epochs))
    return plans


def best_plan(cfg: ReportConfig) -> NetworkPlan:
    """Our best model; in a quick run one epoch at the quick input size."""
    settings = best_settings()
    if cfg.quick:               # the same recipe, smaller: one epoch, two folds, no mirror images
        settings |= {"epochs": 1, "flip": False} | ({"cv_folds": 2} if "cv_folds" in settings else {})
        settings.pop("logistic_c", None)    # the recipe's C suits its own input side, not 64 px
        if settings.get("mode", "scratch") != "scratch":
            settings["size_px"] = cfg.pretrained_px or QUICK["pretrained_px"]
    if cfg.batch_size:
        settings["batch_size"] = cfg.batch_size
    settings["device"] = cfg.device
    return NetworkPlan("best", 0, settings)


def _plan(table: int, preset: dict, cfg: ReportConfig, *, key: str | None = None,
          **changes) -> NetworkPlan:
    settings = {**preset, **changes, "device": cfg.device}
    if cfg.batch_size:
        settings["batch_size"] = cfg.batch_size
    if settings["mode"] != "scratch" and cfg.pretrained_px:
        settings["size_px"] = cfg.pretrained_px
    return NetworkPlan(key or f"net-{settings['arch']}-{settings['mode']}", table, settings)


def config_dict(cfg: ReportConfig) -> dict:
    """The settings as the report's table shows them: a list setting as the comma list its flag takes."""
    return {k: ",".join(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(cfg).items()}
