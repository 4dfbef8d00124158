"""Who may review recordings, and the audit row every look at one writes first.

Reviewers are staff users with the `recordings.review_recording` permission (the "Recording
reviewers" group), limited to the applications they are listed on (superusers: all). An
application's API key may list and read its own recordings' metadata, never the media. Every
list, view, playback URL, download and delete is audited before it happens, denials too; if the
audit row cannot be written the action fails.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone

from core.auth import ApplicationPrincipal
from core.errors import Forbidden
from core.models import Application, AuditEvent, AuditOutcome
from core.services import audit_record_or_refuse
from recordings import storage
from recordings.models import Recording

REVIEW_PERMISSION = "recordings.review_recording"


def is_reviewer(user) -> bool:
    return (
        not isinstance(user, ApplicationPrincipal)
        and getattr(user, "is_authenticated", False)
        and user.is_active
        and user.has_perm(REVIEW_PERMISSION)
    )


def _reviewed_applications(user):
    return Application.objects.all() if user.is_superuser else user.reviewed_applications.all()


def _audit(*, request, action, object_id, application=None, outcome=AuditOutcome.ALLOWED, details=None, actor=None):
    audit_record_or_refuse(
        action=action,
        object_type="recording",
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
    _audit(
        request=request,
        action=action,
        object_id=object_id or "-",
        outcome=AuditOutcome.DENIED,
        application=getattr(user, "application", None),
    )
    raise Forbidden("Only recording reviewers may do this.", code="not_a_reviewer")


def recordings_listed(*, request) -> None:
    _audit(request=request, action="recording.list", object_id="-")


def recording_viewed(*, request, recording: Recording) -> None:
    _audit(request=request, action="recording.view", object_id=recording.pk, application=recording.room.application)


def recording_playback(*, request, recording: Recording) -> tuple[str, datetime]:
    """A URL valid for at most 5 minutes, audited first; never stored, never logged."""
    if recording.deleted_at is not None or not recording.location or recording.status != "complete":
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
    _audit(request=request, action="audit.list", object_id=object_id or "-")
    events = AuditEvent.objects.filter(application__in=scope)
    if object_id:
        events = events.filter(object_id=object_id)
    if action:
        events = events.filter(action=action)
    return events
