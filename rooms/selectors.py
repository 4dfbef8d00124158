"""Reads of rooms, always scoped to the calling application, and the joinability rule."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Count, QuerySet

from access.models import Invitation
from core.errors import ConveneError, Gone, NotFound
from core.models import Application
from rooms.models import PERSON_KINDS, CallSession, ParticipantSession, Room, RoomStatus


def room_list(*, application: Application, status: str | None = None, external_id: str | None = None) -> QuerySet[Room]:
    rooms = Room.objects.filter(application=application)
    if status:
        rooms = rooms.filter(status=status)
    if external_id:
        rooms = rooms.filter(external_id=external_id)
    return rooms


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
    sessions = CallSession.objects.filter(room__application=application).select_related("room")
    if room_id:
        sessions = sessions.filter(room_id=room_id)
    if started_after:
        sessions = sessions.filter(started_at__gte=started_after)
    if started_before:
        sessions = sessions.filter(started_at__lt=started_before)
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


@dataclass(frozen=True)
class Attendance:
    invitation_id: str | None
    identity: str
    display_name: str
    role: str
    joined: bool
    first_joined_at: datetime | None
    last_left_at: datetime | None
    present_now: bool
    connections: int
    total_seconds: int
    no_show: bool


def _present_seconds(intervals: list[tuple[datetime, datetime]]) -> int:
    """Time present, counting overlapping connections (a reconnect) once."""
    total, current_start, current_end = 0.0, None, None
    for start, end in sorted(intervals):
        if current_end is None or start > current_end:
            if current_end is not None:
                total += (current_end - current_start).total_seconds()
            current_start, current_end = start, end
        else:
            current_end = max(current_end, end)
    if current_end is not None:
        total += (current_end - current_start).total_seconds()
    return int(total)


def _attendance_row(*, invitation, identity, display_name, role, connections, now, no_show_after) -> Attendance:
    joined = [c for c in connections if c.joined_at is not None]
    left = [c.left_at for c in joined if c.left_at is not None]
    present_now = any(c.left_at is None for c in joined)
    return Attendance(
        invitation_id=str(invitation.pk) if invitation else None,
        identity=identity,
        display_name=display_name,
        role=role,
        joined=bool(joined),
        first_joined_at=min((c.joined_at for c in joined), default=None),
        last_left_at=None if present_now else max(left, default=None),
        present_now=present_now,
        connections=len(joined),
        total_seconds=_present_seconds([(c.joined_at, c.left_at or now) for c in joined]),
        no_show=invitation is not None and not joined and now >= no_show_after,
    )


def room_attendance(*, room: Room, now: datetime) -> list[Attendance]:
    """Per join link: did that person come, when, for how long; a no-show once the window start
    plus the grace has passed with nobody joining on the link. People without a link (tokens
    issued to an app's users) follow, one row per identity."""
    connections = list(
        ParticipantSession.objects.filter(call_session__room=room, connection_aborted=False, kind__in=PERSON_KINDS)
    )
    by_invitation, by_identity = defaultdict(list), defaultdict(list)
    for connection in connections:
        if connection.invitation_id:
            by_invitation[connection.invitation_id].append(connection)
        else:
            by_identity[connection.identity].append(connection)
    no_show_after = (room.opens_at or room.created_at) + timedelta(minutes=settings.CONVENE_NO_SHOW_GRACE_MINUTES)
    rows = [
        _attendance_row(
            invitation=link,
            identity=link.identity,
            display_name=link.display_name,
            role=link.role,
            connections=by_invitation[link.pk],
            now=now,
            no_show_after=no_show_after,
        )
        for link in Invitation.objects.filter(room=room).order_by("created_at")
    ]
    for identity, own in sorted(by_identity.items()):
        rows.append(
            _attendance_row(
                invitation=None,
                identity=identity,
                display_name=own[0].display_name,
                role=own[0].role,
                connections=own,
                now=now,
                no_show_after=no_show_after,
            )
        )
    return rows
