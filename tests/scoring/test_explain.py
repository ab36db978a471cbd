"""Grad-CAM heatmaps (scoring/explain.py) on a tiny model whose evidence is known."""

from __future__ import annotations

import base64
import io

import keras
import numpy as np
import pytest
from PIL import Image

from scoring.explain import GradCam, overlay_png, png_data_url

SIZE = 32


@pytest.fixture(scope="module")
def red_means_fake():
    """P(fake) rises with red and falls with green, so red is the evidence of a fake."""
    inputs = keras.Input((SIZE, SIZE, 3))
    features = keras.layers.Conv2D(2, 1, use_bias=False, name="evidence")(inputs)
    pooled = keras.layers.GlobalAveragePooling2D()(features)
    output = keras.layers.Dense(1, activation="sigmoid", name="p_fake")(pooled)
    model = keras.Model(inputs, output)
    # channel 0 sees red, channel 1 sees green; red counts towards fake, green against
    model.get_layer("evidence").set_weights([np.array([[[[1, 0], [0, 1], [0, 0]]]], np.float32) / 255])
    model.get_layer("p_fake").set_weights([np.array([[4.0], [-4.0]], np.float32), np.zeros(1, np.float32)])
    return model


def patches(red_at: tuple[int, int], green_at: tuple[int, int]) -> np.ndarray:
    crop = np.full((SIZE, SIZE, 3), 0.0, np.float32)
    (ry, rx), (gy, gx) = red_at, green_at
    crop[ry : ry + 8, rx : rx + 8] = (255, 0, 0)
    crop[gy : gy + 8, gx : gx + 8] = (0, 255, 0)
    return crop


@pytest.mark.parametrize(("red_at", "green_at"), [((0, 0), (24, 24)), ((20, 4), (2, 22))])
def test_heatmap_marks_the_evidence_of_a_fake_and_not_the_evidence_against(red_means_fake, red_at, green_at):
    crop = patches(red_at, green_at)
    heat = GradCam(red_means_fake, "evidence")(crop[None])[0]
    assert heat.shape == (SIZE, SIZE) and heat.min() >= 0 and heat.max() == pytest.approx(1.0)
    (ry, rx), (gy, gx) = red_at, green_at
    assert heat[ry + 2 : ry + 6, rx + 2 : rx + 6].min() == pytest.approx(1.0)
    assert heat[gy : gy + 8, gx : gx + 8].max() == 0.0
    outside = np.ones((SIZE, SIZE), bool)
    outside[max(ry - 1, 0) : ry + 9, max(rx - 1, 0) : rx + 9] = False
    assert heat[outside].max() < 0.2


def test_no_evidence_of_a_fake_gives_an_empty_heatmap(red_means_fake):
    crop = patches((0, 0), (16, 16))
    crop[:8, :8] = 0  # only the green patch is left
    assert GradCam(red_means_fake, "evidence")(crop[None])[0].max() == 0.0


def test_a_model_without_the_layer_is_refused(red_means_fake):
    with pytest.raises(ValueError, match="no layer 'features_18_relu'"):
        GradCam(red_means_fake)


def test_overlay_is_a_png_of_the_crop_tinted_where_hot():
    crop = np.full((SIZE, SIZE, 3), 128, np.uint8)
    heat = np.zeros((SIZE, SIZE), np.float32)
    heat[:8, :8] = 1.0
    url = png_data_url(overlay_png(crop, heat))
    assert url.startswith("data:image/png;base64,")
    image = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))))
    assert image.shape == (SIZE, SIZE, 3)
    assert tuple(image[20, 20]) == (128, 128, 128)  # cold: the crop as it was
    red, green, blue = (int(v) for v in image[2, 2])
    assert red > 200 and green < 80 and blue < 80  # hottest: red
