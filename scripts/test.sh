#!/usr/bin/env bash
# Installs what the tests need (Chromium and its driver; torch and the
# ImageNet weights, for the trainers' tests) and runs every test. Extra
# arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_training.sh chromium chromium-driver
exec .venv/bin/python -m pytest "$@"
