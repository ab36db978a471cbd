"""Fakes made from real faces: self-blends, decoder reconstructions, and how batches draw them."""

import numpy as np
import pytest

from harness import FIXTURES
from training.config import TrainConfig

torch = pytest.importorskip("torch", reason="training extra: bash scripts/install_training.sh installs torch")


def face_crop(size=160):
    from PIL import Image

    path = next((FIXTURES / "faces").rglob("*.jpg"))
    return np.asarray(Image.open(path).convert("RGB").resize((size, size)))


def test_a_self_blend_changes_the_face_and_leaves_the_rest_of_the_crop_alone():
    from training.self_blend import self_blend

    crop = face_crop()
    changed = []
    for seed in range(20):
        fake = self_blend(crop, margin=0.25, rng=np.random.default_rng(seed))
        diff = np.abs(fake.astype(int) - crop.astype(int)).max(-1)
        centre, corners = diff[60:100, 60:100], np.concatenate([diff[:12, :12], diff[:12, -12:], diff[-12:, :12]])
        assert fake.shape == crop.shape and fake.dtype == np.uint8
        assert corners.max() <= 1  # background, hair and shoulders stay the real photo's
        changed.append(centre.mean())
    assert min(changed) > 1  # every fake's face differs from its source
    assert np.std(changed) > 0.5  # and by different amounts: blend ratio, colour, scale, shift


def test_self_blends_are_seeded():
    from training.self_blend import self_blend

    crop = face_crop()
    one, two = (self_blend(crop, 0.25, np.random.default_rng(7)) for _ in range(2))
    np.testing.assert_array_equal(one, two)
    assert not np.array_equal(one, self_blend(crop, 0.25, np.random.default_rng(8)))


@pytest.mark.parametrize("upsampler", ["nearest", "transposed", "pixel_shuffle", "bilinear"])
@pytest.mark.slow  # trains
def test_small_autoencoders_learn_to_reconstruct_faces(upsampler):
    from training.autoencoders import SmallAutoencoder, train_autoencoder

    crops = np.stack([face_crop(size=64)] * 4)
    x = torch.from_numpy(crops).permute(0, 3, 1, 2).float() / 255
    with torch.no_grad():
        untrained = (SmallAutoencoder(upsampler).eval()(x) - x).abs().mean()
    model = train_autoencoder(upsampler, crops, steps=60, seed=0, patch=32, batch_size=4)
    with torch.no_grad():
        out = model(x)
    assert out.shape == x.shape
    assert (out - x).abs().mean() < untrained / 2


def test_taef2_has_flux2s_latent_shape_and_says_where_its_weights_go(tmp_path):
    from training.taef2 import TAEF2

    model = TAEF2().eval()
    with torch.no_grad():
        latent = model.encoder(torch.rand(1, 3, 160, 160))
        out = model.decoder(latent)
    assert latent.shape == (1, 32, 20, 20)  # 32 channels at 1/8 of the side, as the weights' README says
    assert out.shape == (1, 3, 160, 160)
    with pytest.raises(SystemExit, match="--taef2-dir"):
        TAEF2.load(tmp_path)


@pytest.mark.parametrize(("leave_out", "never_drawn"), [
    ((), set()),
    (("sdfd",), {"sdfd"}),
    (("stylegan_ffhq", "genphotos"), {"stylegan_ffhq", "genphotos"}),
])
def test_batches_are_half_real_half_fake_and_never_draw_a_left_out_source(leave_out, never_drawn):
    from training.train import FAKE, REAL, item_weights

    cfg = TrainConfig(leave_out=leave_out)
    sources = np.array(["dfdc"] * 40 + ["lfw_faceswap"] * 10 + ["stylegan_ffhq"] * 10 + ["sdfd"] * 5
                       + ["genphotos"] * 5 + ["reconstruction"] * 7 + ["self_blend"] * 30)
    labels = np.array([REAL, FAKE] * 30 + [FAKE] * 47)
    w = item_weights(labels, sources, cfg)
    assert w.sum() == pytest.approx(1.0)
    assert w[labels == REAL].sum() == pytest.approx(0.5)
    for source in {"sdfd", "genphotos", "stylegan_ffhq", "self_blend", "reconstruction"}:
        drawn = w[(sources == source) & (labels == FAKE)].sum()
        assert (drawn == 0) == (source in never_drawn), source
    # the real faces of a left-out source still train: only its fakes are held out
    assert w[(sources == "stylegan_ffhq") & (labels == REAL)].sum() > 0


@pytest.mark.parametrize(("autoencoders", "kept"), [
    (("taef2", "nearest", "bilinear"), 4),
    (("taef2",), 2),
    ((), 0),
])
def test_only_the_chosen_autoencoders_reconstructions_train(tmp_path, autoencoders, kept):
    from training.train import FAKE, load_reconstructions

    path = tmp_path / "synthetic.npz"
    np.savez(path, images=np.zeros((5, 8, 8, 3), np.uint8), rows=np.arange(5),
             autoencoders=np.array(["taef2", "nearest", "taef2", "bilinear", "taef2"]),
             splits=np.array(["train"] * 4 + ["val"]), sources=np.array(["dfdc"] * 5))
    train = load_reconstructions(path, "train", autoencoders)
    assert len(train.labels) == kept and (train.labels == FAKE).all()
    assert set(train.paths.tolist()) <= set(autoencoders)
    assert load_reconstructions(tmp_path / "missing.npz", "train", autoencoders) is None
