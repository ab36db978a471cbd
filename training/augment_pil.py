"""training.augment's web-style degradations in Pillow and NumPy, for the PyTorch
trainer's loader workers (training.train), where TensorFlow is not installed.

Same steps, order and ranges as training.augment (TrainConfig's knobs):
flip, colour jitter, greyscale, down- and up-scaling, Gaussian blur, JPEG
re-encoding.
"""

import io

import numpy as np
from PIL import Image, ImageFilter, ImageOps

from training.config import TrainConfig


def _colour(img: Image.Image, rng: np.random.Generator) -> Image.Image:
    """Brightness, contrast, saturation and hue, in the ranges training.augment uses."""
    x = np.asarray(img, np.float32) / 255.0
    x = x + rng.uniform(-0.1, 0.1)
    mean = x.mean((0, 1), keepdims=True)
    x = (x - mean) * rng.uniform(0.8, 1.2) + mean
    grey = (x @ np.array([0.299, 0.587, 0.114], np.float32))[..., None]
    x = grey + (x - grey) * rng.uniform(0.75, 1.25)
    img = Image.fromarray((np.clip(x, 0, 1) * 255).round().astype(np.uint8))
    h, s, v = img.convert("HSV").split()
    shift = int(round(rng.uniform(-0.03, 0.03) * 255))
    h = h.point(lambda p: (p + shift) % 256)
    return Image.merge("HSV", (h, s, v)).convert("RGB")


def augment(crop: np.ndarray, cfg: TrainConfig, rng: np.random.Generator) -> np.ndarray:
    """training.augment's web-style degradations, in its order, on one uint8 crop."""
    img = Image.fromarray(crop)
    size = img.width
    if rng.random() < 0.5:
        img = ImageOps.mirror(img)
    if rng.random() < cfg.colour_prob:
        img = _colour(img, rng)
    if cfg.greyscale_prob and rng.random() < cfg.greyscale_prob:
        img = img.convert("L").convert("RGB")
    if rng.random() < cfg.rescale_prob:
        small = max(int(size * rng.uniform(*cfg.rescale_range)), 16)
        img = img.resize((small, small), Image.BOX).resize((size, size), Image.BILINEAR)
    if rng.random() < cfg.blur_prob:
        img = img.filter(ImageFilter.GaussianBlur(rng.uniform(*cfg.blur_sigma)))
    if rng.random() < cfg.jpeg_prob:
        buf = io.BytesIO()
        img.save(buf, "JPEG", quality=int(rng.integers(cfg.jpeg_quality[0], cfg.jpeg_quality[1] + 1)))
        img = Image.open(buf).convert("RGB")
    return np.asarray(img)
