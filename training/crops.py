"""The face crops of one split, read from the cache written by training.prepare.

NumPy only: the trainer (training.train) runs where TensorFlow is not installed.
"""

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FACES_CODE = Path(__file__).resolve().parent.parent / "scoring" / "faces.py"


@dataclass
class Crops:
    """Face crops of one split (only images where a face was found)."""

    images: np.ndarray  # (N, S, S, 3) uint8
    labels: np.ndarray  # (N,) 0 real, 1 fake
    sources: np.ndarray  # (N,) source names
    paths: np.ndarray


def face_pipeline() -> str:
    """What crops a face here: scoring/faces.py and its detector's files, hashed.

    A cache cropped by another pipeline (another detector, other passes)
    trains a network on crops the product never shows it: caches record this,
    and are cropped again when it changes.
    """
    from scoring.faces import FACE_DETECTOR_PATH  # scoring.faces imports no TensorFlow at load

    digest = hashlib.sha256(FACES_CODE.read_bytes())
    for path in sorted(FACE_DETECTOR_PATH.parent.iterdir()):
        digest.update(path.name.encode() + path.read_bytes())
    return digest.hexdigest()[:16]


def cached_pipeline(cache_file) -> str:
    """The face pipeline a cache was made by ('' for caches from before it was recorded)."""
    with np.load(cache_file) as data:
        return _recorded_pipeline(data)


def _recorded_pipeline(data) -> str:
    return str(data["pipeline"]) if "pipeline" in data.files else ""


def load_split(cache_file, split: str) -> Crops:
    """The crops of `split` ('train', 'val' or 'test') that have a face."""
    with np.load(cache_file) as data:
        if _recorded_pipeline(data) != face_pipeline():
            raise SystemExit(f"{cache_file} was cropped by another face pipeline than this checkout's "
                             "(scoring/faces.py or its detector changed): run python -m training.prepare.")
        keep = (data["splits"] == split) & data["found"]
        if not keep.any():
            raise SystemExit(f"{cache_file} holds no face crops for split {split!r}.")
        return Crops(data["images"][keep], data["labels"][keep], data["sources"][keep], data["paths"][keep])
