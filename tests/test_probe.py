"""The exact logistic head (cover_model.networks.logistic_head) and multi-stage pooling: runs, folding, checks."""
import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from torch import nn

from cover_model.networks import runs
from cover_model.networks.config import TrainConfig
from cover_model.networks.logistic_head import C_GRID, _write_head, one_standard_error_choice
from cover_model.networks.models import build_model
from cover_model.networks.predict import Predictor
from cover_model.networks.training import main


@pytest.mark.parametrize("classes", [(0, 1, 2, 3), (0, 1), (0, 2, 3)])
def test_the_fitted_pipeline_folds_exactly_into_the_linear_head(classes):
    rng = np.random.default_rng(0)
    x = rng.normal(3, 5, size=(80, 6))
    y = np.array(classes)[rng.integers(0, len(classes), size=80)]
    pipe = make_pipeline(StandardScaler(), LogisticRegression(C=0.5)).fit(x, y)
    head = nn.Sequential(nn.Dropout(0.2), nn.Linear(6, 4)).eval()
    model = nn.Module()
    model.head = head
    _write_head(model, pipe, n_classes=4)
    probs = head(torch.tensor(x, dtype=torch.float32)).softmax(1).detach().numpy()
    np.testing.assert_allclose(probs[:, pipe.classes_], pipe.predict_proba(x), atol=1e-4)
    missing = sorted(set(range(4)) - set(classes))
    assert (probs[:, missing] < 1e-6).all()          # a genre never seen is never predicted


def test_stage_pooling_adds_every_stage_mean_before_the_usual_features():
    torch.manual_seed(0)
    x = torch.rand(2, 3, 64, 64)
    last = build_model("efficientnet_lite0", 3, input_px=64, mode="linear").eval()
    stages = build_model("efficientnet_lite0", 3, input_px=64, mode="linear", pooling="stages").eval()
    with torch.no_grad():
        plain, rich = last.embed(x), stages.embed(x)
    assert plain.shape == (2, 1280) and rich.shape == (2, 1280 + 16 + 24 + 40 + 80 + 112 + 192 + 320)
    torch.testing.assert_close(rich[:, -1280:], plain)
    assert stages.head[-1].in_features == rich.shape[1]


def test_a_logistic_head_run_is_cross_validated_and_predicts_like_any_run(folder_dataset):
    cfg = TrainConfig(data=str(folder_dataset), arch="efficientnet_lite0", mode="linear",
                      head="logistic", pooling="stages", class_weight="balanced", flip=True,
                      predict_mirrored=True, size_px=64, cv_folds=3)
    seen = []
    run_dir = main(cfg, progress=seen.append)
    metrics = runs.Run(run_dir).metrics()
    cv = metrics["cross_validation"]
    assert cv["C"] in C_GRID and set(cv["scores"]) == set(cv["standard_errors"]) == {str(c) for c in C_GRID}
    assert cv["metric"] == "balanced_accuracy" and cv["n_folds"] == 3
    assert cv["n_fit"] + metrics["test"]["n"] == 30                # train+val, not mirrored
    assert "val" not in metrics and metrics["test"]["n"] == 5   # val went into the fit
    assert seen[-1]["step"] == seen[-1]["steps"] == len(C_GRID) * 3 + 1
    predictor = Predictor.from_run(run_dir)
    assert predictor.model.predict_mirrored
    # The whole network on a decoded cover says what the cached-embedding evaluation said.
    scored = runs.Run(run_dir).predictions().iloc[0]
    ranked = predictor.top_k(folder_dataset / scored["path"], k=3)
    assert sorted(g for g, _ in ranked) == ["ambient", "jazz", "metal"]
    assert ranked[0] == (scored["top1"], pytest.approx(scored["p1"], abs=0.01))


def test_c_is_the_strongest_regularisation_within_one_standard_error_of_the_best():
    folds = {1e-4: [0.41, 0.42, 0.42], 3e-4: [0.40, 0.44, 0.43], 1e-3: [0.41, 0.42, 0.43],
             3e-5: [0.30, 0.32, 0.31]}
    chosen, means, errors = one_standard_error_choice(folds)
    assert max(means, key=means.get) == 3e-4 and errors[3e-4] == pytest.approx(np.std([0.40, 0.44, 0.43], ddof=1) / np.sqrt(3))
    assert chosen == 1e-4          # 0.4167 >= 0.4233 - 0.0120; 3e-5 (0.31) is not within
    assert one_standard_error_choice({1e-3: [0.5], 1e-2: [0.6]})[0] == 1e-2   # one fold: no error
    assert one_standard_error_choice({c: [0.4, 0.4] for c in C_GRID})[0] == min(C_GRID)


def test_a_mirror_averaging_network_averages_only_when_predicting():
    torch.manual_seed(0)
    net = build_model("custom", 3, input_px=32, predict_mirrored=True)
    x = torch.rand(2, 3, 32, 32)
    single = net.head(net.embed(x))
    torch.testing.assert_close(net.train()(x), single)
    with torch.no_grad():
        both = (single + net.head(net.embed(x.flip(-1)))) / 2
        torch.testing.assert_close(net.eval()(x), both)


@pytest.mark.parametrize("overrides, message", [
    ({"head": "logistic"}, "mode 'linear'"),
    ({"arch": "alexnet", "mode": "linear", "pooling": "stages"}, "efficientnet_lite"),
    ({"mode": "linear", "arch": "efficientnet_lite0", "head": "logistic", "cv_folds": 1}, "cv_folds"),
])
def test_bad_probe_settings_are_refused_with_the_reason(overrides, message):
    with pytest.raises(ValueError, match=message):
        TrainConfig(**overrides)


def test_the_best_model_of_a_dataset_is_offered_first(tmp_path):
    from cover_model.atomic_files import write_json
    from cover_model.networks.config import PRESETS
    from cover_model.networks.tables import best_first
    made = {}
    for name, fingerprint, settings in [("new-other-data", "bbb", PRESETS["best"]),
                                        ("new-plain", "aaa", PRESETS["paper-cnn"]),
                                        ("old-best", "aaa", PRESETS["best"])]:
        made[name] = tmp_path / name
        write_json(made[name] / "config.json", {**settings, "dataset_fingerprint": fingerprint})
    ordered = best_first(list(made.values()), fingerprint="aaa")
    assert [p.name for p in ordered] == ["old-best", "new-plain", "new-other-data"]
