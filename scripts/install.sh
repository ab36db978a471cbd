#!/usr/bin/env bash
# Installs what the product needs on a fresh Debian machine with Python 3.11:
# Debian packages (only those missing), a virtualenv with requirements.txt
# (the scoring server and scanner; REQUIREMENTS picks another file, e.g. the
# tests'), and the built extension in extension/dist/. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
apt_packages=()
python3 -m venv --help >/dev/null 2>&1 && python3 -c 'import ensurepip' 2>/dev/null || apt_packages+=(python3-venv)
command -v node >/dev/null || apt_packages+=(nodejs)
command -v npm >/dev/null || apt_packages+=(npm)
for extra in "$@"; do apt_packages+=("$extra"); done
missing=()
for pkg in "${apt_packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -r "${REQUIREMENTS:-requirements.txt}"

(cd extension && npm ci --no-audit --no-fund --loglevel=error && npm run build --silent)
