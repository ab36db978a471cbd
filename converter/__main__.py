"""python -m converter: the shipped Keras model -> extension/model/ (TF.js)."""

import argparse
import os
import sys

# TensorFlow's C++ start-up chatter hides the one line that matters
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from converter.export import (
    DEFAULT_MODEL_DIR,
    DEFAULT_OUT_DIR,
    DEFAULT_QUANTIZE,
    QUANTIZE_OPTIONS,
    ConverterError,
    export,
)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m converter", description=__doc__)
    parser.add_argument(
        "--model-dir",
        default=str(DEFAULT_MODEL_DIR),
        help="Folder holding deepfake_classifier.keras and its config.json (default: %(default)s).",
    )
    parser.add_argument(
        "--out",
        default=str(DEFAULT_OUT_DIR),
        help="Folder the TF.js files and model-info.json go to; replaced entirely (default: %(default)s).",
    )
    parser.add_argument(
        "--quantize",
        choices=list(QUANTIZE_OPTIONS),
        default=DEFAULT_QUANTIZE,
        help="Weight storage: none (float32), float16 or uint8; see converter/QUANTIZATION.md "
        "(default: %(default)s, the smallest within 0.01 of float32 on the fixtures).",
    )
    args = parser.parse_args(argv)
    try:
        info = export(args.model_dir, args.out, args.quantize)
    except ConverterError as e:
        print(f"converter: {e}", file=sys.stderr)
        return 1
    print(f"converter: {info['name']} {info['version']} ({args.quantize}) written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
