#!/usr/bin/env bash
# Installs what the tests need (requirements/test.txt, which holds the server's,
# the converter's and training's; Chromium and its driver; torch and the
# ImageNet weights, for the trainers' tests) and runs every test. Extra
# arguments go to pytest, e.g. -m "not slow and not browser" for the quick ones.
set -euo pipefail
cd "$(dirname "$0")/.."
REQUIREMENTS=requirements/test.txt bash scripts/install_training.sh chromium chromium-driver
# one worker per core, each taking whole files: a module's browser, server and trained model stay one
exec .venv/bin/python -m pytest -n auto --dist loadfile "$@"
