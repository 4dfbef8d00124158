"""All of Convene's settings, read from the environment in this one place (django-environ).

Development defaults are safe to run on a laptop; with DEBUG off, startup refuses missing,
default or short secrets. Every secret can also be read from a file named by `<NAME>_FILE`.
"""

from __future__ import annotations

import ipaddress
import json
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

from config.production_checks import insecure_url_reason, turn_problems, weak_secret_reason, webhook_key_problems

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

# What the embedded defaults write (SQLite, the file-system broker, the beat schedule, recordings).
VAR_DIR = BASE_DIR / env.str("CONVENE_VAR_DIR", default="var")  # relative to the repository

DEV_LIVEKIT_API_KEY = "devkey"
DEV_LIVEKIT_API_SECRET = "secret"  # what `livekit-server --dev` uses
DEV_SECRET_KEY = "convene-development-only-secret-key-do-not-use-in-production"


def secret(name: str, default: str = "") -> str:
    """Read a secret from `<NAME>_FILE` (Docker/Kubernetes secrets) or else from `<NAME>`."""
    path = env.str(f"{name}_FILE", default="")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={path} cannot be read: {exc.strerror}") from exc
    return env.str(name, default=default)


DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = secret("SECRET_KEY", DEV_SECRET_KEY if DEBUG else "")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

LIVEKIT_URL = env.str("LIVEKIT_URL", default="http://localhost:7880" if DEBUG else "")
LIVEKIT_CLIENT_URL = env.str("LIVEKIT_CLIENT_URL", default="")
LIVEKIT_API_KEY = secret("LIVEKIT_API_KEY", DEV_LIVEKIT_API_KEY if DEBUG else "")
LIVEKIT_API_SECRET = secret("LIVEKIT_API_SECRET", DEV_LIVEKIT_API_SECRET if DEBUG else "")
LIVEKIT_TIMEOUT_SECONDS = env.float("LIVEKIT_TIMEOUT_SECONDS", default=5.0)


def _key_pairs(value: str) -> dict[str, str]:
    pairs = dict(item.split(":", 1) for item in value.split(",") if ":" in item)
    return {key.strip(): secret_.strip() for key, secret_ in pairs.items() if key.strip() and secret_.strip()}


# Webhooks are accepted when signed with the main key or any extra "key:secret" pair (rotation).
LIVEKIT_WEBHOOK_EXTRA_KEYS = _key_pairs(secret("LIVEKIT_WEBHOOK_EXTRA_KEYS"))
LIVEKIT_WEBHOOK_KEYS = {LIVEKIT_API_KEY: LIVEKIT_API_SECRET, **LIVEKIT_WEBHOOK_EXTRA_KEYS}

# Janus (self-hosted SFU): configured when JANUS_URL (its HTTP API, e.g. http://127.0.0.1:8088/janus) is set.
DEV_JANUS_SECRET = "janus-development-only"  # `make run`'s private Janus; refused in production
JANUS_URL = env.str("JANUS_URL", default="").rstrip("/")
JANUS_CLIENT_URL = env.str("JANUS_CLIENT_URL", default="").rstrip("/")  # what browsers use, when different
JANUS_ADMIN_KEY = secret("JANUS_ADMIN_KEY", DEV_JANUS_SECRET + "-admin" if DEBUG else "")
JANUS_API_SECRET = secret("JANUS_API_SECRET")  # the core api_secret, when Janus has one
JANUS_TOKEN_SECRET = secret("JANUS_TOKEN_SECRET", DEV_JANUS_SECRET + "-token" if DEBUG else "")
JANUS_WEBHOOK_USER = env.str("JANUS_WEBHOOK_USER", default="janus")
JANUS_WEBHOOK_PASSWORD = secret("JANUS_WEBHOOK_PASSWORD", DEV_JANUS_SECRET + "-webhook" if DEBUG else "")
# Addresses or networks Janus's event handler posts from; anything else gets 403.
JANUS_WEBHOOK_ALLOW_IPS = env.list("JANUS_WEBHOOK_ALLOW_IPS", default=["127.0.0.1", "::1"])
for _network in JANUS_WEBHOOK_ALLOW_IPS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError:
        raise ImproperlyConfigured(f"JANUS_WEBHOOK_ALLOW_IPS: {_network!r} is not an address or network") from None
