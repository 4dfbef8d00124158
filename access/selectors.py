"""Reads of join links, always scoped to the calling application."""

from __future__ import annotations

from django.db import connections, router
from django.db.models import QuerySet

from access.models import Invitation, hash_link_secret
from core.errors import Forbidden, NotFound
from core.models import Application
from core.orm_bypass import ModelRows, prepared_cursor
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


def invitation_by_secret(*, secret: str) -> Invitation:
    """The link a secret opens (any state; callers decide what a revoked link may still do), with
    its room and the room's application loaded; a deactivated application's links open nothing
    (403 application_inactive), as its API keys do not, as select_related("room", "room__application")
    would. One hand-written SELECT: building this query through the ORM was about a quarter of
    a redemption's CPU."""
    db = router.db_for_read(Invitation)
    connection = connections[db]
    quote = connection.ops.quote_name
    sql = (
        f"SELECT {_LINK_ROWS.columns(connection)} "  # noqa: S608 (names from the models, the value bound)
        f"FROM {quote(Invitation._meta.db_table)} i "
        f"INNER JOIN {quote(Room._meta.db_table)} r ON r.id = i.room_id "
        f"INNER JOIN {quote(Application._meta.db_table)} a ON a.id = r.application_id "
        "WHERE i.secret_hash = %s"
    )
    with prepared_cursor(db) as cursor:
        cursor.execute(sql, [hash_link_secret(secret)])
        row = cursor.fetchone()
    if row is None:
        raise NotFound("This link does not exist.")
    invitation, room, application = _LINK_ROWS.read(connection, row)
    if not application.is_active:
        raise Forbidden("This link's application has been deactivated.", code="application_inactive")
    room.application = application
    invitation.room = room
    return invitation
