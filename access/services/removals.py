"""Removing participants: an identity barred from a room (removed by the application, or its
link revoked) gets no token, is disconnected, and is disconnected again if it connects anyway.

The bar is a ParticipantRemoval row, so the provider removal is retried (a Celery task per try,
re-rung by a periodic sweep) until it succeeds or the room closes, whatever happens to workers.
"""

from __future__ import annotations

import logging
import random
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

import providers
from access.models import Invitation, ParticipantRemoval, RemovalReason
from access.roles import role_grants
from core.audit import SYSTEM, AuditContext
from core.errors import Conflict, ConveneError, Forbidden
from core.orm_bypass import desc, table
from core.services import audit_record_on
from providers.base import NeutralEvent, ProviderError, ProviderNotFound, TrackSource
from rooms.models import ParticipantSession, Room, RoomStatus
from rooms.selectors import participant_ids_connected

logger = logging.getLogger(__name__)


def participant_remove_at_provider(*, room: Room, identity: str) -> bool:
    """Disconnect one identity from the media room. True when it is confirmed gone (removed, or
    was not connected); False when the provider could not be reached."""
    try:
        providers.get(room.provider).remove_participant(
            room=room.as_provider_ref(),
            identity=identity,
            connection_ids=participant_ids_connected(room_id=room.pk, identity=identity),
        )
    except ProviderNotFound:
        return True
    except ProviderError as exc:
        logger.warning("could not remove participant room=%s error=%s", room.pk, exc)
        return False
    return True


