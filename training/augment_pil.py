"""training.augment's web-style degradations in Pillow and NumPy, for the PyTorch
trainer's loader workers (training.train), where TensorFlow is not installed.

Same steps, order and ranges as training.augment (TrainConfig's knobs):
flip, colour jitter, greyscale, down- and up-scaling, Gaussian blur, JPEG
re-encoding; one step training.augment lacks (off unless `sharpness_prob`):
the face's sharpness set to a level drawn at random, so that how sharp a face
is cannot stand in for its label.
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


SHARPEN_MAX = 8.0  # most unsharp-mask gain: a soft, blocky DFDC crop amplified further is noise


def _log_mean_abs_laplacian(grey: np.ndarray) -> np.ndarray:
    """log mean |Laplacian| over the last two axes of grey levels (..., H, W)."""
    lap = (4 * grey[..., 1:-1, 1:-1] - grey[..., :-2, 1:-1] - grey[..., 2:, 1:-1]
           - grey[..., 1:-1, :-2] - grey[..., 1:-1, 2:])
    return np.log(np.abs(lap).mean((-2, -1)) + 1e-6)


def log_sharpness(images: np.ndarray) -> np.ndarray:
    """How sharp each uint8 (..., S, S, 3) crop is: log mean |Laplacian| of its grey levels.

    One crop gives a 0-d array; training.sharpness reports it by source.
    """
    return _log_mean_abs_laplacian(np.asarray(images, np.float32).mean(-1))


def set_sharpness(img: Image.Image, target: float) -> Image.Image:
    """The image unsharp-masked or blurred until its sharpness is as near `target` as it goes.

    Every fake the training sources hold or make is as soft as its real twin or
    softer, while diffusion portraits are sharper than any real face here: a
    model left to it learns "sharp means real" (training/EXPERIMENTS.md).
    Both moves are x + a * (blurred - x), linear in a (a < 0 sharpens), so the
    gain is found by bisection on the grey levels and applied once.
    """
    x = np.asarray(img, np.float32)
    if target > log_sharpness(x):
        detail, lo, hi = np.asarray(img.filter(ImageFilter.GaussianBlur(1.0)), np.float32) - x, -SHARPEN_MAX, 0.0
    else:
        detail, lo, hi = np.asarray(img.filter(ImageFilter.GaussianBlur(2.5)), np.float32) - x, 0.0, 1.0
    grey, grey_detail = x.mean(-1), detail.mean(-1)
    for _ in range(12):  # sharpness falls as a grows
        a = (lo + hi) / 2
        if _log_mean_abs_laplacian(grey + a * grey_detail) > target:
            lo = a
        else:
            hi = a
    return Image.fromarray(np.clip(x + (lo + hi) / 2 * detail, 0, 255).round().astype(np.uint8))


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
    if cfg.sharpness_prob and rng.random() < cfg.sharpness_prob:
        img = set_sharpness(img, rng.uniform(*cfg.sharpness_range))
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
