"""Reads of join links, always scoped to the calling application."""

from __future__ import annotations

import functools

from django.db import connections, router
from django.db.models import QuerySet

from access.models import Invitation, hash_link_secret
from core.errors import Forbidden, NotFound
from core.models import Application
from core.orm_bypass import ModelRows, Uses, columns_of, hand_written, prepared_cursor
from rooms.models import Room


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
