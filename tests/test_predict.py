"""Predictor: a run's own preprocessing, top-k, bad inputs, Grad-CAM."""
import numpy as np
import pytest

from cover_model.data.images import ImageDecodeError
from cover_model.networks import runs
from cover_model.networks.config import TrainConfig
from cover_model.networks.predict import Predictor
from cover_model.networks.training import main

from .helpers import jpeg_bytes


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    from .helpers import make_folder_dataset
    root = tmp_path_factory.mktemp("predict")
    data = make_folder_dataset(root / "covers", {"metal": 10, "ambient": 10, "jazz": 10})
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("COVER_LAB_DATA", str(root / "data"))
        mp.setenv("COVER_LAB_CHECKPOINTS", str(root / "ckpt"))
        return main(TrainConfig(data=str(data), epochs=1, batch_size=5)), data


def test_top_k_is_ranked_and_sums_to_at_most_one(trained_run):
    run_dir, data = trained_run
    predictor = Predictor.from_run(run_dir)
    ranked = predictor.top_k(next((data / "metal").iterdir()), k=3)
    assert [g for g, _ in ranked] and len(ranked) == 3
    probs = [p for _, p in ranked]
    assert probs == sorted(probs, reverse=True) and abs(sum(probs) - 1) < 1e-5   # 3 classes


def test_bytes_paths_and_arrays_give_the_same_answer(trained_run):
    run_dir, data = trained_run
    predictor = Predictor.from_run(run_dir)
    path = next((data / "jazz").iterdir())
    from cover_model.data.images import decode_image
    by_path = predictor.probabilities(path)
    assert np.allclose(by_path, predictor.probabilities(path.read_bytes()))
    assert predictor.probabilities(decode_image(path)).shape == (3,)


def test_a_bad_upload_gets_the_decoder_error(trained_run):
    predictor = Predictor.from_run(trained_run[0])
    with pytest.raises(ImageDecodeError, match="not an image"):
        predictor.top_k(b"<html>not a cover</html>")


def test_weights_for_another_class_count_are_refused(trained_run, tmp_path):
    run_dir, _ = trained_run
    import shutil
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    config = runs.Run(copy).config()
    config["class_names"] = config["class_names"] + ["polka"]
    from cover_model.atomic_files import write_json
    write_json(copy / "config.json", config)
    with pytest.raises(runs.RunError, match="do not fit custom with 4 classes"):
        Predictor.from_run(copy)


def test_not_a_run_folder(tmp_path):
    with pytest.raises(runs.RunError, match="not a run folder"):
        Predictor.from_run(tmp_path)


def test_grad_cam_is_a_unit_map_and_releases_its_hooks(trained_run):
    predictor = Predictor.from_run(trained_run[0])
    cover = jpeg_bytes((200, 30, 30), size=(64, 64))
    heat = predictor.grad_cam(cover)
    assert heat.shape == (32, 32) and heat.dtype == np.float32
    assert 0 <= heat.min() and heat.max() <= 1
    from cover_model.networks.models import last_conv_layer
    layer = last_conv_layer(predictor.model)
    assert not layer._forward_hooks and not layer._backward_hooks


def _full_backward_grad_cam(model, layer, x, target):
    """Grad-CAM as first written: the input requires grad, gradients hooked on the way back."""
    import torch
    kept = {}
    hooks = [layer.register_forward_hook(lambda m, i, o: kept.__setitem__("a", o.detach())),
             layer.register_full_backward_hook(lambda m, gi, go: kept.__setitem__("g", go[0]))]
    try:
        with torch.enable_grad():
            logits = model.head(model.embed(x.clone().requires_grad_(True)))
            model.zero_grad(set_to_none=True)
            logits[0, target].backward()
    finally:
        for hook in hooks:
            hook.remove()
    cam = torch.relu((kept["g"].mean((2, 3), keepdim=True) * kept["a"]).sum(1, keepdim=True))
    cam = torch.nn.functional.interpolate(cam, size=x.shape[-2:], mode="bilinear", align_corners=False)[0, 0]
    return ((cam - cam.min()) / (cam.max() - cam.min())).numpy()


@pytest.mark.parametrize("arch", ["custom", "efficientnet_lite0"])
def test_one_pass_explanation_equals_top_k_and_full_grad_cam(arch, tmp_path):
    from cover_model.networks.models import build_model, last_conv_layer
    mode = "scratch" if arch == "custom" else "linear"
    model = build_model(arch, 4, input_px=64, mode=mode)
    predictor = Predictor(model, class_names="abcd", input_px=64, method="area")
    cover = np.random.default_rng(3).integers(0, 256, (96, 96, 3), dtype=np.uint8)
    answer = predictor.explain(cover, k=3)
    assert answer.top_k == predictor.top_k(cover, k=3)
    target = "abcd".index(answer.top_k[0][0])
    want = _full_backward_grad_cam(model, last_conv_layer(model), predictor.prepare(cover), target)
    assert np.allclose(answer.grad_cam, want, atol=1e-4)
    # What the head read: the same features from a forward pass alone (the Predict page
    # places a cover among the real covers with them, without a Grad-CAM pass).
    assert answer.features.shape == predictor.features(cover).shape
    assert np.allclose(answer.features, predictor.features(cover), atol=1e-5)
