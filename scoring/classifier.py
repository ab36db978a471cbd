"""The shipped deepfake classifier: load it once, score faces, give verdicts.

Used by evaluation and the backend alike, so both score an image the same
way: scoring.faces finds and crops the faces, this module scores them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scoring import faces as face_ops

SHIPPED_MODEL_DIR = Path(__file__).resolve().parent.parent / "shipped_model"
MODEL_FILE = "deepfake_classifier.keras"
CONFIG_FILE = "config.json"
CLASS_ORDER = ("real", "fake")  # the single output is P(fake)


class ModelError(RuntimeError):
    """The model folder is missing or unusable; the message says what to fix."""


@dataclass(frozen=True)
class FaceScore:
    box: tuple[float, float, float, float]  # x, y, w, h in image pixels
    score: float  # P(fake)
    verdict: str  # fake, real or uncertain
    detector_confidence: float


@dataclass(frozen=True)
class ImageScore:
    verdict: str  # fake, real, uncertain or no_face
    score: float | None  # P(fake) of the most suspicious face; None with no face
    faces: list[FaceScore]


def verdict_for(score: float, threshold: float, band: tuple[float, float]) -> str:
    """'uncertain' inside the band, else fake at or above the threshold."""
    low, high = band
    if low <= score < high:
        return "uncertain"
    return "fake" if score >= threshold else "real"


def image_verdict(face_scores: list[FaceScore]) -> tuple[str, float | None]:
    """An image is as suspicious as its most suspicious face."""
    if not face_scores:
        return "no_face", None
    worst = max(face_scores, key=lambda f: f.score)
    return worst.verdict, worst.score


class Classifier:
    """The Keras model and its config.json (threshold, band, input size, margin)."""

    def __init__(self, model_dir: Path | str = SHIPPED_MODEL_DIR):
        model_dir = Path(model_dir)
        config_path, model_path = model_dir / CONFIG_FILE, model_dir / MODEL_FILE
        if not config_path.is_file() or not model_path.is_file():
            raise ModelError(
                f"{model_dir} needs {MODEL_FILE} and {CONFIG_FILE}; "
                "train one with `python -m training.train` or point MODEL_DIR at the shipped_model folder."
            )
        import keras

        self.config = json.loads(config_path.read_text())
        self.model = keras.models.load_model(model_path, compile=False)
        self.input_size = int(self.config["input_size"])
        self.margin = float(self.config["margin"])
        self.threshold = float(self.config["threshold"])
        self.band = tuple(self.config["uncertain_band"])
        self.tta_flip = bool(self.config.get("tta_flip", False))
        self.name = self.config.get("name", "deepfake-classifier")
        self.version = self.config.get("version", "0")
        import tensorflow as tf

        # a traced graph: calling a Keras 3 model eagerly walks its 150 layers
        # in Python, 8x slower than the same maths as one graph
        self._predict = tf.function(
            self._forward,
            input_signature=[tf.TensorSpec([None, self.input_size, self.input_size, 3], tf.float32)],
        )

    def _forward(self, crops):
        """P(fake) per crop; with tta_flip, averaged with the mirror image in one batch."""
        import tensorflow as tf

        if not self.tta_flip:
            return self.model(crops, training=False)[:, 0]
        n = tf.shape(crops)[0]
        p = self.model(tf.concat([crops, tf.reverse(crops, [2])], 0), training=False)[:, 0]
        return (p[:n] + p[n:]) / 2

    def score_crops(self, crops: np.ndarray) -> np.ndarray:
        """P(fake) for a batch of N x S x S x 3 float crops in 0..255."""
        crops = np.asarray(crops, np.float32)
        if len(crops) == 0:
            return np.zeros(0, np.float32)
        return self._predict(crops).numpy()

    def verdict(self, score: float) -> str:
        return verdict_for(score, self.threshold, self.band)

    def crop(self, rgb: np.ndarray, face: face_ops.Face) -> np.ndarray:
        return face_ops.crop_face(rgb, face.box, self.margin, self.input_size)

    def score_image(self, rgb: np.ndarray, full_resolution: bool = False) -> ImageScore:
        """Detect every face and score each one.

        full_resolution=True (the backend, evaluation) also searches tiles of
        large images for small faces; False is the extension's pipeline.
        """
        found = face_ops.detect_faces(rgb, full_resolution=full_resolution)
        scores = self.score_crops(np.stack([self.crop(rgb, f) for f in found])) if found else []
        face_scores = [
            FaceScore(f.box, float(s), self.verdict(float(s)), f.confidence) for f, s in zip(found, scores)
        ]
        verdict, score = image_verdict(face_scores)
        return ImageScore(verdict, score, face_scores)
