"""The converter: committed browser files match a fresh export; bad input fails with a fix.

The fresh export runs `python -m converter` in its own process, as a person
would, so its output does not depend on what this test process loaded before.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from converter.export import (
    DEFAULT_MODEL_DIR,
    DEFAULT_OUT_DIR,
    DEFAULT_QUANTIZE,
    MODEL_INFO_FILE,
    ConverterError,
    export,
    sha256_of,
)
from converter.parity import BOX_TOLERANCE, SCORE_TOLERANCE, ParityError, Result, check_parity, parity_problems
from scoring import faces
from scoring.model_config import CONFIG_FILE, MODEL_FILE

REPO = Path(__file__).resolve().parents[2]
COMMITTED = sorted(str(p.relative_to(DEFAULT_OUT_DIR)) for p in DEFAULT_OUT_DIR.rglob("*") if p.is_file())
EXPORT_TIMEOUT_S = 600  # SavedModel export + conversion on 2 busy cores
REEXPORT = "re-run `python -m converter` and commit extension/model/"


def run_converter(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "converter", *args],
        cwd=REPO, capture_output=True, text=True, timeout=EXPORT_TIMEOUT_S,
    )


@pytest.fixture(scope="module")
def fresh_export(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("export") / "model"
    done = run_converter("--out", str(out))
    assert done.returncode == 0, f"python -m converter failed:\n{done.stderr[-3000:]}"
    return out


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_committed_model_files_exist():
    assert {"model-info.json", "classifier/model.json", "face_detector/blazeface.json"} <= set(COMMITTED), (
        f"extension/model/ is incomplete ({COMMITTED}); {REEXPORT}"
    )


@pytest.mark.slow  # runs `python -m converter` in its own process
def test_fresh_export_has_the_committed_files(fresh_export):
    fresh = sorted(str(p.relative_to(fresh_export)) for p in fresh_export.rglob("*") if p.is_file())
    assert fresh == COMMITTED, f"the converter writes {fresh}, extension/model/ holds {COMMITTED}; {REEXPORT}"


@pytest.mark.parametrize("name", COMMITTED)
@pytest.mark.slow  # runs `python -m converter` in its own process
def test_committed_file_is_what_the_converter_makes(name, fresh_export):
    committed, fresh = DEFAULT_OUT_DIR / name, fresh_export / name
    assert fresh.is_file(), f"extension/model/{name} is committed but the converter no longer writes it; {REEXPORT}"
    assert digest(committed) == digest(fresh), (
        f"extension/model/{name} differs from what the converter makes from shipped_model/ "
        f"({MODEL_FILE} sha256 {sha256_of(DEFAULT_MODEL_DIR / MODEL_FILE)[:12]}); {REEXPORT}"
    )


CONFIG = json.loads((DEFAULT_MODEL_DIR / CONFIG_FILE).read_text()) if (DEFAULT_MODEL_DIR / CONFIG_FILE).is_file() else {}
INFO = json.loads((DEFAULT_OUT_DIR / MODEL_INFO_FILE).read_text()) if (DEFAULT_OUT_DIR / MODEL_INFO_FILE).is_file() else {}


# (key path in model-info.json, where its value comes from)
INFO_SOURCES = [
    ("version", lambda: CONFIG["version"]),
    ("name", lambda: CONFIG["name"]),
    ("sha256", lambda: sha256_of(DEFAULT_MODEL_DIR / MODEL_FILE)),
    ("input_size", lambda: CONFIG["input_size"]),
    ("margin", lambda: CONFIG["margin"]),
    ("class_order", lambda: CONFIG["class_order"]),
    ("threshold", lambda: CONFIG["threshold"]),
    ("uncertain_band", lambda: CONFIG["uncertain_band"]),
    ("greyscale.uncertain_band", lambda: CONFIG["greyscale"]["uncertain_band"]),
    ("greyscale.max_spread", lambda: CONFIG["greyscale"]["max_spread"]),
    ("greyscale.top_share", lambda: CONFIG["greyscale"]["top_share"]),
    ("quantization", lambda: DEFAULT_QUANTIZE),
    ("face_detector.input_size", lambda: faces.DETECTOR_INPUT),
    ("face_detector.input_divisor", lambda: faces.DETECTOR_NORM[0]),
    ("face_detector.input_offset", lambda: faces.DETECTOR_NORM[1]),
    ("face_detector.nms_iou", lambda: faces.NMS_IOU),
    ("face_detector.max_faces", lambda: faces.MAX_FACES),
    ("face_detector.min_face_px", lambda: faces.MIN_FACE_PX),
    ("face_detector.passes", lambda: [dict(zip(("fill", "min_score", "min_face_share"), p))
                                      for p in faces.DETECTION_PASSES]),
    ("face_detector.anchors", lambda: faces._anchors().tolist()),
    ("resize.halve_at", lambda: faces.HALVE_AT),
]


@pytest.mark.parametrize(("key", "source"), INFO_SOURCES, ids=[k for k, _ in INFO_SOURCES])
def test_model_info_carries_the_python_values(key, source):
    value = INFO
    for part in key.split("."):
        value = value[part]
    assert value == source(), f"model-info.json {key} is {value!r}, Python uses {source()!r}; {REEXPORT}"


def test_quantization_report_names_the_shipped_default():
    report = (REPO / "converter" / "QUANTIZATION.md").read_text()
    assert f"Shipped default: `{DEFAULT_QUANTIZE}`" in report, "run `python -m converter.quantization`"
    assert f"{INFO['name']} {INFO['version']}" in report, (
        "converter/QUANTIZATION.md was measured on another model; run `python -m converter.quantization`"
    )


def keras_like_zip(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("metadata.json", "{}")


def write_config(folder: Path, **changes) -> None:
    config = {**CONFIG, **changes}
    config = {k: v for k, v in config.items() if v is not None}
    (folder / CONFIG_FILE).write_text(json.dumps(config))


def case_missing_folder(folder: Path) -> Path:
    return folder / "nowhere"


def case_no_model_file(folder: Path) -> Path:
    write_config(folder)
    return folder


def case_no_config(folder: Path) -> Path:
    shutil.copyfile(DEFAULT_MODEL_DIR / MODEL_FILE, folder / MODEL_FILE)
    return folder


def case_text_as_model(folder: Path) -> Path:
    (folder / MODEL_FILE).write_text("not a model")
    write_config(folder)
    return folder


def case_zip_not_keras(folder: Path) -> Path:
    keras_like_zip(folder / MODEL_FILE)
    write_config(folder, sha256=None)
    return folder


def case_config_not_json(folder: Path) -> Path:
    shutil.copyfile(DEFAULT_MODEL_DIR / MODEL_FILE, folder / MODEL_FILE)
    (folder / CONFIG_FILE).write_text("{ threshold: 0.5")
    return folder


def case_config_incomplete(folder: Path) -> Path:
    shutil.copyfile(DEFAULT_MODEL_DIR / MODEL_FILE, folder / MODEL_FILE)
    write_config(folder, threshold=None)
    return folder


def case_config_of_another_model(folder: Path) -> Path:
    keras_like_zip(folder / MODEL_FILE)
    write_config(folder, sha256="0" * 64)
    return folder


BAD_INPUTS = [
    (case_missing_folder, "none", "does not exist; package a trained model there"),
    (case_no_model_file, "none", f"{MODEL_FILE} is missing"),
    (case_no_config, "none", f"{CONFIG_FILE} is missing"),
    (case_text_as_model, "none", "is not a Keras model (a .keras file is a zip archive)"),
    (case_zip_not_keras, "none", "is not a Keras model keras can load"),
    (case_config_not_json, "none", "is not valid JSON"),
    (case_config_incomplete, "none", "lacks threshold; re-run the packaging step"),
    (case_config_of_another_model, "none", "describes another model"),
    (case_no_config, "int4", "Unknown quantization 'int4'; choose one of none, float16, uint8"),
]


@pytest.mark.parametrize(("make", "quantize", "message"), BAD_INPUTS, ids=[m.__name__[5:] for m, _, _ in BAD_INPUTS])
def test_bad_input_fails_with_what_to_fix(make, quantize, message, tmp_path):
    model_dir = make(tmp_path)
    out = tmp_path / "out"
    with pytest.raises(ConverterError, match=message.replace("(", r"\(").replace(")", r"\)").replace(".", r"\.")):
        export(model_dir, out, quantize)
    assert not out.exists(), "a failed export must not leave an output folder"


@pytest.mark.slow  # runs `python -m converter` in its own process
def test_cli_reports_a_missing_model_and_exits_1(tmp_path):
    done = run_converter("--model-dir", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out"))
    assert done.returncode == 1
    assert "does not exist" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.slow  # runs `python -m converter` in its own process
def test_cli_help_gives_every_flag_a_default():
    done = run_converter("--help")
    assert done.returncode == 0
    for flag in ("--model-dir", "--out", "--quantize"):
        assert flag in done.stdout
    assert done.stdout.count("default:") == 3


FACE = ((10.0, 20.0, 100.0, 100.0), 0.80)
OTHER_FACE = ((300.0, 40.0, 90.0, 90.0), 0.10)
W, H = 400, 300


def shifted(face, dx=0.0, dy=0.0, dw=0.0, dscore=0.0):
    (x, y, w, h), score = face
    return (x + dx, y + dy, w + dw, h + dw), score + dscore


# (Python faces, browser result, what the message must say; None when parity holds)
PARITY_CASES = [
    ([FACE], Result(W, H, [FACE]), None),
    ([], Result(W, H, []), None),
    ([FACE], Result(W, H, [shifted(FACE, dx=0.029 * W, dscore=0.0099)]), None),
    ([FACE, OTHER_FACE], Result(W, H, [OTHER_FACE, FACE]), None),  # same faces, other order
    ([FACE], Result(W, H, [shifted(FACE, dscore=0.02)]),
     "face 0 score differs by 0.0200 (limit 0.01): Python 0.8000, browser 0.8200"),
    ([FACE], Result(W, H, [shifted(FACE, dy=0.05 * H)]), "face 0 box differs by 5.0% of the image (limit 3%)"),
    ([FACE], Result(W, H, [shifted(FACE, dw=0.04 * W)]), "box differs by 5.3%"),  # h: 16 px of 300
    ([FACE, OTHER_FACE], Result(W, H, [FACE, OTHER_FACE, OTHER_FACE]), "face count differs: Python 2"),
    ([FACE], Result(W, H, []), "face count differs: Python 1 ['[10.0, 20.0, 100.0, 100.0]'], browser 0"),
    ([FACE], Result(H, W, [FACE]), "decoded size differs: Python 400x300, browser 300x400; check EXIF orientation"),
]


@pytest.mark.parametrize(("python_faces", "browser", "message"), PARITY_CASES)
def test_parity_check_names_the_image_and_both_values(python_faces, browser, message):
    python = Result(W, H, python_faces)
    if message is None:
        assert parity_problems(python, browser) == []
        check_parity("fixture.jpg", python, browser)
        return
    with pytest.raises(ParityError) as err:
        check_parity("fixture.jpg", python, browser)
    assert str(err.value).startswith("fixture.jpg: browser and Python disagree")
    assert message in str(err.value)
    assert "check" in str(err.value)


def test_tolerances_are_the_issue_s():
    assert (BOX_TOLERANCE, SCORE_TOLERANCE) == (0.03, 0.01)
