"""What a production process refuses to start with: with DEBUG off, a missing, default, weak or
unsafe setting is a startup error, not a warning (`manage.py check --deploy` fails the same way,
since it loads these settings). The value tests are config/production_checks.py's."""

from __future__ import annotations

from django.core.exceptions import ImproperlyConfigured

from config.production_checks import insecure_url_reason, turn_problems, weak_secret_reason, webhook_key_problems
from config.settings.base import SECRET_KEY
from config.settings.providers import (
    CONVENE_DEFAULT_PROVIDER,
    DEV_JANUS_SECRET,
    DEV_LIVEKIT_API_KEY,
    JANUS_ADMIN_KEY,
    JANUS_API_SECRET,
    JANUS_CLIENT_URL,
    JANUS_TOKEN_SECRET,
    JANUS_URL,
    JANUS_WEBHOOK_PASSWORD,
    LIVEKIT_API_KEY,
    LIVEKIT_API_SECRET,
    LIVEKIT_CLIENT_URL,
    LIVEKIT_URL,
    LIVEKIT_WEBHOOK_EXTRA_KEYS,
    TURN_SECRET,
    TURN_TTL_SECONDS,
    TURN_URLS,
)
from config.settings.recordings import RECORDING_S3_BUCKET, RECORDING_S3_SECRET_ACCESS_KEY, RECORDING_STORAGE
from config.settings.security import ALLOWED_HOSTS, CORS_ALLOWED_ORIGINS


def _production_problems() -> list[str]:
    """Each setting a production process must not run with, and what to set instead."""
    problems = []
    if reason := weak_secret_reason(SECRET_KEY, min_length=50):
        problems.append(f"SECRET_KEY must be {reason}")
    problems += _livekit_problems()
    problems += _janus_problems()
    if RECORDING_STORAGE not in ("s3", "file"):
        problems.append("RECORDING_STORAGE must be s3 or file")
    if RECORDING_STORAGE == "s3" and not (RECORDING_S3_BUCKET and RECORDING_S3_SECRET_ACCESS_KEY):
        problems.append("RECORDING_STORAGE=s3 needs RECORDING_S3_BUCKET and its credentials")
    problems += turn_problems(TURN_URLS, TURN_SECRET, TURN_TTL_SECONDS)
    if not ALLOWED_HOSTS:
        problems.append("ALLOWED_HOSTS must list the host names Convene is served under")
    elif "*" in ALLOWED_HOSTS:
        problems.append("ALLOWED_HOSTS must list the host names Convene is served under, not '*'")
    if any(insecure_url_reason(origin) for origin in CORS_ALLOWED_ORIGINS):
        problems.append("each CONVENE_CORS_ALLOWED_ORIGINS entry must be an https:// origin (http only for localhost)")
    return problems


def _livekit_problems() -> list[str]:
    """LiveKit's settings, checked when LiveKit is the default provider or configured at all (a
    Janus-only deployment sets CONVENE_DEFAULT_PROVIDER=janus and no LIVEKIT_URL)."""
    if CONVENE_DEFAULT_PROVIDER != "livekit" and not LIVEKIT_URL:
        return []
    problems = [] if LIVEKIT_URL else ["LIVEKIT_URL must be set"]
    for name, url in (("LIVEKIT_URL", LIVEKIT_URL), ("LIVEKIT_CLIENT_URL", LIVEKIT_CLIENT_URL)):
        if url and (reason := insecure_url_reason(url)):
            problems.append(f"{name} must be {reason}")
    if not LIVEKIT_API_KEY or LIVEKIT_API_KEY == DEV_LIVEKIT_API_KEY:
        problems.append("LIVEKIT_API_KEY must be set to your LiveKit API key (not the dev key)")
    if reason := weak_secret_reason(LIVEKIT_API_SECRET, min_length=32):
        problems.append(f"LIVEKIT_API_SECRET must be set to your LiveKit API secret: {reason}")
    return problems + webhook_key_problems(LIVEKIT_WEBHOOK_EXTRA_KEYS, dev_key=DEV_LIVEKIT_API_KEY, min_length=32)


def _janus_problems() -> list[str]:
    """Janus's secrets, checked only when the Janus provider is configured (JANUS_URL set)."""
    if CONVENE_DEFAULT_PROVIDER not in ("livekit", "janus"):
        return ["CONVENE_DEFAULT_PROVIDER must be livekit or janus"]
    if not JANUS_URL:
        return ["CONVENE_DEFAULT_PROVIDER=janus needs JANUS_URL"] if CONVENE_DEFAULT_PROVIDER == "janus" else []
    problems = []
    for name, url in (("JANUS_URL", JANUS_URL), ("JANUS_CLIENT_URL", JANUS_CLIENT_URL)):
        if url and (reason := insecure_url_reason(url)):
            problems.append(f"{name} must be {reason}")
    named = {
        "JANUS_ADMIN_KEY": JANUS_ADMIN_KEY,
        "JANUS_TOKEN_SECRET": JANUS_TOKEN_SECRET,
        "JANUS_WEBHOOK_PASSWORD": JANUS_WEBHOOK_PASSWORD,
    }
    if JANUS_API_SECRET:
        named["JANUS_API_SECRET"] = JANUS_API_SECRET
    for name, value in named.items():
        dev = value.startswith(DEV_JANUS_SECRET)
        if reason := "not the development value" if dev else weak_secret_reason(value, min_length=32):
            problems.append(f"{name} must be {reason}")
    return problems


def refuse_weak_production_settings() -> None:
    """Raise ImproperlyConfigured naming every problem (never a value: it may be a secret)."""
    problems = _production_problems()
    if problems:
        raise ImproperlyConfigured("Refusing to start with DEBUG off: " + "; ".join(problems))
