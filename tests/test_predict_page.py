"""The Predict page: first-launch model, uploads (good and bad), colour profile."""
import sys

import pytest
from streamlit.testing.v1 import AppTest

from cover_model.markdown_text import unescape
from cover_model.networks import jobs
from cover_model.networks.config import TrainConfig
from cover_model.networks.training import main
from cover_model.paths import PROJECT_ROOT

from .helpers import jpeg_bytes

APP = str(PROJECT_ROOT / "app.py")


@pytest.fixture
def predict_page(embedded_data, monkeypatch):
    monkeypatch.setitem(sys.modules, "__main__", sys.modules["__main__"])   # see test_app.py
    at = AppTest.from_file(APP, default_timeout=120)
    at.switch_page("app_pages/predict.py")
    return at


@pytest.fixture
def no_shipped_model(monkeypatch):
    """A checkout without the shipped model (it is optional for the app)."""
    monkeypatch.setattr("cover_model.shipped.shipped_run", lambda: None)


def test_the_shipped_model_answers_at_once_without_training(predict_page):
    from cover_model.shipped import SHIPPED_DIR, read_card
    predict_page.run()
    assert not predict_page.exception
    assert predict_page.selectbox(key="predict_run").value == str(SHIPPED_DIR)
    assert not jobs.running_jobs(), "a model was trained although the shipped one is there"
    assert any(c.value.startswith("Trained on") and "real covers" in c.value
               for c in predict_page.caption)
    cover = jpeg_bytes((30, 30, 30), size=(300, 300))
    predict_page.file_uploader(key="predict_uploads").set_value([("dark.jpg", cover, "image/jpeg")])
    predict_page.run()
    assert not predict_page.exception
    answer = next(md.value for md in predict_page.markdown if md.value.startswith("**Most likely:"))
    assert answer.split("**Most likely: ")[1].split("**")[0] in read_card()["class_names"]
    assert any("Closest real-cover genre by colour" in c.value for c in predict_page.caption)


def test_the_synthetic_cnn_stays_one_click_away(predict_page):
    predict_page.run()
    predict_page.button(key="train_demo_model").click().run()
    assert not predict_page.exception
    started = jobs.running_jobs()
    assert len(started) == 1
    jobs.cancel_job(started[0])
    import ui_first_launch
    ui_first_launch._demo_model_job.clear()          # the job is cached per server; the next test starts anew


def test_first_launch_trains_a_model_in_the_background(predict_page, no_shipped_model):
    predict_page.run()
    assert not predict_page.exception
    assert any("First launch" in info.value for info in predict_page.info)
    started = jobs.running_jobs()
    assert len(started) == 1, "no training job was started"
    predict_page.run()                                   # a rerun does not start a second one
    assert jobs.running_jobs() == started
    jobs.cancel_job(started[0])


def test_uploads_get_top_genres_and_bad_files_a_clear_error(predict_page):
    run_dir = main(TrainConfig(epochs=1, batch_size=32))
    predict_page.run()
    predict_page.selectbox(key="predict_run").set_value(str(run_dir)).run()
    assert not predict_page.exception
    cover = jpeg_bytes((180, 20, 20), size=(350, 350))
    predict_page.file_uploader(key="predict_uploads").set_value(
        [("red.jpg", cover, "image/jpeg"), ("notes.png", b"not an image at all", "image/png")])
    predict_page.run()
    assert not predict_page.exception
    assert any(md.value.startswith("**Most likely:") for md in predict_page.markdown)
    errors = [unescape(e.value) for e in predict_page.error]          # as a reader sees it
    assert len(errors) == 1 and errors[0].startswith("notes.png:") and "not an image" in errors[0]
    assert any("Closest genre by colour" in c.value for c in predict_page.caption)



def test_an_upload_gets_the_probabilities_the_predict_command_computes(predict_page, tmp_path,
                                                                       monkeypatch):
    """One path for an upload: a 1,200 px JPEG (where a full-size decode and a reduced-scale one
    differ by points) gets the same probabilities on the page and from `predict`."""
    import numpy as np
    from PIL import Image

    from cover_model.cli import main as cli_main
    from cover_model.networks.predict import Predictor
    from cover_model.shipped import SHIPPED_DIR
    answers = {}
    explain, probabilities = Predictor.explain, Predictor.probabilities

    def page_explain(self, image, **kwargs):
        answer = explain(self, image, **kwargs)
        answers["page"] = answer.probabilities
        return answer

    def cli_probabilities(self, image):
        answers["cli"] = probabilities(self, image)
        return answers["cli"]

    monkeypatch.setattr(Predictor, "explain", page_explain)
    monkeypatch.setattr(Predictor, "probabilities", cli_probabilities)
    rng = np.random.default_rng(0)
    blocks = np.kron(rng.integers(0, 128, (75, 75, 3), dtype=np.uint8), np.ones((16, 16, 1), np.uint8))
    path = tmp_path / "cover.jpg"                      # 16 px blocks and fine noise, 1,200 px
    Image.fromarray(blocks + rng.integers(0, 128, blocks.shape, dtype=np.uint8)).save(path, quality=90)
    predict_page.run()
    predict_page.file_uploader(key="predict_uploads").set_value(
        [("cover.jpg", path.read_bytes(), "image/jpeg")])
    predict_page.run()
    assert not predict_page.exception
    assert cli_main(["predict", str(SHIPPED_DIR), str(path)]) == 0
    assert set(answers) == {"page", "cli"}
    np.testing.assert_allclose(answers["page"], answers["cli"], rtol=0, atol=1e-6)