JANUS_RECORDING_DIR = env.str("JANUS_RECORDING_DIR", default=str(VAR_DIR / "janus-recordings"))
JANUS_TIMEOUT_SECONDS = env.float("JANUS_TIMEOUT_SECONDS", default=5.0)
# STUN/TURN servers given to browsers (providers/ice.py): stun:/stuns:/turn:/turns: URLs;
# TURN_SECRET: coturn's static-auth-secret (use-auth-secret). A TURN credential must outlive the
# call, not only the join: coturn checks its expiry again on every allocation refresh.
TURN_URLS = env.list("TURN_URLS", default=[])
TURN_SECRET = secret("TURN_SECRET")
TURN_TTL_SECONDS = env.int("TURN_TTL_SECONDS", default=12 * 3600)

# Keep the X-Request-ID a proxy in front sets (it must set or replace it on every request);
# otherwise every request gets an id of Convene's own.
CONVENE_TRUST_REQUEST_ID = env.bool("CONVENE_TRUST_REQUEST_ID", default=False)
CONVENE_PUBLIC_URL = env.str("CONVENE_PUBLIC_URL", default="http://localhost:8000").rstrip("/")
CONVENE_JOIN_URL_TEMPLATE = env.str("CONVENE_JOIN_URL_TEMPLATE", default="{public_url}/join/{secret}")
CONVENE_DEFAULT_PROVIDER = env.str("CONVENE_DEFAULT_PROVIDER", default="livekit")
CONVENE_TOKEN_TTL_SECONDS = env.int("CONVENE_TOKEN_TTL_SECONDS", default=600)
CONVENE_JOIN_EARLY_MINUTES = env.int("CONVENE_JOIN_EARLY_MINUTES", default=10)
CONVENE_ROOM_CLOSE_GRACE_MINUTES = env.int("CONVENE_ROOM_CLOSE_GRACE_MINUTES", default=15)
CONVENE_ROOM_EMPTY_TIMEOUT_SECONDS = env.int("CONVENE_ROOM_EMPTY_TIMEOUT_SECONDS", default=300)
CONVENE_ROOM_DEPARTURE_TIMEOUT_SECONDS = env.int("CONVENE_ROOM_DEPARTURE_TIMEOUT_SECONDS", default=20)
# Join limits (token buckets per client address, shared through Redis): successful joins, and
# separately failed attempts (unknown or refused links) per client address and per link.
# Waiting rooms: links of these roles admit guests (and never wait); a guest waits at most
# CONVENE_LOBBY_WAIT_SECONDS, and leaves the lobby when their page stops listening for that long.
CONVENE_LOBBY_HOST_ROLES = env.list("CONVENE_LOBBY_HOST_ROLES", default=["host"])
CONVENE_LOBBY_WAIT_SECONDS = env.int("CONVENE_LOBBY_WAIT_SECONDS", default=900)
CONVENE_LOBBY_PRESENCE_SECONDS = env.int("CONVENE_LOBBY_PRESENCE_SECONDS", default=45)
CONVENE_JOIN_RATE_LIMIT = env.str("CONVENE_JOIN_RATE_LIMIT", default="30/min")
CONVENE_JOIN_EVENTS_RATE_LIMIT = env.str("CONVENE_JOIN_EVENTS_RATE_LIMIT", default="120/min")
CONVENE_JOIN_EVENTS_STREAM_SECONDS = env.int("CONVENE_JOIN_EVENTS_STREAM_SECONDS", default=25)
# The join page reports a batch every few seconds (more when something happens); bodies up to 16 KB.
CONVENE_TELEMETRY_RATE_LIMIT = env.str("CONVENE_TELEMETRY_RATE_LIMIT", default="30/min")
CONVENE_TELEMETRY_MAX_BYTES = env.int("CONVENE_TELEMETRY_MAX_BYTES", default=16 * 1024)
CONVENE_JOIN_FAILURE_LIMIT = env.str("CONVENE_JOIN_FAILURE_LIMIT", default="10/min")
CONVENE_JOIN_LINK_FAILURE_LIMIT = env.str("CONVENE_JOIN_LINK_FAILURE_LIMIT", default="30/min")
# With NUM_PROXIES > 0, X-Forwarded-For is believed only on connections from these addresses or
# networks ("*": any): the same variable tells gunicorn (Procfile) which proxies to believe.
CONVENE_TRUSTED_PROXIES = [p.strip() for p in env.list("FORWARDED_ALLOW_IPS", default=["127.0.0.1", "::1"])]
for _proxy in CONVENE_TRUSTED_PROXIES:
    if _proxy != "*":
        try:
            ipaddress.ip_network(_proxy, strict=False)
        except ValueError:
            raise ImproperlyConfigured(f"FORWARDED_ALLOW_IPS: {_proxy!r} is not an address or network") from None
