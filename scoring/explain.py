"""Heatmaps of where in a face crop the classifier saw signs of a fake.

Grad-CAM (Selvaraju et al., 2017): each channel of the last convolutional
activation is weighed by the mean gradient of P(fake) with respect to it; the
weighted sum, kept where positive, is the map. It is upsampled onto the face
crop the model saw and drawn over it as a PNG.

The map is of the very crop that was scored: the score is one pass over that
crop and nothing else (no mirror image is averaged in).
"""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image

from scoring.model_config import DEFAULT_HEATMAP_LAYER

HEAT_ALPHA = 0.6  # tint at the hottest spot; the face stays visible beneath it


class GradCam:
    """Grad-CAM of P(fake) for a Keras model with one sigmoid output.

    An ensemble (training.ensemble) is explained through every member's last
    activation at once: its score moves with each member's logit, so the map
    sums each member's gradient-weighted channels, and a face that only one
    member finds fake still shows where.
    """

    def __init__(self, model, layer_names: str | tuple[str, ...] = DEFAULT_HEATMAP_LAYER):
        """layer_names: the activation(s) to explain (a model's ModelConfig.heatmap_layer)."""
        import keras

        names = (layer_names,) if isinstance(layer_names, str) else tuple(layer_names)
        layers = []
        for name in names:
            try:
                layers.append(model.get_layer(name))
            except ValueError as e:
                raise ValueError(
                    f"The model has no layer {name!r} to take heatmaps from; "
                    "set heatmap_layer in its config.json to its last convolutional activation "
                    "(for an ensemble, a list of each member's)."
                ) from e
        shapes = {tuple(layer.output.shape[1:3]) for layer in layers}
        if len(shapes) > 1:
            raise ValueError(f"The heatmap layers {list(names)} have different grids {sorted(shapes)}; "
                             "name activations of one size, such as each member's last one.")
        self._model = keras.Model(model.inputs, [*(layer.output for layer in layers), model.outputs[0]])

    def __call__(self, crops: np.ndarray) -> np.ndarray:
        """N x S x S heatmaps in 0..1 for N x S x S x 3 crops; 1 marks the strongest evidence of a fake."""
        import tensorflow as tf

        crops = np.asarray(crops, np.float32)
        x = tf.convert_to_tensor(crops)
        with tf.GradientTape() as tape:
            *activations, p_fake = self._model(x, training=False)
            p_fake = p_fake[:, 0]
        grads = tape.gradient(p_fake, activations)
        weighted = [tf.reduce_sum(tf.reduce_mean(g, axis=(1, 2), keepdims=True) * a, axis=-1)
                    for g, a in zip(grads, activations)]
        cams = tf.nn.relu(tf.add_n(weighted)).numpy()
        size = crops.shape[2], crops.shape[1]
        return np.stack([_upsample(cam, size) for cam in cams])


def _upsample(cam: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    peak = float(cam.max())
    if peak <= 0:
        # nothing in the crop pushed the score towards fake
        return np.zeros(size[::-1], np.float32)
    heat = np.asarray(Image.fromarray((cam / peak).astype(np.float32), "F").resize(size, Image.BILINEAR))
    return heat.clip(0.0, 1.0)


def overlay_png(crop: np.ndarray, heat: np.ndarray) -> bytes:
    """The crop tinted yellow where the heat is mild and red where it is strongest, as PNG."""
    heat = heat.astype(np.float32)
    colour = np.stack([np.full_like(heat, 255.0), 255.0 * (1.0 - heat), np.zeros_like(heat)], axis=-1)
    alpha = (HEAT_ALPHA * heat)[..., None]
    tinted = np.asarray(crop, np.float32) * (1.0 - alpha) + colour * alpha
    buffer = io.BytesIO()
    Image.fromarray(tinted.round().clip(0, 255).astype(np.uint8), "RGB").save(buffer, "PNG")
    return buffer.getvalue()


def png_data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")
