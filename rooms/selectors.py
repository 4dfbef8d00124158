"""Reads of rooms, always scoped to the calling application, and the joinability rule."""

from __future__ import annotations

from datetime import datetime

from django.db.models import Count, QuerySet

from core.errors import ConveneError, Gone, NotFound
from core.models import Application
from core.selectors import filter_given
from rooms.models import CallSession, ParticipantSession, Room, RoomStatus


def room_list(*, application: Application, status: str | None = None, external_id: str | None = None) -> QuerySet[Room]:
    return filter_given(Room.objects.filter(application=application), status=status, external_id=external_id)


def room_get(*, application: Application, room_id) -> Room:
    """Another application's room is indistinguishable from a missing one (404, never 403)."""
    try:
        room = Room.objects.get(application=application, pk=room_id)
    except Room.DoesNotExist:
        raise NotFound("Room not found.") from None
    room.application = application  # the caller's row: no second query when it is needed
    return room


def participant_ids_connected(*, room_id, identity: str) -> list[str]:
    """The provider participant ids of an identity's connections that are open in our records."""
    return list(
        ParticipantSession.objects.filter(
            call_session__room_id=room_id, identity=identity, left_at__isnull=True
        ).values_list("provider_participant_id", flat=True)
    )


def room_assert_joinable(*, room: Room, now: datetime) -> None:
    """Raise the error a joiner should see when the room cannot be joined right now."""
    if room.status == RoomStatus.CLOSED:
        raise Gone("This room is closed.", code="room_closed")
    allowed_from = room.join_allowed_from()
    if allowed_from is not None and now < allowed_from:
        raise ConveneError(
            "This room cannot be joined yet.",
            code="too_early",
            status_code=403,
            details={"opens_at": room.opens_at.isoformat(), "join_allowed_from": allowed_from.isoformat()},
        )
    if room.closes_at is not None and now >= room.closes_at:
        raise Gone(
            "This room's time window has ended.", code="too_late", details={"closes_at": room.closes_at.isoformat()}
        )


def session_list(
    *,
    application: Application,
    room_id=None,
    started_after: datetime | None = None,
    started_before: datetime | None = None,
) -> QuerySet[CallSession]:
    sessions = filter_given(
        CallSession.objects.filter(room__application=application).select_related("room"),
        room_id=room_id,
        started_at__gte=started_after,
        started_at__lt=started_before,
    )
    return sessions.annotate(participant_count=Count("participants"))


def session_get(*, application: Application, session_id) -> CallSession:
    session = (
        CallSession.objects.filter(room__application=application, pk=session_id)
        .select_related("room")
        .prefetch_related("participants__tracks")
        .first()
    )
    if session is None:
        raise NotFound("Session not found.")
    return session
