"""A link holder's own consent decision (POST /api/v1/join/{secret}/consent): the link's rule here,
then recordings' ledger (recordings.services.consent.consent_record), which owns every other rule."""

from __future__ import annotations

from django.utils import timezone

from access.models import Invitation
from core.audit import SYSTEM, AuditContext
from core.errors import Gone
from recordings.models import ConsentDecision, ConsentEvent, ConsentMethod
from recordings.services.consent import consent_record


def consent_record_by_link(
    *, invitation: Invitation, decision: str, notice_version: int | None = None, audit: AuditContext = SYSTEM
) -> ConsentEvent:
    """Record the decision of the link's holder, for the link's identity. A grant needs a link that
    can still open the room; a withdrawal is always accepted (a revoked or expired link: the person
    must always be able to say no and have it on the record)."""
    if decision == ConsentDecision.GRANTED:
        _check_link_grants(invitation)
    return consent_record(
        room=invitation.room,
        identity=invitation.identity,
        invitation=invitation,
        decision=decision,
        method=ConsentMethod.JOIN_PAGE,
        notice_version=notice_version,
        audit=audit,
    )


def _check_link_grants(invitation: Invitation) -> None:
    """A link that can no longer open the room can no longer give consent for it (the same codes
    as redeeming it); a used-up link still can: its holder is the one who joined with it."""
    if invitation.revoked_at is not None:
        raise Gone("This link has been revoked.", code="link_revoked")
    if invitation.expires_at is not None and timezone.now() >= invitation.expires_at:
        raise Gone("This link has expired.", code="too_late", details={"expires_at": invitation.expires_at.isoformat()})
