"""The consent ledger: publish the notice people agree to (versioned, never edited), and record a
participant's decision, append-only, against the current notice.

A grant needs a room that is not closed (and, through a join link, a link that is neither revoked
nor expired: access.services.consent checks that before calling here); it may complete the
conditions for an automatic recording. A withdrawal is always accepted (a closed room, a revoked or
expired link: the person must always be able to say no and have it on the record) and stops an
active recording at once (after this transaction commits).
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from core.audit import SYSTEM, AuditContext
from core.errors import Conflict, ConveneError, Gone
from core.models import ActorType, Application
from core.services import audit_record_on
from outbound import emit
from recordings.models import ConsentDecision, ConsentEvent, ConsentMethod, ConsentNotice, StopReason
from recordings.selectors import consent_notice_current
from rooms.models import CallSession, Room

logger = logging.getLogger(__name__)


def consent_notice_publish(
    *, application: Application, text: str, audit: AuditContext = SYSTEM
) -> tuple[ConsentNotice, bool]:
    """Publish `text` as the application's next notice version (1, 2, ...): (notice, created).
    The text of the notice in force publishes nothing and returns that notice, so a retried
    request does not void every consent given to it."""
    with transaction.atomic():
        # Serializes numbering per application; the unique (application, version) backs it.
        Application.objects.select_for_update().only("pk").get(pk=application.pk)
        current = consent_notice_current(application=application)
        if current is not None and current.text == text:
            return current, False
        notice = ConsentNotice.objects.create(
            application=application, version=current.version + 1 if current else 1, text=text
        )
        audit_record_on(
            notice,
            action="consent_notice.publish",
            audit=audit,
            details={"version": notice.version, "text_hash": notice.text_hash},
        )
    logger.info("consent notice published application=%s version=%s", application.pk, notice.version)
    return notice, True


def consent_notice_require(*, application: Application, recording_policy: str, **signal) -> None:
    """rooms' room_recordable signal: a room that may be recorded needs a notice to ask consent to;
    without one every consent and every recording would be refused."""
    if consent_notice_current(application=application) is None:
        raise Conflict(
            "A room that may be recorded needs a consent notice: publish one first (POST /api/v1/consent-notices).",
            code="no_consent_notice",
            details={"recording_policy": recording_policy},
        )


def consent_record(
    *,
    room: Room,
    identity: str,
    decision: str,
    method: str,
    notice_version: int | None = None,
    attested_by: str = "",
    invitation: Any = None,
    audit: AuditContext = SYSTEM,
) -> ConsentEvent:
    """Record a decision. `invitation`: the join link (tokens.Invitation) it came through, already
    checked by access (consent_record_by_link)."""
    notice = consent_notice_current(application=room.application)
    if notice is None:
        raise Conflict(
            "This application has no consent notice yet; publish one (POST /api/v1/consent-notices).",
            code="no_consent_notice",
        )
    if decision == ConsentDecision.GRANTED and notice_version is not None and notice_version != notice.version:
        raise Conflict(
            "Consent must be given to the current notice.",
            code="notice_outdated",
            details={"current_version": notice.version},
        )
    if method == ConsentMethod.VERBAL and not attested_by:
        raise ConveneError("Verbal consent needs attested_by: who heard it.", code="attestation_missing")
    with transaction.atomic():
        room = Room.objects.select_for_update().get(pk=room.pk)
        if decision == ConsentDecision.GRANTED and room.is_closed:
            raise Gone("This room is closed: consent can no longer be given.", code="room_closed")
        event = ConsentEvent.objects.create(
            application=room.application,
            room=room,
            identity=identity,
            decision=decision,
            call_session=CallSession.objects.filter(room=room, ended_at__isnull=True).order_by("-started_at").first(),
            invitation=invitation,
            notice=notice,
            notice_version=notice.version,
            notice_hash=notice.text_hash,
            method=method,
            attested_by=attested_by,
            ip=audit.ip,
            user_agent=audit.user_agent[:400],
        )
        audit_record_on(
            room,
            action=f"consent.{decision}",
            audit=audit,
            actor=(ActorType.LINK, str(invitation.pk)) if invitation and method == ConsentMethod.JOIN_PAGE else None,
            details={"identity": identity, "notice_version": notice.version, "method": method},
        )
        emit.consent_recorded(room, event, granted=event.decision == ConsentDecision.GRANTED)
        _recording_follow_consent(room, event)
    return event


def _recording_follow_consent(room: Room, event: ConsentEvent) -> None:
    """A withdrawal stops the room's active recording; a grant may complete the conditions for
    an auto recording."""
    from recordings.services import gate, recording

    if event.decision == ConsentDecision.WITHDRAWN:
        recording.recording_stop_for_room(room=room, reason=StopReason.CONSENT_WITHDRAWN)
    else:
        gate.recording_auto_start_if_ready(room=room)