# A removal the media server did not confirm is retried with backoff until it succeeds or the room
# closes; the sweep that rings for due retries runs this often.
CONVENE_REMOVAL_RETRY_BASE_SECONDS = env.float("CONVENE_REMOVAL_RETRY_BASE_SECONDS", default=5.0)
CONVENE_REMOVAL_RETRY_MAX_SECONDS = env.float("CONVENE_REMOVAL_RETRY_MAX_SECONDS", default=300.0)
CONVENE_REMOVAL_SWEEP_INTERVAL_SECONDS = env.int("CONVENE_REMOVAL_SWEEP_INTERVAL_SECONDS", default=15)
CONVENE_WEBHOOK_MAX_BYTES = env.int("CONVENE_WEBHOOK_MAX_BYTES", default=1024 * 1024)
CONVENE_EVENT_MAX_ATTEMPTS = env.int("CONVENE_EVENT_MAX_ATTEMPTS", default=5)
CONVENE_EVENT_RETRY_BASE_SECONDS = env.float("CONVENE_EVENT_RETRY_BASE_SECONDS", default=2.0)
CONVENE_EVENT_RETRY_MAX_SECONDS = env.float("CONVENE_EVENT_RETRY_MAX_SECONDS", default=300.0)
CONVENE_EVENT_SWEEP_AFTER_SECONDS = env.int("CONVENE_EVENT_SWEEP_AFTER_SECONDS", default=30)
CONVENE_EVENT_SWEEP_INTERVAL_SECONDS = env.int("CONVENE_EVENT_SWEEP_INTERVAL_SECONDS", default=30)
# Processing an event commits without waiting for its WAL flush (PostgreSQL, that transaction
# only) unless it queued work for after the commit: if the server crashes within the next ~0.6 s,
# the event is pending again and the sweeper has it reprocessed. The webhook itself is always
# stored with a synchronous commit. webhooks/services.py inbound_event_process.
CONVENE_EVENT_ASYNC_COMMIT = env.bool("CONVENE_EVENT_ASYNC_COMMIT", default=True)
CONVENE_RECONCILE_INTERVAL_SECONDS = env.int("CONVENE_RECONCILE_INTERVAL_SECONDS", default=300)
CONVENE_NO_SHOW_GRACE_MINUTES = env.int("CONVENE_NO_SHOW_GRACE_MINUTES", default=15)

# Webhooks out (outbound/). Private, loopback and link-local URLs (and plain http:// outside DEBUG)
# are refused unless allowed: only for tests and a receiver on the same private network.
CONVENE_WEBHOOK_ALLOW_PRIVATE_URLS = env.bool("CONVENE_WEBHOOK_ALLOW_PRIVATE_URLS", default=False)
CONVENE_WEBHOOK_CONNECT_TIMEOUT_SECONDS = env.float("CONVENE_WEBHOOK_CONNECT_TIMEOUT_SECONDS", default=3.0)
CONVENE_WEBHOOK_TIMEOUT_SECONDS = env.float("CONVENE_WEBHOOK_TIMEOUT_SECONDS", default=10.0)
# Seconds after each failed attempt (each within +-20%): 8 attempts over about 27 hours.
CONVENE_WEBHOOK_RETRY_SCHEDULE = [
    float(s)
    for s in env.list("CONVENE_WEBHOOK_RETRY_SCHEDULE", default=["5", "300", "1800", "7200", "18000", "36000", "36000"])
]
CONVENE_WEBHOOK_DISABLE_AFTER_SECONDS = env.int("CONVENE_WEBHOOK_DISABLE_AFTER_SECONDS", default=5 * 24 * 3600)
CONVENE_WEBHOOK_SECRET_GRACE_SECONDS = env.int("CONVENE_WEBHOOK_SECRET_GRACE_SECONDS", default=24 * 3600)
CONVENE_WEBHOOK_SWEEP_INTERVAL_SECONDS = env.int("CONVENE_WEBHOOK_SWEEP_INTERVAL_SECONDS", default=10)

