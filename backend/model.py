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

from flask import current_app

from backend.config import tf_threads
from scoring.answer import configure_tensorflow, warm_up
from scoring.classifier import Classifier
from scoring.explain import GradCam


@dataclass(frozen=True)
class LoadedModel:
    classifier: Classifier
    explainer: GradCam


_lock = threading.Lock()  # the dev server is threaded; load each model once
_loaded: dict[Path, LoadedModel] = {}


def _load(model_dir: Path, threads: int, logger) -> LoadedModel:
    started = time.perf_counter()
    if not configure_tensorflow(threads):
        # tensorflow already ran in this process (tests); its thread pools are fixed by now
        logger.info("TensorFlow already initialised; keeping its thread settings")
    classifier = Classifier(model_dir, threads=threads)
    explainer = GradCam(classifier.model, classifier.config.heatmap_layer)
    warm_up(classifier)
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
