"""Django itself: debug mode, the secret key, apps, middleware, templates, static files, locale."""

from __future__ import annotations

from config.settings.env import BASE_DIR, env, secret

DEV_SECRET_KEY = "convene-development-only-secret-key-do-not-use-in-production"

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = secret("SECRET_KEY", DEV_SECRET_KEY if DEBUG else "")

# The address users and applications reach Convene at: join links and playback URLs are built on it.
CONVENE_PUBLIC_URL = env.str("CONVENE_PUBLIC_URL", default="http://localhost:8000").rstrip("/")

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
    "reconciler",
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

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

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
STATIC_ROOT = BASE_DIR / "staticfiles"

DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("DATA_UPLOAD_MAX_MEMORY_SIZE", default=1024 * 1024)  # bytes
