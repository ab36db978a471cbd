"""Training and validation tf.data pipelines over the face crops (training.crops)."""

import numpy as np
import tensorflow as tf

from training.augment import augment
from training.crops import Crops, source_weights


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
