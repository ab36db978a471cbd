"""The PyTorch trainer's augmentation (Pillow): each web-style degradation does its job."""

import numpy as np
import pytest

from training.augment_pil import augment
from training.config import TrainConfig

NONE = dict(colour_prob=0.0, rescale_prob=0.0, blur_prob=0.0, jpeg_prob=0.0)


def face_like(size=64, seed=0) -> np.ndarray:
    """Smooth shapes plus fine noise: blur, rescaling and JPEG each remove some of it."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    base = np.stack([200 * x, 150 * y + 50, 120 + 60 * np.sin(6 * x)], -1)
    return np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)


def high_frequency(img: np.ndarray) -> float:
    g = img.astype(np.float32).mean(-1)
    return float(np.abs(np.diff(g, axis=0)).mean() + np.abs(np.diff(g, axis=1)).mean())


@pytest.mark.parametrize(
    "knobs, softer",
    [
        (dict(NONE, rescale_prob=1.0, rescale_range=(0.35, 0.36)), True),
        (dict(NONE, blur_prob=1.0, blur_sigma=(1.4, 1.5)), True),
        (dict(NONE, jpeg_prob=1.0, jpeg_quality=(30, 31)), True),
        (dict(NONE, colour_prob=1.0), False),
    ],
    ids=["rescale", "blur", "jpeg", "colour"],
)
def test_each_degradation_changes_the_crop_and_keeps_its_shape(knobs, softer):
    crop = face_like()
    out = augment(crop, TrainConfig(**knobs), np.random.default_rng(1))
    assert out.shape == crop.shape and out.dtype == np.uint8
    assert distance(out, crop) > 1.0
    if softer:  # web re-encoding loses fine detail, it does not add it
        assert high_frequency(out) < 0.8 * high_frequency(crop)


def test_without_degradations_a_crop_is_only_mirrored_half_the_time():
    crop = face_like()
    rng = np.random.default_rng(0)
    outs = [augment(crop, TrainConfig(**NONE), rng) for _ in range(200)]
    mirrored = sum(np.array_equal(o, crop[:, ::-1]) for o in outs)
    assert all(np.array_equal(o, crop) or np.array_equal(o, crop[:, ::-1]) for o in outs)
    assert 70 < mirrored < 130


def distance(out: np.ndarray, crop: np.ndarray) -> float:
    """Mean pixel error to the crop or its mirror image, whichever the flip chose."""
    return min(np.abs(out.astype(int) - c).mean() for c in (crop, crop[:, ::-1]))


def test_jpeg_quality_follows_the_configured_range():
    crop = face_like(seed=3)
    errors = {
        q: distance(augment(crop, TrainConfig(**dict(NONE, jpeg_prob=1.0, jpeg_quality=(q, q))), np.random.default_rng(0)), crop)
        for q in (30, 60, 95)
    }
    assert errors[30] > errors[60] > errors[95] > 0
