"""Writes owned by core: applications with their API keys, and audit rows; reading the audit log
(a read that writes its own audit row first).

An audit row is written inside the caller's transaction and before the audited action's effect
is returned, so an action whose audit row cannot be written does not happen.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from django.db import DatabaseError, connections, router, transaction
from django.db.models import Model, QuerySet
from django.utils import timezone
from django.utils.text import camel_case_to_spaces

from core.audit import AuditContext
from core.errors import Forbidden, ServiceUnavailable
from core.models import Application, ApplicationAPIKey, AuditEvent, AuditOutcome
from core.orm_bypass import insert_row
from core.selectors import applications_of, filter_given, is_reviewer, reviewed_applications


def application_create(*, name: str) -> tuple[Application, str]:
    """Create a tenant and its first API key; the key is returned once and only its hash is kept."""
    with transaction.atomic():
        application = Application.objects.create(name=name)
        _, key = ApplicationAPIKey.objects.create_key(name=f"{name} default", application=application)
    return application, key


def audit_event(
    *,
    action: str,
    object_type: str,
    object_id: Any,
    application: Application | None,
    audit: AuditContext,
    outcome: str = AuditOutcome.ALLOWED,
    actor: tuple[str, str] | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """The audit row of an action, not written yet (audit_write writes it). `audit` says who acted
    and from where; `actor` names someone else acting through that request (a link's holder, the
    system on a caller's behalf)."""
    actor_type, actor_id = actor or (audit.actor_type, audit.actor_id)
    return AuditEvent(
        created_at=timezone.now(),
        application=application,
        actor_type=actor_type,
        actor_id=actor_id,
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        outcome=outcome,
        ip=audit.ip,
        request_id=audit.request_id,
        details=details or {},
    )


def audit_write(event: AuditEvent, *, only_if: tuple[str, list] | None = None) -> bool:
    """Write an audit row in the caller's transaction: one INSERT ... RETURNING through
    core.orm_bypass.insert_row, the row AuditEvent.objects.create() would write, without save()
    or save signals (AuditEvent has none to miss; its docstring says so).

    only_if (PostgreSQL): a data-modifying statement run in the same statement; the row is written
    only when it returns a row. Returns whether the row was written."""
    return insert_row(connections[router.db_for_write(AuditEvent)], event, only_if=only_if)


def audit_record(**fields: Any) -> AuditEvent:
    """Write the audit row of an action (audit_event's fields) in the caller's transaction;
    returns the saved row."""
    event = audit_event(**fields)
    audit_write(event)
    return event


def audit_record_on(instance: Model, **fields: Any) -> AuditEvent:
    """audit_record for an action on one model instance (fields: action, audit and optionally
    outcome, actor, details). The row's object is the instance: its type the model's name in snake
    case (Room "room", LobbyEntry "lobby_entry"), its id the pk; its application the instance's
    own, or its room's for a model without one. Reading those costs a query when they are not
    loaded: pass the instance whose application (or room) the caller has at hand."""
    object_type, through_room = _audited_as(type(instance))
    application = instance.room.application if through_room else instance.application
    return audit_record(object_type=object_type, object_id=instance.pk, application=application, **fields)


@functools.cache
def _audited_as(model: type[Model]) -> tuple[str, bool]:
    """A model's audit object type and whether its application is its room's (it has none of its own)."""
    object_type = camel_case_to_spaces(model._meta.object_name).replace(" ", "_")
    return object_type, not any(field.name == "application" for field in model._meta.concrete_fields)


def audit_record_or_refuse(instance: Model | None = None, /, **fields: Any) -> AuditEvent:
    """audit_record (audit_record_on, given an instance) for an action that must not happen
    unaudited (every look at, change to or deletion of a recording): a row that cannot be written
    refuses the action with 503 audit_unavailable, whichever layer the database error came from."""
    try:
        return audit_record(**fields) if instance is None else audit_record_on(instance, **fields)
    except DatabaseError as exc:
        raise ServiceUnavailable(
            "The audit log cannot be written, so this is refused.", code="audit_unavailable"
        ) from exc


def audit_record_each_or_refuse(applications: Iterable[Application], **fields: Any) -> None:
    """audit_record_or_refuse once per application an action concerns (a reviewer's list spans
    every application they review, each seeing its row in its own log), all or none; one row
    without an application when none is concerned."""
    with transaction.atomic():
        for application in list(applications) or [None]:
            audit_record_or_refuse(application=application, **fields)


def audit_event_list(*, caller, audit: AuditContext, object_id: str = "", action: str = "") -> QuerySet[AuditEvent]:
    """The audit rows of the applications `caller` reviews, optionally of one object or action.
    Reviewers only (an application's key neither); the read is audited first, a refusal too."""
    row = {"audit": audit, "action": "audit.list", "object_type": "audit_log", "object_id": "-"}
    if not is_reviewer(caller):
        audit_record_each_or_refuse(applications_of(caller), outcome=AuditOutcome.DENIED, **row)
        raise Forbidden("Only recording reviewers may do this.", code="not_a_reviewer")
    scope = reviewed_applications(caller)
    # A read of the log, not of the object it was filtered on: filtering by that object's id must
    # not list this row among the object's events.
    audit_record_each_or_refuse(scope, details={"filters": {"object_id": object_id, "action": action}}, **row)
    return filter_given(AuditEvent.objects.filter(application__in=scope), object_id=object_id, action=action)
