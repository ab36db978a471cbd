"""training.sharpness orders crops as an eye would: flat < blurred < the photo < noisier."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFilter

from training.sharpness import sharpness

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
    low, high = sharpness(np.stack([softer, sharper]))
    assert low < high
