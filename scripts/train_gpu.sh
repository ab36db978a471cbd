#!/usr/bin/env bash
# Trains the shipped model on a CUDA GPU (see training/README.md): face crops
# and the fakes made from their reals (training.synthesize), then four teacher runs of training.train_gpu (TEACHER_RUNS in
# training/config.py), then the shipped net distilled from their mean score,
# then copied into the Keras model, folded and calibrated on val. About 25 min
# on one H100. A teacher whose run finished (its .json is written last) is
# kept, so a second call trains only what is missing. Extra arguments go to
# the student's `python -m training.train_gpu` (`--resume` carries an
# interrupted run on from its last epoch); MODEL_VERSION sets the version
# written to shipped_model/config.json.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_training.sh
.venv/bin/python -m training.prepare
.venv/bin/python -m training.synthesize
teachers=()
while read -r seed epochs; do
    out="runs/gpu/teacher_seed${seed}_${epochs}epochs.pt"
    if [[ ! -f "${out%.pt}.json" ]]; then
        .venv/bin/python -m training.train_gpu --seed "$seed" --epochs "$epochs" --out "$out"
    fi
    teachers+=("$out")
done < <(.venv/bin/python -c 'from training.config import TEACHER_RUNS; [print(*run) for run in TEACHER_RUNS]')
.venv/bin/python -m training.train_gpu --teachers "${teachers[@]}" --out runs/gpu/classifier.pt "$@"
exec .venv/bin/python -m training.train --from-torch runs/gpu/classifier.pt --version "${MODEL_VERSION:-1.4.0}"
