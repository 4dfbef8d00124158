"""The explicit table from neutral event kind to the services that apply it, in order.

A kind missing here is stored and marked ignored. Handlers receive the locked Room and the event
and run inside the processing transaction. A handler returns None when it applied the event, or
EventIgnored(reason) when the event does not concern anything Convene keeps (the row is then
ignored). Nothing here decides what an event means: the services named in the table do.

This is the top of the event flow, so it composes apps that do not know each other: rooms'
session services are given access's join-link lookup (`link_for`), and a join is followed by
access's check for a barred identity.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from access.selectors import invitation_joined_with
from access.services import removals
from providers.base import EventIgnored, EventKind, NeutralEvent
from recordings.services import gate, recording
from rooms.models import Room
from rooms.services import sessions

Handler = Callable[..., EventIgnored | None]


def participant_joined(*, room: Room, event: NeutralEvent) -> None:
    """rooms records the connection (closing a closed room again), then access removes a barred
    identity again: the order the event flow always had."""
    participant = sessions.participant_joined(room=room, event=event, link_for=invitation_joined_with)
    removals.participant_removal_renew_on_join(room=room, participant=participant)


def _linked(handler: Handler) -> Handler:
    return partial(handler, link_for=invitation_joined_with)


HANDLERS: dict[str, tuple[Handler, ...]] = {
    EventKind.ROOM_STARTED: (sessions.session_room_started,),
    EventKind.ROOM_FINISHED: (sessions.session_room_finished,),
    EventKind.PARTICIPANT_JOINED: (participant_joined, gate.recording_gate_on_join),
    EventKind.PARTICIPANT_LEFT: (_linked(sessions.participant_left),),
    EventKind.PARTICIPANT_ABORTED: (_linked(sessions.participant_connection_aborted),),
    EventKind.TRACK_PUBLISHED: (_linked(sessions.track_published), removals.participant_publish_check),
    EventKind.TRACK_UNPUBLISHED: (_linked(sessions.track_unpublished),),
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