def participant_remove(*, room: Room, identity: str, audit: AuditContext = SYSTEM) -> bool:
    """Bar an identity from a room (its links are revoked, no token is minted for it) and
    disconnect it. Returns whether the provider confirmed it is not connected (False when the
    provider could not be reached; the removal is then retried in the background)."""
    with transaction.atomic():
        Invitation.objects.filter(room=room, identity=identity, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        removal = participant_bar(room=room, identity=identity, reason=RemovalReason.REMOVED, audit=audit)
    return participant_removal_attempt(removal=removal)


def participant_bar(*, room: Room, identity: str, reason: str, audit: AuditContext = SYSTEM) -> ParticipantRemoval:
    """The identity's bar from the room, created or made pending again; audited. A removal by
    the application outranks an earlier revocation (its refusal names the removal)."""
    now = timezone.now()
    pending = {"requested_at": now, "done_at": None, "next_attempt_at": now}
    removal, created = ParticipantRemoval.objects.select_for_update().get_or_create(
        room=room, identity=identity, lifted_at=None, defaults={"reason": reason, **pending}
    )
    Room.objects.filter(pk=room.pk, has_barred_participants=False).update(has_barred_participants=True)
    room.has_barred_participants = True
    if not created:
        if reason == RemovalReason.REMOVED:
            pending["reason"] = reason
        ParticipantRemoval.objects.filter(pk=removal.pk).update(**pending, updated_at=now)
        removal.refresh_from_db()
    _audit_removal(removal, audit=audit, details={"reason": reason})
    return removal


def _audit_removal(removal: ParticipantRemoval, *, audit: AuditContext, details: dict) -> None:
    audit_record_on(
        removal.room, action="participant.remove", audit=audit, details={"identity": removal.identity, **details}
    )


_JOIN_EVENT = AuditContext.system("join_event")  # a barred identity's join event renews its removal
_ACTIVE_BAR_FIRST = (desc("lifted_at", nulls_first=True),)


def participant_removal_renew(*, room: Room, identity: str) -> ParticipantRemoval | None:
    """A join event of an identity: if it is barred from the room (it connected with a token
    minted before its removal or revocation), make its removal pending again and have it carried
    out after this transaction commits. Returns the removal, or None when it is not barred."""
    # Every join event asks this: one prepared statement (core.orm_bypass), not the ORM's query building.
    # The active bar (lifted_at NULL) sorts first; when the first is lifted, there is none.
    removal = table(ParticipantRemoval).get(lock=True, room=room, identity=identity, order_by=_ACTIVE_BAR_FIRST)
    if removal is None or removal.lifted_at is not None:
        return None
    now = timezone.now()
    ParticipantRemoval.objects.filter(pk=removal.pk).update(
        requested_at=now, done_at=None, next_attempt_at=now, updated_at=now
    )
    removal.room = room
    _audit_removal(removal, audit=_JOIN_EVENT, details={"reason": removal.reason, "trigger": "rejoined"})
    logger.info("barred participant connected; removing room=%s removal=%s", room.pk, removal.pk)
    from access.tasks import remove_participant

    transaction.on_commit(lambda: remove_participant.apply_async((str(removal.pk),)), robust=True)
    return removal


def participant_removal_renew_on_join(*, room: Room, participant: ParticipantSession | None) -> None:
    """A barred identity that connects anyway, with a token minted before its removal or before
    its link was revoked, is removed again after this transaction commits. Runs after
    rooms' participant_joined, which closes a closed room at the provider again instead."""
    if participant is None or participant.left_at is not None or room.status == RoomStatus.CLOSED:
        return
    if not room.has_barred_participants:  # the room row is locked by this transaction: no bar can appear
        return
    if participant.invitation is not None and participant.invitation.revoked_at is None:
        return  # an active link: its identity is not barred (a bar revokes the identity's links)
    participant_removal_renew(room=room, identity=participant.identity)


def participant_removal_retry(*, removal_id: str) -> bool | None:
    """The background try of a pending removal (access.tasks.remove_participant). None when there
    is nothing to do: carried out, lifted or deleted since."""
    removal = (
        ParticipantRemoval.objects.select_related("room").filter(pk=removal_id, done_at=None, lifted_at=None).first()
    )
    return None if removal is None else participant_removal_attempt(removal=removal)


def participant_removal_attempt(*, removal: ParticipantRemoval) -> bool:
    """One try at disconnecting a barred identity; records the outcome. True when it is confirmed
    gone. On failure the next try is scheduled with backoff, unless the room is closed: its close
    at the provider disconnects everyone (rooms_sweep_windows retries that)."""
    requested_at, room = removal.requested_at, removal.room
    removed = participant_remove_at_provider(room=room, identity=removal.identity)
    now = timezone.now()
    outcome: dict = {"attempts": F("attempts") + 1, "updated_at": now}
    if removed:
        outcome.update(done_at=now, last_error="")
    elif Room.objects.filter(pk=room.pk, status=RoomStatus.CLOSED).exists():
        outcome.update(done_at=now, last_error="room closed before the participant could be removed")
    else:
        delay = _removal_retry_delay(removal.attempts + 1)
        outcome.update(next_attempt_at=now + timedelta(seconds=delay), last_error="media server unreachable")
    # requested_at: a join event since this attempt started made it pending again; leave it so.
    ParticipantRemoval.objects.filter(pk=removal.pk, requested_at=requested_at, done_at=None).update(**outcome)
    return removed


def _removal_retry_delay(attempt: int) -> float:
    """Exponential backoff with jitter, capped (CONVENE_REMOVAL_RETRY_MAX_SECONDS)."""
    cap = min(settings.CONVENE_REMOVAL_RETRY_MAX_SECONDS, settings.CONVENE_REMOVAL_RETRY_BASE_SECONDS * 2**attempt)
    return random.uniform(cap / 2, cap)  # noqa: S311 (jitter, not security)


def participant_removals_due(*, now: datetime | None = None, lease: timedelta = timedelta(minutes=2)) -> list[str]:
    """Pending removals whose next try is due, leased so that a second sweep does not enqueue
    them again while their task waits for a worker; removals of rooms closed meanwhile are
    settled (the room's close disconnects everyone)."""
    now = now or timezone.now()
    pending = ParticipantRemoval.objects.filter(done_at=None, lifted_at=None)
    pending.filter(room__status=RoomStatus.CLOSED).update(
        done_at=now, last_error="room closed before the participant could be removed", updated_at=now
    )
    with transaction.atomic():
        due = list(
            pending.select_for_update(skip_locked=True)
            .filter(next_attempt_at__lte=now)
            .order_by("next_attempt_at")
            .values_list("pk", flat=True)[:1000]
        )
        ParticipantRemoval.objects.filter(pk__in=due).update(next_attempt_at=now + lease, updated_at=now)
    return [str(pk) for pk in due]


def participant_assert_admitted(
    *, room: Room, identity: str, readmit: bool, audit: AuditContext, invitation: bool
) -> None:
    """Refuse a link or token for a barred identity, or lift the bar when the application says
    so explicitly (`readmit`). One read when the identity is not barred (the common case)."""
    removal = ParticipantRemoval.objects.filter(room=room, identity=identity, lifted_at=None).first()
    if removal is None:
        return
    if readmit:
        with transaction.atomic():
            now = timezone.now()
            ParticipantRemoval.objects.filter(pk=removal.pk, lifted_at=None).update(lifted_at=now, updated_at=now)
            audit_record_on(
                room,
                action="participant.readmit",
                audit=audit,
                details={"identity": identity, "reason": removal.reason},
            )
        return
    if invitation:
        raise Conflict(
            'This identity was removed from the room; pass "readmit": true to let it in again.',
            code="readmit_required",
            details={"identity": identity, "reason": removal.reason},
        )
    raise participant_refusal(removal)


def participant_refusal(removal: ParticipantRemoval) -> ConveneError:
    if removal.reason == RemovalReason.LINK_REVOKED:
        return Conflict("This identity's access to the room was revoked.", code="identity_revoked")
    return Forbidden("This participant was removed from the room.", code="participant_removed")


_ROLE_ENFORCEMENT = AuditContext.system("role_enforcement")  # disconnects a publish beyond the role


def participant_publish_check(*, room: Room, event: NeutralEvent) -> None:
    """A track published by a connection whose role may not publish it: disconnect that
    connection after this transaction commits. Only for providers that cannot refuse the publish
    themselves (Janus: its tokens carry no permissions), so this acts after the fact. A
    connection Convene has not yet tied to a role (its join event not applied yet) is left alone."""
    provider = providers.get(room.provider)
    if provider.capabilities.publish_permissions or event.participant is None or event.track is None:
        return None
    participant = (
        ParticipantSession.objects.filter(call_session__room=room, provider_participant_id=event.participant.sid)
        .exclude(role="")
        .order_by("-created_at")
        .first()
    )
    if participant is None or participant.role not in settings.CONVENE_ROLES:
        return None
    grants = role_grants(participant.role)
    source = event.track.source
    if grants.can_publish and (
        source == TrackSource.UNKNOWN or not grants.publish_sources or source in grants.publish_sources
    ):
        return None
    logger.warning("publish beyond role; disconnecting room=%s role=%s", room.pk, participant.role)
    audit_record_on(
        room,
        action="participant.disconnect",
        audit=_ROLE_ENFORCEMENT,
        details={"identity": participant.identity, "role": participant.role, "source": source},
    )
    ref, sid, identity = room.as_provider_ref(), participant.provider_participant_id, participant.identity

    def disconnect() -> None:
        try:
            provider.disconnect(room=ref, participant_sid=sid, identity=identity)
        except ProviderError as exc:
            logger.warning("role enforcement disconnect failed room=%s error=%s", room.pk, exc)

    transaction.on_commit(disconnect, robust=True)
    return None
