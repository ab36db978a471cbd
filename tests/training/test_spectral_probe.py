"""The spectral probe (training.spectral_probe) finds an upsampler's trace where there is one,
and finds none where the two classes are the same kind of image."""

import numpy as np
import pytest

from harness import FIXTURES
from training import spectral_probe


def photo_like(count: int, size: int, seed: int) -> list:
    """Colour images with a photograph's 1/f spectrum, no upsampling in their history."""
    rng = np.random.default_rng(seed)
    f = np.hypot(*np.meshgrid(np.fft.fftfreq(size), np.fft.fftfreq(size), indexing="ij"))
    amplitude = 1.0 / np.maximum(f, 1.0 / size)
    out = []
    for _ in range(count):
        noise = rng.normal(size=(3, size, size)) + 1j * rng.normal(size=(3, size, size))
        img = np.real(np.fft.ifft2(noise * amplitude)).transpose(1, 2, 0)
        img = (img - img.mean()) / img.std() * 40 + 128
        out.append(img.clip(0, 255).astype(np.uint8))
    return out


@pytest.mark.parametrize(
    ("make_fakes", "low", "high"),
    [
        pytest.param(lambda reals: [spectral_probe.resampled(r, u) for r, u in
                                    zip(reals, spectral_probe.UPSAMPLERS * len(reals))], 0.9, 1.0,
                     id="halved and upsampled: found"),
        pytest.param(lambda reals: photo_like(len(reals), 96, seed=99), 0.3, 0.7,
                     id="more of the same kind: nothing found"),
    ],
)
def test_the_probe_scores_held_out_images_by_their_spectrum(make_fakes, low, high):
    rng = np.random.default_rng(0)
    reals = photo_like(160, 96, seed=1)
    fakes = make_fakes(reals)
    features = lambda imgs: np.stack([spectral_probe.spectrum_features(spectral_probe.jpeg(i, rng)) for i in imgs])  # noqa: E731
    train_real, test_real = features(reals[:80]), features(reals[80:])
    train_fake, test_fake = features(fakes[:80]), features(fakes[80:])
    assert low <= spectral_probe.probe_auc(train_real, train_fake, test_real, test_fake) <= high


@pytest.mark.parametrize("shape", [(300, 400, 3), (90, 130, 3), (256, 256, 3)])
def test_any_image_size_gives_the_same_features(shape):
    rgb = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    features = spectral_probe.spectrum_features(rgb)
    assert features.shape == (spectral_probe.AZIMUTHAL_BINS + spectral_probe.POOLED_GRID ** 2,)
    assert np.isfinite(features).all()


def test_made_fakes_pair_each_real_with_one_made_from_it():
    reals = photo_like(6, 64, seed=2)
    real, fake = spectral_probe.made_fakes(reals, "resampled", None, np.random.default_rng(0))
    assert real.shape == fake.shape == (6, spectral_probe.AZIMUTHAL_BINS + spectral_probe.POOLED_GRID ** 2)


def test_a_source_the_manifest_lacks_says_which_to_pass():
    with pytest.raises(SystemExit, match="no fake images of source .flux.*--against"):
        spectral_probe.main(["--manifest", str(FIXTURES / "faces" / "manifest.csv"), "--against", "flux"])


def test_reals_the_manifest_lacks_say_which_to_pass():
    with pytest.raises(SystemExit, match="no real images of source 'ffhq'.*--reals"):
        spectral_probe.main(["--manifest", str(FIXTURES / "faces" / "manifest.csv"), "--reals", "dfdc", "ffhq"])
