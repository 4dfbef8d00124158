"""One-line outbox calls for the services whose changes webhooks out report. Each runs inside
the caller's transaction (the change and its delivery rows commit or roll back together) and
costs one cached subscription check when nobody listens. Imports nothing of the callers' apps, so
it decides nothing about their rows: the caller knows its own vocabulary (a status, a decision)
and calls the function of the event that happened, with the row as it now is."""

from __future__ import annotations

from outbound.catalogue import EventType, consent_object, participant_object, recording_object, room_object
from outbound.services.outbox import webhook_event_emit


def room_opened(room) -> None:
    """A room has become joinable (created open, or its window reached)."""
    webhook_event_emit(room=room, event_type=EventType.ROOM_OPENED)


def room_live(room) -> None:
    """A call session started (the room went live)."""
    webhook_event_emit(room=room, event_type=EventType.ROOM_LIVE)


def room_closed(room) -> None:
    """The room was closed; `room` carries its closed status, time and reason."""
    data = room_object(room)
    webhook_event_emit(room=room, event_type=EventType.ROOM_CLOSED, data=lambda: data, occurred_at=room.closed_at)


def participant_joined(room, participant) -> None:
    _participant_event(room, participant, EventType.PARTICIPANT_JOINED, at=participant.joined_at)


def participant_left(room, participant) -> None:
    _participant_event(room, participant, EventType.PARTICIPANT_LEFT, at=participant.left_at)


def _participant_event(room, participant, event_type: EventType, *, at) -> None:
    webhook_event_emit(room=room, event_type=event_type, data=lambda: participant_object(participant), occurred_at=at)


def consent_recorded(room, event, *, granted: bool) -> None:
    event_type = EventType.CONSENT_GRANTED if granted else EventType.CONSENT_WITHDRAWN
    webhook_event_emit(
        room=room, event_type=event_type, data=lambda: consent_object(event), occurred_at=event.created_at
    )


def recording_reported(recording, *, event_type: EventType) -> None:
    """recording.started / ready / failed: the caller maps its status to the event."""
    webhook_event_emit(room=recording.room, event_type=event_type, data=lambda: recording_object(recording))


def recording_deleted(recording) -> None:
    webhook_event_emit(
        room=recording.room,
        event_type=EventType.RECORDING_DELETED,
        data=lambda: recording_object(recording),
        occurred_at=recording.deleted_at,
    )
