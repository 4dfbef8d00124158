"""Reads of join links: a room's links (the caller reaches the room through its application), the
link a secret opens (the public join endpoints), and the attendance per link. No writes here."""

from __future__ import annotations

import functools
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connections, router
from django.db.models import QuerySet

from access.models import Invitation, hash_link_secret
from core.errors import Forbidden, NotFound
from core.models import Application
from core.orm_bypass import ModelRows, Uses, columns_of, desc, hand_written, prepared_cursor, table
from rooms.models import PERSON_KINDS, ParticipantSession, Room


def invitation_get(*, application: Application, invitation_id) -> Invitation:
    invitation = (
        Invitation.objects.select_related("room", "room__application")
        .filter(room__application=application, pk=invitation_id)
        .first()
    )
    if invitation is None:
        raise NotFound("Invitation not found.")
    return invitation


def invitation_list(*, room: Room) -> QuerySet[Invitation]:
    return Invitation.objects.filter(room=room)


def invitation_joined_with(*, room: Room, identity: str) -> Invitation | None:
    """The link this identity joined with: the active one, else the latest revoked one. Asked by
    the event flow (rooms.services.sessions' `link_for`) for each connection not yet tied to one."""
    return table(Invitation).get(room=room, identity=identity, order_by=_ACTIVE_LINK_FIRST)


_ACTIVE_LINK_FIRST = (desc("revoked_at", nulls_first=True), desc("created_at"))


_LINK_ROWS = ModelRows((Invitation, "i"), (Room, "r"), (Application, "a"))
_LINK_BY_SECRET = hand_written(
    "access.invitation_by_secret",
    Uses(Invitation, ("room", "secret_hash")),
    Uses(Room, ("id", "application")),
    Uses(Application, ("id",)),
)


def invitation_by_secret(*, secret: str) -> Invitation:
    """The link a secret opens (any state; callers decide what a revoked link may still do), with
    its room and the room's application loaded; a deactivated application's links open nothing
    (403 application_inactive), as its API keys do not, as select_related("room", "room__application")
    would. One hand-written SELECT (core.orm_bypass), on every redemption."""
    db = router.db_for_read(Invitation)
    connection = connections[db]
    with prepared_cursor(db) as cursor:
        cursor.execute(_link_by_secret_sql(connection.alias), [hash_link_secret(secret)])
        row = cursor.fetchone()
    if row is None:
        raise NotFound("This link does not exist.")
    invitation, room, application = _LINK_ROWS.read(connection, row)
    if not application.is_active:
        raise Forbidden("This link's application has been deactivated.", code="application_inactive")
    room.application = application
    invitation.room = room
    return invitation


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


@functools.cache
def _link_by_secret_sql(alias: str) -> str:
    connection = connections[alias]
    quote = connection.ops.quote_name
    i, r, a = (columns_of(use.model, use.fields, connection) for use in _LINK_BY_SECRET.uses)
    return (
        f"SELECT {_LINK_ROWS.columns(connection)} "  # noqa: S608 (names from the models, the value bound)
        f"FROM {quote(Invitation._meta.db_table)} i "
        f"INNER JOIN {quote(Room._meta.db_table)} r ON r.{r['id']} = i.{i['room']} "
        f"INNER JOIN {quote(Application._meta.db_table)} a ON a.{a['id']} = r.{r['application']} "
        f"WHERE i.{i['secret_hash']} = %s"
    )
