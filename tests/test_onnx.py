"""ONNX serving (cover_model/serving.py): export, the same answers as torch, no torch needed."""
import io
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from cover_model.cli import main as cli_main
from cover_model.data.images import cover_input
from cover_model.networks.config import TrainConfig
from cover_model.networks.models import build_model
from cover_model.networks.predict import Predictor
from cover_model.networks.training import main as train
from cover_model.paths import PROJECT_ROOT
from cover_model.service.onnx_serving import OnnxModelError, OnnxPredictor, export_onnx
from cover_model.shipped import SHIPPED_DIR
from cover_model.synth import render_cover

from .conftest import REAL_COVERS

pytestmark = pytest.mark.slow           # scheduled first (tests/conftest.py)

TOLERANCE = 1e-4            # probabilities, ONNX against torch


def sample_covers(n_per_genre: int = 1) -> list[bytes]:
    """Encoded covers for both predictors to decode: real ones (test split, each genre)
    when ../shared holds them, else the project's synthetic covers as JPEG."""
    manifest = REAL_COVERS / "manifest.csv"
    if manifest.is_file():
        table = pd.read_csv(manifest)
        chosen = table[table["split"] == "test"].groupby("genre").head(n_per_genre)
        return [(REAL_COVERS / path).read_bytes() for path in chosen["path"]]
    return [_jpeg(render_cover(genre, seed=3, index=i))
            for genre in ("metal", "jazz", "pop", "ambient") for i in range(n_per_genre)]


def _jpeg(rgb: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=90)
    return buf.getvalue()


def assert_same_answers(torch_predictor, onnx_predictor, covers) -> float:
    """Both predictors give each cover the same probabilities and ranking; returns the
    largest difference."""
    assert onnx_predictor.class_names == torch_predictor.class_names
    worst = 0.0
    for cover in covers:
        want, got = torch_predictor.probabilities(cover), onnx_predictor.probabilities(cover)
        assert got.shape == want.shape and got.dtype == np.float32
        worst = max(worst, float(np.abs(got - want).max()))
        assert [g for g, _ in onnx_predictor.top_k(cover)] == [g for g, _ in torch_predictor.top_k(cover)]
    assert worst < TOLERANCE
    return worst


@pytest.fixture(scope="module")
def shipped_onnx(tmp_path_factory):
    if not (SHIPPED_DIR / "best.safetensors").is_file():
        pytest.skip("the shipped model is missing from this checkout")
    return export_onnx(SHIPPED_DIR, tmp_path_factory.mktemp("onnx") / "real-covers.onnx")


def test_the_shipped_model_answers_the_same_on_onnxruntime(shipped_onnx):
    onnx_predictor = OnnxPredictor.from_file(shipped_onnx)
    assert (onnx_predictor.input_px, onnx_predictor.method) == (300, "area")
    assert_same_answers(Predictor.from_run(SHIPPED_DIR), onnx_predictor, sample_covers())


def test_a_freshly_trained_cnn_exports_beside_its_run(folder_dataset, capsys):
    run_dir = train(TrainConfig(data=str(folder_dataset), epochs=1, batch_size=4))
    assert cli_main(["export-onnx", str(run_dir)]) == 0
    assert str(run_dir / "model.onnx") in capsys.readouterr().out
    onnx_predictor = OnnxPredictor.from_run(run_dir)
    assert_same_answers(Predictor.from_run(run_dir), onnx_predictor, sample_covers(2))
    batch = np.concatenate([onnx_predictor.prepare(c) for c in sample_covers()])
    probs = onnx_predictor.session.run(None, {"image": batch})[0]   # any batch size
    assert probs.shape == (len(batch), 3) and np.allclose(probs.sum(1), 1, atol=1e-5)


def test_both_predictors_see_the_same_pixels():
    cover = _jpeg(render_cover("punk", seed=1, index=0))
    x = cover_input(cover, input_px=64, method="area")
    assert x.shape == (1, 3, 64, 64) and x.dtype == np.float32 and x.flags.c_contiguous
    torch_side = Predictor(build_model("custom", 2, input_px=64), class_names=("a", "b"),
                           input_px=64, method="area")
    assert np.array_equal(torch_side.prepare(cover).numpy(), x)


def test_predicting_from_onnx_never_imports_torch(shipped_onnx, tmp_path):
    cover = tmp_path / "cover.jpg"
    cover.write_bytes(sample_covers()[0])
    code = ("import sys\nfrom cover_model.service.onnx_serving import main\n"
            f"code = main([{str(shipped_onnx)!r}, {str(cover)!r}])\n"
            "assert 'torch' not in sys.modules, 'torch was imported'\nsys.exit(code)")
    done = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{cover}: ") and "%" in done.stdout


def test_a_missing_or_foreign_model_says_what_to_do(tmp_path, capsys):
    with pytest.raises(OnnxModelError, match="export-onnx"):
        OnnxPredictor.from_run(tmp_path)
    (tmp_path / "model.onnx").write_bytes(b"not a model")
    with pytest.raises(OnnxModelError, match="not a usable ONNX model"):
        OnnxPredictor.from_run(tmp_path)
    onnx = pytest.importorskip("onnx")
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Identity", ["image"], ["probabilities"])], "bare",
        [onnx.helper.make_tensor_value_info("image", onnx.TensorProto.FLOAT, [1, 3])],
        [onnx.helper.make_tensor_value_info("probabilities", onnx.TensorProto.FLOAT, [1, 3])])
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 18)])
    model.ir_version = 10
    onnx.save(model, tmp_path / "model.onnx")
    with pytest.raises(OnnxModelError, match="not exported by cover_model"):
        OnnxPredictor.from_run(tmp_path)
    from cover_model.service.onnx_serving import main as serving_main
    assert serving_main([str(tmp_path), "cover.jpg"]) == 2
    assert "error:" in capsys.readouterr().err
