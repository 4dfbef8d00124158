#!/usr/bin/env bash
# `make test`: install everything the tests need (Python packages, PostgreSQL, Redis, Chromium, the
# join page's browser libraries, LiveKit's Node SDK), start PostgreSQL and Redis on 127.0.0.1, and
# run the whole suite. Extra arguments go to pytest. Exits non-zero when no test ran.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
pg_found=""
for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && pg_found=1; done
[ -n "$pg_found" ] || need_apt+=(postgresql)
command -v redis-server >/dev/null || need_apt+=(redis-server)
# The join page's browser tests drive Debian's Chromium (Playwright never downloads a browser);
# the page's Janus adapter serves Debian's janus.js.
command -v chromium >/dev/null || need_apt+=(chromium)
[ -f /usr/share/javascript/janus-gateway/janus.js ] || need_apt+=(libjs-janus-gateway)
command -v janus >/dev/null || need_apt+=(janus janus-tools)
command -v turnserver >/dev/null || need_apt+=(coturn)
command -v ip >/dev/null || need_apt+=(iproute2)  # network namespaces for the real-media tests
command -v ffprobe >/dev/null || need_apt+=(ffmpeg)
command -v chromium >/dev/null || need_apt+=(chromium)
[ -f /usr/share/javascript/janus-gateway/janus.js ] || need_apt+=(libjs-janus-gateway)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing ${need_apt[*]} with apt-get"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "missing ${need_apt[*]}: install them (sudo apt-get install ${need_apt[*]})" >&2; exit 1
  fi
fi

scripts/bootstrap.sh requirements-dev.txt
if [ ! -d tests/node/node_modules/livekit-server-sdk ]; then
  (cd tests/node && npm ci --no-audit --no-fund --loglevel=error)
fi

export DEBUG=false SECRET_KEY="test-$(head -c 48 /dev/urandom | base64 | tr -d '/+=')" ALLOWED_HOSTS="testserver,localhost,127.0.0.1,[::1]"
export LIVEKIT_URL=http://127.0.0.1:9 LIVEKIT_API_KEY=testkey LIVEKIT_API_SECRET="test-secret-$(head -c 32 /dev/urandom | base64 | tr -d '/+=')"
export SECURE_SSL_REDIRECT=false PYTHONDONTWRITEBYTECODE=1
set +e
.venv/bin/python -m devtools.localservers -- .venv/bin/python -m pytest "$@"
status=$?
set -e
if [ "$status" = 5 ]; then
  echo "pytest collected no tests: failing" >&2
  exit 1
fi
exit "$status"
