"""One image's answer, as the scoring server returns it and the batch scanner writes it.

The API (backend/api.py) and the scanner (scan/) both call answer(): the same
decode, detection at full resolution, crops, scores and verdicts, and the same
JSON fields, so a scanned row and an API answer for the same image agree.
"""

from __future__ import annotations

import os
import time

import numpy as np

from scoring.classifier import Classifier, FaceScore, ImageScore
from scoring.faces import load_image


def configure_tensorflow(threads: int) -> bool:
    """Give TensorFlow `threads` threads; False when it already ran in this process (its pools are fixed)."""
    # TensorFlow's start-up chatter would drown the logs
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
    except RuntimeError:
        return False
    return True


def warm_up(classifier: Classifier) -> None:
    """Run the detector and the classifier once so the first real image is not the slow one."""
    classifier.score_image(np.zeros((64, 64, 3), np.uint8))
    classifier.score_crops(np.zeros((1, classifier.input_size, classifier.input_size, 3), np.float32))


def face_json(face: FaceScore) -> dict:
    return {
        "box": [round(v, 1) for v in face.box],
        "score": face.score,
        "verdict": face.verdict,
        "detector_confidence": round(face.detector_confidence, 4),
        "greyscale": face.greyscale,
    }


def answer(classifier: Classifier, data: bytes) -> tuple[np.ndarray, ImageScore, dict]:
    """Decode image bytes and score every face at full resolution: (rgb, result, JSON answer).

    Raises scoring.faces.ImageError (NotAnImageError for a format we do not
    read) with a sentence for the user.
    """
    started = time.perf_counter()
    rgb = load_image(data)
    result = classifier.score_image(rgb, full_resolution=True)
    out = {
        "verdict": result.verdict,
        "score": result.score,
        "faces": [face_json(f) for f in result.faces],
        "model": {"name": classifier.name, "version": classifier.version},
        "image": {"width": int(rgb.shape[1]), "height": int(rgb.shape[0])},
        "elapsed_ms": round((time.perf_counter() - started) * 1000, 1),
    }
    return rgb, result, out
