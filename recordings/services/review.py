"""Who may review recordings, and the audit row every look at one writes first.

Reviewers are staff users with the `recordings.review_recording` permission (the "Recording
reviewers" group), limited to the applications they are listed on. Nobody has an implicit
all-applications scope, superusers included: seeing an application's recordings always means
being listed as its reviewer, an explicit (and audited) change. An application's API key may list
and read its own recordings' metadata, never the media. Every list, view, playback URL, download
and delete is audited before it happens, denials too, each row under the application it concerns
(so that application's reviewers see it in the audit log); if the audit row cannot be written the
action fails.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from core.auth import ApplicationPrincipal
from core.errors import Forbidden
from core.models import Application, AuditEvent, AuditOutcome
from core.services import audit_record_or_refuse
from recordings import storage
from recordings.models import Recording, RecordingStatus

REVIEW_PERMISSION = "recordings.review_recording"


def is_reviewer(user) -> bool:
    return (
        not isinstance(user, ApplicationPrincipal)
        and getattr(user, "is_authenticated", False)
        and user.is_active
        and user.has_perm(REVIEW_PERMISSION)
    )


def _reviewed_applications(user):
    return user.reviewed_applications.all()


def _audit(
    *,
    request,
    action,
    object_id,
    application=None,
    outcome=AuditOutcome.ALLOWED,
    details=None,
    actor=None,
    object_type="recording",
):
    audit_record_or_refuse(
        action=action,
        object_type=object_type,
        object_id=object_id,
        application=application,
        request=request,
        outcome=outcome,
        details=details,
        actor=actor,
    )


def review_scope(*, request, action: str, object_id: str = "", media: bool = False):
    """The applications whose recordings the caller may see for `action`. An application key is
    scoped to itself and never gets media; anyone else must be a reviewer. A refusal is audited."""
    user = request.user
    if isinstance(user, ApplicationPrincipal) and not media:
        return Application.objects.filter(pk=user.application.pk)
    if is_reviewer(user):
        return _reviewed_applications(user)
    _audit_each(
        _refused_applications(user, object_id),
        request=request,
        action=action,
        object_id=object_id or "-",
        object_type="audit_log" if action.startswith("audit.") else "recording",
        outcome=AuditOutcome.DENIED,
    )
    raise Forbidden("Only recording reviewers may do this.", code="not_a_reviewer")


def _refused_applications(user, object_id: str) -> list[Application]:
    """Whose audit log a refusal belongs in: the application of the recording it aimed at, else
    the caller's own (a key's application, the applications a staff user is listed on)."""
    try:
        recording_id = uuid.UUID(object_id) if object_id and object_id != "-" else None
    except ValueError:
        recording_id = None
    if recording_id is not None:
        aimed_at = Application.objects.filter(rooms__recordings__pk=recording_id).first()
        if aimed_at is not None:
            return [aimed_at]
    if isinstance(user, ApplicationPrincipal):
        return [user.application]
    return list(_reviewed_applications(user)) if getattr(user, "is_authenticated", False) else []


def _audit_each(applications: Iterable[Application], **fields) -> None:
    """One row per application concerned (a reviewer's list spans every application they review),
    all or none; one row without an application when none is concerned."""
    with transaction.atomic():
        for application in list(applications) or [None]:
            _audit(application=application, **fields)


def recordings_listed(*, request, applications) -> None:
    _audit_each(applications, request=request, action="recording.list", object_id="-")


def recording_viewed(*, request, recording: Recording) -> None:
    _audit(request=request, action="recording.view", object_id=recording.pk, application=recording.room.application)


def recording_playback(*, request, recording: Recording) -> tuple[str, datetime]:
    """A URL valid for at most 5 minutes, audited first; never stored, never logged."""
    if recording.deleted_at is not None or not recording.location or recording.status != RecordingStatus.COMPLETE:
        _audit(
            request=request,
            action="recording.playback",
            object_id=recording.pk,
            application=recording.room.application,
            outcome=AuditOutcome.DENIED,
            details={"reason": "no media"},
        )
        raise Forbidden("This recording has no media to play.", code="no_media")
    _audit(request=request, action="recording.playback", object_id=recording.pk, application=recording.room.application)
    url = storage.for_recording(recording).playback_url(recording, reviewer_id=str(request.user.pk))
    return url, timezone.now() + storage.playback_ttl()


def recording_downloaded(*, request, recording: Recording, reviewer_id: str) -> None:
    _audit(
        request=request,
        action="recording.download",
        object_id=recording.pk,
        application=recording.room.application,
        actor=("user", reviewer_id),
    )


def audit_events_for(*, request, object_id: str = "", action: str = ""):
    scope = review_scope(request=request, action="audit.list", media=True)
    # A read of the log, not of the object it was filtered on: filtering by that object's id must
    # not list this row among the object's events.
    _audit_each(
        scope,
        request=request,
        action="audit.list",
        object_type="audit_log",
        object_id="-",
        details={"filters": {"object_id": object_id, "action": action}},
    )
    events = AuditEvent.objects.filter(application__in=scope)
    if object_id:
        events = events.filter(object_id=object_id)
    if action:
        events = events.filter(action=action)
    return events
