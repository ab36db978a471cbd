"""The classifier's architecture: folding BatchNorm for inference changes no score."""

import keras
import numpy as np
import pytest

from training.model import build_classifier, count_flops, fold_batchnorm


def trained_like(size: int, seed: int) -> keras.Model:
    """A model whose BatchNorm layers hold non-trivial statistics, as after training."""
    model = build_classifier(size)
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            n = layer.get_weights()[0].shape[0]
            layer.set_weights(
                [rng.uniform(0.5, 1.5, n), rng.normal(0, 0.2, n), rng.normal(0, 0.5, n), rng.uniform(0.2, 3.0, n)]
            )
    return model


@pytest.mark.parametrize("size, seed", [(96, 0), (160, 1)])
def test_folded_model_scores_like_the_trained_one(size, seed):
    model = trained_like(size, seed)
    folded = fold_batchnorm(model)
    x = np.random.default_rng(seed).uniform(0, 255, (4, size, size, 3)).astype(np.float32)
    assert not any(isinstance(layer, keras.layers.BatchNormalization) for layer in folded.layers)
    np.testing.assert_allclose(folded(x).numpy(), model(x, training=False).numpy(), atol=1e-5)
    assert count_flops(folded) == count_flops(model)
    assert folded.get_layer("features_18_relu")  # Grad-CAM's layer survives the fold


@pytest.mark.slow  # fits and saves a full-size network
def test_folding_a_folded_model_copies_it_without_its_optimizer(tmp_path):
    folded = fold_batchnorm(trained_like(96, 2))
    folded.compile(optimizer="adam", loss="binary_crossentropy")
    folded.fit(np.zeros((2, 96, 96, 3), np.float32), np.zeros((2, 1)), verbose=0)  # optimizer state exists
    again = fold_batchnorm(folded)
    assert all(np.array_equal(a, b) for a, b in zip(folded.get_weights(), again.get_weights()))
    folded.save(tmp_path / "compiled.keras")
    again.save(tmp_path / "copy.keras")
    # what ships holds the weights only, not Adam's two moments per weight
    assert (tmp_path / "copy.keras").stat().st_size < 0.6 * (tmp_path / "compiled.keras").stat().st_size
