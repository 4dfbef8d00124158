"""LiveKit's messages in Convene's terms: webhook events and egress infos become neutral events
and recordings, LiveKit's units (seconds, milliseconds, nanoseconds) become aware UTC datetimes.
Part of the LiveKit provider: nothing outside providers/ imports it."""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime, timedelta

from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper
from livekit.protocol import egress as lk_egress
from livekit.protocol import models as lk_models
from livekit.protocol.models import ParticipantInfo
from livekit.protocol.webhook import WebhookEvent

from providers.base import (
    BadPayload,
    EventKind,
    EventParticipant,
    EventTrack,
    NeutralEvent,
    ParticipantKind,
    ProviderRecording,
    RecordingFile,
    RecordingState,
)

# A LiveKit time outside this range is not a time LiveKit could have sent: LiveKit did not exist
# before 2020, and a webhook's JWT is checked against our clock with a minute's leeway, so the
# sender's clock is within minutes of ours. A day ahead leaves room for skew and queueing without
# letting a garbage value (int64 max, 1e12 s, a negative number) move a record to another century.
# Such a time is treated as absent: `None`, which every caller already handles (the event time
# then falls back to when Convene received the event).
EARLIEST_TIME = datetime(2020, 1, 1, tzinfo=UTC)
LATEST_AHEAD = timedelta(days=1)
_EARLIEST_SECONDS = int(EARLIEST_TIME.timestamp())
_AHEAD_SECONDS = int(LATEST_AHEAD.total_seconds())


def provider_time(value: int, *, per_second: int) -> datetime | None:
    """A LiveKit integer time (`per_second` units in a second) as an aware UTC datetime, or None
    when it is zero (LiveKit omits unset times) or outside [EARLIEST_TIME, now + LATEST_AHEAD].
    The range is checked on the integer, before any conversion can overflow."""
    if not _EARLIEST_SECONDS * per_second <= value <= (int(time.time()) + _AHEAD_SECONDS) * per_second:
        return None
    return datetime.fromtimestamp(value / per_second, tz=UTC)


def from_seconds(value: int) -> datetime | None:
    return provider_time(value, per_second=1)


def from_milliseconds(value: int) -> datetime | None:
    return provider_time(value, per_second=1_000)


def from_nanoseconds(value: int) -> datetime | None:
    return provider_time(value, per_second=1_000_000_000)


# How long a value from a webhook may be, and what happens beyond that. LiveKit's own limits
# (livekit-server pkg/config/config.go, defaults): room name, participant identity and participant
# name 256 bytes each (so at most 256 characters); sids are the server's guids (a prefix and 12
# characters), event and egress ids likewise. The columns are at least this wide
# (tests/providers/test_livekit_convert.py checks).
# An identifier beyond its limit, or holding a NUL (PostgreSQL text cannot store one), is refused:
# BadPayload, a 400 before anything is stored. It can only come from a server whose limits were
# raised past LiveKit's defaults or from something that is not LiveKit, and truncating it could
# make two participants or rooms one. Display-only text is cut to its limit and loses its NULs.
ROOM_NAME_MAX = 256
IDENTITY_MAX = 256
DISPLAY_NAME_MAX = 256
SID_MAX = 64
EVENT_ID_MAX = 100
RECORDING_ID_MAX = 100
LOCATION_MAX = 500  # Convene chooses recording locations; longer is not one of ours
KIND_MAX = 60  # the label of an event kind Convene has no meaning for: display only
ERROR_MAX = 2000
# A file duration beyond a year is garbage (int64 max nanoseconds is 292 years): unknown.
DURATION_MAX_SECONDS = 366 * 24 * 3600


def identifier(value: str, *, limit: int, what: str) -> str:
    """An id or name we store and look up by: returned as is, or refused with BadPayload."""
    if len(value) > limit:
        raise BadPayload(f"{what} longer than {limit} characters")
    if "\x00" in value:
        raise BadPayload(f"{what} contains a NUL character")
    return value


