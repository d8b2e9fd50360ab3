"""Networks: every architecture builds at its sizes; weights load offline or fail clearly."""
import pickle

import numpy as np
import pytest
import torch

from cover_model.networks.archs import ARCHS
from cover_model.networks.models import WeightsError, build_model, last_conv_layer


@pytest.mark.parametrize("size", [32, 35, 70, 100])
def test_custom_cnn_adapts_to_the_input_grid(size):
    net = build_model("custom", n_classes=10, input_px=size)
    assert net(torch.rand(2, 3, size, size)).shape == (2, 10)


@pytest.mark.parametrize("arch, size", [("alexnet", 32), ("alexnet", 96), ("resnet18", 32),
                                        ("efficientnet_lite0", 64)])
def test_scratch_networks_accept_small_inputs(arch, size):
    net = build_model(arch, n_classes=4, input_px=size, mode="scratch")
    assert net(torch.rand(2, 3, size, size)).shape == (2, 4)


def test_linear_mode_freezes_the_backbone_only():
    net = build_model("efficientnet_lite0", n_classes=5, input_px=224, mode="linear")
    assert not any(p.requires_grad for p in net.backbone.parameters())
    assert all(p.requires_grad for p in net.head.parameters())


def test_custom_cnn_has_no_pretrained_mode():
    with pytest.raises(ValueError, match="mode 'scratch'"):
        build_model("custom", n_classes=3, input_px=32, mode="linear")


def test_unknown_names_are_refused():
    with pytest.raises(ValueError, match="unknown network 'vgg'"):
        build_model("vgg", n_classes=3, input_px=32)
    with pytest.raises(ValueError, match="unknown mode"):
        build_model("resnet18", n_classes=3, input_px=32, mode="frozen")


def test_missing_torchvision_weights_say_which_file_and_where(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    with pytest.raises(WeightsError) as info:
        build_model("resnet18", n_classes=3, input_px=224, mode="linear")
    message = str(info.value)
    assert "resnet18-f37072fd.pth" in message and str(tmp_path / "torch" / "hub" / "checkpoints") in message
    assert "https://download.pytorch.org/models/resnet18-f37072fd.pth" in message


def test_torchvision_weights_load_from_the_hub_cache_and_from_a_path(tmp_path, monkeypatch):
    import torchvision
    reference = torchvision.models.resnet18(weights=None)
    hub = tmp_path / "torch" / "hub" / "checkpoints"
    hub.mkdir(parents=True)
    torch.save(reference.state_dict(), hub / "resnet18-f37072fd.pth")
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    from_cache = build_model("resnet18", n_classes=3, input_px=224, mode="linear")
    assert torch.equal(from_cache.backbone.conv1.weight, reference.conv1.weight)
    from_path = build_model("resnet18", n_classes=3, input_px=224, mode="finetune",
                            weights_path=hub / "resnet18-f37072fd.pth")
    assert torch.equal(from_path.backbone.layer4[1].conv2.weight, reference.layer4[1].conv2.weight)


def test_a_pickle_that_runs_code_is_refused_as_weights(tmp_path):
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            import os
            return (os.system, (f"touch {marker}",))

    evil = tmp_path / "evil.pth"
    evil.write_bytes(pickle.dumps({"conv1.weight": Exploit()}))
    with pytest.raises(WeightsError, match="not a usable tensors-only weights file"):
        build_model("resnet18", n_classes=3, input_px=224, mode="linear", weights_path=evil)
    assert not marker.exists()


def test_efficientnet_lite_weights_are_the_real_imagenet_ones():
    """The bundled sample photo of a Chinese palace must look like one to lite0."""
    import cv2
    from sklearn.datasets import load_sample_image

    from cover_model.networks.models import _lite_weight_file, _load_state_dict
    net = build_model("efficientnet_lite0", n_classes=1000, input_px=224, mode="linear").eval()
    original = _load_state_dict(_lite_weight_file("efficientnet_lite0"))
    net.head[1].load_state_dict({"weight": original["_fc.weight"], "bias": original["_fc.bias"]})
    photo = load_sample_image("china.jpg")
    side = min(photo.shape[:2])
    top, left = (photo.shape[0] - side) // 2, (photo.shape[1] - side) // 2
    crop = cv2.resize(photo[top:top + side, left:left + side], (224, 224), interpolation=cv2.INTER_AREA)
    with torch.no_grad():
        probs = net(torch.from_numpy(crop).permute(2, 0, 1)[None].float() / 255).softmax(1)[0]
    import torchvision
    categories = torchvision.models.ResNet18_Weights.IMAGENET1K_V1.meta["categories"]
    top5 = {categories[i] for i in probs.topk(5).indices}
    assert top5 & {"palace", "monastery", "bell cote", "castle", "church"}, top5


@pytest.mark.parametrize("arch", sorted(ARCHS))
def test_every_network_has_a_conv_layer_for_grad_cam(arch):
    net = build_model(arch, n_classes=3, input_px=64, mode="scratch")
    assert isinstance(last_conv_layer(net), torch.nn.Conv2d)


def test_an_ensemble_concatenates_its_members_features_and_explains_with_each():
    import numpy as np
    from cover_model.networks.models import last_conv_layers
    from cover_model.networks.predict import Predictor
    net = build_model("efficientnet_lite012", n_classes=3, input_px=64, mode="linear").eval()
    members = [build_model(f"efficientnet_lite{i}", n_classes=3, input_px=64, mode="linear").eval()
               for i in range(3)]
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.allclose(net.embed(x), torch.cat([m.embed(x) for m in members], 1), atol=1e-5)
    assert len(last_conv_layers(net)) == 3
    cover = np.random.default_rng(0).integers(0, 256, (80, 80, 3), dtype=np.uint8)
    answer = Predictor(net, class_names="abc", input_px=64, method="area").explain(cover)
    assert answer.grad_cam.shape == (64, 64) and 0 <= answer.grad_cam.min() <= answer.grad_cam.max() <= 1
