"""The classifier and its heatmap explainer, loaded once per process.

Under gunicorn every worker builds the app, so every worker loads the model
once, at start-up, before its first request. Apps built again in the same
process (tests build one per configuration) reuse the loaded model.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from flask import current_app

from backend.config import tf_threads
from scoring.classifier import Classifier
from scoring.explain import GradCam


@dataclass(frozen=True)
class LoadedModel:
    classifier: Classifier
    explainer: GradCam


_lock = threading.Lock()  # the dev server is threaded; load each model once
_loaded: dict[Path, LoadedModel] = {}


def _configure_tensorflow(threads: int, logger) -> None:
    # TensorFlow's start-up chatter would drown the one-line-per-request log
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:
        # tensorflow already ran in this process (tests); its thread pools are fixed by now
        logger.info("TensorFlow already initialised; keeping its thread settings")


def _load(model_dir: Path, threads: int, logger) -> LoadedModel:
    started = time.perf_counter()
    _configure_tensorflow(threads, logger)
    classifier = Classifier(model_dir, threads=threads)
    explainer = GradCam(classifier.model)
    # run the detector and the classifier once so the first request is not the slow one
    classifier.score_image(np.zeros((64, 64, 3), np.uint8))
    classifier.score_crops(np.zeros((1, classifier.input_size, classifier.input_size, 3), np.float32))
    loaded = LoadedModel(classifier, explainer)
    logger.info(
        "loaded model %s %s from %s in %.1f s (pid %d, %d threads for TensorFlow and XNNPACK)",
        classifier.name, classifier.version, model_dir, time.perf_counter() - started, os.getpid(), threads,
    )
    return loaded


def init_app(app) -> None:
    """Load the model for this process (once) and attach it to the app."""
    model_dir = Path(app.config["MODEL_DIR"]).resolve()
    with _lock:
        if model_dir not in _loaded:
            _loaded[model_dir] = _load(model_dir, tf_threads(app.config), app.logger)
        app.extensions["dfd_model"] = _loaded[model_dir]


def get_classifier() -> Classifier:
    return current_app.extensions["dfd_model"].classifier


def get_explainer() -> GradCam:
    return current_app.extensions["dfd_model"].explainer
