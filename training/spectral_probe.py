"""Is there a generator's trace on an image's own pixel grid, and do fakes made from reals teach it?

    python -m training.spectral_probe --manifest ../shared/data/faces/manifest.csv

A linear probe, not a detector: a logistic regression on the log power
spectrum of each image's centre crop at its native resolution (no face crop,
no resize, which would erase an upsampler's periodic trace). Fit on the train
split, scored on val + test against the reals of `--reals` (default: the
source's own), one row per way of making its fakes:

- supervised: the source's own fakes against its reals (the ceiling);
- resampled: the same reals halved and upsampled again (nearest, bilinear,
  bicubic), the trace any upsampling decoder leaves;
- TAEF2: the same reals through FLUX.2's tiny autoencoder on their own grid.

A made-fake row near 0.5 where the supervised row is high says the fakes made
from reals teach nothing about that source; a supervised row near 0.5 says
its images carry no spectral trace at all. Both JPEG-compress the reals and
the made fakes alike (quality 75-95), so compression cannot stand in for the label.
"""

import argparse
import io

import numpy as np
from PIL import Image

from training.config import TrainConfig
from training.prepare import read_manifest

CROP = 256  # px of the centre crop: the smallest side of the StyleGAN images, larger than any face crop
AZIMUTHAL_BINS = 64  # radial profile, the classic GAN-spectrum feature (Durall et al., CVPR 2020)
POOLED_GRID = 16  # the 2D spectrum pooled to 16 x 16: keeps where off-axis peaks sit
UPSAMPLERS = (Image.NEAREST, Image.BILINEAR, Image.BICUBIC)


