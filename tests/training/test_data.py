"""The training data path: manifest reading, augmentation, calibration."""

import numpy as np
import pytest
import tensorflow as tf

from training.augment import augment
from training.calibrate import choose_band, choose_threshold
from training.config import TrainConfig
from training.prepare import read_manifest
from harness import FIXTURES


def test_read_manifest_makes_paths_absolute_and_keeps_splits():
    rows = read_manifest(FIXTURES / "faces" / "manifest.csv")
    assert len(rows) == 24
    assert {r["split"] for r in rows} == {"train", "val", "test"}
    assert all((FIXTURES / "faces").as_posix() in r["path"] for r in rows)


@pytest.mark.parametrize(
    "content, message",
    [
        ("path,label\nx.jpg,real\n", "needs the columns"),
        ("path,label,source,split\nx.jpg,maybe,a,train\n", "neither 'real' nor 'fake'"),
    ],
)
def test_read_manifest_refuses_bad_manifests(tmp_path, content, message):
    (tmp_path / "manifest.csv").write_text(content)
    with pytest.raises(SystemExit, match=message):
        read_manifest(tmp_path / "manifest.csv")


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_augment_keeps_shape_and_range(seed):
    tf.random.set_seed(seed)
    cfg = TrainConfig(jpeg_prob=1.0, rescale_prob=1.0, blur_prob=1.0, colour_prob=1.0)
    img = tf.random.uniform((64, 64, 3), 0, 255, seed=seed)
    out = augment(img, cfg)
    assert out.shape == (64, 64, 3)
    assert float(tf.reduce_min(out)) >= 0.0 and float(tf.reduce_max(out)) <= 255.0
    assert not np.allclose(out.numpy(), img.numpy())


@pytest.mark.parametrize(
    "labels, scores, threshold_range",
    [
        ([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9], (0.2, 0.8)),  # separable: any cut between the classes
        ([0, 0, 0, 1], [0.1, 0.3, 0.35, 0.4], (0.35, 0.4)),
    ],
)
def test_choose_threshold_separates(labels, scores, threshold_range):
    t = choose_threshold(np.array(labels), np.array(scores))
    lo, hi = threshold_range
    assert lo < t <= hi


@pytest.mark.parametrize(
    "labels, scores",
    [
        ([0, 1], [0.4909999966621399, 0.4910000026226044]),  # float32 scores next to a 4-decimal rounding
        ([0, 0, 1, 1], [0.5, 0.5, 0.5, 0.5]),  # an untrained model: every score the same
    ],
)
def test_band_holds_the_threshold_whatever_the_rounding(labels, scores):
    labels, scores = np.array(labels), np.array(scores, np.float32)
    t = choose_threshold(labels, scores)
    low, high = choose_band(labels, scores, t)
    assert low <= t <= high


def test_band_brackets_the_threshold_and_stays_small():
    rng = np.random.default_rng(0)
    labels = np.array([0] * 500 + [1] * 500)
    scores = np.clip(np.concatenate([rng.normal(0.3, 0.15, 500), rng.normal(0.7, 0.15, 500)]), 0, 1)
    t = choose_threshold(labels, scores)
    low, high = choose_band(labels, scores, t)
    assert low <= t <= high
    inside = ((scores >= low) & (scores < high)).mean()
    assert 0 < inside <= 0.16


@pytest.mark.parametrize("max_share", [0.15, 0.4])
def test_band_grows_to_the_share_it_is_allowed(max_share):
    """Overlapping classes want a wide band: it stops at max_share (0.4 for black-and-white faces)."""
    rng = np.random.default_rng(1)
    labels = np.array([0] * 500 + [1] * 500)
    scores = np.clip(np.concatenate([rng.normal(0.4, 0.2, 500), rng.normal(0.6, 0.2, 500)]), 0, 1)
    t = choose_threshold(labels, scores)
    low, high = choose_band(labels, scores, t, max_share)
    inside = ((scores >= low) & (scores < high)).mean()
    assert max_share - 0.02 <= inside <= max_share + 0.01


def test_greyscale_copies_are_pillows_black_and_white():
    from PIL import Image

    from training.calibrate import greyscale_copies

    rng = np.random.default_rng(2)
    crops = rng.integers(0, 256, (3, 8, 8, 3), dtype=np.uint8)
    grey = greyscale_copies(crops)
    assert grey.shape == crops.shape and (grey[..., 0] == grey[..., 2]).all()
    for crop, copy in zip(crops, grey):
        pillow = np.asarray(Image.fromarray(crop).convert("L"), np.float32)
        assert np.abs(copy[..., 0] - pillow).max() <= 1  # Pillow rounds its fixed-point luma


@pytest.mark.parametrize(
    "real_centre, fake_centre",
    [
        (0.3, 0.7),  # classes apart: the precision rule alone already keeps false alarms rare
        (0.45, 0.55),  # classes overlap: the band grows past MAX_BAND_SHARE instead of calling reals fake
    ],
)
def test_no_source_has_over_5_percent_of_its_reals_called_fake(real_centre, fake_centre):
    from training.calibrate import MAX_REAL_CALLED_FAKE

    rng = np.random.default_rng(3)
    # two real sources, one scored far higher (sharp studio portraits, say) than the other
    reals = {"soft": rng.normal(real_centre - 0.1, 0.1, 400), "studio": rng.normal(real_centre + 0.15, 0.1, 100)}
    scores = np.clip(np.concatenate([*reals.values(), rng.normal(fake_centre, 0.15, 500)]), 0, 1)
    labels = np.array([0] * 500 + [1] * 500)
    sources = np.array(["soft"] * 400 + ["studio"] * 100 + ["fakes"] * 500)
    t = choose_threshold(labels, scores)
    low, high = choose_band(labels, scores, t, sources=sources)
    for source in ("soft", "studio"):
        real = scores[(sources == source) & (labels == 0)]
        assert ((real >= high) & (real >= t)).mean() <= MAX_REAL_CALLED_FAKE
    # without the per-source rule the studio reals would be called fake far more often
    _, high_without = choose_band(labels, scores, t)
    studio = scores[(sources == "studio") & (labels == 0)]
    assert (studio >= max(high_without, t)).mean() > MAX_REAL_CALLED_FAKE
