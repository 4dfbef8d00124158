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

# The join page's browser libraries: livekit-client from npm, pinned with its integrity hash in
# web/package-lock.json (npm ci checks it), and janus.js from Debian's libjs-janus-gateway when
# installed; copied into the static files (not committed), never fetched from a CDN.
vendor=access/static/join/vendor
lock_hash="$(sha256sum web/package-lock.json | cut -c1-16)"
if [ ! -f "$vendor/.installed-$lock_hash" ]; then
  if command -v npm >/dev/null; then
    (cd web && npm ci --no-audit --no-fund --loglevel=error)
    mkdir -p "$vendor"
    cp web/node_modules/livekit-client/dist/livekit-client.umd.js "$vendor/"
    rm -f "$vendor"/.installed-*
    touch "$vendor/.installed-$lock_hash"
  else
    echo "warning: npm not found: the join page cannot load livekit-client (install Node.js and npm)" >&2
  fi
fi
janus_js=/usr/share/javascript/janus-gateway/janus.js
if [ -f "$janus_js" ] && ! cmp -s "$janus_js" "$vendor/janus.js"; then
  mkdir -p "$vendor" && cp "$janus_js" "$vendor/janus.js"
fi
