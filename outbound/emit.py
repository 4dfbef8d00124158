"""One-line outbox calls for the services whose changes webhooks out report. Each runs inside
the caller's transaction (the change and its delivery rows commit or roll back together) and
costs one cached subscription check when nobody listens. Imports nothing of the callers' apps."""

from __future__ import annotations

from outbound.catalogue import EventType, consent_object, participant_object, recording_object, room_object
from outbound.services.outbox import webhook_event_emit

RECORDING_EVENTS = {
    "active": EventType.RECORDING_STARTED,
    "complete": EventType.RECORDING_READY,
    "failed": EventType.RECORDING_FAILED,
    "aborted": EventType.RECORDING_FAILED,
}


def room_opened(room) -> None:
    """A room has become joinable (created open, or its window reached)."""
    if room.status == "open":
        webhook_event_emit(room=room, event_type=EventType.ROOM_OPENED)


def room_live(room) -> None:
    """A call session started (the room went live)."""
    if room.status == "live":
        webhook_event_emit(room=room, event_type=EventType.ROOM_LIVE)


def room_closed(room, *, reason: str, at) -> None:
    data = {**room_object(room), "status": "closed", "closed_at": at.isoformat(), "close_reason": reason}
    webhook_event_emit(room=room, event_type=EventType.ROOM_CLOSED, data=lambda: data, occurred_at=at)


def participant_joined(room, participant) -> None:
    _participant_event(room, participant, EventType.PARTICIPANT_JOINED, at=participant.joined_at)


def participant_left(room, participant) -> None:
    _participant_event(room, participant, EventType.PARTICIPANT_LEFT, at=participant.left_at)


def _participant_event(room, participant, event_type: EventType, *, at) -> None:
    webhook_event_emit(room=room, event_type=event_type, data=lambda: participant_object(participant), occurred_at=at)


def consent_recorded(room, event) -> None:
    event_type = EventType.CONSENT_GRANTED if event.decision == "granted" else EventType.CONSENT_WITHDRAWN
    webhook_event_emit(
        room=room, event_type=event_type, data=lambda: consent_object(event), occurred_at=event.created_at
    )


def recording_status_changed(recording, *, before: str) -> None:
    """recording.started / ready / failed when the status moved into one of those."""
    event_type = RECORDING_EVENTS.get(recording.status)
    if event_type is not None and recording.status != before:
        webhook_event_emit(room=recording.room, event_type=event_type, data=lambda: recording_object(recording))


def recording_deleted(recording) -> None:
    webhook_event_emit(
        room=recording.room,
        event_type=EventType.RECORDING_DELETED,
        data=lambda: recording_object(recording),
        occurred_at=recording.deleted_at,
    )
