#!/usr/bin/env bash
# Trains the shipped model on a CUDA GPU (see training/README.md): face crops,
# then training.train_gpu, then the net copied into the Keras model, folded and
# calibrated on val. Extra arguments go to `python -m training.train_gpu`
# (`--resume` carries an interrupted run on from its last epoch);
# MODEL_VERSION sets the version written to shipped_model/config.json.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_training.sh
.venv/bin/python -m training.prepare
.venv/bin/python -m training.train_gpu --out runs/gpu/classifier.pt "$@"
exec .venv/bin/python -m training.train --from-torch runs/gpu/classifier.pt --version "${MODEL_VERSION:-1.3.0}"
