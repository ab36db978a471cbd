"""Export the shipped model for the browser.

export(model_dir, out_dir, quantize) writes, into out_dir:
  classifier/model.json + shards   the Keras classifier as a TF.js graph model
  face_detector/                    BlazeFace, already TF.js: copied as it is
  model-info.json                   every constant the browser needs, read from
                                    config.json and scoring.faces

The browser reads these values from model-info.json and from nowhere else.
The output depends only on its inputs (no timestamps, fixed key order), so a
test can compare the committed extension/model/ with a fresh export.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

from converter.fold_pads import fold_zero_pads
from scoring import faces
from scoring.model_config import MODEL_FILE, SHIPPED_MODEL_DIR, ModelConfig, ModelConfigError

REPO = Path(__file__).resolve().parent.parent
DEFAULT_MODEL_DIR = SHIPPED_MODEL_DIR
DEFAULT_OUT_DIR = REPO / "extension" / "model"
# the browser code (extension/src/lib/scorer.js MODEL_INFO_FORMAT) reads this layout
MODEL_INFO_FORMAT = 1
MODEL_INFO_FILE = "model-info.json"
CLASSIFIER_DIR = "classifier"
DETECTOR_DIR = "face_detector"
# weight dtype each --quantize option stores (TF.js dequantizes to float32 on load)
QUANTIZE_OPTIONS = {"none": None, "float16": "float16", "uint8": "uint8"}
# the smallest option whose scores stay within 0.01 of float32 Keras on the
# parity fixtures; measured in converter/QUANTIZATION.md
DEFAULT_QUANTIZE = "float16"  # model 1.5.0: float16 drifts 0.0056, uint8 0.75 (1.4.0: 0.0089; 1.1.0-1.2.0: float16 0.022, so float32)
# 4 MB shards: few enough requests, small enough for any cache
SHARD_BYTES = 4 * 1024 * 1024
# an unquantized export must reproduce Keras to float32 rounding; more means a
# broken conversion, not drift
FLOAT32_TOLERANCE = 1e-4


class ConverterError(RuntimeError):
    """The converter cannot run on its input; the message says what to fix."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_inputs(model_dir: Path) -> tuple[Path, ModelConfig]:
    """The .keras path and config of model_dir, or ConverterError saying what is wrong."""
    model_dir = Path(model_dir)
    package_hint = f"package a trained model there or pass --model-dir {SHIPPED_MODEL_DIR}"
    if not model_dir.is_dir():
        raise ConverterError(f"Model folder {model_dir} does not exist; {package_hint}.")
    model_path = model_dir / MODEL_FILE
    if not model_path.is_file():
        raise ConverterError(f"{model_path} is missing; {package_hint}.")
    if not zipfile.is_zipfile(model_path):
        raise ConverterError(
            f"{model_path} is not a Keras model (a .keras file is a zip archive); "
            f"save the model with keras `model.save('{MODEL_FILE}')`."
        )
    try:
        config = ModelConfig.load(model_dir)
    except ModelConfigError as e:
        raise ConverterError(str(e)) from None
    if config.sha256 and config.sha256 != sha256_of(model_path):
        raise ConverterError(
            f"The config.json in {model_dir} describes another model than {model_path} (sha256 differs); "
            "copy the pair from the same packaging run."
        )
    return model_path, config


def load_keras(model_path: Path):
    import keras

    try:
        return keras.models.load_model(model_path, compile=False)
    except Exception as e:  # keras raises many types for a bad archive
        raise ConverterError(
            f"{model_path} is not a Keras model keras can load ({type(e).__name__}: {e}); "
            "re-save it with keras 3 `model.save()`."
        ) from e


def convert_classifier(model, out_dir: Path, quantize: str) -> None:
    """Keras model -> SavedModel -> TF.js graph model in out_dir."""
    from tensorflowjs.converters import convert_tf_saved_model

    dtype = QUANTIZE_OPTIONS[quantize]
    with tempfile.TemporaryDirectory() as tmp:
        saved = Path(tmp) / "saved_model"
        model.export(str(saved), format="tf_saved_model", verbose=False)
        convert_tf_saved_model(
            str(saved),
            str(out_dir),
            quantization_dtype_map={dtype: "*"} if dtype else None,
            weight_shard_size_bytes=SHARD_BYTES,
        )
    fold_zero_pads(out_dir, SHARD_BYTES)
    # the converter writes protobuf maps (node attrs) in no fixed order; sorted
    # keys make the same model give the same bytes
    model_json = out_dir / "model.json"
    model_json.write_text(json.dumps(json.loads(model_json.read_text()), sort_keys=True, separators=(",", ":")))


def detector_files() -> list[Path]:
    """BlazeFace's model.json, its weight files and its licence."""
    spec = json.loads(faces.FACE_DETECTOR_PATH.read_text())
    folder = faces.FACE_DETECTOR_PATH.parent
    shards = [folder / p for group in spec["weightsManifest"] for p in group["paths"]]
    return [faces.FACE_DETECTOR_PATH, *shards, folder / "LICENSE"]


