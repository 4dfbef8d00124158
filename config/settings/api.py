"""The HTTP API: Django REST framework and its OpenAPI schema (drf-spectacular)."""

from __future__ import annotations

from config.settings.env import env

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
    # Reverse proxies in front that append to X-Forwarded-For; which connections may carry it is
    # FORWARDED_ALLOW_IPS (config/settings/security.py).
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
    "WEBHOOKS": "outbound.schema.WEBHOOKS",
    "ENUM_NAME_OVERRIDES": {
        "RoomStatusEnum": "rooms.models.RoomStatus",
        "RecordingStatusEnum": "recordings.models.RecordingStatus",
    },
}