# Recordings: an S3-compatible bucket, or a directory the recorder shares with Convene.
RECORDING_STORAGE = env.str("RECORDING_STORAGE", default="file")
RECORDING_FILE_DIR = env.str("RECORDING_FILE_DIR", default=str(VAR_DIR / "recordings"))
RECORDING_EGRESS_FILE_DIR = env.str("RECORDING_EGRESS_FILE_DIR", default="") or RECORDING_FILE_DIR
RECORDING_S3_BUCKET = env.str("RECORDING_S3_BUCKET", default="")
RECORDING_S3_REGION = env.str("RECORDING_S3_REGION", default="")
RECORDING_S3_ENDPOINT = env.str("RECORDING_S3_ENDPOINT", default="")
RECORDING_S3_PREFIX = env.str("RECORDING_S3_PREFIX", default="recordings/")
RECORDING_S3_FORCE_PATH_STYLE = env.bool("RECORDING_S3_FORCE_PATH_STYLE", default=False)
RECORDING_S3_ACCESS_KEY_ID = secret("RECORDING_S3_ACCESS_KEY_ID")
RECORDING_S3_SECRET_ACCESS_KEY = secret("RECORDING_S3_SECRET_ACCESS_KEY")
RECORDING_PLAYBACK_TTL_SECONDS = min(env.int("RECORDING_PLAYBACK_TTL_SECONDS", default=300), 300)
CONVENE_RETENTION_INTERVAL_SECONDS = env.int("CONVENE_RETENTION_INTERVAL_SECONDS", default=3600)
# Per-track recordings (Janus): the longest any one media tool (janus-pp-rec, ffmpeg, ffprobe) may
# run while making a recording's composite; a run that has not finished after this plus 5 minutes
# (a worker that died) is started again by the sweep.
RECORDING_PROCESS_TIMEOUT_SECONDS = env.int("RECORDING_PROCESS_TIMEOUT_SECONDS", default=1800)
CONVENE_RECORDING_PROCESS_SWEEP_SECONDS = env.int("CONVENE_RECORDING_PROCESS_SWEEP_SECONDS", default=60)

# What each role may do in the media room. Never roomAdmin / roomRecord / roomCreate: moderation
# goes through Convene's API, and a browser token must not carry server rights.
DEFAULT_ROLES = {
    "host": {
        "can_publish": True,
        "can_subscribe": True,
        "can_publish_data": True,
        "publish_sources": ["camera", "microphone", "screen_share", "screen_share_audio"],
        "hidden": False,
    },
    "guest": {
        "can_publish": True,
        "can_subscribe": True,
        "can_publish_data": True,
        "publish_sources": ["camera", "microphone", "screen_share", "screen_share_audio"],
        "hidden": False,
    },
    "observer": {
        "can_publish": False,
        "can_subscribe": True,
        "can_publish_data": False,
        "publish_sources": [],
        "hidden": True,
    },
}
CONVENE_ROLES = (
    json.loads(env.str("CONVENE_ROLES", default="")) if env.str("CONVENE_ROLES", default="") else DEFAULT_ROLES
)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_api_key",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files served from our own static files, not a CDN
    "axes",
    "corsheaders",
    "core",
    "providers",
    "rooms",
    "access.apps.AccessConfig",
    "webhooks",
    "recordings",
    "outbound",
]

MIDDLEWARE = [
    "corsheaders.middleware.CorsMiddleware",  # first: it answers preflights for the join endpoints
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Sets the join page's Content-Security-Policy (access/pages.py); no global policy (None): the
    # admin and the API docs keep their own inline scripts.
    "csp.middleware.CSPMiddleware",
    "core.middleware.RequestIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",  # last, as django-axes requires
]

# Failed admin passwords are limited by django-axes: after CONVENE_ADMIN_LOGIN_FAILURE_LIMIT failures
# for one username or from one client address, further attempts are refused (429) for the cool-off.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env.int("CONVENE_ADMIN_LOGIN_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("CONVENE_ADMIN_LOGIN_COOLOFF_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "core.services.request_ip"  # the same client address as rate limits and audit

