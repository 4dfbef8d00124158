"""The explicit table from neutral event kind to the services that apply it, in order.

A kind missing here is stored and marked ignored. Handlers receive the locked Room and the event
and run inside the processing transaction. A handler returns None when it applied the event, or
EventIgnored(reason) when the event does not concern anything Convene keeps (the row is then
ignored). Nothing here decides what an event means: the services named in the table do.
"""

from __future__ import annotations

from collections.abc import Callable

from access.services import removals
from providers.base import EventIgnored, EventKind, NeutralEvent
from recordings.services import recording
from rooms.models import Room
from rooms.services import sessions

Handler = Callable[..., EventIgnored | None]

HANDLERS: dict[str, tuple[Handler, ...]] = {
    EventKind.ROOM_STARTED: (sessions.session_room_started,),
    EventKind.ROOM_FINISHED: (sessions.session_room_finished,),
    EventKind.PARTICIPANT_JOINED: (sessions.participant_joined, recording.recording_gate_on_join),
    EventKind.PARTICIPANT_LEFT: (sessions.participant_left,),
    EventKind.PARTICIPANT_ABORTED: (sessions.participant_connection_aborted,),
    EventKind.TRACK_PUBLISHED: (sessions.track_published, removals.participant_publish_check),
    EventKind.TRACK_UNPUBLISHED: (sessions.track_unpublished,),
    EventKind.RECORDING_STARTED: (recording.recording_apply_event,),
    EventKind.RECORDING_UPDATED: (recording.recording_apply_event,),
    EventKind.RECORDING_ENDED: (recording.recording_apply_event,),
}


def handlers_for(event: NeutralEvent) -> tuple[Handler, ...]:
    return HANDLERS.get(event.kind, ())


def apply(chain: tuple[Handler, ...], *, room: Room, event: NeutralEvent) -> EventIgnored | None:
    """Run each handler in order; the first one that ignores the event stops the chain."""
    for handler in chain:
        ignored = handler(room=room, event=event)
        if ignored is not None:
            return ignored
    return None
