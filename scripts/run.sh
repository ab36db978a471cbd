#!/usr/bin/env bash
# Installs everything, builds the extension, and serves the scoring backend
# on the shipped model at http://127.0.0.1:${PORT:-8000}/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec .venv/bin/python -m backend --host "${HOST:-127.0.0.1}" --port "${PORT:-8000}"
