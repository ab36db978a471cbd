"""Training and validation datasets from the crop cache written by training.prepare."""

from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from training.augment import augment


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


def source_weights(sources: np.ndarray, wanted: dict) -> dict:
    """Sampling weight per source present; sources not named share the rest."""
    present = sorted(set(sources.tolist()))
    named = {s: wanted[s] for s in present if s in wanted}
    rest = [s for s in present if s not in wanted]
    spare = max(1.0 - sum(named.values()), 0.0)
    for s in rest:
        named[s] = spare / len(rest) if spare else 1.0 / len(present)
    total = sum(named.values())
    return {s: w / total for s, w in named.items()}


def train_dataset(crops: Crops, cfg) -> tf.data.Dataset:
    """Endless, source-balanced, augmented batches of (image float 0..255, label)."""
    weights = source_weights(crops.sources, cfg.source_weights)
    images = tf.constant(crops.images)
    labels = tf.constant(crops.labels.astype(np.float32))
    per_source = []
    for i, source in enumerate(sorted(weights)):
        idx = np.flatnonzero(crops.sources == source)
        per_source.append(
            tf.data.Dataset.from_tensor_slices(idx).repeat().shuffle(len(idx), seed=cfg.seed + i)
        )
    ds = tf.data.Dataset.sample_from_datasets(
        per_source, weights=[weights[s] for s in sorted(weights)], seed=cfg.seed
    )

    def load(i):
        img = augment(tf.cast(tf.gather(images, i), tf.float32), cfg)
        return img, tf.gather(labels, i)

    return ds.map(load, num_parallel_calls=tf.data.AUTOTUNE).batch(cfg.batch_size).prefetch(2)


def eval_dataset(crops: Crops, batch_size: int) -> tf.data.Dataset:
    """Un-augmented batches in order, for validation and scoring."""
    ds = tf.data.Dataset.from_tensor_slices((crops.images, crops.labels.astype(np.float32)))
    return ds.map(lambda x, y: (tf.cast(x, tf.float32), y)).batch(batch_size).prefetch(2)
