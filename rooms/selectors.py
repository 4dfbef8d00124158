"""Reads of rooms, always scoped to the calling application, and the joinability rule."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from core.errors import ConveneError, Gone, NotFound
from core.models import Application
from rooms.models import Room, RoomStatus


def room_list(*, application: Application, status: str | None = None, external_id: str | None = None) -> QuerySet[Room]:
    rooms = Room.objects.filter(application=application)
    if status:
        rooms = rooms.filter(status=status)
    if external_id:
        rooms = rooms.filter(external_id=external_id)
    return rooms


def room_get(*, application: Application, room_id) -> Room:
    """Another application's room is indistinguishable from a missing one (404, never 403)."""
    room = Room.objects.filter(application=application, pk=room_id).first()
    if room is None:
        raise NotFound("Room not found.")
    return room


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
