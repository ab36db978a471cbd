#!/usr/bin/env bash
# Trains a candidate model on the CPU (see training/README.md): face crops and
# the fakes made from their reals, one run of training.train at a schedule 2
# cores can afford, then training.package into runs/candidates/cpu/. Nothing
# is shipped: `python -m training.promote runs/candidates/cpu` does that.
# MODEL_VERSION (required) is the version the candidate records; extra
# arguments go to `python -m training.train` (`--resume` carries an
# interrupted run on from its last epoch).
set -euo pipefail
cd "$(dirname "$0")/.."
: "${MODEL_VERSION:?set the version the candidate records, e.g. MODEL_VERSION=1.5.0-cpu bash scripts/train.sh}"
bash scripts/install_training.sh
.venv/bin/python -m training.prepare
.venv/bin/python -m training.synthesize
source scripts/cpu_schedule.sh
.venv/bin/python -u -m training.train --out runs/cpu/classifier.pt "${CPU_SCHEDULE[@]}" "$@"
exec .venv/bin/python -m training.package runs/cpu/classifier.pt --version "$MODEL_VERSION" --name cpu
