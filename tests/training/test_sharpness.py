"""Sharpness (training.augment_pil.log_sharpness) orders crops as an eye would: flat < blurred < the photo < noisier."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from training.augment_pil import augment, log_sharpness, set_sharpness
from training.config import TrainConfig

PHOTO = np.asarray(Image.open(Path(__file__).parents[1] / "fixtures" / "photos" / "portrait_grace_hopper.jpg").convert("RGB").resize((160, 160)))


def _blur(x, sigma):
    return np.asarray(Image.fromarray(x).filter(ImageFilter.GaussianBlur(sigma)))


@pytest.mark.parametrize(
    "softer, sharper",
    [
        (np.full_like(PHOTO, 128), _blur(PHOTO, 2.0)),
        (_blur(PHOTO, 2.0), _blur(PHOTO, 0.7)),
        (_blur(PHOTO, 0.7), PHOTO),
        (PHOTO, np.clip(PHOTO + np.random.default_rng(0).normal(0, 12, PHOTO.shape), 0, 255).astype(np.uint8)),
    ],
    ids=["flat-vs-blurred", "blur2-vs-blur0.7", "blur0.7-vs-photo", "photo-vs-noisy"],
)
def test_sharper_crop_scores_higher(softer, sharper):
    low, high = log_sharpness(np.stack([softer, sharper]))
    assert low < high


# ---------------------------------------------------------------- the augmentation that sets it


NO_OTHER_STEPS = dict(colour_prob=0.0, greyscale_prob=0.0, rescale_prob=0.0, blur_prob=0.0, jpeg_prob=0.0)


@pytest.mark.parametrize(
    "start, target",
    [
        (_blur(PHOTO, 1.5), 2.6),  # a soft real face made as sharp as a diffusion portrait
        (PHOTO, 3.2),
        (PHOTO, 1.5),  # a sharp one made as soft as a DFDC frame
        (_blur(PHOTO, 0.7), 1.2),
    ],
    ids=["soft-up", "photo-up", "photo-down", "blurred-down"],
)
def test_set_sharpness_reaches_the_level_asked_for(start, target):
    out = np.asarray(set_sharpness(Image.fromarray(start), target))
    assert out.shape == start.shape and out.dtype == np.uint8
    assert abs(log_sharpness(out) - target) < 0.1
    assert abs(log_sharpness(out) - target) < abs(log_sharpness(start) - target)


def test_with_sharpness_set_real_and_fake_cannot_be_told_apart_by_it():
    """A soft fake and a sharp real come out of the augmentation equally sharp on average."""
    cfg = TrainConfig(**NO_OTHER_STEPS, sharpness_prob=1.0, sharpness_range=(1.6, 3.0))
    rng = np.random.default_rng(0)
    soft, sharp = _blur(PHOTO, 1.5), PHOTO
    assert log_sharpness(sharp) - log_sharpness(soft) > 0.8
    after = {name: np.mean([log_sharpness(augment(x, cfg, rng)) for _ in range(40)]) for name, x in (("soft", soft), ("sharp", sharp))}
    assert abs(after["soft"] - after["sharp"]) < 0.15
