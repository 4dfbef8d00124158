"""How the settings read the environment: django-environ's `env` (with the repository's `.env`, which
never overrides a variable already set), `secret()` for values that may come from a file, and the
two paths every part may use.
"""

from __future__ import annotations

from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parents[2]  # the repository

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# What the embedded defaults write (SQLite, the file-system broker, the beat schedule, recordings).
VAR_DIR = BASE_DIR / env.str("CONVENE_VAR_DIR", default="var")  # relative to the repository


def secret(name: str, default: str = "") -> str:
    """Read a secret from `<NAME>_FILE` (Docker/Kubernetes secrets) or else from `<NAME>`."""
    path = env.str(f"{name}_FILE", default="")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={path} cannot be read: {exc.strerror}") from exc
    return env.str(name, default=default)
