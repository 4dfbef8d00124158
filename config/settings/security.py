"""Who may reach Convene and how: hosts, proxies and client addresses, request ids, admin login
limits, CORS, the join page's CSP, HTTPS and cookies."""

from __future__ import annotations

import ipaddress
from datetime import timedelta

from django.core.exceptions import ImproperlyConfigured

from config.settings.base import DEBUG
from config.settings.env import env

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

# With NUM_PROXIES > 0 (config/settings/api.py), X-Forwarded-For is believed only on connections
# from these addresses or networks ("*": any): the same variable tells gunicorn (Procfile) which
# proxies to believe.
CONVENE_TRUSTED_PROXIES = [p.strip() for p in env.list("FORWARDED_ALLOW_IPS", default=["127.0.0.1", "::1"])]
for _proxy in CONVENE_TRUSTED_PROXIES:
    if _proxy != "*":
        try:
            ipaddress.ip_network(_proxy, strict=False)
        except ValueError:
            raise ImproperlyConfigured(f"FORWARDED_ALLOW_IPS: {_proxy!r} is not an address or network") from None
# Keep the X-Request-ID a proxy in front sets (it must set or replace it on every request);
# otherwise every request gets an id of Convene's own.
CONVENE_TRUST_REQUEST_ID = env.bool("CONVENE_TRUST_REQUEST_ID", default=False)

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
AXES_CLIENT_IP_CALLABLE = "core.clientip.request_ip"  # the same client address as rate limits and audit

# Browsers on other origins (a product's own front end) may call the public join endpoints only.
CORS_ALLOWED_ORIGINS = env.list("CONVENE_CORS_ALLOWED_ORIGINS", default=[])
CORS_URLS_REGEX = r"^/api/v1/join/"
CORS_ALLOW_METHODS = ("GET", "OPTIONS", "POST")

# No global Content-Security-Policy: the join page sets its own (access/pages.py), the admin and the
# API docs keep their inline scripts.
CONTENT_SECURITY_POLICY = None

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
