#!/usr/bin/env bash
# Trains a candidate model on a CUDA GPU, the recipe of shipped 1.4.0 (see
# training/README.md): face crops and the fakes made from their reals
# (training.synthesize), four teacher runs of training.train (TEACHER_RUNS in
# training/config.py), the student distilled from their mean score, then
# training.package into runs/candidates/gpu/. About 25 min on one H100. A
# teacher whose run finished (its .json is written last) is kept, so a second
# call trains only what is missing. MODEL_VERSION (required) is the version
# the candidate records; extra arguments go to the student's `python -m
# training.train` (`--resume` carries an interrupted run on from its last
# epoch). Nothing is shipped: `python -m training.promote runs/candidates/gpu`.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${MODEL_VERSION:?set the version the candidate records, e.g. MODEL_VERSION=1.5.0 bash scripts/train_gpu.sh}"
bash scripts/install_training.sh
.venv/bin/python -m training.prepare
.venv/bin/python -m training.synthesize
teachers=()
while read -r seed epochs; do
    out="runs/gpu/teacher_seed${seed}_${epochs}epochs.pt"
    if [[ ! -f "${out%.pt}.json" ]]; then
        .venv/bin/python -m training.train --seed "$seed" --epochs "$epochs" --out "$out"
    fi
    teachers+=("$out")
done < <(.venv/bin/python -c 'from training.config import TEACHER_RUNS; [print(*run) for run in TEACHER_RUNS]')
.venv/bin/python -m training.train --teachers "${teachers[@]}" --out runs/gpu/classifier.pt "$@"
exec .venv/bin/python -m training.package runs/gpu/classifier.pt --version "$MODEL_VERSION" --name gpu
