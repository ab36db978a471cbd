#!/usr/bin/env bash
# Installs what the tests need (Chromium and its driver included) and runs
# every test. Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh chromium chromium-driver
exec .venv/bin/python -m pytest "$@"
