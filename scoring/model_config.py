"""config.json, the record that travels with a model: one typed owner for it.

The packaging step writes it (ModelConfig.save); the classifier, the heatmap
explainer, the converter, the API and the scanner read it (ModelConfig.load).
Nobody else parses the file, so a key means one thing everywhere.

This module imports nothing heavy: gunicorn's master process reads the
shipped model's path from here before TensorFlow may load.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path

SHIPPED_MODEL_DIR = Path(__file__).resolve().parent.parent / "shipped_model"  # the one definition of its path
MODEL_FILE = "deepfake_classifier.keras"
CONFIG_FILE = "config.json"
CLASS_ORDER = ("real", "fake")  # the single sigmoid output is P(fake)
# the shipped MobileNetV2's last convolutional activation (training.model names it); models whose
# config predates the heatmap_layer key are that network
DEFAULT_HEATMAP_LAYER = "features_18_relu"
# keys older configs carry that nothing reads: dropped on load, never written
RETIRED_KEYS = {
    "face_detector": "a copy of scoring.faces' detector constants; the detector reads its own",
    # no model ever shipped with it on; only false is dropped, true is refused in from_dict
    "tta_flip": "mirror-image averaging: every scorer now runs one pass per face",
}
# keys older configs carry under another name: read as the new one, written under it
RENAMED_KEYS = {
    "gpu_run": "training_run",  # the run's record, whichever device trained it (1.5.0 ran on a CPU)
}
# the order config.json lists its keys in: what a model is, how to score with it, then records
KEY_ORDER = ("name", "version", "sha256", "input_size", "input", "margin", "class_order", "output", "threshold",
             "uncertain_band", "greyscale", "heatmap_layer", "parameters", "val_metrics",
             "train_config", "training_run")
FIX_HINT = "re-run the packaging step that writes config.json, or correct the file by hand"


class ModelConfigError(ValueError):
    """config.json is missing or wrong; the message says what and how to fix it."""


@dataclass(frozen=True)
class GreyscaleRule:
    """Which face crops count as black-and-white, and the wider uncertain band they get.

    A crop is grey when the top `top_share` of its pixels spread at most
    `max_spread` levels between R, G and B (scoring.faces.colour_spread).
    """

    top_share: float
    max_spread: float
    uncertain_band: tuple[float, float]
    # what calibration measured on val faces turned grey; a record, not read when scoring
    val_auc: float | None = None
    val_real_called_fake: float | None = None
    val_uncertain_share: float | None = None

    def to_dict(self, with_records: bool = True) -> dict:
        """The JSON block; without the val records it is what a scorer reads (the extension's model-info)."""
        data = {"top_share": self.top_share, "max_spread": self.max_spread, "uncertain_band": list(self.uncertain_band)}
        for key in ("val_auc", "val_real_called_fake", "val_uncertain_share") if with_records else ():
            if getattr(self, key) is not None:
                data[key] = getattr(self, key)
        return data


@dataclass(frozen=True)
class ModelConfig:
    """Everything a reader needs to score with a model the way it was calibrated."""

    name: str
    version: str
    input_size: int  # square face crop side in pixels
    margin: float  # share of the face box added on each side before cropping
    threshold: float  # P(fake) at or above this is fake
    uncertain_band: tuple[float, float]  # [low, high): scores in here are "uncertain"
    sha256: str = ""  # of the .keras file beside it; empty skips the check
    input: str = "RGB, float32 0..255, NHWC; the model scales and ImageNet-normalises inside"
    class_order: tuple[str, ...] = CLASS_ORDER
    output: str = "P(fake), one sigmoid unit"
    # None: black-and-white faces are judged like colour ones (models before 1.4.0)
    greyscale: GreyscaleRule | None = None
    # the activation Grad-CAM heatmaps are taken from; an ensemble lists each member's (config.json: a list)
    heatmap_layer: str | tuple[str, ...] = DEFAULT_HEATMAP_LAYER
    parameters: int | None = None
    # records of how the model was made and how it scored on val: shown, never used to score
    val_metrics: dict = field(default_factory=dict)
    train_config: dict = field(default_factory=dict)
    training_run: dict | None = None  # the trainer's record: best val AUC, minutes, each epoch's figures

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        """Raise ModelConfigError naming the first wrong value."""
        for key in ("name", "version"):
            if not isinstance(getattr(self, key), str) or not getattr(self, key).strip():
                _fail(f"{key} must be a non-empty string")
        layers = self.heatmap_layer
        if not (isinstance(layers, str) or (isinstance(layers, tuple) and layers)) or not all(
                isinstance(name, str) and name.strip() for name in self.heatmap_layers):
            _fail("heatmap_layer must be a non-empty string, or for an ensemble a list of them")
        if not isinstance(self.input_size, int) or isinstance(self.input_size, bool) or not 16 <= self.input_size <= 1024:
            _fail(f"input_size is {self.input_size!r}; it must be a whole number of pixels from 16 to 1024")
        if not _number(self.margin) or not 0 <= self.margin <= 2:
            _fail(f"margin is {self.margin!r}; it must be a share of the face box from 0 to 2")
        if not _number(self.threshold) or not 0 < self.threshold < 1:
            _fail(f"threshold is {self.threshold!r}; it must lie strictly between 0 and 1")
        _check_band("uncertain_band", self.uncertain_band, self.threshold)
        if tuple(self.class_order) != CLASS_ORDER:
            _fail(f"class_order is {list(self.class_order)}; the scorers read one P(fake) output, so it must be "
                  f"{list(CLASS_ORDER)}")
        if self.sha256 and not re.fullmatch(r"[0-9a-f]{64}", self.sha256):
            _fail(f"sha256 is {self.sha256!r}; it must be 64 lowercase hex digits of the .keras file, or empty")
        if self.greyscale is not None:
            grey = self.greyscale
            if not _number(grey.top_share) or not 0 < grey.top_share <= 1:
                _fail(f"greyscale.top_share is {grey.top_share!r}; it must be a share above 0 and at most 1")
            if not _number(grey.max_spread) or not 0 <= grey.max_spread <= 255:
                _fail(f"greyscale.max_spread is {grey.max_spread!r}; it must be 0 to 255 levels")
            _check_band("greyscale.uncertain_band", grey.uncertain_band, self.threshold)

    @property
    def heatmap_layers(self) -> tuple[str, ...]:
        """Every activation the heatmap is taken from: one for a network, one a member for an ensemble."""
        return (self.heatmap_layer,) if isinstance(self.heatmap_layer, str) else self.heatmap_layer

    @property
    def greyscale_rule(self) -> GreyscaleRule:
        """The greyscale block, or the colour band under scoring.faces' grey test when there is none."""
        if self.greyscale is not None:
            return self.greyscale
        from scoring.faces import GREY_MAX_SPREAD, GREY_TOP_SHARE

        return GreyscaleRule(GREY_TOP_SHARE, GREY_MAX_SPREAD, self.uncertain_band)

    @classmethod
    def from_dict(cls, data: dict) -> ModelConfig:
        """The config from parsed JSON; ModelConfigError on a missing, unknown or wrong key."""
        if not isinstance(data, dict):
            _fail("the file must hold one JSON object")
        data = {RENAMED_KEYS.get(key, key): value for key, value in data.items()}
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known - set(RETIRED_KEYS))
        if unknown:
            _fail(f"unknown key(s) {', '.join(unknown)}; remove them, or add a field to "
                  "scoring.model_config.ModelConfig if a reader needs them")
        if data.get("tta_flip", False) is not False:  # its threshold and bands were chosen on mirror-averaged scores
            _fail(f"tta_flip is {data['tta_flip']!r}; this version scores one pass per face and no longer averages "
                  "in the mirror image, so recalibrate the model without it")
        required = [f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING]
        missing = [key for key in required if key not in data]
        if missing:
            _fail(f"it lacks {', '.join(missing)}")
        values = {key: value for key, value in data.items() if key in known}
        try:
            if isinstance(values.get("heatmap_layer"), list):
                values["heatmap_layer"] = tuple(values["heatmap_layer"])
            for key in ("uncertain_band", "class_order"):
                if key in values:
                    values[key] = tuple(values[key])
            if values.get("greyscale") is not None:
                grey = dict(values["greyscale"])
                grey["uncertain_band"] = tuple(grey.get("uncertain_band", values["uncertain_band"]))
                values["greyscale"] = GreyscaleRule(**grey)
        except TypeError as e:
            _fail(f"a value has the wrong shape ({e})")
        return cls(**values)

    def to_dict(self) -> dict:
        """The JSON object, keys in the order the shipped config.json has them."""
        data = {}
        for key in KEY_ORDER:
            value = getattr(self, key)
            if value is None:  # an optional block this model has not got
                continue
            if isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, GreyscaleRule):
                value = value.to_dict()
            data[key] = value
        return data

    @classmethod
    def load(cls, model_dir: Path | str) -> ModelConfig:
        """The config.json in model_dir; ModelConfigError saying what is wrong and how to fix it."""
        path = Path(model_dir) / CONFIG_FILE
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            raise ModelConfigError(
                f"{path} is missing; package a trained model into {Path(model_dir)} "
                f"or point the model folder at {SHIPPED_MODEL_DIR}."
            ) from None
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ModelConfigError(f"{path} is not valid JSON ({e}); {FIX_HINT}.") from None
        try:
            return cls.from_dict(data)
        except ModelConfigError as e:
            raise ModelConfigError(f"{path}: {e}") from None

    def save(self, model_dir: Path | str) -> Path:
        """Write config.json into model_dir (validated already, by construction)."""
        path = Path(model_dir) / CONFIG_FILE
        path.write_text(json.dumps(self.to_dict(), indent=2) + "\n")
        return path


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_band(key: str, band, threshold: float) -> None:
    if len(band) != 2 or not all(_number(v) for v in band) or not 0 <= band[0] <= threshold <= band[1] <= 1:
        _fail(f"{key} is {list(band)}; it must be [low, high] with 0 <= low <= threshold ({threshold}) <= high <= 1")


def _fail(problem: str):
    raise ModelConfigError(f"{problem}; {FIX_HINT}.")