# Browsers on other origins (a product's own front end) may call the public join endpoints only.
CORS_ALLOWED_ORIGINS = env.list("CONVENE_CORS_ALLOWED_ORIGINS", default=[])
CORS_URLS_REGEX = r"^/api/v1/join/"
CORS_ALLOW_METHODS = ("GET", "OPTIONS", "POST")

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# URLs that carry passwords are secrets too: each may come from <NAME>_FILE.
REDIS_URL = secret("REDIS_URL")
CELERY_BROKER_URL = secret("CELERY_BROKER_URL") or REDIS_URL or "filesystem://"
CELERY_BROKER_URL_IS_EMBEDDED = CELERY_BROKER_URL.startswith("filesystem://")
if CELERY_BROKER_URL.startswith("redis://"):
    CELERY_BROKER_TRANSPORT = "core.broker:Transport"  # kombu's, without a client object per command

DATABASES = {"default": env.db_url_config(secret("DATABASE_URL", f"sqlite:///{VAR_DIR / 'convene.sqlite3'}"))}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3" or CELERY_BROKER_URL_IS_EMBEDDED:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The embedded mode writes from two processes at once (the web server and the worker). WAL lets
    # readers and a writer proceed together; IMMEDIATE takes the write lock when a transaction
    # starts, so it waits (up to `timeout` seconds) instead of failing with "database is locked"
    # when a read inside it later turns into a write; synchronous=NORMAL is what WAL needs to be safe.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        init_command="PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL",
        transaction_mode="IMMEDIATE",
        timeout=20,
    )
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# A connection that worked less than this many seconds ago, and whose socket shows nothing from
# the server, is reused without a health check (core/dbbackend, PostgreSQL); 0 checks before every
# request and task, as CONN_HEALTH_CHECKS does.
DATABASE_HEALTH_CHECK_IDLE_SECONDS = env.float("DATABASE_HEALTH_CHECK_IDLE_SECONDS", default=1.0)
# The hot paths' fixed statements (core.rows) are prepared once per PostgreSQL connection; turn
# off behind a pooler that cannot carry prepared statements (PgBouncer transaction mode < 1.21).
DATABASE_PREPARED_STATEMENTS = env.bool("DATABASE_PREPARED_STATEMENTS", default=True)
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    DATABASES["default"]["ENGINE"] = "core.dbbackend"  # Django's, checking only idle connections
    DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
        "connect_timeout", env.int("DATABASE_CONNECT_TIMEOUT", default=3)
    )

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

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
# How long an application's webhook subscriptions are cached. A change drops them at once from a
# shared cache (Redis); a per-process cache (no Redis) can only let them expire.
CONVENE_WEBHOOK_SUBSCRIPTION_CACHE_SECONDS = env.int(
    "CONVENE_WEBHOOK_SUBSCRIPTION_CACHE_SECONDS", default=300 if REDIS_URL else 2
)

# Celery. With no broker configured, an embedded file-system broker under var/ lets `make run`
# process background work with a local worker and no Redis.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
# Celery's Django fixup closes the database connection before and after every task unless this
# is set, which cost a new PostgreSQL connection per event (about half of a worker's time).
# Connections are instead checked before each task (config/celery.py) and recycled by CONN_MAX_AGE.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", default=1000)
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = 300
CELERY_TASK_SOFT_TIME_LIMIT = 240
CELERY_TASK_IGNORE_RESULT = True
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Longer than the longest task (CELERY_TASK_TIME_LIMIT) plus the longest retry countdown.
CELERY_VISIBILITY_TIMEOUT = env.int("CELERY_VISIBILITY_TIMEOUT", default=3600)
if CELERY_BROKER_URL_IS_EMBEDDED:
    _queue_dir = VAR_DIR / "celery-queue"
    _queue_dir.mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT = "core.broker:FilesystemTransport"  # kombu's, writing each message atomically
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_queue_dir),
        "data_folder_out": str(_queue_dir),
        "processed_folder": str(VAR_DIR / "celery-processed"),
        "store_processed": False,
        "control_folder": str(VAR_DIR / "celery-control"),  # kombu's default is ./control
        # The worker looks at the folder this often once it has nothing to do, and again after each
        # task (prefetch 1): kombu's default of 1 s made it one event a second.
        "polling_interval": env.float("CELERY_BROKER_POLLING_INTERVAL", default=0.05),
    }
