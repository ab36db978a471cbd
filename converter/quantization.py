"""Measure each --quantize option: size on disk and score drift from float32 Keras.

    .venv/bin/python -m converter.quantization            # writes converter/QUANTIZATION.md

Every face the parity fixtures yield (scoring.faces finds and crops them) is
scored by the Keras model and by each exported graph model, with the weights
dequantized exactly as TF.js dequantizes them on load, one pass per face.
The shipped default (converter.export.DEFAULT_QUANTIZE) is the smallest
option whose largest drift stays within SCORE_TOLERANCE; the in-browser
parity test then checks that option end to end.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

from converter.export import (
    CLASSIFIER_DIR,
    DEFAULT_MODEL_DIR,
    QUANTIZE_OPTIONS,
    REPO,
    ConverterError,
    dequantized_copy,
    export,
)
from converter.parity import SCORE_TOLERANCE

DEFAULT_FIXTURES = REPO / "tests" / "fixtures" / "parity"
DEFAULT_REPORT = Path(__file__).resolve().parent / "QUANTIZATION.md"
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".bmp", ".webp"}


def fixture_crops(classifier, fixtures: Path) -> np.ndarray:
    """The model-input crops of every face found in the fixture images."""
    from scoring import faces

    crops = []
    for path in sorted(p for p in fixtures.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
        rgb = faces.load_image(path.read_bytes())
        crops += [classifier.crop(rgb, f) for f in faces.detect_faces(rgb)]
    if not crops:
        raise ConverterError(f"No faces found in {fixtures}; regenerate it with tests/fixtures/parity/make_fixtures.py.")
    return np.stack(crops)


def graph_scores(model_json: Path, crops: np.ndarray) -> np.ndarray:
    from scoring.tfjs_graph import load_graph_model

    run = load_graph_model(model_json)
    return next(iter(run(crops).values())).numpy().reshape(-1)


def measure(model_dir: Path, fixtures: Path) -> tuple[dict, list[dict]]:
    """model-info of the float32 export and one row per option: size, max and mean drift."""
    from scoring.classifier import Classifier

    classifier = Classifier(model_dir)
    crops = fixture_crops(classifier, fixtures)
    reference = classifier.score_crops(crops)
    rows, info = [], None
    with tempfile.TemporaryDirectory() as tmp:
        for option in QUANTIZE_OPTIONS:
            out = Path(tmp) / option
            exported = export(model_dir, out, option)
            info = info or exported
            size = sum(f.stat().st_size for f in (out / CLASSIFIER_DIR).iterdir())
            model_json = dequantized_copy(out / CLASSIFIER_DIR, Path(tmp) / f"{option}-float32")
            drift = np.abs(graph_scores(model_json, crops) - reference)
            rows.append({"option": option, "bytes": size, "max_drift": float(drift.max()),
                         "mean_drift": float(drift.mean()), "faces": len(crops)})
    return info, rows


def choose(rows: list[dict]) -> str:
    """The smallest option within SCORE_TOLERANCE of float32."""
    within = [r for r in rows if r["max_drift"] <= SCORE_TOLERANCE]
    return min(within, key=lambda r: r["bytes"])["option"]


def report(info: dict, rows: list[dict], fixtures: Path) -> str:
    chosen = choose(rows)
    lines = [
        "# Quantization of the browser model",
        "",
        f"Model {info['name']} {info['version']} (sha256 `{info['sha256'][:16]}…`), measured on the "
        f"{rows[0]['faces']} faces of the {fixtures.relative_to(REPO)} fixtures with",
        "`.venv/bin/python -m converter.quantization` (this file is its output).",
        "",
        "Drift is |P(fake) of the exported graph - P(fake) of the float32 Keras model|, one pass per face,",
        "weights dequantized as TF.js does on load. Size is the classifier's",
        "model.json and weight shards; the face detector (BlazeFace, 0.6 MB) is the same in all.",
        "",
        "| --quantize | size | max drift | mean drift | within 0.01 |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        ok = "yes" if r["max_drift"] <= SCORE_TOLERANCE else "no"
        lines.append(f"| {r['option']} | {r['bytes'] / 1e6:.2f} MB | {r['max_drift']:.5f} | "
                     f"{r['mean_drift']:.5f} | {ok} |")
    lines += ["", f"Shipped default: `{chosen}`, the smallest within {SCORE_TOLERANCE} of float32.", ""]
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m converter.quantization", description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", default=str(DEFAULT_MODEL_DIR),
                        help="Folder holding the Keras model and config.json (default: %(default)s).")
    parser.add_argument("--fixtures", default=str(DEFAULT_FIXTURES),
                        help="Folder of images whose faces are scored (default: %(default)s).")
    parser.add_argument("--out", default=str(DEFAULT_REPORT),
                        help="Markdown report to write (default: %(default)s).")
    args = parser.parse_args(argv)
    try:
        info, rows = measure(Path(args.model_dir), Path(args.fixtures).resolve())
    except ConverterError as e:
        print(f"converter.quantization: {e}", file=sys.stderr)
        return 1
    text = report(info, rows, Path(args.fixtures).resolve())
    Path(args.out).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
