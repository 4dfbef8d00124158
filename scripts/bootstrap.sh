#!/usr/bin/env bash
# Create .venv and install Python dependencies. Usage: scripts/bootstrap.sh [requirements file]
set -euo pipefail
cd "$(dirname "$0")/.."
requirements="${1:-requirements.txt}"
python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
hash="$(cat requirements*.txt | sha256sum | cut -c1-16)"
stamp=".venv/.installed-$(basename "$requirements")-$hash"
# requirements-dev.txt includes requirements.txt: a virtualenv set up for the tests runs Convene too.
if [ ! -f "$stamp" ] && [ ! -f ".venv/.installed-requirements-dev.txt-$hash" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip >/dev/null
  .venv/bin/python -m pip install --quiet -r "$requirements"
  touch "$stamp"
fi
