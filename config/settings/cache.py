"""Redis: Django's cache, the join rate limits' token buckets (core/throttling.py) and, unless
CELERY_BROKER_URL says otherwise, the Celery broker (config/settings/celery.py). Without it each
process keeps its own cache and buckets."""

from __future__ import annotations

from config.settings.env import secret

# A URL that carries a password is a secret too: it may come from REDIS_URL_FILE.
REDIS_URL = secret("REDIS_URL")

if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "core.cache.RedisCache",  # Django's, without a client object per operation
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