def display_text(value: str, *, limit: int) -> str:
    """Text only shown to people: NULs dropped, cut to the limit."""
    if "\x00" in value:
        value = value.replace("\x00", "")
    return value[:limit]


def enum_name(enum: EnumTypeWrapper, value: int) -> str:
    """A LiveKit enum value's name; "UNKNOWN(<n>)" for a value newer than our copy of LiveKit's
    protocol (proto3 enums are open: the number arrives, its name is not known here). At most 20
    characters (int32)."""
    try:
        return enum.Name(value)
    except ValueError:
        return f"UNKNOWN({value})"


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


def participant_kind(value: int) -> str:
    """The kind in lower case ("standard", "egress", "agent", ...); "unknown" for a kind newer
    than our copy of the protocol. rooms.models.PERSON_KINDS counts "unknown" as a person: a kind we cannot name may
    be someone who has not consented, so the consent gate must wait for them (fails safe)."""
    name = enum_name(ParticipantInfo.Kind, value)
    return ParticipantKind.UNKNOWN if name.startswith("UNKNOWN(") else name.lower()


def _event_participant(info: lk_models.ParticipantInfo) -> EventParticipant | None:
    if not info.sid and not info.identity:
        return None
    reason = info.disconnect_reason
    return EventParticipant(
        sid=identifier(info.sid, limit=SID_MAX, what="participant sid"),
        identity=identifier(info.identity, limit=IDENTITY_MAX, what="participant identity"),
        display_name=display_text(info.name, limit=DISPLAY_NAME_MAX),
        kind=participant_kind(info.kind),
        joined_at=from_milliseconds(info.joined_at_ms) or from_seconds(info.joined_at),
        disconnect_reason=enum_name(lk_models.DisconnectReason, reason) if reason else "",
        attributes=dict(info.attributes),
    )


def _event_track(info: lk_models.TrackInfo) -> EventTrack | None:
    if not info.sid:
        return None
    return EventTrack(
        sid=identifier(info.sid, limit=SID_MAX, what="track sid"),
        kind=enum_name(lk_models.TrackType, info.type).lower(),
        source=enum_name(lk_models.TrackSource, info.source).lower(),
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


def _recording_file(info: lk_egress.FileInfo) -> RecordingFile:
    # Durations are nanoseconds; a file that never started can report a negative one: clamp it.
    duration = max(0, round(info.duration / 1e9)) if info.duration else None
    if duration is not None and duration > DURATION_MAX_SECONDS:
        duration = None
    return RecordingFile(
        location=identifier(info.filename or info.location, limit=LOCATION_MAX, what="recording location"),
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
        recording_id=identifier(info.egress_id, limit=RECORDING_ID_MAX, what="egress id"),
        room_name=identifier(info.room_name, limit=ROOM_NAME_MAX, what="room name"),
        state=EGRESS_STATES.get(info.status, RecordingState.STARTING),
        started_at=from_nanoseconds(info.started_at),
        ended_at=from_nanoseconds(info.ended_at),
        error=display_text(error, limit=ERROR_MAX),
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
        provider_event_id=identifier(event.id, limit=EVENT_ID_MAX, what="event id")
        or "sha256:" + hashlib.sha256(body).hexdigest(),
        # An event Convene has no meaning for keeps its name as a label (the body keeps it whole).
        kind=EVENT_KINDS.get(event.event) or display_text(f"livekit.{event.event}", limit=KIND_MAX),
        # No usable time: when we received it (processing uses the time stored at intake).
        occurred_at=from_seconds(event.created_at) or datetime.now(UTC),
        room_name=identifier(room_name, limit=ROOM_NAME_MAX, what="room name"),
        room_sid=identifier(room_sid, limit=SID_MAX, what="room sid"),
        room_started_at=from_milliseconds(event.room.creation_time_ms) or from_seconds(event.room.creation_time),
        participant=_event_participant(event.participant) if event.HasField("participant") else None,
        track=_event_track(event.track) if event.HasField("track") else None,
        recording=provider_recording(event.egress_info) if event.HasField("egress_info") else None,
    )
