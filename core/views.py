"""Ops endpoints: liveness (/healthz) and readiness (/readyz: database and broker)."""

from __future__ import annotations

import logging

from celery import current_app as celery_app
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET

logger = logging.getLogger(__name__)


@require_GET
def healthz(request) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except Exception as exc:  # any failure means "not ready"; the reason is logged, not returned
        logger.warning("readyz: database check failed: %s", type(exc).__name__)
        return False


def _broker_ok() -> bool:
    try:
        with celery_app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return True
    except Exception as exc:
        logger.warning("readyz: broker check failed: %s", type(exc).__name__)
        return False


@require_GET
def readyz(request) -> JsonResponse:
    checks = {"database": _database_ok(), "broker": _broker_ok()}
    ready = all(checks.values())
    return JsonResponse({"status": "ok" if ready else "unavailable", "checks": checks}, status=200 if ready else 503)
