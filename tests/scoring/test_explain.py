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


@pytest.fixture(scope="module")
def two_members():
    """An ensemble's shape: member 0 calls red fake, member 1 blue, and their logits are averaged."""
    inputs = keras.Input((SIZE, SIZE, 3))
    logits = []
    for i, channel in enumerate((0, 2)):
        evidence = keras.layers.Conv2D(1, 1, use_bias=False, name=f"m{i}_evidence")
        features = evidence(inputs)
        logits.append(keras.layers.Dense(1, name=f"m{i}_logit")(keras.layers.GlobalAveragePooling2D()(features)))
        kernel = np.zeros((1, 1, 3, 1), np.float32)
        kernel[0, 0, channel, 0] = 1 / 255
        evidence.set_weights([kernel])
    output = keras.layers.Activation("sigmoid")(keras.layers.Average()(logits))
    model = keras.Model(inputs, output)
    for i in range(2):
        model.get_layer(f"m{i}_logit").set_weights([np.array([[8.0]], np.float32), np.zeros(1, np.float32)])
    return model


@pytest.mark.parametrize(("layers", "red_hot", "blue_hot"), [
    (("m0_evidence", "m1_evidence"), True, True),  # the ensemble's map: what either member found
    ("m0_evidence", True, False),  # one member's map misses what the other found
    (("m1_evidence",), False, True),
])
def test_an_ensembles_heatmap_shows_every_members_evidence(two_members, layers, red_hot, blue_hot):
    crop = np.zeros((SIZE, SIZE, 3), np.float32)
    crop[:8, :8] = (255, 0, 0)
    crop[24:, 24:] = (0, 0, 255)
    heat = GradCam(two_members, layers)(crop[None])[0]
    assert (heat[2:6, 2:6].min() > 0.5) == red_hot
    assert (heat[26:30, 26:30].min() > 0.5) == blue_hot
    assert heat[12:20, 12:20].max() < 0.2


def test_heatmap_layers_of_different_grids_are_refused():
    inputs = keras.Input((SIZE, SIZE, 3))
    full = keras.layers.Conv2D(1, 1, name="full")(inputs)
    half = keras.layers.Conv2D(1, 1, strides=2, name="half")(inputs)
    pooled = keras.layers.Concatenate()([keras.layers.GlobalAveragePooling2D()(t) for t in (full, half)])
    model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(pooled))
    with pytest.raises(ValueError, match="different grids"):
        GradCam(model, ("full", "half"))


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
