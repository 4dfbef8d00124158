"""The provider interface and provider-neutral types.

Nothing here may import a provider SDK. Providers translate their own errors into the
exceptions below and their own units into timezone-aware datetimes and seconds.
"""

from __future__ import annotations

import abc
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any


def opaque_room_name() -> str:
    """Opaque and unguessable: it names a room at the provider and is never parsed."""
    return "cv_" + secrets.token_urlsafe(18)


class ProviderError(Exception):
    """Base of every failure a provider reports. Messages never contain credentials."""

    def __init__(self, message: str, *, provider_code: str = ""):
        super().__init__(message)
        self.provider_code = provider_code


class ProviderUnavailable(ProviderError):
    """Transient: the media server is unreachable, timed out or answered 5xx. Retry later."""


class ProviderRejected(ProviderError):
    """Permanent: the media server refused the request (bad argument, permission). Do not retry."""


class ProviderStateConflict(ProviderRejected):
    """Permanent: the object is not in a state the request applies to (stopping a recording that
    has already ended). Do not retry; ask the provider for the object's state instead."""


class ProviderNotFound(ProviderError):
    """The room, participant or recording does not exist at the media server."""


class BadSignature(Exception):
    """A webhook whose signature, issuer, expiry or body hash does not verify. Answer 401."""


class BadPayload(Exception):
    """A verified webhook whose body cannot be understood. Answer 400; never retried."""


class EventKind:
    """Provider-neutral event kinds. Anything else is stored and marked ignored."""

    ROOM_STARTED = "room.started"
    ROOM_FINISHED = "room.finished"
    PARTICIPANT_JOINED = "participant.joined"
    PARTICIPANT_LEFT = "participant.left"
    PARTICIPANT_ABORTED = "participant.connection_aborted"
    TRACK_PUBLISHED = "track.published"
    TRACK_UNPUBLISHED = "track.unpublished"
    RECORDING_STARTED = "recording.started"
    RECORDING_UPDATED = "recording.updated"
    RECORDING_ENDED = "recording.ended"


class ParticipantKind:
    """Convene's own participant kinds; providers map theirs onto these."""

    STANDARD = "standard"
    EGRESS = "egress"  # a recorder the media server runs
    INGRESS = "ingress"
    SIP = "sip"  # a phone caller through a connector
    CONNECTOR = "connector"  # someone reached through a messaging connector (WhatsApp, Twilio)
    AGENT = "agent"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Capabilities:
    """What a media server family does, so callers need not know which one it is."""

    needs_room_creation: bool  # rooms must be created before the first join (Janus); else on join (LiveKit)
    composite_recording: bool  # the server writes one file of the whole call
    per_track_recording: bool  # the server writes one file per stream, to be post-processed into one
    publish_permissions: bool  # the server refuses a publish the join credentials do not allow


@dataclass(frozen=True)
class EventParticipant:
    sid: str
    identity: str
    display_name: str = ""
    kind: str = ParticipantKind.STANDARD
    joined_at: datetime | None = None
    disconnect_reason: str = ""
    attributes: dict[str, str] = field(default_factory=dict)


class TrackSource:
    """Convene's own track sources (what a role's publish_sources names); providers map theirs
    onto these."""

    CAMERA = "camera"
    MICROPHONE = "microphone"
    SCREEN_SHARE = "screen_share"
    SCREEN_SHARE_AUDIO = "screen_share_audio"
    UNKNOWN = "unknown"  # a source the provider did not name: never refused for its source alone


@dataclass(frozen=True)
class EventTrack:
    sid: str
    kind: str  # audio, video, data
    source: str  # a TrackSource value


class RecordingState:
    """Provider-neutral recording states, what a media server reports. Not our lifecycle: the
    recordings app maps each to its own status (recording_status_for_provider_state)."""

    STARTING = "starting"
    ACTIVE = "active"
    ENDING = "ending"
    COMPLETE = "complete"
    FAILED = "failed"
    ABORTED = "aborted"


@dataclass(frozen=True)
class RecordingFile:
    location: str  # the object key or path the provider wrote, never a URL
    size_bytes: int | None
    duration_seconds: int | None


@dataclass(frozen=True)
class ProviderRecording:
    """A recording as the provider reports it, in our units."""

    recording_id: str
    room_name: str
    state: str  # a RecordingState value
    started_at: datetime | None = None
    ended_at: datetime | None = None
    error: str = ""
    files: tuple[RecordingFile, ...] = ()
    # Per-track recordings (capabilities.per_track_recording): the folder, as Convene's workers see
    # it, where the media server writes this recording's raw files, all of which begin with
    # `source_prefix`; post-processing turns them into `files`.
    source_dir: str = ""
    source_prefix: str = ""


@dataclass(frozen=True)
class S3Target:
    bucket: str
    region: str
    endpoint: str
    access_key_id: str
    secret_access_key: str
    force_path_style: bool


