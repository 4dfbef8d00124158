"""Janus's sample event handler bodies (JSON arrays of events, or one event) -> neutral events.

Pure functions, no Janus calls. Janus events have no id: each gets a stable one, the hash of its
canonical JSON, so a retransmission of the same event is a duplicate. Participants are tied to
identities through the signed token they joined with (its last element is identity_tag()).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from datetime import UTC, datetime

from providers.base import BadPayload, EventKind, EventParticipant, EventTrack, NeutralEvent, TrackSource

TAG_PREFIX = "cv."
MAX_EVENTS = 1000
PLUGIN_EVENT = 64
# VideoRoom plugin events with a neutral meaning. Janus 1.1 rooms have no per-period id: a
# Janus room lives from the Convene room's creation to its close, so its number is the session id.
# `unpublished` names no stream (only the publisher), so it is kept as janus.videoroom.unpublished.
VIDEOROOM_KINDS = {
    "joined": EventKind.PARTICIPANT_JOINED,
    "leaving": EventKind.PARTICIPANT_LEFT,
    "kicked": EventKind.PARTICIPANT_LEFT,
    "published": EventKind.TRACK_PUBLISHED,
    "updated": EventKind.TRACK_PUBLISHED,
    "destroyed": EventKind.ROOM_FINISHED,
}


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def _unb64(encoded: str) -> str:
    return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()


def participant_tag(identity: str, role: str) -> str:
    """The last element of a Janus token's signed data: the identity and role it was minted for,
    base64url (tokens use ',' and ':' as separators). Janus ignores it; Convene reads it back from
    the `joined` event, so the signature vouches for both."""
    return f"{TAG_PREFIX}{_b64(role)}.{_b64(identity)}"


def participant_from_token(token: str) -> tuple[str, str]:
    """(identity, role) a token Convene signed was minted for; ("", "") for any other token."""
    last = token.split(":", 1)[0].rsplit(",", 1)[-1]
    parts = last.removeprefix(TAG_PREFIX).split(".")
    if not last.startswith(TAG_PREFIX) or len(parts) != 2:
        return "", ""
    try:
        return _unb64(parts[1]), _unb64(parts[0])
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return "", ""


def parse_events(body: bytes) -> list[NeutralEvent]:
    try:
        decoded = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise BadPayload("not JSON") from None
    items = decoded if isinstance(decoded, list) else [decoded]
    if not items or len(items) > MAX_EVENTS or not all(isinstance(item, dict) for item in items):
        raise BadPayload("not a Janus event or array of events")
    return [event for item in items for event in neutral_events(item)]


def neutral_events(item: dict) -> list[NeutralEvent]:
    """One Janus event -> its neutral events: one, or one per stream a `published` (or
    renegotiated: `updated`) event lists."""
    raw = json.dumps(item, sort_keys=True, separators=(",", ":")).encode()
    event_id = "janus-" + hashlib.sha256(raw).hexdigest()[:48]
    occurred_at = _time(item.get("timestamp"))
    event = item.get("event") if isinstance(item.get("event"), dict) else {}
    data = event.get("data") if isinstance(event.get("data"), dict) else {}
    videoroom = item.get("type") == PLUGIN_EVENT and event.get("plugin") == "janus.plugin.videoroom"
    name = str(data.get("event", "")) if videoroom else ""
    room = str(data.get("room", "")) if videoroom and isinstance(data.get("room"), int) else ""
    participant = _participant(data, name, occurred_at) if room and isinstance(data.get("id"), int) else None
    kind = VIDEOROOM_KINDS.get(name) if participant or name == "destroyed" else None
    common = {"occurred_at": occurred_at, "room_name": room, "room_sid": room, "participant": participant, "raw": raw}
    if kind == EventKind.TRACK_PUBLISHED:
        tracks = _tracks(data)
        if tracks:
            return [
                NeutralEvent(provider_event_id=f"{event_id}:{n}", kind=kind, track=track, **common)
                for n, track in enumerate(tracks)
            ]
        kind = None  # nothing but data channels: no track Convene keeps
    if kind is None:
        kind = (f"janus.videoroom.{name}" if name else f"janus.{item.get('type', 'unknown')}")[:60]
    return [NeutralEvent(provider_event_id=event_id, kind=kind, **common)]


def _participant(data: dict, name: str, occurred_at: datetime) -> EventParticipant:
    identity, role = participant_from_token(str(data.get("token", "")))
    return EventParticipant(
        sid=str(data["id"]),
        identity=identity,
        attributes={"convene.role": role} if role else {},
        display_name=str(data.get("display", ""))[:200],
        joined_at=occurred_at if name == "joined" else None,
        disconnect_reason="kicked" if name == "kicked" else "",
    )


def _tracks(data: dict) -> list[EventTrack]:
    """The audio and video streams a publisher sends (Janus 1.1 lists them in `published`)."""
    streams = data.get("streams") if isinstance(data.get("streams"), list) else []
    return [
        EventTrack(
            sid=f"{data['id']}:{stream.get('mid', '')}"[:64], kind=stream["type"], source=_SOURCES[stream["type"]]
        )
        for stream in streams
        if isinstance(stream, dict) and stream.get("type") in _SOURCES and not stream.get("disabled")
    ]


_SOURCES = {"audio": TrackSource.MICROPHONE, "video": TrackSource.CAMERA}


def _time(microseconds) -> datetime:
    if isinstance(microseconds, int) and 0 < microseconds < 10**17:
        return datetime.fromtimestamp(microseconds / 1_000_000, tz=UTC)
    return datetime.now(UTC)
