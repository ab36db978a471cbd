"""The shipped deepfake classifier: load it once, score faces, give verdicts.

Used by evaluation and the backend alike, so both score an image the same
way: scoring.faces finds and crops the faces, this module scores them.
"""

from __future__ import annotations

import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from scoring import faces as face_ops
from scoring.model_config import MODEL_FILE, SHIPPED_MODEL_DIR, ModelConfig, ModelConfigError


class ModelError(RuntimeError):
    """The model folder is missing or unusable; the message says what to fix."""


@dataclass(frozen=True)
class FaceScore:
    box: tuple[float, float, float, float]  # x, y, w, h in image pixels
    score: float  # P(fake)
    verdict: str  # fake, real or uncertain
    detector_confidence: float
    greyscale: bool = False  # black-and-white face: judged with the wider greyscale band


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


def xnnpack_interpreter(model, input_size: int, threads: int):
    """The Keras model as a LiteRT interpreter for one crop at a time.

    LiteRT's float kernels are XNNPACK's, the library TF.js' wasm backend runs
    in the extension: per face they take ~4.5 ms of CPU where TensorFlow's
    own kernels take ~12 ms (depthwise convolutions are TensorFlow's weak
    spot on CPU). Scores match the Keras model to ~1e-6. The conversion runs
    once per process, in a few seconds, from the committed .keras file, so
    there is no second copy of the weights to keep in step.
    """
    import tensorflow as tf
    from ai_edge_litert.interpreter import Interpreter

    with tempfile.TemporaryDirectory() as saved:
        model.export(saved, format="tf_saved_model", verbose=False,
                     input_signature=[tf.TensorSpec([1, input_size, input_size, 3], tf.float32)])
        flat = tf.lite.TFLiteConverter.from_saved_model(saved).convert()
    interpreter = Interpreter(model_content=flat, num_threads=threads)
    interpreter.allocate_tensors()
    return interpreter


class Classifier:
    """The Keras model and its config.json (threshold, band, input size, margin).

    Scores run on XNNPACK (xnnpack_interpreter) with `threads` threads; the
    Keras model stays in .model for heatmaps (scoring.explain) and training.
    """

    def __init__(self, model_dir: Path | str = SHIPPED_MODEL_DIR, threads: int = 1):
        model_dir = Path(model_dir)
        model_path = model_dir / MODEL_FILE
        if not model_path.is_file():
            raise ModelError(f"{model_path} is missing; point MODEL_DIR at {SHIPPED_MODEL_DIR} or at a packaged model.")
        try:
            self.config = ModelConfig.load(model_dir)
        except ModelConfigError as e:
            raise ModelError(str(e)) from None
        import keras

        self.model = keras.models.load_model(model_path, compile=False)
        self.input_size = self.config.input_size
        self.margin = self.config.margin
        self.threshold = self.config.threshold
        self.band = self.config.uncertain_band
        # black-and-white faces score less surely (every training face was in
        # colour): they get their own, wider band, chosen on val faces turned grey
        grey = self.config.greyscale_rule
        self.grey_band = grey.uncertain_band
        self.grey_top_share, self.grey_max_spread = grey.top_share, grey.max_spread
        self.name = self.config.name
        self.version = self.config.version
        self._interpreter = xnnpack_interpreter(self.model, self.input_size, threads)
        self._input = self._interpreter.get_input_details()[0]["index"]
        self._output = self._interpreter.get_output_details()[0]["index"]
        self._lock = threading.Lock()  # one interpreter, and the dev server is threaded

    def _forward(self, crop: np.ndarray) -> float:
        self._interpreter.set_tensor(self._input, crop[None])
        self._interpreter.invoke()
        return float(self._interpreter.get_tensor(self._output)[0, 0])

    def score_crops(self, crops: np.ndarray) -> np.ndarray:
        """P(fake) for a batch of N x S x S x 3 float crops in 0..255, one forward pass each."""
        crops = np.asarray(crops, np.float32)
        scores = np.zeros(len(crops), np.float32)
        with self._lock:
            for i, crop in enumerate(crops):
                scores[i] = self._forward(crop)
        return scores

    def verdict(self, score: float, greyscale: bool = False) -> str:
        return verdict_for(score, self.threshold, self.grey_band if greyscale else self.band)

    def is_greyscale(self, crop: np.ndarray) -> bool:
        """A black-and-white face crop (scoring.faces.colour_spread)."""
        return face_ops.colour_spread(crop, self.grey_top_share) <= self.grey_max_spread

    def crop(self, rgb: np.ndarray, face: face_ops.Face) -> np.ndarray:
        return face_ops.crop_face(rgb, face.box, self.margin, self.input_size)

    def score_image(self, rgb: np.ndarray, full_resolution: bool = False) -> ImageScore:
        """Detect every face and score each one.

        full_resolution=True (the backend, evaluation) also searches tiles of
        large images for small faces; False is the extension's pipeline.
        """
        found = face_ops.detect_faces(rgb, full_resolution=full_resolution)
        crops = [self.crop(rgb, f) for f in found]
        scores = self.score_crops(np.stack(crops)) if found else []
        face_scores = []
        for f, crop, s in zip(found, crops, scores):
            grey = self.is_greyscale(crop)
            face_scores.append(FaceScore(f.box, float(s), self.verdict(float(s), grey), f.confidence, grey))
        verdict, score = image_verdict(face_scores)
        return ImageScore(verdict, score, face_scores)
