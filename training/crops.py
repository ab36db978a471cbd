"""The face crops of one split, read from the cache written by training.prepare.

NumPy only: the trainer (training.train) runs where TensorFlow is not installed.
"""

from dataclasses import dataclass

import numpy as np


@dataclass
class Crops:
    """Face crops of one split (only images where a face was found)."""

    images: np.ndarray  # (N, S, S, 3) uint8
    labels: np.ndarray  # (N,) 0 real, 1 fake
    sources: np.ndarray  # (N,) source names
    paths: np.ndarray


def load_split(cache_file, split: str) -> Crops:
    """The crops of `split` ('train', 'val' or 'test') that have a face."""
    data = np.load(cache_file)
    keep = (data["splits"] == split) & data["found"]
    if not keep.any():
        raise SystemExit(f"{cache_file} holds no face crops for split {split!r}.")
    return Crops(data["images"][keep], data["labels"][keep], data["sources"][keep], data["paths"][keep])
