"""LiveKit's messages in Convene's terms: webhook events and egress infos become neutral events
and recordings, LiveKit's units (seconds, milliseconds, nanoseconds) become aware UTC datetimes.
Part of the LiveKit provider: nothing outside providers/ imports it."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from livekit.protocol import egress as lk_egress
from livekit.protocol import models as lk_models
from livekit.protocol.models import ParticipantInfo
from livekit.protocol.webhook import WebhookEvent

from providers.base import (
    EventKind,
    EventParticipant,
    EventTrack,
    NeutralEvent,
    ProviderRecording,
    RecordingFile,
    RecordingState,
)


def from_seconds(value: int) -> datetime | None:
    return datetime.fromtimestamp(value, tz=UTC) if value else None


def from_milliseconds(value: int) -> datetime | None:
    return datetime.fromtimestamp(value / 1000, tz=UTC) if value else None


EVENT_KINDS = {
    "room_started": EventKind.ROOM_STARTED,
    "room_finished": EventKind.ROOM_FINISHED,
    "participant_joined": EventKind.PARTICIPANT_JOINED,
    "participant_left": EventKind.PARTICIPANT_LEFT,
    "participant_connection_aborted": EventKind.PARTICIPANT_ABORTED,
    "track_published": EventKind.TRACK_PUBLISHED,
    "track_unpublished": EventKind.TRACK_UNPUBLISHED,
    "egress_started": EventKind.RECORDING_STARTED,
    "egress_updated": EventKind.RECORDING_UPDATED,
    "egress_ended": EventKind.RECORDING_ENDED,
}


def _event_participant(info: lk_models.ParticipantInfo) -> EventParticipant | None:
    if not info.sid and not info.identity:
        return None
    reason = info.disconnect_reason
    return EventParticipant(
        sid=info.sid,
        identity=info.identity,
        display_name=info.name,
        kind=ParticipantInfo.Kind.Name(info.kind).lower(),
        joined_at=from_milliseconds(info.joined_at_ms) or from_seconds(info.joined_at),
        disconnect_reason=lk_models.DisconnectReason.Name(reason) if reason else "",
        attributes=dict(info.attributes),
    )


def _event_track(info: lk_models.TrackInfo) -> EventTrack | None:
    if not info.sid:
        return None
    return EventTrack(
        sid=info.sid,
        kind=lk_models.TrackType.Name(info.type).lower(),
        source=lk_models.TrackSource.Name(info.source).lower(),
    )


EGRESS_STATES = {
    lk_egress.EGRESS_STARTING: RecordingState.STARTING,
    lk_egress.EGRESS_ACTIVE: RecordingState.ACTIVE,
    lk_egress.EGRESS_ENDING: RecordingState.ENDING,
    lk_egress.EGRESS_COMPLETE: RecordingState.COMPLETE,
    lk_egress.EGRESS_FAILED: RecordingState.FAILED,
    lk_egress.EGRESS_ABORTED: RecordingState.ABORTED,
    # The egress stopped at a configured limit (duration or size): the file is complete.
    lk_egress.EGRESS_LIMIT_REACHED: RecordingState.COMPLETE,
}


def from_nanoseconds(value: int) -> datetime | None:
    return datetime.fromtimestamp(value / 1e9, tz=UTC) if value > 0 else None


def _recording_file(info: lk_egress.FileInfo) -> RecordingFile:
    # Durations are nanoseconds; a file that never started can report a negative one: clamp it.
    duration = max(0, round(info.duration / 1e9)) if info.duration else None
    return RecordingFile(
        location=info.filename or info.location,
        size_bytes=info.size if info.size > 0 else None,
        duration_seconds=duration,
    )


def provider_recording(info: lk_egress.EgressInfo) -> ProviderRecording:
    """An EgressInfo in our units. fileResults first, the deprecated `file` as a fallback."""
    files = [_recording_file(f) for f in info.file_results]
    if not files and info.HasField("file"):
        files = [_recording_file(info.file)]
    error = info.error
    if info.status == lk_egress.EGRESS_LIMIT_REACHED:
        error = error or "limit reached"
    return ProviderRecording(
        recording_id=info.egress_id,
        room_name=info.room_name,
        state=EGRESS_STATES.get(info.status, "starting"),
        started_at=from_nanoseconds(info.started_at),
        ended_at=from_nanoseconds(info.ended_at),
        error=error,
        files=tuple(files),
    )


def neutral_event(event: WebhookEvent, body: bytes) -> NeutralEvent:
    """LiveKit's WebhookEvent in our terms; seconds become aware datetimes."""
    room_name, room_sid = event.room.name, event.room.sid
    if event.HasField("egress_info"):
        room_name = room_name or event.egress_info.room_name
        room_sid = room_sid or event.egress_info.room_id
    return NeutralEvent(
        # The id is LiveKit's idempotency key; a body without one is keyed by its own hash.
        provider_event_id=event.id or "sha256:" + hashlib.sha256(body).hexdigest(),
        kind=EVENT_KINDS.get(event.event, f"livekit.{event.event}"),
        occurred_at=from_seconds(event.created_at) or datetime.now(UTC),
        room_name=room_name,
        room_sid=room_sid,
        room_started_at=from_milliseconds(event.room.creation_time_ms) or from_seconds(event.room.creation_time),
        participant=_event_participant(event.participant) if event.HasField("participant") else None,
        track=_event_track(event.track) if event.HasField("track") else None,
        recording=provider_recording(event.egress_info) if event.HasField("egress_info") else None,
    )
