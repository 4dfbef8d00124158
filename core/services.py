"""Writes owned by core: applications with their API keys, and audit rows.

An audit row is written inside the caller's transaction and before the audited action's effect
is returned, so an action whose audit row cannot be written does not happen.
"""

from __future__ import annotations

from typing import Any

from django.db import DatabaseError, connections, router, transaction
from django.utils import timezone
from rest_framework.throttling import BaseThrottle

from core.errors import ServiceUnavailable
from core.models import Application, ApplicationAPIKey, AuditEvent, AuditOutcome
from core.rows import insert_row


def application_create(*, name: str) -> tuple[Application, str]:
    """Create a tenant and its first API key; the key is returned once and only its hash is kept."""
    with transaction.atomic():
        application = Application.objects.create(name=name)
        _, key = ApplicationAPIKey.objects.create_key(name=f"{name} default", application=application)
    return application, key


def request_ip(request) -> str | None:
    """The client address as seen through NUM_PROXIES trusted proxies (DRF's rule)."""
    if request is None:
        return None
    return BaseThrottle().get_ident(request) or None


def actor_of(request) -> tuple[str, str]:
    """(actor_type, actor_id) of whoever made the request."""
    user = getattr(request, "user", None)
    application = getattr(user, "application", None)
    if application is not None:
        return "application", str(application.pk)
    if user is not None and getattr(user, "is_authenticated", False):
        return "user", str(user.pk)
    return "anonymous", ""


def audit_event(
    *,
    action: str,
    object_type: str,
    object_id: Any,
    application: Application | None,
    outcome: str = AuditOutcome.ALLOWED,
    request=None,
    actor: tuple[str, str] | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """The audit row of an action, not written yet (audit_write writes it)."""
    actor_type, actor_id = actor or (actor_of(request) if request is not None else ("system", ""))
    return AuditEvent(
        created_at=timezone.now(),
        application=application,
        actor_type=actor_type,
        actor_id=actor_id,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        outcome=outcome,
        ip=request_ip(request),
        request_id=getattr(request, "request_id", "") if request is not None else "",
        details=details or {},
    )


def audit_write(event: AuditEvent, *, only_if: tuple[str, list] | None = None) -> bool:
    """Write an audit row in the caller's transaction: one INSERT ... RETURNING through the cursor
    (core.rows.insert_row), the row AuditEvent.objects.create() would write at a fraction of the
    ORM's CPU (this runs on every join). AuditEvent has no save signals to miss.

    only_if (PostgreSQL): a data-modifying statement run in the same statement; the row is written
    only when it returns a row. Returns whether the row was written."""
    return insert_row(connections[router.db_for_write(AuditEvent)], event, only_if=only_if)


def audit_record(
    *,
    action: str,
    object_type: str,
    object_id: Any,
    application: Application | None,
    outcome: str = AuditOutcome.ALLOWED,
    request=None,
    actor: tuple[str, str] | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Write the audit row of an action in the caller's transaction; returns the saved row."""
    event = audit_event(
        action=action,
        object_type=object_type,
        object_id=object_id,
        application=application,
        outcome=outcome,
        request=request,
        actor=actor,
        details=details,
    )
    audit_write(event)
    return event


def audit_record_or_refuse(**fields: Any) -> AuditEvent:
    """audit_record for an action that must not happen unaudited (every look at, change to or
    deletion of a recording): a row that cannot be written refuses the action with 503
    audit_unavailable, whichever layer the database error came from."""
    try:
        return audit_record(**fields)
    except DatabaseError as exc:
        raise ServiceUnavailable(
            "The audit log cannot be written, so this is refused.", code="audit_unavailable"
        ) from exc