@dataclass(frozen=True)
class RecordingSpec:
    """Where the provider writes the file: `location` under an S3 bucket, or a path on storage
    the media server's recorder shares with Convene (s3 is None)."""

    location: str
    s3: S3Target | None = None


@dataclass(frozen=True)
class NeutralEvent:
    """One thing the media server told us, in our units (aware UTC datetimes)."""

    provider_event_id: str
    kind: str  # an EventKind value, or "<provider>.<raw event>" when we have no meaning for it
    occurred_at: datetime
    room_name: str = ""
    room_sid: str = ""
    room_started_at: datetime | None = None
    participant: EventParticipant | None = None
    track: EventTrack | None = None
    recording: ProviderRecording | None = None
    # The event's own bytes when the body held several (stored per event, re-parsed on its own).
    raw: bytes | None = None


@dataclass(frozen=True)
class EventIgnored:
    """What an event handler returns when the event concerns nothing Convene keeps (a handler
    that applied it returns None). The reason is kept on the stored event, which is marked ignored."""

    reason: str


@dataclass(frozen=True)
class RoomRef:
    """What a provider needs to address one of our rooms."""

    name: str
    convene_room_id: str
    max_participants: int = 0
    empty_timeout_seconds: int = 300
    departure_timeout_seconds: int = 20


@dataclass(frozen=True)
class RoleGrants:
    """What a participant may do in the media room; never server-side rights."""

    can_publish: bool
    can_subscribe: bool
    can_publish_data: bool
    publish_sources: tuple[str, ...]
    hidden: bool


@dataclass(frozen=True)
class ParticipantSpec:
    identity: str
    display_name: str
    role: str
    grants: RoleGrants
    metadata: str = ""
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class JoinCredentials:
    provider: str
    server_url: str
    token: str
    expires_at: datetime
    client_config: dict[str, Any] = field(default_factory=dict)
    # RTCIceServer dicts for the browser; None: the provider's SDK has its own (the field is left out).
    ice_servers: tuple[dict[str, Any], ...] | None = None


@dataclass(frozen=True)
class LiveRoom:
    name: str
    sid: str
    created_at: datetime | None
    num_participants: int
    metadata: str = ""


@dataclass(frozen=True)
class LiveParticipant:
    sid: str
    identity: str
    display_name: str
    kind: str  # a ParticipantKind value
    joined_at: datetime | None
    metadata: str = ""


class Provider(abc.ABC):
    """One media server family. Implementations live in providers/<name>.py."""

    name: str
    capabilities: Capabilities

    def new_room_name(self) -> str:
        """The name a new Convene room gets at this provider: opaque and unguessable by default."""
        return opaque_room_name()

    def create_room(self, *, room: RoomRef) -> None:  # noqa: B027 (optional: most servers create on join)
        """Create the media room ahead of joins where the server needs it; idempotent."""

    @abc.abstractmethod
    def join_credentials(self, *, room: RoomRef, participant: ParticipantSpec, ttl: timedelta) -> JoinCredentials:
        """Mint short-lived credentials for one participant; nothing is stored or logged."""

    @abc.abstractmethod
    def close_room(self, *, room: RoomRef) -> None:
        """Close the room at once, disconnecting everyone. A room that is already gone is fine."""

    @abc.abstractmethod
    def remove_participant(self, *, room: RoomRef, identity: str, connection_ids: Sequence[str] = ()) -> None:
        """Disconnect one participant. Raises ProviderNotFound when not connected.
        `connection_ids`: the provider participant ids of its connections open in Convene's
        records, for a server that cannot find them by identity (Janus)."""

    def disconnect(self, *, room: RoomRef, participant_sid: str, identity: str) -> None:
        """Disconnect one connection (not a bar: the identity may join again)."""
        self.remove_participant(room=room, identity=identity)

    @abc.abstractmethod
    def list_live_rooms(self) -> list[LiveRoom]:
        """Rooms the media server currently has open."""

    @abc.abstractmethod
    def list_participants(self, *, room: RoomRef) -> list[LiveParticipant]:
        """Participants connected to the room now; empty if the room does not exist."""

    @abc.abstractmethod
    def start_recording(self, *, room: RoomRef, spec: RecordingSpec) -> ProviderRecording:
        """Start recording the whole room (composite) to the given target."""

    @abc.abstractmethod
    def stop_recording(self, *, recording_id: str) -> ProviderRecording:
        """Ask the provider to stop; the end arrives later as an event."""

    @abc.abstractmethod
    def list_recordings(self, *, room: RoomRef | None = None, recording_id: str = "") -> list[ProviderRecording]:
        """Recordings the provider knows, by room or by id."""

    @abc.abstractmethod
    def verify_webhook(self, *, body: bytes, headers: Mapping[str, str], remote_addr: str = "") -> None:
        """Raise BadSignature unless the raw body was signed (or sent, for servers that cannot
        sign, from an allowed address with the right credentials) by this media server."""

    @abc.abstractmethod
    def parse_webhook(self, *, body: bytes) -> list[NeutralEvent]:
        """Parse a verified raw body into neutral events. Raises BadPayload."""
