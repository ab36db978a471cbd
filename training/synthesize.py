"""Make fakes out of real face crops once, and cache them: decoder reconstructions.

    python -m training.synthesize

Each chosen real crop (the same number from every source with real faces, so
no one source's look becomes "fake") is encoded and decoded by one
autoencoder: TAEF2 (FLUX.2's decoder, distilled) for `taef2_share` of them,
else one of the small autoencoders of training.autoencoders, trained here on
train's real crops first. The fake differs from its real twin only in the
decoder's traces. Writes `synthetic_<size>_m<margin>.npz` beside the crop
cache; seeded, so every machine makes the same set. Self-blended
fakes (training.self_blend) are cheap and made on the fly instead.
"""

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from training.autoencoders import UPSAMPLERS, train_autoencoder
from training.config import TrainConfig
from training.crops import cached_pipeline
from training.prepare import cache_path
from training.taef2 import TAEF2

BATCH = 32


def synthetic_path(crop_cache) -> Path:
    """Where the reconstructions of a crop cache's real faces go: beside it."""
    crop_cache = Path(crop_cache)
    return crop_cache.with_name("synthetic_" + crop_cache.name.removeprefix("crops_"))


def made_from(synthetic, crop_cache) -> bool:
    """Whether the reconstructions at `synthetic` were made from crops of the same face pipeline as `crop_cache`'s."""
    return cached_pipeline(synthetic) == cached_pipeline(crop_cache)


def choose_reals(splits, labels, sources, found, split: str, count: int, rng) -> np.ndarray:
    """Row indices of `count` real crops of `split`, as many from each source with reals as it has."""
    pools = {s: np.flatnonzero((splits == split) & (labels == 0) & found & (sources == s))
             for s in sorted(set(sources[(labels == 0) & found].tolist()))}
    per_source = count // max(len(pools), 1)
    chosen = [rng.choice(rows, min(per_source, len(rows)), replace=False) for rows in pools.values()]
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, int)


@torch.no_grad()
def reconstruct(model, crops: np.ndarray) -> np.ndarray:
    out = []
    for start in range(0, len(crops), BATCH):
        x = torch.from_numpy(np.ascontiguousarray(crops[start:start + BATCH])).permute(0, 3, 1, 2).float() / 255
        out.append((model(x) * 255).round().byte().permute(0, 2, 3, 1).numpy())
    return np.concatenate(out) if out else np.zeros((0,) + crops.shape[1:], np.uint8)


def synthesize(cfg: TrainConfig, crop_cache, taef2_dir, counts: dict, out: Path) -> Path:
    rng = np.random.default_rng(cfg.seed)
    torch.manual_seed(cfg.seed)
    data = np.load(crop_cache)
    images, labels, sources, splits, found = (data[k] for k in ("images", "labels", "sources", "splits", "found"))
    rows = {split: choose_reals(splits, labels, sources, found, split, n, rng) for split, n in counts.items()}
    models = {"taef2": TAEF2.load(taef2_dir)} if cfg.taef2_share else {}
    train_reals = images[np.flatnonzero((splits == "train") & (labels == 0) & found)]
    for i, kind in enumerate(UPSAMPLERS):
        started = time.time()
        models[kind] = train_autoencoder(kind, train_reals, cfg.autoencoder_steps, cfg.seed + i)
        print(f"autoencoder {kind}: L1 {models[kind].final_loss * 255:.1f} levels, {time.time() - started:.0f} s")
    kinds = ["taef2"] + list(UPSAMPLERS)
    shares = [cfg.taef2_share] + [(1 - cfg.taef2_share) / len(UPSAMPLERS)] * len(UPSAMPLERS)
    all_rows = np.concatenate(list(rows.values()))
    made_by = rng.choice(len(kinds), len(all_rows), p=np.array(shares) / sum(shares))
    fakes = np.zeros((len(all_rows),) + images.shape[1:], np.uint8)
    for k, kind in enumerate(kinds):
        started, pick = time.time(), np.flatnonzero(made_by == k)
        if not len(pick):
            continue
        fakes[pick] = reconstruct(models[kind], images[all_rows[pick]])
        print(f"{kind}: {len(pick)} reconstructions in {time.time() - started:.0f} s")
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez(out, images=fakes, rows=all_rows, autoencoders=np.array(kinds)[made_by],
             splits=splits[all_rows], sources=sources[all_rows], pipeline=np.array(cached_pipeline(crop_cache)))
    print(f"{len(all_rows)} reconstructions in {out}")
    return out


def main(argv=None):
    cfg = TrainConfig()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cache", default=str(cache_path(cfg.cache_dir, cfg.image_size, cfg.margin)),
                   help="face crops from training.prepare")
    p.add_argument("--taef2-dir", default=cfg.taef2_dir, help="folder with taef2_encoder.pth and taef2_decoder.pth")
    p.add_argument("--train", type=int, default=cfg.reconstructions_train, help="train reals to reconstruct")
    p.add_argument("--val", type=int, default=cfg.reconstructions_val, help="val reals to reconstruct")
    p.add_argument("--taef2-share", type=float, default=cfg.taef2_share,
                   help="share of the reconstructions made by TAEF2 (0: the small autoencoders only)")
    p.add_argument("--autoencoder-steps", type=int, default=cfg.autoencoder_steps,
                   help="training steps of each small autoencoder")
    p.add_argument("--force", action="store_true", help="make them again even if the cache exists")
    a = p.parse_args(argv)
    cfg.taef2_share, cfg.autoencoder_steps = a.taef2_share, a.autoencoder_steps
    out = synthetic_path(a.cache)
    if not Path(a.cache).is_file():
        raise SystemExit(f"No face crops at {a.cache}: run python -m training.prepare first.")
    if out.is_file() and not a.force:
        if made_from(out, a.cache):
            print(f"{out} exists: reconstructions kept (--force makes them again)")
            return
        print(f"{out} was made from other face crops than {a.cache}'s: making them again")
    synthesize(cfg, a.cache, a.taef2_dir, {"train": a.train, "val": a.val}, out)


if __name__ == "__main__":
    main()
