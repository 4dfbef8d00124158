"""Who may review recordings, and one service per reviewer action, which owns the rule: scope
check, fetch within the scope, audit row first, then act. The API and the admin call the same ones.

Reviewers (core.selectors) are staff users with the `recordings.review_recording` permission (the
"Recording reviewers" group), limited to the applications they are listed on. Nobody has an
implicit all-applications scope, superusers included: seeing an application's recordings always
means being listed as its reviewer, an explicit (and audited) change. An application's API key may
list and read its own recordings' metadata, never the media. Every list, view, playback URL, download
and delete is audited before it happens, denials too, each row under the application it concerns
(so that application's reviewers see it in the audit log); if the audit row cannot be written the
action fails (503 audit_unavailable) and nothing happens.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path

from django.core import signing
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils import timezone

from core.audit import AuditContext
from core.auth import ApplicationPrincipal
from core.errors import Forbidden, NotFound
from core.models import ActorType, Application, AuditOutcome
from core.selectors import applications_of, is_reviewer, reviewed_applications
from core.services import audit_record_each_or_refuse, audit_record_or_refuse
from recordings import storage
from recordings.models import Recording, RecordingStatus
from recordings.selectors import recording_get, recording_list
from recordings.services.retention import recording_delete, recording_legal_hold_set


def review_scope(*, caller, audit: AuditContext, action: str, object_id: str = "", media: bool = False):
    """The applications whose recordings `caller` (request.user) may see for `action`. An
    application key is scoped to itself and never gets media; anyone else must be a reviewer. A
    refusal is audited."""
    if isinstance(caller, ApplicationPrincipal) and not media:
        return Application.objects.filter(pk=caller.application.pk)
    if is_reviewer(caller):
        return reviewed_applications(caller)
    audit_record_each_or_refuse(
        _refused_applications(caller, object_id),
        audit=audit,
        action=action,
        object_type="recording",
        object_id=object_id or "-",
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
    return applications_of(user)


def _scoped(*, caller, audit: AuditContext, action: str, recording_id, media: bool = False) -> Recording:
    """The recording, if `caller` may do `action` to it: the scope check (refusals audited), then
    the fetch within the scope (404 outside it, as for an id that is not a recording's)."""
    scope = review_scope(caller=caller, audit=audit, action=action, object_id=str(recording_id), media=media)
    try:
        return recording_get(applications=scope, recording_id=recording_id)
    except ValidationError:  # not a UUID: the admin's URLs take any text
        raise NotFound("Recording not found.") from None


def recording_review_list(*, caller, audit: AuditContext, room_id=None, status=None) -> QuerySet[Recording]:
    """The recordings `caller` may see, optionally of one room or status; audited first."""
    scope = review_scope(caller=caller, audit=audit, action="recording.list")
    audit_record_each_or_refuse(scope, audit=audit, action="recording.list", object_type="recording", object_id="-")
    return recording_list(applications=scope, room_id=room_id, status=status)


def recording_review_view(*, caller, audit: AuditContext, recording_id) -> Recording:
    """One recording's details (the API's detail, the admin's change page); audited first."""
    recording = _scoped(caller=caller, audit=audit, action="recording.view", recording_id=recording_id)
    _audit_view(recording, audit=audit)
    return recording


def _audit_view(recording: Recording, *, audit: AuditContext) -> None:
    audit_record_or_refuse(recording, audit=audit, action="recording.view")


def recording_review_playback(*, caller, audit: AuditContext, recording_id) -> tuple[str, datetime]:
    """A URL to play the recording, valid for at most 5 minutes, audited first; never stored, never
    logged. Reviewers only."""
    recording = _scoped(caller=caller, audit=audit, action="recording.playback", recording_id=recording_id, media=True)
    return _playback(recording, caller=caller, audit=audit)


def _playback(recording: Recording, *, caller, audit: AuditContext) -> tuple[str, datetime]:
    if recording.deleted_at is not None or not recording.location or recording.status != RecordingStatus.COMPLETE:
        audit_record_or_refuse(
            recording,
            audit=audit,
            action="recording.playback",
            outcome=AuditOutcome.DENIED,
            details={"reason": "no media"},
        )
        raise Forbidden("This recording has no media to play.", code="no_media")
    audit_record_or_refuse(recording, audit=audit, action="recording.playback")
    url = storage.for_recording(recording).playback_url(recording, reviewer_id=str(caller.pk))
    return url, timezone.now() + storage.playback_ttl()


def recording_review_page(*, caller, audit: AuditContext, recording_id) -> tuple[Recording, str | None]:
    """The admin's review page: the recording (a view) and, when it has media, a playback URL (a
    playback); each audited first. Reviewers only."""
    recording = _scoped(caller=caller, audit=audit, action="recording.view", recording_id=recording_id, media=True)
    _audit_view(recording, audit=audit)
    if recording.status != RecordingStatus.COMPLETE or recording.deleted_at is not None or not recording.location:
        return recording, None
    url, _ = _playback(recording, caller=caller, audit=audit)
    return recording, url


def recording_review_download(*, audit: AuditContext, token: str, recording_id) -> Path:
    """The file a playback URL of a locally stored recording points at, for the reviewer the
    URL's token was made for (403 link_expired if forged, expired or for another recording);
    audited first, as that reviewer."""
    try:
        reviewer_id = storage.download_token_check(token, str(recording_id))
    except signing.BadSignature:
        raise Forbidden("This link is invalid or has expired.", code="link_expired") from None
    recording = recording_get(applications=Application.objects.all(), recording_id=recording_id)
    if recording.deleted_at is not None or recording.storage != "file":
        raise NotFound("Recording not found.")
    audit_record_or_refuse(recording, audit=audit, action="recording.download", actor=(ActorType.USER, reviewer_id))
    return storage.for_recording(recording).path(recording.location)


def recording_review_delete(*, caller, audit: AuditContext, recording_id) -> Recording:
    """Delete a recording on a reviewer's demand (recording_delete: audited first, refused under
    legal hold or while it runs). Reviewers only."""
    recording = _scoped(caller=caller, audit=audit, action="recording.delete", recording_id=recording_id, media=True)
    return recording_delete(recording=recording, reason="deleted_by_reviewer", audit=audit)


def recording_review_legal_hold(
    *, caller, audit: AuditContext, recording_id, legal_hold: bool, reason: str
) -> Recording:
    """Set or release the legal hold (recording_legal_hold_set: audited first), for the
    application's key or one of its reviewers: the API and the admin's change page."""
    recording = _scoped(caller=caller, audit=audit, action="recording.legal_hold", recording_id=recording_id)
    return recording_legal_hold_set(recording=recording, legal_hold=legal_hold, reason=reason, audit=audit)
