"""The explicit table from neutral event kind to the service that applies it.

A kind missing here is stored and marked ignored. Handlers receive the locked Room and the event
and run inside the processing transaction.
"""

from __future__ import annotations

from collections.abc import Callable

from providers.base import EventKind, NeutralEvent
from rooms.models import Room
from rooms.services import sessions

Handler = Callable[..., object]

HANDLERS: dict[str, Handler] = {
    EventKind.ROOM_STARTED: sessions.session_room_started,
    EventKind.ROOM_FINISHED: sessions.session_room_finished,
    EventKind.PARTICIPANT_JOINED: sessions.participant_joined,
    EventKind.PARTICIPANT_LEFT: sessions.participant_left,
    EventKind.PARTICIPANT_ABORTED: sessions.participant_connection_aborted,
    EventKind.TRACK_PUBLISHED: sessions.track_published,
    EventKind.TRACK_UNPUBLISHED: sessions.track_unpublished,
}


def handler_for(event: NeutralEvent) -> Handler | None:
    return HANDLERS.get(event.kind)


def apply(handler: Handler, *, room: Room, event: NeutralEvent) -> None:
    handler(room=room, event=event)
