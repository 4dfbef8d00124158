"""A snapshot of every row an API call could write, so a test can assert a refused call changed nothing.

Only for tests: it reads whole tables, which is fine for the handful of rows a test creates.
"""

from __future__ import annotations

from typing import Any

from access.models import Invitation
from core.models import Application, ApplicationAPIKey, AuditEvent
from outbound.models import WebhookEndpoint
from rooms.models import Room

SNAPSHOT_MODELS = (Application, ApplicationAPIKey, Room, Invitation, AuditEvent, WebhookEndpoint)


def database_state() -> dict[str, list[dict[str, Any]]]:
    """Every row of every table the API writes, in a stable order."""
    return {model._meta.label: list(model.objects.order_by("pk").values()) for model in SNAPSHOT_MODELS}