else:
    # The visibility timeout must exceed the longest task and any countdown, or Redis hands an
    # unacknowledged message to a second worker while the first is still on it.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
        # A publish that cannot reach Redis fails within a second (the row waits for the sweeper):
        # short socket timeouts, and no reconnect loop inside the publish (kombu retries forever
        # by default, 4 s a try, which held a web worker for each webhook while Redis was down).
        "socket_connect_timeout": 1,
        "socket_timeout": 1,
        "max_retries": 0,
    }
CELERY_BEAT_SCHEDULE = {
    "rooms-sweep-windows": {"task": "rooms.tasks.rooms_sweep_windows", "schedule": timedelta(minutes=1)},
    "webhooks-sweep": {
        "task": "webhooks.sweep_inbound_events",
        "schedule": timedelta(seconds=CONVENE_EVENT_SWEEP_INTERVAL_SECONDS),
    },
    "recordings-retention": {
        "task": "recordings.delete_expired_recordings",
        "schedule": timedelta(seconds=CONVENE_RETENTION_INTERVAL_SECONDS),
    },
    "recordings-postprocess-sweep": {
        "task": "recordings.sweep_postprocessing",
        "schedule": timedelta(seconds=CONVENE_RECORDING_PROCESS_SWEEP_SECONDS),
    },
    "tokens-sweep-participant-removals": {
        "task": "tokens.sweep_participant_removals",
        "schedule": timedelta(seconds=CONVENE_REMOVAL_SWEEP_INTERVAL_SECONDS),
    },
    "outbound-sweep-deliveries": {
        "task": "outbound.sweep_deliveries",
        "schedule": timedelta(seconds=CONVENE_WEBHOOK_SWEEP_INTERVAL_SECONDS),
    },
    "outbound-report-no-shows": {"task": "outbound.report_no_shows", "schedule": timedelta(minutes=1)},
    "webhooks-reconcile": {
        "task": "webhooks.reconcile_providers",
        "schedule": timedelta(seconds=CONVENE_RECONCILE_INTERVAL_SECONDS),
    },
}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
CONTENT_SECURITY_POLICY = None
STATIC_ROOT = BASE_DIR / "staticfiles"

DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=1024 * 1024)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.auth.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["core.auth.IsApplication"],
    "DEFAULT_PARSER_CLASSES": ["core.parsers.JSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["core.renderers.AsciiJSONRenderer"],
    "DEFAULT_PAGINATION_CLASS": "core.pagination.Pagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "core.errors.exception_handler",
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
    "UNAUTHENTICATED_USER": None,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Convene API",
    "DESCRIPTION": "Rooms, join links and join tokens for WebRTC media servers (LiveKit).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "core.schema.document_errors",
        "outbound.schema.webhooks_as_extension",
    ],
    # The payloads of webhooks out (outbound/schema.py), as `x-webhooks` in this OpenAPI 3.0 document.
    "WEBHOOKS": [
        f"outbound.schema.{name}"
        for name in (
            "ROOM_OPENED",
            "ROOM_LIVE",
            "ROOM_CLOSED",
            "PARTICIPANT_JOINED",
            "PARTICIPANT_LEFT",
            "ATTENDANCE_NO_SHOW",
            "CONSENT_GRANTED",
            "CONSENT_WITHDRAWN",
            "RECORDING_STARTED",
            "RECORDING_READY",
            "RECORDING_FAILED",
            "RECORDING_DELETED",
        )
    ],
    "ENUM_NAME_OVERRIDES": {
        "RoomStatusEnum": "rooms.models.RoomStatus",
        "RecordingStatusEnum": "recordings.models.RecordingStatus",
    },
}

# Every handler redacts join secrets, download tokens, JWTs and API keys (core/logredact.py):
# "Service Unavailable: /api/v1/join/<secret>" from django.request, the development server's
# request lines (django.server). Django's own handlers are replaced, not kept beside these.
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

if not DEBUG:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    # Preloading is a commitment browsers keep for months; the operator opts in, so its check is silenced.
    SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=False)
    SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True


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


def _refuse_weak_production_settings() -> None:
    """In production, a missing, default, weak or unsafe setting is a startup error, not a warning
    (`manage.py check --deploy` fails the same way, since it loads these settings)."""
    problems = _production_problems()
    if problems:
        raise ImproperlyConfigured("Refusing to start with DEBUG off: " + "; ".join(problems))


if not DEBUG:
    _refuse_weak_production_settings()
