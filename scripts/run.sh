#!/usr/bin/env bash
# `make run`: install, migrate and start Convene with embedded defaults (SQLite, file-system
# broker, a local Celery worker with the scheduler) on http://127.0.0.1:8000.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh requirements.txt
# Development mode for these processes only, from the environment: nothing is written that a
# production process started from this directory later would read (an earlier version wrote .env).
export DEBUG=true
if [ -f .env ] && grep -Eiq '^DEBUG=(true|1|yes|on)' .env; then
  echo "warning: .env sets DEBUG=true, so every Convene process started here runs in debug mode," >&2
  echo "         production ones included. An earlier 'make run' wrote it: delete it unless you did." >&2
fi
.venv/bin/python manage.py migrate --no-input
janus=""
if command -v janus >/dev/null && [ -z "${JANUS_URL:-}" ]; then
  # A private Janus for real calls (rooms with "provider": "janus"), posting events to this server.
  JANUS_URL="http://127.0.0.1:$(.venv/bin/python -c 'from devtools.localservers import free_port; print(free_port())')/janus"
  export JANUS_URL
  .venv/bin/python -m devtools.janus --webhook-url "http://127.0.0.1:${PORT:-8000}/webhooks/janus" \
    --folder "${CONVENE_VAR_DIR:-var}/janus" &
  janus=$!
  echo "Janus on $JANUS_URL"
fi
.venv/bin/celery -A config worker --beat --loglevel=INFO --concurrency=1 &
worker=$!
trap 'kill $worker $janus 2>/dev/null; wait $worker $janus 2>/dev/null' EXIT INT TERM
echo "Convene on http://127.0.0.1:${PORT:-8000}  (create an API key: DEBUG=true .venv/bin/python manage.py create_application NAME --json)"
.venv/bin/python manage.py runserver "127.0.0.1:${PORT:-8000}"
