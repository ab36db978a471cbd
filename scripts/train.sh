#!/usr/bin/env bash
# Trains the shipped model from nothing (see training/README.md). Extra
# arguments go to `python -m training.train`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_training.sh
exec .venv/bin/python -m training.train "$@"
