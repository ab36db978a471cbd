"""How sharp each source's face crops are: the check that explains the `sdfd` row.

    python -m training.sharpness [--split val]

Sharpness is the log of the mean absolute Laplacian of a crop's grey levels
(training.augment_pil.log_sharpness, which the trainer sets at random).
A fake source much sharper than every real face cannot be judged fairly by a
model whose reals were all softer: it reads "sharp" as "real". The last
column scores smoothness as if it were the detector: 0.5 means sharpness
says nothing about that source, near 0 that it alone sets it apart.
"""

import argparse

import numpy as np

from training.augment_pil import log_sharpness
from training.calibrate import auc_by_source
from training.config import TrainConfig
from training.crops import load_split
from training.prepare import cache_path


def main(argv=None):
    cfg = TrainConfig()
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cache", default=str(cache_path(cfg.cache_dir, cfg.image_size, cfg.margin)))
    p.add_argument("--split", default="val")
    args = p.parse_args(argv)
    crops = load_split(args.cache, args.split)
    sharp = log_sharpness(crops.images)
    smooth_as_fake = auc_by_source(crops.labels, -sharp, crops.sources)
    print("| source | class | faces | sharpness (mean) | AUC of smoothness as the fake score |")
    print("|---|---|---|---|---|")
    for source in sorted(set(crops.sources.tolist())):
        for label, name in ((0, "real"), (1, "fake")):
            m = (crops.sources == source) & (crops.labels == label)
            if m.any():
                auc = smooth_as_fake.get(f"auc_{source}") if label == 1 else None
                print(f"| {source} | {name} | {m.sum()} | {sharp[m].mean():.2f} | {'' if auc is None else f'{auc:.3f}'} |")


if __name__ == "__main__":
    main()
