"""Training on the real covers' features pack: a head on the shipped extractor's stored
features through the normal training path (CLI, run folder, history, predictions), the
settings that need pictures refused, and the run answering an upload with the shipped
extractor (top-3 and Grad-CAM)."""
import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from cover_model.data.dataset import REAL_FEATURES, load_dataset
from cover_model.data.feature_pack import FeaturesOnlyError, load_pack
from cover_model.networks import runs, training
from cover_model.networks.config import PRESETS, TrainConfig
from cover_model.networks.data import stored_features_problem
from cover_model.networks.predict import Predictor
from cover_model.networks.tables import run_label
from cover_model.paths import PROJECT_ROOT
from cover_model.runtime import tuned_env

pytestmark = [pytest.mark.skipif(load_pack() is None, reason="the features pack is missing"),
              pytest.mark.slow]

HEAD = TrainConfig(data=REAL_FEATURES, **PRESETS["lite2-stages-loop"])
N_GENRES = 9


@pytest.fixture(scope="module")
def head_run(tmp_path_factory) -> Path:
    """A head trained once for this file by the CLI, as a user types it (8 epochs: ~5 s)."""
    checkpoints = tmp_path_factory.mktemp("feature-runs")
    env = tuned_env() | {"COVER_LAB_CHECKPOINTS": str(checkpoints),
                         "COVER_LAB_DATA": str(tmp_path_factory.mktemp("feature-data"))}
    done = subprocess.run([sys.executable, "-m", "cover_model", "train", "--data", REAL_FEATURES,
                           "--preset", "lite2-stages-loop", "--epochs", "8"],
                          cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "test: accuracy" in done.stdout
    (run_dir,) = runs.list_runs(checkpoints)
    return run_dir


def test_a_head_trains_on_the_stored_features_well_above_chance(head_run):
    run = runs.Run(head_run)
    assert run.status()["state"] == "done"
    metrics = run.metrics()
    chance = 1 / N_GENRES
    assert metrics["test"]["n"] == 748 and metrics["val"]["n"] == 770
    assert metrics["test"]["balanced_accuracy"] > 2.5 * chance      # 31.6% at 8 epochs
    assert metrics["test"]["top_k"] > 0.6
    config = json.loads((head_run / "config.json").read_text())
    assert config["data"] == REAL_FEATURES and config["n_train"] == 3461
    assert config["model"]["arch"] == "efficientnet_lite2" and config["model"]["input_px"] == 300


def test_its_history_has_every_epoch_as_live_curves_read_it(head_run):
    history = runs.Run(head_run).history()
    assert [h["epoch"] for h in history] == list(range(1, 9))
    assert all({"train_loss", "train_acc", "val_loss", "val_acc", "seconds"} <= set(h) for h in history)
    assert history[-1]["train_loss"] < history[0]["train_loss"]


def test_its_checkpoint_holds_the_head_alone(head_run):
    weights = runs.load_weights(runs.Run(head_run).weights_file("best"))
    assert weights and not any(key.startswith("backbone.") for key in weights)
    assert (head_run / "best.safetensors").stat().st_size < 200_000


def test_its_predictions_name_each_test_cover_and_its_source(head_run):
    table = runs.Run(head_run).predictions()
    assert len(table) == 748 and set(table["source"]) == {"discogs", "spotify"}
    assert {"path", "genre", "predicted", "top1", "p1", "top3"} <= set(table.columns)


def test_with_the_shipped_extractor_it_answers_an_upload_with_top_3_and_grad_cam(head_run):
    predictor = Predictor.from_run(head_run)
    cover = np.random.default_rng(0).integers(0, 256, (320, 320, 3), dtype=np.uint8)
    answer = predictor.explain(cover)
    assert len(answer.top_k) == 3 and answer.top_k[0][1] >= answer.top_k[1][1]
    assert abs(float(answer.probabilities.sum()) - 1) < 1e-4
    assert answer.grad_cam.shape == (300, 300) and answer.grad_cam.max() == pytest.approx(1)


def test_a_resumed_head_goes_on_from_its_saved_epoch(head_run, tmp_path):
    copy = tmp_path / head_run.name
    subprocess.run(["cp", "-r", str(head_run), str(copy)], check=True)
    training.main(replace(HEAD, epochs=10), run_dir=copy, resume=True)
    history = runs.Run(copy).history()
    assert [h["epoch"] for h in history] == list(range(1, 11))
    assert runs.Run(copy).status()["state"] == "done"


def test_the_exact_logistic_head_fits_on_stored_features_of_a_subset():
    """The logistic head (grouped CV over C, then the refit) on 15 covers a genre of each split:
    the whole pack takes minutes on 2 busy cores."""
    dataset = load_dataset(REAL_FEATURES)
    items = dataset.items.groupby(["split", "genre"], group_keys=False).head(15).reset_index(drop=True)
    cfg = TrainConfig(data=REAL_FEATURES, **PRESETS["best"] | {"cv_folds": 2})
    run = runs.Run(training.main(cfg, dataset=replace(dataset, items=items)))
    metrics = run.metrics()
    assert metrics["cross_validation"]["C"] == 1e-3 and metrics["test"]["n"] == (items["split"] == "test").sum()
    assert metrics["test"]["balanced_accuracy"] > 1.5 / N_GENRES
    assert not any(key.startswith("backbone.") for key in runs.load_weights(run.weights_file("best")))


@pytest.mark.parametrize("change, named", [
    ({"mode": "finetune"}, "mode finetune"),
    ({"mode": "scratch", "arch": "custom", "pooling": "last"}, "arch custom"),
    ({"arch": "efficientnet_lite0"}, "arch efficientnet_lite0"),
    ({"size_px": 260}, "input_px 260"),
    ({"pooling": "last"}, "pooling last"),
    ({"preprocess": "cubic"}, "preprocess cubic"),
    ({"flip": True}, "flip on"),
    ({"predict_mirrored": True}, "predict_mirrored on"),
])
def test_settings_that_need_the_pictures_are_refused_in_one_sentence(change, named):
    cfg = replace(HEAD, **change)
    problem = stored_features_problem(cfg, load_dataset(REAL_FEATURES))
    assert problem and named in problem and "features only" in problem
    with pytest.raises(FeaturesOnlyError, match=named):
        training.main(cfg)
    assert runs.list_runs() == []                    # refused before any run folder


def test_the_defaults_of_the_cli_are_refused_with_what_to_change(tmp_path):
    env = tuned_env() | {"COVER_LAB_CHECKPOINTS": str(tmp_path)}
    done = subprocess.run([sys.executable, "-m", "cover_model", "train", "--data", REAL_FEATURES],
                          cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert "features only" in done.stderr and "mode scratch" in done.stderr


def test_a_dataset_with_pixels_has_no_stored_features_problem(folder_dataset):
    assert stored_features_problem(replace(HEAD, data=str(folder_dataset)),
                                   load_dataset(folder_dataset)) is None


def test_the_stored_head_config_keeps_the_loop_settings_in_its_config(head_run):
    saved = runs.Run(head_run).train_config()
    assert (saved.optimizer, saved.lr, saved.batch_size, saved.class_weight) == \
        ("adamw", 3e-4, 64, "balanced")
    assert saved.data == REAL_FEATURES


# --- the Train page on the real covers' features ------------------------------------------

VISITOR = "0123456789ab"


def open_train(*, visitor: str | None = None):
    """The Train page in a new session on the features-only dataset (as public mode starts)."""
    from streamlit.testing.v1 import AppTest

    import ui
    at = AppTest.from_file(str(PROJECT_ROOT / "app.py"), default_timeout=60)
    if visitor:
        at.query_params["visitor"] = visitor
    at.session_state["dataset_kind"] = ui.REAL
    at.run()
    at.switch_page("app_pages/train.py").run()
    assert not at.exception
    return at


def texts(at, kind: str) -> str:
    from cover_model.markdown_text import unescape
    return " ".join(unescape(e.value) for e in at.get(kind))


@pytest.fixture
def train_page(app_main):
    from cover_model.networks import jobs
    yield open_train
    for run_dir in jobs.running_jobs():            # never leave a training process behind
        jobs.cancel_job(run_dir)


def test_the_train_page_offers_a_head_with_the_extractor_fixed(train_page):
    page = train_page()
    keys = {w.key for kind in ("number_input", "selectbox", "checkbox", "radio")
            for w in page.sidebar.get(kind) if w.key}
    assert {"features_head", "features_epochs", "features_batch_size", "features_lr",
            "features_weight_decay", "features_class_weight"} <= keys
    assert not {"train_arch", "train_mode", "train_size_px", "train_flip", "train_preset"} & keys
    assert page.sidebar.number_input(key="features_lr").value == 3e-4
    assert page.sidebar.selectbox(key="features_class_weight").value == "balanced"
    assert "features only" in texts(page, "caption") and "efficientnet_lite2 at 300 px" in texts(page, "caption")
    assert "a new head on the stored features of **efficientnet_lite2** (frozen) at 300 px for 20 " \
        "epoch(s): batch 64, adamw lr 0.0003" in texts(page, "caption")
    assert not page.button(key="train_start").disabled and "No job yet" in texts(page, "info")

    page.sidebar.radio(key="features_head").set_value("logistic").run()
    assert page.sidebar.number_input(key="features_logistic_c").value == 1e-3
    assert "exact logistic head (C 0.001)" in texts(page, "caption")
    assert not [w for w in page.sidebar.number_input if w.key == "features_lr"]
    assert not page.exception


def test_a_visitor_trains_a_head_in_public_mode_watches_it_and_finds_it_on_results(train_page,
                                                                                   monkeypatch):
    from cover_model.networks import jobs
    from tests.helpers import wait_for
    monkeypatch.setenv("COVER_LAB_PUBLIC", "1")
    page = train_page(visitor=VISITOR)
    page.sidebar.number_input(key="features_epochs").set_value(1_000_000).run()
    page.button(key="train_start").click().run()
    assert "fewer epochs (at most" in texts(page, "error") and "stored features" in texts(page, "error")
    assert jobs.running_jobs() == [] and jobs.queued_jobs() == []

    page.sidebar.number_input(key="features_epochs").set_value(6).run()      # a changed setting
    page.sidebar.number_input(key="features_lr").set_value(1e-3).run()
    page.button(key="train_start").click().run()
    assert not page.exception
    run_dir = Path(page.session_state["train_run"])
    assert jobs.owner_of(run_dir) == VISITOR
    status = wait_for(lambda: (s := jobs.job_status(run_dir))["state"] not in jobs.ACTIVE and s,
                      timeout_s=240)
    assert status["state"] == "done", status
    page.run()
    assert not page.exception
    assert "Finished efficientnet_lite2 linear 300px, all stages" in texts(page, "success")
    assert len(page.get("plotly_chart")) == 1                               # the curves
    run = runs.Run(run_dir)
    assert len(run.history()) == 6 and run.train_config().lr == 1e-3
    assert run.config()["data"] == REAL_FEATURES

    from streamlit.testing.v1 import AppTest
    mine = open_train(visitor=VISITOR)
    mine.switch_page("app_pages/results.py").run()
    assert not mine.exception
    assert run_dir.name in set(mine.dataframe[0].value["run"])             # the owner sees it
    stranger = open_train(visitor="ffffffffffff")
    stranger.switch_page("app_pages/results.py").run()
    assert run_dir.name not in set(stranger.dataframe[0].value["run"])     # a stranger does not
    assert isinstance(stranger, AppTest)


def test_predict_offers_the_visitors_head_and_answers_with_top_3_and_grad_cam(head_run, app_main,
                                                                              monkeypatch):
    """Public mode: the visitor's finished head is in Predict's model list (theirs alone), and
    with the shipped extractor it answers an upload: top-3 and Grad-CAM."""
    import shutil

    from cover_model.paths import checkpoints_dir
    from tests.helpers import jpeg_bytes
    mine = Path(shutil.copytree(head_run, checkpoints_dir() / head_run.name))
    runs.Run(mine).write_request({"config": runs.Run(mine).config(), "owner": VISITOR})
    monkeypatch.setenv("COVER_LAB_PUBLIC", "1")
    stranger = open_train(visitor="ffffffffffff")
    stranger.switch_page("app_pages/predict.py").run()
    assert not [o for o in stranger.selectbox(key="predict_run").options if mine.name in o]

    page = open_train(visitor=VISITOR)
    page.switch_page("app_pages/predict.py").run()
    assert [o for o in page.selectbox(key="predict_run").options if mine.name in o]
    page.selectbox(key="predict_run").set_value(str(mine)).run()
    cover = jpeg_bytes((200, 40, 160), size=(320, 320))
    page.file_uploader(key="predict_uploads").set_value([("pink.jpg", cover, "image/jpeg")]).run()
    assert not page.exception and not page.error
    answer = next(md.value for md in page.markdown if md.value.startswith("**Most likely:"))
    assert answer.split("**Most likely: ")[1].split("**")[0] in runs.Run(mine).class_names
    assert any("Grad-CAM" in c for image in page.get("image") for c in image.captions)


def test_a_small_mlp_head_trains_on_the_stored_features_and_explains_an_upload():
    cfg = replace(HEAD, head_hidden=64, epochs=3, lr=1e-3)
    run = runs.Run(training.main(cfg))
    assert run.model_args().head_hidden == 64 and "MLP head (64 hidden)" in run_label(run.config())
    assert {"head.1.weight", "head.4.weight"} <= set(runs.load_weights(run.weights_file("best")))
    assert run.metrics()["test"]["balanced_accuracy"] > 1.5 / N_GENRES
    cover = np.random.default_rng(1).integers(0, 256, (300, 300, 3), dtype=np.uint8)
    answer = Predictor.from_run(run.path).explain(cover)
    assert len(answer.top_k) == 3 and answer.grad_cam.shape == (300, 300)


def test_the_exact_logistic_head_is_linear_only():
    with pytest.raises(ValueError, match="head 'logistic' is one linear layer"):
        TrainConfig(data=REAL_FEATURES, **PRESETS["best"] | {"head_hidden": 64})


def test_evaluate_says_the_pack_has_no_covers_to_score(head_run):
    with pytest.raises(FeaturesOnlyError, match="Scoring covers with a run needs the covers' pixels"):
        training.evaluate_run(head_run)