def spectrum_features(rgb: np.ndarray, crop: int = CROP) -> np.ndarray:
    """The log power spectrum of an (H, W, 3) image's centre grey crop: radial profile and pooled 2D."""
    h, w = rgb.shape[:2]
    s = min(crop, h, w) // POOLED_GRID * POOLED_GRID
    y, x = (h - s) // 2, (w - s) // 2
    grey = rgb[y:y + s, x:x + s].astype(np.float64).mean(2)
    window = np.outer(np.hanning(s), np.hanning(s))  # no edge discontinuity posing as high frequency
    power = np.log(np.abs(np.fft.fftshift(np.fft.fft2((grey - grey.mean()) * window))) ** 2 + 1e-3)
    yy, xx = np.indices(power.shape)
    radius = np.hypot(yy - s // 2, xx - s // 2).astype(int).ravel()
    profile = (np.bincount(radius, power.ravel()) / np.maximum(np.bincount(radius), 1))[: s // 2]
    radial = np.interp(np.linspace(0, len(profile) - 1, AZIMUTHAL_BINS), np.arange(len(profile)), profile)
    cell = s // POOLED_GRID
    pooled = power.reshape(POOLED_GRID, cell, POOLED_GRID, cell).mean((1, 3)).ravel()
    return np.concatenate([radial, pooled])


def jpeg(rgb: np.ndarray, rng) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=int(rng.integers(75, 96)))
    return np.asarray(Image.open(buf).convert("RGB"))


def resampled(rgb: np.ndarray, upsampler) -> np.ndarray:
    """Halved (bicubic) and brought back to its size by `upsampler`: an upsampling decoder's trace on a real image."""
    image = Image.fromarray(rgb)
    small = image.resize((image.width // 2, image.height // 2), Image.BICUBIC)
    return np.asarray(small.resize(image.size, upsampler))


def probe_auc(train_real, train_fake, test_real, test_fake) -> float:
    """AUC on the test features of a logistic regression fit on the train features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probe = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=3000))
    probe.fit(np.r_[train_real, train_fake], np.r_[np.zeros(len(train_real)), np.ones(len(train_fake))])
    scores = probe.predict_proba(np.r_[test_real, test_fake])[:, 1]
    return float(roc_auc_score(np.r_[np.zeros(len(test_real)), np.ones(len(test_fake))], scores))


def made_fakes(reals: list, how: str, taef2_dir, rng) -> tuple[np.ndarray, np.ndarray]:
    """Features of the reals and of fakes made from them, both JPEG-compressed alike."""
    if how == "taef2":
        import torch

        from training.taef2 import TAEF2

        autoencoder = TAEF2.load(taef2_dir)

        def make(rgb, i):
            h, w = (rgb.shape[0] // 8) * 8, (rgb.shape[1] // 8) * 8  # its sides are multiples of 8
            x = torch.from_numpy(rgb[:h, :w] / 255.0).permute(2, 0, 1)[None].float()
            with torch.no_grad():
                y = autoencoder(x)[0].permute(1, 2, 0).numpy()
            return (y * 255).round().clip(0, 255).astype(np.uint8)
    else:
        def make(rgb, i):
            return resampled(rgb, UPSAMPLERS[i % len(UPSAMPLERS)])
    real = [spectrum_features(jpeg(rgb, rng)) for rgb in reals]
    fake = [spectrum_features(jpeg(make(rgb, i), rng)) for i, rgb in enumerate(reals)]
    return np.stack(real), np.stack(fake)


def report(manifest, source: str, against: list, reals: list, taef2_dir, limit: int | None, seed: int = 0) -> list[tuple]:
    """(fit on, scored on, AUC) rows for `source`'s fakes and each fake-only source in `against`, vs the reals of `reals`."""
    rows = read_manifest(manifest)
    rng = np.random.default_rng(seed)

    def images(src, label, splits):
        picked = [r["path"] for r in rows if r["source"] == src and r["label"] == label and r["split"] in splits]
        return [np.asarray(Image.open(p).convert("RGB")) for p in picked[:limit]]

    train, held = ("train",), ("val", "test")
    for src, label in [*((name, "real") for name in reals), (source, "fake"), *((name, "fake") for name in against)]:
        if not any(r["source"] == src and r["label"] == label for r in rows):
            raise SystemExit(f"{manifest} has no {label} images of source {src!r}: pass --source/--against/--reals "
                             "with sources its 'source' column names.")
    features = lambda imgs: np.stack([spectrum_features(rgb) for rgb in imgs])  # noqa: E731
    test_real = features([rgb for name in reals for rgb in images(name, "real", held)])
    test_fakes = {name: features(images(name, "fake", held)) for name in [source, *against]}
    train_reals = [rgb for name in reals for rgb in images(name, "real", train)]
    out = [(f"{source} fakes vs reals (supervised)", source,
            probe_auc(features(train_reals), features(images(source, "fake", train)), test_real, test_fakes[source]))]
    for how, label in (("resampled", "reals vs the same reals halved and upsampled"),
                       ("taef2", "reals vs their TAEF2 reconstructions")):
        train_real, train_fake = made_fakes(train_reals, how, taef2_dir, rng)
        out += [(label, name, probe_auc(train_real, train_fake, test_real, test_fakes[name])) for name in test_fakes]
    return out


def main(argv=None):
    cfg = TrainConfig()
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--manifest", default=cfg.manifest, help="manifest.csv of the face data set")
    p.add_argument("--source", default="stylegan_ffhq", help="a source with both reals and fakes")
    p.add_argument("--against", nargs="*", default=["sdfd"], help="fake-only sources also scored against the reals")
    p.add_argument("--reals", nargs="*", default=None,
                   help="sources whose reals the probes are fit on and scored against (default: --source alone)")
    p.add_argument("--taef2-dir", default=cfg.taef2_dir, help="folder with taef2_encoder.pth and taef2_decoder.pth")
    p.add_argument("--limit", type=int, default=None, help="at most this many images per source, label and split group")
    a = p.parse_args(argv)
    reals = a.reals or [a.source]
    rows = report(a.manifest, a.source, a.against, reals, a.taef2_dir, a.limit)
    print("| fit on (train) | scored on (val + test) | AUC |\n|---|---|---|")
    for fit_on, scored_on, auc in rows:
        print(f"| {fit_on} | {scored_on} fakes vs the reals of {', '.join(reals)} | {auc:.3f} |")


if __name__ == "__main__":
    main()
