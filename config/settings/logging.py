"""Logging: one line per record on stderr, secrets redacted by every handler."""

from __future__ import annotations

from config.settings.env import env

# Every handler redacts join secrets, download tokens, JWTs and API keys (core/logredact.py):
# "Service Unavailable: /api/v1/join/<secret>" from django.request, the development server's
# request lines (django.server). Django's own handlers are replaced, not kept beside these.
# config/celery.py gives Celery's handlers (worker and beat) the same filter.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"redact_secrets": {"()": "core.logredact.RedactSecrets"}},
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "django.server": {
            "()": "django.utils.log.ServerFormatter",
            "format": "[{server_time}] {message}",
            "style": "{",
        },
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["redact_secrets"]},
        "django.server": {
            "class": "logging.StreamHandler",
            "formatter": "django.server",
            "filters": ["redact_secrets"],
        },
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    # botocore logs presigned URLs (signatures) at DEBUG: never let LOG_LEVEL=DEBUG reach them.
    "loggers": {
        "django": {"handlers": [], "propagate": True},
        "django.server": {"handlers": ["django.server"], "level": "INFO", "propagate": False},
        "django.request": {"level": "ERROR"},
        "botocore": {"level": "WARNING"},
        "boto3": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
        "s3transfer": {"level": "WARNING"},
    },
}
