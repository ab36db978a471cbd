"""The PyTorch trainer's augmentation (Pillow): each web-style degradation does its
job, as strongly as training.augment (tf) does it."""

import numpy as np
import pytest

from training.augment_pil import augment
from training.config import TrainConfig

NONE = dict(colour_prob=0.0, greyscale_prob=0.0, rescale_prob=0.0, blur_prob=0.0, jpeg_prob=0.0, sharpness_prob=0.0)


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


def unmirrored(out: np.ndarray, crop: np.ndarray) -> np.ndarray:
    """`out` the right way round: the augmentation flips at random."""
    flipped = out[:, ::-1]
    return flipped if np.abs(flipped.astype(float) - crop).mean() < np.abs(out.astype(float) - crop).mean() else out


def distance(out: np.ndarray, crop: np.ndarray) -> float:
    """Mean pixel error to the crop, whichever way the flip turned it."""
    return float(np.abs(unmirrored(out, crop).astype(float) - crop).mean())


@pytest.mark.parametrize("prob, grey_share", [(0.0, (0, 0)), (0.3, (40, 80)), (1.0, (200, 200))])
def test_greyscale_takes_the_colour_out_of_its_share_of_crops(prob, grey_share):
    crop = face_like(seed=5)
    rng = np.random.default_rng(0)
    outs = [augment(crop, TrainConfig(**dict(NONE, greyscale_prob=prob)), rng) for _ in range(200)]
    grey = sum(bool((o[..., 0] == o[..., 1]).all() and (o[..., 1] == o[..., 2]).all()) for o in outs)
    assert grey_share[0] <= grey <= grey_share[1]


def test_jpeg_quality_follows_the_configured_range():
    crop = face_like(seed=3)
    errors = {
        q: distance(augment(crop, TrainConfig(**dict(NONE, jpeg_prob=1.0, jpeg_quality=(q, q))), np.random.default_rng(0)), crop)
        for q in (30, 60, 95)
    }
    assert errors[30] > errors[60] > errors[95] > 0


# ---------------------------------------------------------------- against training.augment (TensorFlow)
# The GPU recipe (Pillow) trained 1.3.0 and the CPU recipe (tf) trained 1.0-1.2: both must
# degrade a face alike, or the two recipes would train different models from the same config.

def real_face() -> np.ndarray:
    from PIL import Image

    from harness import FIXTURES

    return np.asarray(Image.open(FIXTURES / "faces/real/lfw_faceswap_real_6304.jpg").convert("RGB").resize((160, 160)))


def tf_augmented(crop: np.ndarray, cfg: TrainConfig) -> np.ndarray:
    import tensorflow as tf

    from training.augment import augment as tf_augment

    return np.asarray(tf_augment(tf.constant(crop, tf.float32), cfg)).round().clip(0, 255)


@pytest.mark.parametrize(
    "knobs",
    [
        dict(NONE, rescale_prob=1.0, rescale_range=(0.5, 0.5)),
        dict(NONE, rescale_prob=1.0, rescale_range=(0.35, 0.35)),
        dict(NONE, blur_prob=1.0, blur_sigma=(1.0, 1.0)),
        dict(NONE, blur_prob=1.0, blur_sigma=(1.5, 1.5)),
        dict(NONE, jpeg_prob=1.0, jpeg_quality=(30, 30)),
        dict(NONE, jpeg_prob=1.0, jpeg_quality=(80, 80)),
        dict(NONE, greyscale_prob=1.0),
    ],
    ids=["rescale-0.5", "rescale-0.35", "blur-1.0", "blur-1.5", "jpeg-30", "jpeg-80", "greyscale"],
)
def test_each_degradation_is_as_strong_as_in_the_tensorflow_recipe(knobs):
    import tensorflow as tf

    tf.random.set_seed(0)
    crop, cfg = real_face(), TrainConfig(**knobs)
    ours = unmirrored(augment(crop, cfg, np.random.default_rng(0)), crop).astype(float)
    theirs = unmirrored(tf_augmented(crop, cfg), crop)
    ours_effect, their_effect = np.abs(ours - crop).mean(), np.abs(theirs - crop).mean()
    assert 0.75 < ours_effect / their_effect < 1.33, (ours_effect, their_effect)
    # the same degradation, not just as much of another: the two are nearer each other than the crop
    assert np.abs(ours - theirs).mean() < 0.6 * min(ours_effect, their_effect)


def test_colour_jitter_spreads_as_in_the_tensorflow_recipe():
    import tensorflow as tf

    tf.random.set_seed(0)
    crop, cfg, rng = real_face(), TrainConfig(**dict(NONE, colour_prob=1.0)), np.random.default_rng(0)

    def spread(outs):
        """Per draw: brightness shift, contrast ratio, mean pixel change; their spread over draws."""
        rows = np.array([
            (o.mean() - crop.mean(), o.std() / crop.std(), np.abs(o - crop).mean())
            for o in (unmirrored(o, crop).astype(float) for o in outs)
        ])
        return rows.std(0), np.abs(rows[:, 2]).mean()

    (ours_std, ours_change) = spread(augment(crop, cfg, rng) for _ in range(200))
    (their_std, their_change) = spread(tf_augmented(crop, cfg) for _ in range(200))
    np.testing.assert_allclose(ours_std, their_std, rtol=0.15)
    assert ours_change == pytest.approx(their_change, rel=0.15)