def model_info(config: ModelConfig, sha256: str, quantize: str, classifier_json: dict) -> dict:
    """Everything the browser needs to score like scoring.classifier.Classifier."""
    detector_spec = json.loads(faces.FACE_DETECTOR_PATH.read_text())
    signature = classifier_json["signature"]
    return {
        "format": MODEL_INFO_FORMAT,
        "name": config.name,
        "version": config.version,
        "sha256": sha256,
        "source": MODEL_FILE,
        "quantization": quantize,
        "model": f"{CLASSIFIER_DIR}/model.json",
        "input_size": config.input_size,
        "input": config.input,
        "input_names": sorted(signature["inputs"]),
        "output_names": sorted(signature["outputs"]),
        "class_order": list(config.class_order),
        "output": config.output,
        "margin": float(config.margin),
        "threshold": float(config.threshold),
        "uncertain_band": [float(v) for v in config.uncertain_band],
        # black-and-white faces: which crops count, and their own band (what scoring reads, no val records)
        "greyscale": config.greyscale_rule.to_dict(with_records=False),
        "face_detector": {
            "model": f"{DETECTOR_DIR}/{faces.FACE_DETECTOR_PATH.name}",
            "input_size": faces.DETECTOR_INPUT,
            # x / input_divisor - input_offset
            "input_divisor": faces.DETECTOR_NORM[0],
            "input_offset": faces.DETECTOR_NORM[1],
            "output_names": sorted(detector_spec["userDefinedMetadata"]["signature"]["outputs"]),
            "nms_iou": faces.NMS_IOU,
            "max_faces": faces.MAX_FACES,
            "min_face_px": faces.MIN_FACE_PX,
            "passes": [
                {"fill": fill, "min_score": score, "min_face_share": share}
                for fill, score, share in faces.DETECTION_PASSES
            ],
            # anchor centres in detector pixels, in output row order
            "anchors": faces._anchors().tolist(),
        },
        "resize": {
            "halve_at": faces.HALVE_AT,
            # tf.image.resize(method="bilinear") in TF 2, as scoring.faces calls it
            "align_corners": False,
            "half_pixel_centers": True,
        },
        "rounding": "half up: floor(v + 0.5), as JavaScript's Math.round",
    }


def write_json(path: Path, data: dict) -> None:
    """Indented JSON with the long anchor list on one line, so diffs stay readable."""
    anchors = data["face_detector"]["anchors"]
    marker = "@ANCHORS@"
    text = json.dumps({**data, "face_detector": {**data["face_detector"], "anchors": marker}}, indent=2)
    text = text.replace(f'"{marker}"', json.dumps(anchors, separators=(",", ":")))
    path.write_text(text + "\n")


def dequantized_copy(model_dir: Path, dest: Path) -> Path:
    """A float32 copy of a (possibly quantized) graph model, weights as TF.js reads them."""
    import numpy as np
    from tensorflowjs.read_weights import read_weights
    from tensorflowjs.write_weights import write_weights

    spec = json.loads((model_dir / "model.json").read_text())
    groups = read_weights(spec["weightsManifest"], str(model_dir))
    groups = [[{"name": w["name"], "data": np.asarray(w["data"])} for w in g] for g in groups]
    dest.mkdir(parents=True)
    spec["weightsManifest"] = write_weights(groups, str(dest), write_manifest=False)
    (dest / "model.json").write_text(json.dumps(spec))
    return dest / "model.json"


def check_classifier(model, classifier_dir: Path, quantize: str, input_size: int) -> float:
    """Max |P(fake)| difference between Keras and the exported graph on seeded inputs."""
    import numpy as np

    from scoring.tfjs_graph import load_graph_model

    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (4, input_size, input_size, 3)).astype(np.float32)
    expected = model(x, training=False).numpy()[:, 0]
    with tempfile.TemporaryDirectory() as tmp:
        run = load_graph_model(dequantized_copy(classifier_dir, Path(tmp) / "float32"))
        got = next(iter(run(x).values())).numpy().reshape(-1)
    drift = float(np.abs(expected - got).max())
    if quantize == "none" and drift > FLOAT32_TOLERANCE:
        raise ConverterError(
            f"The exported graph gives scores {drift:.2g} away from Keras on the same input; "
            "the conversion is broken: check the tensorflow and tensorflowjs versions "
            "in requirements.txt and requirements/build.txt."
        )
    return drift


def export(model_dir: Path | str = DEFAULT_MODEL_DIR, out_dir: Path | str = DEFAULT_OUT_DIR,
           quantize: str = DEFAULT_QUANTIZE) -> dict:
    """Write the browser's model files into out_dir (replacing it); return model-info."""
    if quantize not in QUANTIZE_OPTIONS:
        raise ConverterError(f"Unknown quantization {quantize!r}; choose one of {', '.join(QUANTIZE_OPTIONS)}.")
    model_path, config = read_inputs(Path(model_dir))
    for path in detector_files():
        if not path.is_file():
            raise ConverterError(f"Face detector file {path} is missing; restore it with `git checkout {path.parent}`.")
    model = load_keras(model_path)

    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".model-", dir=out_dir.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; the output is a normal folder
    try:
        convert_classifier(model, staging / CLASSIFIER_DIR, quantize)
        check_classifier(model, staging / CLASSIFIER_DIR, quantize, config.input_size)
        (staging / DETECTOR_DIR).mkdir()
        for path in detector_files():
            shutil.copyfile(path, staging / DETECTOR_DIR / path.name)
        classifier_json = json.loads((staging / CLASSIFIER_DIR / "model.json").read_text())
        info = model_info(config, sha256_of(model_path), quantize, classifier_json)
        write_json(staging / MODEL_INFO_FILE, info)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        os.replace(staging, out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return info
